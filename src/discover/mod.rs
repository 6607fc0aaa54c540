//! Run-time files found without running anything: the paths the closure's
//! objects write in their read-only data (`elf::path_literals`) that pass
//! the relevance rule below, the standard library of an embedded or
//! launched Python, a JVM's libraries, and what the imports open
//! (`profile::imports`).
//!
//! One owner for three users: `bundle` puts what this finds in, `inspect`
//! shows it (`tree --runtime`, `list --paths --runtime`), and `doctor` says
//! what a target lacks of it. Each run plans its findings in a [`Layout`] of
//! their own, which the bundle merges into its own.
//!
//! The relevance rule, for a path P named by an object O:
//! - P exists in the root, is a regular file or a directory, and neither P
//!   nor where it leads is a shared system directory (`/usr/lib`,
//!   `/usr/share`, `/etc`...), a place for run-time state or secrets
//!   (`/proc`, `/tmp`, `/home`, `/etc/shadow`, a `private` directory...), or
//!   a file elfroot writes itself (`/etc/passwd`, `/etc/ld.so.cache`...);
//! - when the root has a package database, P belongs to a package built
//!   from the same source package as O's (libMagickCore-6.Q16-6 names
//!   /etc/ImageMagick-6, which imagemagick-6-common ships: both come from
//!   imagemagick) that is not one of O's consumers: a package of that
//!   source depending on O's, directly or through another (libsystemd0
//!   names /usr/lib/systemd, where systemd and systemd-timesyncd, which
//!   depend on it, ship units and programs: those use the library, they are
//!   not its data); an object no package owns keeps only paths no package
//!   owns either;
//! - a directory holds at most [`MAX_TREE`] entries;
//! - it widens to the largest directory around P that only O's source ships,
//!   and the empty directories a program keeps state or works in (a named
//!   path under /run, or one no package ships) come in without contents;
//! - a directory taken whole (P, or the one it widens to) whose files add up
//!   to more than a cap ([`DEFAULT_MAX_TREE_BYTES`], or what the caller
//!   asks) is left out, unless O belongs to a language runtime; what is
//!   left is P itself when the widened directory was too large, and then
//!   the files named inside it;
//! - no set-user-ID or set-group-ID file comes in this way, by any rule
//!   (ssh names its setuid-root ssh-keysign): those come only when asked;
//! - nor does a hardware helper (`devices`: ssh's ssh-sk-helper, for FIDO keys).
//!
//! What is left out is reported ([`LeftOut`]), for the bundle to warn.
//!
//! The lists behind the first point are `relevance`'s; the rule itself is
//! `named`'s, the language runtimes `runtimes`'.
//!
//! Files found this way are scanned in turn (an ELF file among them brings
//! its closure, whose objects may name more paths), at most [`MAX_ROUNDS`]
//! times.

mod devices;
mod limits;
mod named;
mod relevance;
mod runtimes;

use std::cell::OnceCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

use crate::closure::{Analyzer, Closure, Object};
use crate::elf::{self, Kind};
use crate::error::Result;
use crate::files::Probe;
use crate::layout::Layout;
use crate::packages::Packages;
use crate::profile::imports::{self, Need};
use crate::root::{Lookup, Root};
pub use limits::{DEFAULT_MAX_TREE_BYTES, LeftOut, Why};
pub use relevance::denied;

/// The most entries a directory found this way may hold.
pub const MAX_TREE: usize = 20_000;
/// How many times newly added objects are scanned for more paths.
pub const MAX_ROUNDS: usize = 8;

/// Which rule found a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// An object names its path (or a directory around it).
    Named,
    /// A language runtime's library (Python's stdlib, a JVM's lib).
    Runtime,
    /// The program's imports open it (getservbyname: /etc/services).
    Import,
    /// An empty directory the program keeps state or works in.
    WorkDir,
}

