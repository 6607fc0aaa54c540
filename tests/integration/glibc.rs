//! glibc search rules, each checked against the expected path and against
//! the real loader (`ldd`, or the root's own ld.so in a chroot).

use std::process::Command;

use crate::util::*;

const MAIN: &str = "int f(void); int main(void) { return f(); }\n";

fn lib_f(value: i32) -> String {
    format!("int f(void) {{ return {value}; }}\n")
}

/// Finds the object with `name` in the first input of a JSON report.
fn object<'a>(doc: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    doc["inputs"][0]["objects"].as_array()?.iter().find(|o| {
        o["names"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == name))
    })
}

#[test]
fn rpath_beats_ld_library_path_but_runpath_does_not() {
    let t = Tree::new();
    t.lib("a/libf.so", &lib_f(1), &[]);
    t.lib("b/libf.so", &lib_f(2), &[]);
    let (a, b) = (t.s("a"), t.s("b"));
    let link = format!("-L{a}");
    let rpath = format!("-Wl,-rpath,{a}");
    let old = t.exe(
        "old",
        MAIN,
        &[&link, "-lf", &rpath, "-Wl,--disable-new-dtags"],
    );
    let new = t.exe(
        "new",
        MAIN,
        &[&link, "-lf", &rpath, "-Wl,--enable-new-dtags"],
    );
    let env = [("LD_LIBRARY_PATH", b.as_str())];

    let run = assert_same_as_ldd(&old, &[], &env);
    assert!(
        run.stdout.contains(&format!("libf.so => {a}/libf.so")),
        "{}",
        run.stdout
    );
    let run = assert_same_as_ldd(&new, &[], &env);
    assert!(
        run.stdout.contains(&format!("libf.so => {b}/libf.so")),
        "{}",
        run.stdout
    );

    // --library-path stands for LD_LIBRARY_PATH.
    let lp = format!("--library-path={b}");
    let doc = elfroot(&["list", "--json", &lp, &new.to_string_lossy()]).json();
    assert_eq!(
        object(&doc, "libf.so").unwrap()["found_by"],
        "ld_library_path"
    );
    let doc = elfroot(&["list", "--json", &lp, &old.to_string_lossy()]).json();
    assert_eq!(object(&doc, "libf.so").unwrap()["found_by"], "rpath");
}

/// main -> libone -> libtwo -> libthree, the last two only in main's path dir.
fn chain(t: &Tree, new_dtags: bool) -> std::path::PathBuf {
    let d = t.s("deep");
    let l = format!("-L{d}");
    t.lib("deep/libthree.so", "int three(void) { return 3; }\n", &[]);
    t.lib(
        "deep/libtwo.so",
        "int three(void); int two(void) { return three(); }\n",
        &[&l, "-lthree"],
    );
    t.lib(
        "deep/libone.so",
        "int two(void); int one(void) { return two(); }\n",
        &[&l, "-ltwo"],
    );
    let rpath = format!("-Wl,-rpath,{d}");
    let tags = if new_dtags {
        "-Wl,--enable-new-dtags"
    } else {
        "-Wl,--disable-new-dtags"
    };
    t.exe(
        "main",
        "int one(void); int main(void) { return one(); }\n",
        &[&l, "-lone", &rpath, tags],
    )
}

#[test]
fn rpath_is_inherited_through_two_levels() {
    let t = Tree::new();
    let main = chain(&t, false);
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = elfroot(&["tree", "--json", &main.to_string_lossy()]).json();
    for name in ["libone.so", "libtwo.so", "libthree.so"] {
        assert_eq!(object(&doc, name).unwrap()["found_by"], "rpath", "{name}");
    }
}

#[test]
fn runpath_is_not_inherited() {
    let t = Tree::new();
    let main = chain(&t, true);
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert_eq!(run.code, 1, "a missing library means exit 1");
    assert!(
        run.stdout.contains("libtwo.so => not found"),
        "{}",
        run.stdout
    );
    let tree = elfroot(&["tree", &main.to_string_lossy()]);
    assert_eq!(tree.code, 1);
    // The tree shows every path tried for the missing library, cache included.
    assert!(
        tree.stdout.contains("libtwo.so => not found"),
        "{}",
        tree.stdout
    );
    assert!(tree.stdout.contains("[cache]: no entry"), "{}", tree.stdout);
    assert!(
        tree.stdout.contains("/usr/lib/libtwo.so [default]: absent"),
        "{}",
        tree.stdout
    );
}

