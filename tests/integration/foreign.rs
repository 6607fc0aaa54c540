//! Foreign architectures: the checked-in stand-ins under `tests/foreign/<arch>/`
//! (aarch64, i386, s390x, powerpc) laid out in Debian-like roots, and a real
//! Debian 12 arm64 root compared with its own ld.so run under qemu-user.
//!
//! The stand-ins cannot run, so for them the expected answers are written
//! down here from glibc's rules (RUNPATH with `$ORIGIN`, then the Debian
//! default directories `/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib`,
//! `/usr/lib`; the interpreter satisfies its own soname). The arm64 root holds
//! real programs, so there the loader itself is the reference.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::util::*;

/// One fixture architecture and what Debian's glibc looks like on it.
struct Arch {
    /// Directory under `tests/foreign/`.
    dir: &'static str,
    triplet: &'static str,
    /// PT_INTERP of `app`; its file name is also the loader's soname.
    interp: &'static str,
    /// `elf.machine`, `elf.e_machine`, `elf.class`, `elf.data` in the JSON report.
    machine: &'static str,
    e_machine: u64,
    class: &'static str,
    data: &'static str,
}

impl Arch {
    fn soname(&self) -> &'static str {
        self.interp.rsplit('/').next().unwrap_or(self.interp)
    }
    /// The host path of one checked-in file.
    fn fixture(&self, file: &str) -> String {
        format!(
            "{}/tests/foreign/{}/{file}",
            env!("CARGO_MANIFEST_DIR"),
            self.dir
        )
    }
    /// Where `app`'s RUNPATH (`$ORIGIN/../lib/<triplet>`) puts a library, as ld.so spells it.
    fn runpath(&self, lib: &str) -> String {
        format!("/usr/bin/../lib/{}/{lib}", self.triplet)
    }
    /// The library's real location in the merged-/usr roots built here.
    fn real(&self, lib: &str) -> String {
        format!("/usr/lib/{}/{lib}", self.triplet)
    }
}

const AARCH64: Arch = Arch {
    dir: "aarch64",
    triplet: "aarch64-linux-gnu",
    interp: "/lib/ld-linux-aarch64.so.1",
    machine: "aarch64",
    e_machine: 183,
    class: "ELF64",
    data: "little",
};
const I386: Arch = Arch {
    dir: "i386",
    triplet: "i386-linux-gnu",
    interp: "/lib/ld-linux.so.2",
    machine: "i386",
    e_machine: 3,
    class: "ELF32",
    data: "little",
};
const S390X: Arch = Arch {
    dir: "s390x",
    triplet: "s390x-linux-gnu",
    interp: "/lib/ld64.so.1",
    machine: "s390x",
    e_machine: 22,
    class: "ELF64",
    data: "big",
};
const POWERPC: Arch = Arch {
    dir: "powerpc",
    triplet: "powerpc-linux-gnu",
    interp: "/lib/ld.so.1",
    machine: "ppc",
    e_machine: 20,
    class: "ELF32",
    data: "big",
};
const ARCHES: [&Arch; 4] = [&AARCH64, &I386, &S390X, &POWERPC];

/// A merged-/usr Debian root for `a`: `lib -> usr/lib`, the program in
/// /usr/bin, every library and the loader in /usr/lib/<triplet>, and the
/// PT_INTERP name reached through an *absolute* symlink
/// (`/usr/lib/<loader> -> /usr/lib/<triplet>/<loader>`) that must be
/// resolved inside the root, not on the host.
fn debian_root(a: &Arch) -> Tree {
    let t = Tree::new();
    t.mkdir(&format!("usr/lib/{}", a.triplet));
    t.symlink("usr/lib", "lib");
    t.copy_in(&a.fixture("app"), "usr/bin/app");
    for lib in ["libfoo.so.1", "libbar.so.1", "libc.so.6"] {
        t.copy_in(&a.fixture(lib), &a.real(lib));
    }
    t.copy_in(&a.fixture("ld.so"), &a.real(a.soname()));
    t.symlink(&a.real(a.soname()), &format!("usr/lib/{}", a.soname()));
    t
}

