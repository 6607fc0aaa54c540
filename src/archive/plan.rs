//! Checks the caller's entries and puts them in the order they are written:
//! sorted by path (byte order), duplicates merged, and every missing parent
//! directory added, so every writer sees parents before their children.
//!
//! Entries are borrowed, not copied: an added parent's path is a prefix of a
//! child's path, so even those need no allocation.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry as Slot;
use std::path::Path;

use super::{Entry, EntryKind};
use crate::error::{Error, Result};

/// Mode of the parent directories the plan adds.
pub(crate) const IMPLIED_DIR_MODE: u32 = 0o755;

/// One entry as it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    /// Absolute path inside the bundle, checked to be normalised.
    pub path: &'a str,
    pub kind: ItemKind<'a>,
    /// Permission bits only (`mode & 0o7777`); always 0o777 for a link.
    pub mode: u32,
    /// Numeric owner and group (0:0 for the parents the plan adds).
    pub uid: u32,
    pub gid: u32,
    /// The entry's own mtime, if it has one.
    pub mtime: Option<u64>,
}

/// What an [`Item`] is; [`EntryKind`] borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItemKind<'a> {
    Dir,
    File(&'a Path),
    Data(&'a [u8]),
    Symlink(&'a str),
}

impl<'a> Item<'a> {
    fn new(e: &'a Entry) -> Item<'a> {
        let kind = match &e.kind {
            EntryKind::Dir => ItemKind::Dir,
            EntryKind::File { source } => ItemKind::File(source),
            EntryKind::Data(data) => ItemKind::Data(data),
            EntryKind::Symlink { target } => ItemKind::Symlink(target),
        };
        // A link's own mode means nothing on Linux; 0o777 is what it gets.
        let mode = match kind {
            ItemKind::Symlink(_) => 0o777,
            _ => e.mode & 0o7777,
        };
        Item {
            path: &e.path,
            kind,
            mode,
            uid: e.uid,
            gid: e.gid,
            mtime: e.mtime,
        }
    }

    /// The path without its leading slash, as archives store it.
    pub fn relative(&self) -> &'a str {
        &self.path[1..]
    }

    fn describe(&self) -> String {
        let owner = format!("owner {}:{}", self.uid, self.gid);
        match self.kind {
            ItemKind::Dir => format!("directory (mode {:o}, {owner})", self.mode),
            ItemKind::File(source) => {
                format!(
                    "copy of {} (mode {:o}, {owner})",
                    source.display(),
                    self.mode
                )
            }
            ItemKind::Data(d) => format!(
                "generated file of {} bytes (mode {:o}, {owner})",
                d.len(),
                self.mode
            ),
            ItemKind::Symlink(t) => format!("symbolic link to {t} ({owner})"),
        }
    }
}

/// Checks `entries` and returns them sorted by path, identical duplicates
/// merged, with a directory (mode 0o755, owner 0:0) added for every missing
/// parent.
///
/// Fails with [`Error::Usage`] naming the path when a path is not absolute
/// and normalised, two entries for one path differ, or an entry's parent is
/// not a directory (a symbolic link or file entry: the caller gives
/// canonical paths, so nothing is ever placed through a link).
pub(crate) fn plan(entries: &[Entry]) -> Result<Vec<Item<'_>>> {
    let mut by_path: BTreeMap<&str, Item<'_>> = BTreeMap::new();
    for e in entries {
        check_path(&e.path)?;
        let item = Item::new(e);
        if let ItemKind::Symlink(target) = item.kind
            && (target.is_empty() || target.contains('\0'))
        {
            return Err(Error::Usage(format!(
                "{}: invalid symbolic link target {target:?}",
                e.path
            )));
        }
        match by_path.entry(&e.path) {
            Slot::Vacant(v) => {
                v.insert(item);
            }
            Slot::Occupied(o) if *o.get() == item => {}
            Slot::Occupied(o) => {
                return Err(Error::Usage(format!(
                    "{}: conflicting bundle entries: {} and {}",
                    e.path,
                    o.get().describe(),
                    item.describe()
                )));
            }
        }
    }

    let mut implied: BTreeMap<&str, Item<'_>> = BTreeMap::new();
    for item in by_path.values() {
        // Stop at the first parent already known to be a directory: its own
        // parents are checked when it is visited itself.
        for parent in parents(item.path) {
            match by_path.get(parent) {
                Some(p) if p.kind == ItemKind::Dir => break,
                Some(p) => {
                    return Err(Error::Usage(format!(
                        "{}: parent {} in the bundle is a {}, not a directory",
                        item.path,
                        parent,
                        match p.kind {
                            ItemKind::Symlink(_) => "symbolic link",
                            _ => "file",
                        }
                    )));
                }
                None if implied.contains_key(parent) => break,
                None => {
                    implied.insert(
                        parent,
                        Item {
                            path: parent,
                            kind: ItemKind::Dir,
                            mode: IMPLIED_DIR_MODE,
                            uid: 0,
                            gid: 0,
                            mtime: None,
                        },
                    );
                }
            }
        }
    }
    by_path.append(&mut implied);
    Ok(by_path.into_values().collect())
}

/// "/a/b/c" gives "/a/b", then "/a".
fn parents(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        let i = rest.rfind('/').filter(|&i| i > 0)?;
        rest = &rest[..i];
        Some(rest)
    })
}

