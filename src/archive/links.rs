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
//!
//! The writers ask as they write each file, with the metadata of the
//! source they have just opened ([`super::copy::open`]): no file is looked
//! at twice.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use super::plan::Item;

/// The first file item written of each host file, by (device, inode).
#[derive(Default)]
pub(crate) struct Links<'a> {
    first: HashMap<(u64, u64), Item<'a>>,
}

impl<'a> Links<'a> {
    /// For the file `item`, whose source is open and has `meta`: the path
    /// of the file written before it from the same host file, with the
    /// same metadata, that it is to be a hard link to; None when it is a
    /// copy (the first of its host file is remembered as such).
    pub(crate) fn earlier(&mut self, item: &Item<'a>, meta: &Metadata) -> Option<&'a str> {
        match self.first.entry((meta.dev(), meta.ino())) {
            Slot::Vacant(v) => {
                v.insert(*item);
                None
            }
            Slot::Occupied(o) => {
                let target = o.get();
                let same = (target.mode, target.uid, target.gid, target.mtime)
                    == (item.mode, item.uid, item.gid, item.mtime);
                same.then_some(target.path)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::plan::{ItemKind, plan};
    use crate::archive::{Entry, copy};
    use std::fs;

    /// Each item's path and what a writer makes of it.
    fn kinds(entries: &[Entry]) -> Vec<(String, String)> {
        let items = plan(entries).unwrap();
        let mut links = Links::default();
        items
            .iter()
            .map(|i| {
                let kind = match i.kind {
                    ItemKind::File(source) => match copy::open(source) {
                        Ok((_, meta)) => match links.earlier(i, &meta) {
                            Some(t) => format!("link {t}"),
                            None => "file".to_string(),
                        },
                        Err(_) => "unreadable".to_string(),
                    },
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
    fn the_first_copy_decides_even_when_its_mode_differs() {
        // As a hard link must equal its target: a later name with the
        // first's mode links to it; one with another mode stays a copy,
        // even when a name before it had that mode too.
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(&a, "x").unwrap();
        let entries = [
            Entry::file("/a", &a, 0o644),
            Entry::file("/b", &a, 0o600),
            Entry::file("/c", &a, 0o600),
            Entry::file("/d", &a, 0o644),
        ];
        let got: Vec<String> = kinds(&entries).into_iter().map(|(_, k)| k).collect();
        assert_eq!(got, ["file", "file", "file", "link /a"]);
    }

    #[test]
    fn an_unreadable_source_is_not_a_link() {
        let entries = [
            Entry::file("/a", "/nonexistent/elfroot-x", 0o644),
            Entry::file("/b", "/nonexistent/elfroot-x", 0o644),
        ];
        let got = kinds(&entries);
        assert!(got.iter().all(|(_, k)| k == "unreadable"), "{got:?}");
    }
}
