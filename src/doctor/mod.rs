//! `elfroot doctor`: why a program will not start in a target root, found
//! before it runs. Each problem is a [`Finding`] with a stable code, a
//! severity, the message the user would otherwise see at run time, the cause
//! and a fix. The checks follow the order in which the kernel and the loader
//! fail: the file, its `#!` line, its architecture, its interpreter, its
//! libraries, their symbol versions, then its symbols; run-time lookups last.

pub mod target;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::closure::{Analyzer, Closure, InterpStatus, Libc, Resolution};
use crate::elf::{ElfFile, ParseError, Symbols};
use crate::error::{Error, Result};
use crate::files::Probe;
use crate::profile::nss;
use crate::root::{Lookup, Root};
pub use target::Target;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The program will not start (or fails as soon as it uses the thing).
    Error,
    /// It starts, but something it does will fail.
    Warning,
    /// Worth knowing.
    Note,
}

/// One problem.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// The message(s) the user would see at run time, as runc, chroot or a shell print them.
    pub messages: Vec<String>,
    pub cause: String,
    pub fix: String,
}

/// The verdict on one program.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The program's path in the target.
    pub file: String,
    /// False when an error finding says it would not start.
    pub starts: bool,
    pub libc: Option<Libc>,
    pub findings: Vec<Finding>,
}

/// Where the program is.
#[derive(Debug, Clone)]
pub enum Placement {
    /// A path inside the target.
    InRoot,
    /// A host file, placed at this path in the target (default: its own path).
    Host { at: Option<PathBuf> },
}

/// Checks one program.
pub fn check(
    analyzer: &Analyzer,
    target: &Target,
    file: &Path,
    placement: &Placement,
) -> Result<Verdict> {
    let mut v = Checker {
        analyzer,
        target,
        findings: Vec::new(),
        libc: None,
    };
    let shown = match placement {
        Placement::InRoot => file.to_path_buf(),
        Placement::Host { at } => at.clone().unwrap_or_else(|| file.to_path_buf()),
    };
    v.program(file, &shown, placement, 0)?;
    let starts = !v.findings.iter().any(|f| f.severity == Severity::Error);
    Ok(Verdict {
        file: shown.to_string_lossy().into_owned(),
        starts,
        libc: v.libc,
        findings: v.findings,
    })
}

struct Checker<'a> {
    analyzer: &'a Analyzer,
    target: &'a Target,
    findings: Vec<Finding>,
    libc: Option<Libc>,
}

fn exec_messages(path: &str, errno_text: &str, sh: &str) -> Vec<String> {
    vec![
        format!("runc: exec {path}: {}", errno_text.to_lowercase()),
        format!("chroot: failed to run command '{path}': {errno_text}"),
        format!("sh: {path}: {sh}"),
    ]
}

