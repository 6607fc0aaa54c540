//! Every listed path of every package, found by its file name: one sorted
//! array of (hash of the name and of the directory, package, where the line
//! is in the package's list), built once on the first ownership question,
//! without copying a path. A canonical path is then owned by the packages whose listed path
//! has the same name and a directory that is, or resolves to, the same.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::hash::Hasher;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::Package;
use crate::root::Root;

/// One listed path (16 bytes: a full Debian root lists 130 000).
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Hash of the path's file name (high half) and of its directory (low
    /// half), see [`key`]. Different paths may share one: the path itself
    /// is compared on every match.
    key: u64,
    /// Index of the package.
    package: u32,
    /// Where the line starts in the package's list.
    start: u32,
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
    /// Indexes every line of every package's list (lists are capped far
    /// below 4 GiB, so offsets fit in 32 bits).
    pub fn build(packages: &[Package]) -> Index {
        // Room for every line most often (a listed path takes 59 bytes on
        // average on Debian) without counting them first.
        let bytes: usize = packages.iter().map(|p| p.list.len()).sum();
        let mut entries = Vec::with_capacity(bytes / 40 + packages.len());
        let mut buckets = vec![0u32; 1 << BUCKET_BITS];
        for (package, p) in packages.iter().enumerate() {
            let list: &[u8] = &p.list;
            let mut start = 0;
            let ends = memchr::memchr_iter(b'\n', list).chain(std::iter::once(list.len()));
            for end in ends {
                let (dir, name) = split(&list[start..end]);
                if !name.is_empty() && name != b"." {
                    let key = key(dir, name);
                    buckets[bucket(key)] += 1;
                    entries.push(Entry {
                        key,
                        package: package as u32,
                        start: start as u32,
                    });
                }
                start = end + 1;
            }
        }
        Index {
            entries: sorted(entries, buckets),
            resolved: RefCell::default(),
        }
    }

    /// The first package that lists `real` as it is spelt, else the first
    /// of [`owners`](Self::owners): no directory is resolved when a list
    /// spells the path as the root does (most files, and the common names
    /// like `__init__.py` listed in thousands of other directories).
    pub fn first_owner(&self, packages: &[Package], root: &Root, real: &[u8]) -> Option<usize> {
        let (dir, name) = split(real);
        let key = key(dir, name);
        let from = self.entries.partition_point(|e| e.key < key);
        let exact = self.entries[from..]
            .iter()
            .take_while(|e| e.key == key)
            .filter(|e| split(line(packages, e)) == (dir, name))
            .map(|e| e.package as usize)
            .min();
        exact.or_else(|| self.owners(packages, root, real).first().copied())
    }

    /// The packages (indices, in order, once each) that list `real`, a
    /// canonical path inside the root: first the lists that spell it so,
    /// then those whose spelling of its directory resolves to it.
    pub fn owners(&self, packages: &[Package], root: &Root, real: &[u8]) -> Vec<usize> {
        let (dir, name) = split(real);
        let named = key(b"", name) & NAME;
        let from = self.entries.partition_point(|e| e.key < named);
        let mut owners = Vec::new();
        let mut elsewhere = Vec::new();
        for e in self.entries[from..]
            .iter()
            .take_while(|e| e.key & NAME == named)
        {
            let (listed_dir, listed_name) = split(line(packages, e));
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

/// The top bits of a key, which [`sorted`] puts entries in order of first.
const BUCKET_BITS: u32 = 16;

fn bucket(key: u64) -> usize {
    (key >> (64 - BUCKET_BITS)) as usize
}

/// `entries` sorted by key, given how many fall in each [`bucket`]. The
/// keys are hashes, spread evenly: one pass puts each entry in its bucket,
/// in order of buckets, then each bucket (a few entries, or the paths of
/// one common name) is sorted: a fifth of the instructions of sorting them
/// all by comparison.
fn sorted(entries: Vec<Entry>, counts: Vec<u32>) -> Vec<Entry> {
    let mut next = Vec::with_capacity(counts.len());
    let mut total = 0;
    for &n in &counts {
        next.push(total);
        total += n as usize;
    }
    let blank = Entry {
        key: 0,
        package: 0,
        start: 0,
    };
    let mut out = vec![blank; entries.len()];
    for e in entries {
        let at = &mut next[bucket(e.key)];
        out[*at] = e;
        *at += 1;
    }
    let mut start = 0;
    for n in counts {
        let end = start + n as usize;
        out[start..end].sort_unstable_by_key(|e| e.key);
        start = end;
    }
    out
}

/// The line of a package's list an entry indexes.
fn line<'p>(packages: &'p [Package], e: &Entry) -> &'p [u8] {
    let list = &packages[e.package as usize].list[e.start as usize..];
    &list[..memchr::memchr(b'\n', list).unwrap_or(list.len())]
}

/// The half of a [`key`] that hashes the file name.
const NAME: u64 = !0 << 32;

/// The key of a path: by file name first, so that all the paths of one
/// name are together, then by directory, so that one spelling is found
/// without going through them all (`__init__.py` is listed thousands of times).
fn key(dir: &[u8], name: &[u8]) -> u64 {
    (hash(name) & NAME) | (hash(dir) >> 32)
}

/// (directory, file name) of an absolute path: `/usr/lib/x` -> (`/usr/lib`,
/// `x`), `/usr` -> (`/`, `usr`).
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memrchr(b'/', path) {
        Some(0) => (b"/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b"", path),
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::{BUCKET_BITS, Entry, bucket, sorted, split};

    #[test]
    fn entries_come_out_sorted_by_key_all_of_them() {
        let keys: Vec<u64> = (0..50_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i % 7) << 60)
            .chain([0, u64::MAX, 5, 5, 5])
            .collect();
        let entries = keys.iter().enumerate().map(|(i, &key)| Entry {
            key,
            package: i as u32,
            start: 0,
        });
        let entries: Vec<Entry> = entries.collect();
        let mut counts = vec![0u32; 1 << BUCKET_BITS];
        for e in &entries {
            counts[bucket(e.key)] += 1;
        }
        let out = sorted(entries, counts);
        let mut want = keys.clone();
        want.sort_unstable();
        assert_eq!(out.iter().map(|e| e.key).collect::<Vec<_>>(), want);
        let mut packages: Vec<u32> = out.iter().map(|e| e.package).collect();
        packages.sort_unstable();
        assert!(packages.iter().enumerate().all(|(i, &p)| p as usize == i));
    }

    #[test]
    fn splits_at_the_last_slash() {
        assert_eq!(split(b"/usr/lib/x"), (&b"/usr/lib"[..], &b"x"[..]));
        assert_eq!(split(b"/usr"), (&b"/"[..], &b"usr"[..]));
        assert_eq!(split(b"/"), (&b"/"[..], &b""[..]));
    }
}
