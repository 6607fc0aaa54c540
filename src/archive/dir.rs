//! The bundle as a directory tree on the host.
//!
//! A missing (or empty) OUT is built in a temporary sibling and renamed into
//! place at the end, so it appears complete or not at all. With `force`, an
//! existing non-empty OUT is written into directly: entries replace what is
//! at their paths (never following a symbolic link that is there), anything
//! else in OUT is left alone.
//!
//! Files get their mode (setuid bits too) and mtime through their open
//! handle after their contents; directories get theirs last, deepest first,
//! since writing their contents would change the mtime and a read-only mode
//! would forbid it. Symbolic links keep the time they were made: std has no
//! call that sets a link's own mtime. Owners are set (before the mode, since
//! a change of owner clears setuid bits) only when elfroot runs as root: a
//! normal user cannot give files away, so everything is then theirs, and
//! nothing is said about it. A hard link is made with link(2) to the path
//! written first, inside OUT, and shares that file's mode, owner and mtime.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{self as unix_fs, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::atomic::Temp;
use super::copy;
use super::links::Links;
use super::plan::{Item, ItemKind};
use crate::error::{Error, Result};

/// Writes `items` as a tree at `out` and returns the bytes of file contents.
pub(crate) fn write(items: &[Item<'_>], out: &Path, mtime: u64, force: bool) -> Result<u64> {
    let time = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(mtime))
        .ok_or_else(|| Error::Usage(format!("mtime {mtime} is out of range")))?;
    let shown = out.display();
    let link_meta = match fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return build_beside(items, out, time);
        }
        Err(e) => return Err(Error::io(out, e)),
    };
    // A symbolic link at OUT is not written through: a failure half way
    // would leave a partial tree in a directory the user did not name.
    if link_meta.file_type().is_symlink() {
        return Err(Error::OutputExists {
            path: out.to_path_buf(),
            reason: "is a symbolic link; name the directory itself, or remove the link".into(),
        });
    }
    if !link_meta.is_dir() {
        return Err(Error::Usage(format!(
            "{shown}: exists and is not a directory"
        )));
    }
    let empty = fs::read_dir(out)
        .map_err(|e| Error::io(out, e))?
        .next()
        .is_none();
    if empty {
        // rename(2) replaces an empty directory, keeping this atomic.
        return build_beside(items, out, time);
    }
    if !force {
        return Err(Error::OutputNotEmpty {
            path: out.to_path_buf(),
        });
    }
    Tree::new(out, out, time).write(items)
}

fn build_beside(items: &[Item<'_>], out: &Path, time: SystemTime) -> Result<u64> {
    let tmp = Temp::new(out, true)?;
    let bytes = Tree::new(&tmp.path, out, time).write(items)?;
    tmp.persist(out)?;
    Ok(bytes)
}

struct Tree<'p> {
    /// Where the tree is written.
    base: &'p Path,
    /// What errors call `base`: OUT, not the temporary directory.
    shown: &'p Path,
    time: SystemTime,
    buf: Vec<u8>,
    /// Set owners (elfroot runs as root).
    chown: bool,
}

