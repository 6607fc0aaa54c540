//! Reads of host files and directories by host path — lstat (with owners), contents
//! (mapped or read), first bytes, sorted directory listings — for a
//! [`super::Root`] on a directory and for the files of a directory layer.
//! Confining paths to the root is the caller's business (`resolve`); this
//! module only reads what it is given, and uses nothing but `root`'s types.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use super::{Contents, Kind, Meta};

/// Files under this size are read; larger ones are mapped.
const MAP_FROM: u64 = 64 * 1024;

/// lstat: what is at `path` itself, a symbolic link not followed.
pub(super) fn lstat(path: &Path) -> io::Result<Meta> {
    lstat_sized(path).map(|(meta, _)| meta)
}

/// [`lstat`] and the size it gives.
pub(super) fn lstat_sized(path: &Path) -> io::Result<(Meta, u64)> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = fs::symlink_metadata(path)?;
    let ft = m.file_type();
    let meta = Meta {
        kind: if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        },
        mode: m.permissions().mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime: u64::try_from(m.mtime()).unwrap_or(0),
        size: if ft.is_file() { m.len() } else { 0 },
    };
    Ok((meta, m.len()))
}

/// A host file's contents: mapped when large (only the pages the ELF
/// reader touches are read), read when small.
pub(super) fn read_file(path: &Path) -> io::Result<Contents> {
    read_file_sized(path, None)
}

/// [`read_file`] for a file whose size an lstat just gave (`len`), which
/// saves the fstat: system calls are most of the time spent reading a
/// thousand programs. A file that changed size since is read up to the
/// smaller of the two sizes, as with an fstat made just before a change.
pub(super) fn read_file_sized(path: &Path, len: Option<u64>) -> io::Result<Contents> {
    let file = File::open(path)?;
    let len = match len {
        Some(len) => len,
        None => file.metadata()?.len(),
    };
    if len < MAP_FROM {
        return Ok(Contents::Read(read_up_to(&file, len as usize)?));
    }
    let len = usize::try_from(len).map_err(io::Error::other)?;
    // SAFETY: the map is read-only and private. A file truncated under us
    // could fault; the loader's own inputs are not expected to change mid-run.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(&file) }?;
    Ok(Contents::Mapped(map))
}

/// Up to `len` bytes from the start of `file`, fewer when it ends first:
/// one read(2) for the whole file, into memory neither zeroed first nor
/// grown on the way (std's `read_to_end` reads in growing chunks).
fn read_up_to(file: &File, len: usize) -> io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    while buf.len() < len {
        let want = len - buf.len();
        let spare = &mut buf.spare_capacity_mut()[..want];
        // SAFETY: read(2) writes at most `spare.len()` bytes into memory
        // this Vec owns; only the bytes it reports written are kept.
        let n = unsafe { libc::read(file.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        match n {
            0 => break,
            n if n > 0 => {
                // SAFETY: the first `n` bytes of the spare capacity were just written.
                unsafe { buf.set_len(buf.len() + n as usize) };
            }
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(buf)
}

/// The first `n` bytes of a host file (fewer when it is shorter).
pub(super) fn head(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    File::open(path)?.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The names in a host directory, sorted.
pub(super) fn read_dir(path: &Path) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(path)? {
        names.push(entry?.file_name());
    }
    names.sort();
    Ok(names)
}
