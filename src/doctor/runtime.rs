//! Checks of what the program looks up once it runs, which fail silently
//! rather than stop the start: NSS modules, the user database, what the
//! imports open, and the run-time files discovery finds. What glibc loads
//! for them is [`profile::nss`](crate::profile::nss)'s to say; what the
//! program's objects name, [`discover`](crate::discover)'s.

use std::collections::HashSet;
use std::path::Path;

use super::finding::{Code, Finding};
use super::target::{self, Target};
use crate::closure::{Analyzer, Closure, Options};
use crate::discover::{self, Rule};
use crate::elf::Symbols;
use crate::error::Result;
use crate::files::Files;
use crate::profile::imports::{self, Need};
use crate::profile::nss;
use crate::root::{Lookup, Root};

/// nss-module-missing: NSS modules the target's nsswitch.conf names but the
/// target lacks, where the program's libc would look for them (glibc).
pub(super) fn nss(s: &str, c: &Closure, analyzer: &Analyzer, target: &Target) -> Vec<Finding> {
    let Some(conf) = &target.nsswitch else {
        return Vec::new();
    };
    // glibc 2.34 and later have `files` and `dns` built into libc.so.6.
    let builtin = target
        .glibc_version()
        .is_some_and(|v| target::glibc_at_least(v, 2, 34));
    let libc_id = c
        .objects
        .iter()
        .position(|o| o.names.iter().any(|n| n == "libc.so.6"))
        .unwrap_or(0);
    let mut out = Vec::new();
    for service in nss::services(conf) {
        if builtin && (service == "files" || service == "dns") {
            continue;
        }
        let module = format!("libnss_{service}.so.2");
        let found = *target
            .nss_modules
            .borrow_mut()
            .entry(module.clone())
            .or_insert_with(|| analyzer.locate(c, libc_id, &module).is_some());
        if !found {
            out.push(Finding::new(
                Code::NssModuleMissing,
                vec![format!("(no error: lookups through '{service}' fail silently)")],
                format!("/etc/nsswitch.conf names '{service}', and the target has no {module}"),
                format!("add {module} (elfroot bundle --nsswitch /etc/nsswitch.conf {s} brings it), or drop '{service}' from nsswitch.conf"),
            ));
        }
    }
    out
}

/// no-passwd: the program (its own imports, `main`) looks users or groups
/// up, and the target has no /etc/passwd.
pub(super) fn passwd(s: &str, main: &Symbols, target: &Target) -> Option<Finding> {
    let looks_users = main
        .imports
        .iter()
        .any(|i| nss::USER_LOOKUPS.contains(&i.name.as_str()));
    if !looks_users || target.has_passwd {
        return None;
    }
    Some(Finding::new(
        Code::NoPasswd,
        vec!["(no error at start: user lookups return nothing, e.g. `whoami: cannot find name for user ID 0`)".into()],
        format!("{s} looks users or groups up, and the target has no /etc/passwd"),
        "add an /etc/passwd and /etc/group (elfroot bundle writes minimal ones)".into(),
    ))
}