/// One file or directory found, as the bundle holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// Its path in the root (a directory brings what it holds, but for
    /// [`Rule::WorkDir`]).
    pub path: String,
    /// The rule that found it.
    pub rule: Rule,
    /// Why, as the bundle's manifest says it.
    pub reason: String,
}

/// What one run of discovery found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// The files and directories found, in the order found.
    pub found: Vec<Found>,
    /// Everything they bring (trees' contents, links on the way).
    pub layout: Layout,
    /// Closures of ELF files among them whose missing libraries count (a
    /// runtime's own extension modules).
    pub closures: Vec<Closure>,
    /// Closures of ELF files among them that only a program loading them
    /// needs: a library they miss is no reason to refuse a bundle.
    pub optional: Vec<Closure>,
    /// (SONAME, directory prefix): libraries under the prefix need this
    /// SONAME, which the runtime has loaded before them (a JVM's libjvm.so).
    pub preloaded: Vec<(String, String)>,
    /// What was found and not taken (too large, set-user-ID), in order.
    pub left_out: Vec<LeftOut>,
}

/// The root's package database, which the relevance rule reads on first
/// need: reading it (every package's file list) costs more than the rest of
/// discovery, so for the host's root it is read in the background while the
/// closures are computed.
/// One value serves every run of discovery in the same root.
#[derive(Default)]
pub struct Database {
    reading: std::cell::Cell<Option<std::thread::JoinHandle<Read>>>,
    read: OnceCell<(Option<Rc<Packages>>, Vec<String>)>,
}

/// A database read: the packages, when there are any, and what went wrong.
type Read = (Option<Packages>, Vec<String>);

impl Database {
    /// Starts reading the database of `root` in the background, when it is
    /// the host's (another root is read on first need, on this thread).
    pub fn prefetch(root: &Root) -> Database {
        if !root.is_host() {
            return Database::default();
        }
        let reading = std::thread::Builder::new()
            .name("packages".into())
            .spawn(|| {
                let root = Root::host();
                let read = read_database(&root);
                // Its index of paths is built on first look-up: here too.
                if let Some(db) = &read.0 {
                    db.owners(&root, Path::new("/"));
                }
                read
            })
            .ok();
        Database {
            reading: std::cell::Cell::new(reading),
            read: OnceCell::new(),
        }
    }

    /// The database of `root` (the one prefetched, if any), when it has one.
    /// `root` must be the same for every call.
    pub fn get(&self, root: &Root) -> Option<&Packages> {
        self.cell(root).0.as_deref()
    }

    /// [`Database::get`], shared: for a holder that changes while it reads.
    pub fn shared(&self, root: &Root) -> Option<Rc<Packages>> {
        self.cell(root).0.clone()
    }

    /// What went wrong reading the database, if it was read: a database that
    /// could not be read at all, or the parts of it that were skipped (one
    /// line each, for the user: a bundle without the package metadata it
    /// should have must say why).
    pub fn problems(&self) -> &[String] {
        self.read.get().map_or(&[], |(_, p)| p)
    }

    fn cell(&self, root: &Root) -> &(Option<Rc<Packages>>, Vec<String>) {
        self.read.get_or_init(|| {
            let (db, problems) = match self.reading.take().map(|t| t.join()) {
                Some(Ok(read)) => read,
                _ => read_database(root),
            };
            (db.map(Rc::new), problems)
        })
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("read", &self.read.get().map(|r| r.0.is_some()))
            .finish_non_exhaustive()
    }
}

/// The package database of `root`, when it has one, and what went wrong.
fn read_database(root: &Root) -> Read {
    match Packages::read(root) {
        Ok(p) => {
            let problems = p
                .warnings()
                .iter()
                .map(|w| format!("package database: {w}"))
                .collect();
            (Some(p).filter(|p| !p.is_empty()), problems)
        }
        Err(e) => (None, vec![format!("package database not read: {e}")]),
    }
}

