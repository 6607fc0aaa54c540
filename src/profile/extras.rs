//! Files a libc or its runtime loads at run time that no DT_NEEDED names,
//! decided from the closures: libgcc_s for thread cancellation, CA
//! certificates for TLS libraries; gconv modules, time zones and compiled
//! locales on request (`--with`). NSS is in [`nss`](super::nss).

use crate::closure::Closure;

/// Optional extras (`--with`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Extra {
    /// glibc's iconv modules (`gconv/`), for character-set conversions.
    Gconv,
    /// CA certificates and TLS configuration ([`CERT_PATHS`]).
    Certs,
    /// Time-zone data ([`TZ_PATHS`]).
    Tzdata,
    /// Compiled locales (glibc, under [`LOCALE_DIR`]): every one the root
    /// has (`locale`), or the one named (`locale=fr_FR.UTF-8`).
    Locale(Option<String>),
    /// The root's /bin/sh with its closure, for system() and popen().
    Sh,
}

impl Extra {
    /// Reads the name given to `--with`: `gconv`, `certs`, `tzdata`, `sh`,
    /// `locale` or `locale=NAME`.
    pub fn parse(s: &str) -> Result<Extra, String> {
        match s {
            "gconv" => Ok(Extra::Gconv),
            "certs" => Ok(Extra::Certs),
            "tzdata" => Ok(Extra::Tzdata),
            "sh" => Ok(Extra::Sh),
            "locale" => Ok(Extra::Locale(None)),
            _ => match s.strip_prefix("locale=") {
                Some(name) if valid_locale_name(name) => Ok(Extra::Locale(Some(name.into()))),
                Some(name) => Err(format!(
                    "'{name}': not a locale name (fr_FR.UTF-8, C.UTF-8...)"
                )),
                None => Err(format!(
                    "unknown extra '{s}' (expected gconv, certs, tzdata, sh, locale or locale=NAME)"
                )),
            },
        }
    }
}

/// A name glibc could look up as a locale: not empty, no `/`, not `.` or `..`.
fn valid_locale_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

/// glibc's normalised form of a locale name (`fr_FR.UTF-8` ->
/// `fr_FR.utf8`): the codeset lowercased with everything but letters and
/// digits dropped, and `iso` put before one made of digits only. It is the
/// name glibc looks up in locale-archive, and one it tries as a directory.
pub fn normalise_locale(name: &str) -> String {
    let Some((lang, rest)) = name.split_once('.') else {
        return name.to_string();
    };
    let (codeset, modifier) = match rest.find('@') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if codeset.is_empty() {
        return name.to_string();
    }
    let mut norm: String = codeset
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if norm.chars().all(|c| c.is_ascii_digit()) {
        norm.insert_str(0, "iso");
    }
    format!("{lang}.{norm}{modifier}")
}

/// True when glibc would load libgcc_s at run time for this closure: an
/// object calls pthread_cancel or pthread_exit, which unwind with it.
pub fn needs_libgcc_s<'a>(mut imports: impl Iterator<Item = &'a String>) -> bool {
    imports.any(|s| s == "pthread_cancel" || s == "pthread_exit")
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

/// Where glibc looks for compiled locales: `locale-archive`, and one
/// directory per locale holding its `LC_*` files.
pub const LOCALE_DIR: &str = "/usr/lib/locale";

/// Locales built into glibc, which need no file.
pub const BUILTIN_LOCALES: &[&str] = &["C", "POSIX"];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_values() {
        assert_eq!(Extra::parse("locale"), Ok(Extra::Locale(None)));
        assert_eq!(
            Extra::parse("locale=fr_FR.UTF-8"),
            Ok(Extra::Locale(Some("fr_FR.UTF-8".into())))
        );
        assert!(Extra::parse("locale=../x").is_err());
        assert!(Extra::parse("locale=").is_err());
        assert!(Extra::parse("fonts").unwrap_err().contains("locale=NAME"));
    }

    #[test]
    fn locale_names_normalise_as_glibc_does() {
        assert_eq!(normalise_locale("fr_FR.UTF-8"), "fr_FR.utf8");
        assert_eq!(
            normalise_locale("de_DE.ISO-8859-1@euro"),
            "de_DE.iso88591@euro"
        );
        assert_eq!(normalise_locale("ja_JP.eucJP"), "ja_JP.eucjp");
        assert_eq!(normalise_locale("xx.8859"), "xx.iso8859");
        assert_eq!(normalise_locale("C"), "C");
        assert_eq!(normalise_locale("sr_RS@latin"), "sr_RS@latin");
    }
}
