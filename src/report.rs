//! The closures of every input of one run, and what went wrong with any.
//!
//! A directory input is expanded here into the ELF files under it; files
//! that are not ELF are skipped while walking, but a non-ELF file named
//! explicitly is an error.

use std::path::{Path, PathBuf};

use crate::closure::{Analyzer, Closure, Options};
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
        let mut seen = rustc_hash::FxHashSet::default();
        let mut out = Vec::new();
        for c in self.closures() {
            let interp = c.interpreter_id();
            let order = interp
                .into_iter()
                .chain((1..c.objects.len()).filter(|&i| Some(i) != interp));
            for id in order {
                let p = c.objects[id].path.as_str();
                if seen.insert(p) {
                    out.push(p.to_string());
                }
            }
        }
        out
    }
}

/// Analyses `inputs` (paths inside `root`; directories are walked).
pub fn analyze(root: Root, inputs: &[PathBuf], options: Options) -> Report {
    let root_dir = root.dir().to_path_buf();
    let analyzer = Analyzer::new(Files::new(root), options);
    let mut entries = Vec::new();
    for input in inputs {
        let input = analyzer.files().root().absolute(input);
        match analyzer.files().root().lookup(&input) {
            Ok(Lookup::Dir(real)) => walk(&analyzer, &input, &real, &mut entries),
            _ => entries.push(Entry {
                result: analyzer.analyze(&input),
                input,
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
        });
    }
}

fn startable(f: &ElfFile) -> bool {
    matches!(f.kind, Kind::Exec | Kind::Dyn)
}
