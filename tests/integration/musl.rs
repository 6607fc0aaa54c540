//! musl's rules: the libc family is the loader, and the root's
//! /etc/ld-musl-ARCH.path replaces the default path. Checked by running the
//! program in a chroot.

use std::process::Command;

use crate::util::*;

const MUSL_LOADER: &str = "/lib/ld-musl-x86_64.so.1";

/// A root with musl's loader, a program and its library in /opt/m/lib.
fn musl_root() -> Option<Tree> {
    if !have("musl-gcc") || !std::path::Path::new(MUSL_LOADER).exists() {
        skip("musl-gcc or /lib/ld-musl-x86_64.so.1 not installed (apt-get install musl-tools)");
        return None;
    }
    let t = Tree::new();
    let real = std::fs::canonicalize(MUSL_LOADER).unwrap();
    t.copy_in(&real.to_string_lossy(), "lib/ld-musl-x86_64.so.1");
    t.build(
        "musl-gcc",
        "#include <stdio.h>\nint m(void) { return puts(\"hello from musl\") < 0; }\n",
        "opt/m/lib/libm1.so",
        &["-shared", "-fPIC", "-Wl,-soname,libm1.so"],
    );
    let l = format!("-L{}", t.s("opt/m/lib"));
    t.build(
        "musl-gcc",
        "int m(void); int main(void) { return m(); }\n",
        "app",
        &[&l, "-lm1"],
    );
    Some(t)
}

fn chroot_run(t: &Tree) -> Option<(i32, String, String)> {
    if !is_root() {
        skip("chroot needs root");
        return None;
    }
    let out = Command::new("chroot")
        .arg(t.path())
        .arg("/app")
        .output()
        .unwrap();
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn musl_path_file_is_the_system_path() {
    let Some(t) = musl_root() else { return };
    let root = t.s("");

    // Without the path file, /opt/m/lib is not searched: missing, and the real run fails.
    let run = elfroot(&["list", "--root", &root, "/app"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("libm1.so => not found"),
        "{}",
        run.stdout
    );
    if let Some((code, _, err)) = chroot_run(&t) {
        assert_ne!(code, 0);
        assert!(err.contains("libm1.so"), "{err}");
    }

    t.write(
        "etc/ld-musl-x86_64.path",
        "/usr/local/lib\n/opt/m/lib:/usr/lib\n",
    );
    let run = elfroot(&["list", "--json", "--root", &root, "/app"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let doc = run.json();
    let input = &doc["inputs"][0];
    assert_eq!(input["libc"], "musl");
    assert_eq!(input["interpreter"]["status"], "found");
    let objects = input["objects"].as_array().unwrap();
    let lib = objects
        .iter()
        .find(|o| o["path"] == "/opt/m/lib/libm1.so")
        .unwrap();
    assert_eq!(lib["found_by"], "default");
    // libc.so is the loader itself, not a file to find.
    let needs_libc: Vec<_> = objects
        .iter()
        .flat_map(|o| o["needed"].as_array().unwrap())
        .filter(|n| n["name"] == "libc.so")
        .collect();
    assert!(!needs_libc.is_empty());
    for n in needs_libc {
        assert_eq!(
            objects[n["object"].as_u64().unwrap() as usize]["found_by"],
            "interpreter"
        );
    }
    let paths = elfroot(&["list", "--paths", "--root", &root, "/app"]);
    assert_eq!(paths.lines(), [MUSL_LOADER, "/opt/m/lib/libm1.so"]);
    if let Some((code, out, err)) = chroot_run(&t) {
        assert_eq!((code, out.as_str()), (0, "hello from musl\n"), "{err}");
    }
}

#[test]
fn musl_runpath_is_inherited_by_dependencies() {
    let Some(t) = musl_root() else { return };
    // app (RUNPATH /opt/m/lib) -> libm1 -> libm2, libm2 only in /opt/m/lib.
    t.build(
        "musl-gcc",
        "int two(void) { return 0; }\n",
        "opt/m/lib/libm2.so",
        &["-shared", "-fPIC", "-Wl,-soname,libm2.so"],
    );
    let l = format!("-L{}", t.s("opt/m/lib"));
    let link = format!("-Wl,-rpath-link,{}", t.s("opt/m/lib"));
    t.build(
        "musl-gcc",
        "#include <stdio.h>\nint two(void); int m(void) { return puts(\"hello from musl\") < 0 || two(); }\n",
        "opt/m/lib/libm1.so",
        &["-shared", "-fPIC", "-Wl,-soname,libm1.so", &l, "-lm2"],
    );
    t.build(
        "musl-gcc",
        "int m(void); int main(void) { return m(); }\n",
        "app",
        &[
            &l,
            "-lm1",
            "-Wl,-rpath,/opt/m/lib",
            "-Wl,--enable-new-dtags",
            &link,
        ],
    );
    let root = t.s("");
    let run = elfroot(&["list", "--root", &root, "/app"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("libm2.so => /opt/m/lib/libm2.so"),
        "{}",
        run.stdout
    );
    // Found through app's RUNPATH while resolving libm1's need (glibc would
    // not search it there: glibc::runpath_is_not_inherited).
    let doc = elfroot(&["list", "--json", "--root", &root, "/app"]).json();
    let objects = doc["inputs"][0]["objects"].as_array().unwrap();
    let m2 = objects
        .iter()
        .find(|o| o["path"] == "/opt/m/lib/libm2.so")
        .unwrap();
    assert_eq!(m2["found_by"], "runpath", "{m2}");
    assert_eq!(
        objects[m2["loaded_by"].as_u64().unwrap() as usize]["path"],
        "/opt/m/lib/libm1.so"
    );
    if let Some((code, out, err)) = chroot_run(&t) {
        assert_eq!((code, out.as_str()), (0, "hello from musl\n"), "{err}");
    }
}
