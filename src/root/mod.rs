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
//! logic works the same on both through four primitives (lstat, readlink,
//! read, read_dir), which this file owns along with the [`Root`] type, its
//! constructors and its plain queries. `resolve` follows paths, `walk`
//! walks trees, `host` reads host files; none of them uses anything
//! outside `root` but the crate's error type.

mod glob;
mod host;
pub mod layers;
mod resolve;
mod walk;

use std::cell::RefCell;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use glob::{MAX_MATCHES, is_pattern};
pub use layers::{Layer, LayerCheck};
pub use resolve::{Lookup, Trace};
pub use walk::{TreeEntry, TreeKind};

/// A map keyed by paths, hashed as bytes: `Path`'s own `Hash` parses its
/// components, which costs more than the lookups these maps save.
pub(crate) type PathMap<V> = rustc_hash::FxHashMap<std::ffi::OsString, V>;

/// A root file system: the host's `/`, a directory standing in for it, or
/// a stack of layers.
#[derive(Debug)]
pub struct Root {
    dir: PathBuf,
    host: bool,
    /// Set when the root is a stack of layers held in memory.
    tree: Option<layers::Tree>,
    /// Logical directory -> canonical directory inside the root (None: absent).
    dirs: RefCell<PathMap<Option<PathBuf>>>,
    /// Path -> what [`Root::lookup`] found there, for the rest of the run:
    /// the loader's search asks for the same paths for every program.
    lookups: RefCell<PathMap<resolve::Lookup>>,
    /// What must live as long as the root: the temporary copies of an
    /// archive's layers, which [`Root::extract`] reads again.
    guards: Guards,
    /// Canonical path -> size, of the host files lstat has seen, so that
    /// reading one needs no fstat.
    sizes: RefCell<PathMap<u64>>,
}

/// Values kept alive with a [`Root`] (see [`Root::keep_alive`]).
#[derive(Default)]
struct Guards(Vec<Box<dyn std::any::Any>>);

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} guard(s)", self.0.len())
    }
}

/// A root's host directory, to open the same root again elsewhere ([`Root::twin`]).
pub(crate) struct Twin {
    dir: PathBuf,
    host: bool,
}

impl Twin {
    /// The root, with nothing read yet.
    pub(crate) fn open(self) -> Root {
        Root {
            dir: self.dir,
            host: self.host,
            tree: None,
            dirs: RefCell::default(),
            lookups: RefCell::default(),
            guards: Guards::default(),
            sizes: RefCell::default(),
        }
    }
}

/// The contents of a file: mapped when it is large, read when it is small.
pub enum Contents {
    /// A host file, mapped.
    Mapped(memmap2::Mmap),
    /// A host file, read.
    Read(Vec<u8>),
    /// A file of a layer tarball, held in memory.
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
    /// The type of what is there.
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    /// Numeric owner (0 for objects described in memory).
    pub uid: u32,
    /// Numeric group (0 for objects described in memory).
    pub gid: u32,
    /// Modification time in seconds since the epoch (0 for objects
    /// described in memory).
    pub mtime: u64,
    /// Size in bytes of a regular file (0 for anything else, and for
    /// objects described in memory).
    pub size: u64,
}

/// The type of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A device, socket or fifo.
    Other,
}

impl Meta {
    fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
    fn is_file(&self) -> bool {
        self.kind == Kind::File
    }
}

