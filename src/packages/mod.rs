//! Which package of the root's own package database owns each file: for
//! SBOMs and scanner metadata (every bundled file mapped to its package)
//! and for run-time file discovery (a path an object names matters when it
//! belongs to the object's package).
//!
//! Two databases are read, both through [`Root`] only, once per
//! [`Packages::read`]:
//! - **dpkg**: `/var/lib/dpkg/status` (packages whose status is `installed`),
//!   the file lists `/var/lib/dpkg/info/PKG[:ARCH].list` (Multi-Arch: same
//!   packages carry their architecture), checksums from `PKG[:ARCH].md5sums`
//!   (read when asked), and distroless's `/var/lib/dpkg/status.d/*` (one
//!   stanza per file, the file list from the `.md5sums` beside it);
//! - **apk**: `/lib/apk/db/installed`;
//! - **rpm** (4.16+): `rpmdb.sqlite`, opened in memory with SQLite, its
//!   package headers parsed here (`rpm`, `rpmheader`; `rpmcut` writes
//!   the copy bundles carry).
//!
//! A list names a file as the package shipped it (`/lib/x/libc.so.6`), while
//! the root may reach it another way (`/usr/lib/x/libc.so.6` on a merged-/usr
//! system, or the reverse). Ownership is therefore decided on canonical
//! paths: a listed path owns a file when its directory resolves, inside the
//! root, to the file's canonical directory; any spelling of a path finds its
//! owner, and nothing is resolved until asked.
//!
//! Hostile input is bounded: each file is read up to a cap ([`MAX_DATABASE`],
//! [`MAX_LIST`], [`MAX_LISTS_TOTAL`], [`MAX_COPYRIGHT`]); a larger database or
//! list is skipped with a warning, and so is a malformed stanza or record.
//!
//! Uses only `root` and `error`; [`run`] (the `packages` command) sits on
//! top, like `doctor::run`, and also uses `config` and `closure`.

mod apk;
mod deb822;
mod dpkg;
mod index;
mod rpm;
mod rpmcut;
mod rpmheader;
mod run;

use std::cell::OnceCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::root::{Contents, Lookup, Root};

pub use rpm::{MAX_FILES as MAX_RPM_FILES, MAX_HEADER as MAX_RPM_HEADER, MAX_RPMDB};
pub use run::{Format, PackagesConfig, run};

/// The largest database file read (dpkg's status, apk's installed): 64 MiB,
/// ten times a large Debian system's.
pub const MAX_DATABASE: usize = 64 << 20;
/// The largest file list or checksum file read for one package: 16 MiB.
pub const MAX_LIST: usize = 16 << 20;
/// The most file-list text read for one database: 512 MiB (a full Debian
/// desktop has about 30 MiB).
pub const MAX_LISTS_TOTAL: usize = 512 << 20;
/// How much of a copyright file is read for its licenses: 1 MiB.
pub const MAX_COPYRIGHT: usize = 1 << 20;

/// Which database a package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Debian's dpkg (`/var/lib/dpkg`).
    Dpkg,
    /// Alpine's apk (`/lib/apk/db/installed`).
    Apk,
    /// RPM's (`rpmdb.sqlite`).
    Rpm,
}

/// The source package a binary package was built from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    /// The source package's name.
    pub name: String,
    /// Its version (the binary's when the database gives none).
    pub version: String,
}

/// A file's checksum as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// dpkg's md5sums: an MD5 digest in hex.
    Md5(String),
    /// apk's `Z:` field: `Q1` and a base64 SHA-1 digest, as written.
    ApkQ1(String),
    /// rpm's file digest other than MD5: the algorithm (`sha256`, `sha1`,
    /// `sha384`, `sha512`) and the digest in lower-case hex.
    Digest(&'static str, String),
}

/// Where a package's checksums are.
#[derive(Debug, Clone)]
enum Checksums {
    /// In this md5sums file inside the root, read when asked.
    File(PathBuf),
    /// Read with the database (apk).
    Inline(Vec<(PathBuf, Checksum)>),
    /// rpm's digests, one a line, line for line with the package's list,
    /// turned into checksums when asked (most are never asked for).
    Rpm {
        /// rpm's digest algorithm number (`FILEDIGESTALGO`).
        algorithm: u32,
        /// The digests in hex, one a line (empty: none).
        digests: Vec<u8>,
    },
    /// Nowhere.
    None,
}

