//! Every file-system access, confined to one root file system.
//!
//! Paths handed to a [`Root`] are paths *inside* it, as a process chrooted
//! there would see them. Symbolic links are followed by hand, one component at
//! a time: an absolute target restarts at the root, `..` never climbs above it,
//! and a chain of more than 40 links is a loop, as for the kernel. Nothing else
//! in the crate calls `std::fs` on a root.
//!
//! A root is a host directory, or a stack of image layers (directories and
//! tar files, see [`layers`]) read into memory without unpacking; the path
//! logic above works the same on both through four primitives (lstat,
//! readlink, read, read_dir).

pub mod layers;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::ops::Deref;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The kernel's limit on symbolic links followed while resolving one path.
const MAX_SYMLINKS: u32 = 40;

/// A root file system: the host's `/`, a directory standing in for it, or
/// a stack of layers.
#[derive(Debug)]
pub struct Root {
    dir: PathBuf,
    host: bool,
    /// Set when the root is a stack of layers held in memory.
    tree: Option<layers::Tree>,
    /// Logical directory -> canonical directory inside the root (None: absent).
    dirs: RefCell<HashMap<PathBuf, Option<PathBuf>>>,
}

/// The contents of a file: mapped when it is large, read when it is small.
pub enum Contents {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
    Shared(std::sync::Arc<Vec<u8>>),
}

impl Deref for Contents {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Contents::Mapped(m) => m,
            Contents::Read(v) => v,
            Contents::Shared(v) => v,
        }
    }
}

/// What lstat says, the same for a host directory and for layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
}

/// The type of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

impl Meta {
    fn of(m: &fs::Metadata) -> Meta {
        use std::os::unix::fs::PermissionsExt;
        let ft = m.file_type();
        Meta {
            kind: if ft.is_symlink() {
                Kind::Symlink
            } else if ft.is_dir() {
                Kind::Dir
            } else if ft.is_file() {
                Kind::File
            } else {
                Kind::Other
            },
            mode: m.permissions().mode() & 0o7777,
        }
    }
    fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
    fn is_file(&self) -> bool {
        self.kind == Kind::File
    }
}

/// A path followed to its end, with the symbolic links on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The canonical path inside the root.
    pub real: PathBuf,
    /// Each link met: (its canonical path, its target as written).
    pub links: Vec<(PathBuf, PathBuf)>,
    pub is_dir: bool,
    pub is_file: bool,
    /// Permission bits of what is at the end.
    pub mode: u32,
}

/// What a path inside the root turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A regular file, at this canonical path inside the root.
    File(PathBuf),
    /// A directory, at this canonical path inside the root.
    Dir(PathBuf),
    /// Something else that exists (a device, a socket...).
    Other(PathBuf),
    /// Nothing there.
    Absent,
}

impl Root {
    /// The host's own root file system.
    pub fn host() -> Root {
        Root {
            dir: PathBuf::from("/"),
            host: true,
            tree: None,
            dirs: RefCell::default(),
        }
    }

    /// A root file system at `dir` on the host. `/` is the host itself.
    pub fn open(dir: &Path) -> Result<Root> {
        let canon = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        if !canon.is_dir() {
            return Err(Error::Usage(format!("{}: not a directory", dir.display())));
        }
        if canon == Path::new("/") {
            return Ok(Root::host());
        }
        Ok(Root {
            dir: canon,
            host: false,
            tree: None,
            dirs: RefCell::default(),
        })
    }

    /// A root made of image layers applied in order (directories and tar
    /// files, OCI whiteouts honoured), held in memory. One directory alone
    /// is simply that directory.
    pub fn layers(layers: &[PathBuf]) -> Result<Root> {
        if let [one] = layers
            && one.is_dir()
        {
            return Root::open(one);
        }
        let tree = layers::Tree::load(layers)?;
        Ok(Root {
            dir: PathBuf::from(
                layers
                    .iter()
                    .map(|l| l.display().to_string())
                    .collect::<Vec<_>>()
                    .join("+"),
            ),
            host: false,
            tree: Some(tree),
            dirs: RefCell::default(),
        })
    }

    /// A root made of `layers` and then objects described in memory on top
    /// (a bundle before it is written, on its base image's layers).
    pub fn from_virtual(
        name: &str,
        layers: &[PathBuf],
        items: Vec<(PathBuf, layers::Virtual)>,
    ) -> Result<Root> {
        Ok(Root {
            dir: PathBuf::from(name),
            host: false,
            tree: Some(layers::Tree::from_virtual(layers, items)?),
            dirs: RefCell::default(),
        })
    }

