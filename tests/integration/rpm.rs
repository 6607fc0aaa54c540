//! RPM roots, made with the real rpm: rpmbuild builds tiny packages from
//! specs written here (a program, the library it links, a glibc made of the
//! host's libc and loader, and a package nothing needs), `rpm --root R -i`
//! installs them into an rpm 4.16+ sqlite database. Then `elfroot packages`
//! must name the owners with rpm's versions, a bundle's SPDX document must
//! validate with rpm purls, syft and trivy on the bundle must find exactly
//! the packages shipped, and rpm itself must read the cut database (and
//! elfroot, in an OCI image of the bundle); a
//! damaged database is one error line, a damaged header one warning.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::sbom::{syft_packages, trivy_packages, validates, venv_tool};
use crate::util::*;

/// rpm's database directory in the roots made here (Debian's rpm defaults
/// to ~/.rpmdb).
const DBPATH: &str = "_dbpath /var/lib/rpm";

/// (name, version, release, extra header lines, license, %install, %files).
type Spec<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

const SPECS: [Spec; 4] = [
    (
        "greet",
        "0.9",
        "1.fc40",
        "",
        "MIT",
        "mkdir -p %{buildroot}/usr/lib64\nprintf 'int greet(void) { return 0; }\\n' > g.c\n\
         cc -shared -fPIC -Wl,-soname,libgreet.so.1 -o %{buildroot}/usr/lib64/libgreet.so.1 g.c\n\
         echo 'greet: MIT License' > COPYING",
        "/usr/lib64/libgreet.so.1\n%license COPYING",
    ),
    (
        "hello",
        "1.2",
        "3.fc40",
        "Epoch: 2",
        "GPL-2.0-or-later",
        "mkdir -p %{buildroot}/usr/bin\nprintf 'int greet(void) { return 0; }\\n' > g.c\n\
         cc -shared -fPIC -Wl,-soname,libgreet.so.1 -o libgreet.so.1 g.c\n\
         printf 'int greet(void);\\nint main(void) { return greet(); }\\n' > m.c\n\
         cc -o %{buildroot}/usr/bin/hello m.c ./libgreet.so.1",
        "/usr/bin/hello",
    ),
    (
        // Listed under /lib64, a link to usr/lib64 in the root: owned all the same.
        "glibc",
        "2.36",
        "9",
        "",
        "LGPL-2.1-or-later",
        "mkdir -p %{buildroot}/lib64\n\
         cp -L /lib/x86_64-linux-gnu/libc.so.6 /lib64/ld-linux-x86-64.so.2 %{buildroot}/lib64/",
        "/lib64/libc.so.6\n/lib64/ld-linux-x86-64.so.2",
    ),
    (
        "unused",
        "1",
        "1",
        "",
        "MIT",
        "mkdir -p %{buildroot}/usr/share/unused\necho x > %{buildroot}/usr/share/unused/x",
        "/usr/share/unused/x",
    ),
];

/// A root with the packages of [`SPECS`] installed by rpm, Fedora's
/// layout (/lib64 -> usr/lib64) and release files.
struct RpmRoot {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl RpmRoot {
    fn s(&self) -> String {
        self.root.display().to_string()
    }

