//! The on-disk records symbol reading walks, as named structs: symbol table
//! entries ([`Sym`]), version needs ([`Verneed`], [`Vernaux`]), version
//! definitions ([`Verdef`], [`Verdaux`]), note headers ([`Nhdr`]) and the
//! GNU hash table's header ([`GnuHashHeader`]), laid out as the System V ABI and the LSB say (the
//! field names are those of `<elf.h>` and goblin's `elf::symver`).
//!
//! Each record is read from an [`Image`] — the file's bytes with its byte
//! order and class — at a file offset, and is `None` when it does not fit in
//! the file. Offsets come from the file itself, so every sum is checked and
//! every chain ([`Chain`]) is capped: a hostile file cannot make reading
//! panic or loop. Uses only the parent module's [`Class`] and [`Data`].

use super::{Class, Data};

/// The bytes of an ELF file, read with its byte order and class.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Image<'a> {
    bytes: &'a [u8],
    little: bool,
    is64: bool,
}

impl<'a> Image<'a> {
    /// `bytes` read as a file of this class and byte order.
    pub(crate) fn new(bytes: &'a [u8], class: Class, data: Data) -> Image<'a> {
        Image {
            bytes,
            little: data == Data::Little,
            is64: class == Class::Elf64,
        }
    }

    /// True for a 64-bit file.
    pub(crate) fn is64(&self) -> bool {
        self.is64
    }

    /// The `N` bytes at `at`, if they are all in the file.
    fn array<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.bytes.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    /// The byte at `at`.
    pub(crate) fn u8(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    /// The 16-bit word at `at`.
    pub(crate) fn u16(&self, at: usize) -> Option<u16> {
        let b = self.array(at)?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    /// The 32-bit word at `at`.
    pub(crate) fn u32(&self, at: usize) -> Option<u32> {
        let b = self.array(at)?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// The 64-bit word at `at`.
    pub(crate) fn u64(&self, at: usize) -> Option<u64> {
        let b = self.array(at)?;
        Some(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    /// The `size` bytes at `at` as an image of their own, so that a record's
    /// fields are read at small fixed offsets that cannot overflow.
    pub(crate) fn record(&self, at: usize, size: usize) -> Option<Image<'a>> {
        Some(Image {
            bytes: self.bytes.get(at..at.checked_add(size)?)?,
            ..*self
        })
    }

    /// The NUL-terminated UTF-8 string at `off` in the string table at `strtab`.
    pub(crate) fn str(&self, strtab: usize, off: u32) -> Option<&'a str> {
        let rest = self.bytes.get(strtab.checked_add(off as usize)?..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }
}

/// A symbol table entry (`Elf32_Sym` or `Elf64_Sym`; the two order their
/// fields differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sym {
    /// Offset of the name in the string table.
    pub st_name: u32,
    /// Binding (high four bits) and type (low four bits).
    pub st_info: u8,
    /// Visibility.
    pub st_other: u8,
    /// Section index; `SHN_UNDEF` (0) for a symbol the object imports.
    pub st_shndx: u16,
    /// Value (an address for a defined symbol).
    pub st_value: u64,
    /// Size in bytes.
    pub st_size: u64,
}

impl Sym {
    /// `sizeof(Elf32_Sym)`.
    pub(crate) const SIZE32: usize = 16;
    /// `sizeof(Elf64_Sym)`.
    pub(crate) const SIZE64: usize = 24;

    /// The size of one entry in a file of `img`'s class.
    pub(crate) fn size(img: &Image<'_>) -> usize {
        if img.is64 { Self::SIZE64 } else { Self::SIZE32 }
    }

    /// The entry at `at`.
    pub(crate) fn parse(img: &Image<'_>, at: usize) -> Option<Sym> {
        let r = img.record(at, Self::size(img))?;
        Some(if img.is64 {
            Sym {
                st_name: r.u32(0)?,
                st_info: r.u8(4)?,
                st_other: r.u8(5)?,
                st_shndx: r.u16(6)?,
                st_value: r.u64(8)?,
                st_size: r.u64(16)?,
            }
        } else {
            Sym {
                st_name: r.u32(0)?,
                st_value: u64::from(r.u32(4)?),
                st_size: u64::from(r.u32(8)?),
                st_info: r.u8(12)?,
                st_other: r.u8(13)?,
                st_shndx: r.u16(14)?,
            }
        })
    }
}

/// A record of a chain linked by byte offsets from each record to the next
/// (`vn_next`, `vna_next`, `vd_next`, `vda_next`), 0 ending the chain.
pub(crate) trait Linked: Sized {
    /// The record at `at`, if it fits in the file.
    fn parse(img: &Image<'_>, at: usize) -> Option<Self>;
    /// The offset of the next record from this one; 0 for the last.
    fn next(&self) -> u32;
}

/// A version need entry (`Elfxx_Verneed`, 16 bytes in both classes): one
/// file this object needs versions from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verneed {
    /// Structure version (1).
    pub vn_version: u16,
    /// Number of [`Vernaux`] entries that follow.
    pub vn_cnt: u16,
    /// Offset of the file's name (its SONAME) in the string table.
    pub vn_file: u32,
    /// Offset of the first [`Vernaux`] from this entry.
    pub vn_aux: u32,
    /// Offset of the next entry from this one; 0 for the last.
    pub vn_next: u32,
}

impl Linked for Verneed {
    fn parse(img: &Image<'_>, at: usize) -> Option<Verneed> {
        let r = img.record(at, 16)?;
        Some(Verneed {
            vn_version: r.u16(0)?,
            vn_cnt: r.u16(2)?,
            vn_file: r.u32(4)?,
            vn_aux: r.u32(8)?,
            vn_next: r.u32(12)?,
        })
    }
    fn next(&self) -> u32 {
        self.vn_next
    }
}

/// A version need auxiliary entry (`Elfxx_Vernaux`, 16 bytes): one version
/// needed from a [`Verneed`]'s file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Vernaux {
    /// ELF hash of the version name.
    pub vna_hash: u32,
    /// `VER_FLG_WEAK` or 0.
    pub vna_flags: u16,
    /// The version index DT_VERSYM entries use for this version (bit 15:
    /// hidden).
    pub vna_other: u16,
    /// Offset of the version name in the string table.
    pub vna_name: u32,
    /// Offset of the next entry from this one; 0 for the last.
    pub vna_next: u32,
}

impl Linked for Vernaux {
    fn parse(img: &Image<'_>, at: usize) -> Option<Vernaux> {
        let r = img.record(at, 16)?;
        Some(Vernaux {
            vna_hash: r.u32(0)?,
            vna_flags: r.u16(4)?,
            vna_other: r.u16(6)?,
            vna_name: r.u32(8)?,
            vna_next: r.u32(12)?,
        })
    }
    fn next(&self) -> u32 {
        self.vna_next
    }
}

/// A version definition entry (`Elfxx_Verdef`, 20 bytes): one version the
/// object defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdef {
    /// Structure version (1).
    pub vd_version: u16,
    /// `VER_FLG_BASE` for the entry naming the object itself.
    pub vd_flags: u16,
    /// The version index DT_VERSYM entries use for this version.
    pub vd_ndx: u16,
    /// Number of [`Verdaux`] entries (the name, then the parents).
    pub vd_cnt: u16,
    /// ELF hash of the version name.
    pub vd_hash: u32,
    /// Offset of the first [`Verdaux`] (the name) from this entry.
    pub vd_aux: u32,
    /// Offset of the next entry from this one; 0 for the last.
    pub vd_next: u32,
}

impl Linked for Verdef {
    fn parse(img: &Image<'_>, at: usize) -> Option<Verdef> {
        let r = img.record(at, 20)?;
        Some(Verdef {
            vd_version: r.u16(0)?,
            vd_flags: r.u16(2)?,
            vd_ndx: r.u16(4)?,
            vd_cnt: r.u16(6)?,
            vd_hash: r.u32(8)?,
            vd_aux: r.u32(12)?,
            vd_next: r.u32(16)?,
        })
    }
    fn next(&self) -> u32 {
        self.vd_next
    }
}

/// A version definition auxiliary entry (`Elfxx_Verdaux`, 8 bytes): a
/// [`Verdef`]'s name, or the name of one of its parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdaux {
    /// Offset of the version name in the string table.
    pub vda_name: u32,
    /// Offset of the next entry from this one; 0 for the last.
    pub vda_next: u32,
}

impl Linked for Verdaux {
    fn parse(img: &Image<'_>, at: usize) -> Option<Verdaux> {
        let r = img.record(at, 8)?;
        Some(Verdaux {
            vda_name: r.u32(0)?,
            vda_next: r.u32(4)?,
        })
    }
    fn next(&self) -> u32 {
        self.vda_next
    }
}

/// A note header (`Elfxx_Nhdr`, 12 bytes in both classes), followed by the
/// owner's name and the descriptor, each padded to the segment's alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nhdr {
    /// Bytes of the owner's name, its NUL included.
    pub n_namesz: u32,
    /// Bytes of the descriptor.
    pub n_descsz: u32,
    /// The note's type, meaningful with its owner.
    pub n_type: u32,
}

