//! docker-archive in: what `podman save` and `skopeo copy` write (legacy
//! docker-archives of one or several images), the form Docker 25+ writes
//! (an OCI layout with a manifest.json), and a docker-archive as a base,
//! read back as roots; hostile archives are one clear error, exit 2.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::docker::{Podman, list};
use crate::oci::{image, need};
use crate::util::*;

/// `tar -C DIR -cf OUT .`
fn tar_dir(dir: &Path, out: &Path) {
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(dir)
            .arg("-cf")
            .arg(out)
            .arg("."),
    );
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
    tar_dir(&oci, &tar);
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
    tar_dir(&oci, &tar);
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