    fn lstat(&self, inner: &Path) -> io::Result<Meta> {
        match &self.tree {
            Some(t) => t.lstat(inner),
            None => fs::symlink_metadata(self.host_path(inner)).map(|m| Meta::of(&m)),
        }
    }

    fn readlink(&self, inner: &Path) -> io::Result<PathBuf> {
        match &self.tree {
            Some(t) => t.readlink(inner),
            None => fs::read_link(self.host_path(inner)),
        }
    }

    /// The host file behind a canonical path, for copying it elsewhere.
    pub fn source_of(&self, real: &Path) -> Result<PathBuf> {
        match &self.tree {
            None => Ok(self.host_path(real)),
            Some(t) => t.source_of(real).ok_or_else(|| Error::Unsupported {
                path: real.to_path_buf(),
                reason: "a file inside a layer tarball cannot be copied from here".into(),
            }),
        }
    }

    /// True when this is the host's own `/`.
    pub fn is_host(&self) -> bool {
        self.host
    }

    /// The root's directory on the host.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An input path made absolute: on the host a relative path is relative
    /// to the working directory; in another root, to the root's `/`.
    pub fn absolute(&self, input: &Path) -> PathBuf {
        if input.is_absolute() {
            return input.to_path_buf();
        }
        if self.host
            && let Ok(cwd) = std::env::current_dir()
        {
            return cwd.join(input);
        }
        Path::new("/").join(input)
    }

    /// Where a canonical path inside the root lives on the host.
    pub fn host_path(&self, inner: &Path) -> PathBuf {
        if self.host {
            return inner.to_path_buf();
        }
        let rel = inner.strip_prefix("/").unwrap_or(inner);
        self.dir.join(rel)
    }

    /// The path inside the root of a host path under the root's directory.
    pub fn inner_path(&self, host: &Path) -> Option<PathBuf> {
        if self.host {
            return Some(host.to_path_buf());
        }
        let rel = host.strip_prefix(&self.dir).ok()?;
        Some(Path::new("/").join(rel))
    }

    /// Follows `path` inside the root and says what is there.
    pub fn lookup(&self, path: &Path) -> Result<Lookup> {
        self.lookup_hops(path, 0)
    }

    /// Canonical path of the regular file at `path`, or None when absent or not a file.
    pub fn resolve_file(&self, path: &Path) -> Result<Option<PathBuf>> {
        Ok(match self.lookup(path)? {
            Lookup::File(p) => Some(p),
            _ => None,
        })
    }

    /// Canonical path of the directory at `path`, remembered for the rest of the run.
    pub fn resolve_dir(&self, path: &Path) -> Result<Option<PathBuf>> {
        if let Some(hit) = self.dirs.borrow().get(path) {
            return Ok(hit.clone());
        }
        let found = match self.walk(path, 0)? {
            Some((p, meta)) if meta.is_dir() => Some(p),
            _ => None,
        };
        self.dirs
            .borrow_mut()
            .insert(path.to_path_buf(), found.clone());
        Ok(found)
    }

