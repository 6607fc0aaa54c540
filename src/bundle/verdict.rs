//! The refusal rule of `bundle`, here and only here: a bundle is not
//! written when a library is missing (unless allowed) or when the doctor,
//! run on the planned bundle, says a program would not start from it
//! (unless allowed). For a root file system the doctor's verdict is reached
//! on a second thread while the bundle is written beside its output, which
//! it then replaces only if the verdict allows.

use std::path::{Path, PathBuf};

use super::Bundle;
use super::layout::Layout;
use crate::archive::WriteOptions;
use crate::doctor::{Code, Severity};
use crate::error::Result;
use crate::outcome::Outcome;

/// Reports what is missing and, when the planned bundle must not be
/// written ([`refusal`]), why; true when it is refused.
pub(crate) fn judge(
    plan: &Bundle,
    allow: (bool, bool),
    base: &[PathBuf],
    outcome: &mut Outcome,
) -> Result<bool> {
    if missing(plan, allow.0, outcome) {
        return Ok(true);
    }
    let refusal = refusal(plan, allow, base)?;
    let refused = refusal.is_some();
    for r in refusal.unwrap_or_default() {
        outcome.problem(r);
    }
    Ok(refused)
}

/// Reports what is missing; true when that refuses the bundle (a missing
/// library, unless `allow_missing`).
pub(super) fn missing(plan: &Bundle, allow_missing: bool, outcome: &mut Outcome) -> bool {
    for m in &plan.missing {
        outcome.problem(format!(
            "{}: {} (needed by {})",
            m.name, m.status, m.needed_by
        ));
    }
    !plan.missing.is_empty() && !allow_missing
}

/// Whether the planned bundle must not be written: `None` to write it,
/// else one line for each program that would not start from it and why
/// (no line when the reason is a missing library, already reported).
///
/// A missing library refuses the bundle unless `allow_missing`; a program
/// the doctor says would not start (checked on the bundle laid over the
/// base image's layers) refuses it unless `allow_broken`; with
/// `allow_missing`, a missing library is no such reason either.
fn refusal(
    plan: &Bundle,
    (allow_missing, allow_broken): (bool, bool),
    base: &[PathBuf],
) -> Result<Option<Vec<String>>> {
    if !plan.missing.is_empty() && !allow_missing {
        return Ok(Some(Vec::new()));
    }
    if allow_broken {
        return Ok(None);
    }
    let out = would_not_start((&plan.layout, &plan.placed), allow_missing, base)?;
    Ok((!out.is_empty()).then_some(out))
}

/// The doctor's reasons why a program would not start from the planned
/// bundle (laid over `base`), one line each; a missing library is none
/// with `allow_missing`.
fn would_not_start(
    (layout, placed): (&Layout, &[PathBuf]),
    allow_missing: bool,
    base: &[PathBuf],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in super::verify_placed(layout, placed, base)? {
        for f in &v.findings {
            let fatal =
                f.severity == Severity::Error && !(allow_missing && f.code == Code::LibraryMissing);
            if fatal {
                out.push(format!(
                    "{}: would not start from the bundle: [{}] {}",
                    v.file, f.code, f.cause
                ));
            }
        }
    }
    Ok(out)
}

/// [`write_root`] of a bundle whose package metadata is still to be added
/// (by `analyzer`, from path `from` on): a tar file is written while it is,
/// and the verdict, if `pending`, then reached on this thread.
pub(super) fn write_root_staged(
    (plan, analyzer, from): (&mut Bundle, &crate::closure::Analyzer, &str),
    pending: bool,
    target: &Path,
    opts: &WriteOptions,
    allow_missing: bool,
) -> Result<std::result::Result<u64, Vec<String>>> {
    let first = plan.layout.entries();
    let mut problems = Vec::new();
    let complete = || {
        plan.add_package_metadata(analyzer)?;
        if pending {
            problems = would_not_start((&plan.layout, &plan.placed), allow_missing, &[])?;
        }
        Ok((plan.layout.entries(), problems.is_empty()))
    };
    let written = crate::archive::write_if_staged(&first, from, complete, target, opts)?;
    Ok(written.ok_or(problems))
}

/// Writes a root file system; when the doctor's verdict is still to be
/// reached, it is on a second thread while the bundle is written beside
/// `target`, which it then replaces only if the verdict allows. The bytes
/// written, or why nothing was.
pub(super) fn write_root(
    (plan, pending): (&Bundle, bool),
    entries: &[crate::archive::Entry],
    target: &Path,
    opts: &WriteOptions,
    allow_missing: bool,
) -> Result<std::result::Result<u64, Vec<String>>> {
    if !pending {
        return Ok(Ok(crate::archive::write(entries, target, opts)?));
    }
    std::thread::scope(|s| {
        let files = (&plan.layout, plan.placed.as_slice());
        let verdict = s.spawn(move || would_not_start(files, allow_missing, &[]));
        let mut problems = Vec::new();
        let written = crate::archive::write_if(entries, target, opts, || {
            problems = verdict
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            Ok(problems.is_empty())
        })?;
        Ok(written.ok_or(problems))
    })
}
