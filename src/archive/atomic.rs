//! Outputs that appear whole or not at all: everything is written to a
//! temporary sibling of OUT (same directory, so the same file system) named
//! `.OUT.tmp-<pid>-<counter>`, renamed over OUT at the end, and removed on
//! any error or panic, leaving an existing OUT untouched.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Writes a file output: `body` gets the open temporary file and returns
/// it, fully written, with a result; the file then replaces `out`.
pub(crate) fn write_file<T>(out: &Path, body: impl FnOnce(File) -> Result<(File, T)>) -> Result<T> {
    let tmp = Temp::new(out, false)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp.path)
        // Named after OUT: a missing directory is the likely cause, and the
        // temporary name would only confuse.
        .map_err(|e| Error::io(out, e))?;
    let (file, value) = body(file)?;
    // Nothing is buffered in a `File`; dropping it only closes it.
    drop(file);
    tmp.persist(out)?;
    Ok(value)
}

/// A temporary file or directory beside the output, removed when dropped
/// unless it was renamed into place.
pub(crate) struct Temp {
    pub path: PathBuf,
    is_dir: bool,
    keep: bool,
}

impl Temp {
    /// Names a temporary sibling of `out`, creating it when `is_dir` (a
    /// file is created by the caller, with the options it needs).
    pub fn new(out: &Path, is_dir: bool) -> Result<Temp> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let Some(name) = out.file_name() else {
            return Err(Error::Usage(format!(
                "{}: the output must name a file or directory",
                out.display()
            )));
        };
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        let path = out.with_file_name(tmp_name);
        if is_dir {
            fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        }
        Ok(Temp {
            path,
            is_dir,
            keep: false,
        })
    }

    /// Renames the temporary into place at `out`. A directory replaces only
    /// a missing or empty `out` (the rename fails otherwise).
    pub fn persist(mut self, out: &Path) -> Result<()> {
        fs::rename(&self.path, out).map_err(|e| Error::io(out, e))?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // Best effort: the error that got us here is the one to report.
        let _ = if self.is_dir {
            fs::remove_dir_all(&self.path)
        } else {
            fs::remove_file(&self.path)
        };
    }
}

#[cfg(test)]
mod tests {
    use crate::archive::testutil::dir_names;
    use crate::archive::testutil::sample;
    use crate::archive::{Entry, Format, WriteOptions, write};
    use std::fs;

    #[test]
    fn failed_write_leaves_out_untouched_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let outdir = dir.path().join("out");
        fs::create_dir(&outdir).unwrap();
        let mut entries = sample(dir.path());
        entries.push(Entry::file("/zzz/last", dir.path().join("missing"), 0o644));
        for (format, name) in [
            (Format::Tar, "r.tar"),
            (Format::TarGz, "r.tar.gz"),
            (Format::TarZst, "r.tar.zst"),
        ] {
            let out = outdir.join(name);
            fs::write(&out, "old").unwrap();
            let opts = WriteOptions {
                format,
                mtime: 0,
                force: false,
            };
            let err = write(&entries, &out, &opts).unwrap_err();
            assert_eq!(err.path(), Some(&dir.path().join("missing")), "{err}");
            assert_eq!(fs::read(&out).unwrap(), b"old");
        }
        assert_eq!(dir_names(&outdir), ["r.tar", "r.tar.gz", "r.tar.zst"]);
    }

    #[test]
    fn successful_write_replaces_out() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.tar");
        fs::write(&out, "old").unwrap();
        let opts = WriteOptions {
            format: Format::Tar,
            mtime: 0,
            force: false,
        };
        let entries = [Entry::data("/a", "hello", 0o644)];
        assert_eq!(write(&entries, &out, &opts).unwrap(), 5);
        assert_eq!(fs::metadata(&out).unwrap().len(), 10240);
        assert_eq!(dir_names(dir.path()), ["r.tar"]);
    }

    #[test]
    fn missing_output_directory_names_out() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("no/r.tar");
        let opts = WriteOptions {
            format: Format::Tar,
            mtime: 0,
            force: false,
        };
        let err = write(&[Entry::data("/a", "", 0o644)], &out, &opts).unwrap_err();
        assert_eq!(err.path(), Some(&out), "{err}");
    }

    #[test]
    fn tar_over_a_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.tar");
        fs::create_dir(&out).unwrap();
        let opts = WriteOptions {
            format: Format::Tar,
            mtime: 0,
            force: false,
        };
        let err = write(&[Entry::data("/a", "", 0o644)], &out, &opts).unwrap_err();
        assert_eq!(err.path(), Some(&out), "{err}");
        assert_eq!(dir_names(dir.path()), ["r.tar"]);
    }
}
