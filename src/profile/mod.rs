//! What each libc and runtime loads at run time, beyond what DT_NEEDED says.
//!
//! The stage has two layers, on either side of [`closure`](crate::closure):
//! - [`libc`]: whose loader starts a program. It is a property of the ELF file
//!   and the root, known before anything is loaded, and `closure` uses it to
//!   choose the search rules; so it uses only `elf`, `files` and `root`.
//! - [`nss`] and [`extras`]: what that libc (and the runtime around it: TLS
//!   libraries, time zones, locales) opens later. These take closures as
//!   input; `bundle` uses them to put the files in, `doctor` to say which are
//!   missing.
//!
//! Nothing here uses `bundle`, `doctor` or `output`, and `libc` never uses `closure`.

pub mod extras;
pub mod imports;
pub mod libc;
pub mod nss;

pub use extras::Extra;
pub use libc::Libc;
