//! `elfroot doctor`: why a program will not start in a target root, found
//! before it runs. Each problem is a [`Finding`] with a stable [`Code`], a
//! severity, the message the user would otherwise see at run time, the cause
//! and a fix. The checks follow the order in which the kernel and the loader
//! fail: the file, its `#!` line, its architecture, its interpreter, its
//! libraries, their symbol versions, then its symbols; run-time lookups last.
//!
//! - `finding`: the [`Finding`], [`Code`] and [`Severity`] types;
//! - `kernel`: the checks before any loader runs (file, shebang, format and
//!   architecture, static);
//! - `loader`: the loader's (interpreter, libraries, versions, symbols);
//! - `runtime`: lookups once running (NSS modules, user database, what the
//!   imports open, the run-time files discovery finds for a host program);
//! - [`target`]: what the target root offers;
//! - this file: [`check`], which runs them in that order, in one place.
//!
//! The stage uses the closure graph, `profile` and `discover`; never
//! `bundle` or `output`.

mod finding;
mod kernel;
mod loader;
mod run;
mod runtime;
pub mod target;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::closure::{Analyzer, Closure};
use crate::elf::Symbols;
use crate::error::Result;
use crate::profile::Libc;
pub use finding::{Code, Finding, Severity};
use kernel::Source;
pub use run::{DoctorConfig, run};
pub use target::Target;

/// The verdict on one program.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The program's path in the target.
    pub file: String,
    /// False when an error finding says it would not start.
    pub starts: bool,
    /// Whose loader would load it (None when that is not known: static,
    /// missing, not ELF).
    pub libc: Option<Libc>,
    /// Its problems, in the order the checks found them.
    pub findings: Vec<Finding>,
}

/// Where the program is.
#[derive(Debug, Clone)]
pub enum Placement {
    /// A path inside the target.
    InRoot,
    /// A host file, placed at this path in the target (default: its own path).
    Host {
        /// Where it goes in the target.
        at: Option<PathBuf>,
    },
}

/// How deep a chain of `#!` interpreters is followed.
const MAX_SCRIPT_DEPTH: u32 = 4;

/// Checks one program.
pub fn check(
    analyzer: &Analyzer,
    target: &Target,
    file: &Path,
    placement: &Placement,
) -> Result<Verdict> {
    let mut v = Checker {
        analyzer,
        target,
        findings: Vec::new(),
        libc: None,
    };
    let shown = match placement {
        Placement::InRoot => file.to_path_buf(),
        Placement::Host { at } => at.clone().unwrap_or_else(|| file.to_path_buf()),
    };
    v.program(file, &shown, placement, 0)?;
    let starts = !v.findings.iter().any(|f| f.severity == Severity::Error);
    Ok(Verdict {
        file: shown.to_string_lossy().into_owned(),
        starts,
        libc: v.libc,
        findings: v.findings,
    })
}

/// The checks of one program, and what they found so far.
struct Checker<'a> {
    analyzer: &'a Analyzer,
    target: &'a Target,
    findings: Vec<Finding>,
    libc: Option<Libc>,
}

