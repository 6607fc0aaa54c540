//! Copying a host file's contents in fixed-size chunks, so memory stays flat
//! however large the bundle, and each error names the side that failed: the
//! source file when reading, the output when writing.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use crate::error::{Error, Result};

/// Size of one read. Large enough that per-call overhead vanishes next to
/// compression, small enough to be irrelevant to memory use.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Files from this size on are copied by the kernel when the output is a
/// regular file ([`copy_in_kernel`]); smaller ones share the output buffer.
pub(crate) const IN_KERNEL_FROM: u64 = 64 * 1024;

/// A reusable buffer of [`CHUNK`] bytes.
pub(crate) fn buffer() -> Vec<u8> {
    vec![0; CHUNK]
}

/// Opens `path` for reading and returns it with its metadata, taken from
/// the open file so that header and contents agree (and, by its device
/// and inode, which sources are one file: `links`). Refuses anything but a
/// regular file (after following symbolic links) before opening it:
/// opening a FIFO would block, and opening a device can act on it (a
/// watchdog starts counting); a directory has no contents to copy.
pub(crate) fn open(path: &Path) -> Result<(File, fs::Metadata)> {
    let refuse = || {
        let why = io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        Err(Error::io(path, why))
    };
    if !fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .is_file()
    {
        return refuse();
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return refuse();
    }
    Ok((file, meta))
}

/// Copies exactly `size` bytes from `src` to `dst` through `buf`. A source
/// that has shrunk since its size was taken is an error (the header already
/// promised `size` bytes); bytes beyond `size` are not read.
pub(crate) fn copy_exact(
    src: &mut File,
    size: u64,
    src_path: &Path,
    dst: &mut impl Write,
    dst_path: &Path,
    buf: &mut [u8],
) -> Result<()> {
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match src.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(Error::io(
                    src_path,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("file shrank while being read (expected {size} bytes)"),
                    ),
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(src_path, e)),
        };
        dst.write_all(&buf[..n])
            .map_err(|e| Error::io(dst_path, e))?;
        left -= n as u64;
    }
    Ok(())
}

/// Copies up to `len` bytes from `src` to the open file `dst` inside the
/// kernel (copy_file_range(2): one copy between page caches rather than two
/// through a buffer), from and advancing both files' offsets. Returns how
/// many bytes were copied: fewer when the kernel cannot (`dst` is a pipe or
/// on another file system, `src` shrank), and the caller copies the rest.
pub(crate) fn copy_in_kernel(src: &File, dst: RawFd, len: u64) -> u64 {
    let mut done = 0;
    while done < len {
        let want = usize::try_from(len - done)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        // SAFETY: both descriptors are open for the call; null offsets make
        // the kernel use and advance the files' own.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                std::ptr::null_mut(),
                dst,
                std::ptr::null_mut(),
                want,
                0,
            )
        };
        match u64::try_from(n) {
            Ok(n) if n > 0 => done += n,
            _ => break,
        }
    }
    done
}
