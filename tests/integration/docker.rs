//! docker-archive in and out, and multi-platform images. What `elfroot
//! bundle --format docker-archive` writes must load into podman and run
//! there as on the host; what `podman save` and `skopeo copy` write (legacy
//! docker-archives, one or several images) and the form Docker 25+ writes
//! (an OCI layout with a manifest.json) must read back as roots; a bundle
//! with `--platform-root` is one OCI image index skopeo, umoci and runc take;
//! hostile archives are one clear error.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::foreign::arm64_root;
use crate::oci::{image, need, on_host, outcome, skopeo_config, skopeo_digest, umoci_runc};
use crate::util::*;

/// podman with its storage in a temporary directory (vfs, runc, no
/// events), so that tests neither see nor change the machine's images.
pub(crate) struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    /// None (after saying why) when podman is missing or does not work here.
    pub(crate) fn new() -> Option<Podman> {
        if !need(&["podman"]) {
            return None;
        }
        if !is_root() {
            skip("podman with its own storage needs root here");
            return None;
        }
        let p = Podman {
            dir: tempfile::tempdir().unwrap(),
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
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
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
fn list(root: &str, files: &[&str]) -> Vec<String> {
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
    let plain =
        elfroot::oci::open_image(&format!("docker-archive:{}", plain.out.display())).unwrap();
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

#[test]
fn what_podman_save_writes_reads_back() {
    let Some(podman) = Podman::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs.tar");
    BundleTest::new(["/usr/bin/bash", "/usr/bin/ls"])
        .output(&rootfs)
        .run()
        .success();
    run_ok(
        podman
            .cmd()
            .arg("import")
            .arg(&rootfs)
            .arg("localhost/imp:1"),
    );
    let (ls, _) = image(BundleTest::new(["/usr/bin/ls"]).named("ls.docker.tar"));
    run_ok(podman.cmd().arg("load").arg("-i").arg(&ls.out));
    let at = |name: &str| dir.path().join(name).display().to_string();
    let save = |format: &str, out: &str, images: &[&str]| {
        let mut c = podman.cmd();
        c.args(["save", "-q", "--format", format, "-o", &at(out)]);
        if images.len() > 1 {
            c.arg("-m");
        }
        run_ok(c.args(images));
    };
    save("docker-archive", "imp.docker.tar", &["localhost/imp:1"]);
    save("oci-archive", "imp.oci.tar", &["localhost/imp:1"]);
    save(
        "docker-archive",
        "two.docker.tar",
        &["localhost/imp:1", "localhost/ls:latest"],
    );

    let want = list(
        &rootfs.display().to_string(),
        &["/usr/bin/bash", "/usr/bin/ls"],
    );
    for spec in [
        format!("docker-archive:{}", at("imp.docker.tar")),
        format!("docker-archive:{}:localhost/imp:1", at("imp.docker.tar")),
        format!("oci-archive:{}", at("imp.oci.tar")),
        format!("docker-archive:{}:imp:1", at("two.docker.tar")),
        format!("docker-archive:{}:@0", at("two.docker.tar")),
    ] {
        assert_eq!(
            list(&spec, &["/usr/bin/bash", "/usr/bin/ls"]),
            want,
            "{spec}"
        );
        let doctor = elfroot(&["doctor", "--root", &spec, "--in-root", "/usr/bin/bash"]);
        assert_eq!(doctor.code, 0, "{spec}: {}{}", doctor.stdout, doctor.stderr);
    }
    let img =
        elfroot::oci::open_image(&format!("docker-archive:{}", at("imp.docker.tar"))).unwrap();
    assert_eq!(img.name(), Some("localhost/imp:1"));
    assert_eq!(img.layer_paths().len(), 1);

    // Two images: the error names both; @1 is the second.
    let two = format!("docker-archive:{}", at("two.docker.tar"));
    let run = elfroot(&["list", "--root", &two, "/usr/bin/ls"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("holds 2 images")
            && run.stderr.contains("localhost/imp:1, localhost/ls:latest"),
        "{}",
        run.stderr
    );
    let second = elfroot::oci::open_image(&format!("{two}:@1")).unwrap();
    assert_eq!(second.name(), Some("localhost/ls:latest"));
    assert!(list(&format!("{two}:@1"), &["/usr/bin/ls"]).len() > 1);
}

#[test]
fn skopeo_docker_archives_and_the_docker_25_form_read_back() {
    if !need(&["skopeo"]) {
        return;
    }
    let (layout, digest) =
        image(BundleTest::new(["/usr/bin/bash"]).args(["--format", "oci", "--tag", "b"]));
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("skopeo.tar");
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        &format!("oci:{}:b", layout.out.display()),
        &format!("docker-archive:{}:example/bash:2", legacy.display()),
    ]));
    let from_oci = elfroot::oci::open_image(&format!("oci:{}:b", layout.out.display())).unwrap();
    let spec = format!("docker-archive:{}", legacy.display());
    let img = elfroot::oci::open_image(&spec).unwrap();
    assert_eq!(img.config(), from_oci.config());
    assert_eq!(img.name(), Some("docker.io/example/bash:2"));
    assert_eq!(
        list(&spec, &["/usr/bin/bash"]),
        list(&format!("oci:{}", layout.out.display()), &["/usr/bin/bash"])
    );
    // As a base: its layer under the new one, and named in the annotations
    // (a legacy archive has no manifest: its digest is the image ID).
    let (top, _) = image(
        BundleTest::new(["/usr/bin/true"])
            .args(["--format", "oci", "--tag", "t", "--base"])
            .arg(&legacy),
    );
    let top = elfroot::oci::open_image(&format!("oci:{}:t", top.out.display())).unwrap();
    let annotations = &top.manifest()["annotations"];
    assert_eq!(
        annotations[elfroot::oci::BASE_NAME],
        "docker.io/example/bash:2"
    );
    assert_eq!(
        annotations[elfroot::oci::BASE_DIGEST],
        json!(from_oci.config_digest())
    );
    let root = elfroot::Root::layers(top.layer_paths()).unwrap();
    for p in ["/usr/bin/bash", "/usr/bin/true"] {
        assert!(root.resolve_file(Path::new(p)).unwrap().is_some(), "{p}");
    }

    // Docker 25+ (`docker save` with the containerd store) writes an OCI
    // layout plus manifest.json naming its blobs. No tool here writes that
    // form, so it is made as Docker makes it: skopeo's layout, Docker's
    // index annotations, manifest.json and repositories, tarred.
    let oci = dir.path().join("docker25");
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        &format!("oci:{}:b", layout.out.display()),
        &format!("oci:{}:latest", oci.display()),
    ]));
    docker25(&oci, "example/bash:latest", &from_oci);
    let tar = dir.path().join("docker25.tar");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&oci)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    );
    for reference in ["", ":example/bash", ":docker.io/example/bash:latest", ":@0"] {
        let img = elfroot::oci::open_image(&format!("docker-archive:{}{reference}", tar.display()))
            .unwrap();
        assert_eq!(img.manifest_digest(), digest, "{reference}");
        assert_eq!(img.base_digest(), digest);
        assert_eq!(img.name(), Some("example/bash:latest"));
    }
    let spec = format!("docker-archive:{}", tar.display());
    assert_eq!(
        list(&spec, &["/usr/bin/bash"]),
        list(&format!("oci:{}", layout.out.display()), &["/usr/bin/bash"])
    );

    // An index without that image: manifest.json's files are read as in
    // the legacy form (gzip layers named by digest, checked both ways).
    fs::write(
        oci.join("index.json"),
        r#"{"schemaVersion":2,"manifests":[]}"#,
    )
    .unwrap();
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&oci)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
    );
    let img = elfroot::oci::open_image(&spec).unwrap();
    assert_eq!(img.config(), from_oci.config());
    assert_eq!(img.base_digest(), from_oci.config_digest());
    assert_eq!(img.layers(), from_oci.layers());
}

