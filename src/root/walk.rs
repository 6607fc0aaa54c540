//! Walking a directory tree inside a [`Root`] without following symbolic
//! links, so that a walk cannot leave the root: [`Root::walk_tree`] and
//! [`Root::walk_files`], and the size of what a walk met
//! ([`Root::files_size`]). Reads the root only through its lstat, readlink
//! and read_dir primitives (`super`), and which paths are one file.

use std::path::{Path, PathBuf};

use super::{Kind, Meta, Root};
use crate::error::{Error, Result};

/// One entry met while walking a directory tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Canonical path inside the root.
    pub path: PathBuf,
    /// What the entry is.
    pub kind: TreeKind,
    /// Permission bits.
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
}

/// What a [`TreeEntry`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target as written.
    Symlink(PathBuf),
    /// A device, socket or fifo: never copied.
    Other,
}

impl Root {
    /// Every regular file under the directory at canonical path `dir`, sorted,
    /// without following symbolic links (so the walk cannot leave the root).
    pub fn walk_files(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        Ok(self
            .walk_tree(dir)?
            .into_iter()
            .filter(|e| e.kind == TreeKind::File)
            .map(|e| e.path)
            .collect())
    }

    /// The bytes of the regular files among `entries` (from
    /// [`Root::walk_tree`]), what a bundle of them writes: the names of one
    /// file (hard links) count once.
    pub fn files_size(&self, entries: &[TreeEntry]) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let mut seen = std::collections::HashSet::new();
        let mut bytes = 0;
        for e in entries.iter().filter(|e| e.kind == TreeKind::File) {
            let (size, id) = match &self.tree {
                Some(t) => (
                    self.meta(&e.path).map_or(0, |m| m.size),
                    t.file_identity(&e.path),
                ),
                None => match std::fs::symlink_metadata(self.host_path(&e.path)) {
                    Ok(m) => (m.len(), (m.nlink() > 1).then(|| (m.dev(), m.ino(), 0))),
                    Err(_) => (0, None),
                },
            };
            if id.is_none_or(|id| seen.insert(id)) {
                bytes += size;
            }
        }
        bytes
    }

    /// Everything under the directory at canonical path `dir` (itself
    /// included), sorted, without following symbolic links.
    pub fn walk_tree(&self, dir: &Path) -> Result<Vec<TreeEntry>> {
        let mut out = Vec::new();
        let meta = self
            .lstat(dir)
            .map_err(|e| Error::io(self.host_path(dir), e))?;
        self.walk_into(dir, meta, &mut out)?;
        Ok(out)
    }

    fn walk_into(&self, path: &Path, meta: Meta, out: &mut Vec<TreeEntry>) -> Result<()> {
        let kind = match meta.kind {
            Kind::File => TreeKind::File,
            Kind::Dir => TreeKind::Dir,
            Kind::Symlink => TreeKind::Symlink(
                self.readlink(path)
                    .map_err(|e| Error::io(self.host_path(path), e))?,
            ),
            Kind::Other => TreeKind::Other,
        };
        out.push(TreeEntry {
            path: path.to_path_buf(),
            kind,
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
        });
        if meta.kind != Kind::Dir {
            return Ok(());
        }
        for name in self.read_dir(path)? {
            let child = path.join(&name);
            let m = self
                .lstat(&child)
                .map_err(|e| Error::io(self.host_path(&child), e))?;
            self.walk_into(&child, m, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn walks_sorted_without_following_links() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir_all(d.join("opt/b")).unwrap();
        fs::write(d.join("opt/b/file"), b"x").unwrap();
        fs::write(d.join("opt/a"), b"y").unwrap();
        symlink("/", d.join("opt/up")).unwrap();
        let root = Root::open(d).unwrap();
        let entries = root.walk_tree(Path::new("/opt")).unwrap();
        let seen: Vec<(&str, &TreeKind)> = entries
            .iter()
            .map(|e| (e.path.to_str().unwrap(), &e.kind))
            .collect();
        let up = TreeKind::Symlink(PathBuf::from("/"));
        assert_eq!(
            seen,
            [
                ("/opt", &TreeKind::Dir),
                ("/opt/a", &TreeKind::File),
                ("/opt/b", &TreeKind::Dir),
                ("/opt/b/file", &TreeKind::File),
                ("/opt/up", &up),
            ]
        );
        assert_eq!(
            root.walk_files(Path::new("/opt")).unwrap(),
            [PathBuf::from("/opt/a"), PathBuf::from("/opt/b/file")]
        );
        assert_eq!(root.files_size(&entries), 2);
        // A second name of one file adds nothing.
        fs::hard_link(d.join("opt/a"), d.join("opt/b/again")).unwrap();
        let entries = root.walk_tree(Path::new("/opt")).unwrap();
        assert_eq!(root.files_size(&entries), 2);
    }
}
