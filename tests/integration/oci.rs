//! `elfroot bundle --format oci|oci-archive`: the images must be what real
//! clients accept. umoci unpacks them (checking every digest and diff_id),
//! runc runs the unpacked bundle and must print what the program prints on
//! the host, skopeo inspects and copies them, podman runs them where it can
//! run here; and elfroot's own reader opens them as layers for analysis.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use crate::util::*;

/// Runs an OCI bundle: it must succeed and print the image's manifest
/// digest, which comes back with it.
pub(crate) fn image(test: BundleTest) -> (Bundle, String) {
    let bundle = test.run().success();
    let digest = bundle.run.stdout.trim().to_string();
    assert!(digest.starts_with("sha256:"), "{}", bundle.run.stdout);
    (bundle, digest)
}

/// The tools a test needs; false (after saying why) when one is missing.
pub(crate) fn need(tools: &[&str]) -> bool {
    for t in tools {
        if !have(t) {
            skip(&format!("{t} is not installed"));
            return false;
        }
    }
    if tools.contains(&"runc") && !is_root() {
        skip("runc needs root");
        return false;
    }
    true
}

/// What a command printed: (stdout, stderr, status).
pub(crate) type Outcome = (String, String, i32);

pub(crate) fn outcome(cmd: &mut Command) -> Outcome {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// `argv` run on the host with the environment a container gets.
pub(crate) fn on_host(argv: &[&str]) -> Outcome {
    outcome(
        Command::new(argv[0])
            .args(&argv[1..])
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", "/root")
            .current_dir("/"),
    )
}

/// `umoci unpack --image LAYOUT:TAG` into a fresh runtime bundle, then
/// `runc run` it (with `argv` instead of the image's command, if given).
pub(crate) fn umoci_runc(layout: &Path, tag: &str, argv: Option<&[&str]>) -> Outcome {
    static N: AtomicU32 = AtomicU32::new(0);
    let work = tempfile::tempdir().unwrap();
    let rt = work.path().join("bundle");
    run_ok(
        Command::new("umoci")
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:{tag}", layout.display()))
            .arg(&rt),
    );
    let config_path = rt.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["process"]["terminal"] = Value::Bool(false);
    if let Some(argv) = argv {
        config["process"]["args"] = serde_json::json!(argv);
    }
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let id = format!(
        "elfroot-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let out = outcome(
        Command::new("runc")
            .args(["run", "--bundle"])
            .arg(&rt)
            .arg(&id),
    );
    // `runc run` removes the container when it exits; this is for a failure half way.
    let _ = Command::new("runc")
        .args(["delete", "--force", &id])
        .output();
    out
}

pub(crate) fn skopeo_config(reference: &str) -> Value {
    let out = run_ok(Command::new("skopeo").args(["inspect", "--config", reference]));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The architectures of the platforms in the image index `reference`, as
/// `skopeo inspect --raw` lists them.
pub(crate) fn skopeo_arches(reference: &str) -> Vec<String> {
    let raw = run_ok(Command::new("skopeo").args(["inspect", "--raw", reference]));
    let raw: Value = serde_json::from_slice(&raw.stdout).unwrap();
    raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap().to_string())
        .collect()
}

/// What the host's image of the index `spec` prints under runc: umoci
/// takes one manifest, so skopeo copies it out of the index into `single`.
pub(crate) fn runc_host_image(spec: &str, single: &Path) -> Outcome {
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        spec,
        &format!("oci:{}:h", single.display()),
    ]));
    umoci_runc(single, "h", None)
}

