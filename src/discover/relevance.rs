//! The relevance rule of run-time discovery (see `discover`): which named
//! paths may never come in (shared system directories, run-time state,
//! secrets, files elfroot writes), which objects are the C library's (their
//! strings are `profile`'s business), and which source packages own a path.

use std::collections::HashSet;
use std::path::Path;

use crate::packages::Packages;
use crate::root::Root;

/// Shared directories: named, but never taken whole.
const SHARED: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/sbin",
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/libx32",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/local/lib",
    "/usr/local/share",
    "/usr/include",
    "/usr/share",
    "/usr/share/locale",
    "/usr/share/zoneinfo",
    "/usr/lib/locale",
    "/usr/share/fonts",
    "/var",
    "/var/lib",
    "/var/cache",
    "/var/log",
    "/var/spool",
    "/var/mail",
    "/srv",
    "/etc/ssl",
    "/etc/ssl/certs",
    "/usr/lib/ssl/certs",
    "/etc/default",
    "/etc/alternatives",
];

/// Places whose contents are state, secrets or the host's: never taken.
const NEVER_UNDER: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/tmp",
    "/var/tmp",
    "/var/run",
    "/var/lock",
    "/home",
    "/root",
    "/mnt",
    "/media",
    "/lost+found",
    "/var/lib/dpkg",
    "/var/lib/apt",
    // Documentation: never read to run (libMagickCore names its HTML
    // manual), and slim images leave it out (dpkg's path-exclude).
    "/usr/share/doc",
    "/usr/share/man",
    "/usr/share/info",
];

/// Files that are secrets, per host, or written by elfroot itself.
const NEVER: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/shadow-",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
    "/etc/mtab",
    "/etc/machine-id",
    "/etc/localtime",
    "/etc/ld.so.preload",
];

/// True when `path` (absolute, normalised) may never come in through a name.
pub fn denied(path: &str) -> bool {
    let under = |dir: &str| path == dir || path.starts_with(&format!("{dir}/"));
    SHARED.contains(&path)
        || NEVER.contains(&path)
        || NEVER_UNDER.iter().any(|d| under(d))
        || path.split('/').any(|c| c == "private")
        || path.starts_with("/etc/ssh/ssh_host_")
        || path.starts_with("/etc/sudoers.d")
        // Multiarch library directories (/usr/lib/x86_64-linux-gnu) are shared too.
        || matches!(path.strip_prefix("/usr/lib/").or(path.strip_prefix("/lib/")), Some(t) if t.ends_with("-linux-gnu") && !t.contains('/'))
}

/// True for an object of the C library itself (its loader, libc, libm,
/// libpthread, its NSS modules...): the files it opens at run time are
/// chosen by `profile` (NSS, gconv, locales, time zones), not by its strings.
pub(super) fn is_libc(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    const FAMILY: &[&str] = &[
        "libc.so",
        "libc.musl-",
        "ld-linux",
        "ld-musl-",
        "ld64.so",
        "ld.so",
        "libm.so",
        "libmvec.so",
        "libpthread.so",
        "libdl.so",
        "librt.so",
        "libresolv.so",
        "libutil.so",
        "libanl.so",
        "libnss_",
        "libBrokenLocale.so",
        "libc_malloc_debug.so",
        "libthread_db.so",
    ];
    FAMILY.iter().any(|f| name.starts_with(f))
}

/// The names of the source packages of the packages that own `path`.
pub(super) fn sources(db: &Packages, root: &Root, path: &Path) -> HashSet<String> {
    db.owners(root, path)
        .into_iter()
        .map(|p| p.source.as_ref().map_or(&p.name, |s| &s.name).clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_directories_state_and_secrets_are_never_taken() {
        for p in [
            "/usr/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/lib/aarch64-linux-gnu",
            "/etc",
            "/usr/share",
            "/etc/shadow",
            "/etc/ssl/private",
            "/usr/lib/ssl/private",
            "/proc/self/maps",
            "/tmp/x",
            "/home/u/.ssh",
            "/etc/ssh/ssh_host_ed25519_key",
            "/var/lib/dpkg/status",
            "/etc/passwd",
            "/etc/ld.so.cache",
            "/usr/share/doc/imagemagick-6-common/html",
            "/usr/local/sbin",
        ] {
            assert!(denied(p), "{p}");
        }
        for p in [
            "/usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11/modules-Q16/coders",
            "/etc/ImageMagick-6",
            "/usr/share/terminfo",
            "/usr/lib/git-core",
            "/usr/lib/x86_64-linux-gnu/ossl-modules",
            "/etc/ssh/ssh_config",
        ] {
            assert!(!denied(p), "{p}");
        }
    }

    #[test]
    fn the_c_library_family_is_left_to_profile() {
        for p in [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2",
            "/lib/ld-musl-x86_64.so.1",
            "/usr/lib/x86_64-linux-gnu/libnss_files.so.2",
        ] {
            assert!(is_libc(p), "{p}");
        }
        for p in [
            "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
            "/usr/bin/ls",
            "/usr/lib/libmagic.so.1",
        ] {
            assert!(!is_libc(p), "{p}");
        }
    }
}