    fn lookup_hops(&self, path: &Path, hops: u32) -> Result<Lookup> {
        let (parent, name) = match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => {
                return Ok(match self.walk(path, hops)? {
                    Some((p, m)) => classify(p, &m),
                    None => Lookup::Absent,
                });
            }
        };
        let Some(dir) = self.resolve_dir(parent)? else {
            return Ok(Lookup::Absent);
        };
        let inner = dir.join(name);
        let meta = match self.lstat(&inner) {
            Ok(m) => m,
            Err(e) if absent(&e) => return Ok(Lookup::Absent),
            Err(e) => return Err(Error::io(self.host_path(&inner), e)),
        };
        if meta.kind != Kind::Symlink {
            return Ok(classify(inner, &meta));
        }
        if hops >= MAX_SYMLINKS {
            return Err(Error::SymlinkLoop {
                path: path.to_path_buf(),
            });
        }
        let target = self
            .readlink(&inner)
            .map_err(|e| Error::io(self.host_path(&inner), e))?;
        let next = if target.is_absolute() {
            target
        } else {
            dir.join(target)
        };
        match self.lookup_hops(&next, hops + 1) {
            Err(Error::SymlinkLoop { .. }) => Err(Error::SymlinkLoop {
                path: path.to_path_buf(),
            }),
            other => other,
        }
    }

    /// Resolves every component of `path`; None when something on the way is absent.
    fn walk(&self, path: &Path, hops: u32) -> Result<Option<(PathBuf, Meta)>> {
        self.walk_recording(path, hops, &mut Vec::new())
    }

    /// Follows `path` and records every symbolic link met on the way, as
    /// (canonical path of the link, its target as written), so that a copy of
    /// the path elsewhere can be given the same links.
    pub fn trace(&self, path: &Path) -> Result<Option<Trace>> {
        let mut links = Vec::new();
        Ok(self
            .walk_recording(path, 0, &mut links)?
            .map(|(real, meta)| Trace {
                real,
                links,
                is_dir: meta.is_dir(),
                is_file: meta.is_file(),
                mode: meta.mode,
            }))
    }

    fn walk_recording(
        &self,
        path: &Path,
        mut hops: u32,
        links: &mut Vec<(PathBuf, PathBuf)>,
    ) -> Result<Option<(PathBuf, Meta)>> {
        let mut pending: Vec<OsString> = Vec::new();
        push_components(&mut pending, path);
        let mut cur = PathBuf::from("/");
        let top = Path::new("/");
        let mut meta = self.lstat(top).map_err(|e| Error::io(&self.dir, e))?;
        while let Some(comp) = pending.pop() {
            if comp == ".." {
                cur.pop();
                meta = self
                    .lstat(&cur)
                    .map_err(|e| Error::io(self.host_path(&cur), e))?;
                continue;
            }
            if !meta.is_dir() {
                return Ok(None);
            }
            let next = cur.join(&comp);
            let m = match self.lstat(&next) {
                Ok(m) => m,
                Err(e) if absent(&e) => return Ok(None),
                Err(e) => return Err(Error::io(self.host_path(&next), e)),
            };
            if m.kind == Kind::Symlink {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(Error::SymlinkLoop {
                        path: path.to_path_buf(),
                    });
                }
                let target = self
                    .readlink(&next)
                    .map_err(|e| Error::io(self.host_path(&next), e))?;
                links.push((next, target.clone()));
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                    meta = self.lstat(top).map_err(|e| Error::io(&self.dir, e))?;
                }
                push_components(&mut pending, &target);
                continue;
            }
            cur = next;
            meta = m;
        }
        Ok(Some((cur, meta)))
    }

    /// True when a symbolic link sits at `path` itself (used to explain a dangling input).
    pub fn link_target(&self, path: &Path) -> Option<PathBuf> {
        let parent = self.resolve_dir(path.parent()?).ok()??;
        self.readlink(&parent.join(path.file_name()?)).ok()
    }

    /// Maps or reads the file at the canonical path `real`.
    pub fn contents(&self, real: &Path) -> Result<Contents> {
        if let Some(t) = &self.tree {
            return t.contents(real).map_err(|e| Error::io(real, e));
        }
        let host = self.host_path(real);
        read_host_file(&host).map_err(|e| Error::io(&host, e))
    }

    /// Reads the first bytes of the file at the canonical path `real`.
    pub fn head(&self, real: &Path, n: usize) -> Result<Vec<u8>> {
        if let Some(t) = &self.tree {
            return t.head(real, n).map_err(|e| Error::io(real, e));
        }
        let host = self.host_path(real);
        let file = File::open(&host).map_err(|e| Error::io(&host, e))?;
        let mut buf = Vec::with_capacity(n);
        file.take(n as u64)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(&host, e))?;
        Ok(buf)
    }

    /// The text of a file inside the root, or None when it does not exist.
    pub fn read_to_string(&self, path: &Path) -> Result<Option<String>> {
        let Some(real) = self.resolve_file(path)? else {
            return Ok(None);
        };
        let bytes = self.contents(&real)?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The names in a directory inside the root, sorted; empty when it does not exist.
    pub fn list_dir(&self, path: &Path) -> Result<Vec<OsString>> {
        let Some(dir) = self.resolve_dir(path)? else {
            return Ok(Vec::new());
        };
        if let Some(t) = &self.tree {
            return Ok(t.read_dir(&dir));
        }
        let host = self.host_path(&dir);
        let mut names = Vec::new();
        for entry in fs::read_dir(&host).map_err(|e| Error::io(&host, e))? {
            let entry = entry.map_err(|e| Error::io(&host, e))?;
            names.push(entry.file_name());
        }
        names.sort();
        Ok(names)
    }

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
        });
        if meta.kind != Kind::Dir {
            return Ok(());
        }
        let names = match &self.tree {
            Some(t) => t.read_dir(path),
            None => {
                let host = self.host_path(path);
                let mut names = Vec::new();
                for entry in fs::read_dir(&host).map_err(|e| Error::io(&host, e))? {
                    names.push(entry.map_err(|e| Error::io(&host, e))?.file_name());
                }
                names.sort();
                names
            }
        };
        for name in names {
            let child = path.join(&name);
            let m = self
                .lstat(&child)
                .map_err(|e| Error::io(self.host_path(&child), e))?;
            self.walk_into(&child, m, out)?;
        }
        Ok(())
    }
}

