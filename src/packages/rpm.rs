//! RPM's database, rpm 4.16 and later: `rpmdb.sqlite`, an SQLite file whose
//! `Packages` table holds each installed package's header (`hnum`, `blob`);
//! the other tables index the headers and are not needed to read them.
//! Found at `/usr/lib/sysimage/rpm` (Fedora 36+, openSUSE) or `/var/lib/rpm`
//! (often a link to the former), read once through [`Root`] and opened in
//! memory: nothing is written beside the root, and a database in a layer
//! tarball or an image is read like one in a directory.
//!
//! Each header ([`rpmheader`](super::rpmheader)) gives a package:
//! name, version as rpm writes it (`[EPOCH:]VERSION-RELEASE`), architecture,
//! source package (from `SOURCERPM`, `NAME-VERSION-RELEASE.src.rpm`),
//! license, and the file list (`DIRNAMES` + `BASENAMES` by `DIRINDEXES`)
//! with the files' digests and which are `%license` files (`FILEFLAGS`).
//!
//! Hostile input is bounded: the database is read up to [`MAX_RPMDB`] bytes,
//! at most [`MAX_PACKAGES`] headers of at most [`MAX_HEADER`] bytes and
//! [`MAX_FILES`] files each. A file that is not an SQLite database, or one
//! SQLite finds damaged, is an error naming it; a damaged header is a
//! warning (one for all of them) and its package is skipped. The schema
//! is checked (`Packages` must be a table) before anything is selected, and
//! the copy cut for a bundle (`rpmcut`) drops triggers and views before it
//! deletes: nothing the file declares runs.
//!
//! Berkeley DB (`Packages`) and ndb (`Packages.db`) databases, of rpm before
//! 4.16 and of some distributions since, are not read: a warning says so.

use std::cell::OnceCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, MAIN_DB, OptionalExtension};

use super::rpmheader::{self as tag, Header};
use super::{
    Checksum, Checksums, Kind, List, MAX_LISTS_TOTAL, Package, Source, read_capped, too_large,
};
use crate::error::{Error, Result};
use crate::root::{Contents, Root};

/// Where rpm keeps its SQLite database, newest first.
const DATABASES: [&str; 2] = [
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/var/lib/rpm/rpmdb.sqlite",
];
/// The databases of older rpm, which are not read.
const OLD_DATABASES: [&str; 4] = [
    "/var/lib/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/Packages",
    "/usr/lib/sysimage/rpm/Packages.db",
];

/// The largest rpmdb.sqlite read: 512 MiB (CBL-Mariner 2.0's base image
/// has 3.6 MiB for 129 packages: this is room for some 15 000).
pub const MAX_RPMDB: usize = 512 << 20;
/// The largest header read: 32 MiB (rpm's largest packages have a few).
pub const MAX_HEADER: usize = 32 << 20;
/// The most packages read from one database.
pub const MAX_PACKAGES: usize = 200_000;
/// The most files listed for one package.
pub const MAX_FILES: usize = 1 << 20;

/// SQLite's magic, the first 16 bytes of every database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The database file header's size; bytes 18 and 19 are the write and read
/// versions (2: WAL), which an in-memory copy must not claim.
const SQLITE_HEADER: usize = 100;

/// The installed packages of the root's rpmdb.sqlite; empty when it has none.
pub(super) fn read(root: &Root, warnings: &mut Vec<Error>) -> Result<Vec<Package>> {
    let Some((path, bytes)) = database(root, warnings)? else {
        return Ok(Vec::new());
    };
    let db = open(&path, &bytes, true)?;
    let sqlite = |e: rusqlite::Error| damaged(&path, e);
    let mut select = db
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(sqlite)?;
    let mut rows = select.query([]).map_err(sqlite)?;
    let mut packages = Vec::new();
    let mut bad: Vec<(i64, String)> = Vec::new();
    let mut budget = MAX_LISTS_TOTAL;
    while let Some(row) = rows.next().map_err(sqlite)? {
        if packages.len() + bad.len() == MAX_PACKAGES {
            warnings.push(Error::Config {
                path: path.clone(),
                reason: format!("more than {MAX_PACKAGES} packages; the rest skipped"),
            });
            break;
        }
        let hnum: i64 = row.get(0).map_err(sqlite)?;
        let blob = match row.get_ref(1).map_err(sqlite)? {
            rusqlite::types::ValueRef::Blob(b) => b,
            _ => &[][..],
        };
        match package(hnum, blob, &mut budget) {
            Ok(p) => packages.push(p),
            Err(why) => bad.push((hnum, why)),
        }
    }
    if let Some((hnum, why)) = bad.first() {
        warnings.push(Error::Config {
            path,
            reason: format!(
                "{} damaged package headers skipped (the first, record {hnum}: {why})",
                bad.len()
            ),
        });
    }
    Ok(packages)
}

