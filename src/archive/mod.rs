//! The writer stage of `elfroot bundle`: a list of [`Entry`]s becomes a
//! directory tree, a tar stream, or a compressed tar file.
//!
//! The bundler decides *what* goes into a root file system; this module only
//! decides *how* it is written, so that the same entries always give the same
//! bytes (sorted, the owner each entry names, one mtime unless an entry
//! names its own, no other host metadata but which sources are one file),
//! file contents are streamed in chunks and never held whole, and a failed
//! write leaves no half finished output behind.
//!
//! `plan` checks and orders the entries, `links` finds the files that are
//! one file on the host (written once, then as hard links), `tar` writes
//! the stream (`header` its header blocks), `compress` wraps it in gzip or
//! zstd, `dir` writes a tree, `copy` moves file contents in chunks, and
//! `atomic` makes an output appear at once or not at all.

mod atomic;
pub(crate) mod compress;
mod copy;
mod dir;
mod header;
mod links;
mod pgzip;
mod plan;
mod staged;
mod tar;
#[cfg(test)]
mod testutil;

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
pub(crate) use atomic::Temp;
pub(crate) use plan::is_normal;
pub use staged::write_if_staged;

/// One thing in the bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Absolute inside the bundle ("/usr/lib/x86_64-linux-gnu/libz.so.1"),
    /// normalised, no trailing slash, never "/" itself.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits including setuid, setgid and sticky (`0o4755`); any
    /// file-type bits above `0o7777` are ignored, and a symbolic link is
    /// always written with 0o777.
    pub mode: u32,
    /// Numeric owner (0 unless [`Entry::owned`] says otherwise). Tar
    /// headers carry it without a user name; a directory output sets it
    /// only when elfroot runs as root.
    pub uid: u32,
    /// Numeric group, as [`Entry::uid`].
    pub gid: u32,
    /// Its own modification time (a file kept from an image keeps the
    /// image's); None: the one mtime the writer is given.
    pub mtime: Option<u64>,
}

/// What an [`Entry`] is, and where its contents come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// Contents copied from this host file (read while writing, never held
    /// whole in memory).
    File {
        /// The host file.
        source: PathBuf,
    },
    /// Contents given inline (generated files such as /etc/passwd).
    Data(Vec<u8>),
    /// A symbolic link; the target is written as given.
    Symlink {
        /// The target, as written.
        target: String,
    },
}

impl Entry {
    /// An entry owned by 0:0.
    pub fn new(path: impl Into<String>, kind: EntryKind, mode: u32) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: None,
        }
    }

    /// A directory entry.
    pub fn dir(path: impl Into<String>, mode: u32) -> Entry {
        Entry::new(path, EntryKind::Dir, mode)
    }

    /// A file whose contents are copied from `source` on the host.
    pub fn file(path: impl Into<String>, source: impl Into<PathBuf>, mode: u32) -> Entry {
        let source = source.into();
        Entry::new(path, EntryKind::File { source }, mode)
    }

    /// A file with generated contents.
    pub fn data(path: impl Into<String>, data: impl Into<Vec<u8>>, mode: u32) -> Entry {
        Entry::new(path, EntryKind::Data(data.into()), mode)
    }

    /// A symbolic link to `target`, with mode 0o777.
    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Entry {
        let target = target.into();
        Entry::new(path, EntryKind::Symlink { target }, 0o777)
    }

    /// The same entry owned by `uid:gid`.
    pub fn owned(self, uid: u32, gid: u32) -> Entry {
        Entry { uid, gid, ..self }
    }

    /// The same entry with its own modification time.
    pub fn modified(self, mtime: u64) -> Entry {
        Entry {
            mtime: Some(mtime),
            ..self
        }
    }
}

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Standard output (tar streams only).
    Stdout,
    /// A file or directory.
    Path(PathBuf),
}

