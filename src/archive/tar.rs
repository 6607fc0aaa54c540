//! The tar stream, headers written by hand in the GNU format that GNU tar,
//! bsdtar, busybox and Python's `tarfile` all read.
//!
//! Every header field is fixed or comes from the entry: the numeric owner
//! the entry names (0:0 by default) with no user or group names, one mtime
//! for all, permission bits as given, no atime or ctime.
//! Paths and link targets longer than the 100-byte fields get a GNU
//! `././@LongLink` record first. A hard link (`links`) is a header of
//! type '1' naming the path written first. The stream ends with two zero blocks and is
//! padded to GNU tar's 10 KiB record size, so the same entries always give
//! the same bytes.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use super::copy;
use super::header::Header;
use super::links::Links;
use super::plan::{Item, ItemKind};
use crate::error::{Error, Result};

pub(super) const BLOCK: usize = 512;
/// GNU tar's default record (blocking factor 20); archives are padded to it.
const RECORD: u64 = 20 * BLOCK as u64;
const NAME_LEN: usize = 100;
const LONG_LINK: &str = "././@LongLink";

/// Header type flags.
pub(super) const REGULAR: u8 = b'0';
const HARDLINK: u8 = b'1';
const SYMLINK: u8 = b'2';
const DIRECTORY: u8 = b'5';
const GNU_LONG_NAME: u8 = b'L';
const GNU_LONG_LINK: u8 = b'K';