impl Root {
    /// The host's own root file system.
    pub fn host() -> Root {
        Root {
            dir: PathBuf::from("/"),
            host: true,
            tree: None,
            dirs: RefCell::default(),
            lookups: RefCell::default(),
            guards: Guards::default(),
            sizes: RefCell::default(),
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
            lookups: RefCell::default(),
            guards: Guards::default(),
            sizes: RefCell::default(),
        })
    }

    /// A root made of image layers applied in order (directories and tar
    /// files, OCI whiteouts honoured), held in memory. One directory alone
    /// is simply that directory.
    pub fn layers(layers: &[PathBuf]) -> Result<Root> {
        Root::layers_with(layers, &crate::progress::Silent)
    }

    /// [`Root::layers`], reporting the bytes of layers read to `progress`.
    pub fn layers_with(
        layers: &[PathBuf],
        progress: &dyn crate::progress::Progress,
    ) -> Result<Root> {
        Root::layers_checked(Layer::unchecked(layers), progress)
    }

    /// [`Root::layers_with`], each tar layer's bytes shown to its check as
    /// they are read (an image's digests: `oci::Image::layers_to_read`).
    pub fn layers_checked(
        layers: Vec<Layer>,
        progress: &dyn crate::progress::Progress,
    ) -> Result<Root> {
        if let [one] = &layers[..]
            && one.path.is_dir()
        {
            return Root::open(&one.path);
        }
        let dir = PathBuf::from(
            layers
                .iter()
                .map(|l| l.path.display().to_string())
                .collect::<Vec<_>>()
                .join("+"),
        );
        let tree = layers::Tree::load_checked(layers, progress)?;
        Ok(Root {
            dir,
            host: false,
            tree: Some(tree),
            dirs: RefCell::default(),
            lookups: RefCell::default(),
            guards: Guards::default(),
            sizes: RefCell::default(),
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
            lookups: RefCell::default(),
            guards: Guards::default(),
            sizes: RefCell::default(),
        })
    }

    /// The same host directory as a new root with nothing cached, to be
    /// opened on another thread (a `Root` is not `Sync`); None for layers,
    /// which are held in memory once.
    pub(crate) fn twin(&self) -> Option<Twin> {
        self.tree.is_none().then(|| Twin {
            dir: self.dir.clone(),
            host: self.host,
        })
    }

    /// Takes what another root of the same directory found at `path`
    /// ([`Root::lookup`]), unless this one has looked there already.
    pub(crate) fn remember_lookup(&self, path: PathBuf, found: Lookup) {
        self.lookups
            .borrow_mut()
            .entry(path.into_os_string())
            .or_insert(found);
    }

    // The primitives: everything else reads the root through these and
    // `contents`, the same way for a host directory and for layers.

    fn lstat(&self, inner: &Path) -> io::Result<Meta> {
        match &self.tree {
            Some(t) => t.lstat(inner),
            None => host::lstat(&self.host_path(inner)),
        }
    }

    /// [`Root::lstat`] of a file about to be read: its size is kept so that
    /// reading it needs no fstat (only for lookups, not for every entry a
    /// walk of a large tree meets).
    fn lstat_to_read(&self, inner: &Path) -> io::Result<Meta> {
        if self.tree.is_some() {
            return self.lstat(inner);
        }
        let (meta, size) = host::lstat_sized(&self.host_path(inner))?;
        if meta.kind == Kind::File {
            self.sizes
                .borrow_mut()
                .insert(inner.as_os_str().to_owned(), size);
        }
        Ok(meta)
    }

    fn readlink(&self, inner: &Path) -> io::Result<PathBuf> {
        match &self.tree {
            Some(t) => t.readlink(inner),
            None => fs::read_link(self.host_path(inner)),
        }
    }

    /// The names in the directory at canonical path `dir`, sorted.
    fn read_dir(&self, dir: &Path) -> Result<Vec<OsString>> {
        match &self.tree {
            Some(t) => Ok(t.read_dir(dir)),
            None => {
                let host = self.host_path(dir);
                host::read_dir(&host).map_err(|e| Error::io(&host, e))
            }
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

    /// Keeps `guard` (an opened image, whose layer files the root reads
    /// again when files are extracted) alive as long as the root.
    pub fn keep_alive(&mut self, guard: Box<dyn std::any::Any>) {
        self.guards.0.push(guard);
    }

    /// True when the root is a stack of layers held in memory, whose files
    /// must be [extracted](Root::extract) before they are copied.
    pub fn is_layers(&self) -> bool {
        self.tree.is_some()
    }

    /// The host files holding the whole contents of the regular files at
    /// the canonical `paths`, in order: the files themselves in a directory
    /// root; copies taken out of the layers into the directory `staging`
    /// (one stream of each layer that holds one) for a root of layers.
    pub fn extract(&self, paths: &[PathBuf], staging: &Path) -> Result<Vec<PathBuf>> {
        match &self.tree {
            Some(t) => t.extract(paths, staging),
            None => Ok(paths.iter().map(|p| self.host_path(p)).collect()),
        }
    }

    /// What lstat says of the canonical path `real` (a link not followed),
    /// or None when nothing is there.
    pub fn meta(&self, real: &Path) -> Option<Meta> {
        self.lstat(real).ok()
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

    /// Maps or reads the file at the canonical path `real`.
    pub fn contents(&self, real: &Path) -> Result<Contents> {
        if let Some(t) = &self.tree {
            return t.contents(real).map_err(|e| Error::io(real, e));
        }
        let host = self.host_path(real);
        let size = self.sizes.borrow().get(real.as_os_str()).copied();
        host::read_file_sized(&host, size).map_err(|e| Error::io(&host, e))
    }

    /// Reads the first bytes of the file at the canonical path `real`.
    pub fn head(&self, real: &Path, n: usize) -> Result<Vec<u8>> {
        if let Some(t) = &self.tree {
            return t.head(real, n).map_err(|e| Error::io(real, e));
        }
        let host = self.host_path(real);
        host::head(&host, n).map_err(|e| Error::io(&host, e))
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
        match self.resolve_dir(path)? {
            Some(dir) => self.read_dir(&dir),
            None => Ok(Vec::new()),
        }
    }
}
