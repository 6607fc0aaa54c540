//! Contents of layer files the analysis may read (programs, libraries,
//! scripts, configuration), kept out of memory: appended to one unnamed
//! temporary file (in TMPDIR, gone with the tree) as the layer streams
//! by, and mapped back by range when read, so that memory stays flat
//! however large the image.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::root::Contents;

/// The temporary file and how much of it is written.
#[derive(Debug)]
pub(super) struct Spool {
    file: File,
    len: u64,
}

impl Spool {
    /// A new, empty spool.
    pub(super) fn new() -> io::Result<Spool> {
        Ok(Spool {
            file: tempfile::tempfile()?,
            len: 0,
        })
    }

    /// Appends `head` and then the rest of `rest`: where they start, and
    /// their length.
    pub(super) fn append(&mut self, head: &[u8], rest: &mut impl Read) -> io::Result<(u64, u64)> {
        let at = self.len;
        // At the end of what is written, wherever a copy left the offset.
        (&self.file).seek(SeekFrom::Start(at))?;
        let mut out = io::BufWriter::with_capacity(1 << 16, &self.file);
        out.write_all(head)?;
        let copied = io::copy(rest, &mut out)?;
        out.flush()?;
        self.len += head.len() as u64 + copied;
        Ok((at, self.len - at))
    }

    /// The bytes at `offset`, `len` long, mapped.
    pub(super) fn contents(&self, offset: u64, len: u64) -> io::Result<Contents> {
        if len == 0 {
            return Ok(Contents::Read(Vec::new()));
        }
        let len = usize::try_from(len).map_err(io::Error::other)?;
        // SAFETY: the map is read-only and private, of a file nobody else
        // can open (unnamed), written only before any map of it is made.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .map(&self.file)
        }?;
        Ok(Contents::Mapped(map))
    }

    /// Copies the bytes at `offset`, `len` long, to a new file at `to`
    /// (with reads at an offset: copies may run on several threads).
    pub(super) fn copy_to(&self, offset: u64, len: u64, to: &Path) -> io::Result<()> {
        let mut out = File::create(to)?;
        let mut buf = vec![0; len.clamp(1, 1 << 16) as usize];
        let mut done = 0;
        while done < len {
            let want = buf
                .len()
                .min(usize::try_from(len - done).unwrap_or(usize::MAX));
            let n = self.file.read_at(&mut buf[..want], offset + done)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            out.write_all(&buf[..n])?;
            done += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_appended_comes_back_by_range_after_copies_too() {
        let mut spool = Spool::new().unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let a = spool.append(b"head-a", &mut &big[..]).unwrap();
        assert_eq!(a, (0, 6 + big.len() as u64));
        let t = tempfile::tempdir().unwrap();
        let to = t.path().join("a");
        spool.copy_to(a.0, a.1, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap()[6..], big[..]);
        // Appending after a copy moved the file's offset still appends.
        let b = spool.append(b"b", &mut &b"-rest"[..]).unwrap();
        assert_eq!(b, (a.1, 6));
        assert_eq!(&*spool.contents(b.0, b.1).unwrap(), b"b-rest");
        assert_eq!(&spool.contents(a.0, a.1).unwrap()[..6], b"head-a");
        assert!(spool.copy_to(b.0, b.1 + 1, &to).is_err(), "past the end");
    }
}
