//! examples/make: the Makefile builds, bundles with --depfile, does nothing the
//! second time, and rebuilds the layer when a listed library changes; the
//! committed date.profile gives a layer with the one zone file it names.

use std::process::Command;

use crate::util::*;

fn make(dir: &std::path::Path) -> Run {
    let out = Command::new("make")
        .arg(format!("ELFROOT={}", env!("CARGO_BIN_EXE_elfroot")))
        .current_dir(dir)
        .output()
        .expect("run make");
    Run::from(&out)
}

#[test]
fn the_makefile_rebuilds_the_layer_only_when_an_input_changes() {
    if !have("make") {
        return skip("make not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/make");
    for f in ["Makefile", "hello.c", "greet.c", "date.profile"] {
        std::fs::copy(format!("{src}/{f}"), dir.path().join(f)).unwrap();
    }
    let first = make(dir.path());
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("bundle bin/hello"),
        "{}",
        first.stdout
    );
    let layer = dir.path().join("hello.tar.gz");
    let list = run_ok(Command::new("tar").arg("-tzf").arg(&layer));
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("app/bin/hello") && list.contains("app/lib/libgreet.so"),
        "{list}"
    );
    let dep = std::fs::read_to_string(dir.path().join("hello.tar.gz.d")).unwrap();
    assert!(dep.contains("/lib/libgreet.so"), "{dep}");
    if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
        let date = run_ok(
            Command::new("tar")
                .arg("-tzf")
                .arg(dir.path().join("date.tar.gz")),
        );
        let date = String::from_utf8_lossy(&date.stdout);
        assert!(date.contains("usr/share/zoneinfo/Europe/Paris\n"), "{date}");
        assert!(!date.contains("zoneinfo/Europe/Berlin"), "{date}");
    }

    let second = make(dir.path());
    assert_eq!(second.code, 0);
    assert!(
        !second.stdout.contains("bundle"),
        "nothing to do the second time: {}",
        second.stdout
    );

    let before = std::fs::read(&layer).unwrap();
    // Newer than the layer for sure, whatever the file system's time granularity.
    run_ok(
        Command::new("touch")
            .args(["-d", "+2 seconds"])
            .arg(dir.path().join("lib/libgreet.so")),
    );
    let third = make(dir.path());
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(
        third.stdout.contains("bundle bin/hello"),
        "a listed library changed: {}",
        third.stdout
    );
    // Same inputs, same bytes.
    assert_eq!(std::fs::read(&layer).unwrap(), before);
}

#[test]
fn the_slim_dockerfile_builds_and_its_slimmed_image_prints_the_same() {
    let base = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/debian-image/minbase.tar"
    );
    if !std::path::Path::new(base).exists() {
        return skip("no local Debian base: run scripts/make-debian-image.sh target/debian-image");
    }
    let Some(podman_cmd) = crate::docker::Podman::with_driver("overlay") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let podman = || podman_cmd.cmd();
    run_ok(podman().args(["import", base, "localhost/debian:bookworm"]));
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/docker/slim");
    run_ok(podman().args([
        "build",
        "--network",
        "host",
        "--build-arg",
        "BASE=localhost/debian:bookworm",
        "-t",
        "localhost/example-fat",
        example,
    ]));
    let fat = dir.path().join("fat.oci.tar");
    let slim = dir.path().join("slim.oci.tar");
    run_ok(
        podman()
            .args(["save", "--format", "oci-archive", "-o"])
            .arg(&fat)
            .arg("localhost/example-fat"),
    );
    let run = elfroot(&[
        "slim",
        &format!("oci-archive:{}", fat.display()),
        "-o",
        slim.to_str().unwrap(),
        "--tag",
        "localhost/example-slim:latest",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run_ok(podman().arg("load").arg("-i").arg(&slim));
    let size = |image: &str| {
        let out = run_ok(podman().args(["image", "inspect", "--format", "{{.Size}}", image]));
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let (fat_size, slim_size) = (
        size("localhost/example-fat"),
        size("localhost/example-slim"),
    );
    assert!(fat_size > 4 * slim_size, "{fat_size} vs {slim_size}");
    let Some(fat_out) = podman_cmd.run("localhost/example-fat") else {
        return;
    };
    assert_eq!(fat_out.1, 0, "the fat image runs");
    let slim_out = podman_cmd.run("localhost/example-slim:latest").unwrap();
    assert!(slim_out.0.starts_with("hello, slim!"), "{slim_out:?}");
    assert_eq!(slim_out, fat_out);
}
