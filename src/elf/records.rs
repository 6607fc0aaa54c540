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

/// Defines `Image::u16` and its kin: the word of that type at an offset,
/// in the file's byte order.
macro_rules! words {
    ($( $(#[$doc:meta])* $ty:ident, )*) => {$(
        $(#[$doc])*
        pub(crate) fn $ty(&self, at: usize) -> Option<$ty> {
            let b = self.array(at)?;
            Some(if self.little {
                $ty::from_le_bytes(b)
            } else {
                $ty::from_be_bytes(b)
            })
        }
    )*};
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

    /// The number of bytes of the file.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
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

    words! {
        /// The 16-bit word at `at`.
        u16,
        /// The 32-bit word at `at`.
        u32,
        /// The 64-bit word at `at`.
        u64,
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
        let end = memchr::memchr(0, rest)?;
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

/// Defines a record of the same layout in both classes: its struct, with
/// each field's offset written beside it, its `SIZE` and its `parse`, and
/// for a chained record its [`Linked`] impl.
macro_rules! record {
    (
        $(#[$doc:meta])*
        $name:ident, $size:literal bytes $(, linked by $next:ident)? {
            $( $(#[$fdoc:meta])* $field:ident: $ty:ident at $off:literal, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )*
        }

        impl $name {
            /// Bytes of the record.
            pub(crate) const SIZE: usize = $size;

            /// The record at `at`, if it fits in the file.
            pub(crate) fn parse(img: &Image<'_>, at: usize) -> Option<$name> {
                let r = img.record(at, Self::SIZE)?;
                Some($name { $( $field: r.$ty($off)?, )* })
            }
        }

        $(
            impl Linked for $name {
                fn parse(img: &Image<'_>, at: usize) -> Option<$name> {
                    $name::parse(img, at)
                }
                fn next(&self) -> u32 {
                    self.$next
                }
            }
        )?
    };
}

record! {
    /// A version need entry (`Elfxx_Verneed`): one file this object needs
    /// versions from.
    Verneed, 16 bytes, linked by vn_next {
        /// Structure version (1).
        vn_version: u16 at 0,
        /// Number of [`Vernaux`] entries that follow.
        vn_cnt: u16 at 2,
        /// Offset of the file's name (its SONAME) in the string table.
        vn_file: u32 at 4,
        /// Offset of the first [`Vernaux`] from this entry.
        vn_aux: u32 at 8,
        /// Offset of the next entry from this one; 0 for the last.
        vn_next: u32 at 12,
    }
}

record! {
    /// A version need auxiliary entry (`Elfxx_Vernaux`): one version needed
    /// from a [`Verneed`]'s file.
    Vernaux, 16 bytes, linked by vna_next {
        /// ELF hash of the version name.
        vna_hash: u32 at 0,
        /// `VER_FLG_WEAK` or 0.
        vna_flags: u16 at 4,
        /// The version index DT_VERSYM entries use for this version (bit
        /// 15: hidden).
        vna_other: u16 at 6,
        /// Offset of the version name in the string table.
        vna_name: u32 at 8,
        /// Offset of the next entry from this one; 0 for the last.
        vna_next: u32 at 12,
    }
}

record! {
    /// A version definition entry (`Elfxx_Verdef`): one version the object
    /// defines.
    Verdef, 20 bytes, linked by vd_next {
        /// Structure version (1).
        vd_version: u16 at 0,
        /// `VER_FLG_BASE` for the entry naming the object itself.
        vd_flags: u16 at 2,
        /// The version index DT_VERSYM entries use for this version.
        vd_ndx: u16 at 4,
        /// Number of [`Verdaux`] entries (the name, then the parents).
        vd_cnt: u16 at 6,
        /// ELF hash of the version name.
        vd_hash: u32 at 8,
        /// Offset of the first [`Verdaux`] (the name) from this entry.
        vd_aux: u32 at 12,
        /// Offset of the next entry from this one; 0 for the last.
        vd_next: u32 at 16,
    }
}

record! {
    /// A version definition auxiliary entry (`Elfxx_Verdaux`): a
    /// [`Verdef`]'s name, or the name of one of its parents.
    Verdaux, 8 bytes, linked by vda_next {
        /// Offset of the version name in the string table.
        vda_name: u32 at 0,
        /// Offset of the next entry from this one; 0 for the last.
        vda_next: u32 at 4,
    }
}

record! {
    /// A note header (`Elfxx_Nhdr`), followed by the owner's name and the
    /// descriptor, each padded to the segment's alignment.
    Nhdr, 12 bytes {
        /// Bytes of the owner's name, its NUL included.
        n_namesz: u32 at 0,
        /// Bytes of the descriptor.
        n_descsz: u32 at 4,
        /// The note's type, meaningful with its owner.
        n_type: u32 at 8,
    }
}

record! {
    /// The header of a GNU hash table (DT_GNU_HASH), followed in the file
    /// by `bloom_size` class-sized bloom words, `nbuckets` 32-bit buckets
    /// and the chains.
    GnuHashHeader, 16 bytes {
        /// Number of hash buckets.
        nbuckets: u32 at 0,
        /// Index of the first symbol the table covers.
        symoffset: u32 at 4,
        /// Number of bloom filter words.
        bloom_size: u32 at 8,
        /// Shift of the bloom filter's second hash.
        bloom_shift: u32 at 12,
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
        assert!(Verneed::parse(&img, 0).is_some());
        assert!(Verneed::parse(&img, 1).is_none());
        assert!(Verdef::parse(&img, 0).is_none(), "20 bytes");
        assert!(Verdaux::parse(&img, usize::MAX - 3).is_none());
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