/// `elfroot list --json --root T /usr/bin/app` and the report's only input.
fn report(t: &Tree) -> (Run, Value) {
    let run = elfroot(&["list", "--json", "--root", &t.s(""), "/usr/bin/app"]);
    assert!(
        run.code != 2,
        "elfroot failed:\n{}{}",
        run.stdout,
        run.stderr
    );
    let doc = run.json();
    let inputs = doc["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 1, "{}", run.stdout);
    let input = inputs[0].clone();
    (run, input)
}

fn objects(input: &Value) -> &[Value] {
    input["objects"].as_array().map_or(&[], Vec::as_slice)
}

fn problems(input: &Value) -> &[Value] {
    input["problems"].as_array().map_or(&[], Vec::as_slice)
}

/// The object loaded under `path` (the path as ld.so would open it).
fn by_path<'a>(input: &'a Value, path: &str) -> &'a Value {
    objects(input)
        .iter()
        .find(|o| o["path"] == path)
        .unwrap_or_else(|| panic!("no object at {path} in {input:#}"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn check_debian_root(a: &Arch) {
    let t = debian_root(a);
    let (run, input) = report(&t);
    assert_eq!(run.code, 0, "{}: {}{}", a.dir, run.stdout, run.stderr);
    assert_eq!(input["status"], "ok", "{}: {input:#}", a.dir);
    assert_eq!(input["libc"], "glibc", "{}", a.dir);
    assert!(problems(&input).is_empty(), "{}: {input:#}", a.dir);

    // (path as opened, real path inside the root, found_by)
    let expect = [
        (
            "/usr/bin/app".to_string(),
            "/usr/bin/app".to_string(),
            "input",
        ),
        (a.interp.to_string(), a.real(a.soname()), "interpreter"),
        (a.runpath("libfoo.so.1"), a.real("libfoo.so.1"), "runpath"),
        // app needs libc.so.6 itself, so app's RUNPATH finds it too.
        (a.runpath("libc.so.6"), a.real("libc.so.6"), "runpath"),
        // libfoo has no RUNPATH and RUNPATH is not inherited: the first
        // default directory, /lib/<triplet>, has it (through lib -> usr/lib).
        (
            format!("/lib/{}/libbar.so.1", a.triplet),
            a.real("libbar.so.1"),
            "default",
        ),
    ];
    let objs = objects(&input);
    let got: BTreeSet<(&str, &str, &str)> = objs
        .iter()
        .map(|o| {
            (
                str_of(&o["path"]),
                str_of(&o["realpath"]),
                str_of(&o["found_by"]),
            )
        })
        .collect();
    let want: BTreeSet<(&str, &str, &str)> = expect
        .iter()
        .map(|(p, r, f)| (p.as_str(), r.as_str(), *f))
        .collect();
    assert_eq!(got, want, "{}: objects differ:\n{input:#}", a.dir);
    assert_eq!(
        objs.len(),
        expect.len(),
        "{}: an object twice:\n{input:#}",
        a.dir
    );

    for o in objs {
        let e = &o["elf"];
        let what = format!("{}: {}", a.dir, o["path"]);
        assert_eq!(e["machine"], a.machine, "{what}");
        assert_eq!(e["e_machine"], a.e_machine, "{what}");
        assert_eq!(e["class"], a.class, "{what}");
        assert_eq!(e["data"], a.data, "{what}");
    }

    // The interpreter is found, and libc.so.6's DT_NEEDED on the loader's
    // soname is the interpreter already in memory, not a second copy.
    let interp = &input["interpreter"];
    assert_eq!(interp["path"], a.interp, "{}", a.dir);
    assert_eq!(interp["status"], "found", "{}: {interp:#}", a.dir);
    let ld = by_path(&input, a.interp);
    assert_eq!(interp["object"], ld["id"], "{}", a.dir);
    assert_eq!(ld["elf"]["soname"], a.soname(), "{}", a.dir);
    let libc = by_path(&input, &a.runpath("libc.so.6"));
    let need = libc["needed"]
        .as_array()
        .and_then(|n| n.iter().find(|d| d["name"] == a.soname()))
        .unwrap_or_else(|| panic!("{}: libc does not list {}: {libc:#}", a.dir, a.soname()));
    assert_eq!(need["status"], "found", "{}", a.dir);
    assert_eq!(need["object"], ld["id"], "{}: {libc:#}", a.dir);

    // `list --paths`: the interpreter and each library, each once.
    let run = elfroot(&["list", "--paths", "--root", &t.s(""), "/usr/bin/app"]);
    assert_eq!(run.code, 0, "{}: {}", a.dir, run.stderr);
    let mut lines = run.lines();
    lines.sort_unstable();
    let mut want: Vec<String> = expect[1..].iter().map(|(p, _, _)| p.clone()).collect();
    want.sort();
    assert_eq!(lines, want, "{}: list --paths", a.dir);
}

#[test]
fn aarch64_debian_root() {
    check_debian_root(&AARCH64);
}

#[test]
fn i386_debian_root() {
    check_debian_root(&I386);
}

#[test]
fn s390x_big_endian_debian_root() {
    check_debian_root(&S390X);
}

#[test]
fn powerpc_32bit_big_endian_debian_root() {
    check_debian_root(&POWERPC);
}

/// `hwcaps` is for libraries found in a glibc-hwcaps (or legacy hwcap)
/// subdirectory; a library found in the plain directory has none.
#[test]
fn plain_directory_hits_carry_no_hwcaps() {
    for a in ARCHES {
        let t = debian_root(a);
        let (_, input) = report(&t);
        for o in objects(&input) {
            assert!(
                o.get("hwcaps").is_none(),
                "{}: {} was found in a plain directory but reports hwcaps {}",
                a.dir,
                o["path"],
                o["hwcaps"]
            );
        }
        let run = elfroot(&["tree", "--root", &t.s(""), "/usr/bin/app"]);
        assert!(
            !run.stdout.contains(", ,") && !run.stdout.contains("baseline"),
            "{}: tree shows an empty hwcaps subdirectory:\n{}",
            a.dir,
            run.stdout
        );
    }
}

/// A root that is not merged-/usr, so that /lib/<triplet> and
/// /usr/lib/<triplet> are different directories: the wrong-architecture
/// libfoo.so.1 sits in app's RUNPATH directory (tried first), the right one
/// in /lib/<triplet> (a default directory, tried later).
#[test]
fn wrong_arch_library_is_skipped_for_a_later_match() {
    for (i, a) in ARCHES.iter().enumerate() {
        let wrong = ARCHES[(i + 1) % ARCHES.len()];
        let t = Tree::new();
        t.copy_in(&a.fixture("app"), "usr/bin/app");
        t.copy_in(&wrong.fixture("libfoo.so.1"), &a.real("libfoo.so.1"));
        t.copy_in(
            &a.fixture("libfoo.so.1"),
            &format!("lib/{}/libfoo.so.1", a.triplet),
        );
        for lib in ["libbar.so.1", "libc.so.6"] {
            t.copy_in(&a.fixture(lib), &a.real(lib));
        }
        t.copy_in(&a.fixture("ld.so"), a.interp);
        let what = format!("{} app, {} libfoo first", a.dir, wrong.dir);

        let (run, input) = report(&t);
        assert_eq!(run.code, 0, "{what}: {}{}", run.stdout, run.stderr);
        assert!(problems(&input).is_empty(), "{what}: {input:#}");
        let foo = by_path(&input, &format!("/lib/{}/libfoo.so.1", a.triplet));
        assert_eq!(foo["found_by"], "default", "{what}");
        assert_eq!(foo["elf"]["machine"], a.machine, "{what}");
        assert!(
            !objects(&input)
                .iter()
                .any(|o| o["path"] == a.runpath("libfoo.so.1")),
            "{what}: the wrong-arch file was loaded: {input:#}"
        );

        // A library that was found shows no search details in the tree.
        let run = elfroot(&["tree", "--root", &t.s(""), "/usr/bin/app"]);
        assert_eq!(run.code, 0, "{what}");
        assert!(
            !run.stdout.contains("tried") && !run.stdout.contains("wrong architecture"),
            "{what}:\n{}",
            run.stdout
        );
    }
}

/// The merged-/usr root of `a` with libfoo.so.1 replaced by `wrong`'s.
fn root_with_only_wrong_libfoo(a: &Arch, wrong: &Arch) -> Tree {
    let t = debian_root(a);
    fs::remove_file(t.at(&a.real("libfoo.so.1"))).expect("rm libfoo");
    t.copy_in(&wrong.fixture("libfoo.so.1"), &a.real("libfoo.so.1"));
    t
}

/// Every ordered pair of fixture architectures: the only libfoo.so.1 is of
/// another class, byte order or machine.
#[test]
fn only_wrong_arch_library_is_incompatible() {
    for a in ARCHES {
        for wrong in ARCHES.iter().filter(|w| w.dir != a.dir) {
            let what = format!("{} app, {} libfoo", a.dir, wrong.dir);
            let t = root_with_only_wrong_libfoo(a, wrong);
            let (run, input) = report(&t);
            assert_eq!(run.code, 1, "{what}: {}{}", run.stdout, run.stderr);
            assert_eq!(input["status"], "missing", "{what}");
            let probs = problems(&input);
            assert_eq!(probs.len(), 1, "{what}: {input:#}");
            let p = &probs[0];
            assert_eq!(p["name"], "libfoo.so.1", "{what}");
            assert_eq!(p["needed_by"], "/usr/bin/app", "{what}");
            assert_eq!(p["status"], "incompatible", "{what}: {p:#}");
            let tried = p["tried"].as_array().expect("tried");
            assert!(
                tried.iter().any(|t| t["path"] == a.runpath("libfoo.so.1")
                    && t["via"] == "runpath"
                    && t["result"] == "wrong-arch"),
                "{what}: {p:#}"
            );
            // Every place that has the file rejects it for its architecture.
            for d in ["/lib", "/usr/lib"] {
                let path = format!("{d}/{}/libfoo.so.1", a.triplet);
                assert!(
                    tried.iter().any(|t| t["path"] == path
                        && t["via"] == "default"
                        && t["result"] == "wrong-arch"),
                    "{what}: {path} not tried: {p:#}"
                );
            }
            for o in objects(&input) {
                assert_ne!(o["names"][0], "libfoo.so.1", "{what}: {input:#}");
                assert_ne!(o["names"][0], "libbar.so.1", "{what}: {input:#}");
            }
        }
    }
}

/// ld.so opens each candidate path once; the report lists each attempt once.
#[test]
fn tried_lists_each_path_once() {
    let t = root_with_only_wrong_libfoo(&AARCH64, &I386);
    let (_, input) = report(&t);
    let p = &problems(&input)[0];
    let mut seen = BTreeSet::new();
    for t in p["tried"].as_array().expect("tried") {
        let key = (
            str_of(&t["path"]).to_string(),
            str_of(&t["via"]).to_string(),
        );
        assert!(seen.insert(key), "tried twice: {t}\nin {p:#}");
    }
}

#[test]
fn missing_interpreter_in_foreign_root() {
    for a in ARCHES {
        let t = debian_root(a);
        fs::remove_file(t.at(&a.real(a.soname()))).expect("rm loader");
        let (run, input) = report(&t);
        assert_eq!(run.code, 1, "{}: {}{}", a.dir, run.stdout, run.stderr);
        assert_eq!(input["interpreter"]["path"], a.interp, "{}", a.dir);
        assert_eq!(input["interpreter"]["status"], "missing", "{}", a.dir);
        assert!(
            !objects(&input)
                .iter()
                .any(|o| o["found_by"] == "interpreter"),
            "{}: {input:#}",
            a.dir
        );
        // Without an interpreter in memory, libc's need of the loader's
        // soname goes through the normal search, which finds nothing.
        assert!(
            problems(&input).iter().any(|p| p["name"] == a.soname()
                && p["needed_by"] == a.runpath("libc.so.6")
                && p["status"] == "missing"),
            "{}: {input:#}",
            a.dir
        );
    }
}

/// PT_INTERP reaches an absolute symlink whose target exists on the host (the
/// test binary itself, an ELF file) but not in the root: inside the root the
/// interpreter is missing; had the link escaped, it would be "incompatible".
#[test]
fn absolute_interpreter_symlink_stays_in_root() {
    let host = std::env::current_exe().expect("current_exe");
    assert!(host.is_file());
    let t = debian_root(&AARCH64);
    let link = t.at(&format!("usr/lib/{}", AARCH64.soname()));
    fs::remove_file(&link).expect("rm link");
    t.symlink(
        &host.to_string_lossy(),
        &format!("usr/lib/{}", AARCH64.soname()),
    );
    let (run, input) = report(&t);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(input["interpreter"]["status"], "missing", "{input:#}");
}

#[test]
fn wrong_arch_interpreter_is_incompatible() {
    for (i, a) in ARCHES.iter().enumerate() {
        let wrong = ARCHES[(i + 1) % ARCHES.len()];
        let t = debian_root(a);
        let loader = a.real(a.soname());
        fs::remove_file(t.at(&loader)).expect("rm loader");
        t.copy_in(&wrong.fixture("ld.so"), &loader);
        let (run, input) = report(&t);
        assert_eq!(run.code, 1, "{}: {}{}", a.dir, run.stdout, run.stderr);
        assert_eq!(
            input["interpreter"]["status"], "incompatible",
            "{} app, {} loader: {input:#}",
            a.dir, wrong.dir
        );
    }
}

// ---------------------------------------------------------------------------
// The real Debian arm64 root, against its own ld.so under qemu-user.

const QEMU: &str = "qemu-aarch64-static";

/// The arm64 root: `ELFROOT_ARM64_ROOT`, else `target/arm64/root`; built with
/// scripts/make-arm64-root.sh when it does not look built yet.
pub(crate) fn arm64_root() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::var_os("ELFROOT_ARM64_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target/arm64/root"));
    if root
        .join("usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1")
        .is_file()
    {
        return Some(root);
    }
    eprintln!("building the arm64 root in {}", root.display());
    let out = Command::new("bash")
        .arg(manifest.join("scripts/make-arm64-root.sh"))
        .arg(&root)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(root),
        Ok(o) => {
            skip(&format!(
                "scripts/make-arm64-root.sh {} failed:\n{}",
                root.display(),
                String::from_utf8_lossy(&o.stderr)
            ));
            None
        }
        Err(e) => {
            skip(&format!("cannot run scripts/make-arm64-root.sh: {e}"));
            None
        }
    }
}

