//! Test helpers shared by the archive writers' tests: a sample bundle that
//! exercises every entry kind and the awkward cases, and a check that an
//! extracted or written tree matches it.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use super::{Entry, EntryKind};
use crate::testing::skip;

/// Returns `Some(())` when `tool` runs; otherwise [`skip`]s (which fails
/// the test under CI) and returns `None`.
pub(crate) fn need(tool: &str) -> Option<()> {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(());
    }
    skip(&format!("{tool} not found"));
    None
}

/// A bundle with generated and copied files, a setuid binary, a read-only
/// directory with contents, a merged-/usr symlink, paths at and over the
/// 100-byte name field, a link target over it, and a file larger than one
/// copy chunk. Source files are created in `dir`.
pub(crate) fn sample(dir: &Path) -> Vec<Entry> {
    let su = dir.join("src-su");
    fs::write(&su, "su!\n").unwrap();
    let big = dir.join("src-big");
    let data: Vec<u8> = (0..700_001u32).map(|i| (i % 251) as u8).collect();
    fs::write(&big, data).unwrap();
    vec![
        Entry::data("/etc/passwd", "root:x:0\n", 0o644),
        Entry::file("/usr/bin/su", su, 0o4755),
        Entry::symlink("/lib", "usr/lib"),
        Entry::symlink("/usr/lib/long-link", "t".repeat(150)),
        Entry::file("/usr/lib/x86_64-linux-gnu/libbig.so", big, 0o755),
        Entry::data(format!("/usr/share/{}/file", "d".repeat(120)), "abc", 0o644),
        Entry::dir("/opt/ro", 0o555),
        Entry::data("/opt/ro/inside", "", 0o600),
        Entry::dir("/tmp", 0o1777),
        // Exactly fills the 100-byte name field; as a directory ("m.../")
        // it does not.
        Entry::data(format!("/{}", "n".repeat(100)), "x", 0o644),
        Entry::dir(format!("/{}", "m".repeat(100)), 0o700),
    ]
}

/// Checks that the tree under `root` holds `entries`: kinds, contents,
/// permission bits, link targets and, when given, mtimes (not of symbolic
/// links, which no std API sets).
pub(crate) fn assert_tree(root: &Path, entries: &[Entry], mtime: Option<u64>) {
    for e in entries {
        let host = root.join(&e.path[1..]);
        let meta = fs::symlink_metadata(&host).unwrap_or_else(|err| panic!("{}: {err}", e.path));
        match &e.kind {
            EntryKind::Dir => assert!(meta.is_dir(), "{} is not a directory", e.path),
            EntryKind::File { source } => {
                assert!(meta.is_file(), "{} is not a file", e.path);
                assert_eq!(
                    fs::read(&host).unwrap(),
                    fs::read(source).unwrap(),
                    "{}",
                    e.path
                );
            }
            EntryKind::Data(data) => {
                assert!(meta.is_file(), "{} is not a file", e.path);
                assert_eq!(&fs::read(&host).unwrap(), data, "{}", e.path);
            }
            EntryKind::Symlink { target } => {
                assert!(meta.is_symlink(), "{} is not a symlink", e.path);
                assert_eq!(
                    fs::read_link(&host).unwrap(),
                    Path::new(target),
                    "{}",
                    e.path
                );
                continue;
            }
        }
        assert_eq!(meta.mode() & 0o7777, e.mode & 0o7777, "mode of {}", e.path);
        if let Some(t) = mtime {
            assert_eq!(meta.mtime(), t as i64, "mtime of {}", e.path);
        }
    }
}

/// The names in a directory, sorted.
pub(crate) fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
