//! The closure graph's data: objects keyed by their place in load order, the
//! DT_NEEDED edges between them, and where each edge led (an object, or a
//! missing or invalid library: nodes of the graph, not errors). Writers read
//! these types and nothing else of the closure stage.

use std::path::PathBuf;
use std::sync::Arc;

use crate::elf::ElfFile;
use crate::profile::Libc;
use crate::search::{Hwcaps, Tried, TryResult, Via};

/// Index of an object in [`Closure::objects`].
pub type ObjectId = usize;

/// One mapped object.
#[derive(Debug, Clone)]
pub struct Object {
    /// The path as the loader opens it (for an input: as named).
    pub path: String,
    /// Its canonical path inside the root.
    pub real: PathBuf,
    /// Its parsed ELF header and dynamic section.
    pub elf: Arc<ElfFile>,
    /// How the loader found it.
    pub via: Via,
    /// The names it was asked for by.
    pub names: Vec<String>,
    /// The object whose DT_NEEDED loaded it (the program for the first level).
    pub loaded_by: Option<ObjectId>,
    /// Its DT_NEEDED entries, in order, with where each led.
    pub deps: Vec<Dep>,
    /// The glibc-hwcaps (or legacy hwcap) subdirectory it was found in, if any.
    pub hwcaps: Option<Hwcaps>,
    /// For a relative `path` (found through a relative or empty element of
    /// a search path): the directory it was resolved against.
    pub relative_to: Option<String>,
    pub(super) origin: String,
}

impl Object {
    /// The path the loader opens, made absolute: a relative one (found
    /// through a relative search path element) joined to the directory it
    /// was resolved against.
    pub fn absolute_path(&self) -> String {
        match &self.relative_to {
            Some(dir) if !self.path.starts_with('/') => {
                format!("{}/{}", dir.trim_end_matches('/'), self.path)
            }
            _ => self.path.clone(),
        }
    }

    /// A newly mapped object, loaded by no one, with no names and no
    /// dependency resolved yet; its `$ORIGIN` is the directory of `file`
    /// (the path the loader opened, or for the program its real path).
    pub(super) fn mapped(
        path: String,
        real: PathBuf,
        elf: Arc<ElfFile>,
        via: Via,
        file: &str,
    ) -> Object {
        let origin = parent_of(file);
        Object {
            path,
            real,
            elf,
            via,
            names: Vec::new(),
            loaded_by: None,
            deps: Vec::new(),
            hwcaps: None,
            relative_to: None,
            origin,
        }
    }

    /// The directory `$ORIGIN` stands for in this object's search paths.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// The directory part of a path, as `$ORIGIN` sees it.
fn parent_of(path: &str) -> String {
    // A byte search: '/' is ASCII, and `rfind(char)` costs more here.
    match path.bytes().rposition(|b| b == b'/') {
        Some(0) => "/".to_string(),
        Some(i) => path[..i].to_string(),
        None => ".".to_string(),
    }
}

/// One DT_NEEDED entry and where it led.
#[derive(Debug, Clone)]
pub struct Dep {
    /// The name as DT_NEEDED gives it.
    pub name: String,
    /// Where the loader found it, or why not.
    pub resolution: Resolution,
}

/// Where a DT_NEEDED entry led.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Loaded, or already loaded: the object.
    Object(ObjectId),
    /// Found nowhere usable; every path tried.
    Missing {
        /// Every path tried, in order.
        tried: Vec<Tried>,
    },
    /// The loader stops at an unusable file.
    Invalid {
        /// The file it stops at.
        path: String,
        /// Why that file is unusable.
        reason: String,
        /// Every path tried, in order, that one included.
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
    /// PT_INTERP as written.
    pub path: String,
    /// What the kernel finds there.
    pub status: InterpStatus,
}

/// What is at the interpreter's path.
#[derive(Debug, Clone)]
pub enum InterpStatus {
    /// A usable loader: this object.
    Loaded(ObjectId),
    /// Nothing.
    Missing,
    /// An ELF file of another architecture, described.
    Incompatible {
        /// What was found there, as [`ElfFile::describe`] says.
        found: String,
    },
    /// A file that is not a usable ELF file.
    Invalid {
        /// Why it is unusable.
        reason: String,
    },
}

/// Everything one input needs to start.
#[derive(Debug, Clone)]
pub struct Closure {
    /// The input as named (a path inside the root).
    pub input: String,
    /// Whose loader's rules applied: the program's loader's, or for a
    /// library the libc it (or else the first library it loads that names
    /// one) needs. None for a static file, and for a library whose closure
    /// names no libc (glibc's rules then apply).
    pub libc: Option<Libc>,
    /// No interpreter and nothing to load.
    pub is_static: bool,
    /// Load order; `objects[0]` is the input.
    pub objects: Vec<Object>,
    /// The program's PT_INTERP, when it has one.
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