impl Checker<'_> {
    /// The kernel's checks, then (for a dynamic ELF program) the loader's:
    /// the first finding that stops the start ends them, as it ends the start.
    fn program(
        &mut self,
        file: &Path,
        shown: &Path,
        placement: &Placement,
        depth: u32,
    ) -> Result<()> {
        let s = shown.to_string_lossy().into_owned();
        let root = self.analyzer.files().root();
        let mut source = Source::open(root, file, placement)?;
        if let Some(f) = kernel::file(&s, &source)? {
            self.findings.push(f);
            return Ok(());
        }
        if let Some(line) = source.shebang()? {
            let interp = kernel::shebang_interpreter(&line);
            if let Some(f) = kernel::shebang(&s, &interp, root) {
                self.findings.push(f);
                return Ok(());
            }
            if depth > MAX_SCRIPT_DEPTH {
                return Ok(());
            }
            let path = PathBuf::from(&interp);
            return self.program(&path, &path, &Placement::InRoot, depth + 1);
        }
        let Some(elf) = source.elf(self.analyzer.files(), file)? else {
            self.findings.push(kernel::not_elf(&s));
            return Ok(());
        };
        if let Some(f) = kernel::architecture(&s, &elf, self.target, root) {
            self.findings.push(f);
            return Ok(());
        }
        if elf.is_static() {
            let nss = source.mentions_nsswitch()?;
            self.findings.push(kernel::static_program(&s, nss));
            return Ok(());
        }
        let closure = match placement {
            Placement::InRoot => self.analyzer.analyze(file)?,
            Placement::Host { .. } => self.analyzer.analyze_placed(elf.clone(), shown)?,
        };
        self.libc = closure.libc;
        let main_symbols = source.symbols(self.analyzer.files(), &elf, shown);
        self.dynamic(&s, &closure, main_symbols);
        // A host program: what discovery finds for it on the host is what
        // it opens once running. (In the target itself, whatever discovery
        // finds is there.)
        let starts = !self.findings.iter().any(|f| f.severity == Severity::Error);
        if matches!(placement, Placement::Host { .. }) && starts && !root.is_host() {
            // What cannot be read on the host says nothing about the target.
            let db = &self.target.host_packages;
            let found = runtime::discovered(&s, file, root, db).unwrap_or_default();
            self.findings.extend(found);
        }
        Ok(())
    }

    /// The loader's checks on the closure of program `s`, then the run-time
    /// ones; `main_symbols` are the program's own.
    fn dynamic(&mut self, s: &str, c: &Closure, main_symbols: Result<Arc<Symbols>>) {
        let libc = c.libc.unwrap_or(Libc::Glibc);
        if let Some(f) = loader::interpreter(s, c, self.target) {
            self.findings.push(f);
            return;
        }
        let files = self.analyzer.files();
        let mut explained = Vec::new();
        if libc == Libc::Glibc {
            let unsearched = self.analyzer.unsearched_conf_dirs(&c.objects[0].elf);
            if let Some((f, names)) = loader::ld_cache(s, c, unsearched, files.root()) {
                self.findings.push(f);
                explained = names;
            }
        }
        let missing = loader::libraries(s, c, libc, &explained);
        if !missing.is_empty() || !explained.is_empty() {
            self.findings.extend(missing);
            return;
        }
        let read: Vec<Result<Arc<Symbols>>> = std::iter::once(main_symbols)
            .chain(c.objects.iter().skip(1).map(|o| files.symbols(&o.real)))
            .collect();
        let damaged: Vec<Finding> = read
            .iter()
            .zip(&c.objects)
            .filter_map(|(r, o)| r.as_ref().err().map(|e| loader::damaged(s, &o.path, e)))
            .collect();
        if !damaged.is_empty() {
            self.findings.extend(damaged);
            return;
        }
        let symbols: Vec<Arc<Symbols>> = read.into_iter().flatten().collect();
        if libc == Libc::Glibc {
            let versions = loader::versions(s, c, &symbols);
            if !versions.is_empty() {
                self.findings.extend(versions);
                return;
            }
        }
        self.findings
            .extend(loader::undefined(s, c, &symbols, libc));
        if libc == Libc::Glibc {
            let nss = runtime::nss(s, c, self.analyzer, self.target);
            self.findings.extend(nss);
        }
        self.findings
            .extend(runtime::passwd(s, &symbols[0], self.target));
        let root = self.analyzer.files().root();
        let gconv = crate::profile::extras::gconv_dirs(&c.objects[0].elf)
            .iter()
            .any(|d| matches!(root.resolve_dir(Path::new(d)), Ok(Some(_))));
        let glibc = libc == Libc::Glibc;
        self.findings
            .extend(runtime::imports(s, &symbols, glibc, gconv, root));
    }
}