/// Resolves `path` inside `root` as a chroot would: absolute symlink targets
/// restart at `root`, `..` stops at it. Returns the canonical path inside the
/// root, or None when it does not exist there.
fn resolve_in(root: &Path, path: &str) -> Option<String> {
    fn parts(p: &Path) -> Vec<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    }
    let mut todo = parts(Path::new(path));
    todo.reverse(); // a stack: the next component is last
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            done.pop();
            continue;
        }
        let host: PathBuf = root.join(done.iter().collect::<PathBuf>()).join(&c);
        let meta = fs::symlink_metadata(&host).ok()?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return None;
            }
            let target = fs::read_link(&host).ok()?;
            if target.is_absolute() {
                done.clear();
            }
            todo.extend(parts(&target).into_iter().rev());
        } else {
            done.push(c);
        }
    }
    let names: Vec<String> = done
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    Some(format!("/{}", names.join("/")))
}

/// What the loader loads for one program: real paths inside the root (the
/// interpreter included), and the names it could not find.
#[derive(Debug, Default, PartialEq)]
struct Loaded {
    real: BTreeSet<String>,
    missing: BTreeSet<String>,
}

/// Parses the loader's trace under `qemu -L ROOT`. Library paths are the
/// loader's own (inside the root); the interpreter's line is
/// `/lib/ld-linux-aarch64.so.1 => <host path>`, so its name is used; the
/// main program's line `\t (0x...)` (printed by `--list`) has no name.
fn parse_loader_list(root: &Path, text: &str) -> Result<Loaded, String> {
    let mut l = Loaded::default();
    for line in text.lines() {
        let line = line.trim();
        let path = if let Some((name, rest)) = line.split_once(" => ") {
            let rest = rest.trim();
            if rest.starts_with("not found") {
                l.missing.insert(name.trim().to_string());
                continue;
            }
            if name.starts_with('/') {
                name.trim()
            } else {
                rest.split_whitespace().next().unwrap_or_default()
            }
        } else {
            // `/lib/ld-linux-aarch64.so.1 (0x...)` outside qemu; `(0x...)`
            // for the program itself; `linux-vdso.so.1 (0x...)` on hardware.
            match line.split_whitespace().next() {
                Some(p) if p.starts_with('/') => p,
                _ => continue,
            }
        };
        let real = resolve_in(root, path).ok_or_else(|| format!("{path} is not in the root"))?;
        l.real.insert(real);
    }
    Ok(l)
}