impl<'p> Tree<'p> {
    fn new(base: &'p Path, shown: &'p Path, time: SystemTime) -> Tree<'p> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        Tree {
            base,
            shown,
            time,
            buf: copy::buffer(),
            chown: euid == 0,
        }
    }

    /// The owner to set, when elfroot may set one.
    fn owner(&self, item: &Item<'_>) -> Option<(Option<u32>, Option<u32>)> {
        self.chown.then_some((Some(item.uid), Some(item.gid)))
    }

    fn write(mut self, items: &[Item<'_>]) -> Result<u64> {
        let mut bytes = 0;
        let mut links = Links::default();
        for item in items {
            bytes += self.entry(item, &mut links)?;
        }
        // Reverse byte order visits every directory after all its
        // descendants (a parent's path is a prefix of theirs).
        for item in items.iter().rev() {
            if item.kind == ItemKind::Dir {
                self.finish_dir(item)?;
            }
        }
        Ok(bytes)
    }

    fn host(&self, item: &Item<'_>) -> PathBuf {
        self.base.join(item.relative())
    }

    fn err(&self, item: &Item<'_>, e: io::Error) -> Error {
        Error::io(self.shown.join(item.relative()), e)
    }

    fn entry<'a>(&mut self, item: &Item<'a>, links: &mut Links<'a>) -> Result<u64> {
        let p = self.host(item);
        match item.kind {
            ItemKind::Dir => {
                match fs::symlink_metadata(&p) {
                    Ok(m) if m.is_dir() => return Ok(0),
                    Ok(_) => fs::remove_file(&p).map_err(|e| self.err(item, e))?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.err(item, e)),
                }
                fs::create_dir(&p).map_err(|e| self.err(item, e))?;
                Ok(0)
            }
            ItemKind::Symlink(target) => {
                self.make(item, &p, || unix_fs::symlink(target, &p))?;
                if let Some((uid, gid)) = self.owner(item) {
                    unix_fs::lchown(&p, uid, gid).map_err(|e| self.err(item, e))?;
                }
                Ok(0)
            }
            ItemKind::Data(data) => {
                let mut file = self.create(item, &p)?;
                file.write_all(data).map_err(|e| self.err(item, e))?;
                self.finish_file(item, &file)?;
                Ok(data.len() as u64)
            }
            ItemKind::File(source) => {
                let (mut src, meta) = copy::open(source)?;
                if let Some(first) = links.earlier(item, &meta) {
                    let first = self.base.join(&first[1..]);
                    self.make(item, &p, || fs::hard_link(&first, &p))?;
                    return Ok(0);
                }
                let size = meta.len();
                let mut file = self.create(item, &p)?;
                let shown = self.shown.join(item.relative());
                copy::copy_exact(&mut src, size, source, &mut file, &shown, &mut self.buf)?;
                self.finish_file(item, &file)?;
                Ok(size)
            }
        }
    }

    /// Makes a link at `p` with `make`; whatever is there (not a directory)
    /// is replaced.
    fn make(&self, item: &Item<'_>, p: &Path, make: impl Fn() -> io::Result<()>) -> Result<()> {
        if let Err(e) = make() {
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(self.err(item, e));
            }
            self.remove_non_dir(item, p)?;
            make().map_err(|e| self.err(item, e))?;
        }
        Ok(())
    }

    /// Creates a new file at `p`. `create_new` never follows a symbolic link
    /// left there; whatever is there (not a directory) is replaced.
    fn create(&self, item: &Item<'_>, p: &Path) -> Result<File> {
        let open = || OpenOptions::new().write(true).create_new(true).open(p);
        match open() {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.remove_non_dir(item, p)?;
                open().map_err(|e| self.err(item, e))
            }
            Err(e) => Err(self.err(item, e)),
        }
    }

    fn remove_non_dir(&self, item: &Item<'_>, p: &Path) -> Result<()> {
        let m = fs::symlink_metadata(p).map_err(|e| self.err(item, e))?;
        if m.is_dir() {
            return Err(self.err(
                item,
                io::Error::new(io::ErrorKind::IsADirectory, "a directory is in the way"),
            ));
        }
        fs::remove_file(p).map_err(|e| self.err(item, e))
    }

    /// The entry's own mtime, or the tree's.
    fn time_of(&self, item: &Item<'_>) -> SystemTime {
        item.mtime
            .and_then(|m| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(m)))
            .unwrap_or(self.time)
    }

    fn finish_file(&self, item: &Item<'_>, file: &File) -> Result<()> {
        file.set_modified(self.time_of(item))
            .map_err(|e| self.err(item, e))?;
        if let Some((uid, gid)) = self.owner(item) {
            unix_fs::fchown(file, uid, gid).map_err(|e| self.err(item, e))?;
        }
        file.set_permissions(Permissions::from_mode(item.mode))
            .map_err(|e| self.err(item, e))
    }

    fn finish_dir(&self, item: &Item<'_>) -> Result<()> {
        let p = self.host(item);
        // The time first: a mode without read permission would stop the open.
        File::open(&p)
            .and_then(|d| d.set_modified(self.time_of(item)))
            .map_err(|e| self.err(item, e))?;
        if let Some((uid, gid)) = self.owner(item) {
            unix_fs::lchown(&p, uid, gid).map_err(|e| self.err(item, e))?;
        }
        fs::set_permissions(&p, Permissions::from_mode(item.mode)).map_err(|e| self.err(item, e))
    }
}

#[cfg(test)]
mod tests {
    use crate::archive::testutil::dir_names;
    use crate::archive::testutil::{assert_tree, sample};
    use crate::archive::{Entry, Error, Format, WriteOptions, write};
    use std::fs;

    const OPTS: WriteOptions = WriteOptions {
        format: Format::Dir,
        mtime: 1_600_000_000,
        force: false,
    };

