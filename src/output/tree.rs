//! The dependency tree, lddtree's shape: each object under the object whose
//! DT_NEEDED loaded it, with how it was found (and, for a relative path, the
//! directory it was resolved against); unresolved names with every path that
//! was tried (like `libtree -v`).

use std::io::{self, Write};

use crate::closure::{Closure, InterpStatus, Libc, Object, ObjectId, Resolution};
use crate::report::Report;
use crate::search::Via;

/// Tree options.
#[derive(Debug, Clone, Copy, Default)]
pub struct TreeOptions {
    /// Also show names that resolved to an object shown elsewhere.
    pub all: bool,
}

/// Writes the tree of every input that has a closure.
pub fn write(report: &Report, opts: TreeOptions, out: &mut dyn Write) -> io::Result<()> {
    for entry in &report.entries {
        let Ok(c) = &entry.result else { continue };
        write_one(c, opts, out)?;
        for f in &entry.runtime {
            writeln!(out, "    {} [run time: {}]", f.path, f.reason)?;
        }
    }
    Ok(())
}

fn write_one(c: &Closure, opts: TreeOptions, out: &mut dyn Write) -> io::Result<()> {
    if c.is_static {
        return writeln!(out, "{} (static)", c.input);
    }
    // A library whose closure names no libc is loaded the same by either.
    let libc = c.libc.map(Libc::as_str).unwrap_or("no libc");
    writeln!(out, "{} ({libc})", c.input)?;
    if let Some(i) = &c.interpreter {
        let status = match &i.status {
            InterpStatus::Loaded(_) => String::new(),
            InterpStatus::Missing => " => not found".into(),
            InterpStatus::Incompatible { found } => format!(" => incompatible ({found})"),
            InterpStatus::Invalid { reason } => format!(" => invalid ({reason})"),
        };
        writeln!(out, "    {} [interpreter]{status}", i.path)?;
    }
    write_children(c, 0, 1, opts, out)
}

fn write_children(
    c: &Closure,
    id: ObjectId,
    depth: usize,
    opts: TreeOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let pad = "    ".repeat(depth);
    for dep in &c.objects[id].deps {
        match &dep.resolution {
            Resolution::Object(t) => {
                let o = &c.objects[*t];
                let first = o.loaded_by == Some(id) && o.names.first() == Some(&dep.name);
                if first {
                    writeln!(out, "{pad}{} => {} [{}]", dep.name, o.path, how(o))?;
                    write_children(c, *t, depth + 1, opts, out)?;
                } else if opts.all {
                    writeln!(out, "{pad}{} => {} [already loaded]", dep.name, o.path)?;
                }
            }
            r @ Resolution::Missing { tried } => {
                let what = if r.problem() == Some("incompatible") {
                    "not found (only incompatible files)"
                } else {
                    "not found"
                };
                writeln!(out, "{pad}{} => {what}", dep.name)?;
                write_tried(tried, &pad, out)?;
            }
            Resolution::Invalid {
                path,
                reason,
                tried,
            } => {
                writeln!(out, "{pad}{} => {path}: {reason}", dep.name)?;
                write_tried(tried, &pad, out)?;
            }
        }
    }
    Ok(())
}

fn write_tried(tried: &[crate::search::Tried], pad: &str, out: &mut dyn Write) -> io::Result<()> {
    for t in tried {
        writeln!(
            out,
            "{pad}    tried {} [{}]: {}",
            t.path,
            step(t.via, t.relative_to.as_deref()),
            t.result.describe()
        )?;
    }
    Ok(())
}

/// The search step, and for a relative path the directory it started from:
/// `rpath, relative to /srv`.
fn step(via: Via, relative_to: Option<&str>) -> String {
    match relative_to {
        Some(dir) => format!("{}, relative to {dir}", via.as_str()),
        None => via.as_str().to_string(),
    }
}

fn how(o: &Object) -> String {
    let mut s = step(o.via, o.relative_to.as_deref());
    if let Some(h) = &o.hwcaps {
        s.push_str(&format!(", {}", h.subdir));
        if let Some(b) = &h.baseline {
            s.push_str(&format!(", baseline {b}"));
        }
    }
    s
}