pub(crate) fn skopeo_digest(reference: &str) -> String {
    let out = run_ok(Command::new("skopeo").args(["inspect", reference]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

#[test]
fn umoci_unpacks_and_runc_runs_what_the_host_prints() {
    if !need(&["umoci", "runc"]) {
        return;
    }
    let mut ran = 0;
    for argv in [
        &["/usr/bin/ls", "--version"][..],
        &["/usr/bin/curl", "--version"],
        &["/usr/bin/bash", "-c", "echo hello from $0; exit 3"],
    ] {
        if !Path::new(argv[0]).exists() {
            eprintln!("not on this machine: {}", argv[0]);
            continue;
        }
        let cmd = serde_json::to_string(&argv[1..]).unwrap();
        let (img, _) = image(
            BundleTest::new(&argv[..1]).args(["--format", "oci", "--tag", "t", "--cmd", &cmd]),
        );
        let inside = umoci_runc(&img.out, "t", None);
        assert_eq!(inside, on_host(argv), "{argv:?}");
        ran += 1;
    }
    assert!(ran >= 2, "only {ran} programs available");
}

#[test]
fn skopeo_sees_the_platform_and_entrypoint_and_round_trips() {
    if !need(&["skopeo"]) {
        return;
    }
    let (img, digest) = image(
        BundleTest::new(["/usr/bin/ls"])
            .args(["--format", "oci", "--tag", "v1", "--env", "LANG=C.UTF-8"])
            .args(["--label", "org.example.k=v", "--workdir", "/tmp"])
            .args(["--user", "1000:1000", "--cmd", "-l"]),
    );
    let reference = format!("oci:{}:v1", img.out.display());
    assert_eq!(skopeo_digest(&reference), digest);
    let config = skopeo_config(&reference);
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/bin/ls"])
    );
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["-l"]));
    assert_eq!(config["config"]["WorkingDir"], "/tmp");
    assert_eq!(config["config"]["User"], "1000:1000");
    assert_eq!(config["config"]["Labels"]["org.example.k"], "v");
    assert!(
        config["config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("LANG=C.UTF-8"))
    );
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");

    // oci -> oci-archive keeps the image as it is, and elfroot reads skopeo's archive.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("copy.tar");
    run_ok(Command::new("skopeo").args([
        "copy",
        &reference,
        &format!("oci-archive:{}:v1", archive.display()),
    ]));
    assert_eq!(
        skopeo_digest(&format!("oci-archive:{}", archive.display())),
        digest
    );
    let img = elfroot::oci::open_image(&format!("oci-archive:{}:v1", archive.display())).unwrap();
    assert_eq!(img.manifest_digest(), digest);
}

#[test]
fn the_oci_archive_output_copies_unpacks_and_runs() {
    if !need(&["skopeo", "umoci", "runc"]) {
        return;
    }
    let (archive, digest) = image(BundleTest::new(["/usr/bin/ls"]).named("ls.oci.tar").args([
        "--tag",
        "a",
        "--cmd=--version",
    ]));
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    run_ok(Command::new("skopeo").args([
        "copy",
        &format!("oci-archive:{}:a", archive.out.display()),
        &format!("oci:{}:a", layout.display()),
    ]));
    assert_eq!(
        skopeo_digest(&format!("oci:{}:a", layout.display())),
        digest
    );
    let argv = ["/usr/bin/ls", "--version"];
    assert_eq!(umoci_runc(&layout, "a", None), on_host(&argv));
}

#[test]
fn same_inputs_give_the_same_manifest_digest() {
    let program = if Path::new("/usr/bin/curl").exists() {
        "/usr/bin/curl"
    } else {
        "/usr/bin/ls"
    };
    let (images, digests): (Vec<Bundle>, Vec<String>) = [
        ("a", &["--format", "oci"][..]),
        ("b", &["--format", "oci"]),
        ("c.oci.tar", &[]),
        ("d.oci.tar", &[]),
    ]
    .into_iter()
    .map(|(name, extra)| image(BundleTest::new([program]).named(name).args(extra)))
    .unzip();
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
    let read = |p: PathBuf| std::fs::read(p).unwrap();
    assert_eq!(
        read(images[0].out.join("index.json")),
        read(images[1].out.join("index.json"))
    );
    assert!(
        read(images[2].out.clone()) == read(images[3].out.clone()),
        "archives differ"
    );

    // SOURCE_DATE_EPOCH is the image's created time, and changes the digest.
    let dated = BundleTest::new(["/usr/bin/ls"])
        .named("e.oci.tar")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .run()
        .success();
    let img = elfroot::oci::open_image(&format!("oci-archive:{}", dated.out.display())).unwrap();
    assert_eq!(img.config()["created"], "2023-11-14T22:13:20Z");
    assert_eq!(
        img.config()["history"][0]["created_by"],
        "elfroot bundle /usr/bin/ls"
    );
}

#[test]
fn a_layer_on_a_base_image_runs_with_both() {
    if !need(&["umoci", "runc"]) {
        return;
    }
    let (base_image, _) = image(
        BundleTest::new(["/usr/bin/bash"]).args(["--format", "oci", "--tag", "b", "--env", "A=1"]),
    );
    let base = &base_image.out;
    let (top_image, _) = image(
        BundleTest::new(["/usr/bin/ls"])
            .args(["--format", "oci", "--tag", "t"])
            .args(["--base", &format!("{}:b", base.display())])
            .args(["--env", "A=2", "--env", "B=3"]),
    );
    let top = &top_image.out;
    let img = elfroot::oci::open_image(&format!("oci:{}:t", top.display())).unwrap();
    let base_img = elfroot::oci::open_image(&format!("oci:{}:b", base.display())).unwrap();
    assert_eq!(img.layers().len(), 2);
    assert_eq!(img.layers()[0], base_img.layers()[0]);
    let c = img.config();
    let ids = c["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(ids[0], base_img.config()["rootfs"]["diff_ids"][0]);
    assert_eq!(c["history"].as_array().unwrap().len(), 2);
    // The base's Entrypoint stays (no --entrypoint); Env is merged.
    assert_eq!(
        c["config"]["Entrypoint"],
        serde_json::json!(["/usr/bin/bash"])
    );
    let env: Vec<&str> = c["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        env.contains(&"A=2") && env.contains(&"B=3") && !env.contains(&"A=1"),
        "{env:?}"
    );

    let argv = ["/usr/bin/bash", "-c", "/usr/bin/ls --version"];
    let inside = umoci_runc(top, "t", Some(&argv));
    assert_eq!(inside, on_host(&["/usr/bin/ls", "--version"]));
}

#[test]
fn podman_runs_the_image_where_it_can() {
    let Some(podman) = crate::docker::Podman::new() else {
        return;
    };
    let (archive, _) = image(BundleTest::new(["/usr/bin/ls"]).named("ls.oci.tar").args([
        "--tag",
        "p",
        "--cmd=--version",
    ]));
    let archive = &archive.out;
    let Some((stdout, code)) = podman.run(&format!("oci-archive:{}:p", archive.display())) else {
        return;
    };
    assert_eq!(
        (stdout.as_str(), code),
        (on_host(&["/usr/bin/ls", "--version"]).0.as_str(), 0)
    );
    let loaded = run_ok(podman.cmd().arg("load").arg("-i").arg(archive));
    let said = String::from_utf8_lossy(&loaded.stdout);
    assert!(said.contains("Loaded image"), "{said}");
}

#[test]
fn open_image_gives_layers_the_analyzer_reads() {
    let (base, _) = image(
        BundleTest::new(["/usr/bin/bash"])
            .named("base.oci.tar")
            .args(["--compress", "zstd"]),
    );
    let (top, _) = image(
        BundleTest::new(["/usr/bin/ls"])
            .args(["--format", "oci", "--compress", "none", "--base"])
            .arg(&base.out),
    );
    for spec in [
        format!("oci-archive:{}", base.out.display()),
        format!("oci:{}", top.out.display()),
    ] {
        let img = elfroot::oci::open_image(&spec).unwrap();
        assert_eq!(img.architecture(), Some("amd64"), "{spec}");
        let root = elfroot::Root::layers(img.layer_paths()).unwrap();
        let analyzer = elfroot::Analyzer::new(
            elfroot::files::Files::new(root),
            elfroot::Options::default(),
        );
        let closure = analyzer.analyze(Path::new("/usr/bin/bash")).unwrap();
        assert!(closure.is_complete(), "{spec}: {closure:?}");
        assert!(closure.objects.iter().any(|o| o.path.contains("libc.so.6")));
        if spec.starts_with("oci:") {
            let ls = analyzer.analyze(Path::new("/usr/bin/ls")).unwrap();
            assert!(ls.is_complete(), "{spec}: {ls:?}");
        }
    }
}

#[test]
fn damaged_or_misused_images_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    image(
        BundleTest::new(["/usr/bin/ls"])
            .output(&img)
            .args(["--format", "oci"]),
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(img.join("index.json")).unwrap()).unwrap();
    let manifest_hex = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let manifest_path = img.join("blobs/sha256").join(&manifest_hex);
    let out = dir.path().join("out");
    let ls_to_out = || BundleTest::new(["/usr/bin/ls"]).output(&out);
    let on_base = || {
        ls_to_out()
            .args(["--format", "oci", "--base"])
            .arg(&img)
            .run()
            .error_line()
    };

    let mut bytes = std::fs::read(&manifest_path).unwrap();
    bytes[0] = b' ';
    std::fs::write(&manifest_path, &bytes).unwrap();
    let line = on_base();
    assert!(
        line.contains(&manifest_hex) && line.contains("digest mismatch"),
        "{line}"
    );

    std::fs::remove_file(&manifest_path).unwrap();
    let line = on_base();
    assert!(line.contains("missing blob"), "{line}");

    std::fs::write(img.join("index.json"), "{\"manifests\": [").unwrap();
    let line = on_base();
    assert!(line.contains("index.json: bad JSON"), "{line}");
    assert!(!out.exists());

    let line = ls_to_out().args(["--tag", "x"]).run().error_line();
    assert!(line.contains("need --format oci"), "{line}");
    let line = ls_to_out()
        .args(["--format", "oci", "--env", "X"])
        .run()
        .error_line();
    assert!(line.contains("--env \"X\": expected KEY=VALUE"), "{line}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "left-overs"
    );
}

#[test]
fn a_base_written_by_skopeo_with_two_tags_is_chosen_by_tag() {
    if !need(&["skopeo"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // skopeo writes both images into one layout, as `skopeo copy docker://... oci:DIR:TAG` does.
    let shared = dir.path().join("shared");
    for (program, tag) in [("/usr/bin/bash", "b"), ("/usr/bin/ls", "l")] {
        let (ours, _) = image(BundleTest::new([program]).args(["--format", "oci", "--tag", tag]));
        run_ok(Command::new("skopeo").args([
            "copy",
            &format!("oci:{}:{tag}", ours.out.display()),
            &format!("oci:{}:{tag}", shared.display()),
        ]));
    }
    let out = dir.path().join("top.oci.tar");
    let run = BundleTest::new(["/usr/bin/true"])
        .output(&out)
        .arg("--base")
        .arg(&shared)
        .run()
        .status(2)
        .run;
    assert!(
        run.stderr.contains("holds 2 images") && run.stderr.contains("b, l"),
        "{}",
        run.stderr
    );
    let base = format!("{}:b", shared.display());
    image(
        BundleTest::new(["/usr/bin/true"])
            .output(&out)
            .args(["--base", &base, "--tag", "t"]),
    );
    let reference = format!("oci-archive:{}:t", out.display());
    let config = skopeo_config(&reference);
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/bin/bash"])
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    let img = elfroot::oci::open_image(&reference).unwrap();
    let root = elfroot::Root::layers(img.layer_paths()).unwrap();
    for p in ["/usr/bin/bash", "/usr/bin/true"] {
        assert!(root.resolve_file(Path::new(p)).unwrap().is_some(), "{p}");
    }
}
