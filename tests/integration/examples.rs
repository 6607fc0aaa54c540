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
