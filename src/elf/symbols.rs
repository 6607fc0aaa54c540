//! Dynamic symbols and symbol versions, read straight from PT_DYNAMIC
//! (DT_SYMTAB, DT_STRTAB, DT_GNU_HASH or DT_HASH for the count, DT_VERSYM,
//! DT_VERNEED, DT_VERDEF), as the loader reads them: no section headers,
//! no relocations, so a thousand programs are read in a blink.

use std::collections::HashMap;

use rustc_hash::FxHashSet;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::dynamic::{self, Dynamic};
use goblin::elf::program_header::ProgramHeader;
use goblin::elf::{Elf, sym};

use super::{ParseError, vaddr_to_offset};

const DT_VERSYM: u64 = 0x6fff_fff0;
const DT_VERDEF: u64 = 0x6fff_fffc;
const DT_VERDEFNUM: u64 = 0x6fff_fffd;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
const DT_GNU_HASH: u64 = 0x6fff_fef5;

/// An imported symbol and the version it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub name: String,
    pub version: Option<String>,
}

/// The dynamic symbols and symbol versions of one object (only the bundler
/// and the doctor need them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Symbols {
    /// Names of the dynamic symbols the object defines.
    pub defined: FxHashSet<String>,
    /// Undefined, non-weak dynamic symbols.
    pub imports: Vec<Import>,
    /// DT_VERNEED: for each needed file, the version names required from it.
    pub needs: Vec<(String, Vec<String>)>,
    /// DT_VERDEF: the version names the object defines (its base name excluded).
    pub versions: Vec<String>,
}

struct Image<'a> {
    bytes: &'a [u8],
    little: bool,
}

impl Image<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn str(&self, strtab: usize, off: u32) -> Option<&str> {
        let rest = self.bytes.get(strtab.checked_add(off as usize)?..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }
}

/// Reads the dynamic symbol table and the version definitions and needs.
pub fn symbols(bytes: &[u8]) -> Result<Symbols, ParseError> {
    let hdr = Elf::parse_header(bytes).map_err(|e| ParseError::Malformed(e.to_string()))?;
    let is64 = hdr.e_ident[4] == 2;
    let little = hdr.e_ident[5] != 2;
    let ctx = Ctx::new(
        if is64 {
            Container::Big
        } else {
            Container::Little
        },
        if little { Endian::Little } else { Endian::Big },
    );
    let phdrs = ProgramHeader::parse(bytes, hdr.e_phoff as usize, hdr.e_phnum as usize, ctx)
        .map_err(|e| ParseError::Malformed(e.to_string()))?;
    let Some(dynamic) =
        Dynamic::parse(bytes, &phdrs, ctx).map_err(|e| ParseError::Malformed(e.to_string()))?
    else {
        return Ok(Symbols::default());
    };
    let tag = |t: u64| dynamic.dyns.iter().find(|d| d.d_tag == t).map(|d| d.d_val);
    let off = |t: u64| {
        tag(t)
            .and_then(|a| vaddr_to_offset(&phdrs, a))
            .map(|o| o as usize)
    };
    let img = Image { bytes, little };
    let (Some(symtab), Some(strtab)) = (off(dynamic::DT_SYMTAB), off(dynamic::DT_STRTAB)) else {
        return Ok(Symbols::default());
    };
    let count = if let Some(h) = off(DT_GNU_HASH) {
        gnu_hash_count(&img, h, is64)
    } else if let Some(h) = off(dynamic::DT_HASH) {
        img.u32(h + 4).map(|n| n as usize)
    } else {
        None
    }
    .unwrap_or(0);
    let mut out = Symbols::default();
    let mut version_names: HashMap<u16, String> = HashMap::new();
    if let (Some(mut at), Some(n)) = (off(DT_VERNEED), tag(DT_VERNEEDNUM)) {
        for _ in 0..n.min(1024) {
            let (Some(cnt), Some(file), Some(aux), Some(next)) = (
                img.u16(at + 2),
                img.u32(at + 4),
                img.u32(at + 8),
                img.u32(at + 12),
            ) else {
                break;
            };
            let mut names = Vec::new();
            let mut a = at + aux as usize;
            for _ in 0..cnt.min(1024) {
                let (Some(other), Some(name), Some(anext)) =
                    (img.u16(a + 6), img.u32(a + 8), img.u32(a + 12))
                else {
                    break;
                };
                let n = img.str(strtab, name).unwrap_or("").to_string();
                version_names.insert(other, n.clone());
                names.push(n);
                if anext == 0 {
                    break;
                }
                a += anext as usize;
            }
            out.needs
                .push((img.str(strtab, file).unwrap_or("").to_string(), names));
            if next == 0 {
                break;
            }
            at += next as usize;
        }
    }
    if let (Some(mut at), Some(n)) = (off(DT_VERDEF), tag(DT_VERDEFNUM)) {
        for _ in 0..n.min(4096) {
            let (Some(flags), Some(aux), Some(next)) =
                (img.u16(at + 2), img.u32(at + 12), img.u32(at + 16))
            else {
                break;
            };
            if flags & 1 == 0
                && let Some(name) = img.u32(at + aux as usize)
            {
                out.versions
                    .push(img.str(strtab, name).unwrap_or("").to_string());
            }
            if next == 0 {
                break;
            }
            at += next as usize;
        }
    }
    let versym = off(DT_VERSYM);
    let entsize = if is64 { 24 } else { 16 };
    for i in 1..count {
        let at = symtab + i * entsize;
        let (name, info, shndx) = if is64 {
            (img.u32(at), img.bytes.get(at + 4).copied(), img.u16(at + 6))
        } else {
            (
                img.u32(at),
                img.bytes.get(at + 12).copied(),
                img.u16(at + 14),
            )
        };
        let (Some(name), Some(info), Some(shndx)) = (name, info, shndx) else {
            break;
        };
        let Some(n) = img.str(strtab, name).filter(|n| !n.is_empty()) else {
            continue;
        };
        let bind = info >> 4;
        if shndx != 0 {
            if matches!(bind, sym::STB_GLOBAL | sym::STB_WEAK | sym::STB_GNU_UNIQUE) {
                out.defined.insert(n.to_string());
            }
        } else if bind != sym::STB_WEAK {
            let version = versym
                .and_then(|v| img.u16(v + 2 * i))
                .map(|v| v & 0x7fff)
                .filter(|&v| v > 1)
                .and_then(|v| version_names.get(&v).cloned());
            out.imports.push(Import {
                name: n.to_string(),
                version,
            });
        }
    }
    Ok(out)
}

