//! A slimmed image is a subset of the image, not a rebuild: every kept
//! file, directory and link keeps its mode, owner and mtime from the image,
//! and so does every directory above them (the archive writer would
//! otherwise imply them as 0755 root directories of the writer's mtime).
//! What elfroot generates (the user database, the loader cache) keeps the
//! writer's mtime.

use std::collections::BTreeMap;
use std::path::Path;

use crate::archive::{Entry, EntryKind};
use crate::root::{Kind, Root};

/// `entries` planned from `root`, with their metadata from it and their
/// parent directories made explicit.
pub(super) fn from_image(root: &Root, entries: Vec<Entry>) -> Vec<Entry> {
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    for e in entries {
        let m = root.meta(Path::new(&e.path));
        let e = match (&e.kind, m) {
            (EntryKind::File { .. }, Some(m)) if m.kind == Kind::File => e.modified(m.mtime),
            (EntryKind::Dir, Some(m)) if m.kind == Kind::Dir => e.modified(m.mtime),
            (EntryKind::Symlink { .. }, Some(m)) if m.kind == Kind::Symlink => {
                e.owned(m.uid, m.gid).modified(m.mtime)
            }
            _ => e,
        };
        for dir in Path::new(&e.path).ancestors().skip(1) {
            let Some(d) = dir.to_str().filter(|d| *d != "/") else {
                continue;
            };
            if out.contains_key(d) {
                continue;
            }
            if let Some(m) = root.meta(dir).filter(|m| m.kind == Kind::Dir) {
                let entry = Entry::dir(d, m.mode).owned(m.uid, m.gid);
                out.insert(d.to_string(), entry.modified(m.mtime));
            }
        }
        out.insert(e.path.clone(), e);
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::write_tar;

    #[test]
    fn kept_objects_and_their_parents_keep_the_image_metadata() {
        let t = tempfile::tempdir().unwrap();
        let layer = t.path().join("l.tar");
        let image = [
            Entry::dir("/var/lib/app", 0o750)
                .owned(33, 33)
                .modified(1_600_000_000),
            Entry::data("/var/lib/app/state", "s", 0o640)
                .owned(33, 33)
                .modified(1_650_000_000),
        ];
        std::fs::write(&layer, write_tar(&image, 7, Vec::new()).unwrap()).unwrap();
        let root = Root::layers(&[layer]).unwrap();
        let planned = vec![
            Entry::file("/var/lib/app/state", "/staged/0", 0o640).owned(33, 33),
            Entry::data("/etc/passwd", "root:x:0:0::/:/bin/sh\n", 0o644),
        ];
        let got = from_image(&root, planned);
        let find = |p: &str| got.iter().find(|e| e.path == p).unwrap();
        assert_eq!(find("/var/lib/app/state").mtime, Some(1_650_000_000));
        let dir = find("/var/lib/app");
        assert_eq!(
            (dir.mode, dir.uid, dir.mtime),
            (0o750, 33, Some(1_600_000_000))
        );
        assert_eq!(
            find("/var/lib").mtime,
            Some(7),
            "implied by the layer, at its mtime"
        );
        assert_eq!(find("/etc/passwd").mtime, None, "generated");
    }
}