/// Finds the run-time files of `closures` in the analyser's root. What
/// `known` says is there already (the closures' own objects, files a bundle
/// holds) is neither found again nor scanned twice. `db` is the root's
/// package database, being read ([`Database::prefetch`]), read, or not yet.
/// `max_tree` caps the bytes of a named directory taken whole (None: no
/// cap; see the rule above).
pub fn discover(
    analyzer: &Analyzer,
    closures: &[Closure],
    known: &dyn Fn(&str) -> bool,
    db: &Database,
    max_tree: Option<u64>,
) -> Result<Discovered> {
    let mut d = Discovery {
        analyzer,
        inputs: closures,
        known,
        db,
        max_tree,
        out: Discovered::default(),
    };
    let mut scanned: HashSet<PathBuf> = HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let objects: Vec<(String, PathBuf)> = d
            .objects(closures)
            .filter(|o| scanned.insert(o.real.clone()))
            .map(|o| (o.absolute_path(), o.real.clone()))
            .collect();
        if objects.is_empty() {
            break;
        }
        for (shown, real, literals) in d.scan(objects)? {
            d.named_paths(&shown, &real, literals)?;
            // python3 is a link to python3.11: the real name has the version.
            d.python(&real.to_string_lossy())?;
        }
    }
    d.jvm(closures)?;
    d.imported(closures)?;
    Ok(d.out)
}

/// The closure of an ELF file found at run time or added, if it is a
/// program or library the loader could start (not static).
pub fn startable_closure(analyzer: &Analyzer, real: &Path) -> Result<Option<Closure>> {
    let head = analyzer.files().root().head(real, 4)?;
    if !elf::has_elf_magic(&head) {
        return Ok(None);
    }
    match analyzer.files().probe(real) {
        Probe::Elf(f) if matches!(f.kind, Kind::Exec | Kind::Dyn) && !f.is_static() => {
            analyzer.analyze(real).map(Some)
        }
        _ => Ok(None),
    }
}

/// One run: the root, the inputs' closures, what is known and found so far.
struct Discovery<'a> {
    analyzer: &'a Analyzer,
    inputs: &'a [Closure],
    known: &'a dyn Fn(&str) -> bool,
    /// The root's package database, read when a named path first needs it.
    db: &'a Database,
    /// The cap on a named directory taken whole, in bytes.
    max_tree: Option<u64>,
    out: Discovered,
}

