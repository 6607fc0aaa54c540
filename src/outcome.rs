//! How a command ended: its status (which the binary turns into the exit
//! code) and the diagnostics it has for standard error. The library never
//! prints; the command entry points return these instead.

use std::fmt;

pub use crate::report::Status;

/// Bytes for people: `812 B`, `4.0 KiB`, `31.2 MiB`, `1.1 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// One line for standard error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnostic {
    /// Something that failed or will not work (an unreadable input, a
    /// missing library, a refused bundle).
    Problem(String),
    /// Something worth knowing that did not stop the command.
    Warning(String),
    /// What a command that writes something reports on success (a summary).
    Note(String),
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostic::Problem(m) | Diagnostic::Note(m) => f.write_str(m),
            Diagnostic::Warning(m) => write!(f, "warning: {m}"),
        }
    }
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Clean, findings or errors: exit 0, 1 or 2.
    pub status: Status,
    /// What the binary prints on standard error, in order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Outcome {
    /// An outcome with no diagnostics yet.
    pub fn new(status: Status) -> Outcome {
        Outcome {
            status,
            diagnostics: Vec::new(),
        }
    }

    /// Adds a problem line.
    pub fn problem(&mut self, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::Problem(message.into()));
    }

    /// Adds a note (a summary line).
    pub fn note(&mut self, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::Note(message.into()));
    }

    /// Adds a warning line.
    pub fn warning(&mut self, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::Warning(message.into()));
    }

    /// The process exit code: 0 clean, 1 findings, 2 errors.
    pub fn exit_code(&self) -> u8 {
        self.status.exit_code() as u8
    }
}
