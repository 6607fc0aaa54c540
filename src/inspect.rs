//! `elfroot tree` and `elfroot list`: the closures of some files, shown as
//! a tree, as ldd-style lines, as a list of paths, or as JSON; with
//! `--runtime`, the run-time files [`discover`](crate::discover) finds too.
//!
//! Uses `config` (the root), `report` (the analysis) and `output` (the
//! writers).

use std::io::Write;
use std::path::PathBuf;

use crate::config::RootConfig;
use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::output;

/// How the closures are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The dependency tree; `all` also shows names already shown elsewhere.
    Tree {
        /// Show every occurrence of a library, not just the first.
        all: bool,
    },
    /// ldd-style `name => path` lines.
    List,
    /// The interpreter and every resolved library, one path per line, once.
    Paths,
    /// The JSON report (docs/json.md).
    Json,
}

/// What `tree` and `list` are asked.
#[derive(Debug, Clone)]
pub struct InspectConfig {
    /// The root the files are in.
    pub root: RootConfig,
    /// Files (or directories, walked) inside the root.
    pub files: Vec<PathBuf>,
    /// How to show them.
    pub view: View,
    /// Also find and show the run-time files a bundle of each would hold
    /// (`--runtime`), with their reasons.
    pub runtime: bool,
    /// The cap on a directory discovery takes whole, in bytes (None: no
    /// cap), as `bundle --discover-max` sets it.
    pub discover_max: Option<u64>,
}

/// Analyses the files and writes the chosen view to `out`.
pub fn run(config: &InspectConfig, out: &mut dyn Write) -> Result<Outcome> {
    let (root, options) = config.root.open()?;
    let analyzer = crate::Analyzer::new(crate::files::Files::new(root), options);
    let mut report = crate::report::analyze_in(&analyzer, &config.files);
    let left_out = match config.runtime {
        true => report.discover(&analyzer, config.discover_max),
        false => Vec::new(),
    };
    let mut outcome = Outcome::new(report.status());
    for l in &left_out {
        outcome.warning(l.to_string());
    }
    for entry in &report.entries {
        if let Err(e) = &entry.result {
            outcome.problem(e.to_string());
        }
    }
    for w in &report.warnings {
        outcome.warning(w.to_string());
    }
    for c in report.closures() {
        for cycle in &c.cycles {
            let names: Vec<&str> = cycle.iter().map(|&i| c.objects[i].path.as_str()).collect();
            outcome.warning(format!(
                "{}: dependency cycle between {}",
                c.input,
                names.join(", ")
            ));
        }
    }
    let stdout = PathBuf::from(crate::archive::STDOUT_PATH);
    let written = match config.view {
        View::Json => output::json::write(&report, out),
        View::Tree { all } => output::tree::write(&report, output::tree::TreeOptions { all }, out),
        View::Paths => output::list::write_paths(&report, out),
        View::List => output::list::write(&report, out),
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(stdout, e))?;
    Ok(outcome)
}