impl Output {
    /// The path the writers take, `-` standing for standard output.
    pub fn as_path(&self) -> &Path {
        match self {
            Output::Stdout => Path::new("-"),
            Output::Path(p) => p,
        }
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Stdout => f.write_str("-"),
            Output::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// How the bundle is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A directory tree.
    Dir,
    /// An uncompressed tar stream.
    Tar,
    /// A gzip-compressed tar stream.
    TarGz,
    /// A zstd-compressed tar stream.
    TarZst,
}

impl Format {
    /// Guesses from the output name: "-" => Tar (stdout); *.tar => Tar;
    /// *.tar.gz/*.tgz => TarGz; *.tar.zst/*.tzst => TarZst (ignoring ASCII
    /// case); anything else => Dir.
    pub fn guess(out: &Path) -> Format {
        if out.as_os_str() == "-" {
            return Format::Tar;
        }
        let Some(name) = out.file_name() else {
            return Format::Dir;
        };
        let name = name.to_string_lossy().to_ascii_lowercase();
        let ends = |suffixes: &[&str]| suffixes.iter().any(|s| name.ends_with(s));
        if ends(&[".tar"]) {
            Format::Tar
        } else if ends(&[".tar.gz", ".tgz"]) {
            Format::TarGz
        } else if ends(&[".tar.zst", ".tzst"]) {
            Format::TarZst
        } else {
            Format::Dir
        }
    }

    /// Parses "dir" | "tar" | "tar.gz" | "tar.zst" (for `--format`).
    pub fn parse(s: &str) -> std::result::Result<Format, String> {
        match s {
            "dir" => Ok(Format::Dir),
            "tar" => Ok(Format::Tar),
            "tar.gz" => Ok(Format::TarGz),
            "tar.zst" => Ok(Format::TarZst),
            _ => Err(format!(
                "unknown format '{s}' (expected dir, tar, tar.gz or tar.zst)"
            )),
        }
    }

    /// The name [`Format::parse`] accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Dir => "dir",
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::TarZst => "tar.zst",
        }
    }
}

/// How [`write()`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// The output format.
    pub format: Format,
    /// Modification time of every entry, in seconds since the epoch.
    pub mtime: u64,
    /// [`Format::Dir`] only: write into an existing, non-empty directory.
    pub force: bool,
}

/// Writes `entries` to `out` ("-" = stdout, for the tar formats).
///
/// Entries may come in any order; they are checked, sorted and completed
/// with missing parent directories first (see [`Entry`]); a file whose
/// source is the source of a file before it (one host file, the same
/// metadata) is written as a hard link to it. A file output is
/// written to a temporary sibling that takes `out`'s place at the end, so `out`
/// is either the old file or the complete new one. Returns the number of
/// bytes of file contents written (before compression), for reporting.
pub fn write(entries: &[Entry], out: &Path, opts: &WriteOptions) -> Result<u64> {
    Ok(write_if(entries, out, opts, || Ok(true))?.unwrap_or(0))
}

/// [`write()`], the output appearing only when `keep()` says so: None when
/// it does not (nothing written). A tar file is written beside `out` before
/// `keep()` is asked, so that what decides can run while it is written;
/// standard output and a directory are written after.
pub fn write_if(
    entries: &[Entry],
    out: &Path,
    opts: &WriteOptions,
    keep: impl FnOnce() -> Result<bool>,
) -> Result<Option<u64>> {
    let items = plan::plan(entries)?;
    let stdout = out.as_os_str() == "-";
    let mut keep = Some(keep);
    let mut kept = || keep.take().map_or(Ok(true), |k| k());
    if (stdout || opts.format == Format::Dir) && !kept()? {
        return Ok(None);
    }
    match opts.format {
        Format::Dir if stdout => Err(Error::Usage(
            "-: cannot write a directory bundle to standard output (use --format tar)".into(),
        )),
        Format::Dir => dir::write(&items, out, opts.mtime, opts.force).map(Some),
        format if stdout => write_stdout(&items, opts.mtime, format).map(Some),
        format => atomic::write_file_if(
            out,
            |file| encode(&items, opts.mtime, format, file, out),
            kept,
        ),
    }
}

/// Writes `entries` as an uncompressed tar stream to `w` and gives `w` back.
///
/// The same checks and ordering as [`write()`] apply. Write errors name the
/// pseudo-path `<tar stream>`; errors reading a source file name that file.
pub fn write_tar<W: Write>(entries: &[Entry], mtime: u64, w: W) -> Result<W> {
    let items = plan::plan(entries)?;
    let (w, _) = tar::write(&items, mtime, w, Path::new("<tar stream>"))?;
    Ok(w)
}

/// Writes a small generated file (a depfile, a manifest) at `path` the same
/// atomic way as [`write()`]: a temporary sibling that takes `path`'s place.
pub fn write_small_file(path: &Path, data: &[u8]) -> Result<()> {
    atomic::write_file(path, |mut file| {
        file.write_all(data).map_err(|e| Error::io(path, e))?;
        Ok((file, ()))
    })
}

