//! `elfroot trace` and `bundle --profile`: small C programs built here, each
//! using files static analysis cannot see (a plugin named on the command
//! line, a file named in a config file, programs a script starts, files
//! opened by threads and by a child that outlives its parent), traced; the
//! profiles are checked entry by entry. `trace_bundle` bundles them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::*;

const LOADER: &str = r#"
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { printf("no plugin: %s\n", dlerror()); return 1; }
    const char *(*greet)(void) = (const char *(*)(void))dlsym(h, "greet");
    printf("%s\n", greet());
    return 0;
}"#;

const PLUGIN: &str = r#"const char *greet(void) { return "hello from the plugin"; }"#;

/// Reads `data=PATH` from the config file named by argv[1], prints PATH's
/// first line, exits 3.
const READER: &str = r#"
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char line[512], path[512] = "", text[512] = "";
    FILE *c = fopen(argv[1], "r");
    if (!c) return 2;
    while (fgets(line, sizeof line, c))
        if (sscanf(line, "data=%511s", path) == 1) break;
    FILE *d = fopen(path, "r");
    if (!d) { printf("cannot read %s\n", path); return 1; }
    if (fgets(text, sizeof text, d)) fputs(text, stdout);
    return 3;
}"#;

/// Four threads each print the first line of DIR/tN.
const THREADS: &str = r#"
#include <pthread.h>
#include <stdio.h>
static const char *dir;
static void *run(void *arg) {
    char path[512], text[64] = "";
    snprintf(path, sizeof path, "%s/t%ld", dir, (long)arg);
    FILE *f = fopen(path, "r");
    if (f && fgets(text, sizeof text, f)) fclose(f);
    return (void *)(long)(text[0] - '0');
}
int main(int argc, char **argv) {
    pthread_t t[4];
    long sum = 0;
    dir = argv[1];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, run, (void *)i);
    for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); sum += (long)r; }
    printf("sum %ld\n", sum);
    return 0;
}"#;

/// The parent exits at once; the child waits for that, then prints argv[1]'s first line.
const ORPHAN: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    pid_t parent = getpid();
    if (fork() != 0) return 0;
    while (getppid() == parent) usleep(1000);
    char text[64] = "";
    FILE *f = fopen(argv[1], "r");
    if (f && fgets(text, sizeof text, f)) printf("late: %s", text);
    return 0;
}"#;

/// The programs of these tests, built in one tree.
pub struct Programs {
    pub tree: Tree,
}

impl Programs {
    pub fn build() -> Programs {
        let tree = Tree::new();
        tree.exe("bin/loader", LOADER, &["-ldl"]);
        tree.lib("plugins/libgreet.so", PLUGIN, &[]);
        tree.exe("bin/reader", READER, &[]);
        tree.exe("bin/threads", THREADS, &["-pthread"]);
        tree.exe("bin/orphan", ORPHAN, &[]);
        tree.write("data/words", "forty-two\n");
        tree.write("data/unused", "never read\n");
        tree.write("data/late", "after the parent\n");
        for i in 0..4 {
            tree.write(&format!("data/t{i}"), format!("{}\n", i + 1));
        }
        let conf = format!("# reader\ndata={}\n", tree.s("data/words"));
        tree.write("etc/reader.conf", conf);
        tree.mkdir("listed/sub");
        tree.write("listed/one", "1\n");
        let script = format!(
            "#!/bin/sh\n{hello} {conf}\ncat {words}\nls {listed} >/dev/null\n",
            hello = tree.s("bin/reader"),
            conf = tree.s("etc/reader.conf"),
            words = tree.s("data/words"),
            listed = tree.s("listed"),
        );
        tree.write("bin/run.sh", script);
        run_ok(Command::new("chmod").arg("+x").arg(tree.at("bin/run.sh")));
        Programs { tree }
    }

    pub fn s(&self, rel: &str) -> String {
        self.tree.s(rel)
    }
}

/// A profile: path -> kind.
pub type Entries = BTreeMap<String, String>;

