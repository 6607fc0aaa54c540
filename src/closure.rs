//! The closure graph: every object the loader maps to start one program.
//!
//! Objects are loaded breadth-first in the loader's own order, so that
//! "already loaded under that name or SONAME" and the RPATH chain of each
//! object are exactly what ld.so sees. Missing and invalid libraries are
//! edges in the graph, not errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::elf::arch;
use crate::elf::{ElfFile, Kind};
use crate::error::{Error, Result};
use crate::files::Files;
use crate::profile::libc;
pub use crate::profile::libc::Libc;
use crate::root::Lookup;
use crate::search::glibc::{self, Abi, System};
use crate::search::hwcaps::HwcapsLevels;
use crate::search::ld_so_cache::LdCache;
use crate::search::ld_so_conf::{self, ConfDirs};
use crate::search::{Hwcaps, Link, Outcome, SearchResult, Tried, TryResult, Via, musl};

/// Index of an object in [`Closure::objects`].
pub type ObjectId = usize;

/// One mapped object.
#[derive(Debug, Clone)]
pub struct Object {
    /// The path as the loader opens it (for an input: as named).
    pub path: String,
    /// Its canonical path inside the root.
    pub real: PathBuf,
    pub elf: Arc<ElfFile>,
    pub via: Via,
    /// The names it was asked for by.
    pub names: Vec<String>,
    /// The object whose DT_NEEDED loaded it (the program for the first level).
    pub loaded_by: Option<ObjectId>,
    pub deps: Vec<Dep>,
    pub hwcaps: Option<Hwcaps>,
    origin: String,
}

impl Object {
    /// The directory `$ORIGIN` stands for in this object's search paths.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// One DT_NEEDED entry and where it led.
#[derive(Debug, Clone)]
pub struct Dep {
    pub name: String,
    pub resolution: Resolution,
}

/// Where a DT_NEEDED entry led.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Loaded, or already loaded: the object.
    Object(ObjectId),
    /// Found nowhere usable; every path tried.
    Missing { tried: Vec<Tried> },
    /// The loader stops at an unusable file.
    Invalid {
        path: String,
        reason: String,
        tried: Vec<Tried>,
    },
}

impl Resolution {
    /// "missing", or "incompatible" when every file found was of another architecture.
    pub fn problem(&self) -> Option<&'static str> {
        match self {
            Resolution::Object(_) => None,
            Resolution::Missing { tried } => Some(
                if tried
                    .iter()
                    .any(|t| matches!(t.result, TryResult::WrongArch { .. }))
                {
                    "incompatible"
                } else {
                    "missing"
                },
            ),
            Resolution::Invalid { .. } => Some("invalid"),
        }
    }
}

/// The program's PT_INTERP and what is at that path.
#[derive(Debug, Clone)]
pub struct Interpreter {
    pub path: String,
    pub status: InterpStatus,
}

#[derive(Debug, Clone)]
pub enum InterpStatus {
    Loaded(ObjectId),
    Missing,
    Incompatible { found: String },
    Invalid { reason: String },
}

/// Everything one input needs to start.
#[derive(Debug, Clone)]
pub struct Closure {
    /// The input as named (a path inside the root).
    pub input: String,
    pub libc: Option<Libc>,
    /// No interpreter and nothing to load.
    pub is_static: bool,
    /// Load order; `objects[0]` is the input.
    pub objects: Vec<Object>,
    pub interpreter: Option<Interpreter>,
    /// Sets of objects that need each other, in load order.
    pub cycles: Vec<Vec<ObjectId>>,
}

impl Closure {
    /// Every unresolved DT_NEEDED entry with the object that needs it.
    pub fn problems(&self) -> impl Iterator<Item = (&Object, &Dep)> {
        self.objects
            .iter()
            .flat_map(|o| o.deps.iter().map(move |d| (o, d)))
            .filter(|(_, d)| d.resolution.problem().is_some())
    }

    /// True when the interpreter and every library resolved.
    pub fn is_complete(&self) -> bool {
        let interp_ok = self
            .interpreter
            .as_ref()
            .is_none_or(|i| matches!(i.status, InterpStatus::Loaded(_)));
        interp_ok && self.problems().next().is_none()
    }

    /// The object id of the interpreter, when it loaded.
    pub fn interpreter_id(&self) -> Option<ObjectId> {
        match self.interpreter.as_ref()?.status {
            InterpStatus::Loaded(id) => Some(id),
            _ => None,
        }
    }
}