impl Nhdr {
    /// Bytes of the header.
    pub(crate) const SIZE: usize = 12;

    /// The header at `at`.
    pub(crate) fn parse(img: &Image<'_>, at: usize) -> Option<Nhdr> {
        let r = img.record(at, Self::SIZE)?;
        Some(Nhdr {
            n_namesz: r.u32(0)?,
            n_descsz: r.u32(4)?,
            n_type: r.u32(8)?,
        })
    }
}

/// The header of a GNU hash table (DT_GNU_HASH), followed in the file by
/// `bloom_size` class-sized bloom words, `nbuckets` 32-bit buckets and the
/// chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GnuHashHeader {
    /// Number of hash buckets.
    pub nbuckets: u32,
    /// Index of the first symbol the table covers.
    pub symoffset: u32,
    /// Number of bloom filter words.
    pub bloom_size: u32,
    /// Shift of the bloom filter's second hash.
    pub bloom_shift: u32,
}

impl GnuHashHeader {
    /// Bytes of the header.
    pub(crate) const SIZE: usize = 16;

    /// The header at `at`.
    pub(crate) fn parse(img: &Image<'_>, at: usize) -> Option<GnuHashHeader> {
        let r = img.record(at, Self::SIZE)?;
        Some(GnuHashHeader {
            nbuckets: r.u32(0)?,
            symoffset: r.u32(4)?,
            bloom_size: r.u32(8)?,
            bloom_shift: r.u32(12)?,
        })
    }
}

