//! The loaders' search rules: given a DT_NEEDED name and who needs it, where
//! would glibc's ld.so or musl's loader find it, and what did it try.
//!
//! This stage reads files only through [`Files`] and returns plain data; the
//! order of the steps lives in [`glibc`] and [`musl`].

pub mod glibc;
pub mod hwcaps;
pub mod ld_so_cache;
pub mod ld_so_conf;
pub mod musl;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::elf::ElfFile;
use crate::files::{Files, Probe};
use crate::root::Lookup;

/// How an object came to be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A file named on the command line.
    Input,
    /// The program's PT_INTERP.
    Interpreter,
    /// A DT_NEEDED name containing '/', used as a path.
    Path,
    /// An object already loaded under that name or SONAME.
    AlreadyLoaded,
    /// A DT_RPATH directory of the needing object or of one that loaded it.
    Rpath,
    /// An LD_LIBRARY_PATH directory.
    LdLibraryPath,
    /// A DT_RUNPATH directory of the needing object.
    Runpath,
    /// The root's /etc/ld.so.cache.
    Cache,
    /// A directory of the root's /etc/ld.so.conf. No search gives it any
    /// more: ld.so never reads ld.so.conf, so in a root without a cache its
    /// directories are not searched.
    Conf,
    /// The loader's built-in directories.
    Default,
    /// musl: a libc name that is the loader itself.
    Loader,
}

impl Via {
    /// The word used in JSON and in the tree output: the one string table.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Input => "input",
            Via::Interpreter => "interpreter",
            Via::Path => "path",
            Via::AlreadyLoaded => "already-loaded",
            Via::Rpath => "rpath",
            Via::LdLibraryPath => "ld_library_path",
            Via::Runpath => "runpath",
            Via::Cache => "cache",
            Via::Conf => "conf",
            Via::Default => "default",
            Via::Loader => "loader",
        }
    }
}

/// Implements `Serialize` for an enum of words through its `as_str()`, so
/// that the words are written down once, in `as_str()`.
macro_rules! serialize_as_str {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use serialize_as_str;

serialize_as_str!(Via);

/// What one attempt gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum TryResult {
    /// Nothing at that path.
    Absent,
    /// A directory or a special file.
    NotAFile,
    /// An ELF file of another class, byte order or machine: skipped.
    WrongArch {
        /// What it is, as [`ElfFile::describe`] says.
        found: String,
    },
    /// Not an ELF file: the loader stops there.
    NotElf,
    /// An ELF file too damaged to load: the loader stops there.
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// A file that could not be read: skipped.
    Unreadable {
        /// The I/O error.
        reason: String,
    },
    /// The cache has no entry for the name.
    NoCacheEntry,
}

impl TryResult {
    /// A few words for the tree output ("wrong architecture (...)").
    pub fn describe(&self) -> String {
        match self {
            TryResult::Absent => "absent".into(),
            TryResult::NotAFile => "not a regular file".into(),
            TryResult::WrongArch { found } => format!("wrong architecture ({found})"),
            TryResult::NotElf => "invalid ELF header".into(),
            TryResult::Malformed { reason } => format!("malformed: {reason}"),
            TryResult::Unreadable { reason } => format!("unreadable: {reason}"),
            TryResult::NoCacheEntry => "no entry".into(),
        }
    }
}

/// One path the loader would try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tried {
    /// The path tried, as the loader would open it.
    pub path: String,
    /// The search step that tried it.
    pub via: Via,
    /// For a relative `path`: the directory it was resolved against (the
    /// process's current directory, [`Options::cwd`](crate::closure::Options::cwd)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_to: Option<String>,
    /// What was there.
    #[serde(flatten)]
    pub result: TryResult,
}

/// A glibc-hwcaps (or legacy hwcap) variant and the plain library it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hwcaps {
    /// The subdirectory, relative to the searched directory (`glibc-hwcaps/x86-64-v3`).
    pub subdir: String,
    /// The baseline library at the same name outside the subdirectory, if there is one.
    pub baseline: Option<String>,
}

