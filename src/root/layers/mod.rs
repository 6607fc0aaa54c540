//! A root file system made of image layers, held in memory.
//!
//! Each layer is a directory or a tar file (plain, gzip or zstd, told apart
//! by their magic bytes); every object keeps its mode and numeric owner. Layers apply in order with the OCI whiteout rules:
//! `.wh.NAME` deletes NAME from the layers below, `.wh..wh..opq` empties its
//! directory of everything from below. Contents are kept for what the
//! analysis reads — ELF files, scripts, /etc, small files — and only the
//! first bytes of anything else, so large images fit without unpacking.
//!
//! This file owns the merged [`Tree`] and the whiteout rules and answers the
//! primitives of [`super::Root`] from it; `read` turns one layer into
//! entries. Uses `root`'s types and host reads, and `archive::compress`
//! (through `read`).

mod extract;
mod load;
mod read;
mod spool;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Contents, Kind, Meta, PathMap, host};
use crate::error::Result;
pub use load::{Layer, LayerCheck};
use read::Item;

/// Where a file's contents are.
#[derive(Debug, Clone)]
enum Data {
    /// All of them, in memory.
    Bytes(Arc<Vec<u8>>),
    /// A file of a directory layer: read when asked.
    Host(PathBuf),
    /// Kept whole in the tree's spool number `spool`, at `offset`, `len`
    /// long; `head` holds the first bytes.
    Spooled {
        head: Arc<Vec<u8>>,
        spool: usize,
        offset: u64,
        len: u64,
    },
    /// Only the first bytes were kept; the whole is entry `entry` (counted
    /// from 0) of layer `layer` (an index into [`Tree::layers`]).
    Head {
        head: Arc<Vec<u8>>,
        layer: usize,
        entry: usize,
    },
}

/// One object of the tree: what it is, its permission bits and its
/// numeric owner (from the tar header or the directory layer's lstat).
#[derive(Debug, Clone)]
struct Node {
    kind: NodeKind,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    /// The size of a regular file's whole contents.
    size: u64,
}

/// What a [`Node`] is.
#[derive(Debug, Clone)]
enum NodeKind {
    Dir,
    File(Data),
    Symlink(PathBuf),
    Other,
}

impl Node {
    /// An object owned by 0:0 (implied directories, objects described in memory).
    fn new(kind: NodeKind, mode: u32) -> Node {
        Node {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: 0,
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.kind, NodeKind::Dir)
    }
}

/// The merged tree of all layers.
#[derive(Debug, Default)]
pub struct Tree {
    /// The layer files, bottom first (the files a [`Data::Head`] names).
    layers: Vec<PathBuf>,
    /// By path (as bytes: hashed whole, not component by component).
    nodes: PathMap<Node>,
    children: PathMap<BTreeSet<OsString>>,
    /// Where the files kept whole are: the spool of each thread that read
    /// layers (None when it read no tar layer).
    spools: Vec<Option<spool::Spool>>,
}

/// A file-system object described in memory (see [`Tree::from_virtual`]).
#[derive(Debug, Clone)]
pub enum Virtual {
    /// A directory.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// A file whose contents are the host file's.
    File {
        /// Permission bits.
        mode: u32,
        /// The host file holding the contents.
        host: PathBuf,
    },
    /// A file with these contents.
    Data {
        /// Permission bits.
        mode: u32,
        /// The contents.
        bytes: Vec<u8>,
    },
    /// A symbolic link to this target, as written.
    Symlink(PathBuf),
}

impl Tree {
    /// Applies `layers` in order.
    pub fn load(layers: &[PathBuf]) -> Result<Tree> {
        Tree::load_checked(Layer::unchecked(layers), &crate::progress::Silent)
    }

    /// `layers` applied in order, then the given objects on top (paths
    /// absolute, parents created as needed): a planned bundle, on its base
    /// image if it has one, checked before it is written.
    pub fn from_virtual(layers: &[PathBuf], items: Vec<(PathBuf, Virtual)>) -> Result<Tree> {
        let mut t = Tree::load(layers)?;
        for (path, v) in items {
            let node = match v {
                Virtual::Dir { mode } => Node::new(NodeKind::Dir, mode),
                Virtual::File { mode, host } => Node::new(NodeKind::File(Data::Host(host)), mode),
                Virtual::Data { mode, bytes } => {
                    Node::new(NodeKind::File(Data::Bytes(Arc::new(bytes))), mode)
                }
                Virtual::Symlink(target) => Node::new(NodeKind::Symlink(target), 0o777),
            };
            t.insert(path, node);
        }
        Ok(t)
    }

