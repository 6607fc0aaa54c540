//! Outputs appear whole or not at all: never written through a symbolic
//! link, no temporary left beside OUT after a kill, errors naming OUT.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_output_that_is_a_symlink_to_a_directory_is_refused_not_written_through() {
    let t = Tree::new();
    t.mkdir("real");
    t.write("real/keep", "keep");
    t.symlink("real", "link");
    let run = elfroot(&["bundle", "/usr/bin/true", "-o", &t.s("link")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("{}: is a symbolic link", t.s("link"))),
        "{}",
        run.stderr
    );
    assert_eq!(names(&t.at("real")), ["keep"]);
    // The same with --force: still not written through.
    let run = elfroot(&["bundle", "/usr/bin/true", "-o", &t.s("link"), "--force"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(names(&t.at("real")), ["keep"]);
    // A tar output replaces a link at OUT, leaving its target alone.
    t.symlink("real/keep", "out.tar");
    let run = elfroot(&["bundle", "/usr/bin/true", "-o", &t.s("out.tar")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!t.at("out.tar").is_symlink());
    assert_eq!(fs::read(t.at("real/keep")).unwrap(), b"keep");
}

#[test]
fn temporaries_of_killed_runs_are_removed_by_the_next_run() {
    let t = Tree::new();
    // pid_max is at most 2^22 on Linux: these processes cannot exist.
    let dead = 4_194_305;
    t.write(&format!(".out.tar.tmp-{dead}-0"), "partial");
    t.mkdir(&format!(".root.tmp-{dead}-1/usr/bin"));
    // A live process's temporary (this test's own pid) is left alone.
    let live = format!(".out.tar.tmp-{}-7", std::process::id());
    t.write(&live, "in progress");
    for out in ["out.tar", "root"] {
        let run = elfroot(&["bundle", "/usr/bin/true", "-o", &t.s(out)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(names(t.path()), [live.as_str(), "out.tar", "root"]);
}

#[test]
fn a_kill_mid_write_leaves_no_named_temporary_beside_a_file_output() {
    if !Path::new("/usr/lib/python3.11").is_dir() {
        return skip("no /usr/lib/python3.11 to make a long bundle of");
    }
    let t = Tree::new();
    let out = t.s("py.tar.gz");
    let mut child = Command::new(env!("CARGO_BIN_EXE_elfroot"))
        .args([
            "bundle",
            "/usr/bin/python3",
            "--add",
            "/usr/lib/python3.11",
            "-o",
            &out,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // gzip of 80 MiB takes well over a second: kill it while it writes.
    std::thread::sleep(Duration::from_millis(600));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the bundle finished before the kill");
    assert!(names(t.path()).is_empty(), "{:?}", names(t.path()));
}

#[test]
fn errors_name_out_not_the_temporary() {
    let t = Tree::new();
    for out in ["missing/out.tar", "missing/root", "missing/img.oci.tar"] {
        let run = elfroot(&["bundle", "/usr/bin/true", "-o", &t.s(out)]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!("elfroot: {}: ", t.s(out))),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains(".tmp-"), "{}", run.stderr);
    }
}