/// A file the loader would open.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The path as the loader opens it.
    pub path: String,
    /// Its canonical path inside the root.
    pub real: PathBuf,
    /// Its ELF header and dynamic section.
    pub elf: Arc<ElfFile>,
    /// The search step that found it.
    pub via: Via,
    /// The hwcaps subdirectory it is in, if any.
    pub hwcaps: Option<Hwcaps>,
    /// For a relative `path`: the directory it was resolved against.
    pub relative_to: Option<String>,
}

/// The end of a search.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The file the loader would map.
    Found(Candidate),
    /// Nothing usable anywhere.
    NotFound,
    /// The loader would stop at a file it cannot use (not ELF, truncated).
    Invalid {
        /// The file it stops at.
        path: String,
        /// Why it cannot use it.
        reason: String,
    },
}

/// A search's result and every path it tried, in order.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// Where it ended.
    pub outcome: Outcome,
    /// Every path tried on the way, in order.
    pub tried: Vec<Tried>,
}

/// One object of the chain that leads from the needing object up to the program,
/// with what its search paths need: its dynamic tags and its `$ORIGIN`.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// The object's ELF header and dynamic section.
    pub elf: &'a ElfFile,
    /// The directory `$ORIGIN` stands for in its search paths.
    pub origin: &'a str,
}

/// What to do after trying one path.
pub(crate) enum Step {
    Found(Candidate),
    Next,
    Stop { path: String, reason: String },
}

/// The search state shared by the steps of one lookup.
pub(crate) struct Prober<'a> {
    pub files: &'a Files,
    /// The process's current directory, which relative paths start from.
    pub cwd: &'a str,
    /// The program being loaded: candidates must match its class, byte order and machine.
    pub want: &'a ElfFile,
    pub tried: Vec<Tried>,
}

impl<'a> Prober<'a> {
    pub fn new(files: &'a Files, cwd: &'a str, want: &'a ElfFile) -> Self {
        Prober {
            files,
            cwd,
            want,
            tried: Vec::new(),
        }
    }

    /// The directory a relative `path` is resolved against; None for an absolute one.
    fn relative_to(&self, path: &str) -> Option<String> {
        (!path.starts_with('/')).then(|| self.cwd.to_string())
    }

    /// Where `path` is in the root: as it is, or for a relative path, under the cwd.
    fn place(&self, path: &str) -> PathBuf {
        if path.starts_with('/') {
            PathBuf::from(path)
        } else {
            PathBuf::from(join(self.cwd, path))
        }
    }

    /// Tries one path; `record` says whether an absent file goes into the list.
    pub fn file(&mut self, path: &str, via: Via, record: bool) -> Step {
        let lookup = match self.files.root().lookup(&self.place(path)) {
            Ok(l) => l,
            Err(e) => {
                self.note(
                    path,
                    via,
                    TryResult::Unreadable {
                        reason: e.to_string(),
                    },
                );
                return Step::Next;
            }
        };
        let real = match lookup {
            Lookup::File(real) => real,
            Lookup::Absent => {
                if record {
                    self.note(path, via, TryResult::Absent);
                }
                return Step::Next;
            }
            Lookup::Dir(_) | Lookup::Other(_) => {
                self.note(path, via, TryResult::NotAFile);
                return Step::Next;
            }
        };
        match self.files.probe(&real) {
            Probe::Elf(elf) if elf.compatible_with(self.want) => Step::Found(Candidate {
                path: path.to_string(),
                real,
                elf,
                via,
                hwcaps: None,
                relative_to: self.relative_to(path),
            }),
            Probe::Elf(elf) => {
                self.note(
                    path,
                    via,
                    TryResult::WrongArch {
                        found: elf.describe(),
                    },
                );
                Step::Next
            }
            Probe::NotElf => self.stop(path, via, TryResult::NotElf),
            Probe::Malformed(reason) => self.stop(path, via, TryResult::Malformed { reason }),
            Probe::Unreadable(reason) => {
                self.note(path, via, TryResult::Unreadable { reason });
                Step::Next
            }
        }
    }