/// One entry met while walking a directory tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Canonical path inside the root.
    pub path: PathBuf,
    pub kind: TreeKind,
    /// Permission bits.
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeKind {
    File,
    Dir,
    /// A symbolic link and its target as written.
    Symlink(PathBuf),
    /// A device, socket or fifo: never copied.
    Other,
}

/// A host file's contents: mapped when large (only the pages the ELF
/// reader touches are read), read when small.
pub(crate) fn read_host_file(host: &Path) -> io::Result<Contents> {
    let file = File::open(host)?;
    let len = file.metadata()?.len();
    if len < 64 * 1024 {
        let mut buf = Vec::with_capacity(len as usize);
        (&file).read_to_end(&mut buf)?;
        return Ok(Contents::Read(buf));
    }
    // SAFETY: the map is read-only and private. A file truncated under us
    // could fault; the loader's own inputs are not expected to change mid-run.
    let map = unsafe { memmap2::Mmap::map(&file) }?;
    Ok(Contents::Mapped(map))
}

fn classify(inner: PathBuf, meta: &Meta) -> Lookup {
    if meta.is_file() {
        Lookup::File(inner)
    } else if meta.is_dir() {
        Lookup::Dir(inner)
    } else {
        Lookup::Other(inner)
    }
}

fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) || e.raw_os_error() == Some(20)
}

/// Pushes the components of `path` onto a stack so that the first is popped first.
fn push_components(stack: &mut Vec<OsString>, path: &Path) {
    let comps: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    stack.extend(comps.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, Root) {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir_all(d.join("usr/lib")).unwrap();
        fs::write(d.join("usr/lib/libz.so.1.2"), b"z").unwrap();
        symlink("usr/lib", d.join("lib")).unwrap();
        symlink("libz.so.1.2", d.join("usr/lib/libz.so.1")).unwrap();
        symlink("/usr/lib/libz.so.1", d.join("usr/lib/abs")).unwrap();
        symlink("../../../../../../etc/passwd", d.join("usr/lib/escape")).unwrap();
        symlink("loop2", d.join("usr/lib/loop1")).unwrap();
        symlink("loop1", d.join("usr/lib/loop2")).unwrap();
        let root = Root::open(d).unwrap();
        (t, root)
    }

    #[test]
    fn follows_links_inside_the_root() {
        let (_t, root) = tree();
        assert_eq!(
            root.lookup(Path::new("/lib/libz.so.1")).unwrap(),
            Lookup::File(PathBuf::from("/usr/lib/libz.so.1.2"))
        );
        assert_eq!(
            root.lookup(Path::new("/lib/abs")).unwrap(),
            Lookup::File(PathBuf::from("/usr/lib/libz.so.1.2"))
        );
    }

    #[test]
    fn dotdot_never_leaves_the_root() {
        let (_t, root) = tree();
        // /etc/passwd exists on the host but not in the root.
        assert_eq!(
            root.lookup(Path::new("/lib/escape")).unwrap(),
            Lookup::Absent
        );
        assert_eq!(
            root.lookup(Path::new("/../../usr/lib/libz.so.1")).unwrap(),
            Lookup::File(PathBuf::from("/usr/lib/libz.so.1.2"))
        );
    }

    #[test]
    fn symlink_loops_are_errors() {
        let (_t, root) = tree();
        assert!(matches!(
            root.lookup(Path::new("/lib/loop1")),
            Err(Error::SymlinkLoop { .. })
        ));
    }
}
