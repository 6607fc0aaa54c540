//! `elfroot packages` as one call: the closure of each FILE (the
//! interpreter and every resolved library, as `list --paths` prints them),
//! the package that owns each of those files, and the packages as a list,
//! an apt, apk or dnf command line, or JSON (docs/json.md).
//!
//! Uses `config` (the root), `closure` and `report` (the analysis) and the
//! database reader of this module.

use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::{Package, Packages};
use crate::closure::{Analyzer, InterpStatus};
use crate::config::RootConfig;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::outcome::{Outcome, Status};
use crate::report::{Entry, Report};
use crate::root::{Lookup, Root};

/// Bumped whenever a field of the JSON document changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// How many unowned files are named on standard error (compiled Python
/// caches alone are hundreds).
const MAX_UNOWNED_SHOWN: usize = 20;

/// How the packages are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `name version arch`, one package a line.
    List,
    /// One `apt-get install -y --no-install-recommends name=version ...` line.
    Apt,
    /// One `apk add name=version ...` line.
    Apk,
    /// One `dnf install -y name-[epoch:]version-release ...` line (the
    /// NEVRA form dnf, microdnf and yum all take; `.arch` added when the root
    /// has the package for several architectures).
    Dnf,
    /// The JSON document (docs/json.md).
    Json,
}

/// What `packages` is asked.
#[derive(Debug, Clone)]
pub struct PackagesConfig {
    /// The root the files and the package database are in.
    pub root: RootConfig,
    /// ELF files inside the root.
    pub files: Vec<PathBuf>,
    /// How to print the packages.
    pub format: Format,
    /// Also the run-time files `bundle` would bring (its discovery and
    /// extras: NSS modules, paths the libraries name...).
    pub runtime: bool,
}

/// One file of the closures and its owner.
struct Owned<'p> {
    /// As the loader opens it.
    path: String,
    /// Its canonical path inside the root.
    real: PathBuf,
    package: Option<&'p Package>,
}

/// Finds the packages that own the closures of the files and writes them to
/// `out`. Clean when every file resolved and has an owner; findings when a
/// library is missing or a file belongs to no package; errors when an input
/// could not be analysed.
pub fn run(config: &PackagesConfig, out: &mut dyn Write) -> Result<Outcome> {
    let (root, options) = config.root.open()?;
    let analyzer = Analyzer::new(Files::new(root), options);
    let root = analyzer.files().root();
    let entries = config
        .files
        .iter()
        .map(|f| {
            let input = root.absolute(f);
            Entry {
                result: analyzer.analyze(&input),
                input,
                runtime: Vec::new(),
            }
        })
        .collect();
    let report = Report {
        root: root.dir().to_path_buf(),
        entries,
        warnings: analyzer.take_warnings(),
    };
    let packages = Packages::read(root)?;
    let mut paths = report.paths();
    if config.runtime {
        let inputs: Vec<PathBuf> = report.entries.iter().map(|e| e.input.clone()).collect();
        for p in runtime_files(&analyzer, &inputs)? {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    let owned: Vec<Owned> = paths
        .into_iter()
        .map(|path| Owned {
            real: match root.lookup(path.as_ref()) {
                Ok(Lookup::File(p)) => p,
                _ => PathBuf::from(&path),
            },
            package: packages.owner(root, path.as_ref()),
            path,
        })
        .collect();
    let mut outcome = diagnose(&report, &packages, &owned);
    let written = match config.format {
        Format::Json => write_json(&report, root, &owned, &mut outcome, out),
        f => write_text(f, &packages, &owning(&owned), out),
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(crate::archive::STDOUT_PATH, e))?;
    Ok(outcome)
}

/// The regular files a bundle of `inputs` would copy from the root besides
/// their closures: what `bundle`'s discovery and extras find, by the same
/// planner (nothing generated, no package metadata).
fn runtime_files(analyzer: &Analyzer, inputs: &[PathBuf]) -> Result<Vec<String>> {
    use crate::bundle::layout::ItemKind;
    let options = crate::bundle::BundleOptions {
        passwd: false,
        tmp: false,
        package_db: false,
        copyright: false,
        ..Default::default()
    };
    let plan = crate::bundle::plan(analyzer, inputs, &options)?;
    let root = analyzer.files().root();
    Ok(plan
        .layout
        .items()
        .filter_map(|(path, item)| match &item.kind {
            ItemKind::File(host) => Some(
                root.inner_path(host)
                    .map_or_else(|| path.to_string(), |p| p.display().to_string()),
            ),
            _ => None,
        })
        .collect())
}

/// The status, and a line on standard error for each failed input,
/// unresolved library, unowned file and database problem.
fn diagnose(report: &Report, packages: &Packages, owned: &[Owned]) -> Outcome {
    let mut outcome = Outcome::new(report.status());
    for entry in &report.entries {
        match &entry.result {
            Err(e) => outcome.problem(e.to_string()),
            Ok(c) => {
                if let Some(i) = c.interpreter.as_ref()
                    && !matches!(i.status, InterpStatus::Loaded(_))
                {
                    outcome.problem(format!("{}: interpreter {} not found", c.input, i.path));
                }
                for (o, d) in c.problems() {
                    let why = d.resolution.problem().unwrap_or("missing");
                    outcome.problem(format!(
                        "{}: {} {why} (needed by {})",
                        c.input, d.name, o.path
                    ));
                }
            }
        }
    }
    for w in report.warnings.iter().chain(packages.warnings()) {
        outcome.warning(w.to_string());
    }
    if packages.is_empty() {
        outcome.warning(format!(
            "{}: no package database (dpkg, apk or rpm) found",
            report.root.display()
        ));
    }
    let unowned: Vec<&Owned> = owned.iter().filter(|o| o.package.is_none()).collect();
    // Without a database every file is unowned: one warning says it all.
    if !packages.is_empty() {
        for o in unowned.iter().take(MAX_UNOWNED_SHOWN) {
            outcome.warning(format!("{}: owned by no package", o.path));
        }
        if unowned.len() > MAX_UNOWNED_SHOWN {
            let more = unowned.len() - MAX_UNOWNED_SHOWN;
            outcome.warning(format!(
                "{more} more files owned by no package (--json lists them)"
            ));
        }
    }
    if !unowned.is_empty() {
        outcome.status = outcome.status.max(Status::Findings);
    }
    outcome
}

/// The packages that own any of the files, once each, by name then architecture.
fn owning<'p>(owned: &[Owned<'p>]) -> Vec<&'p Package> {
    let mut all: Vec<&Package> = owned.iter().filter_map(|o| o.package).collect();
    all.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
    all.dedup_by(|a, b| std::ptr::eq(*a, *b));
    all
}