/// Runs the root's own loader on `prog` under qemu in trace mode.
///
/// `LD_TRACE_LOADED_OBJECTS=1` is what ldd sets: the same lines as
/// `ld.so --list`, but a missing library is printed as `not found` where
/// `--list` stops at the first one with "error while loading shared
/// libraries" and exit status 127.
fn loader_list(root: &Path, prog: &str) -> Result<Loaded, String> {
    let out = Command::new(QEMU)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .args(["-E", "LD_TRACE_LOADED_OBJECTS=1", "-L"])
        .arg(root)
        .arg(root.join("lib/ld-linux-aarch64.so.1"))
        .arg(root.join(prog.trim_start_matches('/')))
        .output()
        .map_err(|e| format!("{QEMU}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "ld.so trace of {prog} failed ({}):\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse_loader_list(root, &text)
}

/// `loader_list` for each program, a few at a time.
fn loader_lists(root: &Path, progs: &[String]) -> Vec<Result<Loaded, String>> {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get().min(8));
    let chunk = progs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = progs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| loader_list(root, p))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("qemu thread"))
            .collect()
    })
}

/// Regular files in ROOT/usr/bin that start with the ELF magic, as paths inside the root.
fn elf_programs(root: &Path) -> Vec<String> {
    let mut progs = Vec::new();
    for entry in fs::read_dir(root.join("usr/bin")).expect("read usr/bin") {
        let entry = entry.expect("dir entry");
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let mut magic = [0u8; 4];
        let elf = is_file
            && fs::File::open(entry.path())
                .and_then(|mut f| f.read_exact(&mut magic))
                .is_ok()
            && magic == *b"\x7fELF";
        if elf {
            progs.push(format!("/usr/bin/{}", entry.file_name().to_string_lossy()));
        }
    }
    progs.sort();
    progs
}