/// One installed package.
#[derive(Debug)]
pub struct Package {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its architecture (`amd64`, `all`, `x86_64`...); empty when unrecorded.
    pub arch: String,
    /// The source package, when the database names one (dpkg's `Source`,
    /// apk's origin).
    pub source: Option<Source>,
    /// The database it comes from.
    pub kind: Kind,
    /// Its record exactly as the database holds it (a dpkg stanza, an apk
    /// record), for writing it out again; for rpm, whose records are
    /// binary headers, its main tags as `Key: value` lines.
    pub stanza: String,
    /// Absolute paths as the database lists them, one a line.
    list: List,
    checksums: Checksums,
    /// apk's and rpm's license, set when read; dpkg's, filled from the
    /// copyright file when asked.
    license: OnceCell<Option<String>>,
    /// Its record's key in the database, for a copy cut to some packages
    /// (rpm's `hnum`); None for the text databases.
    record: Option<i64>,
    /// rpm's `%license` files, as listed.
    notices: Vec<String>,
}

/// The packages installed in a root, and which owns what.
#[derive(Debug, Default)]
pub struct Packages {
    packages: Vec<Package>,
    warnings: Vec<Error>,
    index: OnceCell<index::Index>,
}

impl Packages {
    /// Reads the root's package databases (dpkg, apk and rpm); empty when it
    /// has none. Damaged records and oversized lists are warnings, not
    /// errors; an rpm database SQLite cannot read is an error.
    pub fn read(root: &Root) -> Result<Packages> {
        let mut warnings = Vec::new();
        let mut packages = dpkg::read(root, &mut warnings)?;
        packages.extend(apk::read(root, &mut warnings)?);
        packages.extend(rpm::read(root, &mut warnings)?);
        Ok(Packages {
            packages,
            warnings,
            index: OnceCell::new(),
        })
    }

    /// Every package, in database order.
    pub fn all(&self) -> &[Package] {
        &self.packages
    }

    /// True when the root has no package database (or an empty one).
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// What was skipped while reading: malformed stanzas, oversized or
    /// unreadable lists.
    pub fn warnings(&self) -> &[Error] {
        &self.warnings
    }

    /// True when more than one architecture of the package called `name` is
    /// installed (so that only `name:arch` says which).
    pub fn is_ambiguous(&self, name: &str) -> bool {
        let mut arches = self.packages.iter().filter(|p| p.name == name);
        arches
            .next()
            .is_some_and(|first| arches.any(|p| p.arch != first.arch))
    }

    /// Every package whose list names what `path` (any spelling, inside the
    /// root) leads to, in database order. A path through a symbolic link is
    /// owned by the owner of the link's target. Several packages own a file
    /// only as Multi-Arch: same copies; directories are often shared.
    pub fn owners(&self, root: &Root, path: &Path) -> Vec<&Package> {
        let real = match root.lookup(path) {
            Ok(Lookup::File(p) | Lookup::Dir(p) | Lookup::Other(p)) => p,
            _ => path.to_path_buf(),
        };
        let index = self
            .index
            .get_or_init(|| index::Index::build(&self.packages));
        index
            .owners(&self.packages, root, real.as_os_str().as_bytes())
            .into_iter()
            .map(|i| &self.packages[i])
            .collect()
    }

    /// The first package owning the regular file at `real`, a canonical
    /// path inside the root (not looked up again: a bundle's files are).
    pub fn file_owner(&self, root: &Root, real: &Path) -> Option<&Package> {
        let index = self
            .index
            .get_or_init(|| index::Index::build(&self.packages));
        index
            .first_owner(&self.packages, root, real.as_os_str().as_bytes())
            .map(|i| &self.packages[i])
    }

    /// The root's rpm database holding only `keep` (its rpm packages; others
    /// are ignored), for scanners: its path inside the root and its bytes;
    /// None when the root has no rpm database or `keep` no rpm package.
    pub fn rpm_database_cut(
        &self,
        root: &Root,
        keep: &[&Package],
    ) -> Result<Option<(PathBuf, Vec<u8>)>> {
        let records: Vec<i64> = keep
            .iter()
            .filter(|p| p.kind == Kind::Rpm)
            .filter_map(|p| p.record)
            .collect();
        if records.is_empty() {
            return Ok(None);
        }
        rpmcut::cut(root, &records)
    }

    /// The package that owns what `path` leads to: for a file, the first of
    /// [`owners`](Self::owners); for a directory, the one package that owns
    /// it, when only one does. None when no package owns it.
    pub fn owner(&self, root: &Root, path: &Path) -> Option<&Package> {
        let owners = self.owners(root, path);
        let is_dir = matches!(root.lookup(path), Ok(Lookup::Dir(_)));
        match owners.as_slice() {
            [one] => Some(one),
            [first, ..] if !is_dir => Some(first),
            _ => None,
        }
    }
}

