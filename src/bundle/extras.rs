//! Files a libc loads at run time that no DT_NEEDED names: NSS modules and
//! their configuration, libgcc_s for thread cancellation, gconv modules,
//! user and group databases, CA certificates, time zones, the C.UTF-8 locale.

use crate::closure::Closure;

/// Optional extras (`--with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Extra {
    Gconv,
    Certs,
    Tzdata,
    Locale,
}

impl Extra {
    pub fn parse(s: &str) -> Result<Extra, String> {
        match s {
            "gconv" => Ok(Extra::Gconv),
            "certs" => Ok(Extra::Certs),
            "tzdata" => Ok(Extra::Tzdata),
            "locale" => Ok(Extra::Locale),
            _ => Err(format!(
                "unknown extra '{s}' (expected gconv, certs, tzdata or locale)"
            )),
        }
    }
}

/// The nsswitch.conf written when none is given: local files, and DNS for hosts.
pub const DEFAULT_NSSWITCH: &str = "\
passwd:         files
group:          files
shadow:         files
hosts:          files dns
";

pub const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";

pub const GROUP: &str = "\
root:x:0:
nobody:x:65534:
";

/// The NSS services an nsswitch.conf names, in order of first use
/// (`files`, `dns`, `systemd`...; actions in brackets are not services).
pub fn nss_services(conf: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in conf.lines() {
        let line = line.split('#').next().unwrap_or("");
        let Some((_, services)) = line.split_once(':') else {
            continue;
        };
        let mut in_action = false;
        for word in services.split_whitespace() {
            if word.starts_with('[') {
                in_action = !word.ends_with(']');
                continue;
            }
            if in_action {
                in_action = !word.ends_with(']');
                continue;
            }
            if !out.iter().any(|s| s == word) {
                out.push(word.to_string());
            }
        }
    }
    out
}

/// True when glibc would load libgcc_s at run time for this closure: an
/// object calls pthread_cancel or pthread_exit, which unwind with it.
pub fn needs_libgcc_s(imports: &[String]) -> bool {
    imports
        .iter()
        .any(|s| s == "pthread_cancel" || s == "pthread_exit")
}

/// True when a TLS library is in the closure, so CA certificates go in by default.
pub fn uses_tls(c: &Closure) -> bool {
    c.objects.iter().skip(1).any(|o| {
        o.names.iter().chain(o.elf.soname.iter()).any(|n| {
            ["libssl.so", "libcrypto.so", "libgnutls.so", "libnss3.so"]
                .iter()
                .any(|p| n.starts_with(p))
        })
    })
}

/// Files and directories of the root that carry CA certificates and TLS configuration.
pub const CERT_PATHS: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/usr/lib/ssl/cert.pem",
    "/etc/ssl/openssl.cnf",
    "/usr/lib/ssl/openssl.cnf",
];

/// Time-zone data.
pub const TZ_PATHS: &[&str] = &["/usr/share/zoneinfo", "/etc/localtime"];

/// The C.UTF-8 locale, as Debian and Fedora lay it out.
pub const LOCALE_PATHS: &[&str] = &["/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_skip_actions_and_comments() {
        let conf = "passwd: files systemd\n# hosts: nis\nhosts: files [NOTFOUND=return] dns mymachines\ngroup: files [ SUCCESS=merge ] systemd\n";
        assert_eq!(
            nss_services(conf),
            ["files", "systemd", "dns", "mymachines"]
        );
        assert_eq!(nss_services(DEFAULT_NSSWITCH), ["files", "dns"]);
    }
}