/// Turns the layout at `dir` (one image, from `img`) into what `docker save`
/// writes since Docker 25.
fn docker25(dir: &Path, name: &str, img: &elfroot::oci::Image) {
    let index_path = dir.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    index["manifests"][0]["annotations"]["io.containerd.image.name"] =
        json!(format!("docker.io/{name}"));
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    let blob = |d: &str| format!("blobs/sha256/{}", &d[7..]);
    let layers: Vec<String> = img.layers().iter().map(|l| blob(&l.digest)).collect();
    let manifest = json!([{
        "Config": blob(&img.config_digest()),
        "RepoTags": [name],
        "Layers": layers,
    }]);
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let (repo, tag) = name.rsplit_once(':').unwrap();
    let top = &img.layers().last().unwrap().digest[7..];
    let repositories = json!({ repo: { tag: top } });
    fs::write(
        dir.join("repositories"),
        serde_json::to_vec(&repositories).unwrap(),
    )
    .unwrap();
}

#[test]
fn platform_roots_make_one_index_that_skopeo_umoci_and_runc_take() {
    let Some(arm64) = arm64_root() else {
        return;
    };
    let platform_root = format!("linux/arm64={}", arm64.display());
    let (multi, index_digest) = image(
        BundleTest::new(["/usr/bin/ls"])
            .args(["--format", "oci", "--tag", "m", "--cmd=--version"])
            .args(["--platform-root", &platform_root]),
    );
    let spec = format!("oci:{}:m", multi.out.display());
    // The host's image is the default, the arm64 one on request, each
    // analysed in its own root.
    let host = elfroot::oci::open_image(&spec).unwrap();
    assert_eq!(host.architecture(), Some("amd64"));
    let arm = elfroot::oci::open_image_for(
        &spec,
        elfroot::oci::Platform::parse("linux/arm64").ok().as_ref(),
    )
    .unwrap();
    assert_eq!(
        (arm.architecture(), arm.variant()),
        (Some("arm64"), Some("v8"))
    );
    let arm_list = elfroot(&[
        "list",
        "--platform",
        "linux/arm64",
        "--root",
        &spec,
        "/usr/bin/ls",
    ]);
    assert!(
        arm_list.stdout.contains("/lib/aarch64-linux-gnu/libc.so.6"),
        "{}",
        arm_list.stdout
    );
    let platforms = elfroot::oci::image_platforms(&spec).unwrap();
    assert_eq!(platforms.len(), 2);
    let run = elfroot(&[
        "list",
        "--platform",
        "linux/s390x",
        "--root",
        &spec,
        "/usr/bin/ls",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("linux/amd64, linux/arm64/v8"),
        "{}",
        run.stderr
    );

    if !need(&["skopeo", "umoci", "runc"]) {
        return;
    }
    let raw = run_ok(Command::new("skopeo").args(["inspect", "--raw", &spec]));
    let raw: Value = serde_json::from_slice(&raw.stdout).unwrap();
    let arches: Vec<&str> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["amd64", "arm64"]);
    assert_eq!(skopeo_digest(&spec), index_digest);
    // umoci takes one manifest: skopeo copies the host's out of the index.
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single");
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        &spec,
        &format!("oci:{}:h", single.display()),
    ]));
    assert_eq!(
        umoci_runc(&single, "h", None),
        on_host(&["/usr/bin/ls", "--version"])
    );
    let arm_copy = dir.path().join("arm");
    run_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--override-arch",
        "arm64",
        &spec,
        &format!("oci:{}:a", arm_copy.display()),
    ]));
    let config = skopeo_config(&format!("oci:{}:a", arm_copy.display()));
    assert_eq!(config["architecture"], "arm64");
}

