//! rpm's header format, as the `blob` column of an rpmdb's `Packages` table
//! holds it (an installed package's header, without the lead and the magic
//! a package file has): a big-endian count of index entries and the size of
//! the data store, the index entries (tag, type, offset into the store,
//! count: 16 bytes each), then the store.
//!
//! Every offset and count is checked against the store before it is used;
//! a header that does not hold together is an `Err` with the reason, never
//! a panic. Only what a package record needs is read: strings, string
//! arrays and 32-bit integers. Region tags (the immutable header's
//! trailer) are not verified: entries after the region (rpm's "dribble"
//! entries) replace those of the same tag before it, as rpm reads them.

/// The package's name.
pub const NAME: u32 = 1000;
/// Its upstream version.
pub const VERSION: u32 = 1001;
/// Its packaging release.
pub const RELEASE: u32 = 1002;
/// Its epoch (absent: none).
pub const EPOCH: u32 = 1003;
/// One-line summary.
pub const SUMMARY: u32 = 1004;
/// Who distributes it.
pub const VENDOR: u32 = 1011;
/// Its license, as the spec file says it.
pub const LICENSE: u32 = 1014;
/// Who packaged it.
pub const PACKAGER: u32 = 1015;
/// Its architecture (`x86_64`, `noarch`).
pub const ARCH: u32 = 1022;
/// Each file's digest in hex (empty for directories and links).
pub const FILEDIGESTS: u32 = 1035;
/// Each file's attributes in the spec (`%config`, `%doc`, `%license`...).
pub const FILEFLAGS: u32 = 1037;
/// The [`FILEFLAGS`] bit of a `%license` file.
pub const FILE_LICENSE: u32 = 1 << 7;
/// The source package file it was built from (`bash-5.2-1.fc40.src.rpm`).
pub const SOURCERPM: u32 = 1044;
/// Each file's index in [`DIRNAMES`].
pub const DIRINDEXES: u32 = 1116;
/// Each file's name.
pub const BASENAMES: u32 = 1117;
/// The directories of the files, each ending in `/`.
pub const DIRNAMES: u32 = 1118;
/// The digest algorithm of [`FILEDIGESTS`] (absent: MD5).
pub const FILEDIGESTALGO: u32 = 5011;

/// The most index entries rpm itself accepts in a header.
const MAX_ENTRIES: usize = 0xffff;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// One index entry, as the header stores it.
#[derive(Debug, Clone, Copy)]
struct IndexEntry {
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

/// A parsed header: its index and its data store, borrowed from the blob.
#[derive(Debug)]
pub struct Header<'a> {
    index: Vec<IndexEntry>,
    store: &'a [u8],
}