#[test]
fn origin_is_the_directory_of_the_object() {
    let t = Tree::new();
    t.lib("app/lib/libf.so", &lib_f(1), &[]);
    let l = format!("-L{}", t.s("app/lib"));
    let main = t.exe(
        "app/bin/main",
        MAIN,
        &[&l, "-lf", "-Wl,-rpath,$ORIGIN/../lib"],
    );
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert!(
        run.stdout
            .contains(&format!("{}/bin/../lib/libf.so", t.s("app"))),
        "{}",
        run.stdout
    );
}

#[test]
fn nodeflib_skips_cache_and_default_directories() {
    if !std::path::Path::new("/lib/x86_64-linux-gnu/libz.so.1").exists() {
        return skip("no /lib/x86_64-linux-gnu/libz.so.1 to be skipped");
    }
    // DF_1_NODEFLIB applies to the needs of the object that carries it (a
    // library: ld spells it -z nodefaultlib).
    let t = Tree::new();
    let own = t.s("own");
    let l = format!("-L{own}");
    let rpath = format!("-Wl,-rpath,{own}");
    t.lib("own/libf.so", "int f(void) { return 0; }\n", &[]);
    t.lib(
        "own/libn.so",
        "int f(void); const char *zlibVersion(void); int n(void) { return f() + !zlibVersion(); }\n",
        &["-Wl,--no-as-needed", &l, "-lf", "-l:libz.so.1", &rpath, "-Wl,-z,nodefaultlib"],
    );
    let main = t.exe(
        "main",
        "int n(void); int main(void) { return n(); }\n",
        &[&l, "-ln", &rpath],
    );
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("libz.so.1 => not found"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!("libf.so => {own}/libf.so")));
    let doc = elfroot(&["list", "--json", &main.to_string_lossy()]).json();
    let n = object(&doc, "libn.so").unwrap();
    assert_eq!(n["elf"]["nodeflib"], true);
    // libz is in the cache and in /lib/x86_64-linux-gnu, yet missing: the
    // cache's answer (a default directory) is refused and no default
    // directory is searched.
    let p = &doc["inputs"][0]["problems"][0];
    assert_eq!(p["name"], "libz.so.1", "{p}");
    assert_eq!(p["status"], "missing", "{p}");
    let tried = p["tried"].as_array().unwrap();
    assert!(tried.iter().all(|t| t["via"] != "default"), "{p}");
}

#[test]
fn a_library_of_the_wrong_class_is_skipped() {
    let t = Tree::new();
    let i386 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/foreign/i386/libfoo.so.1"
    );
    t.copy_in(i386, "wrong/libfoo.so.1");
    t.lib("right/libfoo.so.1", &lib_f(7), &[]);
    let l = format!("-L{}", t.s("right"));
    let rp = format!("-Wl,-rpath,{}:{}", t.s("wrong"), t.s("right"));
    let main = t.exe("main", MAIN, &[&l, "-l:libfoo.so.1", &rp]);
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains(&format!("{}/libfoo.so.1", t.s("right")))
    );

    // Only the wrong one left: incompatible, with the path tried.
    std::fs::remove_file(t.at("right/libfoo.so.1")).unwrap();
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert_eq!(run.code, 1);
    let doc = elfroot(&["list", "--json", &main.to_string_lossy()]).json();
    let p = &doc["inputs"][0]["problems"][0];
    assert_eq!(p["status"], "incompatible");
    assert!(
        p["tried"].as_array().unwrap().iter().any(|t| t["result"] == "wrong-arch"
            && t["found"].as_str().unwrap().contains("32-bit")),
        "{p}"
    );
}

