//! The relevance rule of run-time discovery (see `discover`): which named
//! paths may never come in (shared system directories, run-time state,
//! secrets, files elfroot writes), which objects are the C library's (their
//! strings are `profile`'s business), and which packages own a path, as the
//! object naming it sees them.

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
    name_starts_with(path, FAMILY)
}

/// True for a language runtime's program or library (python3.11,
/// libruby-3.1.so, php8.2, libperl.so, tclsh, libjvm.so): what it names is
/// its own library, which discovery takes whatever its size.
pub(super) fn is_runtime(path: &str) -> bool {
    const RUNTIMES: &[&str] = &[
        "python",
        "libpython",
        "ruby",
        "libruby",
        "perl",
        "libperl",
        "php",
        "libphp",
        "tclsh",
        "libtcl",
        "java",
        "libjvm",
        "libjli",
    ];
    name_starts_with(path, RUNTIMES)
}

/// True when the file name of `path` starts with one of `prefixes`.
fn name_starts_with(path: &str, prefixes: &[&str]) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    prefixes.iter().any(|p| name.starts_with(p))
}

/// The packages of the object that names paths: their names, the names of
/// their source packages, and their consumers.
#[derive(Debug, Default, Clone)]
pub(super) struct Naming {
    /// Source package names (`imagemagick` for libmagickcore-6.q16-6).
    pub sources: HashSet<String>,
    /// Binary package names.
    pub packages: HashSet<String>,
    /// The packages of the same sources that depend on these, directly or
    /// through each other (systemd and systemd-timesyncd on libsystemd0):
    /// they use the object; what they ship is not its resources.
    pub consumers: HashSet<String>,
}

impl Naming {
    /// The packages owning the object at `path`.
    pub fn of(db: &Packages, root: &Root, path: &Path) -> Naming {
        let mut n = Naming::default();
        for p in db.owners(root, path) {
            n.sources.insert(source_of(p).to_string());
            n.packages.insert(p.name.clone());
        }
        let kin: Vec<_> = db
            .all()
            .iter()
            .filter(|p| n.sources.contains(source_of(p)) && !n.packages.contains(&p.name))
            .map(|p| (p.name.as_str(), dependencies(p)))
            .collect();
        // Bounded: each round adds a package or ends.
        loop {
            let before = n.consumers.len();
            for (name, deps) in &kin {
                if !n.consumers.contains(*name)
                    && deps
                        .iter()
                        .any(|d| n.packages.contains(d) || n.consumers.contains(d))
                {
                    n.consumers.insert(name.to_string());
                }
            }
            if n.consumers.len() == before {
                break n;
            }
        }
    }
}

/// Who owns a named path, as the rule sees it.
#[derive(Debug, Default)]
pub(super) struct Owners {
    /// The source packages of every owner.
    pub all: HashSet<String>,
    /// The source packages of the owners that are not consumers of the
    /// naming object's packages ([`Naming::consumers`]).
    pub resources: HashSet<String>,
}

impl Owners {
    /// The owners of `path`, against what names it.
    pub fn of(db: &Packages, root: &Root, path: &Path, naming: &Naming) -> Owners {
        let mut o = Owners::default();
        for p in db.owners(root, path) {
            let source = source_of(p).to_string();
            if !naming.consumers.contains(&p.name) {
                o.resources.insert(source.clone());
            }
            o.all.insert(source);
        }
        o
    }

    /// Related to the naming object: an object no package owns keeps only
    /// paths no package owns; an owned one, paths a package of its source
    /// ships that is not one of its consumers.
    pub fn related(&self, naming: &Naming) -> bool {
        if naming.sources.is_empty() {
            self.all.is_empty()
        } else {
            !self.resources.is_disjoint(&naming.sources)
        }
    }

    /// Only packages of the naming object's source own it, not only its
    /// consumers: a directory the rule may widen to.
    pub fn only(&self, naming: &Naming) -> bool {
        !self.resources.is_empty() && self.all.is_subset(&naming.sources)
    }
}

fn source_of(p: &crate::packages::Package) -> &str {
    p.source.as_ref().map_or(&p.name, |s| &s.name)
}