/// The path (inside the root, canonical) and bytes of the root's
/// rpmdb.sqlite; None, with a warning when an older database is there
/// instead or the file is too large, when there is none.
pub(super) fn database(
    root: &Root,
    warnings: &mut Vec<Error>,
) -> Result<Option<(PathBuf, Contents)>> {
    for path in DATABASES {
        let Some(real) = root.resolve_file(Path::new(path))? else {
            continue;
        };
        let Some(c) = read_capped(root, &real, MAX_RPMDB)? else {
            continue;
        };
        if !c.whole {
            warnings.push(too_large(&real, MAX_RPMDB));
            return Ok(None);
        }
        // rpm checkpoints its write-ahead log when it closes the database:
        // one left with frames in it is from an rpm that did not finish.
        let wal = PathBuf::from(format!("{}-wal", real.display()));
        if root.meta(&wal).is_some_and(|m| m.size > 0) {
            warnings.push(Error::Config {
                path: wal,
                reason: "holds changes rpm did not write into the database (it was \
                         interrupted?); they are not read"
                    .into(),
            });
        }
        return Ok(Some((real, c.bytes)));
    }
    for path in OLD_DATABASES {
        if root.resolve_file(Path::new(path))?.is_some() {
            warnings.push(Error::Config {
                path: PathBuf::from(path),
                reason: "rpm database in Berkeley DB or ndb format; only rpm 4.16+'s \
                         rpmdb.sqlite is read, so its packages are not known"
                    .into(),
            });
            break;
        }
    }
    Ok(None)
}

/// The error for a database SQLite could not read.
pub(super) fn damaged(path: &Path, e: rusqlite::Error) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        reason: format!("damaged rpm database: {e}"),
    }
}

/// An in-memory copy of the database `bytes` (read from `path`), in
/// rollback-journal mode (an in-memory database cannot be in WAL mode), its
/// `Packages` checked to be a table. Nothing is written anywhere.
pub(super) fn open(path: &Path, bytes: &[u8], read_only: bool) -> Result<Connection> {
    if bytes.len() < SQLITE_HEADER || !bytes.starts_with(SQLITE_MAGIC) {
        return Err(Error::Config {
            path: path.to_path_buf(),
            reason: "not an SQLite database (rpm 4.16+'s rpmdb.sqlite)".into(),
        });
    }
    let sqlite = |e: rusqlite::Error| damaged(path, e);
    let mut head = bytes[..SQLITE_HEADER].to_vec();
    if head[18] == 2 && head[19] == 2 {
        (head[18], head[19]) = (1, 1);
    }
    let mut db = Connection::open_in_memory().map_err(sqlite)?;
    let data = std::io::Read::chain(&head[..], &bytes[SQLITE_HEADER..]);
    db.deserialize_read_exact(MAIN_DB, data, bytes.len(), read_only)
        .map_err(sqlite)?;
    // SQLite's guard against a database file made to corrupt memory.
    db.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(sqlite)?;
    // Temporary tables and VACUUM's copy stay in memory, not in /tmp; the
    // indexes' rows are deleted before or after the packages' (SQLite as
    // bundled enforces foreign keys by default).
    db.execute_batch(
        "PRAGMA temp_store = MEMORY; PRAGMA trusted_schema = OFF; PRAGMA foreign_keys = OFF;",
    )
    .map_err(sqlite)?;
    let kind: Option<String> = db
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sqlite)?;
    if kind.as_deref() != Some("table") {
        return Err(Error::Config {
            path: path.to_path_buf(),
            reason: "an SQLite database without a Packages table: not an rpm database".into(),
        });
    }
    Ok(db)
}

