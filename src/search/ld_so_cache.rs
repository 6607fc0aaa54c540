//! glibc's `/etc/ld.so.cache`, in both its formats.
//!
//! The old format starts with `ld.so-1.7.0` and 12-byte entries; the new one
//! (`glibc-ld.so.cache1.1`, the only one ldconfig writes since glibc 2.32)
//! has 24-byte entries, an explicit byte order and an extension area naming
//! the glibc-hwcaps subdirectories. A cache in the compatibility layout holds
//! both, the new one after the old entries; the loader then reads the new one.
//!
//! The file is untrusted (it comes from the image): its bytes are kept once
//! and entries hold offsets into them, so entries that share one string cost
//! no more than the file itself. Names and paths are capped at
//! [`MAX_STRING`] bytes (PATH_MAX: ld.so could not open a longer path, nor
//! match a longer name); an entry with a longer, unterminated or non-UTF-8
//! string is left out, and [`LdCache::ignored`] says how many were.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use crate::elf::Data;
pub use write::{libcmp, write};

mod write;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
const EXTENSION_MAGIC: u32 = 0xeaa4_2174;
const EXTENSION_TAG_HWCAPS: u32 = 1;
const HWCAP_EXTENSION: u64 = 1 << 62;

/// The longest name or path read from a cache, in bytes (without its NUL).
pub const MAX_STRING: usize = 4096;

/// One library the cache knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheEntry<'a> {
    /// ABI flags (`FLAG_ELF_LIBC6 | FLAG_X8664_LIB64`...).
    pub flags: i32,
    /// The SONAME-like name that DT_NEEDED is matched against.
    pub name: &'a str,
    /// The full path the loader opens.
    pub path: &'a str,
    /// The glibc-hwcaps subdirectory this entry stands for, if any.
    pub hwcaps: Option<&'a str>,
    /// Legacy hwcap bits (0 for an ordinary entry).
    pub legacy_hwcap: u64,
}

/// A string of the file: where it starts and how long it is (checked UTF-8).
#[derive(Debug, Clone, Copy)]
struct Span {
    at: usize,
    len: usize,
}

/// An entry, as offsets into the file.
#[derive(Debug)]
struct Entry {
    flags: i32,
    name: Span,
    path: Span,
    /// Index into `LdCache::hwcaps`.
    hwcaps: Option<usize>,
    legacy_hwcap: u64,
}

/// A parsed ld.so.cache.
#[derive(Debug, Default)]
pub struct LdCache {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    hwcaps: Vec<Span>,
    /// Entry indices by the hash of their name.
    by_name: HashMap<u64, Vec<usize>>,
    hasher: RandomState,
    ignored: usize,
}

/// What the loader's cache lookup picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHit<'a> {
    /// The library's path as the cache records it.
    pub path: &'a str,
    /// The glibc-hwcaps subdirectory name of the entry (`x86-64-v3`), if any.
    pub hwcaps: Option<&'a str>,
}

impl LdCache {
    /// Parses a cache file. `data` is the byte order assumed for the old
    /// format, which does not record its own.
    pub fn parse(bytes: &[u8], data: Data) -> Result<LdCache, String> {
        let mut cache = LdCache {
            bytes: bytes.to_vec(),
            ..LdCache::default()
        };
        if bytes.starts_with(NEW_MAGIC) {
            cache.parse_new(bytes, 0)?;
        } else if bytes.starts_with(OLD_MAGIC) {
            let r = Reader { bytes, data };
            let nlibs = r.u32(OLD_MAGIC.len() + 1)? as usize;
            let entries_end = nlibs
                .checked_mul(OLD_ENTRY)
                .and_then(|n| n.checked_add(OLD_HEADER))
                .ok_or("entry count overflows")?;
            let new_at = (entries_end + 7) & !7;
            if bytes
                .get(new_at..)
                .is_some_and(|b| b.starts_with(NEW_MAGIC))
            {
                cache.parse_new(bytes, new_at)?;
            } else {
                cache.parse_old(&r, nlibs, entries_end)?;
            }
        } else {
            return Err("not an ld.so.cache file (bad magic)".into());
        }
        Ok(cache)
    }

    fn parse_old(&mut self, r: &Reader<'_>, nlibs: usize, strings: usize) -> Result<(), String> {
        for i in 0..nlibs {
            let at = OLD_HEADER + i * OLD_ENTRY;
            let flags = r.u32(at)? as i32;
            let key = r.u32(at + 4)? as usize;
            let value = r.u32(at + 8)? as usize;
            self.add(
                flags,
                (r.span(strings + key), r.span(strings + value)),
                None,
                0,
            );
        }
        Ok(())
    }

