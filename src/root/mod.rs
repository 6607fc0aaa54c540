//! Every file-system access, confined to one root directory.
//!
//! Paths handed to a [`Root`] are paths *inside* it, as a process chrooted
//! there would see them. Symbolic links are followed by hand, one component at
//! a time: an absolute target restarts at the root, `..` never climbs above it,
//! and a chain of more than 40 links is a loop, as for the kernel. Nothing else
//! in the crate calls `std::fs`.

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

/// A root file system: the host's `/` or a directory standing in for it.
#[derive(Debug)]
pub struct Root {
    dir: PathBuf,
    host: bool,
    /// Logical directory -> canonical directory inside the root (None: absent).
    dirs: RefCell<HashMap<PathBuf, Option<PathBuf>>>,
}

/// The contents of a file: mapped when it is large, read when it is small.
pub enum Contents {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Deref for Contents {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Contents::Mapped(m) => m,
            Contents::Read(v) => v,
        }
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
            dirs: RefCell::default(),
        })
    }

    /// True when this is the host's own `/`.
    pub fn is_host(&self) -> bool {
        self.host
    }

    /// The root's directory on the host.
    pub fn dir(&self) -> &Path {
        &self.dir
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
        let host = self.host_path(&inner);
        let meta = match fs::symlink_metadata(&host) {
            Ok(m) => m,
            Err(e) if absent(&e) => return Ok(Lookup::Absent),
            Err(e) => return Err(Error::io(host, e)),
        };
        if !meta.file_type().is_symlink() {
            return Ok(classify(inner, &meta));
        }
        if hops >= MAX_SYMLINKS {
            return Err(Error::SymlinkLoop {
                path: path.to_path_buf(),
            });
        }
        let target = fs::read_link(&host).map_err(|e| Error::io(&host, e))?;
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
    fn walk(&self, path: &Path, hops: u32) -> Result<Option<(PathBuf, fs::Metadata)>> {
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
                mode: std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
            }))
    }

    fn walk_recording(
        &self,
        path: &Path,
        mut hops: u32,
        links: &mut Vec<(PathBuf, PathBuf)>,
    ) -> Result<Option<(PathBuf, fs::Metadata)>> {
        let mut pending: Vec<OsString> = Vec::new();
        push_components(&mut pending, path);
        let mut cur = PathBuf::from("/");
        let mut meta = fs::symlink_metadata(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        while let Some(comp) = pending.pop() {
            if comp == ".." {
                cur.pop();
                meta = fs::symlink_metadata(self.host_path(&cur))
                    .map_err(|e| Error::io(self.host_path(&cur), e))?;
                continue;
            }
            if !meta.is_dir() {
                return Ok(None);
            }
            let next = cur.join(&comp);
            let host = self.host_path(&next);
            let m = match fs::symlink_metadata(&host) {
                Ok(m) => m,
                Err(e) if absent(&e) => return Ok(None),
                Err(e) => return Err(Error::io(host, e)),
            };
            if m.file_type().is_symlink() {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(Error::SymlinkLoop {
                        path: path.to_path_buf(),
                    });
                }
                let target = fs::read_link(&host).map_err(|e| Error::io(&host, e))?;
                links.push((next, target.clone()));
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                    meta = fs::symlink_metadata(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
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
        let host = self.host_path(&parent.join(path.file_name()?));
        fs::read_link(host).ok()
    }

    /// Maps or reads the file at the canonical path `real`.
    pub fn contents(&self, real: &Path) -> Result<Contents> {
        let host = self.host_path(real);
        let file = File::open(&host).map_err(|e| Error::io(&host, e))?;
        let len = file.metadata().map_err(|e| Error::io(&host, e))?.len();
        if len < 64 * 1024 {
            let mut buf = Vec::with_capacity(len as usize);
            (&file)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io(&host, e))?;
            return Ok(Contents::Read(buf));
        }
        // SAFETY: the map is read-only and private. A file truncated under us
        // could fault; the loader's own inputs are not expected to change mid-run.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(&host, e))?;
        Ok(Contents::Mapped(map))
    }

    /// Reads the first bytes of the file at the canonical path `real`.
    pub fn head(&self, real: &Path, n: usize) -> Result<Vec<u8>> {
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
        let host = self.host_path(&real);
        let bytes = fs::read(&host).map_err(|e| Error::io(&host, e))?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The names in a directory inside the root, sorted; empty when it does not exist.
    pub fn list_dir(&self, path: &Path) -> Result<Vec<OsString>> {
        let Some(dir) = self.resolve_dir(path)? else {
            return Ok(Vec::new());
        };
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
        let host = self.host_path(dir);
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&host)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| host.clone());
                Error::io(
                    path,
                    e.into_io_error()
                        .unwrap_or_else(|| io::Error::other("walk")),
                )
            })?;
            if entry.file_type().is_file()
                && let Some(inner) = self.inner_path(entry.path())
            {
                out.push(inner);
            }
        }
        Ok(out)
    }
}

fn classify(inner: PathBuf, meta: &fs::Metadata) -> Lookup {
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
