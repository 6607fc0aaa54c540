//! Reading one layer — a tar file (plain, gzip or zstd, decoded through
//! `archive::compress`) or a host directory — into the [`Item`]s
//! [`super::Tree`] applies. Owns the path normalisation, the whiteout names
//! and the choice of what contents to keep; uses the tree's node types,
//! `root`'s host reads and `archive::compress`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::LayerCheck;
use super::spool::Spool;
use super::{Data, Node, NodeKind};
use crate::archive::compress;
use crate::error::{Error, Result};
use crate::progress::{Counting, Progress};
use crate::root::{Kind, Meta, host};

/// Files up to this size are kept whole (in the spool, on disk), whatever
/// they are: a kept file that was not costs a second stream of its layer
/// up to it, and most of what a language runtime brings (the modules of
/// its standard library) is smaller.
pub(super) const KEEP_SMALL: u64 = 1 << 20;
/// The bytes kept of a file that is not kept whole.
const HEAD: usize = 4096;
/// The longest path an entry may have, in bytes: the kernel's PATH_MAX. A
/// longer one could not be opened in a container either; it is refused,
/// which also bounds the depth of the tree (at most 2048 directories).
pub(super) const PATH_MAX: usize = 4096;

/// Where an entry is: its layer's index and its place in that layer; and
/// the number of the spool its contents go to.
#[derive(Clone, Copy)]
struct Origin {
    layer: usize,
    entry: usize,
    spool: usize,
}

/// One entry of a layer, before whiteouts are applied.
pub(super) enum Item {
    /// An object at a path.
    Node(PathBuf, Node),
    /// A hard link at the first path to the object at the second.
    HardLink(PathBuf, PathBuf),
    /// `.wh.NAME`: the path NAME is deleted from the layers below.
    Whiteout(PathBuf),
    /// `.wh..wh..opq`: the directory is emptied of the layers below.
    Opaque(PathBuf),
}

/// The entries of the tar file at `path`, in order; `at` gives the
/// layer's index and the number of `spool`, which keeps the contents of
/// the files the analysis may read. `check` sees every byte of the file
/// (when it fails, its error is the layer's: a damaged blob says so
/// before anything its damage did).
pub(super) fn tar_layer(
    path: &Path,
    at: (usize, usize),
    progress: &dyn Progress,
    spool: &mut Spool,
    mut check: Option<Box<dyn LayerCheck>>,
) -> Result<Vec<Item>> {
    let io_err = |e: io::Error| Error::io(path, e);
    let file = File::open(path).map_err(io_err)?;
    let read = {
        let tap = Tap {
            file: &file,
            check: check.as_deref_mut(),
        };
        tar_entries(
            BufReader::new(Counting::new(tap, progress)),
            path,
            at,
            spool,
        )
    };
    if let Some(mut c) = check {
        // What the tar reader left (end blocks, a compressed trailer).
        io::copy(
            &mut Tap {
                file: &file,
                check: Some(&mut *c),
            },
            &mut io::sink(),
        )
        .map_err(io_err)?;
        c.finish()?;
    }
    read
}

/// Reads the file, showing every byte read to the check.
struct Tap<'a> {
    file: &'a File,
    check: Option<&'a mut (dyn LayerCheck + 'static)>,
}

impl Read for Tap<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if let Some(c) = &mut self.check {
            c.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// The entries of the tar file at `path`, read from `raw`.
fn tar_entries(
    raw: impl BufRead,
    path: &Path,
    (layer, spool_no): (usize, usize),
    spool: &mut Spool,
) -> Result<Vec<Item>> {
    let reader = compress::sniffed_decoder(raw).map_err(|e| Error::io(path, e))?;
    let bad = |e: io::Error| Error::Unsupported {
        path: path.to_path_buf(),
        reason: format!("not a directory or a readable layer tarball ({e})"),
    };
    let mut archive = tar::Archive::new(reader);
    let mut items = Vec::new();
    let mut entries = 0usize;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let at = Origin {
            layer,
            entry: entries,
            spool: spool_no,
        };
        entries += 1;
        let raw = entry.path().map_err(bad)?.into_owned();
        let Some(p) = normalise(&raw).map_err(|reason| Error::Unsupported {
            path: path.to_path_buf(),
            reason,
        })?
        else {
            continue;
        };
        items.extend(tar_item(&mut entry, p, at, spool).map_err(bad)?);
    }
    if entries == 0 {
        // tar reads an empty or non-tar file as an empty archive: say so.
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            reason: "not a layer tarball (no tar entry in it)".into(),
        });
    }
    Ok(items)
}

