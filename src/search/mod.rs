//! The loaders' search rules: given a DT_NEEDED name and who needs it, where
//! would glibc's ld.so or musl's loader find it, and what did it try.
//!
//! This stage reads files only through [`Files`](crate::files::Files) and
//! returns plain data; the order of the steps lives in [`glibc`] and
//! [`musl`], the trying of one path in `prober`.

pub mod glibc;
pub mod hwcaps;
pub mod ld_so_cache;
pub mod ld_so_conf;
pub mod musl;
mod prober;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::elf::ElfFile;
pub(crate) use prober::{Prober, Step, join};

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