fn check_path(path: &str) -> Result<()> {
    if is_normal(path) && !path.contains('\0') {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{path:?}: a bundle path must be absolute and normalised (no empty, '.' or '..' \
             components, no trailing slash) and not \"/\""
        )))
    }
}

/// True when `path` is absolute and normalised (no empty, `.` or `..`
/// component, no trailing slash), and not "/".
pub(crate) fn is_normal(path: &str) -> bool {
    path.len() > 1
        && path.starts_with('/')
        && path[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(items: &[Item<'_>]) -> Vec<(String, u32)> {
        items
            .iter()
            .map(|i| {
                let tag = match i.kind {
                    ItemKind::Dir => "d",
                    ItemKind::File(_) | ItemKind::Data(_) => "f",
                    ItemKind::Symlink(_) => "l",
                };
                (format!("{tag} {}", i.path), i.mode)
            })
            .collect()
    }

    fn usage(entries: &[Entry]) -> String {
        match plan(entries) {
            Err(Error::Usage(msg)) => msg,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn sorts_and_adds_missing_parents() {
        let entries = [
            Entry::data("/usr/lib/x/libz.so.1", "z", 0o644),
            Entry::symlink("/lib", "usr/lib"),
            Entry::dir("/usr", 0o700),
            Entry::data("/etc/passwd", "root", 0o100644),
        ];
        let items = plan(&entries).unwrap();
        let want = [
            ("d /etc", 0o755),
            ("f /etc/passwd", 0o644),
            ("l /lib", 0o777),
            ("d /usr", 0o700),
            ("d /usr/lib", 0o755),
            ("d /usr/lib/x", 0o755),
            ("f /usr/lib/x/libz.so.1", 0o644),
        ];
        let want: Vec<_> = want.iter().map(|(p, m)| (p.to_string(), *m)).collect();
        assert_eq!(paths(&items), want);
    }

    #[test]
    fn byte_order_puts_parents_first() {
        let entries = [Entry::data("/a/b", "", 0o644), Entry::dir("/a-x", 0o755)];
        let items = plan(&entries).unwrap();
        let order: Vec<_> = items.iter().map(|i| i.path).collect();
        assert_eq!(order, ["/a", "/a-x", "/a/b"]);
    }

    #[test]
    fn identical_duplicates_merge() {
        let entries = [
            Entry::file("/bin/sh", "/bin/dash", 0o755),
            Entry::file("/bin/sh", "/bin/dash", 0o755),
            Entry::dir("/bin", 0o755),
            Entry::dir("/bin", 0o755),
            Entry::symlink("/lib", "usr/lib"),
            Entry {
                mode: 0o120644,
                ..Entry::symlink("/lib", "usr/lib")
            },
        ];
        assert_eq!(plan(&entries).unwrap().len(), 3);
    }

    #[test]
    fn conflicting_duplicates_name_the_path() {
        let entries = [
            Entry::file("/bin/sh", "/bin/dash", 0o755),
            Entry::symlink("/bin/sh", "dash"),
        ];
        let msg = usage(&entries);
        assert!(msg.starts_with("/bin/sh: conflicting"), "{msg}");
        let entries = [Entry::dir("/etc", 0o755), Entry::dir("/etc", 0o700)];
        assert!(usage(&entries).starts_with("/etc: conflicting"));
        let entries = [
            Entry::dir("/srv", 0o755),
            Entry::dir("/srv", 0o755).owned(33, 33),
        ];
        let msg = usage(&entries);
        assert!(
            msg.contains("owner 0:0") && msg.contains("owner 33:33"),
            "{msg}"
        );
    }

    #[test]
    fn nothing_goes_through_a_symlink_entry() {
        let entries = [
            Entry::symlink("/lib", "usr/lib"),
            Entry::data("/lib/x86_64-linux-gnu/libc.so.6", "", 0o755),
        ];
        let msg = usage(&entries);
        assert!(
            msg.starts_with("/lib/x86_64-linux-gnu/libc.so.6: parent /lib"),
            "{msg}"
        );
        assert!(msg.contains("symbolic link"), "{msg}");
        let entries = [Entry::data("/etc", "", 0o644), Entry::dir("/etc/x", 0o755)];
        assert!(usage(&entries).contains("is a file"));
    }

    #[test]
    fn rejects_paths_that_are_not_normalised() {
        for bad in [
            "",
            "/",
            "usr/lib",
            "/usr/",
            "/usr//lib",
            "/usr/./lib",
            "/usr/../lib",
            "/a\0b",
        ] {
            let msg = usage(&[Entry::dir(bad, 0o755)]);
            assert!(msg.contains("must be absolute"), "{bad:?}: {msg}");
        }
        let msg = usage(&[Entry::symlink("/lib", "")]);
        assert!(
            msg.starts_with("/lib: invalid symbolic link target"),
            "{msg}"
        );
    }

    #[test]
    fn parents_iterates_upwards() {
        assert_eq!(parents("/a/b/c").collect::<Vec<_>>(), ["/a/b", "/a"]);
        assert_eq!(parents("/a").count(), 0);
    }
}