/// Search settings that do not come from the root.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// LD_LIBRARY_PATH elements (from `--library-path`, then from the
    /// environment when the root is the host).
    pub library_path: Vec<String>,
    /// The CPU whose glibc-hwcaps subdirectories ld.so tries: the baseline
    /// unless set ([`host_levels`](crate::search::hwcaps::host_levels) for this machine's).
    pub hwcaps: HwcapsLevels,
}

/// Computes closures in one root, sharing every file read between inputs.
pub struct Analyzer {
    files: Files,
    options: Options,
    cache: std::cell::OnceCell<Option<LdCache>>,
    conf: std::cell::OnceCell<ConfDirs>,
    musl_paths: std::cell::RefCell<HashMap<String, Vec<String>>>,
    warnings: std::cell::RefCell<Vec<Error>>,
}

impl Analyzer {
    pub fn new(files: Files, options: Options) -> Analyzer {
        Analyzer {
            files,
            options,
            cache: Default::default(),
            conf: Default::default(),
            musl_paths: Default::default(),
            warnings: Default::default(),
        }
    }

    pub fn files(&self) -> &Files {
        &self.files
    }

    /// Problems with the root's configuration met so far (bad cache, include cycles).
    pub fn take_warnings(&self) -> Vec<Error> {
        std::mem::take(&mut self.warnings.borrow_mut())
    }

    fn cache(&self, main: &ElfFile) -> Option<&LdCache> {
        self.cache
            .get_or_init(|| {
                let root = self.files.root();
                let path = Path::new("/etc/ld.so.cache");
                let real = match root.resolve_file(path) {
                    Ok(Some(real)) => real,
                    Ok(None) => return None,
                    Err(e) => {
                        self.warnings.borrow_mut().push(e);
                        return None;
                    }
                };
                let parsed = root.contents(&real).and_then(|b| {
                    LdCache::parse(&b, main.data).map_err(|reason| Error::Config {
                        path: path.to_path_buf(),
                        reason: format!("invalid ld.so.cache ({reason}); ignored"),
                    })
                });
                match parsed {
                    Ok(c) => Some(c),
                    Err(e) => {
                        self.warnings.borrow_mut().push(e);
                        None
                    }
                }
            })
            .as_ref()
    }

    fn conf(&self) -> &ConfDirs {
        self.conf.get_or_init(|| {
            match ld_so_conf::read(self.files.root(), Path::new("/etc/ld.so.conf")) {
                Ok(mut c) => {
                    self.warnings.borrow_mut().append(&mut c.warnings);
                    c
                }
                Err(e) => {
                    self.warnings.borrow_mut().push(e);
                    ConfDirs::default()
                }
            }
        })
    }

    /// The closure of the file at `input`, a path inside the root.
    pub fn analyze(&self, input: &Path) -> Result<Closure> {
        let root = self.files.root();
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
        let elf = self.files.elf(&real, input)?;
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
        let origin = parent_of(&real.to_string_lossy());
        let main = Object {
            path: path.clone(),
            real,
            elf: elf.clone(),
            via: Via::Input,
            names: Vec::new(),
            loaded_by: None,
            deps: Vec::new(),
            hwcaps: None,
            origin,
        };
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
        let libc = libc::libc_of(&self.files, &elf);
        let mut loader = Loading {
            analyzer: self,
            libc,
            objects: vec![main],
            interpreter: None,
            abi: None,
            musl_system: Vec::new(),
            musl_interp: None,
        };
        loader.start()?;
        loader.run();
        let cycles = find_cycles(&loader.objects);
        Ok(Closure {
            input: path,
            libc: Some(libc),
            is_static: false,
            objects: loader.objects,
            interpreter: loader.interpreter,
            cycles,
        })
    }

    /// Where `dlopen(name)` called from object `caller` of `closure` would
    /// find `name`: an object already loaded, or the caller's search path
    /// (its RPATH chain, LD_LIBRARY_PATH, its RUNPATH, cache, defaults).
    pub fn locate(&self, closure: &Closure, caller: ObjectId, name: &str) -> Option<String> {
        let libc = closure.libc?;
        let mut loading = Loading {
            analyzer: self,
            libc,
            objects: closure.objects.clone(),
            interpreter: closure.interpreter.clone(),
            abi: None,
            musl_system: Vec::new(),
            musl_interp: None,
        };
        loading.prepare();
        if let Some(id) = loading.already_loaded(name) {
            return Some(loading.objects[id].path.clone());
        }
        match loading
            .search(caller.min(loading.objects.len() - 1), name)
            .outcome
        {
            Outcome::Found(c) => Some(c.path),
            _ => None,
        }
    }

    /// The default directories of the loader for programs like `main`.
    pub fn default_dirs(&self, main: &ElfFile) -> Vec<String> {
        Abi::new(&self.files, main, &self.options.hwcaps).defaults
    }

