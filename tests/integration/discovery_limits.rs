//! What run-time discovery leaves out unless asked: a named directory over
//! the size cap (`--discover-max`; the files named inside it still come),
//! set-user-ID or set-group-ID files, and hardware helpers, each with a
//! warning naming it and how to bring it; a language runtime's directories
//! are not capped.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::util::*;

/// Names its helper directory, a file inside it, its data directory and a
/// setuid helper, as git names git-core and ssh its ssh-keysign.
const APP: &str = r#"#include <stdio.h>
static const char *paths[] = {
    "/usr/lib/app/helpers",
    "/usr/lib/app/helpers/named-tool",
    "/usr/share/app",
    "/usr/lib/app/suid-helper",
};
int main(void) {
    for (unsigned i = 0; i < sizeof paths / sizeof *paths; i++) puts(paths[i]);
    return 0;
}
"#;

/// A root (no package database: every path is the program's own) with the
/// program as /usr/bin/app and, named alike, as a language runtime's.
fn fixture() -> Tree {
    let t = Tree::new();
    t.with_host_glibc();
    let app = t.exe("usr/bin/app", APP, &[]);
    fs::copy(&app, t.at("usr/bin/ruby3.1")).unwrap();
    t.write("usr/lib/app/helpers/big", vec![7u8; 2 << 20]);
    t.write("usr/lib/app/helpers/named-tool", "#!/bin/sh\n");
    t.write("usr/share/app/data", "data");
    let sgid = t.write("usr/share/app/sgid-tool", "x");
    fs::set_permissions(sgid, fs::Permissions::from_mode(0o2755)).unwrap();
    let suid = t.write("usr/lib/app/suid-helper", "x");
    fs::set_permissions(suid, fs::Permissions::from_mode(0o4755)).unwrap();
    t
}

fn bundle(t: &Tree, program: &str, args: &[&str]) -> Bundle {
    BundleTest::new([program])
        .args(["--root", &t.s("/")])
        .args(args)
        .run()
        .success()
}

fn has(b: &Bundle, path: &str) -> bool {
    b.out.join(path).symlink_metadata().is_ok()
}

fn warnings(b: &Bundle) -> Vec<&str> {
    b.run
        .stderr
        .lines()
        .filter(|l| l.starts_with("elfroot: warning: "))
        .collect()
}

