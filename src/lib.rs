//! elfroot: what an ELF file needs to start, computed the way glibc's ld.so
//! and musl's loader would, without executing anything (but for [`trace`],
//! which runs the command it is given, on purpose).
//!
//! Data flows one way, each stage using only those before it:
//!
//! [`elf`] (reads ELF files; the only user of goblin) -> [`root`] (every file
//! access, confined to a root: a directory, layers, an image) -> [`files`]
//! (each file read and parsed once) -> [`search`] (the loaders' rules) ->
//! [`profile`] (which libc loads a program, what it loads at run time) ->
//! [`closure`] (the graph of what gets loaded) -> [`discover`] (the files
//! the closure's objects open at run time, planned in a [`layout`]) ->
//! [`report`] (the closures of all inputs) -> [`doctor`] (why a program would not start) ->
//! [`bundle`] (a minimal root file system, checked by the doctor) ->
//! [`output`], [`archive`] and [`oci`] (writers). [`packages`] (which
//! package of the root's dpkg or apk database owns each file) is a stage
//! after [`root`] that uses nothing else. [`trace`] (the one command that
//! runs something: it records what a command opens, as a profile that
//! [`bundle`] can add) uses [`root`] and [`files`].
//!
//! [`config`] settles the root and the environment; [`inspect`],
//! [`doctor::run`], [`bundle::run`] and [`packages::run`] are the commands,
//! one call each, returning an [`outcome::Outcome`]. The library never prints.

#![warn(missing_docs)]

pub mod archive;
pub mod bundle;
pub mod closure;
pub mod config;
pub mod discover;
pub mod doctor;
pub mod elf;
pub mod error;
pub mod files;
pub mod inspect;
pub mod layout;
pub mod oci;
pub mod outcome;
pub mod output;
pub mod packages;
pub mod profile;
pub mod progress;
pub mod report;
pub mod root;
pub mod sbom;
pub mod script;
pub mod search;
pub mod slim;
#[doc(hidden)]
pub mod testing;
pub mod trace;

pub use closure::{Analyzer, Closure, Libc, Options};
pub use error::{Error, Result};
pub use report::{Report, analyze};
pub use root::Root;
