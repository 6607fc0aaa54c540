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
use std::io::{BufWriter, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use super::copy;
use super::links::Links;
use super::plan::{Item, ItemKind};
use crate::error::{Error, Result};

const BLOCK: usize = 512;
/// GNU tar's default record (blocking factor 20); archives are padded to it.
const RECORD: u64 = 20 * BLOCK as u64;
const NAME_LEN: usize = 100;
const LONG_LINK: &str = "././@LongLink";

/// Header type flags.
const REGULAR: u8 = b'0';
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
    write_to(items, mtime, w, out, None)
}

/// [`write`] to an open file: the contents of large files are copied into
/// it by the kernel where it can ([`copy::copy_in_kernel`]). `out` is the
/// path the file will replace, if anything is there ([`copy::Writeback`]).
pub(crate) fn write_file(
    items: &[Item<'_>],
    mtime: u64,
    file: File,
    out: &Path,
) -> Result<(File, u64)> {
    let fd = file.as_raw_fd();
    let writeback = match out.symlink_metadata() {
        Ok(_) => copy::Writeback::start(&file),
        Err(_) => copy::Writeback::none(),
    };
    write_to(items, mtime, file, out, Some((fd, writeback)))
}

/// [`write`]; `direct` is `w`'s own descriptor, when it is a file, with
/// the writeback of what is written.
fn write_to<'a, W: Write>(
    items: &[Item<'a>],
    mtime: u64,
    w: W,
    out: &Path,
    direct: Option<(RawFd, copy::Writeback)>,
) -> Result<(W, u64)> {
    let mut t = Stream {
        w: BufWriter::with_capacity(copy::CHUNK, w),
        out,
        written: 0,
        mtime,
        direct,
        links: Links::default(),
    };
    let mut buf = copy::buffer();
    let mut payload = 0;
    for item in items {
        payload += t.entry(item, &mut buf)?;
    }
    t.finish()?;
    if let Some((_, writeback)) = t.direct.take() {
        writeback.finish();
    }
    let w =
        t.w.into_inner()
            .map_err(|e| Error::io(out, e.into_error()))?;
    Ok((w, payload))
}

struct Stream<'p, 'a, W: Write> {
    w: BufWriter<W>,
    out: &'p Path,
    /// Bytes written so far, to pad the end to a whole record.
    written: u64,
    mtime: u64,
    /// The descriptor `w` writes to, when it is a file, and the writeback
    /// of what is written to it.
    direct: Option<(RawFd, copy::Writeback)>,
    /// The files written so far, for those that are one host file.
    links: Links<'a>,
}

impl<'a, W: Write> Stream<'_, 'a, W> {
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
                // A later name of a file written before: a hard link,
                // named as archives name paths, without the leading slash.
                if let Some(first) = self.links.earlier(item, &meta) {
                    self.header(item, name, 0, HARDLINK, &first[1..])?;
                    return Ok(0);
                }
                let size = meta.len();
                self.header(item, name, size, REGULAR, "")?;
                let mut done = 0;
                if let Some((fd, writeback)) = self.direct.as_mut()
                    && size >= copy::IN_KERNEL_FROM
                {
                    // What is buffered goes first.
                    self.w.flush().map_err(|e| Error::io(self.out, e))?;
                    done = copy::copy_in_kernel(&file, *fd, size);
                    writeback.written(self.written + done);
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

/// The fields of a header that vary; everything else is fixed.
struct Header<'a> {
    name: &'a [u8],
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: u64,
    kind: u8,
    link: &'a [u8],
}

impl Header<'_> {
    fn encode(&self) -> [u8; BLOCK] {
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
    use crate::archive::testutil::{self, sample};
    use crate::archive::{Entry, write_tar};
    use std::fs;
    use std::process::Command;

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
