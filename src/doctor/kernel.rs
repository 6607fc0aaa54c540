//! The kernel's checks, before any loader runs: is the file there and
//! executable, what its `#!` line names, whether it is ELF for the target's
//! architecture, whether it is static. Each returns the finding that stops
//! the start, if any.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Placement;
use super::finding::{Code, Finding};
use super::target::Target;
use crate::elf::{ElfFile, ParseError, Symbols, arch};
use crate::error::{Error, Result};
use crate::files::{Files, Probe};
use crate::root::{Contents, Lookup, Root};

/// The messages of a failed exec(2) of `path`, as runc, chroot and a shell print them.
pub(super) fn exec_messages(path: &str, errno_text: &str, sh: &str) -> Vec<String> {
    vec![
        format!("runc: exec {path}: {}", errno_text.to_lowercase()),
        format!("chroot: failed to run command '{path}': {errno_text}"),
        format!("sh: {path}: {sh}"),
    ]
}

/// The program file: in the target, or a host file to be copied in.
pub(super) struct Source<'a> {
    target: &'a Root,
    host: Option<Root>,
    /// Its canonical path in the root it is read from; None when the target lacks it.
    real: Option<PathBuf>,
    /// A host file's bytes, read once (a target file is read through the analyser's cache).
    host_bytes: Option<Contents>,
}