/// The package one header describes (`hnum`: its record), its file list
/// charged to `budget`.
fn package(hnum: i64, blob: &[u8], budget: &mut usize) -> std::result::Result<Package, String> {
    if blob.len() > MAX_HEADER {
        return Err(format!(
            "{} bytes, over {} MiB",
            blob.len(),
            MAX_HEADER >> 20
        ));
    }
    let h = Header::parse(blob)?;
    let field = |t| {
        h.string(t)
            .map(|s| s.filter(|s| !s.is_empty() && s != "(none)"))
    };
    let (Some(name), Some(version), Some(release)) = (
        field(tag::NAME)?,
        field(tag::VERSION)?,
        field(tag::RELEASE)?,
    ) else {
        return Err("no name, version or release".into());
    };
    let epoch = h.int32s(tag::EPOCH)?.first().copied();
    let evr = match epoch {
        Some(e) => format!("{e}:{version}-{release}"),
        None => format!("{version}-{release}"),
    };
    let arch = field(tag::ARCH)?.unwrap_or_default();
    let (list, digests, notices) = files(&h, budget)?;
    let algorithm = h.int32s(tag::FILEDIGESTALGO)?.first().copied().unwrap_or(1);
    let license = field(tag::LICENSE)?;
    let source_rpm = field(tag::SOURCERPM)?;
    let mut stanza = String::new();
    for (key, value) in [
        ("Name", Some(name.as_str())),
        ("Epoch", epoch.map(|e| e.to_string()).as_deref()),
        ("Version", Some(version.as_str())),
        ("Release", Some(release.as_str())),
        ("Arch", Some(arch.as_str())),
        ("License", license.as_deref()),
        ("Sourcerpm", source_rpm.as_deref()),
        ("Vendor", field(tag::VENDOR)?.as_deref()),
        ("Packager", field(tag::PACKAGER)?.as_deref()),
        ("Summary", field(tag::SUMMARY)?.as_deref()),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            let v = v.replace(['\n', '\r'], " ");
            stanza.push_str(&format!("{key}: {v}\n"));
        }
    }
    Ok(Package {
        source: source_rpm.as_deref().and_then(source),
        name,
        version: evr,
        arch,
        kind: Kind::Rpm,
        stanza,
        list: List::built(list),
        checksums: Checksums::Rpm { algorithm, digests },
        license: OnceCell::from(license),
        record: Some(hnum),
        notices,
    })
}

/// `NAME-VERSION-RELEASE.src.rpm` as a source package: the name, and
/// `VERSION-RELEASE` (no epoch: the file name has none).
fn source(file: &str) -> Option<Source> {
    let nvr = file
        .strip_suffix(".src.rpm")
        .or_else(|| file.strip_suffix(".nosrc.rpm"))?;
    let (nv, release) = nvr.rsplit_once('-')?;
    let (name, version) = nv.rsplit_once('-')?;
    (!name.is_empty()).then(|| Source {
        name: name.to_string(),
        version: format!("{version}-{release}"),
    })
}

/// A package's file list (absolute paths, one a line), the digests the
/// header has of them (hex, one a line, line for line; empty for none),
/// and its `%license` files.
type FileList = (Vec<u8>, Vec<u8>, Vec<String>);

