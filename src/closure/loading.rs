//! The state of one program being loaded: objects mapped breadth-first in
//! the loader's order, each DT_NEEDED name checked against what is already
//! loaded and otherwise handed to the search rules of the program's libc
//! (glibc's or musl's, from `search`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use super::analyzer::Analyzer;
use super::graph::{Dep, InterpStatus, Interpreter, Object, ObjectId, Resolution};
use crate::elf::ElfFile;
use crate::error::Result;
use crate::files::Probe;
use crate::profile::libc::{self, Libc};
use crate::root::Lookup;
use crate::search::glibc::{self, Abi};
use crate::search::{
    Candidate, Link, Outcome, Prober, SearchResult, TryResult, Via, expand_tokens, join, musl,
};

/// The loader whose rules apply, with its view of the system for this program.
enum Rules {
    Glibc(Rc<Abi>),
    Musl {
        /// The loader's search path (its `etc/ld-musl-<arch>.path` or the default).
        system: Vec<String>,
        /// The loader: the program's PT_INTERP, or for a library the root's musl loader.
        interp: Option<String>,
    },
}

/// The state of one program being loaded.
pub(super) struct Loading<'a> {
    analyzer: &'a Analyzer,
    rules: Rules,
    /// Load order so far; `objects[0]` is the program.
    pub objects: Vec<Object>,
    /// The program's PT_INTERP, once mapped.
    pub interpreter: Option<Interpreter>,
    /// The memo key of the search being made, kept to be refilled: one
    /// allocation per program rather than per DT_NEEDED entry.
    key: RefCell<Vec<u8>>,
}

