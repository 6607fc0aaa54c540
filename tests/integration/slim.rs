//! `elfroot slim` on a fat Debian image built the way a Dockerfile would
//! (scripts/make-debian-image.sh: debootstrap, `apt-get install python3
//! curl`, an app under /app; tags python, pipeline and ls): the slimmed
//! image must run under runc (umoci unpack) with the fat image's output,
//! keep its run settings, be several times smaller, have the same digest
//! every time and from either form of the image, and a command that would
//! not start must be refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::oci::{need, skopeo_config, umoci_runc};
use crate::util::*;

/// The fat image, built by scripts/test.sh (or skipped with why).
pub(crate) fn fat() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debian-image");
    if dir.join("fat.oci.tar").exists() {
        return Some(dir);
    }
    skip("target/debian-image is missing: run scripts/make-debian-image.sh target/debian-image");
    None
}

/// `elfroot slim ARGS`, which must succeed; the printed digest and stderr.
fn slim(args: &[&str]) -> (String, String) {
    let run = elfroot(&[&["slim"], args].concat());
    assert_eq!(run.code, 0, "elfroot slim {args:?}:\n{}", run.stderr);
    (run.stdout.trim().to_string(), run.stderr)
}

/// The image's manifest in a layout: (manifest, config), by tag.
fn manifest(layout: &Path, tag: &str) -> (Value, Value) {
    let read = |rel: &str| -> Value {
        serde_json::from_slice(&std::fs::read(layout.join(rel)).unwrap()).unwrap()
    };
    let index = read("index.json");
    let m = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no {tag} in {}", layout.display()));
    let blob = |d: &Value| format!("blobs/sha256/{}", &d.as_str().unwrap()[7..]);
    let manifest = read(&blob(&m["digest"]));
    let config = read(&blob(&manifest["config"]["digest"]));
    (manifest, config)
}

fn layer_bytes(manifest: &Value) -> u64 {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .sum()
}

/// Slims `tag` of the fat image and checks it: same output under runc,
/// same run settings, compressed layers at least `ratio` times smaller.
/// Returns the measured ratio.
fn slims_and_runs_the_same(tag: &str, ratio: f64) -> Option<f64> {
    let dir = fat()?;
    if !need(&["umoci", "runc"]) {
        return None;
    }
    let layout = dir.join("fat");
    let out = tempfile::tempdir().unwrap();
    let slim_dir = out.path().join("slim");
    let spec = format!("oci:{}:{tag}", layout.display());
    let (digest, stderr) = slim(&[&spec, "-o", slim_dir.to_str().unwrap()]);
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(stderr.contains("largest kept files"), "{stderr}");

    let fat_run = umoci_runc(&layout, tag, None);
    let slim_run = umoci_runc(&slim_dir, "latest", None);
    assert_eq!(fat_run.2, 0, "the fat image itself runs: {fat_run:?}");
    assert_eq!(
        slim_run, fat_run,
        "{tag}: the slim image prints what the fat one does"
    );

    let (fat_m, fat_c) = manifest(&layout, tag);
    let (slim_m, slim_c) = manifest(&slim_dir, "latest");
    for key in elfroot::slim::KEPT_SETTINGS {
        assert_eq!(slim_c["config"][key], fat_c["config"][key], "{tag}: {key}");
    }
    assert_eq!(slim_c["architecture"], fat_c["architecture"]);
    let history = slim_c["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert!(
        history[0]["created_by"]
            .as_str()
            .unwrap()
            .starts_with("elfroot slim")
    );
    let notes = &slim_m["annotations"];
    assert_eq!(
        notes["org.opencontainers.image.base.digest"],
        digest_of(&layout, tag).as_str()
    );
    assert_eq!(notes["org.opencontainers.image.base.name"], tag);
    assert_eq!(slim_m["layers"].as_array().unwrap().len(), 1);

    let measured = layer_bytes(&fat_m) as f64 / layer_bytes(&slim_m) as f64;
    eprintln!("{tag}: compressed layers {measured:.1}x smaller");
    assert!(
        measured >= ratio,
        "{tag}: only {measured:.1}x smaller (want {ratio}x)"
    );
    Some(measured)
}