/// What the tar entry at `p` adds; None for entries that describe other
/// entries (pax headers, GNU long names) and hard links out of the layer.
fn tar_item<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    p: PathBuf,
    at: Origin,
    spool: &mut Spool,
) -> io::Result<Option<Item>> {
    let header = entry.header();
    let mtime = header.mtime().unwrap_or(0);
    let mut size = 0;
    let mode = header.mode().unwrap_or(0o644) & 0o7777;
    let owner = |id: io::Result<u64>| id.ok().and_then(|id| u32::try_from(id).ok()).unwrap_or(0);
    let (uid, gid) = (owner(header.uid()), owner(header.gid()));
    let kind = header.entry_type();
    let node_kind = if kind.is_dir() {
        NodeKind::Dir
    } else if kind.is_symlink() {
        NodeKind::Symlink(link_name(entry)?)
    } else if kind.is_hard_link() {
        let target = normalise(&link_name(entry)?).ok().flatten();
        return Ok(target.map(|t| Item::HardLink(p, t)));
    } else if kind.is_file() || kind == tar::EntryType::Continuous {
        size = entry.header().size().unwrap_or(0);
        NodeKind::File(file_data(entry, (&p, size), at, spool)?)
    } else if kind.is_pax_global_extensions()
        || kind.is_pax_local_extensions()
        || kind.is_gnu_longname()
        || kind.is_gnu_longlink()
    {
        return Ok(None);
    } else {
        NodeKind::Other
    };
    let mode = match node_kind {
        NodeKind::Symlink(_) => 0o777,
        _ => mode,
    };
    let node = Node {
        kind: node_kind,
        mode,
        uid,
        gid,
        mtime,
        size,
    };
    Ok(Some(classify(p, node)))
}

/// The target of a link entry, as written.
fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> io::Result<PathBuf> {
    Ok(entry
        .link_name()?
        .map(|t| t.into_owned())
        .unwrap_or_default())
}

/// The contents of a file entry at `path`: whole when the analysis may read
/// it, else only the first bytes.
fn file_data(
    entry: &mut impl Read,
    (path, size): (&Path, u64),
    at: Origin,
    spool: &mut Spool,
) -> io::Result<Data> {
    let mut head = Vec::with_capacity(HEAD);
    entry.by_ref().take(HEAD as u64).read_to_end(&mut head)?;
    Ok(if head.len() < HEAD {
        // All of it already.
        Data::Bytes(Arc::new(head))
    } else if keep_whole(path, size, &head) {
        let (offset, len) = spool.append(&head, entry)?;
        Data::Spooled {
            head: Arc::new(head),
            spool: at.spool,
            offset,
            len,
        }
    } else {
        Data::Head {
            head: Arc::new(head),
            layer: at.layer,
            entry: at.entry,
        }
    })
}

fn keep_whole(path: &Path, size: u64, head: &[u8]) -> bool {
    size <= KEEP_SMALL
        || head.starts_with(b"\x7fELF")
        || head.starts_with(b"#!")
        || path.starts_with("/etc")
        // The package databases (and the licenses they point to) are read too.
        || path.starts_with("/var/lib/dpkg")
        || path.starts_with("/lib/apk/db")
        || path.starts_with("/var/lib/rpm")
        || path.starts_with("/usr/lib/sysimage/rpm")
        || (path.starts_with("/usr/share/doc") && path.ends_with("copyright"))
}

/// The entries of the directory layer at `dir`, parents first; file
/// contents stay on the host until read.
pub(super) fn dir_layer(dir: &Path) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| {
            let p = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| dir.to_path_buf());
            Error::io(
                p,
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("walk")),
            )
        })?;
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let Some(p) = normalise(rel).map_err(|reason| Error::Unsupported {
            path: entry.path().to_path_buf(),
            reason,
        })?
        else {
            continue;
        };
        let host = entry.path();
        let Meta {
            kind,
            mode,
            uid,
            gid,
            mtime,
            size,
        } = host::lstat(host).map_err(|e| Error::io(host, e))?;
        let kind = match kind {
            Kind::Symlink => {
                NodeKind::Symlink(std::fs::read_link(host).map_err(|e| Error::io(host, e))?)
            }
            Kind::Dir => NodeKind::Dir,
            Kind::File => NodeKind::File(Data::Host(host.to_path_buf())),
            Kind::Other => NodeKind::Other,
        };
        let node = Node {
            kind,
            mode,
            uid,
            gid,
            mtime,
            size,
        };
        items.push(classify(p, node));
    }
    Ok(items)
}

/// `./usr/bin/x`, `usr/bin/x/` -> `/usr/bin/x`; None for paths that climb
/// out; an error for a path longer than [`PATH_MAX`].
fn normalise(p: &Path) -> std::result::Result<Option<PathBuf>, String> {
    let len = p.as_os_str().len();
    if len > PATH_MAX {
        return Err(format!(
            "an entry's path is {len} bytes long, more than PATH_MAX ({PATH_MAX})"
        ));
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// Sorts a layer path into a whiteout, an opaque marker or a plain path.
fn classify(path: PathBuf, node: Node) -> Item {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let parent = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    match name.as_deref() {
        Some(".wh..wh..opq") => Item::Opaque(parent),
        Some(n) if n.starts_with(".wh.") => Item::Whiteout(parent.join(&n[4..])),
        _ => Item::Node(path, node),
    }
}

#[cfg(test)]
mod keep_tests {
    use super::*;

    #[test]
    fn package_databases_are_kept_whole_whatever_their_size() {
        let big = 10 << 20;
        for p in [
            "/var/lib/dpkg/status",
            "/var/lib/dpkg/info/libc6:amd64.list",
            "/lib/apk/db/installed",
            "/var/lib/rpm/rpmdb.sqlite",
            "/usr/lib/sysimage/rpm/rpmdb.sqlite",
            "/usr/share/doc/libc6/copyright",
            "/etc/big.conf",
        ] {
            assert!(keep_whole(Path::new(p), big, b"Package: x"), "{p}");
        }
        assert!(!keep_whole(
            Path::new("/usr/share/doc/libc6/changelog.gz"),
            big,
            b"\x1f\x8b"
        ));
        assert!(!keep_whole(Path::new("/usr/share/big.dat"), big, b"data"));
    }
}