#[test]
fn a_soname_already_loaded_satisfies_a_later_need() {
    // The libsystemd-core case: only the program's RUNPATH finds libshared,
    // yet libcore (no RUNPATH of its own) gets it because it is loaded.
    let t = Tree::new();
    let d = t.s("priv");
    let l = format!("-L{d}");
    t.lib("priv/libshared.so", "int s(void) { return 0; }\n", &[]);
    t.lib(
        "priv/libcore.so",
        "int s(void); int c(void) { return s(); }\n",
        &[&l, "-lshared"],
    );
    let rp = format!("-Wl,-rpath,{d}");
    let main = t.exe(
        "main",
        "int c(void); int s(void); int main(void) { return c() + s(); }\n",
        &[&l, "-lshared", "-lcore", &rp, "-Wl,--enable-new-dtags"],
    );
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // libcore's need is answered by the object main's RUNPATH loaded, not
    // by a search of libcore's own (which would find nothing).
    let doc = elfroot(&["list", "--json", &main.to_string_lossy()]).json();
    let shared = object(&doc, "libshared.so").unwrap();
    assert_eq!(shared["found_by"], "runpath");
    assert_eq!(shared["loaded_by"], 0, "loaded for main: {shared}");
    let core = object(&doc, "libcore.so").unwrap();
    let need = &core["needed"][0];
    assert_eq!(need["name"], "libshared.so");
    assert_eq!(need["status"], "found", "{core}");
    assert_eq!(need["object"], shared["id"], "{core}");
    let tree = elfroot(&["tree", "--all", &main.to_string_lossy()]);
    let under_core = format!("        libshared.so => {d}/libshared.so [already loaded]");
    assert!(
        tree.stdout.lines().any(|l| l == under_core),
        "{}",
        tree.stdout
    );
}

#[test]
fn a_dependency_cycle_is_reported_and_still_resolves() {
    let t = Tree::new();
    let d = t.s("cyc");
    let l = format!("-L{d}");
    t.lib("cyc/liba.so", "int a(void) { return 0; }\n", &[]);
    t.lib(
        "cyc/libb.so",
        "int a(void); int b(void) { return a(); }\n",
        &[&l, "-la"],
    );
    t.lib(
        "cyc/liba.so",
        "int b(void); int a(void) { return 0; } int a2(void) { return b(); }\n",
        &[&l, "-lb"],
    );
    // RPATH (not RUNPATH), so that liba's need of libb searches it too.
    let rp = format!("-Wl,-rpath,{d}");
    let main = t.exe(
        "main",
        "int a(void); int main(void) { return a(); }\n",
        &[&l, "-la", &rp, "-Wl,--disable-new-dtags"],
    );
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert_eq!(run.code, 0);
    let warn: Vec<&str> = run.stderr.lines().filter(|l| l.contains("cycle")).collect();
    assert_eq!(warn.len(), 1, "{}", run.stderr);
    assert!(
        warn[0].contains("liba.so") && warn[0].contains("libb.so"),
        "{}",
        warn[0]
    );
    let doc = elfroot(&["list", "--json", &main.to_string_lossy()]).json();
    assert_eq!(doc["inputs"][0]["cycles"].as_array().unwrap().len(), 1);
}

#[test]
fn hwcaps_variant_is_chosen_with_its_baseline() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if !cpu.contains(" sse4_2") || !cpu.contains(" popcnt") || !cpu.contains(" ssse3") {
        return skip("this CPU is below x86-64-v2");
    }
    let t = Tree::new();
    t.lib("hw/libf.so", &lib_f(1), &[]);
    t.lib("hw/glibc-hwcaps/x86-64-v2/libf.so", &lib_f(2), &[]);
    let d = t.s("hw");
    let l = format!("-L{d}");
    let rp = format!("-Wl,-rpath,{d}");
    let main = t.exe("main", MAIN, &[&l, "-lf", &rp]);
    let run = assert_same_as_ldd(&main, &[], &[]);
    assert!(
        run.stdout.contains("glibc-hwcaps/x86-64-v2/libf.so"),
        "{}",
        run.stdout
    );
    let doc = elfroot(&["list", "--json", &main.to_string_lossy()]).json();
    let o = object(&doc, "libf.so").unwrap();
    assert_eq!(o["hwcaps"]["subdir"], "glibc-hwcaps/x86-64-v2");
    assert_eq!(o["hwcaps"]["baseline"], format!("{d}/libf.so"));
    // A bundle carries both: the variant this CPU loads and the baseline.
    let bundle = BundleTest::new([&main]).run().success();
    let inside = bundle.out.join(d.trim_start_matches('/'));
    assert!(inside.join("glibc-hwcaps/x86-64-v2/libf.so").is_file());
    assert!(inside.join("libf.so").is_file());
}