    fn db(&self) -> PathBuf {
        self.root.join("var/lib/rpm/rpmdb.sqlite")
    }
}

/// `rpm --root ROOT` with the database where these roots keep it.
fn rpm(root: &Path) -> Command {
    let mut cmd = Command::new("rpm");
    cmd.arg("--root").arg(root).args(["--define", DBPATH]);
    cmd
}

/// The rpm root, or None (skipped) when rpm, rpmbuild or the host's glibc is missing.
fn rpm_root() -> Option<RpmRoot> {
    if !have("rpmbuild") || !have("rpm") || !have("cc") {
        skip("rpm, rpmbuild or cc not installed (apt-get install rpm gcc)");
        return None;
    }
    if !Path::new("/lib/x86_64-linux-gnu/libc.so.6").exists() {
        skip("not an x86_64 Debian host");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("top");
    for (name, version, release, extra, license, install, files) in SPECS {
        let spec = dir.path().join(format!("{name}.spec"));
        fs::write(
            &spec,
            format!(
                "Name: {name}\nVersion: {version}\nRelease: {release}\n{extra}\n\
                 Summary: {name} for elfroot's tests\nLicense: {license}\n\
                 %description\n{name}\n%install\n{install}\n%files\n{files}\n"
            ),
        )
        .unwrap();
        run_ok(
            Command::new("rpmbuild")
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .args(["--define", "debug_package %{nil}"])
                .args(["--define", "_build_id_links none"])
                .args([
                    "--define",
                    "__brp_strip /bin/true",
                    "--define",
                    "__strip /bin/true",
                ])
                .args(["--define", "_db_backend sqlite", "-bb"])
                .arg(&spec),
        );
    }
    let root = dir.path().join("R");
    fs::create_dir_all(root.join("usr/lib64")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
    fs::write(root.join("etc/os-release"), "ID=fedora\nVERSION_ID=40\n").unwrap();
    fs::write(
        root.join("etc/fedora-release"),
        "Fedora release 40 (Forty)\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("fedora-release", root.join("etc/redhat-release")).unwrap();
    run_ok(rpm(&root).args(["--define", "_db_backend sqlite", "--initdb"]));
    let rpms: Vec<PathBuf> = fs::read_dir(top.join("RPMS/x86_64"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run_ok(
        rpm(&root)
            .args(["-i", "--nodeps", "--noscripts", "--ignorearch"])
            .args(&rpms),
    );
    let r = RpmRoot { _dir: dir, root };
    assert!(
        r.db().is_file(),
        "rpm wrote no rpmdb.sqlite (backend not sqlite?)"
    );
    Some(r)
}

/// `rpm -qa` of a root: `NAME EPOCH:VERSION-RELEASE`, as rpm reads its database.
fn rpm_qa(root: &Path) -> BTreeSet<String> {
    let out = run_ok(rpm(root).args([
        "-qa",
        "--qf",
        "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n",
    ]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.replace(" 0:", " "))
        .collect()
}

#[test]
fn packages_names_the_rpm_owners_of_the_closure() {
    let Some(r) = rpm_root() else { return };
    let root = r.s();
    let list = elfroot(&["packages", "--root", &root, "/usr/bin/hello"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(
        list.lines(),
        ["glibc 2.36-9 x86_64", "greet 0.9-1.fc40 x86_64"]
    );
    let dnf = elfroot(&[
        "packages",
        "--root",
        &root,
        "--format",
        "dnf",
        "/usr/bin/hello",
    ]);
    assert_eq!(dnf.stdout, "dnf install -y glibc-2.36-9 greet-0.9-1.fc40\n");
    // The program itself, by its package: epoch, source and license from the header.
    let json = elfroot(&[
        "packages",
        "--root",
        &root,
        "--json",
        "--runtime",
        "/usr/bin/hello",
    ]);
    let doc = json.json();
    let files: BTreeSet<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["realpath"].as_str().unwrap())
        .collect();
    assert!(files.contains("/usr/lib64/libc.so.6"), "{files:?}");
    let glibc = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "glibc")
        .expect("glibc owns libc.so.6, listed under /lib64");
    assert_eq!(glibc["kind"], "rpm");
    assert_eq!(glibc["license"], "LGPL-2.1-or-later");
    assert_eq!(glibc["source"]["name"], "glibc");
    assert_eq!(glibc["source"]["version"], "2.36-9");
    // The same from the root as a layer tarball, and from an OCI image of
    // its bundle (whose database is the cut copy).
    let image = BundleTest::new(["/usr/bin/hello"])
        .args(["--root", &root, "--format", "oci"])
        .run()
        .success();
    let spec = format!("oci:{}", image.out.display());
    let from_image = elfroot(&["packages", "--root", &spec, "/usr/bin/hello"]);
    assert_eq!(from_image.stdout, list.stdout, "{}", from_image.stderr);
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer.tar");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&r.root)
            .arg("-cf")
            .arg(&layer)
            .arg("."),
    );
    let from_layer = elfroot(&[
        "packages",
        "--root",
        &layer.to_string_lossy(),
        "/usr/bin/hello",
    ]);
    assert_eq!(from_layer.stdout, list.stdout, "{}", from_layer.stderr);
}

#[test]
fn bundles_carry_a_cut_rpmdb_that_rpm_syft_and_trivy_read() {
    let Some(r) = rpm_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("hello.spdx.json");
    let b = BundleTest::new(["/usr/bin/hello"])
        .args(["--root", &r.s(), "--sbom"])
        .arg(&sbom)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .run()
        .success();
    let shipped: BTreeSet<String> = ["glibc 2.36-9", "greet 0.9-1.fc40", "hello 2:1.2-3.fc40"]
        .map(String::from)
        .into();
    assert_eq!(rpm_qa(&b.out), shipped, "rpm -qa on the bundle");
    // greet's %license file came along (where rpm put it: /usr/share/licenses/greet[-0.9]).
    let licenses: Vec<String> = walkdir::WalkDir::new(b.out.join("usr/share/licenses"))
        .into_iter()
        .filter_map(|e| fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    assert_eq!(licenses, ["greet: MIT License\n"]);
    run_ok(rpm(&b.out).args(["-qf", "/usr/bin/hello", "/usr/lib64/libc.so.6"]));
    let doc: Value = serde_json::from_slice(&fs::read(&sbom).unwrap()).unwrap();
    let purls: BTreeSet<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().into_iter().flatten())
        .map(|x| x["referenceLocator"].as_str().unwrap())
        .collect();
    let hello = "pkg:rpm/fedora/hello@1.2-3.fc40?arch=x86_64&distro=fedora-40&epoch=2&upstream=hello-1.2-3.fc40.src.rpm";
    assert!(purls.contains(hello), "{purls:?}");
    assert_eq!(purls.len(), 3, "{purls:?}");
    // Same database bytes from a second run; the CycloneDX document too validates.
    let cdx = dir.path().join("hello.cdx.json");
    let again = BundleTest::new(["/usr/bin/hello"])
        .args(["--root", &r.s(), "--sbom"])
        .arg(&cdx)
        .run()
        .success();
    let db = |out: &Path| fs::read(out.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
    assert!(db(&b.out) == db(&again.out), "two runs, two rpmdb.sqlite");
    let without = BundleTest::new(["/usr/bin/hello"])
        .args(["--root", &r.s(), "--no-package-db"])
        .run()
        .success();
    assert!(!without.out.join("var/lib/rpm").exists());
    if let (Some(spdx_tool), Some(python)) = (venv_tool("pyspdxtools"), venv_tool("python")) {
        validates(&sbom, (&spdx_tool, &python));
        let doc = validates(&cdx, (&spdx_tool, &python));
        let licenses = doc["components"].to_string();
        assert!(licenses.contains("LGPL-2.1-or-later"), "{licenses}");
    }
    if let Some(syft) = venv_tool("syft") {
        let (_, other) = syft_packages(&syft, &b.out);
        let found: BTreeSet<String> = other
            .iter()
            .filter_map(|l| l.strip_suffix(" (\"rpm\")"))
            .map(String::from)
            .collect();
        assert_eq!(found, shipped, "syft on the bundle: {other:?}");
    }
    if let Some(trivy) = venv_tool("trivy") {
        assert_eq!(
            trivy_packages(&trivy, &b.out),
            shipped,
            "trivy on the bundle"
        );
    }
}

#[test]
fn a_damaged_rpmdb_is_one_error_line_and_a_damaged_header_one_warning() {
    let Some(r) = rpm_root() else { return };
    let good = fs::read(r.db()).unwrap();
    let root = r.s();
    let mut scrambled = good.clone();
    scrambled[4096..].fill(0xa5);
    let damaged = [0, 50, 100, 4096, good.len() / 2]
        .map(|cut| good[..cut].to_vec())
        .into_iter()
        .chain([scrambled, vec![0xff; 8192]]);
    for (cut, bytes) in damaged.enumerate() {
        fs::write(r.db(), &bytes).unwrap();
        let run = elfroot(&["packages", "--root", &root, "/usr/bin/hello"]);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(run.code, 2, "cut at {cut}: {}", run.stderr);
        assert_eq!(lines.len(), 1, "cut at {cut}: {}", run.stderr);
        assert!(
            lines[0].contains("/var/lib/rpm/rpmdb.sqlite: "),
            "{}",
            lines[0]
        );
    }
    fs::write(r.db(), &good).unwrap();
    {
        let db = rusqlite::Connection::open(r.db()).unwrap();
        let hnum: i64 = db
            .query_row("SELECT hnum FROM Name WHERE key = 'greet'", [], |row| {
                row.get(0)
            })
            .unwrap();
        db.execute(
            "UPDATE Packages SET blob = substr(blob, 1, 40) WHERE hnum = ?1",
            [hnum],
        )
        .unwrap();
    }
    let run = elfroot(&["packages", "--root", &root, "/usr/bin/hello"]);
    assert_eq!(run.lines(), ["glibc 2.36-9 x86_64"], "{}", run.stderr);
    let damaged: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("damaged package headers"))
        .collect();
    assert_eq!(damaged.len(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("libgreet.so.1: owned by no package"),
        "{}",
        run.stderr
    );
}
