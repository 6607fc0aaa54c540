//! `elfroot slim` and package metadata, checked with the real tools on the
//! fat Debian image (see `slim`): syft and trivy, run on the unpacked
//! slimmed image, must find exactly the packages (name and version) that
//! own its files according to the fat image's own dpkg database (read with
//! `dpkg-query --admindir`); an image's own status kept with `--keep` is cut
//! to those packages; `--sbom` documents validate, are the same bytes every
//! time, and sit in the layout as a referrer that leaves the image as it is;
//! `--no-package-db` and `--no-copyright` leave the metadata out.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::oci::need;
use crate::packages::{dpkg_s_in, dpkg_versions_in};
use crate::sbom::{syft_packages, trivy_packages, validates, venv_tool};
use crate::slim::{fat, slim};
use crate::util::*;

/// The fat image's /var/lib/dpkg, unpacked once (with umoci) into the
/// test target directory and kept there for later runs.
fn fat_dpkg(layout: &Path) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let kept = tmp.join(format!("fat-dpkg-{}", &digest(layout, "python")[7..19]));
        if !kept.join("status").is_file() {
            let work = tempfile::tempdir_in(tmp).unwrap();
            unpack(layout, "python", &work.path().join("fat"));
            let _ = fs::remove_dir_all(&kept);
            fs::rename(work.path().join("fat/rootfs/var/lib/dpkg"), &kept).unwrap();
        }
        kept
    })
    .clone()
}

/// The manifest digest of `tag` in a layout's index.
fn digest(layout: &Path, tag: &str) -> String {
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no {tag} in {}", layout.display()))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn unpack(layout: &Path, tag: &str, to: &Path) {
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:{tag}", layout.display()))
            .arg(to),
    );
}

/// Every regular file under `rootfs`, as a path inside it.
fn regular_files(rootfs: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![rootfs.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                dirs.push(e.path());
            } else if kind.is_file() {
                let inner = e.path().strip_prefix(rootfs).unwrap().to_owned();
                out.push(format!("/{}", inner.display()));
            }
        }
    }
    out.sort();
    out
}

/// `name version` of the packages that own the files of `rootfs`,
/// according to the database at `admindir`.
fn owners(admindir: &Path, rootfs: &Path) -> BTreeSet<String> {
    let names: BTreeSet<String> = dpkg_s_in(Some(admindir), &regular_files(rootfs))
        .into_values()
        .flatten()
        .map(|o| o.split(':').next().unwrap().to_string())
        .collect();
    dpkg_versions_in(Some(admindir), &names)
        .into_iter()
        .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
        .collect()
}

/// Slims `tag` of the fat image with `extra` flags into a fresh layout,
/// unpacks it; (layout, rootfs, the temporary directory holding both).
fn slim_unpacked(
    layout: &Path,
    tag: &str,
    extra: &[&str],
) -> (PathBuf, PathBuf, tempfile::TempDir) {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("slim");
    let spec = format!("oci:{}:{tag}", layout.display());
    slim(&[&[spec.as_str(), "-o", out.to_str().unwrap()], extra].concat());
    let bundle = t.path().join("unpacked");
    unpack(&out, "latest", &bundle);
    (out, bundle.join("rootfs"), t)
}

/// The tools, or None (skipped).
fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    if !need(&["umoci", "dpkg-query"]) {
        return None;
    }
    let layout = fat()?.join("fat");
    Some((layout, venv_tool("syft")?, venv_tool("trivy")?))
}

#[test]
fn syft_and_trivy_find_the_packages_the_fat_images_dpkg_says_own_the_kept_files() {
    let Some((layout, syft, trivy)) = tools() else {
        return;
    };
    let admindir = fat_dpkg(&layout);
    for tag in ["python", "pipeline"] {
        let (_, rootfs, _t) = slim_unpacked(&layout, tag, &[]);
        let expected = owners(&admindir, &rootfs);
        assert!(expected.len() > 5, "{tag}: only {expected:?}");
        assert!(rootfs.join("var/lib/dpkg/status.d/libc6").is_file());
        assert!(rootfs.join("usr/share/doc/libc6/copyright").is_file());
        assert!(rootfs.join("etc/os-release").is_file());
        let (found, _) = syft_packages(&syft, &rootfs);
        assert_eq!(found, expected, "{tag}: syft vs the fat image's dpkg -S");
        let found = trivy_packages(&trivy, &rootfs);
        assert_eq!(found, expected, "{tag}: trivy vs the fat image's dpkg -S");
        eprintln!(
            "{tag}: syft and trivy find the {} owning packages",
            expected.len()
        );
    }
}

