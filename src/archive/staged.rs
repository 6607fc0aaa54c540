//! A tar file written while its last entries are still being planned: the
//! entries known first that sort before a given path are written on a
//! second thread while the caller completes the list (a bundle's package
//! metadata, which needs every file of the bundle and comes after them all).
//!
//! The bytes are those [`write_if`](super::write_if) writes for the
//! complete list: if completing it changed or added an entry among those
//! written early, the file is written again from the start.

use std::path::Path;

use super::{Entry, Format, WriteOptions, atomic, plan, tar};
use crate::error::Result;

/// [`write_if`](super::write_if) of the entries `complete()` gives, which
/// are `first` completed with entries from path `from` on (in byte order),
/// the output appearing only if it also says to keep it. Writing a tar
/// file, the planned entries of `first` before `from` are written on a
/// second thread while `complete()` runs on this one; other outputs are
/// written once it has returned.
pub fn write_if_staged(
    first: &[Entry],
    from: &str,
    complete: impl FnOnce() -> Result<(Vec<Entry>, bool)>,
    out: &Path,
    opts: &WriteOptions,
) -> Result<Option<u64>> {
    if opts.format != Format::Tar || out.as_os_str() == "-" {
        let (all, keep) = complete()?;
        return super::write_if(&all, out, opts, || Ok(keep));
    }
    let early = plan::plan(first)?;
    let early = &early[..early.partition_point(|i| i.path < from)];
    let kept = std::cell::Cell::new(false);
    let written = atomic::write_file_if(
        out,
        |file| {
            std::thread::scope(|s| {
                let writer = s.spawn(|| {
                    let mut w = tar::Writer::new(file, opts.mtime, out);
                    w.write(early).map(|()| w)
                });
                let completed = complete();
                let w = writer
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
                let (all, decided) = completed?;
                kept.set(decided);
                let items = plan::plan(&all)?;
                let mut w: tar::Writer<'_, '_> = w;
                if !decided {
                    return w.finish();
                }
                match items.get(..early.len()) {
                    Some(same) if same == early => w.write(&items[early.len()..])?,
                    _ => {
                        w = w.restart()?;
                        w.write(&items)?;
                    }
                }
                w.finish()
            })
        },
        || Ok(kept.get()),
    )?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testutil::sample;
    use crate::error::Error;

    const OPTS: WriteOptions = WriteOptions {
        format: Format::Tar,
        mtime: 1_700_000_000,
        force: false,
    };

    /// The bytes [`write()`](super::super::write) gives for `entries`.
    fn whole(dir: &Path, entries: &[Entry]) -> Vec<u8> {
        let out = dir.join("whole.tar");
        super::super::write(entries, &out, &OPTS).unwrap();
        std::fs::read(out).unwrap()
    }

    /// The entries before path `from` (in byte order).
    fn split(entries: &[Entry], from: &str) -> Vec<Entry> {
        entries
            .iter()
            .filter(|e| e.path.as_str() < from)
            .cloned()
            .collect()
    }

    /// Waits (up to 10 s) for an open file of this process in `dir`, not
    /// yet named or named as a temporary, to hold bytes: the output being
    /// written.
    fn output_being_written(dir: &Path) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed().as_secs() < 10 {
            for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
                let Ok(target) = std::fs::read_link(fd.path()) else {
                    continue;
                };
                let written = std::fs::metadata(fd.path()).map_or(0, |m| m.len());
                let name = target.file_name().unwrap_or_default().to_string_lossy();
                if target.starts_with(dir) && !name.starts_with("src-") && written > 0 {
                    return true;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn entries_completed_later_give_the_bytes_of_all_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let all = sample(dir.path());
        let first = split(&all, "/usr/share");
        assert!(first.len() < all.len() && first.len() > 3);
        let out = dir.path().join("staged.tar");
        // The first entries are written while the rest is being completed.
        let complete = || {
            assert!(output_being_written(dir.path()));
            Ok((all.clone(), true))
        };
        let n = write_if_staged(&first, "/usr/share", complete, &out, &OPTS).unwrap();
        assert!(n.is_some());
        assert_eq!(std::fs::read(&out).unwrap(), whole(dir.path(), &all));
    }

    #[test]
    fn an_early_entry_changed_by_completing_is_written_as_changed() {
        let dir = tempfile::tempdir().unwrap();
        let first = sample(dir.path());
        // Changes an entry written early, and adds one before `from`.
        let mut all = first.clone();
        all[0] = Entry::data("/etc/passwd", "root:x:0:0\n", 0o600);
        all.push(Entry::data("/etc/group", "root:x:0:\n", 0o644));
        let out = dir.path().join("staged.tar");
        let complete = || Ok((all.clone(), true));
        write_if_staged(&first, "/usr/share", complete, &out, &OPTS).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), whole(dir.path(), &all));
    }

    #[test]
    fn refused_or_failed_leaves_the_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let all = sample(dir.path());
        let first = split(&all, "/usr/share");
        let out = dir.path().join("staged.tar");
        std::fs::write(&out, "old").unwrap();
        let refused = || Ok((all.clone(), false));
        let n = write_if_staged(&first, "/usr/share", refused, &out, &OPTS).unwrap();
        assert!(n.is_none());
        let failed = || Err(Error::Usage("no metadata".into()));
        let err = write_if_staged(&first, "/usr/share", failed, &out, &OPTS).unwrap_err();
        assert!(err.to_string().contains("no metadata"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(
            names.len(),
            3,
            "only the sources and the old output: {names:?}"
        );
    }

    #[test]
    fn other_formats_are_written_once_completed() {
        let dir = tempfile::tempdir().unwrap();
        let all = sample(dir.path());
        let first = split(&all, "/usr/share");
        let out = dir.path().join("root");
        let opts = WriteOptions {
            format: Format::Dir,
            ..OPTS
        };
        let complete = || Ok((all.clone(), true));
        write_if_staged(&first, "/usr/share", complete, &out, &opts).unwrap();
        crate::archive::testutil::assert_tree(&out, &all, Some(OPTS.mtime));
    }
}
