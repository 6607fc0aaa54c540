//! `elfroot doctor` against reality: each case is built, doctor's verdict is
//! taken, then the program is run in the target with chroot; whether it
//! starts and the first error must match.

use std::path::Path;
use std::process::Command;

use crate::util::*;

const HELLO: &str = "#include <stdio.h>\nint main(int c, char **v) { printf(\"hello %s %d\\n\", v[0], c); return 0; }\n";

/// Doctor's verdict on `/app` inside `root`: (starts, first error's messages, code).
fn verdict(root: &Path, file: &str) -> (bool, Vec<String>, String, Run) {
    let r = root.to_string_lossy();
    let run = elfroot(&["doctor", "--json", "--root", &r, "--in-root", file]);
    assert!(
        run.code == 0 || run.code == 1,
        "doctor failed: {}",
        run.stderr
    );
    let doc = run.json();
    let p = &doc["programs"][0];
    let starts = p["starts"].as_bool().unwrap();
    assert_eq!(run.code, if starts { 0 } else { 1 });
    let first = p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "error");
    let messages = first
        .map(|f| {
            f["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    let code = first
        .map(|f| f["code"].as_str().unwrap().to_string())
        .unwrap_or_default();
    (starts, messages, code, run)
}

/// Runs `file` in `root` with chroot: (exit status, stdout, stderr).
fn reality(root: &Path, file: &str) -> Option<(i32, String, String)> {
    if !is_root() {
        skip("chroot needs root");
        return None;
    }
    let (stdout, stderr, status) = run_program(Some(root), &[file], &[], b"");
    Some((status, stdout, stderr))
}

/// Asserts that doctor and the real run agree; returns doctor's error code.
fn agree(root: &Path, file: &str) -> String {
    let (starts, messages, code, run) = verdict(root, file);
    let Some((status, _, stderr)) = reality(root, file) else {
        return code;
    };
    assert_eq!(
        starts,
        status == 0,
        "doctor says starts={starts}, the run exited {status}: {stderr}\n{}",
        run.stdout
    );
    if !starts {
        // chroot names itself as it was called.
        let first_line =
            stderr
                .lines()
                .next()
                .unwrap_or("")
                .replacen("/usr/sbin/chroot:", "chroot:", 1);
        let first_line = first_line.as_str();
        assert!(
            messages
                .iter()
                .any(|m| m == first_line || m.ends_with(&format!(": {first_line}"))),
            "the run said {first_line:?}; doctor predicted {messages:?}"
        );
    }
    code
}

fn musl_root() -> Option<Tree> {
    let loader = Path::new("/lib/ld-musl-x86_64.so.1");
    if !loader.exists() {
        skip("musl's loader is not installed (apt-get install musl-tools)");
        return None;
    }
    let t = Tree::new();
    let real = std::fs::canonicalize(loader).unwrap();
    t.copy_in(&real.to_string_lossy(), "lib/ld-musl-x86_64.so.1");
    Some(t)
}

#[test]
fn glibc_fortified_program_on_musl() {
    let Some(t) = musl_root() else { return };
    t.exe("app", HELLO, &["-O2", "-D_FORTIFY_SOURCE=2"]);
    // No glibc loader at all.
    assert_eq!(agree(t.path(), "/app"), "interpreter-missing");
    let (_, _, _, run) = verdict(t.path(), "/app");
    assert!(
        run.stdout.contains("musl"),
        "the cause names the target's libc: {}",
        run.stdout
    );
    // With the glibc loader path pointing at musl's loader: musl lacks __printf_chk.
    t.symlink("/lib/ld-musl-x86_64.so.1", "lib64/ld-linux-x86-64.so.2");
    assert_eq!(agree(t.path(), "/app"), "symbol-missing");
    let (_, messages, _, _) = verdict(t.path(), "/app");
    assert!(
        messages.contains(&"Error relocating /app: __printf_chk: symbol not found".to_string()),
        "{messages:?}"
    );
}

#[test]
fn unfortified_glibc_program_runs_on_musl_with_the_link() {
    let Some(t) = musl_root() else { return };
    t.exe("app", HELLO, &["-O0", "-U_FORTIFY_SOURCE"]);
    t.symlink("/lib/ld-musl-x86_64.so.1", "lib64/ld-linux-x86-64.so.2");
    assert_eq!(agree(t.path(), "/app"), "", "doctor must say it starts");
    if let Some((status, out, _)) = reality(t.path(), "/app") {
        assert_eq!((status, out.as_str()), (0, "hello /app 1\n"));
    }
}

#[test]
fn musl_program_on_glibc() {
    if !have("musl-gcc") {
        return skip("musl-gcc not installed");
    }
    let t = Tree::new();
    t.with_host_glibc();
    t.build("musl-gcc", HELLO, "app", &[]);
    assert_eq!(agree(t.path(), "/app"), "interpreter-missing");
    let (_, _, _, run) = verdict(t.path(), "/app");
    assert!(run.stdout.contains("glibc"), "{}", run.stdout);
}

#[test]
fn missing_library_under_each_libc() {
    let t = Tree::new();
    t.with_host_glibc();
    t.lib("build/libgone.so", "int g(void) { return 0; }\n", &[]);
    let l = format!("-L{}", t.s("build"));
    t.exe(
        "app",
        "int g(void); int main(void) { return g(); }\n",
        &[&l, "-lgone"],
    );
    assert_eq!(agree(t.path(), "/app"), "library-missing");

    if !have("musl-gcc") {
        return skip("musl-gcc not installed");
    }
    let Some(m) = musl_root() else { return };
    m.build(
        "musl-gcc",
        "int g(void) { return 0; }\n",
        "build/libgone.so",
        &["-shared", "-fPIC", "-Wl,-soname,libgone.so"],
    );
    let l = format!("-L{}", m.s("build"));
    m.build(
        "musl-gcc",
        "int g(void); int main(void) { return g(); }\n",
        "app",
        &[&l, "-lgone"],
    );
    assert_eq!(agree(m.path(), "/app"), "library-missing");
}

#[test]
fn glibc_version_newer_than_the_targets() {
    // A stand-in libc.so.6 whose versions stop at GLIBC_2.31, with the real loader.
    let t = Tree::new();
    t.with_host_glibc();
    std::fs::remove_file(t.at("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    t.write(
        "build/libc.map",
        "GLIBC_2.2.5 { global: printf; puts; __libc_start_main; __cxa_finalize; local: *; };\nGLIBC_2.31 { } GLIBC_2.2.5;\n",
    );
    let map = format!("-Wl,--version-script={}", t.s("build/libc.map"));
    t.build(
        "cc",
        "int printf(const char *f, ...) { return 0; } int puts(const char *s) { return 0; }\n\
         int __libc_start_main(void) { return 0; } void __cxa_finalize(void *d) { }\n",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        &[
            "-shared",
            "-fPIC",
            "-nostdlib",
            "-Wl,-soname,libc.so.6",
            &map,
        ],
    );
    t.exe("app", HELLO, &[]);
    assert_eq!(agree(t.path(), "/app"), "version-missing");
    let (_, messages, _, _) = verdict(t.path(), "/app");
    assert!(
        messages[0].contains("version `GLIBC_2.34' not found (required by /app)"),
        "{messages:?}"
    );

    // elfroot bundle runs the same checks and refuses that bundle...
    let app_in_t = || BundleTest::new(["/app"]).arg("--root").arg(t.path());
    let refused = app_in_t().run().status(1);
    assert!(
        refused.run.stderr.contains("version-missing"),
        "{}",
        refused.run.stderr
    );
    assert!(!refused.out.exists());
    // A tar file is written while the doctor decides, then dropped: the
    // one already there stays as it was, with nothing left beside it.
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("app.tar");
    std::fs::write(&tar, "old").unwrap();
    let refused = app_in_t().output(&tar).run().status(1);
    let stderr = &refused.run.stderr;
    assert!(stderr.contains("version-missing"), "{stderr}");
    assert!(stderr.contains("nothing written to"), "{stderr}");
    assert_eq!(std::fs::read(&tar).unwrap(), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let written = app_in_t()
        .output(&tar)
        .arg("--allow-broken")
        .run()
        .success();
    assert!(tar_listing(&written.out).contains("app"));
    // ...unless told to write it anyway.
    let written = app_in_t().arg("--allow-broken").run().success();
    assert!(written.out.join("app").is_file());
}

#[test]
fn a_crlf_script() {
    let t = Tree::new();
    t.with_host_glibc();
    t.copy_in("/usr/bin/dash", "usr/bin/dash");
    t.symlink("usr/bin", "bin");
    t.symlink("dash", "usr/bin/sh");
    t.write("s.sh", "#!/bin/sh\r\necho hi\r\n");
    run_ok(Command::new("chmod").arg("755").arg(t.at("s.sh")));
    assert_eq!(agree(t.path(), "/s.sh"), "shebang-crlf");
    t.write("ok.sh", "#!/bin/sh\necho hi\n");
    run_ok(Command::new("chmod").arg("755").arg(t.at("ok.sh")));
    assert_eq!(agree(t.path(), "/ok.sh"), "");
}

#[test]
fn an_aarch64_binary_on_an_x86_64_root() {
    let t = Tree::new();
    t.with_host_glibc();
    t.copy_in(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/foreign/aarch64/app"),
        "app",
    );
    run_ok(Command::new("chmod").arg("755").arg(t.at("app")));
    // Without binfmt_misc emulation the kernel refuses it (exec format
    // error); with qemu-user registered it runs it, and the aarch64 loader is
    // missing (no such file). Doctor predicts both; the run shows which.
    assert_eq!(agree(t.path(), "/app"), "exec-format");
}

#[test]
fn host_files_are_checked_at_their_place_and_layers_stack() {
    // A glibc root as a layer tarball, the program from the host at --at.
    let t = Tree::new();
    t.with_host_glibc();
    let layers = tempfile::tempdir().unwrap();
    let base = layers.path().join("base.tar");
    run_ok(
        Command::new("tar")
            .arg("-cf")
            .arg(&base)
            .arg("-C")
            .arg(t.path())
            .arg("."),
    );
    let app = t.exe("build/app", HELLO, &[]);
    let run = elfroot(&[
        "doctor",
        "--root",
        &base.to_string_lossy(),
        "--at",
        "/usr/bin/app",
        &app.to_string_lossy(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with("/usr/bin/app: starts"),
        "{}",
        run.stdout
    );
    // A second layer that whites libc out.
    let upper = Tree::new();
    upper.write("usr/lib/x86_64-linux-gnu/.wh.libc.so.6", "");
    let layer2 = base.with_file_name("upper.tar");
    run_ok(
        Command::new("tar")
            .arg("-cf")
            .arg(&layer2)
            .arg("-C")
            .arg(upper.path())
            .arg("."),
    );
    let run = elfroot(&[
        "doctor",
        "--root",
        &base.to_string_lossy(),
        "--root",
        &layer2.to_string_lossy(),
        "--at",
        "/usr/bin/app",
        &app.to_string_lossy(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("libc.so.6: cannot open shared object file"),
        "{}",
        run.stdout
    );
}

#[test]
fn oci_images_are_targets() {
    let layout = BundleTest::new(["/usr/bin/curl"])
        .args(["--format", "oci", "--tag", "v1"])
        .run()
        .success();
    let spec = format!("oci:{}:v1", layout.out.display());
    let ok = elfroot(&["doctor", "--root", &spec, "--in-root", "/usr/bin/curl"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    let missing = elfroot(&["doctor", "--root", &spec, "--in-root", "/usr/bin/ls"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stdout.contains("error[file-missing]"),
        "{}",
        missing.stdout
    );
    // The host's ls placed in the image lacks libselinux there.
    let placed = elfroot(&["doctor", "--root", &spec, "/usr/bin/ls"]);
    assert_eq!(placed.code, 1);
    assert!(
        placed
            .stdout
            .contains("libselinux.so.1: cannot open shared object file"),
        "{}",
        placed.stdout
    );
    let archive = BundleTest::new(["/usr/bin/ls"])
        .named("img.oci.tar")
        .run()
        .success();
    let spec = format!("oci-archive:{}", archive.out.display());
    let ok = elfroot(&["doctor", "--root", &spec, "--in-root", "/usr/bin/ls"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
}

#[test]
fn static_programs_and_runtime_lookups() {
    let t = Tree::new();
    t.with_host_glibc();
    // A static glibc program that looks users up: it starts, with a note.
    t.exe(
        "static",
        "#include <pwd.h>\n#include <stdio.h>\nint main(void) { struct passwd *p = getpwuid(0); puts(p ? p->pw_name : \"?\"); return 0; }\n",
        &["-static"],
    );
    let (starts, _, code, run) = verdict(t.path(), "/static");
    assert!(starts && code.is_empty(), "{}", run.stdout);
    assert!(
        run.stdout.contains("\"code\": \"static\"") && run.stdout.contains("NSS"),
        "{}",
        run.stdout
    );
    if let Some((status, _, _)) = reality(t.path(), "/static") {
        assert_eq!(status, 0);
    }
    // id looks users up; the root has no /etc/passwd, and its nsswitch.conf
    // names a module it lacks: id starts, and both are warnings.
    t.copy_in("/usr/bin/id", "usr/bin/id");
    for lib in ["libselinux.so.1", "libpcre2-8.so.0"] {
        t.copy_in(
            &format!("/lib/x86_64-linux-gnu/{lib}"),
            &format!("usr/lib/x86_64-linux-gnu/{lib}"),
        );
    }
    t.write(
        "etc/nsswitch.conf",
        "passwd: files elfrootnone\ngroup: files\n",
    );
    let (starts, _, _, run) = verdict(t.path(), "/usr/bin/id");
    assert!(starts, "{}", run.stdout);
    let doc = run.json();
    let codes: Vec<&str> = doc["programs"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["nss-module-missing", "no-passwd"], "{}", run.stdout);
    // The real run starts, and its lookup fails as predicted.
    if is_root() {
        let (_, stderr, status) = run_program(Some(t.path()), &["/usr/bin/id", "-un"], &[], b"");
        assert_ne!(status, 0);
        assert!(
            stderr.contains("cannot find name for user ID 0"),
            "{stderr}"
        );
    }
}

const RUNS_AND_LOOKS_UP: &str = "#include <stdio.h>\n#include <stdlib.h>\n#include <netdb.h>\n#include <sys/wait.h>\n\
int main(void) { int st = system(\"exit 3\"); struct servent *s = getservbyname(\"http\", \"tcp\");\n\
printf(\"%d %s\\n\", WEXITSTATUS(st), s ? \"http\" : \"unknown\"); return 0; }\n";

/// The warnings doctor gives `/app` in `root`, by code.
fn warnings(root: &Path) -> Vec<String> {
    let run = elfroot(&[
        "doctor",
        "--json",
        "--root",
        &root.to_string_lossy(),
        "--in-root",
        "/app",
    ]);
    run.json()["programs"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "warning")
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_missing_shell_and_services_file_are_warnings_that_match_a_run() {
    let t = Tree::new();
    t.with_host_glibc();
    t.exe("app", RUNS_AND_LOOKS_UP, &[]);
    assert_eq!(
        warnings(t.path()),
        ["runtime-file-missing", "shell-missing"]
    );
    if let Some((status, stdout, _)) = reality(t.path(), "/app") {
        assert_eq!((status, stdout.as_str()), (0, "127 unknown\n"));
    }
    // With a shell and the services database, no warning, and both work.
    t.copy_in("/bin/dash", "bin/sh");
    t.copy_in("/etc/services", "etc/services");
    assert!(warnings(t.path()).is_empty());
    if let Some((status, stdout, _)) = reality(t.path(), "/app") {
        assert_eq!((status, stdout.as_str()), (0, "3 http\n"));
    }
}