    /// What the file at a loader path in this root is ([`libc::loader_libc`]).
    pub fn loader_libc(&self, interp: &str) -> Option<Libc> {
        libc::loader_libc(&self.files, interp)
    }

    fn musl_system_path(&self, interp: &str, main: &ElfFile) -> Vec<String> {
        let arch = arch::musl_arch_from_interp(interp)
            .or_else(|| arch::musl_arch(main))
            .unwrap_or("unknown");
        if let Some(p) = self.musl_paths.borrow().get(interp) {
            return p.clone();
        }
        let path = musl::system_path(&self.files, interp, arch).unwrap_or_else(|e| {
            self.warnings.borrow_mut().push(e);
            Vec::new()
        });
        self.musl_paths
            .borrow_mut()
            .insert(interp.to_string(), path.clone());
        path
    }
}

/// The state of one program being loaded.
struct Loading<'a> {
    analyzer: &'a Analyzer,
    libc: Libc,
    objects: Vec<Object>,
    interpreter: Option<Interpreter>,
    abi: Option<Abi>,
    musl_system: Vec<String>,
    musl_interp: Option<String>,
}

impl Loading<'_> {
    /// Sets up the loader's view of the system for this program's ABI.
    fn prepare(&mut self) {
        let main = self.objects[0].elf.clone();
        let files = &self.analyzer.files;
        match self.libc {
            Libc::Glibc => self.abi = Some(Abi::new(files, &main, &self.analyzer.options.hwcaps)),
            Libc::Musl => {
                let interp = main
                    .interp
                    .clone()
                    .or_else(|| libc::musl_loader(files, &main));
                if let Some(i) = &interp {
                    self.musl_system = self.analyzer.musl_system_path(i, &main);
                }
                self.musl_interp = interp;
            }
        }
    }

    /// Maps the interpreter, as the kernel does before the loader runs.
    fn start(&mut self) -> Result<()> {
        self.prepare();
        let main = self.objects[0].elf.clone();
        let files = &self.analyzer.files;
        let Some(interp) = main.interp.clone() else {
            return Ok(());
        };
        let root = files.root();
        let status = match root.lookup(Path::new(&interp))? {
            Lookup::File(real) => match files.probe(&real) {
                crate::files::Probe::Elf(elf) if elf.compatible_with(&main) => {
                    let mut names = vec![interp.clone()];
                    names.extend(elf.soname.clone());
                    self.objects.push(Object {
                        path: interp.clone(),
                        real,
                        elf,
                        via: Via::Interpreter,
                        names,
                        loaded_by: None,
                        deps: Vec::new(),
                        hwcaps: None,
                        origin: parent_of(&interp),
                    });
                    InterpStatus::Loaded(self.objects.len() - 1)
                }
                crate::files::Probe::Elf(elf) => InterpStatus::Incompatible {
                    found: elf.describe(),
                },
                crate::files::Probe::NotElf => InterpStatus::Invalid {
                    reason: "invalid ELF header".into(),
                },
                crate::files::Probe::Malformed(r) | crate::files::Probe::Unreadable(r) => {
                    InterpStatus::Invalid { reason: r }
                }
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
    fn run(&mut self) {
        let mut next = 0;
        while next < self.objects.len() {
            let id = next;
            next += 1;
            if self.objects[id].via == Via::Interpreter {
                continue;
            }
            let needed = self.objects[id].elf.needed.clone();
            for name in needed {
                let resolution = self.resolve(id, &name);
                self.objects[id].deps.push(Dep { name, resolution });
            }
        }
    }

    fn resolve(&mut self, id: ObjectId, name: &str) -> Resolution {
        if let Some(found) = self.already_loaded(name) {
            return Resolution::Object(found);
        }
        let result = self.search(id, name);
        match result.outcome {
            Outcome::Found(c) => {
                if let Some(same) = self.objects.iter().position(|o| o.real == c.real) {
                    self.objects[same].names.push(name.to_string());
                    return Resolution::Object(same);
                }
                let mut names = vec![name.to_string()];
                if self.libc == Libc::Glibc {
                    names.extend(c.elf.soname.clone().filter(|s| s != name));
                }
                let origin = parent_of(&c.path);
                self.objects.push(Object {
                    path: c.path,
                    real: c.real,
                    elf: c.elf,
                    via: c.via,
                    names,
                    loaded_by: Some(id),
                    deps: Vec::new(),
                    hwcaps: c.hwcaps,
                    origin,
                });
                Resolution::Object(self.objects.len() - 1)
            }
            Outcome::NotFound => Resolution::Missing {
                tried: result.tried,
            },
            Outcome::Invalid { path, reason } => Resolution::Invalid {
                path,
                reason,
                tried: result.tried,
            },
        }
    }

    /// glibc: any object asked for under `name`, or whose SONAME or path is `name`.
    /// musl: the libc family is the loader; else an object found under that name.
    fn already_loaded(&self, name: &str) -> Option<ObjectId> {
        if self.libc == Libc::Musl && musl::is_loader_name(name) {
            return self.interpreter_object();
        }
        self.objects
            .iter()
            .position(|o| o.names.iter().any(|n| n == name) || o.path == name)
    }

    fn interpreter_object(&self) -> Option<ObjectId> {
        self.objects.iter().position(|o| o.via == Via::Interpreter)
    }

    fn search(&self, id: ObjectId, name: &str) -> SearchResult {
        let mut chain_ids = vec![id];
        while let Some(parent) = self.objects[*chain_ids.last().unwrap_or(&0)].loaded_by {
            if chain_ids.contains(&parent) {
                break;
            }
            chain_ids.push(parent);
        }
        if *chain_ids.last().unwrap_or(&0) != 0 {
            chain_ids.push(0);
        }
        let chain: Vec<Link<'_>> = chain_ids
            .iter()
            .map(|&i| Link {
                elf: &self.objects[i].elf,
                origin: &self.objects[i].origin,
            })
            .collect();
        let files = &self.analyzer.files;
        let want = &self.objects[0].elf;
        match self.libc {
            Libc::Musl => {
                if musl::is_loader_name(name) {
                    // The loader itself, which is not there.
                    let mut p = crate::search::Prober::new(files, want);
                    let path = self
                        .musl_interp
                        .clone()
                        .unwrap_or_else(|| "/lib/ld-musl.so.1".into());
                    p.note(&path, Via::Loader, TryResult::Absent);
                    return p.finish(None);
                }
                if name.contains('/') {
                    let mut p = crate::search::Prober::new(files, want);
                    let step = p.file(name, Via::Path, true);
                    return p.finish(Some(step));
                }
                musl::search(
                    files,
                    &self.analyzer.options.library_path,
                    &self.musl_system,
                    name,
                    &chain,
                )
            }
            Libc::Glibc => {
                let abi = self.abi.as_ref().expect("glibc loading has an ABI");
                let expanded = if name.contains('$') {
                    crate::search::expand_tokens(
                        name,
                        Some(&self.objects[id].origin),
                        Some(&abi.lib),
                        abi.platform,
                    )
                } else {
                    Some(name.to_string())
                };
                let mut p = crate::search::Prober::new(files, want);
                let Some(name) = expanded else {
                    p.note(name, Via::Path, TryResult::Absent);
                    return p.finish(None);
                };
                if name.contains('/') {
                    let step = p.file(&name, Via::Path, true);
                    return p.finish(Some(step));
                }
                let cache = self.analyzer.cache(want);
                let conf = if cache.is_none() {
                    self.analyzer.conf()
                } else {
                    &EMPTY_CONF
                };
                let sys = System {
                    files,
                    cache,
                    conf,
                    ld_library_path: &self.analyzer.options.library_path,
                };
                glibc::search(&sys, abi, &name, &chain)
            }
        }
    }
}

static EMPTY_CONF: ConfDirs = ConfDirs {
    dirs: Vec::new(),
    warnings: Vec::new(),
};

/// The directory part of a path, as `$ORIGIN` sees it.
fn parent_of(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => path[..i].to_string(),
        None => ".".to_string(),
    }
}

/// Strongly connected sets of more than one object (or an object that needs itself).
fn find_cycles(objects: &[Object]) -> Vec<Vec<ObjectId>> {
    struct Tarjan<'a> {
        objects: &'a [Object],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<ObjectId>,
        next: usize,
        out: Vec<Vec<ObjectId>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: ObjectId) {
            self.index[v] = Some(self.next);
            self.low[v] = self.next;
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            let targets: Vec<ObjectId> = self.objects[v]
                .deps
                .iter()
                .filter_map(|d| match d.resolution {
                    Resolution::Object(t) => Some(t),
                    _ => None,
                })
                .collect();
            for w in targets {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut set = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    set.push(w);
                    if w == v {
                        break;
                    }
                }
                let self_loop = self.objects[v]
                    .deps
                    .iter()
                    .any(|d| matches!(d.resolution, Resolution::Object(t) if t == v));
                if set.len() > 1 || self_loop {
                    set.sort_unstable();
                    self.out.push(set);
                }
            }
        }
    }
    let n = objects.len();
    let mut t = Tarjan {
        objects,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            t.visit(v);
        }
    }
    t.out.sort();
    t.out
}
