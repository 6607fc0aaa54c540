//! glibc's `/etc/ld.so.cache`, in both its formats.
//!
//! The old format starts with `ld.so-1.7.0` and 12-byte entries; the new one
//! (`glibc-ld.so.cache1.1`, the only one ldconfig writes since glibc 2.32)
//! has 24-byte entries, an explicit byte order and an extension area naming
//! the glibc-hwcaps subdirectories. A cache in the compatibility layout holds
//! both, the new one after the old entries; the loader then reads the new one.

use std::collections::HashMap;

use crate::elf::Data;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
const EXTENSION_MAGIC: u32 = 0xeaa4_2174;
const EXTENSION_TAG_HWCAPS: u32 = 1;
const HWCAP_EXTENSION: u64 = 1 << 62;

/// One library the cache knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// ABI flags (`FLAG_ELF_LIBC6 | FLAG_X8664_LIB64`...).
    pub flags: i32,
    /// The SONAME-like name that DT_NEEDED is matched against.
    pub name: String,
    /// The full path the loader opens.
    pub path: String,
    /// The glibc-hwcaps subdirectory this entry stands for, if any.
    pub hwcaps: Option<String>,
    /// Legacy hwcap bits (0 for an ordinary entry).
    pub legacy_hwcap: u64,
}

/// A parsed ld.so.cache.
#[derive(Debug, Default)]
pub struct LdCache {
    entries: Vec<CacheEntry>,
    by_name: HashMap<String, Vec<usize>>,
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
        let mut cache = LdCache::default();
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
                for i in 0..nlibs {
                    let at = OLD_HEADER + i * OLD_ENTRY;
                    let flags = r.u32(at)? as i32;
                    let key = r.u32(at + 4)? as usize;
                    let value = r.u32(at + 8)? as usize;
                    cache.push(CacheEntry {
                        flags,
                        name: r.string(entries_end + key)?,
                        path: r.string(entries_end + value)?,
                        hwcaps: None,
                        legacy_hwcap: 0,
                    });
                }
            }
        } else {
            return Err("not an ld.so.cache file (bad magic)".into());
        }
        Ok(cache)
    }

    fn parse_new(&mut self, bytes: &[u8], base: usize) -> Result<(), String> {
        let bytes = &bytes[base..];
        let data = match bytes.get(28) {
            Some(3) => Data::Big,
            Some(_) => Data::Little,
            None => return Err("truncated header".into()),
        };
        let r = Reader { bytes, data };
        let nlibs = r.u32(20)? as usize;
        let ext = r.u32(32)? as usize;
        let hwcaps = if ext != 0 {
            read_hwcaps(&r, ext)?
        } else {
            Vec::new()
        };
        for i in 0..nlibs {
            let at = i
                .checked_mul(NEW_ENTRY)
                .and_then(|n| n.checked_add(NEW_HEADER))
                .ok_or("entry count overflows")?;
            let flags = r.u32(at)? as i32;
            let key = r.u32(at + 4)? as usize;
            let value = r.u32(at + 8)? as usize;
            let hwcap = r.u64(at + 16)?;
            let (sub, legacy) = if hwcap >> 32 == HWCAP_EXTENSION >> 32 {
                let idx = (hwcap & 0xffff_ffff) as usize;
                (Some(hwcaps.get(idx).cloned().ok_or("bad hwcaps index")?), 0)
            } else {
                (None, hwcap)
            };
            self.push(CacheEntry {
                flags,
                name: r.string(key)?,
                path: r.string(value)?,
                hwcaps: sub,
                legacy_hwcap: legacy,
            });
        }
        Ok(())
    }

    fn push(&mut self, e: CacheEntry) {
        self.by_name
            .entry(e.name.clone())
            .or_default()
            .push(self.entries.len());
        self.entries.push(e);
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[CacheEntry] {
        &self.entries
    }

    /// The entry the loader picks for `name`: the best-priority glibc-hwcaps
    /// entry among `supported` (best first), else the first plain entry whose
    /// flags are the ABI's.
    pub fn lookup(&self, name: &str, flags: i32, supported: &[String]) -> Option<CacheHit<'_>> {
        let mut best: Option<(usize, &CacheEntry)> = None;
        let mut plain: Option<&CacheEntry> = None;
        for &i in self.by_name.get(name)? {
            let e = &self.entries[i];
            if e.flags != flags && e.flags != 1 {
                continue;
            }
            match &e.hwcaps {
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
            path: &e.path,
            hwcaps: e.hwcaps.as_deref(),
        })
    }
}