/// The path that errors writing to standard output name; `main` can look for
/// it with [`std::io::ErrorKind::BrokenPipe`] to treat a closed pipe as success.
pub const STDOUT_PATH: &str = "<stdout>";

fn write_stdout(items: &[plan::Item<'_>], mtime: u64, format: Format) -> Result<u64> {
    let label = Path::new(STDOUT_PATH);
    // Anything already printed through `Stdout` must come first.
    io::stdout().flush().map_err(|e| Error::io(label, e))?;
    // A duplicate of fd 1 as a plain `File`, so the archive bypasses the
    // line buffering of `Stdout`; our own buffers make the writes large.
    let fd = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::io(label, e))?;
    let (_, bytes) = encode(items, mtime, format, File::from(fd), label)?;
    Ok(bytes)
}

/// Writes the tar stream, compressed as `format` says, to `w`; `out` names
/// the output in errors. Returns `w` flushed, and the payload byte count.
fn encode(
    items: &[plan::Item<'_>],
    mtime: u64,
    format: Format,
    w: File,
    out: &Path,
) -> Result<(File, u64)> {
    let write_err = |e| Error::io(out, e);
    match format {
        Format::Tar => tar::write_file(items, mtime, w, out),
        Format::TarGz => {
            let (enc, bytes) = tar::write(items, mtime, compress::gzip(w), out)?;
            let w = enc.finish().map_err(write_err)?;
            Ok((compress::unbuffer(w).map_err(write_err)?, bytes))
        }
        Format::TarZst => {
            let enc = compress::zstd(w).map_err(write_err)?;
            let (enc, bytes) = tar::write(items, mtime, enc, out)?;
            let w = enc.finish().map_err(write_err)?;
            Ok((compress::unbuffer(w).map_err(write_err)?, bytes))
        }
        Format::Dir => Err(Error::Usage(format!(
            "{}: a directory bundle is not a stream",
            out.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guess_from_name() {
        let g = |s: &str| Format::guess(Path::new(s));
        assert_eq!(g("-"), Format::Tar);
        assert_eq!(g("out/root.tar"), Format::Tar);
        assert_eq!(g("root.tar.gz"), Format::TarGz);
        assert_eq!(g("root.TGZ"), Format::TarGz);
        assert_eq!(g("root.tar.zst"), Format::TarZst);
        assert_eq!(g("root.tzst"), Format::TarZst);
        assert_eq!(g("rootfs"), Format::Dir);
        assert_eq!(g("root.tar.xz"), Format::Dir);
        assert_eq!(g("/"), Format::Dir);
    }

    #[test]
    fn parse_names() {
        for f in [Format::Dir, Format::Tar, Format::TarGz, Format::TarZst] {
            assert_eq!(Format::parse(f.as_str()), Ok(f));
        }
        let err = Format::parse("zip").unwrap_err();
        assert!(err.contains("'zip'"), "{err}");
    }

    #[test]
    fn small_file_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("root.d");
        std::fs::write(&p, "old").unwrap();
        write_small_file(&p, b"root.tar: a b\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"root.tar: a b\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dir_to_stdout_is_a_usage_error() {
        let opts = WriteOptions {
            format: Format::Dir,
            mtime: 0,
            force: false,
        };
        let err = write(&[], Path::new("-"), &opts).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err}");
    }

    #[test]
    fn a_file_output_has_the_bytes_of_the_stream() {
        // Large files go through copy_file_range, small ones through the
        // buffer.
        let dir = tempfile::tempdir().unwrap();
        let mut entries = Vec::new();
        for (name, size) in [("big", (2 << 20) + 3), ("mid", 70_000), ("small", 10)] {
            let src = dir.path().join(name);
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            std::fs::write(&src, bytes).unwrap();
            entries.push(Entry::file(format!("/{name}"), src, 0o644));
        }
        let out = dir.path().join("root.tar");
        let opts = WriteOptions {
            format: Format::Tar,
            mtime: 1,
            force: false,
        };
        let stream = write_tar(&entries, 1, Vec::new()).unwrap();
        // New, then replacing itself.
        for _ in 0..2 {
            write(&entries, &out, &opts).unwrap();
            assert!(std::fs::read(&out).unwrap() == stream);
        }
    }
}