    /// Tries `dir/sub/name` for each hwcaps `sub` (best first), then `dir/name`.
    pub fn dir(&mut self, dir: &str, name: &str, subdirs: &[String], via: Via) -> Step {
        let root = self.files.root();
        for sub in subdirs.iter().filter(|s| !s.is_empty()) {
            let subdir = join(dir, sub);
            if !matches!(root.resolve_dir(&self.place(&subdir)), Ok(Some(_))) {
                continue;
            }
            match self.file(&join(&subdir, name), via, false) {
                Step::Found(mut c) => {
                    let base = join(dir, name);
                    let baseline = matches!(root.resolve_file(&self.place(&base)), Ok(Some(_)))
                        .then_some(base);
                    c.hwcaps = Some(Hwcaps {
                        subdir: sub.clone(),
                        baseline,
                    });
                    return Step::Found(c);
                }
                Step::Next => {}
                stop => return stop,
            }
        }
        if !matches!(root.resolve_dir(&self.place(dir)), Ok(Some(_))) {
            self.note(&join(dir, name), via, TryResult::Absent);
            return Step::Next;
        }
        self.file(&join(dir, name), via, true)
    }

    pub fn note(&mut self, path: &str, via: Via, result: TryResult) {
        self.tried.push(Tried {
            path: path.to_string(),
            via,
            relative_to: self.relative_to(path),
            result,
        });
    }

    fn stop(&mut self, path: &str, via: Via, result: TryResult) -> Step {
        let reason = result.describe();
        self.note(path, via, result);
        Step::Stop {
            path: path.to_string(),
            reason,
        }
    }

    /// Turns the last step into a result carrying everything tried.
    pub fn finish(self, step: Option<Step>) -> SearchResult {
        let outcome = match step {
            Some(Step::Found(c)) => Outcome::Found(c),
            Some(Step::Stop { path, reason }) => Outcome::Invalid { path, reason },
            Some(Step::Next) | None => Outcome::NotFound,
        };
        SearchResult {
            outcome,
            tried: self.tried,
        }
    }
}

/// `dir/name`, without doubling a slash; an empty `dir` (glibc's current
/// directory) leaves `name` as it is, as ld.so's string concatenation does.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        return dir.to_string();
    }
    if dir.is_empty() {
        return name.to_string();
    }
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Expands `$ORIGIN`, `$LIB` and `$PLATFORM` (also `${...}`) in one search-path
/// element. None when the element must be dropped: a token whose value is unknown.
pub fn expand_tokens(
    s: &str,
    origin: Option<&str>,
    lib: Option<&str>,
    platform: Option<&str>,
) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (token, len) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let value = match token {
            "ORIGIN" => Some(origin),
            "LIB" => Some(lib),
            "PLATFORM" => Some(platform),
            _ => None,
        };
        match value {
            Some(Some(v)) => {
                out.push_str(v);
                rest = &after[len..];
            }
            Some(None) => return None,
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_serialises_as_its_word() {
        for via in [
            Via::Input,
            Via::Interpreter,
            Via::Path,
            Via::AlreadyLoaded,
            Via::Rpath,
            Via::LdLibraryPath,
            Via::Runpath,
            Via::Cache,
            Via::Conf,
            Via::Default,
            Via::Loader,
        ] {
            let json = serde_json::to_value(via).unwrap_or_default();
            assert_eq!(json, via.as_str(), "{via:?}");
        }
    }

    #[test]
    fn expands_tokens_in_both_forms() {
        let e = |s| expand_tokens(s, Some("/o"), Some("lib/x86_64-linux-gnu"), Some("x86_64"));
        assert_eq!(e("$ORIGIN/../lib").as_deref(), Some("/o/../lib"));
        assert_eq!(
            e("${ORIGIN}/x/$LIB/${PLATFORM}").as_deref(),
            Some("/o/x/lib/x86_64-linux-gnu/x86_64")
        );
        assert_eq!(e("/a/$ORIGINAL").as_deref(), Some("/a/$ORIGINAL"));
        assert_eq!(expand_tokens("$PLATFORM/x", None, None, None), None);
        assert_eq!(e("/no/tokens").as_deref(), Some("/no/tokens"));
    }
}