    fn apply(&mut self, items: Vec<Item>) {
        // Whiteouts hide what is below this layer, never what it adds itself.
        for item in &items {
            match item {
                Item::Whiteout(p) => self.remove(p),
                Item::Opaque(dir) => {
                    let kids: Vec<OsString> = self
                        .children
                        .get(dir.as_os_str())
                        .map(|k| k.iter().cloned().collect())
                        .unwrap_or_default();
                    for k in kids {
                        self.remove(&dir.join(k));
                    }
                }
                _ => {}
            }
        }
        for item in items {
            match item {
                Item::Node(p, n) => self.insert(p, n),
                Item::HardLink(p, target) => {
                    if let Some(n) = self.nodes.get(target.as_os_str()).cloned() {
                        self.insert(p, n);
                    }
                }
                Item::Whiteout(_) | Item::Opaque(_) => {}
            }
        }
    }

    fn insert(&mut self, path: PathBuf, node: Node) {
        if path == Path::new("/") {
            if node.is_dir() {
                self.nodes.insert(path.into_os_string(), node);
            }
            return;
        }
        let Some(parent) = path.parent().map(Path::to_path_buf) else {
            return;
        };
        self.make_dirs(&parent);
        let replacing_dir = self.nodes.get(path.as_os_str()).is_some_and(Node::is_dir);
        if replacing_dir && node.is_dir() {
            self.nodes.insert(path.into_os_string(), node);
            return;
        }
        self.remove(&path);
        if let Some(name) = path.file_name() {
            self.children
                .entry(parent.into_os_string())
                .or_default()
                .insert(name.to_os_string());
        }
        self.nodes.insert(path.into_os_string(), node);
    }

    /// Makes `dir` and every missing ancestor a directory, top down, as a
    /// tar that lists a file before its directories implies them.
    fn make_dirs(&mut self, dir: &Path) {
        let missing: Vec<&Path> = dir
            .ancestors()
            .take_while(|a| !self.nodes.get(a.as_os_str()).is_some_and(Node::is_dir))
            .collect();
        for a in missing.into_iter().rev() {
            self.insert(a.to_path_buf(), Node::new(NodeKind::Dir, 0o755));
        }
    }

    /// Removes `path` and everything under it (iteratively: a tree is as
    /// deep as its layers say).
    fn remove(&mut self, path: &Path) {
        if self.nodes.remove(path.as_os_str()).is_none() {
            return;
        }
        if let (Some(parent), Some(name)) = (path.parent(), path.file_name())
            && let Some(set) = self.children.get_mut(parent.as_os_str())
        {
            set.remove(name);
        }
        let mut stack = vec![path.to_path_buf()];
        while let Some(p) = stack.pop() {
            self.nodes.remove(p.as_os_str());
            if let Some(kids) = self.children.remove(p.as_os_str()) {
                stack.extend(kids.into_iter().map(|k| p.join(k)));
            }
        }
    }

    /// What tells the contents of the file at `path` apart: the same for
    /// the names of one file (a layer's hard link is a copy of its target's
    /// node), None for a directory layer's files and what is not a file.
    pub(super) fn file_identity(&self, path: &Path) -> Option<(u64, u64, u64)> {
        match &self.nodes.get(path.as_os_str())?.kind {
            NodeKind::File(Data::Bytes(b)) => Some((0, Arc::as_ptr(b) as u64, 0)),
            NodeKind::File(Data::Spooled { spool, offset, .. }) => {
                Some((1, *spool as u64, *offset))
            }
            NodeKind::File(Data::Head { layer, entry, .. }) => {
                Some((2, *layer as u64, *entry as u64))
            }
            _ => None,
        }
    }

    pub(super) fn lstat(&self, path: &Path) -> io::Result<Meta> {
        let node = self
            .nodes
            .get(path.as_os_str())
            .ok_or(io::ErrorKind::NotFound)?;
        Ok(Meta {
            kind: match node.kind {
                NodeKind::Dir => Kind::Dir,
                NodeKind::File(_) => Kind::File,
                NodeKind::Symlink(_) => Kind::Symlink,
                NodeKind::Other => Kind::Other,
            },
            mode: node.mode,
            uid: node.uid,
            gid: node.gid,
            mtime: node.mtime,
            size: node.size,
        })
    }

    /// What is at `path`: NotFound when nothing is.
    fn kind(&self, path: &Path) -> io::Result<&NodeKind> {
        match self.nodes.get(path.as_os_str()) {
            Some(n) => Ok(&n.kind),
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }

    pub(super) fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
        match self.kind(path)? {
            NodeKind::Symlink(t) => Ok(t.clone()),
            _ => Err(io::Error::from_raw_os_error(22)),
        }
    }