impl<'a> Loading<'a> {
    /// Loading under `libc`'s rules, with `objects` (the program first) already mapped.
    pub fn new(
        analyzer: &'a Analyzer,
        libc: Libc,
        objects: Vec<Object>,
        interpreter: Option<Interpreter>,
    ) -> Loading<'a> {
        let main = &objects[0].elf;
        let rules = match libc {
            Libc::Glibc => Rules::Glibc(analyzer.abi(main)),
            Libc::Musl => {
                let interp = main
                    .interp
                    .clone()
                    .or_else(|| libc::musl_loader(analyzer.files(), main));
                let system = match &interp {
                    Some(i) => analyzer.musl_system_path(i, main),
                    None => Vec::new(),
                };
                Rules::Musl { system, interp }
            }
        };
        Loading {
            analyzer,
            rules,
            objects,
            interpreter,
            key: RefCell::default(),
        }
    }

    fn libc(&self) -> Libc {
        match self.rules {
            Rules::Glibc(_) => Libc::Glibc,
            Rules::Musl { .. } => Libc::Musl,
        }
    }

    /// Maps the interpreter, as the kernel does before the loader runs.
    pub fn start(&mut self) -> Result<()> {
        let main = self.objects[0].elf.clone();
        let Some(interp) = main.interp.clone() else {
            return Ok(());
        };
        let files = self.analyzer.files();
        let status = match files.root().lookup(Path::new(&interp))? {
            Lookup::File(real) => match files.probe(&real) {
                Probe::Elf(elf) if elf.compatible_with(&main) => {
                    let mut names = vec![interp.clone()];
                    names.extend(elf.soname.clone());
                    self.objects.push(Object {
                        names,
                        ..Object::mapped(interp.clone(), real, elf, Via::Interpreter, &interp)
                    });
                    InterpStatus::Loaded(self.objects.len() - 1)
                }
                Probe::Elf(elf) => InterpStatus::Incompatible {
                    found: elf.describe(),
                },
                Probe::NotElf => InterpStatus::Invalid {
                    reason: "invalid ELF header".into(),
                },
                Probe::Malformed(r) | Probe::Unreadable(r) => InterpStatus::Invalid { reason: r },
            },
            _ => InterpStatus::Missing,
        };
        self.interpreter = Some(Interpreter {
            path: interp,
            status,
        });
        Ok(())
    }

    /// Breadth-first over the objects in load order, as both loaders do.
    pub fn run(&mut self) {
        let mut next = 0;
        while next < self.objects.len() {
            let id = next;
            next += 1;
            if self.objects[id].via == Via::Interpreter {
                continue;
            }
            let elf = self.objects[id].elf.clone();
            self.objects[id].deps.reserve_exact(elf.needed.len());
            for name in &elf.needed {
                // The same name twice resolves the same way: once is enough.
                if self.objects[id].deps.iter().any(|d| d.name == *name) {
                    continue;
                }
                let resolution = self.resolve(id, name);
                self.objects[id].deps.push(Dep {
                    name: name.clone(),
                    resolution,
                });
            }
        }
    }

    fn resolve(&mut self, id: ObjectId, name: &str) -> Resolution {
        if let Some(found) = self.already_loaded(name) {
            return Resolution::Object(found);
        }
        let result = self.search(id, name);
        match &result.outcome {
            Outcome::Found(c) => {
                if let Some(same) = self
                    .objects
                    .iter()
                    .position(|o| o.real.as_os_str() == c.real.as_os_str())
                {
                    self.objects[same].names.push(name.to_string());
                    return Resolution::Object(same);
                }
                self.objects.push(self.mapped(id, name, c));
                Resolution::Object(self.objects.len() - 1)
            }
            Outcome::NotFound => Resolution::Missing {
                tried: result.tried.clone(),
            },
            Outcome::Invalid { path, reason } => Resolution::Invalid {
                path: path.clone(),
                reason: reason.clone(),
                tried: result.tried.clone(),
            },
        }
    }

    /// The object for `c`, found for the need `name` of object `id`.
    fn mapped(&self, id: ObjectId, name: &str, c: &Candidate) -> Object {
        let glibc = self.libc() == Libc::Glibc;
        let mut names = Vec::with_capacity(2);
        names.push(name.to_string());
        if glibc {
            names.extend(c.elf.soname.as_ref().filter(|s| *s != name).cloned());
        }
        // glibc makes the `$ORIGIN` of an object opened by a relative path
        // absolute (the cwd at load time); musl keeps it relative.
        let file = match &c.relative_to {
            Some(cwd) if glibc => join(cwd, &c.path),
            _ => c.path.clone(),
        };
        Object {
            names,
            loaded_by: Some(id),
            hwcaps: c.hwcaps.clone(),
            relative_to: c.relative_to.clone(),
            ..Object::mapped(c.path.clone(), c.real.clone(), c.elf.clone(), c.via, &file)
        }
    }

    /// glibc: any object asked for under `name`, or whose SONAME or path is `name`.
    /// musl: the libc family is the loader (the program's interpreter, or
    /// the loader mapped for a library); else an object found under that name.
    pub fn already_loaded(&self, name: &str) -> Option<ObjectId> {
        if self.libc() == Libc::Musl && musl::is_loader_name(name) {
            return self
                .objects
                .iter()
                .position(|o| matches!(o.via, Via::Interpreter | Via::Loader));
        }
        self.objects
            .iter()
            .position(|o| o.names.iter().any(|n| n == name) || o.path == name)
    }

    /// Where the loader finds `name`, needed by object `id`.
    pub fn search(&self, id: ObjectId, name: &str) -> Rc<SearchResult> {
        let chain = self.chain(id);
        match &self.rules {
            Rules::Musl { system, interp } => {
                Rc::new(self.search_musl(system, interp.as_deref(), name, &chain))
            }
            Rules::Glibc(abi) => self.search_glibc(abi, id, name, &chain),
        }
    }

    /// Object `id` and each object that loaded it, up to the program.
    fn chain(&self, id: ObjectId) -> Vec<Link<'_>> {
        let link = |i: ObjectId| Link {
            elf: &self.objects[i].elf,
            origin: &self.objects[i].origin,
        };
        let mut links = Vec::with_capacity(4);
        let mut at = id;
        links.push(link(at));
        // An object is loaded by one loaded before it, so the walk goes
        // down and ends; a parent that is not before it is never followed.
        while let Some(parent) = self.objects[at].loaded_by.filter(|&p| p < at) {
            at = parent;
            links.push(link(at));
        }
        if at != 0 {
            links.push(link(0));
        }
        links
    }

    fn search_musl(
        &self,
        system: &[String],
        interp: Option<&str>,
        name: &str,
        chain: &[Link<'_>],
    ) -> SearchResult {
        let files = self.analyzer.files();
        let options = self.analyzer.options();
        let want = &self.objects[0].elf;
        let mut p = Prober::new(files, &options.cwd, want);
        if musl::is_loader_name(name) {
            // The loader itself, not loaded yet: a library's (the program's
            // is mapped from the start), or one that is not there.
            let Some(interp) = interp else {
                p.note("/lib/ld-musl.so.1", Via::Loader, TryResult::Absent);
                return p.finish(None);
            };
            let step = p.file(interp, Via::Loader, true);
            return p.finish(Some(step));
        }
        if name.contains('/') {
            let step = p.file(name, Via::Path, true);
            return p.finish(Some(step));
        }
        let sys = musl::System {
            files,
            ld_library_path: &options.library_path,
            path: system,
            cwd: &options.cwd,
        };
        musl::search(&sys, name, chain)
    }

    fn search_glibc(
        &self,
        abi: &Abi,
        id: ObjectId,
        name: &str,
        chain: &[Link<'_>],
    ) -> Rc<SearchResult> {
        let want = &self.objects[0].elf;
        let expanded = if name.contains('$') {
            let origin = Some(self.objects[id].origin());
            expand_tokens(name, origin, Some(&abi.lib), abi.platform).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(name))
        };
        let mut p = Prober::new(self.analyzer.files(), &self.analyzer.options().cwd, want);
        let Some(name) = expanded else {
            p.note(name, Via::Path, TryResult::Absent);
            return Rc::new(p.finish(None));
        };
        if name.contains('/') {
            let step = p.file(&name, Via::Path, true);
            return Rc::new(p.finish(Some(step)));
        }
        let uses_origin = self
            .analyzer
            .options()
            .library_path
            .iter()
            .any(|p| p.contains('$'));
        let mut key = self.key.borrow_mut();
        search_key(
            &mut key,
            want,
            (uses_origin, &self.objects[0].origin),
            &name,
            chain,
        );
        if let Some(hit) = self.analyzer.remembered_search(&key) {
            return hit;
        }
        let result = glibc::search(&self.analyzer.glibc_system(want), abi, &name, chain);
        let result = Rc::new(result);
        self.analyzer.remember_search(key.clone(), result.clone());
        result
    }
}

