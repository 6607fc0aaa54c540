//! `elfroot slim` of an image index: without `--platform` every platform
//! is slimmed (each analysed natively in its own image) into an index
//! again, with the same digest every time; the host's image runs under
//! runc as the program does on the host, the arm64 one holds the arm64
//! closure and not what was dropped; a docker-archive and `--json`, which
//! hold or describe one image, are refused.

use std::path::Path;

use std::process::Command;

use crate::foreign::arm64_root;
use crate::oci::{image, need, on_host, runc_host_image, skopeo_arches};
use crate::util::*;

/// `elfroot list --paths` of /usr/bin/ls in the image `spec` for `platform`.
fn closure(spec: &str, platform: &str) -> Vec<String> {
    let run = elfroot(&[
        "list",
        "--paths",
        "--platform",
        platform,
        "--root",
        spec,
        "/usr/bin/ls",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut paths: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    paths.sort();
    paths
}

/// Every file path of the image of `platform` in `spec`.
fn files(spec: &str, platform: &str) -> Vec<String> {
    let p = elfroot::oci::Platform::parse(platform).unwrap();
    let img = elfroot::oci::open_image_for(spec, Some(&p)).unwrap();
    let root = elfroot::Root::layers(img.layer_paths()).unwrap();
    root.walk_tree(Path::new("/"))
        .unwrap()
        .into_iter()
        .map(|e| e.path.display().to_string())
        .collect()
}

#[test]
fn an_index_is_slimmed_for_every_platform_into_an_index() {
    let Some(arm64) = arm64_root() else {
        return;
    };
    let (fat, _) = image(
        BundleTest::new(["/usr/bin/ls"])
            .args(["--format", "oci", "--tag", "m", "--cmd=--version"])
            .args(["--add", "/usr/share/common-licenses"])
            .args([
                "--platform-root",
                &format!("linux/arm64={}", arm64.display()),
            ]),
    );
    let fat_spec = format!("oci:{}:m", fat.out.display());
    let dir = tempfile::tempdir().unwrap();
    let slim_dir = dir.path().join("slim");
    let run = elfroot(&["slim", &fat_spec, "-o", slim_dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let digest = run.stdout.trim().to_string();
    assert!(run.stderr.contains("(linux/arm64/v8)"), "{}", run.stderr);
    // Reproducible: the same index again, as an archive too.
    let again = dir.path().join("again.oci.tar");
    let run = elfroot(&["slim", &fat_spec, "-o", again.to_str().unwrap()]);
    assert_eq!((run.code, run.stdout.trim()), (0, digest.as_str()));

    let spec = format!("oci:{}", slim_dir.display());
    for platform in ["linux/amd64", "linux/arm64"] {
        let kept = files(&spec, platform);
        assert!(
            kept.iter().all(|p| !p.contains("common-licenses")),
            "{kept:?}"
        );
        // The slimmed image holds the whole closure, found as in the fat one.
        assert_eq!(closure(&spec, platform), closure(&fat_spec, platform));
    }
    let arm = files(&spec, "linux/arm64");
    assert!(
        arm.iter().any(|p| p.contains("aarch64-linux-gnu")),
        "{arm:?}"
    );
    assert!(!arm.iter().any(|p| p.contains("x86_64")), "{arm:?}");

    for (format, out) in [("docker-archive", "x.docker.tar"), ("oci", "j")] {
        let out = dir.path().join(out);
        let mut args = vec!["slim", &fat_spec, "-o", out.to_str().unwrap()];
        args.extend(["--format", format]);
        if format == "oci" {
            args.push("--json");
        }
        let run = elfroot(&args);
        assert_eq!(run.code, 2, "{format}: {}", run.stderr);
        assert!(run.stderr.contains("--platform"), "{}", run.stderr);
        assert!(!out.exists());
    }

    if !need(&["skopeo", "umoci", "runc"]) {
        return;
    }
    assert_eq!(skopeo_arches(&spec), ["amd64", "arm64"]);
    // umoci takes one manifest: skopeo copies the host's out of the index.
    let single = dir.path().join("single");
    assert_eq!(
        runc_host_image(&spec, &single),
        on_host(&["/usr/bin/ls", "--version"])
    );
}

#[test]
fn progress_is_drawn_on_a_terminal_and_nothing_otherwise() {
    let Some(dir) = crate::slim::fat() else {
        return;
    };
    if !have("script") {
        return skip("script (util-linux) is not installed");
    }
    let spec = format!("oci:{}:python", dir.join("fat").display());
    let out = tempfile::tempdir().unwrap();
    let piped = out.path().join("piped");
    let run = elfroot(&["slim", &spec, "-o", piped.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.starts_with("elfroot: slimmed"), "{}", run.stderr);
    assert!(!run.stderr.contains('\r'), "{}", run.stderr);
    // On a terminal (a pty that script(1) holds), the stages are drawn.
    let shown = out.path().join("shown");
    let line = format!(
        "{} slim {spec} -o {}",
        env!("CARGO_BIN_EXE_elfroot"),
        shown.display()
    );
    let pty = run_ok(Command::new("script").args(["-qec", &line, "/dev/null"]));
    let drawn = String::from_utf8_lossy(&pty.stdout);
    assert!(drawn.contains("reading layers ["), "{drawn}");
    assert!(drawn.contains("MiB/"), "{drawn}");
    assert!(drawn.contains("elfroot: slimmed"), "{drawn}");
}
