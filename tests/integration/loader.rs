//! Loader rules where glibc and musl differ from a naive reading, each built
//! with cc or musl-gcc and checked against the real loader's `--list` (run in
//! the program's current directory) or a chroot: empty and relative search
//! path elements, `$ORIGIN` in LD_LIBRARY_PATH, a musl library as input, a
//! library that names no libc, and a root with ld.so.conf but no cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

const GLIBC_LOADER: &str = "/lib64/ld-linux-x86-64.so.2";
const MUSL_LOADER: &str = "/lib/ld-musl-x86_64.so.1";
const MAIN: &str = "int f(void); int main(void) { return f(); }\n";
const LIB_F: &str = "int f(void) { return 0; }\n";

/// Where each needed name resolved, as a `--list` shows it (ld.so's, musl's
/// or elfroot's): the canonical file, a relative path being taken from
/// `cwd`, or None when not found. Lines naming only a path (the loader
/// itself) and the vDSO are left out.
fn resolutions(stdout: &str, stderr: &str, cwd: &Path) -> Vec<(String, Option<PathBuf>)> {
    let canonical = |p: &str| {
        let p = cwd.join(p);
        Some(p.canonicalize().unwrap_or(p))
    };
    let mut out = Vec::new();
    for line in stdout.lines().map(str::trim) {
        let line = line.split(" (0x").next().unwrap_or(line);
        match line.split_once(" => ") {
            Some((name, "not found")) => out.push((name.to_string(), None)),
            Some((name, path)) => out.push((name.to_string(), canonical(path))),
            // ld.so shows a name opened as it is (an empty element) alone.
            None if !line.starts_with('/') && !line.starts_with("linux-vdso") => {
                out.push((line.to_string(), canonical(line)))
            }
            None => {}
        }
    }
    // musl says on stderr what it did not find.
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("Error loading shared library ") {
            let name = rest.split(':').next().unwrap_or(rest);
            out.push((name.to_string(), None));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The real loader's listing of `prog`, run in `cwd` with `env` only:
/// musl's `--list`, or glibc's tracing mode as ldd runs it (`--list` stops
/// at the first missing library).
fn real_list(
    loader: &str,
    prog: &Path,
    cwd: &Path,
    env: &[(&str, &str)],
) -> Vec<(String, Option<PathBuf>)> {
    let mut cmd = Command::new(loader);
    cmd.current_dir(cwd).env_clear().envs(env.iter().copied());
    if loader == GLIBC_LOADER {
        cmd.env("LD_TRACE_LOADED_OBJECTS", "1").arg(prog);
    } else {
        cmd.arg("--list").arg(prog);
    }
    let out = cmd.output().expect("run the loader");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    resolutions(&stdout, &stderr, cwd)
}

/// The resolutions that are not the loader itself (musl lists a program's
/// `libc.so => loader`, elfroot shows the program's interpreter on its own).
fn libraries(
    mut r: Vec<(String, Option<PathBuf>)>,
    loader: &str,
) -> Vec<(String, Option<PathBuf>)> {
    let itself = std::fs::canonicalize(loader).ok();
    r.retain(|(_, path)| path.is_none() || *path != itself);
    r
}

/// Asserts that `elfroot list --cwd CWD prog` resolves every name where the
/// real loader does; returns elfroot's run.
fn assert_as_loader(loader: &str, prog: &Path, cwd: &Path, env: &[(&str, &str)]) -> Run {
    let c = cwd.to_string_lossy();
    let run = elfroot_env(&["list", "--cwd", &c, &prog.to_string_lossy()], env);
    let mine = libraries(resolutions(&run.stdout, "", cwd), loader);
    assert_eq!(
        mine,
        libraries(real_list(loader, prog, cwd, env), loader),
        "{} in {c} with {env:?}:\n{}{}",
        prog.display(),
        run.stdout,
        run.stderr
    );
    run
}

fn have_musl() -> bool {
    let ok = have("musl-gcc") && Path::new(MUSL_LOADER).exists();
    if !ok {
        skip("musl-gcc or /lib/ld-musl-x86_64.so.1 not installed (apt-get install musl-tools)");
    }
    ok
}

/// A musl shared library `rel` (SONAME = its file name).
fn musl_lib(t: &Tree, rel: &str, body: &str, args: &[&str]) -> PathBuf {
    let soname = format!("-Wl,-soname,{}", rel.rsplit('/').next().unwrap_or(rel));
    let mut all = vec!["-shared", "-fPIC", soname.as_str()];
    all.extend_from_slice(args);
    t.build("musl-gcc", body, rel, &all)
}

/// `dir/libf.so` built by `compiler` (cc or musl-gcc): the directory and its `-L` flag.
fn libf_in(t: &Tree, dir: &str, compiler: &str) -> (PathBuf, String) {
    let args = ["-shared", "-fPIC", "-Wl,-soname,libf.so"];
    t.build(compiler, LIB_F, &format!("{dir}/libf.so"), &args);
    (t.at(dir), format!("-L{}", t.s(dir)))
}

/// Asserts that `text` holds `needle`, showing `text` when it does not.
fn has(text: &str, needle: &str) {
    assert!(text.contains(needle), "no {needle:?} in:\n{text}");
}

/// The object at `path` in the first input of `elfroot list --json ARGS`.
fn object_at(args: &[&str], path: &str) -> serde_json::Value {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let doc = elfroot(&all).json();
    let objects = doc["inputs"][0]["objects"].as_array().unwrap();
    let found = objects.iter().find(|o| o["path"] == path);
    found
        .unwrap_or_else(|| panic!("no {path} in {doc}"))
        .clone()
}

const OLD_DTAGS: &str = "-Wl,--disable-new-dtags";
const NEW_DTAGS: &str = "-Wl,--enable-new-dtags";
const NOT_FOUND: &str = "libf.so => not found";

#[test]
fn empty_elements_are_the_current_directory_for_glibc() {
    let t = Tree::new();
    let (here, l) = libf_in(&t, "here", "cc");
    let plain = t.exe("plain", MAIN, &[&l, "-lf"]);
    let rpath = t.exe("rpath", MAIN, &[&l, "-lf", "-Wl,-rpath,:/x", OLD_DTAGS]);
    let runpath = t.exe("runpath", MAIN, &[&l, "-lf", "-Wl,-rpath,/x:", NEW_DTAGS]);
    let llp = |v| vec![("LD_LIBRARY_PATH", v)];
    let cases = [
        (&plain, llp(":")),
        (&plain, llp("/x:")),
        (&plain, llp(":/x")),
        (&rpath, vec![]),
        (&runpath, vec![]),
    ];
    for (prog, env) in cases {
        let run = assert_as_loader(GLIBC_LOADER, prog, &here, &env);
        has(&run.stdout, "\tlibf.so => libf.so\n");
        // Elsewhere, the same empty element finds nothing.
        let run = assert_as_loader(GLIBC_LOADER, prog, t.path(), &env);
        has(&run.stdout, NOT_FOUND);
    }
    let tree = elfroot(&["tree", "--cwd", &t.s("here"), &rpath.to_string_lossy()]);
    let line = format!("libf.so => libf.so [rpath, relative to {}]", t.s("here"));
    has(&tree.stdout, &line);
}

#[test]
fn musl_skips_empty_elements() {
    if !have_musl() {
        return;
    }
    let t = Tree::new();
    let (here, l) = libf_in(&t, "here", "musl-gcc");
    let plain = t.build("musl-gcc", MAIN, "plain", &[&l, "-lf"]);
    let rpath = t.build("musl-gcc", MAIN, "rpath", &[&l, "-lf", "-Wl,-rpath,:/x"]);
    for (prog, llp) in [(&plain, ":"), (&plain, "/x:"), (&rpath, "")] {
        let run = assert_as_loader(MUSL_LOADER, prog, &here, &[("LD_LIBRARY_PATH", llp)]);
        has(&run.stdout, NOT_FOUND);
    }
    // A relative element is another matter: musl opens it from the cwd.
    let run = assert_as_loader(MUSL_LOADER, &plain, &here, &[("LD_LIBRARY_PATH", ".")]);
    has(&run.stdout, "libf.so => ./libf.so");
}

#[test]
fn relative_directories_start_from_the_current_directory() {
    let t = Tree::new();
    let srv = t.mkdir("srv");
    let (_, l) = libf_in(&t, "srv/lib", "cc");
    let rpath = t.exe(
        "srv/bin/rpath",
        MAIN,
        &[&l, "-lf", "-Wl,-rpath,lib", OLD_DTAGS],
    );
    let runpath = t.exe(
        "srv/bin/runpath",
        MAIN,
        &[&l, "-lf", "-Wl,-rpath,../lib", NEW_DTAGS],
    );
    let plain = t.exe("srv/bin/plain", MAIN, &[&l, "-lf"]);
    let env = [("LD_LIBRARY_PATH", "lib")];
    let bin = srv.join("bin");
    for (prog, cwd, env) in [
        (&rpath, &srv, &[][..]),
        (&runpath, &bin, &[]),
        (&plain, &srv, &env),
    ] {
        let run = assert_as_loader(GLIBC_LOADER, prog, cwd, env);
        has(&run.stdout, "lib/libf.so");
        // From the root directory, `lib` is /lib, which has no libf.so.
        let run = assert_as_loader(GLIBC_LOADER, prog, Path::new("/"), env);
        has(&run.stdout, NOT_FOUND);
    }
    let (srv, rpath) = (t.s("srv"), rpath.to_string_lossy());
    let run = elfroot(&["tree", "--cwd", &srv, &rpath]);
    has(
        &run.stdout,
        &format!("libf.so => lib/libf.so [rpath, relative to {srv}]"),
    );
    let f = object_at(&["--cwd", &srv, &rpath], "lib/libf.so");
    assert_eq!(f["relative_to"], srv, "{f}");
    assert_eq!(f["realpath"], t.s("srv/lib/libf.so"), "{f}");
    assert!(object_at(&[&rpath], &rpath).get("relative_to").is_none());
}

#[test]
fn relative_directories_in_a_root_start_from_its_slash_or_cwd() {
    // In a root, the default current directory is its `/`, as chroot leaves it.
    let t = Tree::new();
    t.with_host_glibc();
    let (_, l) = libf_in(&t, "srv/lib", "cc");
    t.exe("srv/bin/app", MAIN, &[&l, "-lf", "-Wl,-rpath,srv/lib"]);
    let root = t.s("");
    let f = object_at(&["--root", &root, "/srv/bin/app"], "srv/lib/libf.so");
    assert_eq!(
        (&f["relative_to"], &f["found_by"]),
        (&"/".into(), &"runpath".into())
    );
    // From /srv, srv/lib is /srv/srv/lib: nothing there.
    let run = elfroot(&["list", "--root", &root, "--cwd", "/srv", "/srv/bin/app"]);
    has(&run.stdout, NOT_FOUND);
    let tree = elfroot(&["tree", "--root", &root, "--cwd", "srv", "/srv/bin/app"]);
    has(
        &tree.stdout,
        "tried srv/lib/libf.so [runpath, relative to /srv]: absent",
    );
    if !is_root() {
        return skip("chroot needs root");
    }
    let list = [GLIBC_LOADER, "--list", "/srv/bin/app"];
    let out = run_ok(Command::new("chroot").arg(t.path()).args(list));
    has(
        &String::from_utf8_lossy(&out.stdout),
        "libf.so => srv/lib/libf.so",
    );
    let paths = elfroot(&["list", "--paths", "--root", &root, "/srv/bin/app"]);
    assert!(
        paths.lines().contains(&"srv/lib/libf.so"),
        "{}",
        paths.stdout
    );
}

#[test]
fn ld_library_path_origin_is_the_programs_directory() {
    // main (RUNPATH B) -> libone (in B) -> libtwo, in both A and B.
    let t = Tree::new();
    let two = "int two(void) { return 0; }\n";
    t.lib("A/libtwo.so", two, &[]);
    t.lib("B/libtwo.so", two, &[]);
    let b = format!("-L{}", t.s("B"));
    let one = "int two(void); int one(void) { return two(); }\n";
    t.lib("B/libone.so", one, &[&b, "-ltwo"]);
    let rp = format!("-Wl,-rpath,{}", t.s("B"));
    let main = "int one(void); int main(void) { return one(); }\n";
    let main = t.exe("A/main", main, &[&b, "-lone", &rp, NEW_DTAGS]);
    let env = [("LD_LIBRARY_PATH", "$ORIGIN")];
    let run = assert_as_loader(GLIBC_LOADER, &main, t.path(), &env);
    has(&run.stdout, &format!("libtwo.so => {}/libtwo.so", t.s("A")));
}

const PUTS: &str = "#include <stdio.h>\nint b(void) { return puts(\"b\"); }\n";

#[test]
fn a_musl_library_given_as_input_loads_the_musl_loader() {
    if !have_musl() {
        return;
    }
    let t = Tree::new();
    let lib = musl_lib(&t, "libb.so", PUTS, &[]);
    let run = assert_as_loader(MUSL_LOADER, &lib, t.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let loader = std::fs::canonicalize(MUSL_LOADER).unwrap();
    let found = resolutions(&run.stdout, "", t.path());
    assert_eq!(found, [("libc.so".to_string(), Some(loader))]);
    assert_eq!(found, real_list(MUSL_LOADER, &lib, t.path(), &[]));
    let tree = elfroot(&["tree", &lib.to_string_lossy()]);
    assert!(
        tree.stdout
            .starts_with(&format!("{} (musl)\n", lib.display()))
    );
    has(&tree.stdout, &format!("libc.so => {MUSL_LOADER} [loader]"));
}

#[test]
fn a_library_that_names_no_libc_is_labelled_by_its_closure() {
    if !have_musl() {
        return;
    }
    // musl's libb needs libc.so; liba needs only libb; libn needs only libz0,
    // which needs nothing: whatever loads libn, no libc comes with it.
    let t = Tree::new();
    let d = format!("-L{}", t.s(""));
    let origin = "-Wl,-rpath,$ORIGIN";
    let b = musl_lib(&t, "libb.so", PUTS, &[]);
    let a = "int b(void); int a(void) { return b(); }\n";
    let a = musl_lib(&t, "liba.so", a, &[&d, "-lb", "-Wl,--as-needed", origin]);
    musl_lib(
        &t,
        "libz0.so",
        "int z(void) { return 0; }\n",
        &["-nostdlib"],
    );
    let n = "int z(void); int n(void) { return z(); }\n";
    let n = musl_lib(&t, "libn.so", n, &[&d, "-lz0", "-nostdlib", origin]);
    let run = assert_as_loader(MUSL_LOADER, &a, t.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    for (lib, label) in [(&a, "musl"), (&b, "musl"), (&n, "no libc")] {
        let tree = elfroot(&["tree", &lib.to_string_lossy()]);
        let head = tree.stdout.lines().next().unwrap_or_default();
        assert_eq!(
            head,
            format!("{} ({label})", lib.display()),
            "{}",
            tree.stdout
        );
    }
    let doc = elfroot(&["list", "--json", &n.to_string_lossy()]).json();
    assert!(doc["inputs"][0].get("libc").is_none(), "{doc}");
    let doc = elfroot(&["list", "--json", &a.to_string_lossy()]).json();
    assert_eq!(doc["inputs"][0]["libc"], "musl");
}

/// A root with the host's libc and /usr/bin/app needing libcustom.so.1 from
/// /opt/custom/lib, which only ld.so.conf names; no ld.so.cache.
fn conf_root_without_cache() -> Tree {
    let t = Tree::new();
    t.with_host_glibc();
    t.lib("opt/custom/lib/libcustom.so.1", LIB_F, &[]);
    let l = format!("-L{}", t.s("opt/custom/lib"));
    t.exe("usr/bin/app", MAIN, &[&l, "-l:libcustom.so.1"]);
    t.exe("usr/bin/plain", "int main(void) { return 0; }\n", &[]);
    t.write("etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
    t.write("etc/ld.so.conf.d/custom.conf", "/opt/custom/lib\n");
    t
}

/// `doctor --in-root FILE` in `root`: `code:severity` of each finding, and the JSON.
fn doctor(root: &str, file: &str) -> (Vec<String>, serde_json::Value) {
    let doc = elfroot(&["doctor", "--json", "--root", root, "--in-root", file]).json();
    let findings = doc["programs"][0]["findings"].as_array().unwrap();
    let codes = findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["code"].as_str().unwrap(),
                f["severity"].as_str().unwrap()
            )
        })
        .collect();
    (codes, doc)
}

/// `/usr/bin/app` run in the root: (exit status, stderr).
fn chroot_app(t: &Tree) -> (Option<i32>, String) {
    let out = Command::new("chroot")
        .arg(t.path())
        .arg("/usr/bin/app")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn without_ld_so_cache_ld_so_conf_is_not_searched() {
    let t = conf_root_without_cache();
    let root = t.s("");
    let run = elfroot(&["list", "--root", &root, "/usr/bin/app"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    has(&run.stdout, "libcustom.so.1 => not found");
    has(
        &run.stderr,
        "/etc/ld.so.conf: lists /opt/custom/lib, but there is no /etc/ld.so.cache, so ld.so will not search it",
    );
    // The root's own loader agrees: it does not read ld.so.conf.
    if is_root() {
        let (code, stderr) = chroot_app(&t);
        assert_eq!(code, Some(127), "{stderr}");
        has(&stderr, "libcustom.so.1: cannot open shared object file");
    } else {
        skip("chroot needs root");
    }
    if !have("ldconfig") {
        return skip("ldconfig not found");
    }
    run_ok(Command::new("ldconfig").arg("-r").arg(t.path()));
    let run = elfroot(&["list", "--root", &root, "/usr/bin/app"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{}", run.stdout);
    if is_root() {
        assert_eq!(chroot_app(&t), (Some(0), String::new()));
    }
}

#[test]
fn doctor_says_ld_cache_missing_when_ld_so_conf_is_not_in_effect() {
    let t = conf_root_without_cache();
    let root = t.s("");
    let (codes, doc) = doctor(&root, "/usr/bin/app");
    assert_eq!(codes, ["ld-cache-missing:error"], "{doc}");
    let f = &doc["programs"][0]["findings"][0];
    let seen = "/usr/bin/app: error while loading shared libraries: libcustom.so.1: cannot open shared object file: No such file or directory";
    assert_eq!(f["messages"], serde_json::json!([seen]));
    has(
        f["cause"].as_str().unwrap(),
        "libcustom.so.1 (needed by /usr/bin/app) is only in /opt/custom/lib",
    );
    has(f["fix"].as_str().unwrap(), "ldconfig");
    // A program that needs nothing from there starts; the doctor still says.
    let (codes, doc) = doctor(&root, "/usr/bin/plain");
    assert_eq!(codes, ["ld-cache-missing:warning"], "{doc}");
    assert_eq!(doc["programs"][0]["starts"], true);
    if !have("ldconfig") {
        return skip("ldconfig not found");
    }
    run_ok(Command::new("ldconfig").arg("-r").arg(t.path()));
    assert!(doctor(&root, "/usr/bin/app").0.is_empty());
    assert!(doctor(&root, "/usr/bin/plain").0.is_empty());
}