impl Checker<'_> {
    fn error(&mut self, code: &'static str, messages: Vec<String>, cause: String, fix: String) {
        self.findings.push(Finding {
            code,
            severity: Severity::Error,
            messages,
            cause,
            fix,
        });
    }

    fn root(&self) -> &Root {
        self.analyzer.files().root()
    }

    /// Reads the program (from the target or the host) and checks it.
    fn program(
        &mut self,
        file: &Path,
        shown: &Path,
        placement: &Placement,
        depth: u32,
    ) -> Result<()> {
        let s = shown.to_string_lossy().into_owned();
        let host = Root::host();
        let (source_root, real) = match placement {
            Placement::InRoot => {
                let real = match self.root().lookup(file)? {
                    Lookup::File(real) => real,
                    _ => {
                        self.error(
                            "file-missing",
                            exec_messages(&s, "No such file or directory", "not found"),
                            format!("{s} is not in the target"),
                            format!("copy {s} into the image, or run the path where it is"),
                        );
                        return Ok(());
                    }
                };
                (self.root(), real)
            }
            Placement::Host { .. } => match host.lookup(file)? {
                Lookup::File(real) => (&host, real),
                _ => {
                    return Err(Error::NotFound {
                        path: file.to_path_buf(),
                    });
                }
            },
        };
        let trace = source_root.trace(&real)?;
        if trace.as_ref().is_some_and(|t| t.mode & 0o111 == 0) {
            self.error(
                "not-executable",
                exec_messages(&s, "Permission denied", "Permission denied"),
                format!("{s} has no execute permission"),
                format!("chmod +x {s} before copying it in (COPY --chmod=755 in a Dockerfile)"),
            );
            return Ok(());
        }
        let head = source_root.head(&real, 512)?;
        if let Some(rest) = head.strip_prefix(b"#!") {
            return self.script(&s, rest, depth);
        }
        // A file of the target is read through the analyser's cache, which
        // its closure will use too; a host file is read here, once.
        let files = self.analyzer.files();
        let host_bytes = match placement {
            Placement::InRoot => None,
            Placement::Host { .. } => Some(source_root.contents(&real)?),
        };
        let parsed = match &host_bytes {
            Some(bytes) => ElfFile::parse(bytes).map(Arc::new),
            None => match files.probe(&real) {
                Probe::Elf(e) => Ok(e),
                Probe::NotElf => Err(ParseError::NotElf),
                Probe::Malformed(r) | Probe::Unreadable(r) => Err(ParseError::Malformed(r)),
            },
        };
        let elf = match parsed {
            Ok(e) => e,
            Err(ParseError::NotElf) => {
                self.error(
                    "exec-format",
                    exec_messages(
                        &s,
                        "Exec format error",
                        "cannot execute binary file: Exec format error",
                    ),
                    format!("{s} is neither an ELF program nor a #! script"),
                    "add a #! line, or build the program for this target".into(),
                );
                return Ok(());
            }
            Err(ParseError::Malformed(reason)) => {
                return Err(Error::Malformed {
                    path: file.to_path_buf(),
                    reason,
                });
            }
        };
        if let Some((name, t)) = &self.target.arch
            && !elf.compatible_with(t)
        {
            let mut messages = exec_messages(
                &s,
                "Exec format error",
                "cannot execute binary file: Exec format error",
            );
            if let Some(interp) = &elf.interp
                && !matches!(self.root().resolve_file(Path::new(interp)), Ok(Some(_)))
            {
                // A host with binfmt_misc (qemu-user) runs it, and then its own loader is missing.
                messages.push(format!(
                    "under qemu-user emulation: chroot: failed to run command '{s}': No such file or directory"
                ));
            }
            self.error(
                "exec-format",
                messages,
                format!("{s} is {} but the target is {name} ({})", elf.describe(), t.describe()),
                format!(
                    "build {s} for {name} (or bundle the {} build), or run the image on a {} machine",
                    crate::elf::arch::arch_name(&elf),
                    crate::elf::arch::arch_name(&elf)
                ),
            );
            return Ok(());
        }
        if elf.is_static() {
            let bytes = match host_bytes {
                Some(b) => b,
                None => source_root.contents(&real)?,
            };
            let nss = memchr::memmem::find(&bytes, b"/etc/nsswitch.conf").is_some();
            self.findings.push(Finding {
                code: "static",
                severity: Severity::Note,
                messages: Vec::new(),
                cause: if nss {
                    format!("{s} is static and starts anywhere; it is a static glibc program, which still loads NSS modules (libnss_*.so.2) for user and host lookups")
                } else {
                    format!("{s} is static: it needs no loader or library to start")
                },
                fix: if nss {
                    "to look users or hosts up, the target needs /etc/nsswitch.conf, /etc/passwd and the matching glibc's libnss_* modules".into()
                } else {
                    String::new()
                },
            });
            return Ok(());
        }
        let closure = match placement {
            Placement::InRoot => self.analyzer.analyze(file)?,
            Placement::Host { .. } => self.analyzer.analyze_placed(elf.clone(), shown)?,
        };
        self.libc = closure.libc;
        let main_symbols = match &host_bytes {
            Some(bytes) => Arc::new(crate::elf::symbols(bytes).unwrap_or_default()),
            None => files.symbols(&real),
        };
        self.closure(&s, &closure, main_symbols);
        Ok(())
    }

    fn script(&mut self, s: &str, rest: &[u8], depth: u32) -> Result<()> {
        let line = rest.split(|&b| b == b'\n').next().unwrap_or(rest);
        let text = String::from_utf8_lossy(line);
        let interp = text
            .trim_start()
            .split([' ', '\t'])
            .next()
            .unwrap_or("")
            .to_string();
        if interp.ends_with('\r') {
            let bare = interp.trim_end_matches('\r');
            self.error(
                "shebang-crlf",
                vec![
                    format!("runc: exec {s}: no such file or directory"),
                    format!("chroot: failed to run command '{s}': No such file or directory"),
                    format!("bash: {s}: {bare}^M: bad interpreter: No such file or directory"),
                ],
                format!("the #! line of {s} ends in CRLF, so the kernel looks for '{bare}\\r'"),
                format!("convert {s} to LF line ends (dos2unix, or git's core.autocrlf=false)"),
            );
            return Ok(());
        }
        let path = PathBuf::from(&interp);
        if !matches!(self.root().resolve_file(&path), Ok(Some(_))) {
            self.error(
                "script-interpreter-missing",
                vec![
                    format!("runc: exec {s}: no such file or directory"),
                    format!("chroot: failed to run command '{s}': No such file or directory"),
                    format!("bash: {s}: {interp}: bad interpreter: No such file or directory"),
                ],
                format!("{s} is a script for {interp}, which the target lacks"),
                format!("add {interp} to the image (elfroot bundle {s} brings it)"),
            );
            return Ok(());
        }
        if depth > 4 {
            return Ok(());
        }
        self.program(&path, &path, &Placement::InRoot, depth + 1)
    }

    fn closure(&mut self, s: &str, c: &Closure, main_symbols: Arc<Symbols>) {
        let libc = c.libc.unwrap_or(Libc::Glibc);
        if let Some(i) = &c.interpreter {
            let problem = match &i.status {
                InterpStatus::Loaded(_) => None,
                InterpStatus::Missing => Some("is not in the target".to_string()),
                InterpStatus::Incompatible { found } => {
                    Some(format!("is {found}, not this program's architecture"))
                }
                InterpStatus::Invalid { reason } => Some(format!("is unusable ({reason})")),
            };
            if let Some(problem) = problem {
                let wants = if crate::elf::arch::musl_arch_from_interp(&i.path).is_some() {
                    "musl"
                } else {
                    "glibc"
                };
                self.error(
                    "interpreter-missing",
                    exec_messages(s, "No such file or directory", "not found"),
                    format!(
                        "{s} is a {wants} program: its loader (PT_INTERP) {} {problem}; the target has {}",
                        i.path,
                        self.target.describe_libcs()
                    ),
                    match wants {
                        "musl" => format!("use a musl base (Alpine), build {s} against the target's libc or statically, or bundle it with `elfroot bundle {s}`"),
                        _ => format!("use a glibc base image, build {s} statically or against the target's libc, or bundle it with `elfroot bundle {s}`"),
                    },
                );
                return;
            }
        }
        // Missing libraries: glibc stops at the first, musl reports each.
        for (o, d) in c.problems() {
            let msg = match libc {
                Libc::Glibc => format!(
                    "{s}: error while loading shared libraries: {}: cannot open shared object file: No such file or directory",
                    d.name
                ),
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
            self.error(
                "library-missing",
                vec![msg],
                format!("{} (needed by {}) is missing: {why}", d.name, o.path),
                format!(
                    "add {} to the image, or bundle {s} with `elfroot bundle`",
                    d.name
                ),
            );
        }
        if self.findings.iter().any(|f| f.severity == Severity::Error) {
            return;
        }
        let symbols: Vec<Arc<Symbols>> = c
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                if i == 0 {
                    main_symbols.clone()
                } else {
                    self.analyzer.files().symbols(&o.real)
                }
            })
            .collect();
        if libc == Libc::Glibc {
            self.versions(s, c, &symbols);
            if self.findings.iter().any(|f| f.severity == Severity::Error) {
                return;
            }
        }
        self.undefined(s, c, &symbols, libc);
        if libc == Libc::Glibc {
            self.nss(s, c);
        }
        let looks_users = symbols[0]
            .imports
            .iter()
            .any(|i| nss::USER_LOOKUPS.contains(&i.name.as_str()));
        if looks_users && !self.target.has_passwd {
            self.findings.push(Finding {
                code: "no-passwd",
                severity: Severity::Warning,
                messages: vec!["(no error at start: user lookups return nothing, e.g. `whoami: cannot find name for user ID 0`)".into()],
                cause: format!("{s} looks users or groups up, and the target has no /etc/passwd"),
                fix: "add an /etc/passwd and /etc/group (elfroot bundle writes minimal ones)".into(),
            });
        }
    }

    /// Symbol versions each object requires from the library that provides them.
    fn versions(&mut self, s: &str, c: &Closure, symbols: &[Arc<Symbols>]) {
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
                    self.error(
                        "version-missing",
                        vec![format!("{s}: {provider_path}: version `{v}' not found (required by {})", o.path)],
                        format!("{} needs {v} from {file}, which the target's {provider_path} does not define{have}", o.path),
                        format!("build {s} against an older {file} (an older base image or toolchain), or use a newer base image"),
                    );
                }
            }
        }
    }

    /// Non-weak undefined symbols that no object of the closure defines.
    fn undefined(&mut self, s: &str, c: &Closure, symbols: &[Arc<Symbols>], libc: Libc) {
        // One lookup in each object's own table (built once per run), no union
        // per program; the largest tables (libc) first, where most imports are.
        let mut by_size: Vec<&Arc<Symbols>> = symbols.iter().collect();
        by_size.sort_by_key(|x| std::cmp::Reverse(x.defined.len()));
        let defined = |name: &str| by_size.iter().any(|x| x.defined.contains(name));
        for (i, o) in c.objects.iter().enumerate() {
            let missing: Vec<&crate::elf::Import> = symbols[i]
                .imports
                .iter()
                .filter(|imp| !defined(&imp.name))
                .collect();
            if missing.is_empty() {
                continue;
            }
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
                Libc::Glibc if o.elf.bind_now => (
                    Severity::Error,
                    missing
                        .iter()
                        .map(|m| glibc_undefined(s, &o.path, m))
                        .collect(),
                    "the object binds its symbols at start (BIND_NOW)",
                ),
                Libc::Glibc => (
                    Severity::Warning,
                    missing
                        .iter()
                        .map(|m| glibc_undefined(s, &o.path, m))
                        .collect(),
                    "with lazy binding the program starts and fails when it first calls one",
                ),
            };
            let fortify = names
                .iter()
                .any(|n| n.starts_with("__") && n.ends_with("_chk"));
            let glibc_on_musl = libc == Libc::Musl
                && c.objects
                    .iter()
                    .any(|x| x.elf.needed.iter().any(|n| n == "libc.so.6"));
            self.findings.push(Finding {
                code: "symbol-missing",
                severity,
                messages,
                cause: format!(
                    "{} uses {} that no loaded object defines ({}){}",
                    o.path,
                    if names.len() == 1 { "a symbol".to_string() } else { format!("{} symbols", names.len()) },
                    names.join(", "),
                    if glibc_on_musl { format!("; {} was built against glibc and the target's libc is musl", o.path) } else { String::new() }
                ) + &format!("; {when}"),
                fix: if glibc_on_musl && fortify {
                    format!("build {s} for musl (musl-gcc, or an Alpine build stage), or at least without _FORTIFY_SOURCE; or use a glibc base image")
                } else if glibc_on_musl {
                    format!("build {s} for musl, or use a glibc base image")
                } else {
                    "add the library that defines them, or rebuild against the target's libraries".into()
                },
            });
        }
    }

    /// NSS modules the target's nsswitch.conf names but the target lacks.
    fn nss(&mut self, s: &str, c: &Closure) {
        let Some(conf) = &self.target.nsswitch else {
            return;
        };
        let builtin = self
            .target
            .glibc_version()
            .is_some_and(|v| target::glibc_at_least(v, 2, 34));
        let libc_id = c
            .objects
            .iter()
            .position(|o| o.names.iter().any(|n| n == "libc.so.6"))
            .unwrap_or(0);
        for service in nss::services(conf) {
            if builtin && (service == "files" || service == "dns") {
                continue;
            }
            let module = format!("libnss_{service}.so.2");
            let found = *self
                .target
                .nss_modules
                .borrow_mut()
                .entry(module.clone())
                .or_insert_with(|| self.analyzer.locate(c, libc_id, &module).is_some());
            if !found {
                self.findings.push(Finding {
                    code: "nss-module-missing",
                    severity: Severity::Warning,
                    messages: vec![format!("(no error: lookups through '{service}' fail silently)")],
                    cause: format!("/etc/nsswitch.conf names '{service}', and the target has no {module}"),
                    fix: format!("add {module} (elfroot bundle --nsswitch /etc/nsswitch.conf {s} brings it), or drop '{service}' from nsswitch.conf"),
                });
            }
        }
    }
}

fn glibc_undefined(s: &str, object: &str, m: &crate::elf::Import) -> String {
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
