//! Hand-written databases in temporary roots.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

/// A temporary root with `files` (path, contents) and `links` (path, target).
fn root_with(files: &[(&str, &str)], links: &[(&str, &str)]) -> (tempfile::TempDir, Root) {
    let t = tempfile::tempdir().unwrap();
    for (path, target) in links {
        let at = t.path().join(path);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        symlink(target, at).unwrap();
    }
    for (path, text) in files {
        let at = t.path().join(path);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        fs::write(at, text).unwrap();
    }
    let root = Root::open(t.path()).unwrap();
    (t, root)
}

const STATUS: &str = "\
Package: libfoo1
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: foo (1.0-1)
Version: 1.0-1+b1
Depends: libc6 (>= 2.34)
Description: foo
 the foo library

Package: libfoo1
Status: hold ok installed
Architecture: i386
Multi-Arch: same
Source: foo
Version: 1.0-1
Description: foo

Package: tool
Status: install ok installed
Architecture: amd64
Version: 2
Description: a tool

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 3

Package: broken
Status: install reinstreq half-installed
Architecture: amd64
Version: 4
";

/// A merged-/usr root: libfoo1's lists name /lib, tool's /bin; the files
/// are under /usr.
fn debian() -> (tempfile::TempDir, Root) {
    let files = [
        ("var/lib/dpkg/status", STATUS),
        (
            "var/lib/dpkg/info/libfoo1:amd64.list",
            "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libfoo.so.1.2\n\
             /lib/x86_64-linux-gnu/libfoo.so.1\n/usr\n/usr/share\n/usr/share/doc\n\
             /usr/share/doc/libfoo1\n/usr/share/doc/libfoo1/copyright\n",
        ),
        (
            "var/lib/dpkg/info/libfoo1:amd64.md5sums",
            "0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libfoo.so.1.2\nnot a line\n",
        ),
        (
            "var/lib/dpkg/info/libfoo1:i386.list",
            "/.\n/lib/i386-linux-gnu/libfoo.so.1.2\n/usr/share/doc/libfoo1\n",
        ),
        ("var/lib/dpkg/info/tool.list", "/.\n/bin\n/bin/tool\n"),
        ("var/lib/dpkg/info/gone.list", "/usr/bin/tool\n"),
        ("usr/lib/x86_64-linux-gnu/libfoo.so.1.2", "elf"),
        ("usr/lib/x86_64-linux-gnu/unlisted.so", "elf"),
        ("usr/lib/i386-linux-gnu/libfoo.so.1.2", "elf"),
        ("usr/bin/tool", "elf"),
        (
            "usr/share/doc/libfoo1/copyright",
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
             Upstream-Name: foo\n\nFiles: *\nCopyright: me\nLicense: GPL-2+  or\n  Artistic\n\n\
             Files: m4/*\nLicense: MIT\n\nFiles: x/*\nLicense: MIT\n\nLicense: MIT\n text\n",
        ),
        (
            "usr/share/doc/tool/copyright",
            "Tool is free software.\nLicense: MIT\n",
        ),
    ];
    let links = [
        ("lib", "usr/lib"),
        ("bin", "usr/bin"),
        ("usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo.so.1.2"),
    ];
    root_with(&files, &links)
}

fn name_arch(p: Option<&Package>) -> Option<(&str, &str)> {
    p.map(|p| (p.name.as_str(), p.arch.as_str()))
}

#[test]
fn dpkg_status_fields_and_installed_packages_only() {
    let (_t, root) = debian();
    let db = Packages::read(&root).unwrap();
    assert!(db.warnings().is_empty(), "{:?}", db.warnings());
    let names: Vec<String> = db.all().iter().map(Package::qualified_name).collect();
    assert_eq!(names, ["libfoo1:amd64", "libfoo1:i386", "tool:amd64"]);
    let foo = &db.all()[0];
    assert_eq!((foo.kind, foo.version.as_str()), (Kind::Dpkg, "1.0-1+b1"));
    let source = |p: &Package| p.source.clone().map(|s| (s.name, s.version));
    assert_eq!(source(foo), Some(("foo".into(), "1.0-1".into())));
    assert_eq!(source(&db.all()[1]), Some(("foo".into(), "1.0-1".into())));
    assert_eq!(source(&db.all()[2]), None);
    assert_eq!(foo.field("multi-arch"), Some("same"));
    assert_eq!(foo.field("Description"), Some("foo\n the foo library"));
    assert!(foo.stanza.starts_with("Package: libfoo1\nStatus"));
    assert!(foo.stanza.ends_with(" the foo library\n"));
    assert!(db.is_ambiguous("libfoo1") && !db.is_ambiguous("tool"));
}

#[test]
fn any_spelling_finds_the_owner_through_merged_usr() {
    let (_t, root) = debian();
    let db = Packages::read(&root).unwrap();
    let owner = |p: &str| name_arch(db.owner(&root, Path::new(p)));
    let foo = Some(("libfoo1", "amd64"));
    assert_eq!(owner("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2"), foo);
    assert_eq!(owner("/lib/x86_64-linux-gnu/libfoo.so.1.2"), foo);
    // A link leads to its target's owner.
    assert_eq!(owner("/usr/lib/x86_64-linux-gnu/libfoo.so.1"), foo);
    assert_eq!(
        owner("/usr/lib/i386-linux-gnu/libfoo.so.1.2"),
        Some(("libfoo1", "i386"))
    );
    assert_eq!(owner("/usr/bin/tool"), Some(("tool", "amd64")));
    assert_eq!(owner("/bin/../bin/tool"), Some(("tool", "amd64")));
    assert_eq!(owner("/usr/lib/x86_64-linux-gnu/unlisted.so"), None);
    // A directory two packages list has no single owner.
    assert_eq!(owner("/usr/share/doc/libfoo1"), None);
    assert_eq!(
        db.owners(&root, Path::new("/usr/share/doc/libfoo1")).len(),
        2
    );
    // Absent files are still found in the lists as spelt.
    assert_eq!(
        owner("/usr/share/doc/libfoo1/changelog.gz"),
        None,
        "not listed"
    );
    let files: Vec<&Path> = db.all()[2].files().collect();
    assert_eq!(files, [Path::new("/bin"), Path::new("/bin/tool")]);
}

#[test]
fn the_reverse_alias_usr_lib_to_lib() {
    let (_t, root) = root_with(
        &[
            (
                "var/lib/dpkg/status",
                "Package: bar\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n",
            ),
            ("var/lib/dpkg/info/bar.list", "/usr/lib/libbar.so.1\n"),
            ("lib/libbar.so.1", "elf"),
        ],
        &[("usr/lib", "../lib")],
    );
    let db = Packages::read(&root).unwrap();
    for p in ["/lib/libbar.so.1", "/usr/lib/libbar.so.1"] {
        assert_eq!(
            name_arch(db.owner(&root, Path::new(p))),
            Some(("bar", "all"))
        );
    }
}

#[test]
fn md5sums_and_machine_readable_licenses() {
    let (_t, root) = debian();
    let db = Packages::read(&root).unwrap();
    let foo = &db.all()[0];
    assert_eq!(
        foo.checksums(&root).unwrap(),
        [(
            PathBuf::from("/lib/x86_64-linux-gnu/libfoo.so.1.2"),
            Checksum::Md5("0123456789abcdef0123456789abcdef".into())
        )]
    );
    assert_eq!(foo.license(&root).unwrap(), Some("(GPL-2+ or) AND MIT"));
    assert_eq!(db.all()[2].license(&root).unwrap(), None, "free-form");
    assert!(db.all()[2].checksums(&root).unwrap().is_empty());
}

const APK: &str = "\
C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
L:MIT
o:musl
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1ld=
R:libc.musl-x86_64.so.1
Z:Q1libc=

P:zlib
V:1.3.1-r0
A:x86_64
F:lib
R:libz.so.1
F:usr/share/doc/zlib

V:1
A:x86_64

P:evil
V:1
F:../etc
";

#[test]
fn alpine_installed_database() {
    let (_t, root) = root_with(
        &[
            ("lib/apk/db/installed", APK),
            ("lib/ld-musl-x86_64.so.1", "elf"),
        ],
        &[
            ("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
            ("usr/lib", "../lib"),
        ],
    );
    let db = Packages::read(&root).unwrap();
    assert_eq!(db.warnings().len(), 2, "{:?}", db.warnings());
    let musl = &db.all()[0];
    assert_eq!(
        (
            musl.kind,
            musl.name.as_str(),
            musl.version.as_str(),
            musl.arch.as_str()
        ),
        (Kind::Apk, "musl", "1.2.4-r2", "x86_64")
    );
    assert_eq!(musl.license(&root).unwrap(), Some("MIT"));
    assert_eq!(db.all()[1].license(&root).unwrap(), None);
    assert_eq!(musl.source.as_ref().map(|s| s.name.as_str()), Some("musl"));
    assert_eq!(musl.field("a"), Some("0:0:755"));
    assert_eq!(musl.checksums(&root).unwrap().len(), 2);
    let owner = |p: &str| db.owner(&root, Path::new(p)).map(|p| p.name.as_str());
    assert_eq!(owner("/usr/lib/libc.musl-x86_64.so.1"), Some("musl"));
    assert_eq!(owner("/lib/libz.so.1"), Some("zlib"), "absent, listed");
    let zlib: Vec<&Path> = db.all()[1].files().collect();
    assert_eq!(
        zlib,
        [
            Path::new("/lib"),
            Path::new("/lib/libz.so.1"),
            Path::new("/usr/share/doc/zlib")
        ]
    );
}

#[test]
fn malformed_stanzas_are_skipped_with_a_warning() {
    let status = "\
Package: ok
Status: install ok installed
Version: 1

 continuation of nothing
Package: lost

Package: noversion
Status: install ok installed

Package: ../../etc
Status: install ok installed
Version: 1

Package: nostatus
Version: 1

\u{0}\u{ff}garbage: \n\n";
    let (_t, root) = root_with(
        &[
            ("var/lib/dpkg/status", status),
            ("var/lib/dpkg/info/ok.list", "\n\n/\n//\nno-slash\n/usr/\n"),
        ],
        &[],
    );
    let db = Packages::read(&root).unwrap();
    let names: Vec<&str> = db.all().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ok"]);
    assert_eq!(db.warnings().len(), 5, "{:?}", db.warnings());
    assert!(db.owner(&root, Path::new("/usr")).is_none());
}

#[test]
fn distroless_status_d() {
    let (_t, root) = root_with(
        &[
            (
                "var/lib/dpkg/status.d/libc6",
                "Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n",
            ),
            (
                "var/lib/dpkg/status.d/libc6.md5sums",
                "0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\n",
            ),
            (
                "var/lib/dpkg/status.d/base",
                "Package: base-files\nVersion: 12\n",
            ),
            ("lib/x86_64-linux-gnu/libc.so.6", "elf"),
        ],
        &[],
    );
    let db = Packages::read(&root).unwrap();
    let names: Vec<&str> = db.all().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["base-files", "libc6"]);
    let libc = db.owner(&root, Path::new("/lib/x86_64-linux-gnu/libc.so.6"));
    assert_eq!(name_arch(libc), Some(("libc6", "amd64")));
    assert_eq!(libc.unwrap().checksums(&root).unwrap().len(), 1);
}

#[test]
fn no_database_is_empty_and_an_oversized_list_is_skipped() {
    let (_t, root) = root_with(&[("etc/hostname", "x\n")], &[]);
    let db = Packages::read(&root).unwrap();
    assert!(db.is_empty() && db.warnings().is_empty());

    let big = "/usr/lib/x\n".repeat(MAX_LIST / 10);
    let (_t, root) = root_with(
        &[
            (
                "var/lib/dpkg/status",
                "Package: big\nStatus: install ok installed\nVersion: 1\n",
            ),
            ("var/lib/dpkg/info/big.list", &big),
        ],
        &[],
    );
    let db = Packages::read(&root).unwrap();
    assert_eq!(db.all().len(), 1);
    assert_eq!(db.all()[0].files().count(), 0);
    assert!(db.warnings()[0].to_string().contains("larger than 16 MiB"));
}

/// Reads the host's dpkg database many times; run by hand with
/// `cargo test --release host_dpkg_read_time -- --ignored --nocapture`.
#[test]
#[ignore]
fn host_dpkg_read_time() {
    let root = Root::host();
    let start = std::time::Instant::now();
    let rounds = 20;
    let mut indexed = std::time::Duration::ZERO;
    for _ in 0..rounds {
        let root = Root::host();
        let db = Packages::read(&root).unwrap();
        let t = std::time::Instant::now();
        assert!(db.owner(&root, Path::new("/usr/bin/ls")).is_some());
        indexed += t.elapsed();
    }
    let db = Packages::read(&root).unwrap();
    let files: usize = db.all().iter().map(|p| p.files().count()).sum();
    eprintln!(
        "{} packages, {files} listed paths: read {:?} per run, first ownership question (index) {:?}",
        db.all().len(),
        (start.elapsed() - indexed) / rounds,
        indexed / rounds
    );
}
