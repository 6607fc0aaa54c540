//! The loader's checks, in the order ld.so and musl's loader fail: the
//! interpreter, the libraries (and, glibc, the ld.so.conf directories that a
//! root without ld.so.cache leaves unsearched), their symbol versions (glibc),
//! then symbols no loaded object defines. Each returns its findings.

use std::path::Path;
use std::sync::Arc;

use super::finding::{Code, Finding, Severity};
use super::kernel::exec_messages;
use super::target::{self, Target};
use crate::closure::{Closure, InterpStatus, Object, Resolution};
use crate::elf::{Import, Symbols, arch};
use crate::profile::Libc;
use crate::root::Root;
use crate::search::ld_so_conf::not_searched;

/// interpreter-missing: the program's PT_INTERP is not a usable loader in the target.
pub(super) fn interpreter(s: &str, c: &Closure, target: &Target) -> Option<Finding> {
    let i = c.interpreter.as_ref()?;
    let problem = match &i.status {
        InterpStatus::Loaded(_) => return None,
        InterpStatus::Missing => "is not in the target".to_string(),
        InterpStatus::Incompatible { found } => {
            format!("is {found}, not this program's architecture")
        }
        InterpStatus::Invalid { reason } => format!("is unusable ({reason})"),
    };
    let wants = if arch::musl_arch_from_interp(&i.path).is_some() {
        Libc::Musl
    } else {
        Libc::Glibc
    };
    Some(Finding::new(
        Code::InterpreterMissing,
        exec_messages(s, "No such file or directory", "not found"),
        format!(
            "{s} is a {} program: its loader (PT_INTERP) {} {problem}; the target has {}",
            wants.as_str(),
            i.path,
            target.describe_libcs()
        ),
        match wants {
            Libc::Musl => format!(
                "use a musl base (Alpine), build {s} against the target's libc or statically, or bundle it with `elfroot bundle {s}`"
            ),
            Libc::Glibc => format!(
                "use a glibc base image, build {s} statically or against the target's libc, or bundle it with `elfroot bundle {s}`"
            ),
        },
    ))
}

/// ld.so's message when it finds no `name` for program `s`.
fn glibc_not_found(s: &str, name: &str) -> String {
    format!(
        "{s}: error while loading shared libraries: {name}: cannot open shared object file: No such file or directory"
    )
}

/// ld-cache-missing: the target has no ld.so.cache, so ld.so does not
/// search the `unsearched` directories its ld.so.conf lists
/// ([`Analyzer::unsearched_conf_dirs`](crate::closure::Analyzer::unsearched_conf_dirs)).
/// An error naming the missing libraries that one of them holds (returned
/// too, so that library-missing does not repeat them), else a warning.
pub(super) fn ld_cache(
    s: &str,
    c: &Closure,
    unsearched: &[String],
    root: &Root,
) -> Option<(Finding, Vec<String>)> {
    if unsearched.is_empty() {
        return None;
    }
    // Each missing library with the first unsearched directory that holds it.
    let mut held: Vec<(&str, &str, &str)> = Vec::new();
    for (o, d) in c.problems() {
        let dir = unsearched.iter().find(|dir| {
            let path = crate::search::join(dir, &d.name);
            matches!(root.resolve_file(Path::new(&path)), Ok(Some(_)))
        });
        if let Some(dir) = dir
            && !held.iter().any(|h| h.0 == d.name)
        {
            held.push((&d.name, &o.path, dir));
        }
    }
    let fix = "run ldconfig in the image (`RUN ldconfig`), so that ld.so finds them in the cache it writes".to_string();
    if held.is_empty() {
        let cause = format!("the target's /etc/ld.so.conf {}", not_searched(unsearched));
        let mut f = Finding::new(Code::LdCacheMissing, Vec::new(), cause, fix);
        f.severity = Severity::Warning;
        return Some((f, Vec::new()));
    }
    let mut dirs: Vec<String> = Vec::new();
    for (_, _, dir) in &held {
        if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_string());
        }
    }
    let libraries: Vec<String> = held
        .iter()
        .map(|(name, by, dir)| format!("{name} (needed by {by}) is only in {dir}"))
        .collect();
    let cause = format!(
        "the target's /etc/ld.so.conf {}; {}",
        not_searched(&dirs),
        libraries.join(", ")
    );
    let messages = held.iter().map(|h| glibc_not_found(s, h.0)).collect();
    let names = held.iter().map(|h| h.0.to_string()).collect();
    Some((
        Finding::new(Code::LdCacheMissing, messages, cause, fix),
        names,
    ))
}

/// library-missing, one per unresolved DT_NEEDED entry but those in
/// `explained` (reported otherwise): glibc stops at the first, musl reports
/// each; either way the program does not start.
pub(super) fn libraries(s: &str, c: &Closure, libc: Libc, explained: &[String]) -> Vec<Finding> {
    c.problems()
        .filter(|(_, d)| !explained.contains(&d.name))
        .map(|(o, d)| {
            let msg = match libc {
                Libc::Glibc => glibc_not_found(s, &d.name),
                Libc::Musl => format!(
                    "Error loading shared library {}: No such file or directory (needed by {})",
                    d.name, o.path
                ),
            };
            let why = match &d.resolution {
                Resolution::Invalid { path, reason, .. } => format!("{path} is {reason}"),
                r if r.problem() == Some("incompatible") => {
                    "only files of another architecture were found".into()
                }
                _ => "found nowhere the loader looks".into(),
            };
            Finding::new(
                Code::LibraryMissing,
                vec![msg],
                format!("{} (needed by {}) is missing: {why}", d.name, o.path),
                format!(
                    "add {} to the image, or bundle {s} with `elfroot bundle`",
                    d.name
                ),
            )
        })
        .collect()
}