impl<'a> Source<'a> {
    /// Finds `file` where `placement` says; a host file that is not there is an error.
    pub fn open(target: &'a Root, file: &Path, placement: &Placement) -> Result<Source<'a>> {
        let (host, lookup) = match placement {
            Placement::InRoot => (None, target.lookup(file)?),
            Placement::Host { .. } => {
                let host = Root::host();
                let lookup = host.lookup(file)?;
                if !matches!(lookup, Lookup::File(_)) {
                    return Err(Error::NotFound {
                        path: file.to_path_buf(),
                    });
                }
                (Some(host), lookup)
            }
        };
        let real = match lookup {
            Lookup::File(real) => Some(real),
            _ => None,
        };
        Ok(Source {
            target,
            host,
            real,
            host_bytes: None,
        })
    }

    fn root(&self) -> &Root {
        self.host.as_ref().unwrap_or(self.target)
    }

    /// Its permission bits, when the root records them.
    fn mode(&self) -> Result<Option<u32>> {
        let Some(real) = &self.real else {
            return Ok(None);
        };
        Ok(self.root().trace(real)?.map(|t| t.mode))
    }

    /// The rest of its first line when it starts with `#!`.
    pub fn shebang(&self) -> Result<Option<Vec<u8>>> {
        let Some(real) = &self.real else {
            return Ok(None);
        };
        let head = self.root().head(real, 512)?;
        Ok(head
            .strip_prefix(b"#!")
            .map(|rest| rest.split(|&b| b == b'\n').next().unwrap_or(rest).to_vec()))
    }

    /// Its ELF header, None when it is not ELF; `file` names it in errors.
    pub fn elf(&mut self, files: &Files, file: &Path) -> Result<Option<Arc<ElfFile>>> {
        let Some(real) = &self.real else {
            return Ok(None);
        };
        if self.host.is_some() && self.host_bytes.is_none() {
            self.host_bytes = Some(self.root().contents(real)?);
        }
        let parsed = match &self.host_bytes {
            Some(bytes) => ElfFile::parse(bytes).map(Arc::new),
            None => match files.probe(real) {
                Probe::Elf(e) => Ok(e),
                Probe::NotElf => Err(ParseError::NotElf),
                Probe::Malformed(r) | Probe::Unreadable(r) => Err(ParseError::Malformed(r)),
            },
        };
        match parsed {
            Ok(e) => Ok(Some(e)),
            Err(ParseError::NotElf) => Ok(None),
            Err(ParseError::Malformed(reason)) => Err(Error::Malformed {
                path: file.to_path_buf(),
                reason,
            }),
        }
    }

    /// True when the file's bytes name /etc/nsswitch.conf (a static glibc program).
    pub fn mentions_nsswitch(&self) -> Result<bool> {
        let find = |bytes: &[u8]| memchr::memmem::find(bytes, b"/etc/nsswitch.conf").is_some();
        match (&self.host_bytes, &self.real) {
            (Some(bytes), _) => Ok(find(bytes)),
            (None, Some(real)) => Ok(find(&self.root().contents(real)?)),
            (None, None) => Ok(false),
        }
    }

    /// Its symbols, through the analyser's cache for a file of the target;
    /// an error naming it when its tables cannot be read.
    pub fn symbols(&self, files: &Files, elf: &ElfFile, shown: &Path) -> Result<Arc<Symbols>> {
        match (&self.host_bytes, &self.real) {
            (Some(bytes), _) => elf
                .symbols(bytes)
                .map(Arc::new)
                .map_err(|e| Error::Malformed {
                    path: shown.to_path_buf(),
                    reason: match e {
                        ParseError::NotElf => "not an ELF file".into(),
                        ParseError::Malformed(m) => format!("its symbol tables: {m}"),
                    },
                }),
            (None, Some(real)) => files.symbols(real),
            (None, None) => Ok(Arc::default()),
        }
    }
}

/// file-missing or not-executable: the file is not there, or the kernel may not run it.
pub(super) fn file(s: &str, source: &Source<'_>) -> Result<Option<Finding>> {
    if source.real.is_none() {
        return Ok(Some(Finding::new(
            Code::FileMissing,
            exec_messages(s, "No such file or directory", "not found"),
            format!("{s} is not in the target"),
            format!("copy {s} into the image, or run the path where it is"),
        )));
    }
    if source.mode()?.is_some_and(|mode| mode & 0o111 == 0) {
        return Ok(Some(Finding::new(
            Code::NotExecutable,
            exec_messages(s, "Permission denied", "Permission denied"),
            format!("{s} has no execute permission"),
            format!("chmod +x {s} before copying it in (COPY --chmod=755 in a Dockerfile)"),
        )));
    }
    Ok(None)
}

/// The interpreter a `#!` line names: its first word.
pub(super) fn shebang_interpreter(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    text.trim_start()
        .split([' ', '\t'])
        .next()
        .unwrap_or("")
        .to_string()
}

/// shebang-crlf or script-interpreter-missing: the interpreter `interp` a
/// script's `#!` line names cannot be run from the target.
pub(super) fn shebang(s: &str, interp: &str, root: &Root) -> Option<Finding> {
    if interp.ends_with('\r') {
        let bare = interp.trim_end_matches('\r');
        return Some(Finding::new(
            Code::ShebangCrlf,
            vec![
                format!("runc: exec {s}: no such file or directory"),
                format!("chroot: failed to run command '{s}': No such file or directory"),
                format!("bash: {s}: {bare}^M: bad interpreter: No such file or directory"),
            ],
            format!("the #! line of {s} ends in CRLF, so the kernel looks for '{bare}\\r'"),
            format!("convert {s} to LF line ends (dos2unix, or git's core.autocrlf=false)"),
        ));
    }
    if matches!(root.resolve_file(Path::new(interp)), Ok(Some(_))) {
        return None;
    }
    Some(Finding::new(
        Code::ScriptInterpreterMissing,
        vec![
            format!("runc: exec {s}: no such file or directory"),
            format!("chroot: failed to run command '{s}': No such file or directory"),
            format!("bash: {s}: {interp}: bad interpreter: No such file or directory"),
        ],
        format!("{s} is a script for {interp}, which the target lacks"),
        format!("add {interp} to the image (elfroot bundle {s} brings it)"),
    ))
}

/// The messages of exec(2) failing with ENOEXEC.
fn enoexec(s: &str) -> Vec<String> {
    exec_messages(
        s,
        "Exec format error",
        "cannot execute binary file: Exec format error",
    )
}

/// exec-format: the file is neither ELF nor a script.
pub(super) fn not_elf(s: &str) -> Finding {
    Finding::new(
        Code::ExecFormat,
        enoexec(s),
        format!("{s} is neither an ELF program nor a #! script"),
        "add a #! line, or build the program for this target".into(),
    )
}

/// exec-format: the program is ELF of another architecture than the target's.
pub(super) fn architecture(
    s: &str,
    elf: &ElfFile,
    target: &Target,
    root: &Root,
) -> Option<Finding> {
    let (name, t) = target.arch.as_ref()?;
    if elf.compatible_with(t) {
        return None;
    }
    let mut messages = enoexec(s);
    if let Some(interp) = &elf.interp
        && !matches!(root.resolve_file(Path::new(interp)), Ok(Some(_)))
    {
        // A host with binfmt_misc (qemu-user) runs it, and then its own loader is missing.
        messages.push(format!(
            "under qemu-user emulation: chroot: failed to run command '{s}': No such file or directory"
        ));
    }
    let arch = arch::arch_name(elf);
    Some(Finding::new(
        Code::ExecFormat,
        messages,
        format!(
            "{s} is {} but the target is {name} ({})",
            elf.describe(),
            t.describe()
        ),
        format!(
            "build {s} for {name} (or bundle the {arch} build), or run the image on a {arch} machine"
        ),
    ))
}

/// static: a static program needs nothing to start; `nss` when it is a
/// static glibc program that still loads NSS modules.
pub(super) fn static_program(s: &str, nss: bool) -> Finding {
    let (cause, fix) = if nss {
        (
            format!("{s} is static and starts anywhere; it is a static glibc program, which still loads NSS modules (libnss_*.so.2) for user and host lookups"),
            "to look users or hosts up, the target needs /etc/nsswitch.conf, /etc/passwd and the matching glibc's libnss_* modules".into(),
        )
    } else {
        (
            format!("{s} is static: it needs no loader or library to start"),
            String::new(),
        )
    };
    Finding::new(Code::Static, Vec::new(), cause, fix)
}
