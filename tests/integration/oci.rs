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

/// Runs `elfroot bundle ARGS` and returns the manifest digest it prints.
fn bundle(args: &[&str]) -> String {
    let mut all = vec!["bundle"];
    all.extend_from_slice(args);
    let run = elfroot(&all);
    assert_eq!(run.code, 0, "elfroot {all:?}: {}", run.stderr);
    let digest = run.stdout.trim().to_string();
    assert!(digest.starts_with("sha256:"), "{}", run.stdout);
    digest
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The tools a test needs; false (after saying why) when one is missing.
fn need(tools: &[&str]) -> bool {
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
type Outcome = (String, String, i32);

fn outcome(cmd: &mut Command) -> Outcome {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// `argv` run on the host with the environment a container gets.
fn on_host(argv: &[&str]) -> Outcome {
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
fn umoci_runc(layout: &Path, tag: &str, argv: Option<&[&str]>) -> Outcome {
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

fn skopeo_config(reference: &str) -> Value {
    let out = run_ok(Command::new("skopeo").args(["inspect", "--config", reference]));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn skopeo_digest(reference: &str) -> String {
    let out = run_ok(Command::new("skopeo").args(["inspect", reference]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

#[test]
fn umoci_unpacks_and_runc_runs_what_the_host_prints() {
    if !need(&["umoci", "runc"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
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
        let out = dir.path().join(format!("img{ran}"));
        let cmd = serde_json::to_string(&argv[1..]).unwrap();
        bundle(&[
            argv[0],
            "-o",
            &s(&out),
            "--format",
            "oci",
            "--tag",
            "t",
            "--cmd",
            &cmd,
        ]);
        let inside = umoci_runc(&out, "t", None);
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
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("img");
    let digest = bundle(&[
        "/usr/bin/ls",
        "-o",
        &s(&out),
        "--format",
        "oci",
        "--tag",
        "v1",
        "--env",
        "LANG=C.UTF-8",
        "--label",
        "org.example.k=v",
        "--workdir",
        "/tmp",
        "--user",
        "1000:1000",
        "--cmd",
        "-l",
    ]);
    let reference = format!("oci:{}:v1", out.display());
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
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("ls.oci.tar");
    let digest = bundle(&[
        "/usr/bin/ls",
        "-o",
        &s(&archive),
        "--tag",
        "a",
        "--cmd=--version",
    ]);
    let layout = dir.path().join("layout");
    run_ok(Command::new("skopeo").args([
        "copy",
        &format!("oci-archive:{}:a", archive.display()),
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
    let dir = tempfile::tempdir().unwrap();
    let program = if Path::new("/usr/bin/curl").exists() {
        "/usr/bin/curl"
    } else {
        "/usr/bin/ls"
    };
    let mut digests = Vec::new();
    for (name, extra) in [
        ("a", &["--format", "oci"][..]),
        ("b", &["--format", "oci"]),
        ("c.oci.tar", &[]),
        ("d.oci.tar", &[]),
    ] {
        let out = s(&dir.path().join(name));
        let mut args = vec![program, "-o", &out];
        args.extend_from_slice(extra);
        digests.push((bundle(&args), dir.path().join(name)));
    }
    let first = &digests[0].0;
    assert!(digests.iter().all(|(d, _)| d == first), "{digests:?}");
    let read = |p: PathBuf| std::fs::read(p).unwrap();
    assert_eq!(
        read(digests[0].1.join("index.json")),
        read(digests[1].1.join("index.json"))
    );
    assert!(
        read(digests[2].1.clone()) == read(digests[3].1.clone()),
        "archives differ"
    );

    // SOURCE_DATE_EPOCH is the image's created time, and changes the digest.
    let out = dir.path().join("e.oci.tar");
    let run = elfroot_env(
        &["bundle", "/usr/bin/ls", "-o", &s(&out)],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let img = elfroot::oci::open_image(&format!("oci-archive:{}", out.display())).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let top = dir.path().join("top");
    bundle(&[
        "/usr/bin/bash",
        "-o",
        &s(&base),
        "--format",
        "oci",
        "--tag",
        "b",
        "--env",
        "A=1",
    ]);
    bundle(&[
        "/usr/bin/ls",
        "-o",
        &s(&top),
        "--format",
        "oci",
        "--tag",
        "t",
        "--base",
        &format!("{}:b", base.display()),
        "--env",
        "A=2",
        "--env",
        "B=3",
    ]);
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
    let inside = umoci_runc(&top, "t", Some(&argv));
    assert_eq!(inside, on_host(&["/usr/bin/ls", "--version"]));
}

#[test]
fn podman_runs_the_image_where_it_can() {
    if !have("podman") || !is_root() {
        // podman is not among the tools CI installs: never a failure.
        eprintln!("SKIPPED: podman is not installed here (or not root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("ls.oci.tar");
    bundle(&[
        "/usr/bin/ls",
        "-o",
        &s(&archive),
        "--tag",
        "p",
        "--cmd=--version",
    ]);
    let storage = dir.path().join("storage");
    let run = dir.path().join("run");
    let podman = || {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(&storage)
            .arg("--runroot")
            .arg(&run)
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--runtime", "runc", "--events-backend", "none"]);
        c
    };
    let (_, stderr, code) = outcome(podman().arg("info"));
    if code != 0 {
        eprintln!("SKIPPED: podman does not work here: {stderr}");
        return;
    }
    // Limits podman would raise are refused in some sandboxes; ask for low ones.
    let (stdout, stderr, code) = outcome(
        podman()
            .args(["run", "--rm", "--network", "none"])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ])
            .arg(format!("oci-archive:{}:p", archive.display())),
    );
    let runtime_refused = ["runc create failed", "OCI runtime", "cgroup", "rlimit"];
    if code != 0 && runtime_refused.iter().any(|r| stderr.contains(r)) {
        eprintln!("SKIPPED: podman loaded the image but cannot start containers here: {stderr}");
        return;
    }
    assert_eq!(
        (stdout.as_str(), code),
        (on_host(&["/usr/bin/ls", "--version"]).0.as_str(), 0),
        "{stderr}"
    );
    let loaded = run_ok(podman().arg("load").arg("-i").arg(&archive));
    let said = String::from_utf8_lossy(&loaded.stdout);
    assert!(said.contains("Loaded image"), "{said}");
}

#[test]
fn open_image_gives_layers_the_analyzer_reads() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.oci.tar");
    let top = dir.path().join("top");
    bundle(&["/usr/bin/bash", "-o", &s(&base), "--compress", "zstd"]);
    bundle(&[
        "/usr/bin/ls",
        "-o",
        &s(&top),
        "--format",
        "oci",
        "--compress",
        "none",
        "--base",
        &s(&base),
    ]);
    for spec in [
        format!("oci-archive:{}", base.display()),
        format!("oci:{}", top.display()),
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
    bundle(&["/usr/bin/ls", "-o", &s(&img), "--format", "oci"]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(img.join("index.json")).unwrap()).unwrap();
    let manifest_hex = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let manifest_path = img.join("blobs/sha256").join(&manifest_hex);
    let out = dir.path().join("out");
    let try_base = || {
        elfroot(&[
            "bundle",
            "/usr/bin/ls",
            "-o",
            &s(&out),
            "--format",
            "oci",
            "--base",
            &s(&img),
        ])
    };

    let mut bytes = std::fs::read(&manifest_path).unwrap();
    bytes[0] = b' ';
    std::fs::write(&manifest_path, &bytes).unwrap();
    let run = try_base();
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&manifest_hex) && run.stderr.contains("digest mismatch"),
        "{}",
        run.stderr
    );

    std::fs::remove_file(&manifest_path).unwrap();
    let run = try_base();
    assert!(run.stderr.contains("missing blob"), "{}", run.stderr);

    std::fs::write(img.join("index.json"), "{\"manifests\": [").unwrap();
    let run = try_base();
    assert!(
        run.stderr.contains("index.json: bad JSON"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());

    let run = elfroot(&["bundle", "/usr/bin/ls", "-o", &s(&out), "--tag", "x"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("need --format oci"), "{}", run.stderr);
    let run = elfroot(&[
        "bundle",
        "/usr/bin/ls",
        "-o",
        &s(&out),
        "--format",
        "oci",
        "--env",
        "X",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--env \"X\": expected KEY=VALUE"),
        "{}",
        run.stderr
    );
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
        let ours = dir.path().join(tag);
        bundle(&[program, "-o", &s(&ours), "--format", "oci", "--tag", tag]);
        run_ok(Command::new("skopeo").args([
            "copy",
            &format!("oci:{}:{tag}", ours.display()),
            &format!("oci:{}:{tag}", shared.display()),
        ]));
    }
    let out = dir.path().join("top.oci.tar");
    let run = elfroot(&[
        "bundle",
        "/usr/bin/true",
        "-o",
        &s(&out),
        "--base",
        &s(&shared),
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("holds 2 images") && run.stderr.contains("b, l"),
        "{}",
        run.stderr
    );
    let base = format!("{}:b", shared.display());
    bundle(&[
        "/usr/bin/true",
        "-o",
        &s(&out),
        "--base",
        &base,
        "--tag",
        "t",
    ]);
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
