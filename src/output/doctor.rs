//! The doctor's verdicts: one block per finding, or JSON.

use std::io::{self, Write};

use serde::Serialize;

use crate::doctor::Verdict;

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Human output: a line per program, then a block per finding.
pub fn write(verdicts: &[Verdict], out: &mut dyn Write) -> io::Result<()> {
    for v in verdicts {
        let libc = v
            .libc
            .map(|l| format!(" ({})", l.as_str()))
            .unwrap_or_default();
        let state = if v.starts { "starts" } else { "will not start" };
        writeln!(out, "{}: {state}{libc}", v.file)?;
        for f in &v.findings {
            writeln!(out, "  {}[{}]", f.severity.as_str(), f.code)?;
            for m in &f.messages {
                writeln!(out, "    you would see: {m}")?;
            }
            writeln!(out, "    cause: {}", f.cause)?;
            if !f.fix.is_empty() {
                writeln!(out, "    fix: {}", f.fix)?;
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    schema_version: u32,
    target: &'a str,
    all_start: bool,
    programs: &'a [Verdict],
}

/// JSON output.
pub fn write_json(verdicts: &[Verdict], target: &str, out: &mut dyn Write) -> io::Result<()> {
    let doc = Document {
        schema: "elfroot-doctor",
        schema_version: SCHEMA_VERSION,
        target,
        all_start: verdicts.iter().all(|v| v.starts),
        programs: verdicts,
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(super::json_error)?;
    writeln!(out)
}
