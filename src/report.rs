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
    let root_dir = root.dir().to_path_buf();
    let fresh = root.fresh();
    let analyzer = Analyzer::new(Files::new(root), options.clone());
    let jobs = expand(&analyzer, inputs);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(jobs.len() / MIN_JOBS_PER_THREAD)
        .max(1);
    let mut entries = Vec::with_capacity(jobs.len());
    let mut warnings = Vec::new();
    match fresh {
        Some(_) if threads > 1 => {
            let mut parts = split(jobs, threads).into_iter();
            let first = parts.next().unwrap_or_default();
            std::thread::scope(|scope| {
                let others: Vec<_> = parts
                    .map(|part| {
                        let root = analyzer.files().root().fresh();
                        let options = options.clone();
                        scope.spawn(move || {
                            let a = Analyzer::new(Files::new(root?), options);
                            let done = run_jobs(&a, part);
                            Some((done, a.take_warnings()))
                        })
                    })
                    .collect();
                entries.extend(run_jobs(&analyzer, first));
                warnings.extend(analyzer.take_warnings());
                for handle in others {
                    if let Ok(Some((done, w))) = handle.join() {
                        entries.extend(done);
                        warnings.extend(w);
                    }
                }
            });
        }
        _ => {
            entries = run_jobs(&analyzer, jobs);
            warnings = analyzer.take_warnings();
        }
    }
    // Every analyser meets the same root: its warnings once each.
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.to_string()));
    Report {
        root: root_dir,
        entries,
        warnings,
    }
}

/// Below this many inputs for each thread, one thread does it all.
const MIN_JOBS_PER_THREAD: usize = 64;
/// The most threads one analysis uses.
const MAX_THREADS: usize = 4;

/// One input to analyse, or why an input gave none.
enum Job {
    Analyze(PathBuf),
    Failed(Entry),
}

/// The inputs with directories walked (ELF files only, as the loader would
/// start them), in order.
fn expand(analyzer: &Analyzer, inputs: &[PathBuf]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for input in inputs {
        let input = analyzer.files().root().absolute(input);
        match analyzer.files().root().lookup(&input) {
            Ok(Lookup::Dir(real)) => walk(analyzer, &input, &real, &mut jobs),
            _ => jobs.push(Job::Analyze(input)),
        }
    }
    jobs
}

/// `jobs` cut into `n` runs of consecutive jobs, in order.
fn split(jobs: Vec<Job>, n: usize) -> Vec<Vec<Job>> {
    let size = jobs.len().div_ceil(n).max(1);
    let mut parts: Vec<Vec<Job>> = Vec::with_capacity(n);
    for job in jobs {
        match parts.last_mut() {
            Some(part) if part.len() < size => part.push(job),
            _ => parts.push(vec![job]),
        }
    }
    parts
}

/// The closures of `jobs`, in order (an analysis is independent of the
/// others, so any analyser of the same root gives the same result).
fn run_jobs(analyzer: &Analyzer, jobs: Vec<Job>) -> Vec<Entry> {
    jobs.into_iter()
        .map(|job| match job {
            Job::Analyze(input) => Entry {
                result: analyzer.analyze(&input),
                input,
            },
            Job::Failed(entry) => entry,
        })
        .collect()
}

fn walk(analyzer: &Analyzer, shown: &Path, real: &Path, jobs: &mut Vec<Job>) {
    let files = match analyzer.files().root().walk_files(real) {
        Ok(f) => f,
        Err(e) => {
            jobs.push(Job::Failed(Entry {
                input: shown.to_path_buf(),
                result: Err(e),
            }));
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
        jobs.push(Job::Analyze(shown.join(rel)));
    }
}

fn startable(f: &ElfFile) -> bool {
    matches!(f.kind, Kind::Exec | Kind::Dyn)
}
