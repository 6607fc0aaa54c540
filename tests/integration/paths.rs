//! Paths the user gives: `--add` and inputs relative to the working
//! directory, destinations in the bundle, names that are not UTF-8, things
//! that are not files, and globs that must stay inside the root.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::util::*;

#[test]
fn add_to_a_directory_destination_puts_the_file_in_it() {
    let b = BundleTest::new(["/usr/bin/true"])
        .args([
            "--add",
            "/usr/bin/ls:/",
            "--add",
            "/usr/bin/cat:/opt/tools/",
        ])
        .run()
        .success();
    assert!(b.out.join("ls").is_file(), "no /ls in the bundle");
    assert!(b.out.join("opt/tools/cat").is_file(), "no /opt/tools/cat");
    // A relative destination is refused rather than guessed.
    let line = BundleTest::new(["/usr/bin/true"])
        .args(["--add", "/usr/bin/ls:bin/ls"])
        .run()
        .error_line();
    assert!(
        line.contains("bin/ls: a destination in the bundle must be an absolute path"),
        "{line}"
    );
}

#[test]
fn relative_adds_and_inputs_are_taken_from_the_working_directory() {
    let t = Tree::new();
    t.copy_in("/usr/bin/true", "work/prog");
    t.copy_in("/usr/bin/echo", "work/data/helper");
    t.mkdir("work/sub");
    let b = BundleTest::new(["../prog"])
        .args(["--add", "data/helper", "--add", "../data/*"])
        .cwd(t.at("work/sub"))
        .run();
    // ../data/* from work/sub is work/data/*; data/helper is work/sub/data/helper, absent.
    let line = b.error_line();
    assert!(
        line.contains(&format!("{}: no such file", t.s("work/sub/data/helper"))),
        "{line}"
    );
    let b = BundleTest::new(["../prog"])
        .args(["--add", "../data/*"])
        .cwd(t.at("work/sub"))
        .run()
        .success();
    assert!(
        b.out
            .join(t.s("work/prog").trim_start_matches('/'))
            .is_file()
    );
    assert!(
        b.out
            .join(t.s("work/data/helper").trim_start_matches('/'))
            .is_file()
    );
}

#[test]
fn a_fifo_or_a_name_that_is_not_utf8_is_one_clear_line() {
    let t = Tree::new();
    let fifo = t.at("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let line = BundleTest::new([&fifo]).run().error_line();
    assert!(
        line.contains(&format!("{}: not a regular file", fifo.display())),
        "{line}"
    );
    let odd = t.path().join(std::ffi::OsStr::from_bytes(b"n\xffx"));
    std::fs::copy("/usr/bin/true", &odd).unwrap();
    let line = BundleTest::new([&odd]).run().error_line();
    assert!(line.contains("not valid UTF-8"), "{line}");
    // `list` has no bundle to name: it reads the program as it is.
    let run = elfroot_command([std::ffi::OsStr::new("list"), odd.as_os_str()])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn add_globs_are_expanded_inside_the_root_through_its_links() {
    let t = Tree::new();
    t.with_host_glibc();
    t.copy_in("/usr/bin/true", "usr/bin/true");
    t.write("etc/only-in-root.conf", "x\n");
    // A link to /etc: in the root it is the root's /etc, never the host's.
    t.symlink("/etc", "opt/etc");
    let b = BundleTest::new(["/usr/bin/true"])
        .args(["--root", &t.s(""), "--add", "/opt/etc/*.conf"])
        .run()
        .success();
    let added: Vec<String> = std::fs::read_dir(b.out.join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // nsswitch.conf is the one elfroot writes.
        .filter(|n| n.ends_with(".conf") && n != "nsswitch.conf")
        .collect();
    assert_eq!(
        added,
        ["only-in-root.conf"],
        "host files leaked into the bundle"
    );
}

#[test]
fn an_added_directory_brings_what_its_links_to_directories_hold() {
    let t = Tree::new();
    t.write("srv/share/icc/srgb.icc", "profile");
    t.write("srv/share/icc/more/cmyk.icc", "profile");
    t.symlink("../share/icc", "srv/data/iccprofiles");
    // A link back up must not loop.
    t.symlink("..", "srv/data/up");
    let b = BundleTest::new(["/usr/bin/true"])
        .args(["--add", &t.s("srv/data")])
        .run()
        .success();
    let inside = |p: &str| b.out.join(t.s(p).trim_start_matches('/'));
    assert!(inside("srv/data/iccprofiles").is_symlink());
    assert!(inside("srv/share/icc/srgb.icc").is_file());
    assert!(inside("srv/share/icc/more/cmyk.icc").is_file());
    assert!(Path::new(&inside("srv/data/iccprofiles/srgb.icc")).is_file());
}

#[test]
fn a_named_directory_comes_in_but_its_links_never_lead_to_secrets() {
    let t = Tree::new();
    t.with_host_glibc();
    // A library that names its data directory, as libcrypto names /usr/lib/ssl.
    let lib = t.lib(
        "usr/lib/libnames.so",
        "const char *data_dir(void) { return \"/opt/app/data\"; }\n",
        &[],
    );
    let dir = lib.parent().unwrap().to_string_lossy().into_owned();
    t.exe(
        "usr/bin/app",
        "const char *data_dir(void); int main(void) { return data_dir()[0] != '/'; }\n",
        &[&format!("-L{dir}"), "-lnames"],
    );
    t.write("opt/app/data/table.txt", "data\n");
    t.write("etc/ssl/private/server.key", "SECRET\n");
    t.symlink("/etc/ssl/private", "opt/app/data/private");
    t.write("etc/app/shared.conf", "x\n");
    t.symlink("/etc/app/shared.conf", "opt/app/data/conf");
    let b = BundleTest::new(["/usr/bin/app"])
        .args(["--root", &t.s(""), "--json"])
        .output(t.path().join("out"))
        .run()
        .success();
    let out = t.at("out");
    assert!(
        out.join("opt/app/data/table.txt").is_file(),
        "{}",
        b.run.stdout
    );
    // Found through the default directory /lib (usr/lib in this merged-/usr root).
    assert!(
        b.run.stdout.contains("path named in /lib/libnames.so"),
        "{}",
        b.run.stdout
    );
    // A link to an ordinary file is followed; one into a private directory is not.
    assert!(out.join("etc/app/shared.conf").is_file());
    assert!(out.join("opt/app/data/private").is_symlink());
    assert!(
        !out.join("etc/ssl/private").exists(),
        "a private key came into the bundle"
    );
}