/// Writes `items` (already planned) as a tar stream to `w`; `out` names the
/// output in write errors. Returns `w`, flushed, and the number of content
/// bytes written.
pub(crate) fn write<W: Write>(
    items: &[Item<'_>],
    mtime: u64,
    w: W,
    out: &Path,
) -> Result<(W, u64)> {
    let mut t = Writer::over(w, mtime, out, None);
    t.write(items)?;
    t.finish()
}

/// [`write`] to an open file (which is to replace `out`): the contents of
/// large files are copied into it by the kernel where it can ([`copy::copy_in_kernel`]).
pub(crate) fn write_file(
    items: &[Item<'_>],
    mtime: u64,
    file: File,
    out: &Path,
) -> Result<(File, u64)> {
    let mut w = Writer::new(file, mtime, out);
    w.write(items)?;
    w.finish()
}

/// A tar stream written in parts (to a file, which is to replace `out`,
/// by default), as [`write`] and [`write_file`] write it whole; a file's
/// may start over.
pub(crate) struct Writer<'p, 'a, W: Write = File> {
    stream: Stream<'p, 'a, W>,
    buf: Vec<u8>,
    payload: u64,
}

impl<'p, 'a, W: Write> Writer<'p, 'a, W> {
    /// A stream to `w`, whose own descriptor is `direct` when it is a file.
    fn over(w: W, mtime: u64, out: &'p Path, direct: Option<RawFd>) -> Writer<'p, 'a, W> {
        Writer {
            stream: Stream::new(w, mtime, out, direct),
            buf: copy::buffer(),
            payload: 0,
        }
    }

    /// Writes the next `items` (planned, continuing those written).
    pub(crate) fn write(&mut self, items: &[Item<'a>]) -> Result<()> {
        for item in items {
            self.payload += self.stream.entry(item, &mut self.buf)?;
        }
        Ok(())
    }

    /// Ends the stream: what it wrote to, and the number of content bytes written.
    pub(crate) fn finish(mut self) -> Result<(W, u64)> {
        self.stream.finish()?;
        Ok((self.stream.into_inner()?, self.payload))
    }
}

impl<'p, 'a> Writer<'p, 'a> {
    pub(crate) fn new(file: File, mtime: u64, out: &'p Path) -> Writer<'p, 'a> {
        let fd = file.as_raw_fd();
        Writer::over(file, mtime, out, Some(fd))
    }

    /// The same writer on the same file, emptied.
    pub(crate) fn restart(self) -> Result<Writer<'p, 'a>> {
        let (mtime, out) = (self.stream.mtime, self.stream.out);
        let mut file = self.stream.into_inner()?;
        file.set_len(0).map_err(|e| Error::io(out, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(out, e))?;
        Ok(Writer::new(file, mtime, out))
    }
}

struct Stream<'p, 'a, W: Write> {
    w: BufWriter<W>,
    out: &'p Path,
    /// Bytes written so far, to pad the end to a whole record.
    written: u64,
    mtime: u64,
    /// The descriptor `w` writes to, when it is a file.
    direct: Option<RawFd>,
    /// The files written so far, for those that are one host file.
    links: Links<'a>,
}

impl<'p, 'a, W: Write> Stream<'p, 'a, W> {
    fn new(w: W, mtime: u64, out: &'p Path, direct: Option<RawFd>) -> Stream<'p, 'a, W> {
        Stream {
            w: BufWriter::with_capacity(copy::CHUNK, w),
            out,
            written: 0,
            mtime,
            direct,
            links: Links::default(),
        }
    }

    /// What the stream writes to, all written.
    fn into_inner(self) -> Result<W> {
        let out = self.out;
        self.w
            .into_inner()
            .map_err(|e| Error::io(out, e.into_error()))
    }

    /// Writes one entry and returns its content size.
    fn entry(&mut self, item: &Item<'a>, buf: &mut [u8]) -> Result<u64> {
        let name = item.relative();
        match item.kind {
            ItemKind::Dir => {
                self.header(item, &format!("{name}/"), 0, DIRECTORY, "")?;
                Ok(0)
            }
            ItemKind::Symlink(target) => {
                self.header(item, name, 0, SYMLINK, target)?;
                Ok(0)
            }
            ItemKind::Data(data) => {
                let size = data.len() as u64;
                self.header(item, name, size, REGULAR, "")?;
                self.bytes(data)?;
                self.pad(size)?;
                Ok(size)
            }
            ItemKind::File(source) => {
                let (mut file, meta) = copy::open(source)?;
                // A later name of a file written before: a hard link.
                if let Some(first) = self.links.earlier(item, &meta) {
                    self.header(item, name, 0, HARDLINK, &first[1..])?;
                    return Ok(0);
                }
                let size = meta.len();
                self.header(item, name, size, REGULAR, "")?;
                let mut done = 0;
                if let Some(fd) = self.direct
                    && size >= copy::IN_KERNEL_FROM
                {
                    // What is buffered goes first.
                    self.w.flush().map_err(|e| Error::io(self.out, e))?;
                    done = copy::copy_in_kernel(&file, fd, size);
                }
                let left = size - done;
                copy::copy_exact(&mut file, left, source, &mut self.w, self.out, buf)?;
                self.written += size;
                self.pad(size)?;
                Ok(size)
            }
        }
    }

    /// Writes the header of `item` (named `name`), preceded by GNU long-name
    /// records for a name or link target that does not fit its field.
    fn header(
        &mut self,
        item: &Item<'_>,
        name: &str,
        size: u64,
        kind: u8,
        link: &str,
    ) -> Result<()> {
        if link.len() > NAME_LEN {
            self.long_record(GNU_LONG_LINK, link)?;
        }
        if name.len() > NAME_LEN {
            self.long_record(GNU_LONG_NAME, name)?;
        }
        let h = Header {
            name: name.as_bytes(),
            mode: item.mode,
            uid: item.uid,
            gid: item.gid,
            size,
            mtime: item.mtime.unwrap_or(self.mtime),
            kind,
            link: link.as_bytes(),
        };
        self.bytes(&h.encode())
    }

    /// A `././@LongLink` record: a header whose contents are `value` and a
    /// NUL. The following header keeps the first 100 bytes, as GNU tar does.
    fn long_record(&mut self, kind: u8, value: &str) -> Result<()> {
        let size = value.len() as u64 + 1;
        let h = Header {
            name: LONG_LINK.as_bytes(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
            kind,
            link: b"",
        };
        self.bytes(&h.encode())?;
        self.bytes(value.as_bytes())?;
        self.bytes(&[0])?;
        self.pad(size)
    }

    /// Zero bytes up to the next block boundary after `size` content bytes.
    fn pad(&mut self, size: u64) -> Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem == 0 {
            return Ok(());
        }
        self.bytes(&[0; BLOCK][rem..])
    }

    fn finish(&mut self) -> Result<()> {
        self.bytes(&[0; 2 * BLOCK])?;
        let rem = self.written % RECORD;
        if rem != 0 {
            let zeros = vec![0; (RECORD - rem) as usize];
            self.bytes(&zeros)?;
        }
        Ok(())
    }

    fn bytes(&mut self, b: &[u8]) -> Result<()> {
        self.w.write_all(b).map_err(|e| Error::io(self.out, e))?;
        self.written += b.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testutil::{self, sample};
    use crate::archive::{Entry, write_tar};
    use std::fs;
    use std::process::Command;

    #[test]
    fn same_entries_same_bytes_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut entries = sample(dir.path());
        let a = write_tar(&entries, 1_700_000_000, Vec::new()).unwrap();
        entries.reverse();
        let b = write_tar(&entries, 1_700_000_000, Vec::new()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len() as u64 % RECORD, 0);
        let c = write_tar(&entries, 1, Vec::new()).unwrap();
        assert_ne!(a, c, "the mtime is in the headers");
    }

    #[test]
    fn missing_source_names_the_source() {
        let entries = [Entry::file("/bin/x", "/nonexistent/elfroot-src", 0o755)];
        let err = write_tar(&entries, 0, Vec::new()).unwrap_err();
        assert_eq!(
            err.path().map(|p| p.as_path()),
            Some(Path::new("/nonexistent/elfroot-src"))
        );
    }

    #[test]
    fn directory_source_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let entries = [Entry::file("/bin/x", dir.path(), 0o755)];
        let err = write_tar(&entries, 0, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    /// The sample entries, written as `root.tar` in `dir` with a fixed mtime.
    fn sample_archive(dir: &Path) -> (Vec<Entry>, std::path::PathBuf) {
        let entries = sample(dir);
        let archive = dir.join("root.tar");
        fs::write(
            &archive,
            write_tar(&entries, 1_700_000_000, Vec::new()).unwrap(),
        )
        .unwrap();
        (entries, archive)
    }

    #[test]
    fn gnu_tar_lists_and_extracts_it() {
        let Some(()) = testutil::need("tar") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (entries, archive) = sample_archive(dir.path());

        let list = Command::new("tar")
            .args(["--numeric-owner", "--full-time", "-tvf"])
            .arg(&archive)
            .env("TZ", "UTC")
            .output()
            .unwrap();
        assert!(list.status.success(), "{list:?}");
        assert!(
            list.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&list.stderr)
        );
        let list = String::from_utf8(list.stdout).unwrap();
        assert!(list.contains("-rwsr-xr-x 0/0"), "{list}");
        assert!(list.contains("2023-11-14 22:13:20 usr/bin/su"), "{list}");
        assert!(list.contains("lib -> usr/lib"), "{list}");

        let root = dir.path().join("x");
        fs::create_dir(&root).unwrap();
        let st = Command::new("tar")
            .args(["-xpf"])
            .arg(&archive)
            .arg("-C")
            .arg(&root)
            .status()
            .unwrap();
        assert!(st.success());
        testutil::assert_tree(&root, &entries, Some(1_700_000_000));
    }

    #[test]
    fn python_tarfile_reads_it() {
        let Some(()) = testutil::need("python3") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (_, archive) = sample_archive(dir.path());
        let script = "import sys, tarfile\n\
            for m in tarfile.open(sys.argv[1]):\n\
            \x20   print(m.type.decode(), oct(m.mode), m.uid, m.gid, repr(m.uname), m.mtime, m.size, m.name, m.linkname)\n";
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&archive)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let out = String::from_utf8(out.stdout).unwrap();
        let long = format!("usr/share/{}/file", "d".repeat(120));
        let want = [
            "5 0o755 0 0 '' 1700000000 0 etc ",
            "0 0o644 0 0 '' 1700000000 9 etc/passwd ",
            "2 0o777 0 0 '' 1700000000 0 lib usr/lib",
            "0 0o4755 0 0 '' 1700000000 4 usr/bin/su ",
            &format!("0 0o644 0 0 '' 1700000000 3 {long} "),
        ];
        for line in want {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        let target = "t".repeat(150);
        assert!(
            out.contains(&format!("usr/lib/long-link {target}")),
            "{out}"
        );
    }
}
