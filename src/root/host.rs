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
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = fs::symlink_metadata(path)?;
    let ft = m.file_type();
    Ok(Meta {
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
    })
}

/// A host file's contents: mapped when large (only the pages the ELF
/// reader touches are read), read when small.
pub(super) fn read_file(path: &Path) -> io::Result<Contents> {
    let mut file = File::open(path)?;
    // One fstat for the size; reading exactly that much (rather than to the
    // end) and mapping with a given length save a system call or two a file,
    // which over a thousand programs is most of the time spent.
    let len = file.metadata()?.len();
    if len < MAP_FROM {
        // Exactly `len` bytes: no zeroing first, no read past the end.
        let mut buf = Vec::with_capacity(len as usize);
        (&mut file).take(len).read_to_end(&mut buf)?;
        return Ok(Contents::Read(buf));
    }
    let len = usize::try_from(len).map_err(io::Error::other)?;
    // SAFETY: the map is read-only and private. A file truncated under us
    // could fault; the loader's own inputs are not expected to change mid-run.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(&file) }?;
    Ok(Contents::Mapped(map))
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
