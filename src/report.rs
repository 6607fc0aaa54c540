//! The closures of every input of one run, and what went wrong with any.
//!
//! A directory input is expanded here into the ELF files under it; files
//! that are not ELF are skipped while walking, but a non-ELF file named
//! explicitly is an error.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::closure::{Analyzer, Closure, Options};
use crate::discover::Found;
use crate::elf::{self, ElfFile, Kind};
use crate::error::{Error, Result};
use crate::files::Files;
use crate::root::{Lookup, Root};

/// One analysed input: its closure, or why it has none.
#[derive(Debug)]
pub struct Entry {
    /// The input as a path inside the root (directories expanded).
    pub input: PathBuf,
    /// Its closure, or the error that stopped the analysis.
    pub result: Result<Closure>,
    /// The run-time files discovery finds for it, when asked (`--runtime`).
    pub runtime: Vec<Found>,
}

/// Everything one run found.
#[derive(Debug)]
pub struct Report {
    /// The root directory on the host (`/` for the host itself).
    pub root: PathBuf,
    /// One per input, in the order given.
    pub entries: Vec<Entry>,
    /// Problems with the root's configuration (include cycles, a bad cache).
    pub warnings: Vec<Error>,
}

/// How a run ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Everything resolved: exit 0.
    Clean,
    /// Something is missing or incompatible: exit 1.
    Findings,
    /// An input could not be read or parsed: exit 2.
    Errors,
}

impl Status {
    /// The process exit status for this outcome.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Clean => 0,
            Status::Findings => 1,
            Status::Errors => 2,
        }
    }
}

impl Report {
    /// Finds the run-time files of each input's closure
    /// ([`discover`](crate::discover)), as a bundle of that input alone
    /// would hold them. What stops it for one input (an unreadable
    /// directory) is a warning, and that input shows none.
    pub fn discover(&mut self, analyzer: &Analyzer) {
        let db = crate::discover::Database::default();
        for entry in &mut self.entries {
            let Ok(c) = &entry.result else { continue };
            let known: HashSet<String> = c
                .objects
                .iter()
                .flat_map(|o| [o.absolute_path(), o.real.to_string_lossy().into_owned()])
                .collect();
            let found = crate::discover::discover(
                analyzer,
                std::slice::from_ref(c),
                &|p| known.contains(p),
                &db,
            );
            match found {
                Ok(found) => entry.runtime = found.found,
                Err(e) => self.warnings.push(e),
            }
        }
    }

    /// The worst outcome of all inputs.
    pub fn status(&self) -> Status {
        self.entries
            .iter()
            .map(|e| match &e.result {
                Err(_) => Status::Errors,
                Ok(c) if !c.is_complete() => Status::Findings,
                Ok(_) => Status::Clean,
            })
            .max()
            .unwrap_or(Status::Clean)
    }

    /// The successful closures, in input order.
    pub fn closures(&self) -> impl Iterator<Item = &Closure> {
        self.entries.iter().filter_map(|e| e.result.as_ref().ok())
    }

    /// The interpreter and every resolved library of every input, each path
    /// once, as the loader opens it: the form for scripts and Makefiles.
    pub fn paths(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for c in self.closures() {
            let interp = c.interpreter_id();
            let order = interp
                .into_iter()
                .chain((1..c.objects.len()).filter(|&i| Some(i) != interp));
            for id in order {
                let p = &c.objects[id].path;
                if seen.insert(p.clone()) {
                    out.push(p.clone());
                }
            }
        }
        out
    }
}

/// Analyses `inputs` (paths inside `root`; directories are walked).
pub fn analyze(root: Root, inputs: &[PathBuf], options: Options) -> Report {
    analyze_in(&Analyzer::new(Files::new(root), options), inputs)
}

/// [`analyze`] with an analyser the caller keeps (to look further, as
/// [`Report::discover`] does).
pub fn analyze_in(analyzer: &Analyzer, inputs: &[PathBuf]) -> Report {
    let root_dir = analyzer.files().root().dir().to_path_buf();
    let mut entries = Vec::new();
    for input in inputs {
        let input = analyzer.files().root().absolute(input);
        match analyzer.files().root().lookup(&input) {
            Ok(Lookup::Dir(real)) => walk(analyzer, &input, &real, &mut entries),
            _ => entries.push(Entry {
                result: analyzer.analyze(&input),
                input,
                runtime: Vec::new(),
            }),
        }
    }
    Report {
        root: root_dir,
        entries,
        warnings: analyzer.take_warnings(),
    }
}

fn walk(analyzer: &Analyzer, shown: &Path, real: &Path, entries: &mut Vec<Entry>) {
    let files = match analyzer.files().root().walk_files(real) {
        Ok(f) => f,
        Err(e) => {
            entries.push(Entry {
                input: shown.to_path_buf(),
                result: Err(e),
                runtime: Vec::new(),
            });
            return;
        }
    };
    for file in files {
        let is_elf = analyzer
            .files()
            .root()
            .head(&file, 4)
            .map(|h| elf::has_elf_magic(&h))
            .unwrap_or(false);
        if !is_elf {
            continue;
        }
        let startable = match analyzer.files().probe(&file) {
            crate::files::Probe::Elf(f) => startable(&f),
            _ => true,
        };
        if !startable {
            continue;
        }
        let rel = file.strip_prefix(real).unwrap_or(&file);
        let input = shown.join(rel);
        entries.push(Entry {
            result: analyzer.analyze(&input),
            input,
            runtime: Vec::new(),
        });
    }
}

fn startable(f: &ElfFile) -> bool {
    matches!(f.kind, Kind::Exec | Kind::Dyn)
}