/// shell-missing and runtime-file-missing: what the closure's imports open
/// once the program runs ([`imports::RULES`]) and the target lacks.
pub(super) fn imports(
    s: &str,
    symbols: &[std::sync::Arc<Symbols>],
    glibc: bool,
    gconv: bool,
    root: &Root,
) -> Vec<Finding> {
    let names = symbols
        .iter()
        .flat_map(|x| x.imports.iter().map(|i| i.name.as_str()));
    let has = |p: &str| matches!(root.resolve_file(Path::new(p)), Ok(Some(_)));
    let mut out = Vec::new();
    for rule in imports::triggered(names) {
        let finding = match rule.need {
            Need::Shell if !has(imports::SHELL) => Finding::new(
                Code::ShellMissing,
                vec![format!("(no error at start: system() and popen() run no command and return status 127)")],
                format!("{s} runs commands through {}, which the target lacks ({})", imports::SHELL, rule.reason),
                format!("add a shell (elfroot bundle --with sh {s} brings the root's {})", imports::SHELL),
            ),
            Need::File(path) if !has(path) => Finding::new(
                Code::RuntimeFileMissing,
                vec![format!("(no error at start: lookups in {path} find nothing)")],
                format!("{s} reads {path} ({}), which the target lacks", rule.reason),
                format!("add {path} to the image (elfroot bundle {s} brings it)"),
            ),
            Need::Gconv if glibc && !gconv => Finding::new(
                Code::RuntimeFileMissing,
                vec!["(no error at start: iconv_open() fails with EINVAL for any conversion glibc does not build in)".into()],
                format!("{s} converts character sets ({}), and the target has no gconv modules", rule.reason),
                format!("add glibc's gconv directory, if the program converts to or from a character set glibc does not build in (elfroot bundle --with gconv {s} brings it)"),
            ),
            _ => continue,
        };
        out.push(finding);
    }
    out
}

/// runtime-file-missing: the run-time files [`discover`](crate::discover)
/// finds for a host program on the host (paths its objects name, its
/// runtime's libraries, the directories it works in) that the target lacks,
/// at the same paths. What the imports open is [`imports`]' to say.
pub(super) fn discovered(
    s: &str,
    program: &Path,
    target: &Root,
    host_db: &discover::Database,
) -> Result<Vec<Finding>> {
    let host = Analyzer::new(Files::new(Root::host()), Options::default());
    let closure = host.analyze(program)?;
    let known: HashSet<String> = closure.objects.iter().map(|o| o.absolute_path()).collect();
    let found = discover::discover(
        &host,
        std::slice::from_ref(&closure),
        &|p| known.contains(p),
        host_db,
        Some(discover::DEFAULT_MAX_TREE_BYTES),
    )?;
    let mut out = Vec::new();
    let mut dirs = Vec::new();
    for f in found.found.iter().filter(|f| f.rule != Rule::Import) {
        if target.lookup(Path::new(&f.path))? != Lookup::Absent {
            continue;
        }
        if f.rule == Rule::WorkDir {
            dirs.push(f.path.as_str());
            continue;
        }
        out.push(Finding::new(
            Code::RuntimeFileMissing,
            vec!["(no error at start: what it reads there is not found)".into()],
            format!("{} ({}), absent in the target", f.path, f.reason),
            format!("add {} (elfroot bundle {s} brings it)", f.path),
        ));
    }
    // What bundles leave out unless asked: the fix says how to ask.
    for l in &found.left_out {
        if target.lookup(Path::new(&l.path))? != Lookup::Absent {
            continue;
        }
        let why = match &l.why {
            discover::Why::TooLarge { bytes, cap } => format!(
                "{} MiB, over the discovery cap of {} MiB",
                bytes >> 20,
                cap >> 20
            ),
            discover::Why::SetId { .. } => "set-user-ID or set-group-ID".to_string(),
            discover::Why::Device { library, reaches } => {
                format!("a hardware helper: {library}, for {reaches}")
            }
        };
        out.push(Finding::new(
            Code::RuntimeFileMissing,
            vec!["(no error at start: what it reads or runs there is not found)".into()],
            format!("{} ({}), absent in the target", l.path, l.reason),
            format!(
                "add {} if the program needs it (bundles leave it out: {why}; \
                 elfroot bundle {s} --add {} brings it)",
                l.path, l.path
            ),
        ));
    }
    if !dirs.is_empty() {
        out.push(Finding::new(
            Code::RuntimeFileMissing,
            vec!["(no error at start: files it makes there cannot be made)".into()],
            format!(
                "{s} keeps state or works in {}, absent in the target",
                dirs.join(", ")
            ),
            format!("make them (elfroot bundle {s} brings them, empty)"),
        ));
    }
    Ok(out)
}
