//! The closure graph: every object the loader maps to start one program.
//!
//! Objects are loaded breadth-first in the loader's own order, so that
//! "already loaded under that name or SONAME" and the RPATH chain of each
//! object are exactly what ld.so sees. Missing and invalid libraries are
//! edges in the graph, not errors.
//!
//! - `graph`: the data ([`Closure`], [`Object`], [`Dep`], [`Resolution`],
//!   [`Interpreter`]), which is all the writers read;
//! - `analyzer`: the [`Analyzer`], which owns one root's files, its loader
//!   configuration (caches, config reads) and the [`Options`];
//! - `loading`: the state of one program being loaded (breadth-first order,
//!   search dispatch);
//! - `cycles`: the sets of objects that need each other;
//! - this file: the entry points that run a loading ([`Analyzer::analyze`],
//!   [`Analyzer::locate`]).
//!
//! The stage uses `elf`, `files`, `root`, `search`, and `profile::libc` to
//! know whose rules apply; nothing that comes after it.

mod analyzer;
mod cycles;
mod graph;
mod loading;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::elf::{ElfFile, Kind};
use crate::error::{Error, Result};
use crate::profile::libc;
use crate::root::Lookup;
use crate::search::{Outcome, Via};
pub use analyzer::{Analyzer, Options};
pub use graph::{Closure, Dep, InterpStatus, Interpreter, Object, ObjectId, Resolution};
use loading::Loading;

pub use crate::profile::Libc;

/// About how many objects a program maps (/usr/bin averages 7).
const TYPICAL_OBJECTS: usize = 8;

/// The rules for a library whose closure names no libc: glibc's.
const DEFAULT_RULES: Libc = Libc::Glibc;

impl Analyzer {
    /// The closure of the file at `input`, a path inside the root.
    pub fn analyze(&self, input: &Path) -> Result<Closure> {
        let root = self.files().root();
        let real = match root.lookup(input)? {
            Lookup::File(real) => real,
            Lookup::Absent => {
                return Err(match root.link_target(input) {
                    Some(target) => Error::DanglingSymlink {
                        path: input.to_path_buf(),
                        target,
                    },
                    None => Error::NotFound {
                        path: input.to_path_buf(),
                    },
                });
            }
            Lookup::Dir(_) | Lookup::Other(_) => {
                return Err(Error::Unsupported {
                    path: input.to_path_buf(),
                    reason: "not a regular file".into(),
                });
            }
        };
        let elf = self.files().elf(&real, input)?;
        self.closure_of(input, real, elf)
    }

    /// The closure of an ELF file that is not in the root (a host file about
    /// to be copied into an image), as if it were at `at` inside the root.
    pub fn analyze_placed(&self, elf: Arc<ElfFile>, at: &Path) -> Result<Closure> {
        self.closure_of(at, at.to_path_buf(), elf)
    }

    fn closure_of(&self, input: &Path, real: PathBuf, elf: Arc<ElfFile>) -> Result<Closure> {
        if matches!(elf.kind, Kind::Rel | Kind::Other) {
            return Err(Error::Unsupported {
                path: input.to_path_buf(),
                reason: "an ELF relocatable or core file, which no loader starts".into(),
            });
        }
        let path = input.to_string_lossy().into_owned();
        // The program's $ORIGIN is the directory of the file itself, links resolved.
        let file = real.to_string_lossy().into_owned();
        let main = Object::mapped(path.clone(), real, elf.clone(), Via::Input, &file);
        if elf.is_static() {
            return Ok(Closure {
                input: path,
                libc: None,
                is_static: true,
                objects: vec![main],
                interpreter: None,
                cycles: Vec::new(),
            });
        }
        let named = libc::libc_of(self.files(), &elf);
        let mut loading = self.load(named.unwrap_or(DEFAULT_RULES), main.clone())?;
        // A library that names no libc is whatever the first library it
        // loads that names one is; under musl's rules if that is musl.
        let libc = named.or_else(|| {
            let mut loaded = loading.objects.iter().skip(1);
            loaded.find_map(|o| libc::needed_libc(self.files(), &o.elf))
        });
        if named.is_none() && libc == Some(Libc::Musl) {
            loading = self.load(Libc::Musl, main)?;
        }
        let cycles = cycles::find_cycles(&loading.objects);
        Ok(Closure {
            input: path,
            libc,
            is_static: false,
            objects: loading.objects,
            interpreter: loading.interpreter,
            cycles,
        })
    }

    /// Loads everything `main` needs under `libc`'s rules.
    fn load(&self, libc: Libc, main: Object) -> Result<Loading<'_>> {
        // Room for a typical closure, so that it is not regrown object by object.
        let mut objects = Vec::with_capacity(TYPICAL_OBJECTS);
        objects.push(main);
        let mut loading = Loading::new(self, libc, objects, None);
        loading.start()?;
        loading.run();
        Ok(loading)
    }

    /// Where `dlopen(name)` called from object `caller` of `closure` would
    /// find `name`: an object already loaded, or the caller's search path
    /// (its RPATH chain, LD_LIBRARY_PATH, its RUNPATH, cache, defaults).
    pub fn locate(&self, closure: &Closure, caller: ObjectId, name: &str) -> Option<String> {
        if closure.is_static {
            return None;
        }
        let libc = closure.libc.unwrap_or(DEFAULT_RULES);
        let objects = closure.objects.clone();
        let loading = Loading::new(self, libc, objects, closure.interpreter.clone());
        if let Some(id) = loading.already_loaded(name) {
            return Some(loading.objects[id].path.clone());
        }
        let caller = caller.min(loading.objects.len() - 1);
        match &loading.search(caller, name).outcome {
            Outcome::Found(c) => Some(c.path.clone()),
            _ => None,
        }
    }
}