impl Package {
    /// `name:arch`, the name dpkg and apt give a package when several
    /// architectures of it may be installed.
    pub fn qualified_name(&self) -> String {
        format!("{}:{}", self.name, self.arch)
    }

    /// The paths the database lists for it, as written there (files,
    /// directories and links; `/.` left out).
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.list
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && *l != b"/.")
            .map(|l| Path::new(OsStr::from_bytes(l)))
    }

    /// The value of a field of its record (`Depends`, `Multi-Arch`,
    /// `Installed-Size`; apk's one-letter keys), first line and continuations.
    pub fn field(&self, name: &str) -> Option<&str> {
        match self.kind {
            Kind::Dpkg | Kind::Rpm => deb822::stanzas(&self.stanza)
                .into_iter()
                .next()?
                .ok()?
                .field(name),
            Kind::Apk => apk::field(&self.stanza, name),
        }
    }

    /// Its license: apk's `L:` field, rpm's `License` tag; for dpkg, the `License:` fields of
    /// `/usr/share/doc/NAME/copyright` when it is machine-readable
    /// (copyright-format 1.0), deduplicated and joined with `AND`. None when
    /// there is no such file or it is free-form. Read once, when first asked.
    pub fn license(&self, root: &Root) -> Result<Option<&str>> {
        if let Some(known) = self.license.get() {
            return Ok(known.as_deref());
        }
        let found = dpkg::copyright_license(root, &self.name)?;
        Ok(self.license.get_or_init(|| found).as_deref())
    }

    /// Where its license texts are, for bundles to carry: dpkg's copyright
    /// file (`/usr/share/doc/NAME/copyright`), rpm's `%license` files; none
    /// for apk.
    pub fn license_files(&self) -> Vec<String> {
        match self.kind {
            Kind::Dpkg => vec![format!("/usr/share/doc/{}/copyright", self.name)],
            Kind::Rpm => self.notices.clone(),
            Kind::Apk => Vec::new(),
        }
    }

    /// (path, checksum) for each file the database has a checksum of; dpkg's
    /// md5sums file is read now (paths made absolute, as in the list).
    pub fn checksums(&self, root: &Root) -> Result<Vec<(PathBuf, Checksum)>> {
        match &self.checksums {
            Checksums::Inline(sums) => Ok(sums.clone()),
            Checksums::File(path) => dpkg::md5sums(root, path),
            Checksums::Rpm { algorithm, digests } => {
                Ok(rpm::checksums(&self.list, *algorithm, digests))
            }
            Checksums::None => Ok(Vec::new()),
        }
    }
}

/// A package's file list: the file as read or mapped (dpkg's `.list`, not
/// copied), or built from another record (apk, status.d).
struct List(Contents);

impl List {
    fn built(bytes: Vec<u8>) -> List {
        List(Contents::Read(bytes))
    }
}

impl std::ops::Deref for List {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "List({} bytes)", self.len())
    }
}

/// A file inside the root as read or mapped (`bytes`, of which only the
/// first `cap` count), and whether it is no longer than `cap`; None when
/// there is no file there.
struct Capped {
    bytes: Contents,
    whole: bool,
}

/// Reads the file at `path` inside the root, of which only `cap` bytes are
/// kept. A large file is mapped, so nothing is copied.
fn read_capped(root: &Root, path: &Path, cap: usize) -> Result<Option<Capped>> {
    let Some(real) = root.resolve_file(path)? else {
        return Ok(None);
    };
    let bytes = root.contents(&real)?;
    let whole = bytes.len() <= cap;
    Ok(Some(Capped { bytes, whole }))
}

/// `bytes` as text, invalid UTF-8 replaced: [`String::from_utf8_lossy`],
/// which walks the bytes one at a time, only when the (word-at-a-time)
/// check finds any (a status file is 0.8 MB of ASCII).
fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The warning for a file skipped because it is larger than `cap`.
fn too_large(path: &Path, cap: usize) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        reason: format!("larger than {} MiB; skipped", cap >> 20),
    }
}

/// Reads a whole database or list file, or warns and gives None when it is
/// over `cap`.
fn read_whole(
    root: &Root,
    path: &Path,
    cap: usize,
    warnings: &mut Vec<Error>,
) -> Result<Option<Contents>> {
    Ok(match read_capped(root, path, cap)? {
        Some(c) if c.whole => Some(c.bytes),
        Some(_) => {
            warnings.push(too_large(path, cap));
            None
        }
        None => None,
    })
}

#[cfg(test)]
mod tests;
