//! The JSON report (schema documented in docs/json.md).
//!
//! The document is built from plain view structs so that the schema is
//! written down in one place and does not follow the library's internals.

use std::io::{self, Write};

use serde::Serialize;

use crate::closure::{Closure, InterpStatus, Libc, Object, Resolution};
use crate::discover::Found;
use crate::elf::ElfFile;
use crate::elf::arch;
use crate::report::Report;
use crate::search::{Hwcaps, Tried};

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    schema_version: u32,
    root: String,
    status: &'static str,
    inputs: Vec<Input<'a>>,
    paths: Vec<String>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct Input<'a> {
    path: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    libc: Option<Libc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interpreter: Option<Interp<'a>>,
    objects: Vec<ObjectView<'a>>,
    problems: Vec<Problem<'a>>,
    cycles: Vec<Vec<usize>>,
    #[serde(skip_serializing_if = "<[Found]>::is_empty")]
    runtime: &'a [Found],
}

#[derive(Serialize)]
struct Interp<'a> {
    path: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Serialize)]
struct ElfView<'a> {
    class: crate::elf::Class,
    data: crate::elf::Data,
    machine: String,
    e_machine: u16,
    osabi: u8,
    #[serde(rename = "type")]
    kind: crate::elf::Kind,
    pie: bool,
    interp: Option<&'a str>,
    soname: Option<&'a str>,
    needed: &'a [String],
    rpath: Option<&'a str>,
    runpath: Option<&'a str>,
    nodeflib: bool,
}

#[derive(Serialize)]
struct ObjectView<'a> {
    id: usize,
    path: &'a str,
    realpath: String,
    found_by: &'static str,
    names: &'a [String],
    loaded_by: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hwcaps: Option<&'a Hwcaps>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relative_to: Option<&'a str>,
    elf: ElfView<'a>,
    needed: Vec<NeededView<'a>>,
}

#[derive(Serialize)]
struct NeededView<'a> {
    name: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<usize>,
}

#[derive(Serialize)]
struct Problem<'a> {
    name: &'a str,
    needed_by: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    tried: &'a [Tried],
}

/// Writes the report as one JSON document.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let doc = Document {
        schema: "elfroot-report",
        schema_version: SCHEMA_VERSION,
        root: report.root.display().to_string(),
        status: match report.status() {
            crate::report::Status::Clean => "ok",
            crate::report::Status::Findings => "findings",
            crate::report::Status::Errors => "errors",
        },
        inputs: report
            .entries
            .iter()
            .map(|e| match &e.result {
                Ok(c) => Input {
                    runtime: &e.runtime,
                    ..input(c)
                },
                Err(err) => Input {
                    path: e.input.display().to_string(),
                    status: "error",
                    error: Some(err.to_string()),
                    libc: None,
                    interpreter: None,
                    objects: Vec::new(),
                    problems: Vec::new(),
                    cycles: Vec::new(),
                    runtime: &[],
                },
            })
            .collect(),
        paths: report.paths(),
        warnings: report.warnings.iter().map(|w| w.to_string()).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(super::json_error)?;
    writeln!(out)
}

fn input(c: &Closure) -> Input<'_> {
    let status = if c.is_static {
        "static"
    } else if c.is_complete() {
        "ok"
    } else {
        "missing"
    };
    Input {
        path: c.input.clone(),
        status,
        error: None,
        libc: c.libc,
        interpreter: c.interpreter.as_ref().map(|i| {
            let (status, object, detail) = match &i.status {
                InterpStatus::Loaded(id) => ("found", Some(*id), None),
                InterpStatus::Missing => ("missing", None, None),
                InterpStatus::Incompatible { found } => ("incompatible", None, Some(found.clone())),
                InterpStatus::Invalid { reason } => ("invalid", None, Some(reason.clone())),
            };
            Interp {
                path: &i.path,
                status,
                object,
                detail,
            }
        }),
        objects: c
            .objects
            .iter()
            .enumerate()
            .map(|(id, o)| object(id, o))
            .collect(),
        problems: c
            .problems()
            .map(|(o, d)| {
                let (path, reason, tried) = match &d.resolution {
                    Resolution::Missing { tried } => (None, None, tried.as_slice()),
                    Resolution::Invalid {
                        path,
                        reason,
                        tried,
                    } => (Some(path.as_str()), Some(reason.as_str()), tried.as_slice()),
                    Resolution::Object(_) => (None, None, &[][..]),
                };
                Problem {
                    name: &d.name,
                    needed_by: &o.path,
                    status: d.resolution.problem().unwrap_or("ok"),
                    path,
                    reason,
                    tried,
                }
            })
            .collect(),
        cycles: c.cycles.clone(),
        runtime: &[],
    }
}

fn object(id: usize, o: &Object) -> ObjectView<'_> {
    ObjectView {
        id,
        path: &o.path,
        realpath: o.real.display().to_string(),
        found_by: o.via.as_str(),
        names: &o.names,
        loaded_by: o.loaded_by,
        hwcaps: o.hwcaps.as_ref(),
        relative_to: o.relative_to.as_deref(),
        elf: elf_view(&o.elf),
        needed: o
            .deps
            .iter()
            .map(|d| NeededView {
                name: &d.name,
                status: d.resolution.problem().unwrap_or("found"),
                object: match d.resolution {
                    Resolution::Object(t) => Some(t),
                    _ => None,
                },
            })
            .collect(),
    }
}

fn elf_view(f: &ElfFile) -> ElfView<'_> {
    ElfView {
        class: f.class,
        data: f.data,
        machine: arch::arch_name(f),
        e_machine: f.machine,
        osabi: f.osabi,
        kind: f.kind,
        pie: f.pie(),
        interp: f.interp.as_deref(),
        soname: f.soname.as_deref(),
        needed: &f.needed,
        rpath: f.rpath.as_deref(),
        runpath: f.runpath.as_deref(),
        nodeflib: f.nodeflib(),
    }
}
