//! Files a libc or its runtime loads at run time that no DT_NEEDED names,
//! decided from the closures: libgcc_s for thread cancellation, CA
//! certificates for TLS libraries; gconv modules, time zones and the C.UTF-8
//! locale on request (`--with`). NSS is in [`nss`](super::nss).

use crate::closure::Closure;

/// Optional extras (`--with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Extra {
    /// glibc's iconv modules (`gconv/`), for character-set conversions.
    Gconv,
    /// CA certificates and TLS configuration ([`CERT_PATHS`]).
    Certs,
    /// Time-zone data ([`TZ_PATHS`]).
    Tzdata,
    /// The C.UTF-8 locale ([`LOCALE_PATHS`]).
    Locale,
}

impl Extra {
    /// Reads the name given to `--with`.
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

/// Where glibc keeps its gconv modules for programs like `main`, most
/// likely first (Debian's multiarch directory, the ABI's library directory,
/// /usr/lib/gconv).
pub fn gconv_dirs(main: &crate::elf::ElfFile) -> Vec<String> {
    let mut dirs = Vec::new();
    if let Some(t) = crate::elf::arch::multiarch_triplet(main) {
        dirs.push(format!("/usr/lib/{t}/gconv"));
    }
    dirs.push(format!(
        "/usr/{}/gconv",
        crate::elf::arch::libdir_name(main)
    ));
    dirs.push("/usr/lib/gconv".into());
    dirs
}
