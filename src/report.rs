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
use crate::files::{Files, Probe, read_probe};
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
    /// directory) is a warning, and that input shows none. `max_tree` caps
    /// a directory taken whole, as in a bundle. Returns what discovery left
    /// out, each thing once.
    pub fn discover(
        &mut self,
        analyzer: &Analyzer,
        max_tree: Option<u64>,
    ) -> Vec<crate::discover::LeftOut> {
        let db = crate::discover::Database::default();
        let mut left_out: Vec<crate::discover::LeftOut> = Vec::new();
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
                max_tree,
            );
            match found {
                Ok(found) => {
                    entry.runtime = found.found;
                    for l in found.left_out {
                        if !left_out.contains(&l) {
                            left_out.push(l);
                        }
                    }
                }
                Err(e) => self.warnings.push(e),
            }
        }
        left_out
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

/// From this many inputs on, a second thread reads and parses them ahead
/// of the analysis ([`prefetch`]), and another frees the report; for fewer,
/// starting a thread costs more than it saves.
const MANY_INPUTS: usize = 4;

impl Drop for Report {
    /// A report of many closures is freed on a thread of its own: tens of
    /// thousands of small allocations, which the caller (about to print
    /// and exit, or to go on) need not wait for.
    fn drop(&mut self) {
        if self.entries.len() >= MANY_INPUTS {
            let entries = std::mem::take(&mut self.entries);
            // Without a thread (none could be started), freed here.
            let _ = std::thread::Builder::new().spawn(move || drop(entries));
        }
    }
}

/// Analyses `inputs` (paths inside `root`; directories are walked).
pub fn analyze(root: Root, inputs: &[PathBuf], options: Options) -> Report {
    analyze_in(&Analyzer::new(Files::new(root), options), inputs)
}

/// [`analyze`] with an analyser the caller keeps (to look further, as
/// [`Report::discover`] does).
pub fn analyze_in(analyzer: &Analyzer, inputs: &[PathBuf]) -> Report {
    let root = analyzer.files().root();
    let root_dir = root.dir().to_path_buf();
    let twin = root.twin().filter(|_| inputs.len() >= MANY_INPUTS);
    let mut entries = Vec::new();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        // Without the thread (too few inputs, layers, or none could be
        // started), `tx` is dropped here and everything is read below.
        if let Some(twin) = twin {
            let _ = std::thread::Builder::new()
                .spawn_scoped(scope, move || prefetch(twin.open(), inputs, tx));
        } else {
            drop(tx);
        }
        for input in inputs {
            // What the other thread found, in the same order; nothing when
            // there is no such thread or it found an error (found again here).
            if let Ok(Some(found)) = rx.recv() {
                found.hand_to(analyzer.files());
            }
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
    });
    Report {
        root: root_dir,
        entries,
        warnings: analyzer.take_warnings(),
    }
}

/// What one input path is and, for a file, what reading it as ELF gave.
struct Prefetched {
    path: PathBuf,
    lookup: Lookup,
    probe: Option<(PathBuf, Probe)>,
}

impl Prefetched {
    /// Gives the analysing thread's root and files what was found.
    fn hand_to(self, files: &Files) {
        if let Some((real, probe)) = self.probe {
            files.remember(&real, probe);
        }
        files.root().remember_lookup(self.path, self.lookup);
    }
}

/// Looks up and reads each input, in order, in `root` (a twin of the
/// analyser's): the system calls and parsing of a thousand programs run on
/// the second core while the first resolves closures. Only inputs are read
/// here, so nothing is read twice; the results are those the analysing
/// thread would have found itself, so the report is the same.
fn prefetch(root: Root, inputs: &[PathBuf], tx: std::sync::mpsc::Sender<Option<Prefetched>>) {
    for input in inputs {
        let path = root.absolute(input);
        let found = root.lookup(&path).ok().map(|lookup| {
            let probe = match &lookup {
                Lookup::File(real) => Some((real.clone(), read_probe(&root, real))),
                _ => None,
            };
            Prefetched {
                path,
                lookup,
                probe,
            }
        });
        if tx.send(found).is_err() {
            return;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a report says of each input, as text.
    fn summary(r: &Report) -> Vec<String> {
        r.entries
            .iter()
            .map(|e| match &e.result {
                Ok(c) => {
                    let paths: Vec<&str> = c.objects.iter().map(|o| o.path.as_str()).collect();
                    format!("{}: {paths:?}", e.input.display())
                }
                Err(err) => format!("{}: {err}", e.input.display()),
            })
            .collect()
    }

    #[test]
    fn reading_ahead_on_a_second_thread_changes_nothing() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let ls = std::fs::read("/usr/bin/ls").unwrap();
        for name in ["a", "b", "c"] {
            std::fs::write(bin.join(name), &ls).unwrap();
        }
        std::fs::write(bin.join("script"), b"#!/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("a", bin.join("link")).unwrap();
        // Files, a link, a directory, a non-ELF file and nothing, in an
        // order the second thread must keep.
        let inputs: Vec<PathBuf> = [
            "/bin/a",
            "/bin/link",
            "/bin",
            "/bin/script",
            "/absent",
            "/bin/c",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert!(inputs.len() >= MANY_INPUTS);
        let root = || Root::open(t.path()).unwrap();
        let together = analyze(root(), &inputs, Options::default());
        let mut one_by_one = Vec::new();
        for input in &inputs {
            let alone = analyze(root(), std::slice::from_ref(input), Options::default());
            one_by_one.extend(summary(&alone));
        }
        assert_eq!(summary(&together), one_by_one);
        assert!(one_by_one.len() > inputs.len(), "{one_by_one:?}");
    }
}
