//! elfroot: what an ELF file needs to start, computed the way glibc's ld.so
//! and musl's loader would, without executing anything.
//!
//! Data flows one way: [`elf`] reads files, [`root`] confines every path to
//! a root file system, [`search`] applies the loaders' rules, [`closure`]
//! builds the graph of what gets loaded, [`report`] gathers the closures of
//! all inputs, and [`output`] writes them out.

pub mod archive;
pub mod bundle;
pub mod closure;
pub mod config;
pub mod doctor;
pub mod elf;
pub mod error;
pub mod files;
pub mod inspect;
pub mod oci;
pub mod outcome;
pub mod output;
pub mod profile;
pub mod report;
pub mod root;
pub mod search;
#[doc(hidden)]
pub mod testing;

pub use closure::{Analyzer, Closure, Libc, Options};
pub use error::{Error, Result};
pub use report::{Report, analyze};
pub use root::Root;
