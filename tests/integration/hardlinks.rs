//! Hard links among the files a bundle writes stay hard links: one copy and
//! link entries in a tar (GNU tar lists them, umoci and runc see one file
//! with several names), link(2) in a directory output, and a layer's own
//! hard links when the bundle is taken from an image.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::oci::{need, umoci_runc};
use crate::util::*;

/// Prints the name it was run as: each hard link answers to its own name.
const TOOL: &str = r#"#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    const char *slash = strrchr(argv[0], '/');
    puts(slash ? slash + 1 : argv[0]);
    return 0;
}
"#;

/// The names the tool has in the fixture, the first in path order first.
const NAMES: [&str; 3] = [
    "usr/bin/tool",
    "usr/libexec/tool/tool-a",
    "usr/libexec/tool/tool-b",
];

/// A root with the host's glibc and one program under three names, as a
/// source-built git installs its builtins in libexec/git-core.
fn fixture() -> Tree {
    let t = Tree::new();
    t.with_host_glibc();
    let first = t.exe(NAMES[0], TOOL, &[]);
    for name in &NAMES[1..] {
        t.mkdir("usr/libexec/tool");
        fs::hard_link(&first, t.at(name)).unwrap();
    }
    t
}

fn bundle(t: &Tree, name: &str, extra: &[&str]) -> Bundle {
    BundleTest::new(["/usr/bin/tool"])
        .named(name)
        .args(["--root", &t.s("/"), "--add", "/usr/libexec/tool"])
        .args(extra)
        .env("SOURCE_DATE_EPOCH", "0")
        .run()
        .success()
}

/// The inode of each of the tool's names under `root`, which must be one.
fn assert_one_file(root: &Path) {
    let inodes: Vec<u64> = NAMES
        .iter()
        .map(|n| fs::metadata(root.join(n)).unwrap().ino())
        .collect();
    assert!(inodes.iter().all(|&i| i == inodes[0]), "{inodes:?}");
    let meta = fs::metadata(root.join(NAMES[0])).unwrap();
    assert_eq!(meta.nlink(), 3);
    assert_eq!(meta.mode() & 0o7777, 0o755);
}

/// The listing's lines for the tool's names, in order.
fn tool_lines(archive: &Path) -> Vec<String> {
    let listing = tar_listing(archive);
    NAMES
        .iter()
        .map(|n| {
            let link = format!(" {n} link to ");
            listing
                .lines()
                .find(|l| l.ends_with(&format!(" {n}")) || l.contains(&link))
                .unwrap_or_else(|| panic!("{n}:\n{listing}"))
                .to_string()
        })
        .collect()
}

#[test]
fn a_tar_holds_one_copy_and_hard_link_entries() {
    let t = fixture();
    let size = fs::metadata(t.at(NAMES[0])).unwrap().len();
    let b = bundle(&t, "root.tar", &[]);
    let lines = tool_lines(&b.out);
    assert!(lines[0].starts_with("-rwxr-xr-x"), "{lines:?}");
    for line in &lines[1..] {
        assert!(line.starts_with("hrwxr-xr-x"), "{line}");
        assert!(line.ends_with(" link to usr/bin/tool"), "{line}");
    }
    // GNU tar lists a hard link with size 0: the contents are there once.
    let bytes = fs::read(&b.out).unwrap();
    let content = fs::read(t.at(NAMES[0])).unwrap();
    let copies = bytes
        .windows(content.len())
        .step_by(512)
        .filter(|w| *w == &content[..])
        .count();
    assert_eq!(copies, 1, "{size} bytes written {copies} times");
    // Same inputs, same bytes.
    let again = bundle(&t, "root.tar", &[]);
    assert_eq!(fs::read(&again.out).unwrap(), bytes);

    let x = tempfile::tempdir().unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xpf")
            .arg(&b.out)
            .arg("-C")
            .arg(x.path()),
    );
    assert_one_file(x.path());
    if root_for("running the extracted bundle in a chroot") {
        let (out, err, code) = run_program(Some(x.path()), &["/usr/libexec/tool/tool-b"], &[], b"");
        assert_eq!((out.as_str(), code), ("tool-b\n", 0), "{err}");
    }
}

#[test]
fn a_directory_bundle_links_within_out() {
    let t = fixture();
    let b = bundle(&t, "root", &[]);
    assert_one_file(&b.out);
    // --force writes into it again: the links replace what is there.
    let again = BundleTest::new(["/usr/bin/tool"])
        .output(&b.out)
        .args(["--root", &t.s("/"), "--add", "/usr/libexec/tool", "--force"])
        .run()
        .success();
    assert_one_file(&again.out);
}

#[test]
fn an_image_layer_keeps_them_and_so_does_a_bundle_taken_from_it() {
    if !need(&["umoci", "runc"]) {
        return;
    }
    let t = fixture();
    let img = bundle(&t, "img", &["--format", "oci", "--tag", "t"]);
    let rt = tempfile::tempdir().unwrap();
    let unpacked = rt.path().join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:t", img.out.display()))
            .arg(&unpacked),
    );
    assert_one_file(&unpacked.join("rootfs"));
    let (out, err, code) = umoci_runc(&img.out, "t", Some(&["/usr/libexec/tool/tool-a"]));
    assert_eq!((out.as_str(), code), ("tool-a\n", 0), "{err}");

    // The image as a root: its layer's hard links are one file there too.
    let from = BundleTest::new(["/usr/bin/tool"])
        .named("again.tar")
        .args(["--root", &format!("oci:{}:t", img.out.display())])
        .args(["--add", "/usr/libexec/tool"])
        .run()
        .success();
    let lines = tool_lines(&from.out);
    assert!(lines[0].starts_with('-'), "{lines:?}");
    assert!(lines[1..].iter().all(|l| l.starts_with('h')), "{lines:?}");
}
