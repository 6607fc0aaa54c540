//! The library's error type: every variant names the file and the cause.
//!
//! "Library not found" is not an error: it is data in the closure. Only
//! failures to read or understand a file end up here.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What went wrong, and with which file.
#[derive(Debug)]
pub enum Error {
    /// An I/O failure while reading `path`.
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// `path` does not start with the ELF magic.
    NotElf {
        /// The file concerned.
        path: PathBuf,
    },
    /// `path` is ELF but its headers are truncated or inconsistent.
    Malformed {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// `path` is an ELF file of a kind the loader does not start (relocatable, core).
    Unsupported {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// Resolving `path` inside the root met too many symbolic links.
    SymlinkLoop {
        /// The file concerned.
        path: PathBuf,
    },
    /// `path` (or a link on the way to it) does not exist.
    NotFound {
        /// The file concerned.
        path: PathBuf,
    },
    /// A dangling symbolic link: `path` points to `target`, which does not exist.
    DanglingSymlink {
        /// The file concerned.
        path: PathBuf,
        /// The link's target, as written.
        target: PathBuf,
    },
    /// A configuration file the loader would read is invalid.
    Config {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// A root (directory, layers or image) that cannot be used; `source` says why.
    Root {
        /// The root, as it was given.
        root: String,
        /// Why it cannot be used.
        source: Box<Error>,
    },
    /// An image (OCI layout or archive) that is damaged or not what it claims.
    Image {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// An environment variable with a value that cannot be used.
    Environment {
        /// The variable's name.
        name: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// An output that exists and cannot be replaced; `reason` says why.
    OutputExists {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// A directory output that exists and is not empty (writing into it
    /// must be asked for).
    OutputNotEmpty {
        /// The file concerned.
        path: PathBuf,
    },
    /// A request that cannot be carried out as made (two outputs on one
    /// stream, a destination for several inputs...).
    Usage(String),
    /// A bug in elfroot: an invariant did not hold.
    Internal(String),
}

/// Shorthand for results carrying [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The file the error is about, when there is one.
    pub fn path(&self) -> Option<&PathBuf> {
        match self {
            Error::Io { path, .. }
            | Error::NotElf { path }
            | Error::Malformed { path, .. }
            | Error::Unsupported { path, .. }
            | Error::SymlinkLoop { path }
            | Error::NotFound { path }
            | Error::DanglingSymlink { path, .. }
            | Error::Config { path, .. }
            | Error::Image { path, .. }
            | Error::OutputExists { path, .. }
            | Error::OutputNotEmpty { path } => Some(path),
            Error::Root { source, .. } => source.path(),
            Error::Environment { .. } | Error::Usage(_) | Error::Internal(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), source),
            Error::NotElf { path } => write!(f, "{}: not an ELF file", path.display()),
            Error::Malformed { path, reason } => {
                write!(f, "{}: malformed ELF file: {}", path.display(), reason)
            }
            Error::Unsupported { path, reason } => write!(f, "{}: {}", path.display(), reason),
            Error::SymlinkLoop { path } => {
                write!(f, "{}: too many levels of symbolic links", path.display())
            }
            Error::NotFound { path } => write!(f, "{}: no such file or directory", path.display()),
            Error::DanglingSymlink { path, target } => write!(
                f,
                "{}: dangling symbolic link to {}",
                path.display(),
                target.display()
            ),
            Error::Config { path, reason } => write!(f, "{}: {}", path.display(), reason),
            Error::Root { root, source } => write!(f, "cannot use {root} as a root: {source}"),
            Error::Image { path, reason } => write!(f, "{}: {}", path.display(), reason),
            Error::Environment { name, reason } => write!(f, "{name}: {reason}"),
            Error::OutputExists { path, reason } => write!(f, "{}: {}", path.display(), reason),
            Error::OutputNotEmpty { path } => {
                write!(f, "{}: directory exists and is not empty", path.display())
            }
            Error::Usage(msg) => f.write_str(msg),
            Error::Internal(msg) => write!(f, "internal error (a bug in elfroot): {msg}"),
        }
    }
}

/// The message already names the cause (an I/O error's text included), so
/// no separate source is reported: `{:#}` would print it twice.
impl std::error::Error for Error {}

impl Error {
    /// The underlying I/O error kind, when there is one (a closed pipe, say).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            Error::Root { source, .. } => source.io_kind(),
            _ => None,
        }
    }
}
