//! Multi-platform images: `elfroot bundle --platform-root` writes one OCI
//! image index that skopeo lists, whose host image umoci unpacks and runc
//! runs as on the host, and from which `--platform` picks; platform roots
//! are refused where they cannot go.

use std::process::Command;

use crate::foreign::arm64_root;
use crate::oci::{
    image, need, on_host, runc_host_image, skopeo_arches, skopeo_config, skopeo_digest,
};
use crate::util::*;

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
    assert_eq!(skopeo_arches(&spec), ["amd64", "arm64"]);
    assert_eq!(skopeo_digest(&spec), index_digest);
    // umoci takes one manifest: skopeo copies the host's out of the index.
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single");
    assert_eq!(
        runc_host_image(&spec, &single),
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