    pub(super) fn contents(&self, path: &Path) -> io::Result<Contents> {
        match self.kind(path)? {
            NodeKind::File(Data::Bytes(b)) => Ok(Contents::Shared(b.clone())),
            NodeKind::File(Data::Host(p)) => host::read_file(p),
            NodeKind::File(Data::Spooled {
                spool, offset, len, ..
            }) => self.spool(*spool)?.contents(*offset, *len),
            NodeKind::File(Data::Head { .. }) => Err(io::Error::other(
                "only the first bytes of this file were kept from its layer",
            )),
            _ => Err(io::Error::from_raw_os_error(21)),
        }
    }

    pub(super) fn head(&self, path: &Path, n: usize) -> io::Result<Vec<u8>> {
        match self.kind(path)? {
            NodeKind::File(
                Data::Bytes(b) | Data::Head { head: b, .. } | Data::Spooled { head: b, .. },
            ) => Ok(b[..n.min(b.len())].to_vec()),
            NodeKind::File(Data::Host(p)) => host::head(p, n),
            _ => Err(io::Error::from_raw_os_error(21)),
        }
    }

    /// The spool number `n`.
    fn spool(&self, n: usize) -> io::Result<&spool::Spool> {
        self.spools
            .get(n)
            .and_then(Option::as_ref)
            .ok_or_else(|| io::Error::other("a spooled file without a spool"))
    }

    pub(super) fn read_dir(&self, path: &Path) -> Vec<OsString> {
        self.children
            .get(path.as_os_str())
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(super) fn source_of(&self, path: &Path) -> Option<PathBuf> {
        match self.kind(path).ok()? {
            NodeKind::File(Data::Host(p)) => Some(p.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Entry, write_tar};

    fn layer(dir: &Path, name: &str, entries: &[Entry]) -> PathBuf {
        let path = dir.join(name);
        let bytes = write_tar(entries, 0, Vec::new()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_lower_layers_only() {
        let t = tempfile::tempdir().unwrap();
        let base = layer(
            t.path(),
            "base.tar",
            &[
                Entry::data("/etc/a", "a", 0o644),
                Entry::data("/etc/b", "b", 0o644),
                Entry::data("/opt/x/one", "1", 0o644),
                Entry::data("/opt/x/two", "2", 0o644),
                Entry::symlink("/lib", "usr/lib"),
            ],
        );
        let upper = layer(
            t.path(),
            "upper.tar",
            &[
                Entry::data("/etc/.wh.a", "", 0o644),
                Entry::data("/opt/x/.wh..wh..opq", "", 0o644),
                Entry::data("/opt/x/three", "3", 0o644),
                Entry::data("/etc/c", "c", 0o600),
            ],
        );
        let tree = Tree::load(&[base, upper]).unwrap();
        let names = |p: &str| -> Vec<String> {
            tree.read_dir(Path::new(p))
                .iter()
                .map(|n| n.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("/etc"), ["b", "c"]);
        assert_eq!(
            names("/opt/x"),
            ["three"],
            "opaque: only this layer's entries"
        );
        assert_eq!(
            tree.readlink(Path::new("/lib")).unwrap(),
            Path::new("usr/lib")
        );
        assert_eq!(tree.lstat(Path::new("/etc/c")).unwrap().mode, 0o600);
        assert_eq!(&*tree.contents(Path::new("/etc/b")).unwrap(), b"b");
        assert!(tree.lstat(Path::new("/etc/a")).is_err());
    }

    #[test]
    fn owners_come_from_tar_headers() {
        let t = tempfile::tempdir().unwrap();
        let l = layer(
            t.path(),
            "l.tar",
            &[
                Entry::dir("/var/lib/nginx", 0o700).owned(33, 34),
                Entry::data("/var/lib/nginx/f", "x", 0o600).owned(33, 34),
                Entry::data("/etc/passwd", "", 0o644),
            ],
        );
        let tree = Tree::load(&[l]).unwrap();
        let owner = |p: &str| {
            let m = tree.lstat(Path::new(p)).unwrap();
            (m.uid, m.gid)
        };
        assert_eq!(owner("/var/lib/nginx"), (33, 34));
        assert_eq!(owner("/var/lib/nginx/f"), (33, 34));
        assert_eq!(owner("/etc/passwd"), (0, 0));
        assert_eq!(owner("/var"), (0, 0), "implied by the tar");
    }

    #[test]
    fn compressed_layers_are_read_by_their_magic() {
        let t = tempfile::tempdir().unwrap();
        let entries = [Entry::data("/hello", "hi", 0o644)];
        let plain = write_tar(&entries, 0, Vec::new()).unwrap();
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&plain).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(&plain[..], 1).unwrap();
        for (name, bytes) in [("a.tar.gz", gz), ("a.tar.zst", zst), ("a.bin", plain)] {
            let p = t.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let tree = Tree::load(&[p]).unwrap();
            assert_eq!(
                &*tree.contents(Path::new("/hello")).unwrap(),
                b"hi",
                "{name}"
            );
        }
    }
}
