//! Writing an ld.so.cache in the new format, sorted as ldconfig sorts it (the
//! loader's binary search depends on that order).

use super::{NEW_ENTRY, NEW_HEADER, NEW_MAGIC};
use crate::elf::Data;

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
