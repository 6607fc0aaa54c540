//! Confined path resolution: following a path inside a [`Root`] the way the
//! kernel would inside a chroot, one component at a time. An absolute link
//! target restarts at the root, `..` never climbs above it, and more than
//! [`MAX_SYMLINKS`] links is a loop.
//!
//! Owns [`Root::lookup`] and [`Root::resolve_dir`] (and their caches),
//! [`Root::resolve_file`], [`Root::trace`] and [`Root::link_target`]; reads the root only
//! through its lstat and readlink primitives (`super`).

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::{Kind, Meta, Root};
use crate::error::{Error, Result};

/// The kernel's limit on symbolic links followed while resolving one path.
const MAX_SYMLINKS: u32 = 40;

/// A path followed to its end, with the symbolic links on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The canonical path inside the root.
    pub real: PathBuf,
    /// Each link met: (its canonical path, its target as written).
    pub links: Vec<(PathBuf, PathBuf)>,
    /// What is at the end is a directory.
    pub is_dir: bool,
    /// What is at the end is a regular file.
    pub is_file: bool,
    /// Permission bits of what is at the end.
    pub mode: u32,
    /// Numeric owner of what is at the end.
    pub uid: u32,
    /// Numeric group of what is at the end.
    pub gid: u32,
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
    /// Follows `path` inside the root and says what is there (remembered
    /// for the rest of the run; errors are not).
    pub fn lookup(&self, path: &Path) -> Result<Lookup> {
        if let Some(hit) = self.lookups.borrow().get(path.as_os_str()) {
            return Ok(hit.clone());
        }
        let found = self.lookup_hops(path, 0)?;
        self.lookups
            .borrow_mut()
            .insert(path.as_os_str().to_owned(), found.clone());
        Ok(found)
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
        if let Some(hit) = self.dirs.borrow().get(path.as_os_str()) {
            return Ok(hit.clone());
        }
        let found = self.find_dir(path)?;
        self.dirs
            .borrow_mut()
            .insert(path.as_os_str().to_owned(), found.clone());
        Ok(found)
    }

    /// [`Root::resolve_dir`] uncached: from the nearest ancestor already
    /// resolved, one lstat per component while they are plain directories,
    /// so that a directory under a known one (a hwcaps subdirectory, a
    /// library directory) costs one system call rather than one per
    /// component. A link or a `..` on the way is followed by walking the
    /// path up to it from the top. A loop, not recursion: paths can be deep.
    fn find_dir(&self, path: &Path) -> Result<Option<PathBuf>> {
        let mut names = Vec::new();
        let mut at = path;
        let base = loop {
            if let Some(hit) = self.dirs.borrow().get(at.as_os_str()) {
                break hit.clone();
            }
            match (at.parent(), at.file_name()) {
                (Some(parent), Some(name)) => {
                    names.push(name);
                    at = parent;
                }
                (None, _) if at.as_os_str().is_empty() || at == Path::new("/") => {
                    break Some(PathBuf::from("/"));
                }
                // Ends in `..`: this much is walked from the top.
                _ => {
                    let real = self.walk_dir(at)?;
                    self.dirs
                        .borrow_mut()
                        .insert(at.as_os_str().to_owned(), real.clone());
                    break real;
                }
            }
        };
        let Some(mut cur) = base else {
            return Ok(None);
        };
        let mut logical = at.to_path_buf();
        for name in names.into_iter().rev() {
            cur.push(name);
            logical.push(name);
            match self.lstat(&cur) {
                Ok(m) if m.is_dir() => {}
                // A link: this much of the path is walked from the top.
                Ok(m) if m.kind == Kind::Symlink => match self.walk_dir(&logical)? {
                    Some(real) => cur = real,
                    None => return Ok(None),
                },
                Ok(_) => return Ok(None),
                Err(e) if absent(&e) => return Ok(None),
                Err(e) => return Err(Error::io(self.host_path(&cur), e)),
            }
            // Each directory on the way is remembered as resolved too.
            self.dirs
                .borrow_mut()
                .insert(logical.as_os_str().to_owned(), Some(cur.clone()));
        }
        Ok(Some(cur))
    }

    fn walk_dir(&self, path: &Path) -> Result<Option<PathBuf>> {
        Ok(match self.walk(path, 0)? {
            Some((p, meta)) if meta.is_dir() => Some(p),
            _ => None,
        })
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
                uid: meta.uid,
                gid: meta.gid,
            }))
    }

    /// True when a symbolic link sits at `path` itself (used to explain a dangling input).
    pub fn link_target(&self, path: &Path) -> Option<PathBuf> {
        let parent = self.resolve_dir(path.parent()?).ok()??;
        self.readlink(&parent.join(path.file_name()?)).ok()
    }

    /// [`Root::lookup`] with `hops` links followed already: the parent
    /// directory through the cache, then the last component by hand.
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
        let meta = match self.lstat_to_read(&inner) {
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
    use std::fs;
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