/// The names of the packages `p` depends on (Depends, Pre-Depends; every
/// alternative).
fn dependencies(p: &crate::packages::Package) -> Vec<String> {
    ["Depends", "Pre-Depends"]
        .iter()
        .filter_map(|f| p.field(f))
        .flat_map(|v| v.split([',', '|']))
        .filter_map(|d| d.split_whitespace().next())
        .map(|d| d.split(['(', ':']).next().unwrap_or(d).to_string())
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
    /// libfoo0 names three places: the data its own source ships, the
    /// units its daemon (a consumer) ships, and a plugin directory another
    /// source ships into.
    #[test]
    fn what_consumers_ship_is_not_the_librarys() {
        let t = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let at = t.path().join(path);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, text).unwrap();
        };
        let stanza = |name: &str, source: &str, depends: &str| {
            format!(
                "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\n\
                 Source: {source}\nVersion: 1\nDepends: {depends}\n\n"
            )
        };
        write(
            "var/lib/dpkg/status",
            &[
                stanza("libfoo0", "foo", "libc6"),
                stanza("foo-data", "foo", "libc6"),
                stanza("foo-daemon", "foo", "libc6, libfoo0 (= 1)"),
                stanza("foo-extra", "foo", "foo-daemon | foo-other"),
                stanza("bar-plugin", "bar", "libfoo0"),
            ]
            .concat(),
        );
        let lists = [
            ("libfoo0", "/usr/lib/libfoo.so.0\n/usr/lib/foo/plugins\n"),
            ("foo-data", "/usr/share/foo\n/usr/share/foo/a\n"),
            ("foo-daemon", "/usr/lib/foo/units\n/usr/lib/foo/units/a\n"),
            ("foo-extra", "/usr/lib/foo/units\n/usr/lib/foo/units/b\n"),
            (
                "bar-plugin",
                "/usr/lib/foo/plugins\n/usr/lib/foo/plugins/bar.so\n",
            ),
        ];
        let all: Vec<&str> = lists.iter().flat_map(|(_, l)| l.lines()).collect();
        for (name, list) in lists {
            write(&format!("var/lib/dpkg/info/{name}.list"), list);
        }
        for path in &all {
            let at = t.path().join(path.trim_start_matches('/'));
            if all.iter().any(|p| p.starts_with(&format!("{path}/"))) {
                std::fs::create_dir_all(at).unwrap();
            } else {
                write(path.trim_start_matches('/'), "");
            }
        }
        let root = Root::open(t.path()).unwrap();
        let db = Packages::read(&root).unwrap();
        let naming = Naming::of(&db, &root, Path::new("/usr/lib/libfoo.so.0"));
        let mut consumers: Vec<_> = naming.consumers.iter().map(String::as_str).collect();
        consumers.sort();
        assert_eq!(consumers, ["foo-daemon", "foo-extra"]);
        let owners = |p: &str| Owners::of(&db, &root, Path::new(p), &naming);
        assert!(owners("/usr/share/foo").related(&naming));
        assert!(owners("/usr/share/foo").only(&naming));
        assert!(!owners("/usr/lib/foo/units").related(&naming));
        assert!(owners("/usr/lib/foo/plugins").related(&naming));
        assert!(!owners("/usr/lib/foo/plugins").only(&naming));
    }

    #[test]
    fn language_runtimes_by_their_program_or_library() {
        let cases = [
            ("/usr/bin/python3.11", true),
            ("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", true),
            ("/lib/x86_64-linux-gnu/libruby-3.1.so.3.1", true),
            ("/usr/bin/php8.2", true),
            ("/usr/lib/x86_64-linux-gnu/libperl.so.5.36", true),
            (
                "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so",
                true,
            ),
            ("/usr/bin/git", false),
            ("/usr/bin/ssh", false),
            ("/lib/x86_64-linux-gnu/libgs.so.10", false),
        ];
        let got: Vec<_> = cases.iter().map(|(p, _)| (*p, is_runtime(p))).collect();
        assert_eq!(got, cases);
    }
}