#[test]
fn a_directory_over_the_cap_is_left_out_but_what_is_named_inside_comes() {
    let t = fixture();
    let b = bundle(&t, "/usr/bin/app", &["--discover-max", "1M"]);
    assert!(!has(&b, "usr/lib/app/helpers/big"));
    assert!(has(&b, "usr/lib/app/helpers/named-tool"));
    assert!(has(&b, "usr/share/app/data"));
    let w = warnings(&b);
    assert!(
        w.contains(
            &"elfroot: warning: /usr/lib/app/helpers (path named in /usr/bin/app) holds 2.0 MiB, \
              over the discovery cap of 1.0 MiB: left out; --add it, or raise --discover-max"
        ),
        "{w:?}"
    );

    // Under the default cap, or with none, it comes whole.
    for args in [&[][..], &["--discover-max", "none"]] {
        let b = bundle(&t, "/usr/bin/app", args);
        assert!(has(&b, "usr/lib/app/helpers/big"), "{args:?}");
        assert!(!warnings(&b).iter().any(|l| l.contains("cap")), "{args:?}");
    }
    // A language runtime's directories are not capped.
    let b = bundle(&t, "/usr/bin/ruby3.1", &["--discover-max", "1M"]);
    assert!(has(&b, "usr/lib/app/helpers/big"));

    // `tree --runtime` shows what the bundle would hold, under the same cap.
    let tree = |cap: &str| {
        let run = elfroot(&[
            "tree",
            "--root",
            &t.s("/"),
            "--runtime",
            "--discover-max",
            cap,
            "/usr/bin/app",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run
    };
    let capped = tree("1M");
    assert!(
        !capped.stdout.contains("/usr/lib/app/helpers "),
        "{}",
        capped.stdout
    );
    assert!(
        capped.stdout.contains("/usr/lib/app/helpers/named-tool "),
        "{}",
        capped.stdout
    );
    assert!(
        capped.stderr.contains("over the discovery cap of 1.0 MiB"),
        "{}",
        capped.stderr
    );
    let whole = tree("none");
    assert!(
        whole.stdout.contains("/usr/lib/app/helpers "),
        "{}",
        whole.stdout
    );
    assert!(!whole.stderr.contains("cap"), "{}", whole.stderr);
}

#[test]
fn set_id_files_come_only_when_added() {
    let t = fixture();
    let b = bundle(&t, "/usr/bin/app", &["--discover-max", "none"]);
    assert!(!has(&b, "usr/lib/app/suid-helper"));
    assert!(!has(&b, "usr/share/app/sgid-tool"));
    assert!(has(&b, "usr/share/app/data"));
    let w = warnings(&b);
    let about = |path: &str, what: &str| {
        w.iter().any(|l| {
            l.starts_with(&format!(
                "elfroot: warning: {path} (path named in /usr/bin/app) is {what}"
            )) && l
                .ends_with(": left out (discovery never takes such a file); --add it to bundle it")
        })
    };
    assert!(about("/usr/lib/app/suid-helper", "set-user-ID"), "{w:?}");
    assert!(about("/usr/share/app/sgid-tool", "set-group-ID"), "{w:?}");

    let b = bundle(&t, "/usr/bin/app", &["--add", "/usr/lib/app/suid-helper"]);
    let mode = fs::metadata(b.out.join("usr/lib/app/suid-helper"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o4755);
    assert!(
        !warnings(&b).iter().any(|l| l.contains("suid-helper")),
        "{}",
        b.run.stderr
    );
}

/// The doctor names what bundles leave out (git's helper suite, over the
/// cap; ssh's set-user-ID ssh-keysign and its FIDO helper) and says how to
/// bring it.
#[test]
fn the_doctor_says_how_to_bring_what_bundles_leave_out() {
    for (program, left_out, why) in [
        (
            "/usr/bin/git",
            "/usr/lib/git-core",
            "over the discovery cap",
        ),
        (
            "/usr/bin/ssh",
            "/usr/lib/openssh/ssh-keysign",
            "set-user-ID",
        ),
        (
            "/usr/bin/ssh",
            "/usr/lib/openssh/ssh-sk-helper",
            "a hardware helper: libfido2.so.1",
        ),
    ] {
        if !std::path::Path::new(left_out).exists() {
            elfroot::testing::skip(&format!(
                "{left_out} is not installed (scripts/test.sh installs it)"
            ));
            continue;
        }
        let b = BundleTest::new([program])
            .args(["--format", "dir"])
            .run()
            .success();
        let run = elfroot(&["doctor", "--root", &b.out.to_string_lossy(), program]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let fix = format!("elfroot bundle {program} --add {left_out} brings it");
        let said = run
            .stdout
            .lines()
            .any(|l| l.contains(&fix) && l.contains(why));
        assert!(said, "{program}: {}", run.stdout);
    }
}

/// Names a helper that drives security keys through a device library.
const TOKEN_APP: &str = r#"#include <stdio.h>
int main(void) { puts("/usr/lib/app/token-helper"); return 0; }
"#;

/// A helper whose closure needs a device library (here one named as
/// libfido2) comes only when added, or when the program needs such a
/// library itself: ssh names ssh-sk-helper, for FIDO keys.
#[test]
fn hardware_helpers_come_when_added_or_when_the_program_reaches_devices() {
    let t = Tree::new();
    t.with_host_glibc();
    let libdir = t.s("usr/lib/x86_64-linux-gnu");
    t.lib(
        "usr/lib/x86_64-linux-gnu/libfido2.so.1",
        "int fido_init(void) { return 0; }\n",
        &[],
    );
    let link = ["-Wl,--no-as-needed", "-L", &libdir, "-l:libfido2.so.1"];
    t.exe(
        "usr/lib/app/token-helper",
        "int fido_init(void);\nint main(void) { return fido_init(); }\n",
        &link,
    );
    t.exe("usr/bin/app", TOKEN_APP, &[]);
    t.exe("usr/bin/keys", TOKEN_APP, &link);
    let helper = "usr/lib/app/token-helper";
    let fido = "usr/lib/x86_64-linux-gnu/libfido2.so.1";

    let b = bundle(&t, "/usr/bin/app", &[]);
    assert!(!has(&b, helper) && !has(&b, fido), "{}", b.run.stderr);
    let w = warnings(&b);
    assert!(
        w.contains(
            &"elfroot: warning: /usr/lib/app/token-helper (path named in /usr/bin/app) needs \
              libfido2.so.1, for FIDO security keys, which a container reaches only when given \
              the device: left out; --add it to bundle it"
        ),
        "{w:?}"
    );

    let b = bundle(&t, "/usr/bin/app", &["--add", "/usr/lib/app/token-helper"]);
    assert!(has(&b, helper) && has(&b, fido), "{}", b.run.stderr);
    assert!(warnings(&b).is_empty(), "{}", b.run.stderr);

    let b = bundle(&t, "/usr/bin/keys", &[]);
    assert!(has(&b, helper) && has(&b, fido), "{}", b.run.stderr);
    assert!(warnings(&b).is_empty(), "{}", b.run.stderr);
}