    #[test]
    fn writes_the_tree_with_modes_and_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample(dir.path());
        let out = dir.path().join("root");
        let bytes = write(&entries, &out, &OPTS).unwrap();
        assert_eq!(bytes, 9 + 4 + 700_001 + 3 + 1);
        assert_tree(&out, &entries, Some(OPTS.mtime));
        // Added parents get 0o755 and the same mtime.
        assert_tree(&out, &[Entry::dir("/usr/share", 0o755)], Some(OPTS.mtime));
        assert!(!dir_names(dir.path()).iter().any(|n| n.contains(".tmp-")));
    }

    #[test]
    fn owners_are_set_as_root_and_setuid_bits_survive() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("root");
        let entries = [
            Entry::dir("/srv", 0o750).owned(33, 34),
            Entry::data("/srv/su", "x", 0o4755).owned(33, 34),
            Entry::symlink("/srv/link", "su").owned(35, 36),
            Entry::data("/etc/passwd", "", 0o644),
        ];
        write(&entries, &out, &OPTS).unwrap();
        assert_tree(&out, &entries, Some(OPTS.mtime));
        let owner = |p: &str| {
            let m = fs::symlink_metadata(out.join(p)).unwrap();
            (m.uid(), m.gid())
        };
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            assert_eq!(owner("srv"), (33, 34));
            assert_eq!(owner("srv/su"), (33, 34));
            assert_eq!(owner("srv/link"), (35, 36));
            assert_eq!(owner("etc/passwd"), (0, 0));
            assert_eq!(owner("etc"), (0, 0), "implied parents");
        } else {
            // A normal user cannot give files away: they stay theirs.
            let me = owner(".");
            assert_eq!(owner("srv/su"), me);
        }
    }

    #[test]
    fn empty_existing_directory_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("root");
        fs::create_dir(&out).unwrap();
        let entries = [Entry::data("/etc/hostname", "box\n", 0o644)];
        write(&entries, &out, &OPTS).unwrap();
        assert_tree(&out, &entries, Some(OPTS.mtime));
    }

    #[test]
    fn refuses_a_non_empty_directory_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("root");
        fs::create_dir_all(out.join("etc")).unwrap();
        let entries = [Entry::data("/etc/hostname", "box\n", 0o644)];
        let err = write(&entries, &out, &OPTS).unwrap_err();
        // The library names no flag; the command line adds "(use --force)".
        assert!(
            matches!(&err, Error::OutputNotEmpty { path } if path == &out),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("{}: directory exists and is not empty", out.display())
        );
        assert!(!out.join("etc/hostname").exists());
    }

    #[test]
    fn force_writes_into_it_replacing_what_is_in_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("root");
        let outside = dir.path().join("outside");
        fs::write(&outside, "keep").unwrap();
        fs::create_dir_all(out.join("etc")).unwrap();
        fs::write(out.join("etc/other"), "other").unwrap();
        // A link at a file's path must be replaced, not written through.
        std::os::unix::fs::symlink(&outside, out.join("etc/hostname")).unwrap();
        // A file where a directory goes, a directory where a link goes.
        fs::write(out.join("usr"), "").unwrap();
        fs::create_dir(out.join("lib")).unwrap();
        let entries = [
            Entry::data("/etc/hostname", "box\n", 0o644),
            Entry::dir("/usr", 0o755),
            Entry::symlink("/lib", "usr/lib"),
        ];
        let opts = WriteOptions {
            force: true,
            ..OPTS
        };
        let err = write(&entries, &out, &opts).unwrap_err();
        assert_eq!(err.path(), Some(&out.join("lib")), "{err}");
        fs::remove_dir(out.join("lib")).unwrap();
        write(&entries, &out, &opts).unwrap();
        assert_tree(&out, &entries, Some(OPTS.mtime));
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert_eq!(fs::read(out.join("etc/other")).unwrap(), b"other");
    }

    #[test]
    fn failure_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("root");
        let entries = [
            Entry::data("/a", "", 0o644),
            Entry::file("/b", dir.path().join("missing"), 0o644),
        ];
        let err = write(&entries, &out, &OPTS).unwrap_err();
        assert_eq!(err.path(), Some(&dir.path().join("missing")), "{err}");
        assert!(dir_names(dir.path()).is_empty());
    }

    #[test]
    fn output_that_is_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("root");
        fs::write(&out, "").unwrap();
        let opts = WriteOptions {
            force: true,
            ..OPTS
        };
        let err = write(&[Entry::dir("/etc", 0o755)], &out, &opts).unwrap_err();
        assert!(
            err.to_string().ends_with("exists and is not a directory"),
            "{err}"
        );
    }
}
