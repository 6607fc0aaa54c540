//! The bundle's manifest (`bundle --json`) and its Make dependency file (`--depfile`).

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::bundle::{Bundle, ManifestEntry, Missing};

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Manifest<'a> {
    schema: &'static str,
    schema_version: u32,
    output: String,
    format: &'a str,
    written: bool,
    entries: Vec<ManifestEntry>,
    missing: &'a [Missing],
}

/// Writes the manifest of `bundle` as JSON.
pub fn write(
    bundle: &Bundle,
    output: &Path,
    format: &str,
    written: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let doc = Manifest {
        schema: "elfroot-bundle",
        schema_version: SCHEMA_VERSION,
        output: output.display().to_string(),
        format,
        written,
        entries: bundle.layout.manifest(),
        missing: &bundle.missing,
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(super::json_error)?;
    writeln!(out)
}

/// A Make rule `OUT: every host file that went into the bundle`, escaped as
/// `gcc -MD` escapes it, so a Makefile rebuilds the layer when one changes.
pub fn depfile(bundle: &Bundle, target: &Path) -> String {
    let mut deps = bundle.layout.sources();
    deps.extend(bundle.extra_sources.iter().cloned());
    deps.sort();
    deps.dedup();
    let mut s = escape(&target.to_string_lossy());
    s.push(':');
    for d in deps {
        s.push_str(" \\\n  ");
        s.push_str(&escape(&d.to_string_lossy()));
    }
    s.push('\n');
    s
}

fn escape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            ' ' | '#' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '$' => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_gcc() {
        assert_eq!(escape("/a b/c#d$e"), "/a\\ b/c\\#d$$e");
    }
}
