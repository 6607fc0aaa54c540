//! `elfroot doctor` as one call: survey the target, check each program,
//! write the verdicts, and say how it ended.

use std::io::Write;
use std::path::PathBuf;

use super::{Placement, Target, Verdict, check};
use crate::closure::Analyzer;
use crate::config::RootConfig;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::outcome::{Outcome, Status};
use crate::output;

/// What `doctor` is asked.
#[derive(Debug, Clone)]
pub struct DoctorConfig {
    /// The target.
    pub target: RootConfig,
    /// The programs to check.
    pub files: Vec<PathBuf>,
    /// Where they come from: the target, or the host (each file at its own
    /// path in the target, or a single one at `at`).
    pub placement: Placement,
    /// Write JSON (docs/json.md) instead of text.
    pub json: bool,
}

/// Checks every program and writes the verdicts to `out`. The status is
/// clean when every program starts, findings when one would not, errors
/// when one could not be read.
pub fn run(config: &DoctorConfig, out: &mut dyn Write) -> Result<Outcome> {
    if matches!(config.placement, Placement::Host { at: Some(_) }) && config.files.len() != 1 {
        return Err(Error::Usage(
            "a placement in the target needs exactly one program".into(),
        ));
    }
    let (root, options) = config.target.open()?;
    let analyzer = Analyzer::new(Files::new(root), options);
    let target = Target::survey(&analyzer);
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut outcome = Outcome::new(Status::Clean);
    for f in &config.files {
        let (file, placement) = match &config.placement {
            Placement::InRoot => (analyzer.files().root().absolute(f), Placement::InRoot),
            Placement::Host { at } => {
                let host = std::path::absolute(f).map_err(|e| Error::io(f, e))?;
                let at = at.clone().or_else(|| Some(host.clone()));
                (host, Placement::Host { at })
            }
        };
        match check(&analyzer, &target, &file, &placement) {
            Ok(v) => verdicts.push(v),
            Err(e) => outcome.problem(e.to_string()),
        }
    }
    outcome.status = if !outcome.diagnostics.is_empty() {
        Status::Errors
    } else if verdicts.iter().all(|v| v.starts) {
        Status::Clean
    } else {
        Status::Findings
    };
    let written = if config.json {
        output::doctor::write_json(&verdicts, &config.target.display(), out)
    } else {
        output::doctor::write(&verdicts, out)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(crate::archive::STDOUT_PATH, e))?;
    Ok(outcome)
}