fn write_text(
    format: Format,
    packages: &Packages,
    owning: &[&Package],
    out: &mut dyn Write,
) -> io::Result<()> {
    // apt and apk take `name=version`; `name:arch=version` when the root
    // has the package for several architectures.
    let pinned = || {
        owning.iter().map(|p| match packages.is_ambiguous(&p.name) {
            true => format!("{}={}", p.qualified_name(), p.version),
            false => format!("{}={}", p.name, p.version),
        })
    };
    let command = match format {
        Format::Apt => "apt-get install -y --no-install-recommends",
        Format::Apk => "apk add",
        Format::Dnf if !owning.is_empty() => {
            let specs: Vec<String> = owning
                .iter()
                .map(|p| match packages.is_ambiguous(&p.name) {
                    true => format!("{}-{}.{}", p.name, p.version, p.arch),
                    false => format!("{}-{}", p.name, p.version),
                })
                .collect();
            return writeln!(out, "dnf install -y {}", specs.join(" "));
        }
        Format::Dnf => return Ok(()),
        _ => {
            for p in owning {
                let arch = if p.arch.is_empty() { "-" } else { &p.arch };
                writeln!(out, "{} {} {arch}", p.name, p.version)?;
            }
            return Ok(());
        }
    };
    if owning.is_empty() {
        return Ok(());
    }
    let args: Vec<String> = pinned().collect();
    writeln!(out, "{command} {}", args.join(" "))
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    schema_version: u32,
    root: String,
    status: &'static str,
    packages: Vec<PackageView<'a>>,
    files: Vec<FileView<'a>>,
    unowned: Vec<&'a str>,
    problems: Vec<String>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct PackageView<'a> {
    name: &'a str,
    version: &'a str,
    arch: &'a str,
    kind: super::Kind,
    source: Option<&'a super::Source>,
    license: Option<&'a str>,
    files: Vec<&'a str>,
}

#[derive(Serialize)]
struct FileView<'a> {
    path: &'a str,
    realpath: String,
    package: Option<NameArch<'a>>,
}

#[derive(Serialize)]
struct NameArch<'a> {
    name: &'a str,
    arch: &'a str,
}

fn write_json(
    report: &Report,
    root: &Root,
    owned: &[Owned],
    outcome: &mut Outcome,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut views = Vec::new();
    for p in owning(owned) {
        let license = p.license(root).unwrap_or_else(|e| {
            outcome.warning(e.to_string());
            None
        });
        views.push(PackageView {
            name: &p.name,
            version: &p.version,
            arch: &p.arch,
            kind: p.kind,
            source: p.source.as_ref(),
            license,
            files: owned
                .iter()
                .filter(|o| o.package.is_some_and(|q| std::ptr::eq(p, q)))
                .map(|o| o.path.as_str())
                .collect(),
        });
    }
    let (problems, warnings) = split_diagnostics(outcome);
    let doc = Document {
        schema: "elfroot-packages",
        schema_version: SCHEMA_VERSION,
        root: report.root.display().to_string(),
        status: match outcome.status {
            Status::Clean => "ok",
            Status::Findings => "findings",
            Status::Errors => "errors",
        },
        packages: views,
        files: owned
            .iter()
            .map(|o| FileView {
                path: &o.path,
                realpath: o.real.display().to_string(),
                package: o.package.map(|p| NameArch {
                    name: &p.name,
                    arch: &p.arch,
                }),
            })
            .collect(),
        unowned: owned
            .iter()
            .filter(|o| o.package.is_none())
            .map(|o| o.path.as_str())
            .collect(),
        problems,
        warnings,
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

/// The outcome's problems and warnings, as texts.
fn split_diagnostics(outcome: &Outcome) -> (Vec<String>, Vec<String>) {
    use crate::outcome::Diagnostic;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for d in &outcome.diagnostics {
        match d {
            Diagnostic::Problem(m) => problems.push(m.clone()),
            Diagnostic::Warning(m) => warnings.push(m.clone()),
            Diagnostic::Note(_) => {}
        }
    }
    (problems, warnings)
}