/// Everything a glibc search for `name` depends on besides the root and the
/// options, which are fixed for an analyser: the program's ABI and, when
/// LD_LIBRARY_PATH has tokens, its directory, the RPATHs up the chain when
/// the needing object has no RUNPATH, its RUNPATH and its NODEFLIB flag,
/// each with the `$ORIGIN` it expands to. Strings are NUL-separated (no
/// element can hold a NUL); the key is bytes, built without formatting,
/// since it is made for every DT_NEEDED entry of every program.
fn search_key(
    key: &mut Vec<u8>,
    want: &ElfFile,
    (uses_origin, program_origin): (bool, &str),
    name: &str,
    chain: &[Link<'_>],
) {
    key.clear();
    key.extend_from_slice(&want.machine.to_le_bytes());
    key.extend_from_slice(&want.e_flags.to_le_bytes());
    key.push(want.class as u8);
    key.push(want.data as u8);
    key.extend_from_slice(name.as_bytes());
    let mut field = |tag: u8, s: &str| {
        key.push(0);
        key.push(tag);
        key.extend_from_slice(s.as_bytes());
    };
    if uses_origin {
        field(b'o', program_origin);
    }
    if let Some(first) = chain.first() {
        field(if first.elf.nodeflib() { b'N' } else { b'n' }, "");
        if let Some(runpath) = &first.elf.runpath {
            field(b'R', runpath);
            field(b'O', first.origin);
        } else {
            for link in chain {
                if let Some(rpath) = link.elf.effective_rpath() {
                    field(b'r', rpath);
                    field(b'O', link.origin);
                }
            }
        }
    }
}