/// The number of dynamic symbols, from a GNU hash table: one past the
/// highest symbol index any chain reaches.
fn gnu_hash_count(img: &Image<'_>, at: usize, is64: bool) -> Option<usize> {
    let nbuckets = img.u32(at)? as usize;
    let symoffset = img.u32(at + 4)? as usize;
    let bloom_size = img.u32(at + 8)? as usize;
    let buckets = at + 16 + bloom_size * if is64 { 8 } else { 4 };
    let chains = buckets + nbuckets * 4;
    let mut max = 0;
    for b in 0..nbuckets {
        max = max.max(img.u32(buckets + 4 * b)? as usize);
    }
    if max < symoffset {
        return Some(symoffset);
    }
    let mut i = max;
    while img.u32(chains + 4 * (i - symoffset))? & 1 == 0 {
        i += 1;
    }
    Some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libc_versions_and_a_programs_needs() {
        let Ok(libc) = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6") else {
            eprintln!("skipping: no x86_64 glibc here");
            return;
        };
        let s = symbols(&libc).unwrap();
        assert!(s.versions.iter().any(|v| v == "GLIBC_2.34"));
        assert!(s.defined.contains("printf") && s.defined.contains("__printf_chk"));
        let ls = std::fs::read("/usr/bin/ls").unwrap();
        let s = symbols(&ls).unwrap();
        assert!(
            s.needs
                .iter()
                .any(|(f, v)| f == "libc.so.6" && v.iter().any(|x| x.starts_with("GLIBC_2.")))
        );
        assert!(s.imports.iter().any(|i| {
            i.name == "opendir"
                && i.version
                    .as_deref()
                    .is_some_and(|v| v.starts_with("GLIBC_"))
        }));
        // Agrees with a full parse.
        let full = Elf::parse(&ls).unwrap();
        let undefined = full
            .dynsyms
            .iter()
            .filter(|x| x.st_shndx == 0 && x.st_bind() != sym::STB_WEAK && x.st_name != 0)
            .count();
        assert_eq!(s.imports.len(), undefined);
    }
}