/// glibc's `_dl_cache_libcmp`: digits compare as numbers, so `libfoo.so.10`
/// sorts after `libfoo.so.9`. The cache is sorted by this, descending, and
/// the loader's binary search depends on it.
pub fn libcmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() {
        let (ca, cb) = (a[i], b.get(j).copied().unwrap_or(0));
        if ca.is_ascii_digit() {
            if !cb.is_ascii_digit() {
                return Ordering::Greater;
            }
            let (mut va, mut vb) = (0u64, 0u64);
            while i < a.len() && a[i].is_ascii_digit() {
                va = va.saturating_mul(10).saturating_add(u64::from(a[i] - b'0'));
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                vb = vb.saturating_mul(10).saturating_add(u64::from(b[j] - b'0'));
                j += 1;
            }
            if va != vb {
                return va.cmp(&vb);
            }
        } else if cb.is_ascii_digit() {
            return Ordering::Less;
        } else if ca != cb {
            return ca.cmp(&cb);
        } else {
            i += 1;
            j += 1;
        }
    }
    0u8.cmp(&b.get(j).copied().unwrap_or(0))
}

/// Writes a cache in the new format that ld.so reads: one entry per
/// (name, path), all with the ABI's `flags`, sorted as ldconfig sorts them.
pub fn write(entries: &[(String, String)], flags: i32, data: Data) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort_by(|x, y| libcmp(&y.0, &x.0).then_with(|| x.1.cmp(&y.1)));
    sorted.dedup_by(|x, y| x.0 == y.0);
    let u32b = |v: u32| match data {
        Data::Little => v.to_le_bytes(),
        Data::Big => v.to_be_bytes(),
    };
    let u64b = |v: u64| match data {
        Data::Little => v.to_le_bytes(),
        Data::Big => v.to_be_bytes(),
    };
    let strings_at = NEW_HEADER + sorted.len() * NEW_ENTRY;
    let mut strings: Vec<u8> = Vec::new();
    let mut offsets = Vec::new();
    for (name, path) in &sorted {
        let key = strings_at + strings.len();
        strings.extend_from_slice(name.as_bytes());
        strings.push(0);
        let value = strings_at + strings.len();
        strings.extend_from_slice(path.as_bytes());
        strings.push(0);
        offsets.push((key as u32, value as u32));
    }
    let mut out = Vec::with_capacity(strings_at + strings.len());
    out.extend_from_slice(NEW_MAGIC);
    out.extend_from_slice(&u32b(sorted.len() as u32));
    out.extend_from_slice(&u32b(strings.len() as u32));
    out.push(if data == Data::Big { 3 } else { 2 });
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&u32b(0)); // no extension
    out.extend_from_slice(&[0; 12]);
    for (key, value) in offsets {
        out.extend_from_slice(&u32b(flags as u32));
        out.extend_from_slice(&u32b(key));
        out.extend_from_slice(&u32b(value));
        out.extend_from_slice(&u32b(0));
        out.extend_from_slice(&u64b(0));
    }
    out.extend_from_slice(&strings);
    out
}

fn read_hwcaps(r: &Reader<'_>, ext: usize) -> Result<Vec<String>, String> {
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
        let offset = r.u32(at + 8)? as usize;
        let size = r.u32(at + 12)? as usize;
        for k in 0..size / 4 {
            out.push(r.string(r.u32(offset + 4 * k)? as usize)?);
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

    fn string(&self, at: usize) -> Result<String, String> {
        let rest = self
            .bytes
            .get(at..)
            .ok_or_else(|| format!("string offset {at:#x} out of bounds"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("unterminated string at {at:#x}"))?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
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
            let hit = cache.lookup("libz.so.1", 0x303, &[]).unwrap();
            assert_eq!(hit.path, "/opt/z/libz.so.1");
            assert!(cache.lookup("libz.so.1", 0x0a03, &[]).is_none());
            let names: Vec<&str> = cache.entries().iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names, ["libz.so.1", "libfoo.so.10", "libc.so.6"]);
        }
    }

    #[test]
    fn reads_the_host_cache_when_there_is_one() {
        let Ok(bytes) = std::fs::read("/etc/ld.so.cache") else {
            eprintln!("skipping: no /etc/ld.so.cache on this machine");
            return;
        };
        let cache = LdCache::parse(&bytes, Data::Little).unwrap();
        assert!(!cache.entries().is_empty());
        assert!(cache.entries().iter().all(|e| e.path.starts_with('/')));
    }
}