/// The manifest digest of `tag` in the layout's index.
fn digest_of(layout: &Path, tag: &str) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_python_entrypoint_runs_the_same_from_a_third_of_the_size() {
    // Measured: 5.9x (101.1 MiB of layers -> 17.2 MiB).
    slims_and_runs_the_same("python", 3.0);
}

#[test]
fn a_shell_pipeline_keeps_its_commands_and_is_ten_times_smaller() {
    // Measured: 10.7x (sh, curl and its TLS libraries, sha256sum, cut).
    slims_and_runs_the_same("pipeline", 10.0);
}

#[test]
fn ls_as_nobody_is_twenty_times_smaller_and_keeps_its_user() {
    // Measured: 74.5x.
    if slims_and_runs_the_same("ls", 20.0).is_none() {
        return;
    }
    let dir = fat().unwrap();
    let out = tempfile::tempdir().unwrap();
    let tar = out.path().join("ls.oci.tar");
    let spec = format!("oci:{}:ls", dir.join("fat").display());
    slim(&[&spec, "-o", tar.to_str().unwrap()]);
    let unpacked = out.path().join("layout");
    std::fs::create_dir(&unpacked).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&unpacked),
    );
    let (m, c) = manifest(&unpacked, "latest");
    assert_eq!(c["config"]["User"], "nobody");
    let layer = unpacked.join(format!(
        "blobs/sha256/{}",
        &m["layers"][0]["digest"].as_str().unwrap()[7..]
    ));
    let listing = tar_listing(&layer);
    // The image's own metadata: /app/x as the Dockerfile's COPY left it.
    let x = tar_line(&listing, "app/x").unwrap_or_else(|| panic!("{listing}"));
    assert!(x.contains("2023-11-14"), "{x}");
    let passwd = Command::new("tar")
        .args(["-xzOf"])
        .arg(&layer)
        .arg("etc/passwd")
        .output()
        .unwrap();
    let passwd = String::from_utf8_lossy(&passwd.stdout);
    assert!(
        passwd.lines().any(|l| l.starts_with("nobody:x:65534:")),
        "{passwd}"
    );
}

#[test]
fn the_same_image_gives_the_same_digest_from_either_form() {
    let Some(dir) = fat() else { return };
    let out = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:python", dir.join("fat").display());
    let archive = format!("oci-archive:{}:python", dir.join("fat.oci.tar").display());
    let a = out.path().join("a");
    let b = out.path().join("b.oci.tar");
    let (da, _) = slim(&[&layout, "-o", a.to_str().unwrap()]);
    let (db, _) = slim(&[&archive, "-o", b.to_str().unwrap()]);
    let (dc, _) = slim(&[&layout, "-o", out.path().join("c").to_str().unwrap()]);
    assert_eq!(da, db, "the oci-archive form gives the same image");
    assert_eq!(da, dc, "twice the same");
    if have("skopeo") {
        let config = skopeo_config(&format!("oci-archive:{}", b.display()));
        assert_eq!(config["config"]["WorkingDir"], "/app");
    }
}

#[test]
fn a_command_that_would_not_start_is_refused_and_nothing_is_written() {
    let Some(dir) = fat() else { return };
    let out = tempfile::tempdir().unwrap();
    let spec = format!("oci:{}:python", dir.join("fat").display());
    for entrypoint in ["/usr/bin/nothere", "/app/x"] {
        let target = out.path().join("refused");
        let run = elfroot(&[
            "slim",
            &spec,
            "-o",
            target.to_str().unwrap(),
            "--entrypoint",
            entrypoint,
        ]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("would not start"), "{}", run.stderr);
        assert!(run.stderr.contains(entrypoint), "{}", run.stderr);
        assert!(!target.exists(), "a refused image was written");
    }
}