#[test]
fn debian_arm64_root_matches_its_loader_under_qemu() {
    let start = Instant::now();
    let Some(root) = arm64_root() else { return };
    if !have(QEMU) {
        skip(&format!("{QEMU} is not installed"));
        return;
    }
    let root = fs::canonicalize(&root).expect("canonicalize root");
    let rs = root.to_string_lossy().into_owned();
    let progs = elf_programs(&root);
    assert!(
        progs.len() > 100,
        "only {} ELF files in {rs}/usr/bin",
        progs.len()
    );

    // elfroot, once over every program.
    let mut args = vec!["list", "--json", "--root", &rs];
    args.extend(progs.iter().map(String::as_str));
    let run = elfroot(&args);
    // The build script checks that everything resolves, but a root given in
    // ELFROOT_ARM64_ROOT may lack libraries: the comparison below decides.
    assert!(
        run.code == 0 || run.code == 1,
        "elfroot on the arm64 root:\n{}",
        run.stderr
    );
    let doc = run.json();
    let mut ours: BTreeMap<String, Loaded> = BTreeMap::new();
    let mut errors = Vec::new();
    for input in doc["inputs"].as_array().expect("inputs") {
        let mut l = Loaded::default();
        for o in objects(input).iter().filter(|o| o["found_by"] != "input") {
            let path = str_of(&o["path"]);
            match resolve_in(&root, path) {
                Some(real) => {
                    if o["realpath"] != real.as_str() {
                        errors.push(format!(
                            "{}: {path} has realpath {}, expected {real}",
                            input["path"], o["realpath"]
                        ));
                    }
                    l.real.insert(real);
                }
                None => errors.push(format!("{}: {path} is not in the root", input["path"])),
            }
        }
        for p in problems(input) {
            l.missing.insert(str_of(&p["name"]).to_string());
        }
        ours.insert(str_of(&input["path"]).to_string(), l);
    }
    let any_missing = ours.values().any(|l| !l.missing.is_empty());
    if (run.code == 1) != any_missing {
        errors.push(format!(
            "exit code {} with missing = {any_missing}",
            run.code
        ));
    }
    let t_elfroot = start.elapsed();

    let theirs = loader_lists(&root, &progs);
    let mut union = BTreeSet::new();
    for (prog, want) in progs.iter().zip(&theirs) {
        let want = match want {
            Ok(w) => w,
            Err(e) => {
                errors.push(e.clone());
                continue;
            }
        };
        union.extend(want.real.iter().cloned());
        match ours.get(prog) {
            None => errors.push(format!("{prog}: not in elfroot's report")),
            Some(got) if got != want => errors.push(format!(
                "{prog}:\n  elfroot: {got:?}\n  ld.so:   {want:?}\n  only elfroot: {:?}\n  only ld.so: {:?}",
                got.real.difference(&want.real).collect::<Vec<_>>(),
                want.real.difference(&got.real).collect::<Vec<_>>()
            )),
            Some(_) => {}
        }
    }

    // `list --paths` over all programs prints the union, each path once.
    let mut args = vec!["list", "--paths", "--root", &rs];
    args.extend(progs.iter().map(String::as_str));
    let run = elfroot(&args);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let lines = run.lines();
    let printed: BTreeSet<&str> = lines.iter().copied().collect();
    if printed.len() != lines.len() {
        errors.push("list --paths printed a path twice".to_string());
    }
    let paths: BTreeSet<String> = lines.iter().filter_map(|p| resolve_in(&root, p)).collect();
    if paths != union {
        errors.push(format!(
            "list --paths: only elfroot {:?}, only ld.so {:?}",
            paths.difference(&union).collect::<Vec<_>>(),
            union.difference(&paths).collect::<Vec<_>>()
        ));
    }

    eprintln!(
        "compared {} ELF files in {rs}/usr/bin with its ld.so under {QEMU}: \
         {} distinct files loaded, {} missing name(s) (elfroot {:.1?}, total {:.1?})",
        progs.len(),
        union.len(),
        ours.values().map(|l| l.missing.len()).sum::<usize>(),
        t_elfroot,
        start.elapsed()
    );
    assert!(
        errors.is_empty(),
        "{} difference(s):\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn resolve_in_stays_inside_the_root() {
    let t = Tree::new();
    t.mkdir("usr/lib/x");
    t.write("usr/lib/x/f", "");
    t.symlink("usr/lib", "lib");
    t.symlink("/usr/lib/x/f", "usr/lib/abs");
    t.symlink("../../../../../usr/lib/x/f", "usr/lib/x/rel");
    t.symlink("/etc", "usr/lib/etc");
    let r = t.path();
    assert_eq!(resolve_in(r, "/lib/abs").as_deref(), Some("/usr/lib/x/f"));
    assert_eq!(resolve_in(r, "/lib/x/rel").as_deref(), Some("/usr/lib/x/f"));
    assert_eq!(resolve_in(r, "/usr/bin/../lib/x/f").as_deref(), None);
    assert_eq!(
        resolve_in(r, "/usr/lib/../lib/x/f").as_deref(),
        Some("/usr/lib/x/f")
    );
    assert_eq!(resolve_in(r, "/lib/etc/passwd"), None);
}