#[test]
fn platform_roots_are_refused_where_they_cannot_go() {
    let on = |format: &str, platform_root: &str| {
        BundleTest::new(["/usr/bin/ls"])
            .args(["--format", format, "--platform-root", platform_root])
            .named("x")
            .run()
            .error_line()
    };
    let line = on("docker-archive", "linux/arm64=/");
    assert!(
        line.contains("a docker-archive holds one platform"),
        "{line}"
    );
    let line = on("tar", "linux/arm64=/");
    assert!(line.contains("need --format oci"), "{line}");
    let line = BundleTest::new(["/usr/bin/ls"])
        .args([
            "--format",
            "oci",
            "--platform-root",
            "linux/arm64=/",
            "--json",
        ])
        .run()
        .error_line();
    assert!(line.contains("describe one root's bundle"), "{line}");
    // A root declared for arm64 that holds amd64 files.
    let line = on("oci", "linux/arm64=/");
    assert!(line.contains("for linux/amd64, not linux/arm64"), "{line}");
    // clap's own error for a malformed value.
    let run = BundleTest::new(["/usr/bin/ls"])
        .args(["--format", "oci", "--platform-root", "arm64=/"])
        .run()
        .status(2)
        .run;
    assert!(run.stderr.contains("expected OS/ARCH"), "{}", run.stderr);
}

