//! ldd-style lines, and the bare closure for scripts (`--paths`).

use std::io::{self, Write};

use crate::closure::{Closure, InterpStatus, Libc, Resolution};
use crate::report::Report;

/// `libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1`, one object a line, as ldd
/// prints them: names that resolved nowhere first, then the loaded objects in
/// load order, the interpreter last (glibc) or first (musl).
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let many = report.entries.len() > 1;
    for entry in &report.entries {
        let Ok(c) = &entry.result else { continue };
        if many {
            writeln!(out, "{}:", entry.input.display())?;
        }
        write_one(c, out)?;
        for f in &entry.runtime {
            writeln!(out, "\t{} (run time: {})", f.path, f.reason)?;
        }
    }
    Ok(())
}

fn write_one(c: &Closure, out: &mut dyn Write) -> io::Result<()> {
    if c.is_static {
        return writeln!(out, "\tstatically linked");
    }
    let interp_line = |out: &mut dyn Write| -> io::Result<()> {
        let Some(i) = &c.interpreter else {
            return Ok(());
        };
        match &i.status {
            InterpStatus::Loaded(_) => writeln!(out, "\t{}", i.path),
            InterpStatus::Missing => writeln!(out, "\t{} => not found", i.path),
            InterpStatus::Incompatible { found } => {
                writeln!(out, "\t{} => incompatible ({found})", i.path)
            }
            InterpStatus::Invalid { reason } => writeln!(out, "\t{} => invalid ({reason})", i.path),
        }
    };
    if c.libc == Some(Libc::Musl) {
        interp_line(out)?;
    }
    let mut shown = std::collections::HashSet::new();
    for (_, dep) in c.problems() {
        if !shown.insert(&dep.name) {
            continue;
        }
        match &dep.resolution {
            Resolution::Invalid { path, reason, .. } => {
                writeln!(out, "\t{} => {path} ({reason})", dep.name)?
            }
            r => writeln!(
                out,
                "\t{} => not found{}",
                dep.name,
                match r.problem() {
                    Some("incompatible") => " (only incompatible files)",
                    _ => "",
                }
            )?,
        }
    }
    let interp = c.interpreter_id();
    for (id, o) in c.objects.iter().enumerate().skip(1) {
        if Some(id) == interp {
            continue;
        }
        let name = o.names.first().map(String::as_str).unwrap_or(&o.path);
        writeln!(out, "\t{name} => {}", o.path)?;
    }
    if c.libc != Some(Libc::Musl) {
        interp_line(out)?;
    }
    Ok(())
}

/// The closure only: one path per line, deduplicated over all inputs; then
/// the run-time files found (`--runtime`), a directory standing for what it
/// holds.
pub fn write_paths(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut seen = std::collections::HashSet::new();
    let runtime = report.entries.iter().flat_map(|e| &e.runtime);
    for p in report
        .paths()
        .into_iter()
        .chain(runtime.map(|f| f.path.clone()))
    {
        if seen.insert(p.clone()) {
            writeln!(out, "{p}")?;
        }
    }
    Ok(())
}
