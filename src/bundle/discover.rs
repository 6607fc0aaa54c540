//! Run-time files found without running anything: the paths the closure's
//! objects write in their read-only data (`elf::path_literals`) that pass
//! the relevance rule below, the standard library of an embedded or
//! launched Python, and what the imports open (`profile::imports`).
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
//!   imagemagick); an object no package owns keeps only paths no package
//!   owns either;
//! - a directory holds at most [`MAX_TREE`] entries;
//! - it widens to the largest directory around P that only O's source ships,
//!   and the empty directories a program keeps state or works in (a named
//!   path under /run, or one no package ships) come in without contents.
//!
//! The lists behind the first point are `relevance`'s.
//!
//! Files found this way are scanned in turn (an ELF file among them brings
//! its closure, whose objects may name more paths), at most [`MAX_ROUNDS`]
//! times.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::planner::Planner;
use super::relevance::{denied, is_libc, sources};
use crate::error::Result;
use crate::packages::Packages;
use crate::profile::imports::{self, Need};
use crate::root::Lookup;

/// The most entries a directory found this way may hold.
pub const MAX_TREE: usize = 20_000;
/// How many times newly added objects are scanned for more paths.
pub const MAX_ROUNDS: usize = 8;

impl Planner<'_> {
    /// Adds the run-time files the closures' objects name, their runtimes'
    /// libraries and what their imports open.
    pub(super) fn discover(&mut self) -> Result<()> {
        let db = Some(self.packages()).filter(|p| !p.is_empty());
        let mut scanned: HashSet<PathBuf> = HashSet::new();
        for _ in 0..MAX_ROUNDS {
            let objects: Vec<(String, PathBuf)> = self
                .closures
                .iter()
                .flat_map(|c| c.objects.iter())
                .filter(|o| scanned.insert(o.real.clone()))
                .map(|o| (o.absolute_path(), o.real.clone()))
                .collect();
            if objects.is_empty() {
                break;
            }
            for (shown, real) in objects {
                if is_libc(&shown) {
                    // What the libc opens at run time is profile's to say.
                    continue;
                }
                self.named_paths(&shown, &real, db.as_deref())?;
                // python3 is a link to python3.11: the real name has the version.
                self.python(&real.to_string_lossy())?;
            }
        }
        self.jvm()?;
        self.imported()
    }

    /// A JVM: the launcher's libjli.so is in JAVA_HOME/lib. JAVA_HOME/lib
    /// (with the VM jvm.cfg names first, lib/server/libjvm.so) and its conf
    /// come in. The JDK's libraries need libjvm.so, which the launcher has
    /// loaded before them (as the same SONAME): that need is met, not missing.
    fn jvm(&mut self) -> Result<()> {
        let homes: Vec<String> = self
            .closures
            .iter()
            .flat_map(|c| c.objects.iter())
            .map(|o| o.real.to_string_lossy().into_owned())
            .filter_map(|p| Some(p.strip_suffix("/lib/libjli.so")?.to_string()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for home in homes {
            let lib = format!("{home}/lib");
            if self.layout.contains(&format!("{lib}/jvm.cfg")) {
                continue;
            }
            let Lookup::Dir(_) = self.root().lookup(Path::new(&lib))? else {
                continue;
            };
            self.tree(&lib, None, &format!("JVM libraries of {home}"))?;
            for extra in ["conf", "release"] {
                let path = format!("{home}/{extra}");
                if self.root().lookup(Path::new(&path))? != Lookup::Absent {
                    self.found(&path, &format!("JVM configuration of {home}"))?;
                }
            }
            let vm = self
                .root()
                .read_to_string(Path::new(&format!("{lib}/jvm.cfg")))?
                .and_then(|cfg| {
                    cfg.lines()
                        .map(str::trim)
                        .filter(|l| !l.starts_with('#'))
                        .find_map(|l| {
                            l.strip_suffix(" KNOWN")?
                                .strip_prefix('-')
                                .map(str::to_string)
                        })
                })
                .unwrap_or_else(|| "server".into());
            if self.layout.contains(&format!("{lib}/{vm}/libjvm.so")) {
                let under = format!("{home}/");
                self.missing
                    .retain(|m| !(m.name == "libjvm.so" && m.needed_by.starts_with(&under)));
            }
        }
        Ok(())
    }

    /// The paths the object at `real` names that are relevant, added.
    fn named_paths(&mut self, shown: &str, real: &Path, db: Option<&Packages>) -> Result<()> {
        let crate::files::Probe::Elf(elf) = self.analyzer.files().probe(real) else {
            return Ok(());
        };
        let bytes = self.root().contents(real)?;
        let literals = elf.path_literals(&bytes);
        drop(bytes);
        let named_by = db.map(|db| sources(db, self.root(), real));
        for path in literals {
            if self.layout.contains(&path) {
                continue;
            }
            if denied(&path) {
                self.state_dir(&path)?;
                continue;
            }
            let found = match self.root().lookup(Path::new(&path))? {
                Lookup::File(p) | Lookup::Dir(p) => p,
                Lookup::Absent => {
                    // Made at run time (nginx's /var/lib/nginx/body): its
                    // directory must be there.
                    self.state_dir(&path)?;
                    continue;
                }
                Lookup::Other(_) => continue,
            };
            if denied(&found.to_string_lossy()) {
                continue;
            }
            if let (Some(db), Some(ours)) = (db, &named_by) {
                let theirs = sources(db, self.root(), Path::new(&path));
                let related = if ours.is_empty() {
                    theirs.is_empty()
                } else {
                    !theirs.is_disjoint(ours)
                };
                if !related {
                    // A directory no package ships, that the program works in
                    // (nginx's /var/lib/nginx/body): there, empty, its owner kept.
                    if theirs.is_empty() {
                        self.working_dir(&path, &found, ours, db, shown)?;
                    }
                    continue;
                }
            }
            let reason = format!("path named in {shown}");
            let path = match (db, &named_by) {
                (Some(db), Some(ours)) if !ours.is_empty() => self.widest(db, &path, ours),
                _ => path,
            };
            if self.layout.contains(&path) {
                continue;
            }
            self.found(&path, &reason)?;
            // libmagic and others read the compiled form beside a named file.
            let compiled = format!("{path}.mgc");
            if !self.layout.contains(&compiled)
                && matches!(self.root().lookup(Path::new(&compiled))?, Lookup::File(_))
            {
                self.found(&compiled, &reason)?;
            }
        }
        Ok(())
    }

    /// A path no package ships that the program works in: a directory
    /// (nginx's /var/lib/nginx/body) comes in empty, its owner kept; for a
    /// file (a log), the directory it is in, when a package of the same
    /// source ships that (/var/log/nginx).
    fn working_dir(
        &mut self,
        path: &str,
        found: &Path,
        ours: &HashSet<String>,
        db: &Packages,
        shown: &str,
    ) -> Result<()> {
        let reason = format!("working directory named in {shown}");
        if self.root().lookup(found)? == Lookup::Dir(found.to_path_buf()) {
            self.layout.add_path(self.root(), path, &reason)?;
        } else if let Some(parent) = Path::new(path).parent()
            && !denied(&parent.to_string_lossy())
            && !sources(db, self.root(), parent).is_disjoint(ours)
        {
            self.layout
                .add_path(self.root(), &parent.to_string_lossy(), &reason)?;
        }
        Ok(())
    }

    /// A path the program makes or keeps its run-time state in
    /// (`/run/nginx.pid`, `/var/lib/nginx/body`): not taken, but the
    /// directory it goes in must exist, empty (with its owner), as it does
    /// in the root, when that is a state directory or one a name could bring.
    fn state_dir(&mut self, path: &str) -> Result<()> {
        const STATE: &[&str] = &["/run/", "/var/run/", "/var/lock/"];
        let Some(parent) = Path::new(path).parent() else {
            return Ok(());
        };
        let text = parent.to_string_lossy();
        if !STATE.iter().any(|d| path.starts_with(d))
            && (denied(&text) || self.layout.contains(&text))
        {
            return Ok(());
        }
        if let Lookup::Dir(_) = self.root().lookup(parent)? {
            let reason = format!("directory of {path}");
            self.layout
                .add_path(self.root(), &parent.to_string_lossy(), &reason)?;
        }
        Ok(())
    }

    /// The widest directory around `path` that only packages of the same
    /// source (`ours`) own: a library names `.../10.00.0/Resource/Init`
    /// and reads `.../10.00.0/iccprofiles` beside it (Ghostscript), or names
    /// its coder directory and reads its config directory beside it.
    fn widest(&self, db: &Packages, path: &str, ours: &HashSet<String>) -> String {
        let mut best = path.to_string();
        for up in Path::new(path).ancestors().skip(1) {
            let text = up.to_string_lossy();
            if denied(&text) {
                break;
            }
            let theirs = sources(db, self.root(), up);
            if theirs.is_empty() || !theirs.is_subset(ours) {
                break;
            }
            best = text.into_owned();
        }
        best
    }

    /// Adds a file, or a directory that is not too large, found at `path`.
    /// A library among them that misses a library of its own is no reason
    /// to refuse the bundle: only a program that loads it would fail.
    fn found(&mut self, path: &str, reason: &str) -> Result<()> {
        let before = self.missing.len();
        let added = self.found_unchecked(path, reason);
        self.missing.truncate(before);
        added
    }

    fn found_unchecked(&mut self, path: &str, reason: &str) -> Result<()> {
        match self.root().lookup(Path::new(path))? {
            Lookup::Dir(real) => {
                if self.root().walk_tree(&real)?.len() > MAX_TREE {
                    return Ok(());
                }
                // Links inside lead on only to places a name could bring in.
                let follow = |p: &Path| !denied(&p.to_string_lossy());
                self.tree_following(path, None, reason, &follow)
            }
            Lookup::File(real) => {
                self.layout.add_path(self.root(), path, reason)?;
                self.elf_closure(&real)
            }
            _ => Ok(()),
        }
    }

    /// Python's standard library, for python3.N and for programs that embed
    /// libpython3.N (gdb): `lib/python3.N` under the prefix (/usr).
    fn python(&mut self, shown: &str) -> Result<()> {
        let name = shown.rsplit('/').next().unwrap_or(shown);
        let version = name
            .strip_prefix("libpython")
            .or_else(|| name.strip_prefix("python"))
            .map(|rest| rest.split(".so").next().unwrap_or(rest))
            .filter(|v| v.starts_with("3.") && v[2..].chars().all(|c| c.is_ascii_digit()));
        let Some(version) = version else {
            return Ok(());
        };
        let stdlib = format!("/usr/lib/python{version}");
        if self.layout.contains(&format!("{stdlib}/os.py")) {
            return Ok(());
        }
        match self.root().lookup(Path::new(&stdlib))? {
            Lookup::Dir(_) => self.tree(
                &stdlib,
                None,
                &format!("standard library of python{version}"),
            ),
            _ => Ok(()),
        }
    }

    /// The files the imports open ([`imports::RULES`]). The databases come
    /// in; gconv modules (9 MB on Debian, where glibc builds in UTF-8,
    /// UTF-16, UCS-4, ISO-8859-1 and ASCII) and a shell only on request
    /// (`--with gconv`, `--with sh`), since bash, curl and most programs
    /// import iconv_open or system without needing them; doctor says when
    /// they are missing.
    fn imported(&mut self) -> Result<()> {
        let mut names: Vec<String> = Vec::new();
        for o in self.closures.iter().flat_map(|c| c.objects.iter()) {
            if let Ok(s) = self.analyzer.files().symbols(&o.real) {
                names.extend(s.imports.iter().map(|i| i.name.clone()));
            }
        }
        for rule in imports::triggered(names.iter().map(String::as_str)) {
            if let Need::File(path) = rule.need
                && !self.layout.contains(path)
                && matches!(self.root().lookup(Path::new(path))?, Lookup::File(_))
            {
                self.layout.add_path(self.root(), path, rule.reason)?;
            }
        }
        Ok(())
    }

    /// The root's /bin/sh and its closure (`--with sh`).
    pub(super) fn shell(&mut self) -> Result<()> {
        if let Lookup::File(real) = self.root().lookup(Path::new(imports::SHELL))? {
            self.layout
                .add_path(self.root(), imports::SHELL, "shell (--with sh)")?;
            self.elf_closure(&real)?;
        }
        Ok(())
    }
}