/// `elfroot trace -o PROFILE ARGS -- ARGV` in `/`; the run and the profile's entries.
pub fn trace(profile: &Path, args: &[&str], argv: &[&str]) -> (Run, Entries) {
    let mut all = vec!["trace", "-o", profile.to_str().unwrap(), "--cwd", "/"];
    all.extend(args);
    all.push("--");
    all.extend(argv);
    let run = elfroot(&all);
    let text = fs::read_to_string(profile).unwrap_or_default();
    let entries = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, p)| (p.trim_start().to_string(), k.to_string()))
        .collect();
    (run, entries)
}

/// The entries under `dir`.
fn under(entries: &Entries, dir: &Path) -> Entries {
    let dir = dir.to_str().unwrap();
    entries
        .iter()
        .filter(|(p, _)| p.starts_with(dir))
        .map(|(p, k)| (p.clone(), k.clone()))
        .collect()
}

fn expect(pairs: &[(&str, String)]) -> Entries {
    pairs
        .iter()
        .map(|(k, p)| (p.clone(), k.to_string()))
        .collect()
}

/// What every traced program's profile holds from the host: the C library,
/// and nothing of /proc, /sys or /dev.
fn check_host_part(entries: &Entries) {
    let libc = fs::canonicalize("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
    assert_eq!(
        entries.get(libc.to_str().unwrap()).map(String::as_str),
        Some("file")
    );
    for p in entries.keys() {
        assert!(
            !["/proc/", "/sys/", "/dev/"]
                .iter()
                .any(|k| p.starts_with(k)),
            "{p} recorded"
        );
    }
}

#[test]
fn profiles_hold_what_each_program_used() {
    let ps = Programs::build();
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let root = ps.tree.path();

    let (run, e) = trace(
        &p("loader"),
        &[],
        &[&ps.s("bin/loader"), &ps.s("plugins/libgreet.so")],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "hello from the plugin\n"),
        "{}",
        run.stderr
    );
    let want = [
        ("exec", ps.s("bin/loader")),
        ("file", ps.s("plugins/libgreet.so")),
    ];
    assert_eq!(under(&e, root), expect(&want));
    check_host_part(&e);

    // Exit status and standard output pass through.
    let (run, e) = trace(
        &p("reader"),
        &[],
        &[&ps.s("bin/reader"), &ps.s("etc/reader.conf")],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (3, "forty-two\n"),
        "{}",
        run.stderr
    );
    let reader = [
        ("exec", ps.s("bin/reader")),
        ("file", ps.s("data/words")),
        ("file", ps.s("etc/reader.conf")),
    ];
    assert_eq!(under(&e, root), expect(&reader));
    check_host_part(&e);

    let (run, e) = trace(&p("script"), &[], &[&ps.s("bin/run.sh")]);
    assert_eq!(run.stdout, "forty-two\nforty-two\n", "{}", run.stderr);
    let mut want = expect(&reader);
    want.extend(expect(&[
        ("exec", ps.s("bin/run.sh")),
        ("dir", ps.s("listed")),
    ]));
    assert_eq!(under(&e, root), want, "the script's own files");
    let sh = fs::canonicalize("/bin/sh").unwrap();
    let sh = sh.to_str().unwrap();
    let ls = fs::canonicalize("/usr/bin/ls").unwrap();
    for (path, kind) in [
        ("/bin/sh", "link"),
        (sh, "exec"),
        (ls.to_str().unwrap(), "exec"),
    ] {
        assert_eq!(e.get(path).map(String::as_str), Some(kind), "{path}");
    }
    check_host_part(&e);

    let (run, e) = trace(&p("threads"), &[], &[&ps.s("bin/threads"), &ps.s("data")]);
    assert_eq!(run.stdout, "sum 10\n", "{}", run.stderr);
    let mut want = expect(&[("exec", ps.s("bin/threads"))]);
    for i in 0..4 {
        want.extend(expect(&[("file", ps.s(&format!("data/t{i}")))]));
    }
    assert_eq!(under(&e, root), want);

    // The child opens its file after the parent has exited: trace waits for it.
    let (run, e) = trace(
        &p("orphan"),
        &[],
        &[&ps.s("bin/orphan"), &ps.s("data/late")],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "late: after the parent\n")
    );
    let want = [("exec", ps.s("bin/orphan")), ("file", ps.s("data/late"))];
    assert_eq!(under(&e, root), expect(&want));

    // The same command gives the same profile, byte for byte.
    let again = p("reader2");
    trace(
        &again,
        &[],
        &[&ps.s("bin/reader"), &ps.s("etc/reader.conf")],
    );
    assert_eq!(fs::read(p("reader")).unwrap(), fs::read(&again).unwrap());
}