/// version-missing: symbol versions an object requires (glibc's
/// DT_VERNEED) that the library providing them does not define.
/// `symbols[i]` are the symbols of object `i`.
pub(super) fn versions(s: &str, c: &Closure, symbols: &[Arc<Symbols>]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, o) in c.objects.iter().enumerate() {
        for (file, versions) in &symbols[i].needs {
            let provider = o.deps.iter().find_map(|d| match d.resolution {
                Resolution::Object(t) if &d.name == file => Some(t),
                _ => None,
            });
            let Some(p) = provider else { continue };
            for v in versions {
                if symbols[p].versions.contains(v) {
                    continue;
                }
                let provider_path = &c.objects[p].path;
                let have = target::newest_glibc(&symbols[p].versions)
                    .map(|n| format!("; it stops at {n}"))
                    .unwrap_or_default();
                out.push(Finding::new(
                    Code::VersionMissing,
                    vec![format!("{s}: {provider_path}: version `{v}' not found (required by {})", o.path)],
                    format!("{} needs {v} from {file}, which the target's {provider_path} does not define{have}", o.path),
                    format!("build {s} against an older {file} (an older base image or toolchain), or use a newer base image"),
                ));
            }
        }
    }
    out
}

/// symbol-missing, one per object: non-weak undefined symbols that no object
/// of the closure defines. An error where the loader binds them at start
/// (musl, or glibc with BIND_NOW); a warning with glibc's lazy binding.
pub(super) fn undefined(
    s: &str,
    c: &Closure,
    symbols: &[Arc<Symbols>],
    libc: Libc,
) -> Vec<Finding> {
    // One lookup in each object's own table (built once per run), no union
    // per program; the largest tables (libc) first, where most imports are.
    let mut by_size: Vec<&Arc<Symbols>> = symbols.iter().collect();
    by_size.sort_by_key(|x| std::cmp::Reverse(x.defined.len()));
    let defined = |name: &str| by_size.iter().any(|x| x.defined.contains(name));
    let glibc_on_musl = libc == Libc::Musl
        && c.objects
            .iter()
            .any(|x| x.elf.needed.iter().any(|n| n == "libc.so.6"));
    c.objects
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let missing: Vec<&Import> = symbols[i]
                .imports
                .iter()
                .filter(|imp| !defined(&imp.name))
                .collect();
            (!missing.is_empty()).then(|| symbol_missing(s, o, &missing, libc, glibc_on_musl))
        })
        .collect()
}

/// The symbol-missing finding for the `missing` imports of object `o` of
/// program `s`; `glibc_on_musl` when the program was built for glibc and
/// runs on musl.
fn symbol_missing(
    s: &str,
    o: &Object,
    missing: &[&Import],
    libc: Libc,
    glibc_on_musl: bool,
) -> Finding {
    let names: Vec<&str> = missing.iter().map(|m| m.name.as_str()).collect();
    let (severity, messages, when) = match libc {
        Libc::Musl => (
            Severity::Error,
            names
                .iter()
                .map(|n| format!("Error relocating {}: {n}: symbol not found", o.path))
                .collect(),
            "musl binds every symbol at start, so the program does not start",
        ),
        Libc::Glibc => (
            if o.elf.bind_now {
                Severity::Error
            } else {
                Severity::Warning
            },
            missing
                .iter()
                .map(|m| glibc_undefined(s, &o.path, m))
                .collect(),
            if o.elf.bind_now {
                "the object binds its symbols at start (BIND_NOW)"
            } else {
                "with lazy binding the program starts and fails when it first calls one"
            },
        ),
    };
    let fortify = names
        .iter()
        .any(|n| n.starts_with("__") && n.ends_with("_chk"));
    let count = if names.len() == 1 {
        "a symbol".to_string()
    } else {
        format!("{} symbols", names.len())
    };
    let built_for_glibc = if glibc_on_musl {
        format!(
            "; {} was built against glibc and the target's libc is musl",
            o.path
        )
    } else {
        String::new()
    };
    let fix = if glibc_on_musl && fortify {
        format!(
            "build {s} for musl (musl-gcc, or an Alpine build stage), or at least without _FORTIFY_SOURCE; or use a glibc base image"
        )
    } else if glibc_on_musl {
        format!("build {s} for musl, or use a glibc base image")
    } else {
        "add the library that defines them, or rebuild against the target's libraries".into()
    };
    let cause = format!(
        "{} uses {count} that no loaded object defines ({}){built_for_glibc}; {when}",
        o.path,
        names.join(", "),
    );
    // The code's severity is the default; lazy binding lowers it.
    let mut finding = Finding::new(Code::SymbolMissing, messages, cause, fix);
    finding.severity = severity;
    finding
}

/// glibc's message for an undefined symbol `m` of `object`.
fn glibc_undefined(s: &str, object: &str, m: &Import) -> String {
    match &m.version {
        Some(v) => format!(
            "{s}: symbol lookup error: {object}: undefined symbol: {}, version {v}",
            m.name
        ),
        None => format!(
            "{s}: symbol lookup error: {object}: undefined symbol: {}",
            m.name
        ),
    }
}

/// object-damaged: an object of the closure whose symbol tables cannot be
/// read, so nothing can be said of its symbols; the loader would read them.
pub(super) fn damaged(s: &str, object: &str, error: &crate::error::Error) -> Finding {
    Finding::new(
        Code::ObjectDamaged,
        vec![format!(
            "(the loader reads these tables too: expect a crash or \"{s}: error while loading shared libraries: {object}\")"
        )],
        format!("{object} is damaged: {error}"),
        format!("replace {object} with an intact copy (reinstall its package)"),
    )
}