/// The records of one chain, each with its file offset: at most `limit`,
/// ending at a zero link, at a record that does not fit in the file, or at a
/// link that overflows.
pub(crate) struct Chain<'a, R> {
    img: Image<'a>,
    at: Option<usize>,
    left: u64,
    record: std::marker::PhantomData<R>,
}

impl<'a, R: Linked> Chain<'a, R> {
    /// The chain whose first record is at `at`.
    pub(crate) fn new(img: Image<'a>, at: Option<usize>, limit: u64) -> Chain<'a, R> {
        Chain {
            img,
            at,
            left: limit,
            record: std::marker::PhantomData,
        }
    }
}

impl<R: Linked> Iterator for Chain<'_, R> {
    type Item = (usize, R);

    fn next(&mut self) -> Option<(usize, R)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let at = self.at.take()?;
        let record = R::parse(&self.img, at)?;
        self.at = match record.next() {
            0 => None,
            n => at.checked_add(n as usize),
        };
        Some((at, record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le64(bytes: &[u8]) -> Image<'_> {
        Image::new(bytes, Class::Elf64, Data::Little)
    }

    #[test]
    fn fields_follow_byte_order_and_class() {
        let mut b = vec![0u8; 24];
        b[0..4].copy_from_slice(&7u32.to_be_bytes());
        b[4..8].copy_from_slice(&0x100u32.to_be_bytes());
        b[12] = 0x12;
        b[14..16].copy_from_slice(&3u16.to_be_bytes());
        let sym = Sym::parse(&Image::new(&b, Class::Elf32, Data::Big), 0).unwrap();
        assert_eq!(
            (sym.st_name, sym.st_value, sym.st_info, sym.st_shndx),
            (7, 0x100, 0x12, 3)
        );
        let mut b = vec![0u8; 24];
        b[0..4].copy_from_slice(&7u32.to_le_bytes());
        b[4] = 0x12;
        b[6..8].copy_from_slice(&3u16.to_le_bytes());
        b[8..16].copy_from_slice(&0x1_0000_0000u64.to_le_bytes());
        let sym = Sym::parse(&le64(&b), 0).unwrap();
        assert_eq!(
            (sym.st_name, sym.st_value, sym.st_info, sym.st_shndx),
            (7, 0x1_0000_0000, 0x12, 3)
        );
        assert_eq!(Sym::parse(&le64(&b[..23]), 0), None, "cut short");
    }

    #[test]
    fn records_past_the_end_or_at_overflowing_offsets_are_none() {
        let b = [0u8; 16];
        let img = le64(&b);
        assert!(<Verneed as Linked>::parse(&img, 0).is_some());
        assert!(<Verneed as Linked>::parse(&img, 1).is_none());
        assert!(<Verdef as Linked>::parse(&img, 0).is_none(), "20 bytes");
        assert!(<Verdaux as Linked>::parse(&img, usize::MAX - 3).is_none());
        assert_eq!(img.u32(usize::MAX), None);
        assert_eq!(img.str(usize::MAX, 5), None);
    }

    /// Two Verneed entries, the first with two Vernaux entries.
    fn verneed_chain() -> Vec<u8> {
        let mut b = Vec::new();
        let mut put = |fields: &[(u64, usize)]| {
            for &(v, n) in fields {
                b.extend_from_slice(&v.to_le_bytes()[..n]);
            }
        };
        // at 0: version 1, 2 aux, file 10, aux at +16, next at +48
        put(&[(1, 2), (2, 2), (10, 4), (16, 4), (48, 4)]);
        // at 16: hash, flags, other 2, name 20, next +16
        put(&[(0, 4), (0, 2), (2, 2), (20, 4), (16, 4)]);
        // at 32: other 3, name 30, last
        put(&[(0, 4), (0, 2), (3, 2), (30, 4), (0, 4)]);
        // at 48: version 1, no aux, file 40, last
        put(&[(1, 2), (0, 2), (40, 4), (0, 4), (0, 4)]);
        b
    }

    #[test]
    fn a_verneed_chain_is_walked_to_its_end() {
        let b = verneed_chain();
        let img = le64(&b);
        let needs: Vec<(usize, Verneed)> = Chain::new(img, Some(0), 100).collect();
        assert_eq!(needs.len(), 2);
        assert_eq!((needs[1].0, needs[1].1.vn_file), (48, 40));
        let first = needs[0].1;
        let aux: Vec<Vernaux> = Chain::new(img, Some(first.vn_aux as usize), 100)
            .map(|(_, a)| a)
            .collect();
        let others: Vec<u16> = aux.iter().map(|a| a.vna_other).collect();
        assert_eq!(others, [2, 3]);
        assert_eq!(aux[1].vna_name, 30);
    }

    #[test]
    fn hostile_chains_terminate() {
        // A Vernaux linking to itself forever would need vna_next = 0,
        // which ends the chain; a huge count is capped by the limit.
        let mut b = verneed_chain();
        b[2..4].copy_from_slice(&u16::MAX.to_le_bytes()); // vn_cnt
        b[12..16].copy_from_slice(&u32::MAX.to_le_bytes()); // vn_next far past the end
        let img = le64(&b);
        assert_eq!(Chain::<Verneed>::new(img, Some(0), u64::MAX).count(), 1);
        // Records 16 bytes apart that never end: the limit stops the walk.
        let same = [16u8, 0, 0, 0].repeat(4).repeat(1 << 12);
        let img = le64(&same);
        assert_eq!(Chain::<Vernaux>::new(img, Some(0), 1024).count(), 1024);
        assert_eq!(
            Chain::<Vernaux>::new(img, Some(0), u64::MAX).count(),
            same.len() / 16,
            "ends at the end of the file"
        );
        // A link that overflows ends the chain instead of wrapping.
        let img = le64(&b);
        let at = usize::MAX - 8;
        assert_eq!(Chain::<Verdaux>::new(img, Some(at), 10).count(), 0);
    }
}