/// A root with the host's libc and a library in a directory only its
/// ld.so.conf (through an include) names.
fn conf_root() -> Tree {
    let t = Tree::new();
    t.with_host_glibc();
    t.lib("opt/custom/lib/libcustom.so.1", &lib_f(5), &[]);
    let l = format!("-L{}", t.s("opt/custom/lib"));
    t.exe("usr/bin/app", MAIN, &[&l, "-l:libcustom.so.1"]);
    t.write(
        "etc/ld.so.conf",
        "# test root\ninclude ld.so.conf.d/*.conf\n",
    );
    t.write("etc/ld.so.conf.d/custom.conf", "/opt/custom/lib\n");
    t.write(
        "etc/ld.so.conf.d/zz-cycle.conf",
        "include /etc/ld.so.conf\n",
    );
    t
}

#[test]
fn ld_so_conf_includes_then_the_cache_ldconfig_builds() {
    let t = conf_root();
    let root = t.s("");
    let doc = elfroot(&["list", "--json", "--root", &root, "/usr/bin/app"]);
    // Without a cache, ld.so does not search ld.so.conf's directories (it
    // never reads ld.so.conf): missing, as the root's own loader says in
    // loader::without_ld_so_cache_ld_so_conf_is_not_searched; a warning says why.
    assert_eq!(doc.code, 1, "{}{}", doc.stdout, doc.stderr);
    // The include cycle is one warning line, not an error.
    let cycle: Vec<&str> = doc
        .stderr
        .lines()
        .filter(|l| l.contains("include cycle"))
        .collect();
    assert_eq!(cycle.len(), 1, "{}", doc.stderr);
    assert!(
        doc.stderr.contains("lists /opt/custom/lib"),
        "{}",
        doc.stderr
    );
    let doc = doc.json();
    assert!(object(&doc, "libcustom.so.1").is_none());
    assert_eq!(doc["inputs"][0]["problems"][0]["name"], "libcustom.so.1");

    if !have("ldconfig") {
        return skip("ldconfig not found");
    }
    run_ok(Command::new("ldconfig").arg("-r").arg(t.path()));
    let run = elfroot(&["list", "--json", "--root", &root, "/usr/bin/app"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let o = object(&doc, "libcustom.so.1").unwrap();
    assert_eq!(o["found_by"], "cache");
    assert_eq!(o["path"], "/opt/custom/lib/libcustom.so.1");
    let libc = object(&doc, "libc.so.6").unwrap();
    assert_eq!(libc["found_by"], "cache");

    // The root's own loader, run in the root, agrees.
    if !is_root() {
        return skip("chroot needs root");
    }
    let out = run_ok(Command::new("chroot").arg(t.path()).args([
        "/lib64/ld-linux-x86-64.so.2",
        "--list",
        "/usr/bin/app",
    ]));
    let (found, missing) = parse_ldd(&String::from_utf8_lossy(&out.stdout));
    assert!(missing.is_empty());
    let paths = elfroot(&["list", "--paths", "--root", &root, "/usr/bin/app"]);
    let mut mine: Vec<&str> = paths.stdout.lines().collect();
    let mut theirs: Vec<&str> = found.iter().map(String::as_str).collect();
    mine.sort();
    theirs.sort();
    assert_eq!(mine, theirs);
}

#[test]
fn the_root_is_a_jail_for_symlinks_and_dotdot() {
    let t = conf_root();
    // An absolute link inside the root points into the root, not the host.
    t.lib("opt/hidden/lib/libalias.so.1", &lib_f(9), &[]);
    t.symlink(
        "/opt/hidden/lib/libalias.so.1",
        "usr/lib/x86_64-linux-gnu/libalias.so.1",
    );
    t.symlink("../../../../../../../../usr/bin/ls", "usr/bin/escape");
    let root = t.s("");
    let run = elfroot(&["list", "--paths", "--root", &root, "/usr/bin/escape"]);
    assert_eq!(
        run.code, 2,
        "a link out of the root must not reach the host's ls"
    );
    assert!(run.stderr.contains("/usr/bin/escape"), "{}", run.stderr);
    // /opt/hidden/lib is in no search path: only the absolute link leads there.
    let l = format!("-L{}", t.s("opt/hidden/lib"));
    t.exe("usr/bin/alias", MAIN, &[&l, "-l:libalias.so.1"]);
    let run = elfroot(&["list", "--json", "--root", &root, "/usr/bin/alias"]);
    let doc = run.json();
    let o = object(&doc, "libalias.so.1").unwrap();
    assert_eq!(o["path"], "/lib/x86_64-linux-gnu/libalias.so.1");
    assert_eq!(o["realpath"], "/opt/hidden/lib/libalias.so.1");
}