impl<'a> Discovery<'a> {
    fn root(&self) -> &'a Root {
        self.analyzer.files().root()
    }

    /// The package database, when the root has one.
    fn db(&self) -> Option<&'a Packages> {
        self.db.get(self.root())
    }

    /// The paths each of `objects` (shown, real) names, but the libc's
    /// (what the libc opens at run time is profile's to say). Read, with
    /// their imports (for [`Discovery::imported`]), before any is looked up
    /// in the package database, which the host's is still being read on
    /// another thread: this work overlaps it rather than waiting for it.
    fn scan(&self, objects: Vec<(String, PathBuf)>) -> Result<Vec<(String, PathBuf, Vec<String>)>> {
        let mut scanned = Vec::with_capacity(objects.len());
        for (shown, real) in objects {
            let _ = self.analyzer.files().imports(&real);
            if !relevance::is_libc(&shown) {
                let literals = self.literals(&real)?;
                scanned.push((shown, real, literals));
            }
        }
        Ok(scanned)
    }

    /// True when `path` is known or already found.
    fn has(&self, path: &str) -> bool {
        (self.known)(path) || self.out.layout.contains(path)
    }

    /// Every object of the given closures and of those found so far.
    fn objects<'b>(&'b self, inputs: &'b [Closure]) -> impl Iterator<Item = &'b Object> {
        inputs
            .iter()
            .chain(&self.out.closures)
            .chain(&self.out.optional)
            .flat_map(|c| c.objects.iter())
    }

    fn record(&mut self, path: &str, rule: Rule, reason: &str) {
        self.out.found.push(Found {
            path: path.to_string(),
            rule,
            reason: reason.to_string(),
        });
    }

    /// A directory (without its contents) or a file, alone; false when it
    /// is not taken (a set-user-ID file).
    fn single(&mut self, path: &str, rule: Rule, reason: &str) -> Result<bool> {
        if self.has(path) {
            return Ok(true);
        }
        if self
            .out
            .layout
            .add_path(self.root(), path, reason)?
            .is_none()
        {
            return Ok(false);
        }
        if !self.drop_set_id().is_empty() {
            return Ok(false);
        }
        self.record(path, rule, reason);
        Ok(true)
    }

    /// A directory tree, following the links inside where `follow` says;
    /// its ELF files bring their closures (`optional` ones or not).
    fn tree(
        &mut self,
        path: &str,
        (rule, reason): (Rule, &str),
        follow: &dyn Fn(&Path) -> bool,
        optional: bool,
    ) -> Result<()> {
        let files = self
            .out
            .layout
            .add_tree_following(self.root(), path, None, reason, follow)?;
        let dropped = self.drop_set_id();
        self.record(path, rule, reason);
        for f in files.iter().filter(|f| !dropped.contains(*f)) {
            if let Some(c) = startable_closure(self.analyzer, f)? {
                let shown = f.to_string_lossy();
                match self.hardware(&shown, reason, &c) {
                    true => drop(self.out.layout.take(&shown)),
                    false => self.keep(c, optional),
                }
            }
        }
        Ok(())
    }

    /// Keeps the closure of a file found (`optional`: its misses do not count).
    fn keep(&mut self, closure: Closure, optional: bool) {
        match optional {
            true => self.out.optional.push(closure),
            false => self.out.closures.push(closure),
        }
    }

    /// A file, or a directory that is not too large (at most `cap` bytes,
    /// when there is a cap), found at `path`; false when it is not taken. A
    /// library among them that misses a library of its own is no reason to
    /// refuse a bundle: only a program that loads it would fail.
    fn found(&mut self, path: &str, reason: &str, cap: Option<u64>) -> Result<bool> {
        if self.left_out(path) {
            return Ok(false);
        }
        match self.root().lookup(Path::new(path))? {
            Lookup::Dir(real) => {
                let entries = self.root().walk_tree(&real)?;
                if entries.len() > MAX_TREE || self.over_cap(path, reason, &entries, cap) {
                    return Ok(false);
                }
                // Links inside lead on only to places a name could bring in.
                let follow = |p: &Path| !denied(&p.to_string_lossy());
                self.tree(path, (Rule::Named, reason), &follow, true)?;
                Ok(true)
            }
            Lookup::File(real) => {
                let closure = startable_closure(self.analyzer, &real)?;
                if let Some(c) = &closure
                    && self.hardware(path, reason, c)
                {
                    return Ok(false);
                }
                let taken = self.single(path, Rule::Named, reason)?;
                if let Some(c) = closure.filter(|_| taken) {
                    self.keep(c, true);
                }
                Ok(taken)
            }
            _ => Ok(false),
        }
    }

    /// The files the imports open ([`imports::RULES`]). The databases come
    /// in; gconv modules (9 MB on Debian, where glibc builds in UTF-8,
    /// UTF-16, UCS-4, ISO-8859-1 and ASCII) and a shell only on request
    /// (`--with gconv`, `--with sh`), since bash, curl and most programs
    /// import iconv_open or system without needing them; doctor says when
    /// they are missing.
    fn imported(&mut self, inputs: &[Closure]) -> Result<()> {
        let files = self.analyzer.files();
        let names: Vec<_> = (self.objects(inputs))
            .filter_map(|o| files.imports(&o.real).ok())
            .collect();
        for rule in imports::triggered(names.iter().flat_map(|n| n.iter().map(String::as_str))) {
            if let Need::File(path) = rule.need
                && !self.has(path)
                && matches!(self.root().lookup(Path::new(path))?, Lookup::File(_))
            {
                self.single(path, Rule::Import, rule.reason)?;
            }
        }
        Ok(())
    }
}