#[test]
fn a_killed_command_still_leaves_its_profile_and_append_merges() {
    let ps = Programs::build();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let script = format!("cat {} >/dev/null; kill -9 $$", ps.s("data/words"));
    let (run, e) = trace(&profile, &[], &["/bin/sh", "-c", &script]);
    assert_eq!(run.code, 137, "{}", run.stderr);
    assert!(run.stderr.contains("killed by signal 9"), "{}", run.stderr);
    assert_eq!(e.get(&ps.s("data/words")).map(String::as_str), Some("file"));

    let other = format!("data={}\n", ps.s("data/late"));
    ps.tree.write("etc/other.conf", other);
    let reader = ps.s("bin/reader");
    let (run, e) = trace(&profile, &["--append"], &[&reader, &ps.s("etc/other.conf")]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    for f in ["data/words", "data/late", "etc/other.conf"] {
        assert_eq!(e.get(&ps.s(f)).map(String::as_str), Some("file"), "{f}");
    }
    let text = fs::read_to_string(&profile).unwrap();
    let commands: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("# command: "))
        .collect();
    assert_eq!(commands.len(), 2, "{text}");

    // The profile itself is never in it, even when the command reads it.
    let shown = profile.to_str().unwrap();
    let (run, e) = trace(&profile, &["--append"], &["/bin/cat", shown]);
    assert_eq!(run.stdout, text, "{}", run.stderr);
    assert!(!e.contains_key(shown), "{e:?}");
    assert!(e.contains_key(&ps.s("data/late")), "appended to: {e:?}");
    let text = fs::read_to_string(&profile).unwrap();

    let run = elfroot(&[
        "trace",
        "-o",
        profile.to_str().unwrap(),
        "--",
        "/nonexistent/x",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/x: command not found"),
        "{}",
        run.stderr
    );
    assert_eq!(
        fs::read_to_string(&profile).unwrap(),
        text,
        "left as it was"
    );
}

#[test]
fn a_refused_ptrace_is_one_clear_error() {
    if !have("strace") {
        return skip("strace not installed (apt-get install strace)");
    }
    // Under `strace -f`, the command elfroot starts is strace's already, and a
    // process has one tracer at most: PTRACE_TRACEME fails as in a container
    // that forbids ptrace.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let out = Command::new("strace")
        .args([
            "-f",
            "-o",
            "/dev/null",
            env!("CARGO_BIN_EXE_elfroot"),
            "trace",
            "-o",
        ])
        .arg(&profile)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    let run = Run::from(&out);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("elfroot: ptrace is not permitted here")
            && run.stderr.contains("strace -f"),
        "{}",
        run.stderr
    );
    assert!(!profile.exists());
}

#[test]
fn with_root_the_command_runs_chrooted_and_paths_are_inside() {
    if !root_for("elfroot trace --root (chroot)") {
        return;
    }
    let image = BundleTest::new(["/usr/bin/ls"]).run().success();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let root = image.out.to_str().unwrap();
    let (run, e) = trace(&profile, &["--root", root], &["/usr/bin/ls", "-d", "/etc"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "/etc\n"),
        "{}",
        run.stderr
    );
    assert_eq!(e.get("/usr/bin/ls").map(String::as_str), Some("exec"));
    assert_eq!(e.get("/etc").map(String::as_str), Some("dir"));
    assert!(e.keys().all(|p| !p.starts_with(root)), "{e:?}");
}
