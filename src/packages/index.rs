//! Every listed path of every package, found by its file name: one sorted
//! array of (hash of the name, package, where the line is in the package's
//! list), built once on the first ownership question, without copying a
//! path. A canonical path is then owned by the packages whose listed path
//! has the same name and a directory that is, or resolves to, the same.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::Package;
use crate::root::Root;

/// One listed path.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Hash of the path's file name.
    name: u64,
    /// Index of the package.
    package: u32,
    /// Where the line starts in the package's list, and its length.
    start: u32,
    len: u32,
}

/// The listed paths of all packages, sorted by the hash of their file names.
#[derive(Debug, Default)]
pub(super) struct Index {
    entries: Vec<Entry>,
    /// Listed directories already resolved inside the root: a name like
    /// `__init__.py` is listed in thousands of them, asked about as often.
    resolved: RefCell<FxHashMap<Vec<u8>, Option<PathBuf>>>,
}

impl Index {
    /// Indexes every line of every package's list.
    pub fn build(packages: &[Package]) -> Index {
        let lines = packages
            .iter()
            .map(|p| memchr::memchr_iter(b'\n', &p.list).count() + 1)
            .sum();
        let mut entries = Vec::with_capacity(lines);
        for (package, p) in packages.iter().enumerate() {
            let mut start = 0;
            for line in p.list.split(|&b| b == b'\n') {
                let (_, name) = split(line);
                if !name.is_empty() && name != b"." {
                    entries.push(Entry {
                        name: hash(name),
                        package: package as u32,
                        start: start as u32,
                        len: line.len() as u32,
                    });
                }
                start += line.len() + 1;
            }
        }
        entries.sort_unstable_by_key(|e| e.name);
        Index {
            entries,
            resolved: RefCell::default(),
        }
    }

    /// The first package that lists `real` as it is spelt, else the first
    /// of [`owners`](Self::owners): no directory is resolved when a list
    /// spells the path as the root does (most files, and the common names
    /// like `__init__.py` listed in thousands of other directories).
    pub fn first_owner(&self, packages: &[Package], root: &Root, real: &[u8]) -> Option<usize> {
        let (dir, name) = split(real);
        let key = hash(name);
        let from = self.entries.partition_point(|e| e.name < key);
        let exact = self.entries[from..]
            .iter()
            .take_while(|e| e.name == key)
            .filter(|e| {
                let list = &packages[e.package as usize].list;
                split(&list[e.start as usize..(e.start + e.len) as usize]) == (dir, name)
            })
            .map(|e| e.package as usize)
            .min();
        exact.or_else(|| self.owners(packages, root, real).first().copied())
    }

    /// The packages (indices, in order, once each) that list `real`, a
    /// canonical path inside the root: first the lists that spell it so,
    /// then those whose spelling of its directory resolves to it.
    pub fn owners(&self, packages: &[Package], root: &Root, real: &[u8]) -> Vec<usize> {
        let (dir, name) = split(real);
        let key = hash(name);
        let from = self.entries.partition_point(|e| e.name < key);
        let mut owners = Vec::new();
        let mut elsewhere = Vec::new();
        for e in self.entries[from..].iter().take_while(|e| e.name == key) {
            let list = &packages[e.package as usize].list;
            let line = &list[e.start as usize..(e.start + e.len) as usize];
            let (listed_dir, listed_name) = split(line);
            if listed_name != name {
                continue;
            }
            if listed_dir == dir {
                owners.push(e.package as usize);
            } else {
                elsewhere.push((e.package as usize, listed_dir));
            }
        }
        for (package, listed_dir) in elsewhere {
            if owners.contains(&package) {
                continue;
            }
            let mut cache = self.resolved.borrow_mut();
            if !cache.contains_key(listed_dir) {
                let resolved = root
                    .resolve_dir(Path::new(OsStr::from_bytes(listed_dir)))
                    .ok()
                    .flatten();
                cache.insert(listed_dir.to_vec(), resolved);
            }
            let resolved = cache.get(listed_dir).and_then(Option::as_ref);
            if resolved.is_some_and(|d| d.as_os_str().as_bytes() == dir) {
                owners.push(package);
            }
        }
        owners.sort_unstable();
        owners.dedup();
        owners
    }
}

/// (directory, file name) of an absolute path: `/usr/lib/x` -> (`/usr/lib`,
/// `x`), `/usr` -> (`/`, `usr`).
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => (b"/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b"", path),
    }
}

fn hash(name: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    name.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_at_the_last_slash() {
        assert_eq!(split(b"/usr/lib/x"), (&b"/usr/lib"[..], &b"x"[..]));
        assert_eq!(split(b"/usr"), (&b"/"[..], &b"usr"[..]));
        assert_eq!(split(b"/"), (&b"/"[..], &b""[..]));
    }
}