/// A docker-archive of one image whose manifest.json, config and members
/// are as given (members: name, then contents or a symlink target).
fn hostile_archive(out: &Path, manifest: &Value, members: &[(&str, Member)]) {
    let mut b = tar::Builder::new(fs::File::create(out).unwrap());
    let mut add = |name: &str, m: &Member| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match m {
            Member::Data(data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, name, &data[..]).unwrap();
            }
            Member::Link(target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, name, target).unwrap();
            }
        }
    };
    add(
        "manifest.json",
        &Member::Data(serde_json::to_vec(manifest).unwrap()),
    );
    for (name, m) in members {
        add(name, m);
    }
    b.finish().unwrap();
}

enum Member {
    Data(Vec<u8>),
    Link(&'static str),
}

/// A hostile archive: its name, manifest.json, members, and what the error
/// must say ("" for an archive that is fine).
type Case = (
    &'static str,
    Value,
    Vec<(&'static str, Member)>,
    &'static str,
);

/// Archives around a real layer: one fine, the others each hostile or
/// damaged in one way.
fn hostile_cases(layer: &[u8]) -> Vec<Case> {
    let diff_id = elfroot::oci::Digest::sha256(layer).to_string();
    let config = |diff_id: &str| {
        let c = json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
        serde_json::to_vec(&c).unwrap()
    };
    let entry = |config: &str, layer: &str| json!([{"Config": config, "RepoTags": ["h:1"], "Layers": [layer]}]);
    let good = config(&diff_id);
    vec![
        (
            "fine",
            entry("c.json", "l/layer.tar"),
            vec![
                ("c.json", Member::Data(good.clone())),
                ("l/layer.tar", Member::Data(layer.to_vec())),
            ],
            "",
        ),
        (
            "outside",
            entry("c.json", "../../etc/passwd"),
            vec![("c.json", Member::Data(good.clone()))],
            "not a file inside the archive",
        ),
        (
            "absolute",
            entry("/etc/passwd", "l/layer.tar"),
            vec![("l/layer.tar", Member::Data(layer.to_vec()))],
            "not a file inside the archive",
        ),
        (
            "symlinked-layer",
            entry("c.json", "l/layer.tar"),
            vec![
                ("c.json", Member::Data(good.clone())),
                ("l/layer.tar", Member::Link("../../../../etc/passwd")),
            ],
            "outside the archive",
        ),
        (
            "symlinked-config",
            entry("c.json", "l/layer.tar"),
            vec![
                ("c.json", Member::Link("/etc/passwd")),
                ("l/layer.tar", Member::Data(layer.to_vec())),
            ],
            "outside the archive",
        ),
        (
            "wrong-diff-id",
            entry("c.json", "l/layer.tar"),
            vec![
                (
                    "c.json",
                    Member::Data(config(&elfroot::oci::Digest::sha256(b"other").to_string())),
                ),
                ("l/layer.tar", Member::Data(layer.to_vec())),
            ],
            "rootfs.diff_ids[0]",
        ),
        (
            "missing-layer",
            entry("c.json", "l/layer.tar"),
            vec![("c.json", Member::Data(good.clone()))],
            "missing",
        ),
        (
            "not-a-manifest",
            json!({"Config": 1}),
            vec![],
            "bad docker-archive manifest",
        ),
    ]
}

#[test]
fn hostile_docker_archives_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A real layer and config to start from.
    let layer_tar = dir.path().join("layer.tar");
    BundleTest::new(["/usr/bin/true"])
        .output(&layer_tar)
        .run()
        .success();
    let layer = fs::read(&layer_tar).unwrap();
    for (name, manifest, members, want) in hostile_cases(&layer) {
        let file: PathBuf = dir.path().join(format!("{name}.tar"));
        hostile_archive(&file, &manifest, &members);
        let spec = format!("docker-archive:{}", file.display());
        let run = elfroot(&["list", "--root", &spec, "/usr/bin/true"]);
        if want.is_empty() {
            assert_eq!(run.code, 0, "{name}: {}", run.stderr);
            continue;
        }
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains(want) && run.stderr.contains(&format!("{name}.tar")),
            "{name}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("root:x:0"), "{name}: {}", run.stderr);
    }
}