#[test]
fn the_images_own_status_kept_is_cut_to_the_kept_packages() {
    let Some((layout, syft, trivy)) = tools() else {
        return;
    };
    let admindir = fat_dpkg(&layout);
    let keep = ["--keep", "/var/lib/dpkg/status"];
    let (_, rootfs, _t) = slim_unpacked(&layout, "python", &keep);
    assert!(
        !rootfs.join("var/lib/dpkg/status.d").exists(),
        "no status.d beside it"
    );
    let expected = owners(&admindir, &rootfs);
    let status = fs::read_to_string(rootfs.join("var/lib/dpkg/status")).unwrap();
    let in_status = status
        .lines()
        .filter(|l| l.starts_with("Package: "))
        .count();
    assert_eq!(in_status, expected.len(), "one stanza per kept package");
    let (found, _) = syft_packages(&syft, &rootfs);
    assert_eq!(found, expected, "syft vs the fat image's dpkg -S");
    assert_eq!(trivy_packages(&trivy, &rootfs), expected, "trivy");
    // dpkg itself reads it too.
    let kept = rootfs.join("var/lib/dpkg");
    let listed = run_ok(
        Command::new("dpkg-query")
            .arg(format!("--admindir={}", kept.display()))
            .args(["-W", "-f", "${Package} ${Version}\\n"]),
    );
    let listed: BTreeSet<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(listed, expected, "dpkg-query -W on the slimmed image");
}

#[test]
fn slim_sboms_validate_are_reproducible_and_refer_to_the_image() {
    let (Some(layout), Some(spdx_tool), Some(python)) = (
        fat().map(|d| d.join("fat")),
        venv_tool("pyspdxtools"),
        venv_tool("python"),
    ) else {
        return;
    };
    let spec = format!("oci:{}:pipeline", layout.display());
    let t = tempfile::tempdir().unwrap();
    let plain = t.path().join("plain");
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    let plain = elfroot_env(&["slim", &spec, "-o", plain.to_str().unwrap()], &epoch);
    let plain_digest = plain.stdout.trim();
    for name in ["s.spdx.json", "s.cdx.json"] {
        let mut runs = Vec::new();
        for n in 0..2 {
            // The same output name (the document is named after it).
            let dir = t.path().join(name).join(n.to_string());
            fs::create_dir_all(&dir).unwrap();
            let out = dir.join("slim");
            let doc = t.path().join(format!("{n}.{name}"));
            let run = elfroot_env(
                &[
                    "slim",
                    &spec,
                    "-o",
                    out.to_str().unwrap(),
                    "--sbom",
                    doc.to_str().unwrap(),
                ],
                &epoch,
            );
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert_eq!(
                run.stdout.trim(),
                plain_digest,
                "the SBOM leaves the image as it is"
            );
            let index: Value =
                serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
            let referrer = &index["manifests"][1];
            let blob = |d: &Value| out.join("blobs/sha256").join(&d.as_str().unwrap()[7..]);
            let manifest: Value =
                serde_json::from_slice(&fs::read(blob(&referrer["digest"])).unwrap()).unwrap();
            assert_eq!(manifest["subject"]["digest"], plain_digest);
            let stored = fs::read(blob(&manifest["layers"][0]["digest"])).unwrap();
            assert!(
                stored == fs::read(&doc).unwrap(),
                "{name}: the artifact is the file"
            );
            runs.push(stored);
        }
        assert!(runs[0] == runs[1], "{name}: two runs, different bytes");
        let doc = validates(&t.path().join(format!("0.{name}")), (&spdx_tool, &python));
        let names: Vec<&str> = match doc["packages"].as_array() {
            Some(p) => p.iter().filter_map(|p| p["name"].as_str()).collect(),
            None => doc["components"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["name"].as_str())
                .collect(),
        };
        for owner in ["curl", "libcurl4", "libssl3", "coreutils", "libc6"] {
            assert!(names.contains(&owner), "{name}: no {owner} in {names:?}");
        }
    }
}

#[test]
fn no_package_db_and_no_copyright_leave_the_metadata_out_of_a_slim_image() {
    let Some(layout) = fat().map(|d| d.join("fat")) else {
        return;
    };
    if !need(&["umoci"]) {
        return;
    }
    let (_, rootfs, _t) =
        slim_unpacked(&layout, "pipeline", &["--no-package-db", "--no-copyright"]);
    assert!(!rootfs.join("var/lib/dpkg").exists());
    assert!(!rootfs.join("usr/share/doc").exists());
    assert!(rootfs.join("usr/bin/curl").is_file());
}