/// The big-endian u32 at `at` (the caller checked the bounds).
fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl<'a> Header<'a> {
    /// Reads the index of `blob`; fails when its counts do not fit in it.
    pub fn parse(blob: &'a [u8]) -> Result<Header<'a>, String> {
        if blob.len() < 8 {
            return Err(format!(
                "{} bytes, shorter than a header's preamble",
                blob.len()
            ));
        }
        let (entries, size) = (be32(blob, 0) as usize, be32(blob, 4) as usize);
        if entries == 0 || entries > MAX_ENTRIES {
            return Err(format!("{entries} index entries"));
        }
        let store_at = 8 + entries * 16;
        if store_at
            .checked_add(size)
            .is_none_or(|end| end > blob.len())
        {
            return Err(format!(
                "{entries} index entries and {size} bytes of data do not fit in {} bytes",
                blob.len()
            ));
        }
        let index = (0..entries)
            .map(|i| {
                let at = 8 + i * 16;
                IndexEntry {
                    tag: be32(blob, at),
                    kind: be32(blob, at + 4),
                    offset: be32(blob, at + 8),
                    count: be32(blob, at + 12),
                }
            })
            .collect();
        Ok(Header {
            index,
            store: &blob[store_at..store_at + size],
        })
    }

    /// The last entry of `tag` (a dribble entry replaces the region's).
    fn entry(&self, tag: u32) -> Option<IndexEntry> {
        self.index.iter().rev().find(|e| e.tag == tag).copied()
    }

    /// The `count` NUL-terminated strings at `offset` in the store.
    fn strings_at(&self, tag: u32, offset: u32, count: u32) -> Result<Vec<&'a [u8]>, String> {
        let mut at = offset as usize;
        // Each string takes at least its NUL: more than the store holds is a lie.
        if count as usize > self.store.len().saturating_sub(at) {
            return Err(format!("tag {tag}: {count} strings past the data"));
        }
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let rest = &self.store[at..];
            let Some(len) = memchr::memchr(0, rest) else {
                return Err(format!("tag {tag}: unterminated string"));
            };
            out.push(&rest[..len]);
            at += len + 1;
        }
        Ok(out)
    }

    /// Every string of a string-array entry (or the one of a string); empty
    /// when the header has no such tag.
    pub fn strings(&self, tag: u32) -> Result<Vec<&'a [u8]>, String> {
        let Some(e) = self.entry(tag) else {
            return Ok(Vec::new());
        };
        match e.kind {
            TYPE_STRING => self.strings_at(tag, e.offset, 1),
            TYPE_STRING_ARRAY | TYPE_I18NSTRING => self.strings_at(tag, e.offset, e.count),
            kind => Err(format!("tag {tag}: type {kind}, not strings")),
        }
    }

    /// The string of `tag` (the first, for an array), as UTF-8 (invalid
    /// bytes replaced); None when the header has none.
    pub fn string(&self, tag: u32) -> Result<Option<String>, String> {
        let strings = self.strings(tag)?;
        Ok(strings
            .first()
            .map(|s| String::from_utf8_lossy(s).into_owned()))
    }

    /// The 32-bit integers of `tag`; empty when the header has none.
    pub fn int32s(&self, tag: u32) -> Result<Vec<u32>, String> {
        let Some(e) = self.entry(tag) else {
            return Ok(Vec::new());
        };
        if e.kind != TYPE_INT32 {
            return Err(format!("tag {tag}: type {}, not 32-bit integers", e.kind));
        }
        let start = e.offset as usize;
        let end = (e.count as usize)
            .checked_mul(4)
            .and_then(|n| n.checked_add(start))
            .filter(|&end| end <= self.store.len())
            .ok_or_else(|| format!("tag {tag}: {} integers past the data", e.count))?;
        Ok(self.store[start..end]
            .chunks_exact(4)
            .map(|c| be32(c, 0))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with these entries (tag, type, count, data), laid out in order.
    pub(crate) fn build(entries: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut store = Vec::new();
        for (tag, kind, count, data) in entries {
            for v in [*tag, *kind, store.len() as u32, *count] {
                index.extend_from_slice(&v.to_be_bytes());
            }
            store.extend_from_slice(data);
        }
        let mut blob = (entries.len() as u32).to_be_bytes().to_vec();
        blob.extend_from_slice(&(store.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(store);
        blob
    }

    #[test]
    fn reads_strings_arrays_and_integers() {
        let blob = build(&[
            (NAME, TYPE_STRING, 1, b"hello\0"),
            (BASENAMES, TYPE_STRING_ARRAY, 2, b"a\0bc\0"),
            (DIRINDEXES, TYPE_INT32, 2, &[0, 0, 0, 1, 0, 0, 0, 2]),
        ]);
        let h = Header::parse(&blob).unwrap();
        assert_eq!(h.string(NAME).unwrap().as_deref(), Some("hello"));
        assert_eq!(h.strings(BASENAMES).unwrap(), vec![&b"a"[..], b"bc"]);
        assert_eq!(h.int32s(DIRINDEXES).unwrap(), vec![1, 2]);
        assert_eq!(h.string(LICENSE).unwrap(), None);
        assert!(h.int32s(NAME).is_err(), "a string read as integers");
    }

    #[test]
    fn damaged_headers_are_errors() {
        let good = build(&[(NAME, TYPE_STRING, 1, b"hello\0")]);
        for cut in 0..good.len() {
            assert!(Header::parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let unterminated = build(&[(NAME, TYPE_STRING, 1, b"hello")]);
        let h = Header::parse(&unterminated).unwrap();
        assert!(h.string(NAME).is_err());
        let many = build(&[(BASENAMES, TYPE_STRING_ARRAY, u32::MAX, b"a\0")]);
        assert!(Header::parse(&many).unwrap().strings(BASENAMES).is_err());
        let far = build(&[(DIRINDEXES, TYPE_INT32, u32::MAX, &[0; 4])]);
        assert!(Header::parse(&far).unwrap().int32s(DIRINDEXES).is_err());
        let mut past = build(&[(NAME, TYPE_STRING, 1, b"x\0")]);
        past[8 + 8..8 + 12].copy_from_slice(&100u32.to_be_bytes());
        assert!(Header::parse(&past).unwrap().string(NAME).is_err());
    }
}