    fn parse_new(&mut self, bytes: &[u8], base: usize) -> Result<(), String> {
        let data = match bytes.get(base + 28) {
            Some(3) => Data::Big,
            Some(_) => Data::Little,
            None => return Err("truncated header".into()),
        };
        // Offsets in the new format count from its own header.
        let r = Reader { bytes, data };
        let nlibs = r.u32(base + 20)? as usize;
        let ext = r.u32(base + 32)? as usize;
        if ext != 0 {
            self.hwcaps = read_hwcaps(&r, base, base + ext)?;
        }
        for i in 0..nlibs {
            let at = i
                .checked_mul(NEW_ENTRY)
                .and_then(|n| n.checked_add(base + NEW_HEADER))
                .ok_or("entry count overflows")?;
            let flags = r.u32(at)? as i32;
            let key = r.u32(at + 4)? as usize;
            let value = r.u32(at + 8)? as usize;
            let hwcap = r.u64(at + 16)?;
            let (hwcaps, legacy_hwcap) = if hwcap >> 32 == HWCAP_EXTENSION >> 32 {
                let idx = (hwcap & 0xffff_ffff) as usize;
                (Some(idx), 0)
            } else {
                (None, hwcap)
            };
            let strings = (r.span(base + key), r.span(base + value));
            self.add(flags, strings, hwcaps, legacy_hwcap);
        }
        Ok(())
    }

    /// Adds an entry if its name, its path (None: unusable) and its hwcaps
    /// index are usable; else counts it as ignored.
    fn add(
        &mut self,
        flags: i32,
        (name, path): (Option<Span>, Option<Span>),
        hwcaps: Option<usize>,
        legacy_hwcap: u64,
    ) {
        let usable = hwcaps.is_none_or(|i| self.hwcaps.get(i).is_some_and(|s| s.len > 0));
        let (Some(name), Some(path), true) = (name, path, usable) else {
            self.ignored += 1;
            return;
        };
        let key = self.hasher.hash_one(self.text(name));
        self.by_name
            .entry(key)
            .or_default()
            .push(self.entries.len());
        self.entries.push(Entry {
            flags,
            name,
            path,
            hwcaps,
            legacy_hwcap,
        });
    }

    fn text(&self, s: Span) -> &str {
        std::str::from_utf8(&self.bytes[s.at..s.at + s.len]).unwrap_or_default()
    }

    fn view(&self, e: &Entry) -> CacheEntry<'_> {
        CacheEntry {
            flags: e.flags,
            name: self.text(e.name),
            path: self.text(e.path),
            hwcaps: e
                .hwcaps
                .and_then(|i| self.hwcaps.get(i))
                .map(|s| self.text(*s)),
            legacy_hwcap: e.legacy_hwcap,
        }
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = CacheEntry<'_>> {
        self.entries.iter().map(|e| self.view(e))
    }

    /// How many entries were left out (a name or path over [`MAX_STRING`]
    /// bytes, unterminated or not UTF-8, or a bad hwcaps index).
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    /// The entry the loader picks for `name`: the best-priority glibc-hwcaps
    /// entry among `supported` (best first), else the first plain entry whose
    /// flags are the ABI's.
    pub fn lookup(&self, name: &str, flags: i32, supported: &[String]) -> Option<CacheHit<'_>> {
        let mut best: Option<(usize, CacheEntry<'_>)> = None;
        let mut plain: Option<CacheEntry<'_>> = None;
        let ids = self.by_name.get(&self.hasher.hash_one(name))?;
        for e in ids.iter().map(|&i| self.view(&self.entries[i])) {
            if e.name != name || (e.flags != flags && e.flags != 1) {
                continue;
            }
            match e.hwcaps {
                Some(sub) => {
                    if let Some(prio) = supported.iter().position(|s| s == sub)
                        && best.is_none_or(|(b, _)| prio < b)
                    {
                        best = Some((prio, e));
                    }
                }
                None if e.legacy_hwcap == 0 && plain.is_none() => plain = Some(e),
                None => {}
            }
        }
        best.map(|(_, e)| e).or(plain).map(|e| CacheHit {
            path: e.path,
            hwcaps: e.hwcaps,
        })
    }
}

