//! The planner: places inputs and the objects of their closures in the
//! [`Layout`] at the paths the loader opens, and records what is missing.
//! The other parts of the plan (`add`, `runtime`) extend it.

use std::path::{Path, PathBuf};

use super::layout::Layout;
use super::{Missing, parent};
use crate::closure::{Analyzer, Closure, InterpStatus, Libc};
use crate::error::{Error, Result};
use crate::root::Lookup;
use crate::script;
use crate::search::Via;

pub(super) struct Planner<'a> {
    pub(super) analyzer: &'a Analyzer,
    pub(super) layout: Layout,
    pub(super) missing: Vec<Missing>,
    pub(super) closures: Vec<Closure>,
    /// (name, path) of libraries the loader found through the cache or ld.so.conf.
    pub(super) cache: Vec<(String, String)>,
    /// The root's package database, read once for discovery and the
    /// package metadata (in the background for the host's).
    pub(super) db: crate::discover::Database,
}

impl<'a> Planner<'a> {
    pub(super) fn root(&self) -> &'a crate::root::Root {
        self.analyzer.files().root()
    }

    pub(super) fn input(&mut self, input: &Path, dest: Option<&str>) -> Result<()> {
        let shown = super::layout::utf8(input)?.to_string();
        let real = match self.root().lookup(input)? {
            Lookup::File(real) => real,
            Lookup::Dir(_) => {
                return Err(Error::Unsupported {
                    path: input.to_path_buf(),
                    reason: "a directory, not a program (directories go in as added trees)".into(),
                });
            }
            Lookup::Other(_) => {
                return Err(Error::Unsupported {
                    path: input.to_path_buf(),
                    reason: "not a regular file".into(),
                });
            }
            Lookup::Absent => {
                // Let the analyser name the problem (dangling link, loop, absent).
                return self.analyzer.analyze(input).map(|_| ());
            }
        };
        let head = self.root().head(&real, 512)?;
        if let Some(interp) = script::interpreter(input, &head)? {
            self.place(input, &real, dest, "input")?;
            let reason = format!("interpreter of {shown}");
            let interp_path = PathBuf::from(&interp);
            if self.root().resolve_file(&interp_path)?.is_none() {
                self.missing.push(Missing {
                    name: interp.clone(),
                    needed_by: shown,
                    status: "missing".into(),
                });
                return Ok(());
            }
            self.layout.add_path(self.root(), &interp, &reason)?;
            let closure = self.analyzer.analyze(&interp_path)?;
            self.closure(closure);
            return Ok(());
        }
        let closure = self.analyzer.analyze(input)?;
        self.place(input, &real, dest, "input")?;
        // A program moved by --dest takes the libraries it finds through
        // $ORIGIN along: they go at the same place relative to its new home.
        let moved = dest.map(|d| (closure.objects[0].origin().to_string(), parent(d)));
        self.add_closure(closure, moved);
        Ok(())
    }

    pub(super) fn place(
        &mut self,
        input: &Path,
        real: &Path,
        dest: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        match dest {
            Some(d) => self.layout.add_file_at(self.root(), real, d, reason),
            None => self
                .layout
                .add_path(self.root(), &input.to_string_lossy(), reason)
                .map(|_| ()),
        }
    }

    /// Adds every object of a closure at the path the loader opens, and
    /// records what is missing.
    pub(super) fn closure(&mut self, c: Closure) {
        self.add_closure(c, None);
    }

    /// [`Planner::closure`], for a program moved from directory `moved.0` to
    /// `moved.1`: what it found through its own RPATH/RUNPATH under `moved.0`
    /// goes to the same place under `moved.1`.
    pub(super) fn add_closure(&mut self, c: Closure, moved: Option<(String, String)>) {
        let root = self.analyzer.files().root();
        let mut failures = Vec::new();
        if let Some(i) = &c.interpreter
            && !matches!(i.status, InterpStatus::Loaded(_))
        {
            self.missing.push(Missing {
                name: i.path.clone(),
                needed_by: c.input.clone(),
                status: "interpreter missing".into(),
            });
        }
        for o in c.objects.iter().skip(1) {
            let path = o.absolute_path();
            let reason = match (o.via, o.loaded_by) {
                (Via::Interpreter, _) => format!("interpreter of {}", c.input),
                (_, Some(by)) => format!("needed by {}", c.objects[by].path),
                _ => format!("needed by {}", c.input),
            };
            let moved = moved.as_ref().and_then(|(from, to)| {
                let rest = path.strip_prefix(from.as_str())?.strip_prefix('/')?;
                matches!(o.via, Via::Rpath | Via::Runpath)
                    .then(|| format!("{}/{rest}", to.trim_end_matches('/')))
            });
            let added = match moved {
                Some(at) => self.layout.add_file_at(root, &o.real, &at, &reason),
                None => self.layout.add_path(root, &path, &reason).map(|_| ()),
            };
            if let Err(e) = added {
                failures.push(e);
            }
            if let Some(b) = o.hwcaps.as_ref().and_then(|h| h.baseline.as_ref())
                && let Err(e) = self
                    .layout
                    .add_path(root, b, &format!("baseline of {}", o.path))
            {
                failures.push(e);
            }
            if matches!(o.via, Via::Cache | Via::Conf) {
                // The bundle's cache has no hwcaps section: it names the
                // baseline, which runs on every CPU, rather than this CPU's variant.
                let path = o
                    .hwcaps
                    .as_ref()
                    .and_then(|h| h.baseline.clone())
                    .unwrap_or_else(|| path.clone());
                for n in o.names.iter().filter(|n| !n.contains('/')) {
                    self.cache.push((n.clone(), path.clone()));
                }
            }
        }
        for (o, d) in c.problems() {
            self.missing.push(Missing {
                name: d.name.clone(),
                needed_by: o.path.clone(),
                status: d.resolution.problem().unwrap_or("missing").to_string(),
            });
        }
        for e in failures {
            self.missing.push(Missing {
                name: e.to_string(),
                needed_by: c.input.clone(),
                status: "unreadable".into(),
            });
        }
        self.closures.push(c);
    }

    /// Adds an ELF file found at run time (NSS module, dlopen'ed library) with its closure.
    pub(super) fn runtime_library(&mut self, path: &str, reason: &str) -> Result<()> {
        if self.layout.add_path(self.root(), path, reason)?.is_none() {
            return Ok(());
        }
        let closure = self.analyzer.analyze(Path::new(path))?;
        self.closure(closure);
        Ok(())
    }

    /// The first closure of a dynamic glibc program: the one whose search
    /// path run-time loads use.
    pub(super) fn glibc_main(&self) -> Option<&Closure> {
        self.closures.iter().find(|c| c.libc == Some(Libc::Glibc))
    }

    pub(super) fn paths(&mut self, paths: &[&str], reason: &str) -> Result<()> {
        for p in paths {
            match self.root().lookup(Path::new(p))? {
                Lookup::Dir(_) => {
                    self.tree(p, None, reason)?;
                }
                Lookup::File(_) => {
                    self.layout.add_path(self.root(), p, reason)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds a directory tree; every startable ELF file in it brings its closure.
    pub(super) fn tree(&mut self, src: &str, dest: Option<&str>, reason: &str) -> Result<()> {
        self.tree_following(src, dest, reason, &|_| true)
    }

    /// [`Planner::tree`], following links inside only where `follow` accepts.
    pub(super) fn tree_following(
        &mut self,
        src: &str,
        dest: Option<&str>,
        reason: &str,
        follow: &dyn Fn(&Path) -> bool,
    ) -> Result<()> {
        let files = self.layout.add_tree_following(
            self.analyzer.files().root(),
            src,
            dest,
            reason,
            follow,
        )?;
        for f in files {
            self.elf_closure(&f)?;
        }
        Ok(())
    }

    /// The closure of a file that came in by --add or as an extra, if it is a startable ELF file.
    pub(super) fn elf_closure(&mut self, real: &Path) -> Result<()> {
        if let Some(c) = crate::discover::startable_closure(self.analyzer, real)? {
            self.closure(c);
        }
        Ok(())
    }
}