/// The header's file list and digests, the list's length charged to `budget`.
fn files(h: &Header, budget: &mut usize) -> std::result::Result<FileList, String> {
    let names = h.strings(tag::BASENAMES)?;
    if names.is_empty() {
        return Ok((Vec::new(), Vec::new(), Vec::new()));
    }
    if names.len() > MAX_FILES {
        return Err(format!("{} files, over {MAX_FILES}", names.len()));
    }
    let dirs = h.strings(tag::DIRNAMES)?;
    let index = h.int32s(tag::DIRINDEXES)?;
    if index.len() != names.len() {
        return Err(format!(
            "{} file names but {} directory indexes",
            names.len(),
            index.len()
        ));
    }
    let digests = h.strings(tag::FILEDIGESTS)?;
    let flags = h.int32s(tag::FILEFLAGS)?;
    let (mut list, mut sums, mut notices) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (name, &d)) in names.iter().zip(&index).enumerate() {
        let dir = dirs
            .get(d as usize)
            .ok_or_else(|| format!("file {i}: directory index {d} of {}", dirs.len()))?;
        let hex = digests.get(i).copied().unwrap_or_default();
        if !dir.starts_with(b"/") || [*dir, name, hex].iter().any(|s| s.contains(&b'\n')) {
            continue;
        }
        let start = list.len();
        list.extend_from_slice(dir);
        if !dir.ends_with(b"/") {
            list.push(b'/');
        }
        list.extend_from_slice(name);
        if flags.get(i).is_some_and(|f| f & tag::FILE_LICENSE != 0) {
            notices.push(String::from_utf8_lossy(&list[start..]).into_owned());
        }
        list.push(b'\n');
        sums.extend_from_slice(hex);
        sums.push(b'\n');
    }
    *budget = budget
        .checked_sub(list.len() + sums.len())
        .ok_or_else(|| format!("file lists over {} MiB in all", MAX_LISTS_TOTAL >> 20))?;
    Ok((list, sums, notices))
}

/// The checksums of a package's files: its list and the digests read with
/// it ([`files`]), line for line, by rpm's algorithm number.
pub(super) fn checksums(list: &[u8], algorithm: u32, digests: &[u8]) -> Vec<(PathBuf, Checksum)> {
    list.split(|&c| c == b'\n')
        .zip(digests.split(|&c| c == b'\n'))
        .filter_map(|(path, hex)| {
            let sum = digest(algorithm, hex)?;
            Some((PathBuf::from(OsStr::from_bytes(path)), sum))
        })
        .collect()
}

/// A file's digest as a checksum, by rpm's algorithm number (PGP's hash
/// algorithm ids); None for an empty one (directories, links) or an
/// algorithm not known.
fn digest(algorithm: u32, hex: &[u8]) -> Option<Checksum> {
    let hex = std::str::from_utf8(hex).ok().filter(|h| !h.is_empty())?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    Some(match algorithm {
        1 => Checksum::Md5(hex),
        2 => Checksum::Digest("sha1", hex),
        8 => Checksum::Digest("sha256", hex),
        9 => Checksum::Digest("sha384", hex),
        10 => Checksum::Digest("sha512", hex),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_rpm_names_split_at_the_last_two_dashes() {
        let s = source("python3-libs-3.12.1-2.fc40.src.rpm").unwrap();
        assert_eq!(
            (s.name.as_str(), s.version.as_str()),
            ("python3-libs", "3.12.1-2.fc40")
        );
        assert!(source("bash.src.rpm").is_none());
        assert!(source("(none)").is_none());
    }

    #[test]
    fn checksums_go_line_for_line_with_the_list() {
        let sums = checksums(b"/usr/bin\n/usr/bin/a\n/usr/bin/b\n", 8, b"\nAB\ncd\n");
        let want = [("/usr/bin/a", "ab"), ("/usr/bin/b", "cd")]
            .map(|(p, h)| (PathBuf::from(p), Checksum::Digest("sha256", h.into())));
        assert_eq!(sums, want);
    }

    #[test]
    fn digests_by_algorithm() {
        assert_eq!(
            digest(8, b"AB"),
            Some(Checksum::Digest("sha256", "ab".into()))
        );
        assert_eq!(digest(1, b"ab"), Some(Checksum::Md5("ab".into())));
        assert_eq!(digest(8, b""), None);
        assert_eq!(digest(77, b"ab"), None);
        assert_eq!(digest(8, b"zz"), None);
    }
}
