//! Hard links among the files of a bundle: a file whose host source is the
//! same file (same device and inode) as that of a file written before it
//! is written as a hard link to that first path, not as a second copy.
//!
//! A source-built git installs 139 names of one 3.7 MB program in
//! libexec/git-core; copied, they make a 550 MB bundle of a 25 MB tree.
//! Sources are host files: a directory root's own files, whose inodes say
//! which are links of one another, or the files an image's layers are
//! staged to, where each hard link of a layer shares the staged file of its
//! target (`root::layers`). Items are in write order (sorted by path), so
//! the first path, and with it the bytes, depend only on the entries and
//! the host's files. Only files with the same permission bits, owner and
//! mtime are linked, since a link cannot differ from its target in these.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::fs;
use std::os::unix::fs::MetadataExt;

use super::plan::{Item, ItemKind};

/// Turns every file item whose source is a file already written (earlier
/// in `items`, with the same metadata) into a hard link to its path. A
/// source that cannot be read is left as it is: writing it names the error.
pub(crate) fn resolve(items: &mut [Item<'_>]) {
    let mut first: HashMap<(u64, u64), usize> = HashMap::new();
    for at in 0..items.len() {
        let ItemKind::File(source) = items[at].kind else {
            continue;
        };
        let Ok(meta) = fs::metadata(source) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        match first.entry((meta.dev(), meta.ino())) {
            Slot::Vacant(v) => {
                v.insert(at);
            }
            Slot::Occupied(o) => {
                let target = items[*o.get()];
                let item = &mut items[at];
                let same = (target.mode, target.uid, target.gid, target.mtime)
                    == (item.mode, item.uid, item.gid, item.mtime);
                if same {
                    item.kind = ItemKind::HardLink(target.path);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Entry, plan::plan};

    fn kinds(entries: &[Entry]) -> Vec<(String, String)> {
        let mut items = plan(entries).unwrap();
        resolve(&mut items);
        items
            .iter()
            .map(|i| {
                let kind = match i.kind {
                    ItemKind::File(_) => "file".to_string(),
                    ItemKind::HardLink(t) => format!("link {t}"),
                    _ => "other".to_string(),
                };
                (i.path.to_string(), kind)
            })
            .collect()
    }

    #[test]
    fn later_names_of_one_file_link_to_the_first_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(&a, "git").unwrap();
        fs::hard_link(&a, dir.path().join("b")).unwrap();
        let other = dir.path().join("other");
        fs::write(&other, "git").unwrap();
        let entries = [
            Entry::file("/libexec/git-core/git-add", dir.path().join("b"), 0o755),
            Entry::file("/bin/git", &a, 0o755),
            Entry::file("/libexec/git-core/git-am", &a, 0o755),
            // Same contents, another file: a copy.
            Entry::file("/libexec/git-core/git-other", &other, 0o755),
            // Another mode cannot share the inode: a copy.
            Entry::file("/libexec/git-core/git-ro", &a, 0o555),
        ];
        let got = kinds(&entries);
        let want = [
            ("/bin", "other"),
            ("/bin/git", "file"),
            ("/libexec", "other"),
            ("/libexec/git-core", "other"),
            ("/libexec/git-core/git-add", "link /bin/git"),
            ("/libexec/git-core/git-am", "link /bin/git"),
            ("/libexec/git-core/git-other", "file"),
            ("/libexec/git-core/git-ro", "file"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(p, k)| (p.to_string(), k.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_unreadable_source_stays_a_file() {
        let entries = [
            Entry::file("/a", "/nonexistent/elfroot-x", 0o644),
            Entry::file("/b", "/nonexistent/elfroot-x", 0o644),
        ];
        let got = kinds(&entries);
        assert!(got.iter().all(|(_, k)| k == "file"), "{got:?}");
    }
}
