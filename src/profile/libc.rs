//! Whose loader starts a program, glibc's or musl's: read from the ELF file
//! (its PT_INTERP, its DT_NEEDED) and from what the root has at the loader's
//! path. The closure stage picks the search rules with it, so this module
//! uses only `elf`, `files` and `root`.

use std::path::Path;

use crate::elf::{ElfFile, arch};
use crate::files::{Files, Probe};

/// Which loader's rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Libc {
    /// GNU libc: ld.so (`ld-linux-*.so.*`, `ld64.so.*`) and `libc.so.6`.
    Glibc,
    /// musl: one file (`ld-musl-<arch>.so.1`) is both the loader and libc.
    Musl,
}

impl Libc {
    /// Its name in JSON and in messages: the one string table.
    pub fn as_str(self) -> &'static str {
        match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
        }
    }
}

crate::search::serialize_as_str!(Libc);

/// Whose rules load the program: the loader's. That is musl when the program
/// names a musl loader, or when its PT_INTERP is in fact musl's loader in this
/// root (a `/lib64/ld-linux-x86-64.so.2` link to it); glibc otherwise. A
/// library (no PT_INTERP) has the libc it needs ([`needed_libc`]), if any.
pub fn libc_of(files: &Files, elf: &ElfFile) -> Option<Libc> {
    let Some(interp) = &elf.interp else {
        return needed_libc(files, elf);
    };
    if arch::musl_arch_from_interp(interp).is_some() {
        return Some(Libc::Musl);
    }
    Some(loader_libc(files, interp).unwrap_or(Libc::Glibc))
}

/// The libc an object's DT_NEEDED names: musl's (`libc.musl-<arch>.so.1`,
/// or `libc.so` in a root with a musl loader), glibc's (`libc.so.<n>`), or none.
pub fn needed_libc(files: &Files, elf: &ElfFile) -> Option<Libc> {
    let musl = elf.needed.iter().any(|n| {
        n.starts_with("libc.musl-") || (n == "libc.so" && musl_loader(files, elf).is_some())
    });
    if musl {
        Some(Libc::Musl)
    } else if elf.needed.iter().any(|n| n.starts_with("libc.so.")) {
        Some(Libc::Glibc)
    } else {
        None
    }
}

/// What the file at a loader path in this root is: glibc's ld.so has a SONAME
/// (ld-linux-*.so.*, ld64.so.*, ld.so.*), musl's loader (its libc.so) has none.
/// None when there is no ELF file at that path.
pub fn loader_libc(files: &Files, interp: &str) -> Option<Libc> {
    let real = files.root().resolve_file(Path::new(interp)).ok()??;
    match files.probe(&real) {
        Probe::Elf(f) => Some(match (&f.soname, real.to_string_lossy()) {
            (None, _) => Libc::Musl,
            (Some(s), _) if s.starts_with("libc.musl") || s.starts_with("ld-musl") => Libc::Musl,
            (Some(_), p) if p.contains("musl") => Libc::Musl,
            _ => Libc::Glibc,
        }),
        _ => None,
    }
}

/// The musl loader of the root for objects like `elf`, if it has one: the one
/// its `libc.musl-<arch>.so.1` names, else the first `/lib/ld-musl-*.so.1`.
pub fn musl_loader(files: &Files, elf: &ElfFile) -> Option<String> {
    if let Some(arch) = elf
        .needed
        .iter()
        .find_map(|n| n.strip_prefix("libc.musl-")?.strip_suffix(".so.1"))
    {
        return Some(format!("/lib/ld-musl-{arch}.so.1"));
    }
    let names = files.root().list_dir(Path::new("/lib")).ok()?;
    names.iter().find_map(|n| {
        let n = n.to_string_lossy();
        let path = format!("/lib/{n}");
        arch::musl_arch_from_interp(&path)?;
        Some(path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libc_serialises_as_its_name() {
        for libc in [Libc::Glibc, Libc::Musl] {
            let json = serde_json::to_value(libc).unwrap_or_default();
            assert_eq!(json, libc.as_str());
            assert_eq!(format!("{libc:?}").to_lowercase(), libc.as_str());
        }
    }
}
