//! What the doctor reports: a [`Finding`] per problem, with a stable
//! [`Code`], a [`Severity`], the messages the user would otherwise see, the
//! cause and a fix. The codes and their severities are listed in
//! docs/json.md, which a test keeps in step with [`Code`].

use std::fmt;

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The program will not start (or fails as soon as it uses the thing).
    Error,
    /// It starts, but something it does will fail.
    Warning,
    /// Worth knowing.
    Note,
}

impl Severity {
    /// Its word in JSON and in the human output: the one string table.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

crate::search::serialize_as_str!(Severity);

/// What a finding is about: a stable code, one per way a start fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The program is not in the target.
    FileMissing,
    /// It has no execute permission.
    NotExecutable,
    /// Its `#!` line ends in CRLF, so the kernel looks for `interpreter\r`.
    ShebangCrlf,
    /// The interpreter its `#!` line names is not in the target.
    ScriptInterpreterMissing,
    /// Neither ELF nor a script, or built for another architecture.
    ExecFormat,
    /// A static program: nothing to load (a note).
    Static,
    /// Its loader (PT_INTERP) is absent, of another architecture or unusable.
    InterpreterMissing,
    /// The target has no /etc/ld.so.cache, so ld.so does not search the
    /// directories its /etc/ld.so.conf lists (it never reads that file). An
    /// error when a library the program needs is only there, else a warning.
    LdCacheMissing,
    /// A DT_NEEDED library is missing, incompatible or invalid.
    LibraryMissing,
    /// A library lacks a symbol version the program or a library needs.
    VersionMissing,
    /// A symbol no loaded object defines. An error, except where glibc binds
    /// lazily: then the finding is a warning (see [`Code::severity`]).
    SymbolMissing,
    /// nsswitch.conf names a service whose module the target lacks.
    NssModuleMissing,
    /// The program looks users up, and the target has no /etc/passwd.
    NoPasswd,
    /// An object of the closure whose symbol tables cannot be read.
    ObjectDamaged,
    /// The program runs commands through /bin/sh, which the target lacks.
    ShellMissing,
    /// The program reads a file at run time (named by its imports or its
    /// data) that the target lacks.
    RuntimeFileMissing,
}

impl Code {
    /// Every code, in the order the checks run.
    pub const ALL: [Code; 16] = [
        Code::FileMissing,
        Code::NotExecutable,
        Code::ShebangCrlf,
        Code::ScriptInterpreterMissing,
        Code::ExecFormat,
        Code::Static,
        Code::InterpreterMissing,
        Code::LdCacheMissing,
        Code::LibraryMissing,
        Code::ObjectDamaged,
        Code::VersionMissing,
        Code::SymbolMissing,
        Code::NssModuleMissing,
        Code::NoPasswd,
        Code::ShellMissing,
        Code::RuntimeFileMissing,
    ];

    /// The stable string, as JSON and the human output show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::FileMissing => "file-missing",
            Code::NotExecutable => "not-executable",
            Code::ShebangCrlf => "shebang-crlf",
            Code::ScriptInterpreterMissing => "script-interpreter-missing",
            Code::ExecFormat => "exec-format",
            Code::InterpreterMissing => "interpreter-missing",
            Code::LdCacheMissing => "ld-cache-missing",
            Code::LibraryMissing => "library-missing",
            Code::VersionMissing => "version-missing",
            Code::SymbolMissing => "symbol-missing",
            Code::Static => "static",
            Code::NssModuleMissing => "nss-module-missing",
            Code::NoPasswd => "no-passwd",
            Code::ObjectDamaged => "object-damaged",
            Code::ShellMissing => "shell-missing",
            Code::RuntimeFileMissing => "runtime-file-missing",
        }
    }

    /// The severity of findings with this code. Each code has one, except
    /// that a [`Code::SymbolMissing`] finding is a [`Severity::Warning`]
    /// where glibc binds the symbol lazily (the program starts, and fails at
    /// the first call), and a [`Code::LdCacheMissing`] one where no library
    /// the program needs is missing because of it: a [`Finding`] carries its
    /// actual severity, and this is the default it starts from.
    pub fn severity(self) -> Severity {
        match self {
            Code::Static => Severity::Note,
            Code::NssModuleMissing
            | Code::NoPasswd
            | Code::ShellMissing
            | Code::RuntimeFileMissing => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::search::serialize_as_str!(Code);

/// One problem.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What it is about.
    pub code: Code,
    /// How bad it is: the code's own, but for lazily bound missing symbols
    /// and an ld-cache-missing that costs no library.
    pub severity: Severity,
    /// The message(s) the user would see at run time, as runc, chroot or a shell print them.
    pub messages: Vec<String>,
    /// Why, in terms of the files involved.
    pub cause: String,
    /// What to do about it (empty when nothing needs doing).
    pub fix: String,
}

impl Finding {
    /// A finding with the severity of its code.
    pub fn new(code: Code, messages: Vec<String>, cause: String, fix: String) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            messages,
            cause,
            fix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows `| code | severity | ... |` of the codes table in docs/json.md.
    fn documented_codes() -> Vec<(String, String)> {
        let doc = include_str!("../../docs/json.md");
        let table = doc
            .split("## Finding codes")
            .nth(1)
            .expect("docs/json.md has a '## Finding codes' section");
        table
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_string(), cells[2].to_string())
            })
            .collect()
    }

    #[test]
    fn docs_list_every_code_with_its_severity() {
        let expected: Vec<(String, String)> = Code::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), c.severity().as_str().to_string()))
            .collect();
        assert_eq!(documented_codes(), expected);
    }

    #[test]
    fn codes_and_severities_serialise_as_their_strings() {
        for code in Code::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap_or_default(),
                code.as_str()
            );
            assert_eq!(code.to_string(), code.as_str());
        }
        for sev in [Severity::Error, Severity::Warning, Severity::Note] {
            assert_eq!(serde_json::to_value(sev).unwrap_or_default(), sev.as_str());
        }
    }
}