/// The glibc-hwcaps names of the extension area at `ext`, whose string
/// offsets count from `base`; a name that cannot be used is empty.
fn read_hwcaps(r: &Reader<'_>, base: usize, ext: usize) -> Result<Vec<Span>, String> {
    if r.u32(ext)? != EXTENSION_MAGIC {
        return Ok(Vec::new());
    }
    let count = r.u32(ext + 4)? as usize;
    let mut out = Vec::new();
    for s in 0..count.min(64) {
        let at = ext + 8 + s * 16;
        if r.u32(at)? != EXTENSION_TAG_HWCAPS {
            continue;
        }
        let offset = base + r.u32(at + 8)? as usize;
        let size = r.u32(at + 12)? as usize;
        for k in 0..size / 4 {
            let name = r.span(base + r.u32(offset + 4 * k)? as usize);
            out.push(name.unwrap_or(Span { at: 0, len: 0 }));
        }
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    data: Data,
}

impl Reader<'_> {
    fn array<const N: usize>(&self, at: usize) -> Result<[u8; N], String> {
        self.bytes
            .get(at..at.checked_add(N).ok_or("offset overflows")?)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| format!("truncated at offset {at:#x}"))
    }

    fn u32(&self, at: usize) -> Result<u32, String> {
        let a = self.array::<4>(at)?;
        Ok(match self.data {
            Data::Little => u32::from_le_bytes(a),
            Data::Big => u32::from_be_bytes(a),
        })
    }

    fn u64(&self, at: usize) -> Result<u64, String> {
        let a = self.array::<8>(at)?;
        Ok(match self.data {
            Data::Little => u64::from_le_bytes(a),
            Data::Big => u64::from_be_bytes(a),
        })
    }

    /// The NUL-terminated UTF-8 string at `at`, if it is one of at most
    /// [`MAX_STRING`] bytes.
    fn span(&self, at: usize) -> Option<Span> {
        let rest = self.bytes.get(at..)?;
        let window = &rest[..rest.len().min(MAX_STRING + 1)];
        let len = memchr::memchr(0, window)?;
        std::str::from_utf8(&window[..len]).ok()?;
        Some(Span { at, len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(LdCache::parse(b"hello", Data::Little).is_err());
        let mut truncated = NEW_MAGIC.to_vec();
        truncated.extend_from_slice(&[5, 0, 0, 0]);
        assert!(LdCache::parse(&truncated, Data::Little).is_err());
    }

    #[test]
    fn libcmp_orders_numbers_numerically() {
        use std::cmp::Ordering::*;
        assert_eq!(libcmp("libfoo.so.10", "libfoo.so.9"), Greater);
        assert_eq!(libcmp("libfoo.so.1", "libfoo.so.1"), Equal);
        assert_eq!(libcmp("liba.so", "libb.so"), Less);
        assert_eq!(libcmp("libc.so.6", "libc.so"), Greater);
        assert_eq!(libcmp("lib1", "liba"), Greater);
    }

    #[test]
    fn what_is_written_reads_back() {
        let entries = vec![
            ("libz.so.1".to_string(), "/opt/z/libz.so.1".to_string()),
            (
                "libc.so.6".to_string(),
                "/lib/x86_64-linux-gnu/libc.so.6".to_string(),
            ),
            (
                "libfoo.so.10".to_string(),
                "/opt/f/libfoo.so.10".to_string(),
            ),
        ];
        for data in [Data::Little, Data::Big] {
            let bytes = write(&entries, 0x303, data);
            let cache = LdCache::parse(&bytes, Data::Little).unwrap();
            assert_eq!(cache.entries().len(), 3);
            assert_eq!(cache.ignored(), 0);
            let hit = cache.lookup("libz.so.1", 0x303, &[]).unwrap();
            assert_eq!(hit.path, "/opt/z/libz.so.1");
            assert!(cache.lookup("libz.so.1", 0x0a03, &[]).is_none());
            let names: Vec<&str> = cache.entries().map(|e| e.name).collect();
            assert_eq!(names, ["libz.so.1", "libfoo.so.10", "libc.so.6"]);
        }
    }

    #[test]
    fn strings_over_the_cap_leave_their_entry_out() {
        let long = format!("/{}", "x".repeat(MAX_STRING));
        let entries = vec![
            ("libz.so.1".to_string(), "/a/libz.so.1".to_string()),
            ("liblong.so".to_string(), long),
        ];
        let cache = LdCache::parse(&write(&entries, 0x303, Data::Little), Data::Little).unwrap();
        assert_eq!((cache.entries().len(), cache.ignored()), (1, 1));
        assert!(cache.lookup("liblong.so", 0x303, &[]).is_none());
        let hit = cache.lookup("libz.so.1", 0x303, &[]).unwrap();
        assert_eq!(hit.path, "/a/libz.so.1");
    }

    #[test]
    fn reads_the_host_cache_when_there_is_one() {
        let Ok(bytes) = std::fs::read("/etc/ld.so.cache") else {
            eprintln!("skipping: no /etc/ld.so.cache on this machine");
            return;
        };
        let cache = LdCache::parse(&bytes, Data::Little).unwrap();
        assert!(cache.entries().len() > 0);
        let mut entries = cache.entries();
        assert!(entries.all(|e| e.path.starts_with('/')));
    }
}
