//! One tar header block in the GNU format: the fields that vary, written
//! as GNU tar writes them (octal numbers, base-256 past their range, the
//! `ustar  ` magic, the checksum over the block with its own field as
//! spaces). The stream around headers is `tar`'s.

use super::tar::BLOCK;

/// The fields of a header that vary; everything else is fixed.
pub(super) struct Header<'a> {
    pub(super) name: &'a [u8],
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) size: u64,
    pub(super) mtime: u64,
    pub(super) kind: u8,
    pub(super) link: &'a [u8],
}

impl Header<'_> {
    /// The header block.
    pub(super) fn encode(&self) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        put_str(&mut h[0..100], self.name);
        put_num(&mut h[100..108], u64::from(self.mode & 0o7777));
        put_num(&mut h[108..116], u64::from(self.uid));
        put_num(&mut h[116..124], u64::from(self.gid));
        put_num(&mut h[124..136], self.size);
        put_num(&mut h[136..148], self.mtime);
        h[156] = self.kind;
        put_str(&mut h[157..257], self.link);
        h[257..265].copy_from_slice(b"ustar  \0"); // GNU magic and version
        // uname, gname stay empty; devmajor, devminor are zero.
        put_num(&mut h[329..337], 0);
        put_num(&mut h[337..345], 0);
        // The checksum is computed with its own field read as spaces.
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        octal(&mut h[148..154], u64::from(sum));
        h[154] = 0;
        h[155] = b' ';
        h
    }
}

/// Copies as much of `value` as fits; a name of exactly the field's length
/// has no NUL, as the format allows.
fn put_str(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// A number as zero-padded octal and a NUL, or, when it does not fit, in the
/// GNU base-256 form (first byte 0x80, then big-endian) that GNU tar and
/// Python use for files of 8 GiB and more.
fn put_num(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    if digits * 3 >= 64 || value < 1 << (digits * 3) {
        octal(&mut field[..digits], value);
        field[digits] = 0;
    } else {
        field.fill(0);
        field[0] = 0x80;
        let be = value.to_be_bytes();
        let len = field.len();
        let n = be.len().min(len - 1);
        field[len - n..].copy_from_slice(&be[be.len() - n..]);
    }
}

/// The low digits of `value` in octal, zero-padded to fill `digits`.
fn octal(digits: &mut [u8], mut value: u64) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (value & 7) as u8;
        value >>= 3;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::tar::REGULAR;

    #[test]
    fn numbers_in_octal_or_base256() {
        let mut f = [0u8; 8];
        put_num(&mut f, 0o4755);
        assert_eq!(&f, b"0004755\0");
        let mut f = [0u8; 12];
        put_num(&mut f, (1 << 33) - 1);
        assert_eq!(&f, b"77777777777\0");
        put_num(&mut f, 1 << 33);
        assert_eq!(f, [0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn header_checksum_and_magic() {
        let h = Header {
            name: b"etc/passwd",
            mode: 0o644,
            uid: 33,
            gid: 3_000_000,
            size: 5,
            mtime: 1_700_000_000,
            kind: REGULAR,
            link: b"",
        }
        .encode();
        let field = std::str::from_utf8(&h[148..154]).unwrap();
        let stored = u32::from_str_radix(field, 8).unwrap();
        let mut blank = h;
        blank[148..156].fill(b' ');
        assert_eq!(stored, blank.iter().map(|&b| u32::from(b)).sum::<u32>());
        assert_eq!(&h[257..265], b"ustar  \0");
        assert_eq!(&h[124..136], b"00000000005\0");
        assert_eq!(&h[108..116], b"0000041\0");
        assert_eq!(h[116], 0x80, "a gid over 7 octal digits is base-256");
    }
}
