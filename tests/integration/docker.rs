//! docker-archive out: what `elfroot bundle --format docker-archive` writes
//! must be reproducible, read back, and load into podman and run there as
//! on the host, with plain or compressed layers. Reading what other tools
//! write is in `docker_read`, multi-platform images in `platforms`.

use std::fs;
use std::process::Command;

use serde_json::{Value, json};

use crate::oci::{image, need, on_host, outcome, skopeo_config};
use crate::util::*;

/// podman with its storage in a temporary directory (vfs, runc, no
/// events), so that tests neither see nor change the machine's images.
pub(crate) struct Podman {
    dir: tempfile::TempDir,
    driver: &'static str,
}

impl Podman {
    /// None (after saying why) when podman is missing or does not work here.
    pub(crate) fn new() -> Option<Podman> {
        Podman::with_driver("vfs")
    }

    /// [`Podman::new`] with another storage driver (overlay: faster for
    /// large images, where the machine allows it).
    pub(crate) fn with_driver(driver: &'static str) -> Option<Podman> {
        if !need(&["podman"]) {
            return None;
        }
        if !is_root() {
            skip("podman with its own storage needs root here");
            return None;
        }
        let p = Podman {
            dir: tempfile::tempdir().unwrap(),
            driver,
        };
        let (_, stderr, code) = outcome(p.cmd().arg("info"));
        // Installed but unable to run in this sandbox: not a failure, even in CI.
        if code != 0 {
            eprintln!("SKIPPED: podman does not work here: {stderr}");
            return None;
        }
        Some(p)
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.path().join("storage"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args([
                "--storage-driver",
                self.driver,
                "--cgroup-manager",
                "cgroupfs",
            ])
            .args(["--runtime", "runc", "--events-backend", "none"]);
        c
    }

    /// `podman run --rm IMAGE`: None (after saying why) when podman cannot
    /// start containers here at all.
    pub(crate) fn run(&self, image: &str) -> Option<(String, i32)> {
        // Limits podman would raise are refused in some sandboxes; ask for low ones.
        let (stdout, stderr, code) = outcome(
            self.cmd()
                .args(["run", "--rm", "--network", "none"])
                .args([
                    "--ulimit",
                    "nofile=1024:1024",
                    "--ulimit",
                    "nproc=1024:1024",
                ])
                .arg(image),
        );
        let refused = ["runc create failed", "OCI runtime", "cgroup", "rlimit"];
        if code != 0 && refused.iter().any(|r| stderr.contains(r)) {
            eprintln!("SKIPPED: podman cannot start containers here: {stderr}");
            return None;
        }
        assert!(code == 0 || !stderr.contains("Error:"), "{stderr}");
        Some((stdout, code))
    }
}

/// `elfroot list --root ROOT FILE...`: the lines, asserting success.
pub(crate) fn list(root: &str, files: &[&str]) -> Vec<String> {
    let mut args = vec!["list", "--root", root];
    args.extend(files);
    let run = elfroot(&args);
    assert_eq!(run.code, 0, "list --root {root}: {}", run.stderr);
    run.stdout.lines().map(str::to_string).collect()
}

#[test]
fn a_docker_archive_loads_into_podman_and_runs_as_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ls.docker.tar");
    let bundle = || {
        BundleTest::new(["/usr/bin/ls"]).output(&out).args([
            "--tag",
            "elfroot-test/ls:1",
            "--cmd=--version",
            "--force",
        ])
    };
    let (_, id) = image(bundle());
    let first = fs::read(&out).unwrap();
    image(bundle());
    assert!(fs::read(&out).unwrap() == first, "not reproducible");

    // Read back: the config is the image ID, the layer the bundle.
    let spec = format!("docker-archive:{}", out.display());
    let img = elfroot::oci::open_image(&format!("{spec}:elfroot-test/ls:1")).unwrap();
    assert_eq!(img.config_digest(), id);
    assert_eq!(img.base_digest(), id);
    assert_eq!(img.name(), Some("elfroot-test/ls:1"));
    assert_eq!(list(&spec, &["/usr/bin/ls"]), list("/", &["/usr/bin/ls"]));
    if have("skopeo") {
        let config = skopeo_config(&spec);
        assert_eq!(config["config"]["Cmd"], json!(["--version"]));
    }

    let Some(podman) = Podman::new() else {
        return;
    };
    let loaded = run_ok(podman.cmd().arg("load").arg("-i").arg(&out));
    let said = String::from_utf8_lossy(&loaded.stdout);
    assert!(said.contains("elfroot-test/ls:1"), "{said}");
    let inspect = run_ok(podman.cmd().args(["image", "inspect", "elfroot-test/ls:1"]));
    let inspect: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(format!("sha256:{}", inspect[0]["Id"].as_str().unwrap()), id);
    let Some((stdout, code)) = podman.run("elfroot-test/ls:1") else {
        return;
    };
    let host = on_host(&["/usr/bin/ls", "--version"]);
    assert_eq!((stdout, code), (host.0, host.2));
}

#[test]
fn compressed_docker_archive_layers_read_and_load_too() {
    let (plain, id) = image(BundleTest::new(["/usr/bin/ls"]).named("plain.docker.tar"));
    let (gz, gz_id) = image(
        BundleTest::new(["/usr/bin/ls"])
            .named("gz.docker.tar")
            .args(["--compress", "gzip", "--tag", "gz:1", "--cmd=--version"]),
    );
    assert!(fs::metadata(&gz.out).unwrap().len() < fs::metadata(&plain.out).unwrap().len());
    // The config names the uncompressed layer: --cmd aside, the same image.
    let img = elfroot::oci::open_image(&format!("docker-archive:{}", gz.out.display())).unwrap();
    assert_eq!(img.config_digest(), gz_id);
    assert_ne!(gz_id, id);
    // `docker save | gzip` gives an archive docker load takes too.
    run_ok(Command::new("gzip").arg("-k").arg(&plain.out));
    let gzipped = format!("docker-archive:{}.gz", plain.out.display());
    let plain = elfroot::oci::open_image(&gzipped).unwrap();
    assert_eq!(plain.config_digest(), id);
    assert_eq!(img.config()["rootfs"], plain.config()["rootfs"]);
    let Some(podman) = Podman::new() else {
        return;
    };
    run_ok(podman.cmd().arg("load").arg("-i").arg(&gz.out));
    let Some((stdout, code)) = podman.run("gz:1") else {
        return;
    };
    let host = on_host(&["/usr/bin/ls", "--version"]);
    assert_eq!((stdout, code), (host.0, host.2));
}