#[test]
fn the_docker_archive_forms_give_the_same_layer_and_load_into_podman() {
    let Some(dir) = fat() else { return };
    if !need(&["skopeo"]) {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let layout = dir.join("fat");
    // The fat image as `docker save` writes it.
    let fat_docker = out.path().join("fat.docker.tar");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q"])
            .arg(format!("oci:{}:ls", layout.display()))
            .arg(format!("docker-archive:{}:fat:ls", fat_docker.display())),
    );
    let from_oci = out.path().join("a.oci.tar");
    let from_docker = out.path().join("b.oci.tar");
    slim(&[
        &format!("oci:{}:ls", layout.display()),
        "-o",
        from_oci.to_str().unwrap(),
    ]);
    slim(&[
        &format!("docker-archive:{}", fat_docker.display()),
        "-o",
        from_docker.to_str().unwrap(),
    ]);
    let image = |archive: &Path| {
        elfroot::oci::open_image(&format!("oci-archive:{}", archive.display())).unwrap()
    };
    let (a, b) = (image(&from_oci), image(&from_docker));
    assert_eq!(a.layers()[0].digest, b.layers()[0].digest, "the same layer");
    assert_eq!(
        a.config()["config"],
        b.config()["config"],
        "the same settings"
    );

    // A docker-archive out, as `docker load` and `podman load` take it.
    let Some(podman) = crate::docker::Podman::new() else {
        return;
    };
    let slim_docker = out.path().join("slim.docker.tar");
    slim(&[
        &format!("oci:{}:ls", layout.display()),
        "-o",
        slim_docker.to_str().unwrap(),
        "--tag",
        "localhost/slim-ls:1",
    ]);
    let loaded = run_ok(podman.cmd().arg("load").arg("-i").arg(&slim_docker));
    let said = String::from_utf8_lossy(&loaded.stdout);
    assert!(said.contains("localhost/slim-ls:1"), "{said}");
    let Some((stdout, code)) = podman.run("localhost/slim-ls:1") else {
        return;
    };
    assert_eq!(code, 0);
    assert!(
        stdout.ends_with(" /app/x\n") && stdout.contains(" root root 25 "),
        "{stdout}"
    );
}

#[test]
fn a_trace_profile_adds_what_it_names_from_the_image() {
    let Some(dir) = fat() else { return };
    let out = tempfile::tempdir().unwrap();
    let profile = out.path().join("ls.profile");
    std::fs::write(&profile, "file /usr/share/doc/curl/copyright\n").unwrap();
    let json = elfroot(&[
        "slim",
        &format!("oci:{}:ls", dir.join("fat").display()),
        "-o",
        out.path().join("img").to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let doc = json.json();
    let entries = doc["entries"].as_array().unwrap_or_else(|| panic!("{doc}"));
    let kept = entries
        .iter()
        .find(|e| e["path"] == "/usr/share/doc/curl/copyright")
        .unwrap_or_else(|| panic!("the profile's file is kept: {doc}"));
    assert!(
        kept["reason"].as_str().unwrap().starts_with("profile "),
        "{kept}"
    );
}

#[test]
fn a_platform_of_a_multi_platform_image_is_slimmed_natively() {
    let arm64 = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/arm64/root");
    if !arm64.join("usr/bin/ls").exists() {
        return skip("no arm64 root: run scripts/make-arm64-root.sh target/arm64/root");
    }
    let out = tempfile::tempdir().unwrap();
    let multi = out.path().join("multi");
    let run = elfroot(&[
        "bundle",
        "/usr/bin/ls",
        "--format",
        "oci",
        "-o",
        multi.to_str().unwrap(),
        "--platform-root",
        &format!("linux/arm64={}", arm64.display()),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let slimmed = out.path().join("arm.oci.tar");
    slim(&[
        &format!("oci:{}", multi.display()),
        "--platform",
        "linux/arm64",
        "-o",
        slimmed.to_str().unwrap(),
    ]);
    let img = elfroot::oci::open_image(&format!("oci-archive:{}", slimmed.display())).unwrap();
    assert_eq!(img.architecture(), Some("arm64"));
    let root = elfroot::Root::layers(img.layer_paths()).unwrap();
    assert!(
        root.resolve_file(Path::new("/lib/ld-linux-aarch64.so.1"))
            .unwrap()
            .is_some(),
        "the arm64 loader"
    );
}
