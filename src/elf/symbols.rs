//! Dynamic symbols and symbol versions, read straight from the tables
//! PT_DYNAMIC points at (DT_SYMTAB, DT_STRTAB, DT_GNU_HASH or DT_HASH for
//! the count, DT_VERSYM, DT_VERNEED, DT_VERDEF), as the loader reads them:
//! no section headers, no relocations, so a thousand programs are read in a
//! blink.
//!
//! [`ElfFile::parse`] finds the tables' file offsets ([`Tables`]) while it
//! reads the dynamic section, so [`ElfFile::symbols`] parses no header
//! again. The records themselves are in [`super::records`].

use std::collections::HashMap;

use goblin::elf::dynamic::{
    self, DT_GNU_HASH, DT_VERDEF, DT_VERDEFNUM, DT_VERNEED, DT_VERNEEDNUM, DT_VERSYM, Dyn,
};
use goblin::elf::program_header::ProgramHeader;
use goblin::elf::section_header::SHN_UNDEF;
use goblin::elf::sym::{self, st_bind};
use goblin::elf::symver::{VER_FLG_BASE, VER_NDX_GLOBAL, VERSYM_VERSION};
use rustc_hash::FxHashSet;

use super::records::{Chain, GnuHashHeader, Image, Sym, Verdaux, Verdef, Vernaux, Verneed};
use super::{ElfFile, ParseError, has_elf_magic, vaddr_to_offset};

/// At most this many DT_VERNEED entries, and Vernaux entries per file, are read.
const MAX_VERNEED: u64 = 1024;
/// At most this many DT_VERDEF entries are read.
const MAX_VERDEF: u64 = 4096;

/// An imported symbol and the version it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The symbol's name.
    pub name: String,
    /// The version it is bound to (`GLIBC_2.34`), from DT_VERSYM and DT_VERNEED.
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

/// A version table (DT_VERNEED or DT_VERDEF): its file offset and its
/// entry count (DT_VERNEEDNUM or DT_VERDEFNUM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct VersionTable {
    at: usize,
    count: u64,
}

/// The file offsets of the tables symbol reading needs, each None when its
/// tag is absent or its address is in no loaded segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tables {
    symtab: Option<usize>,
    strtab: Option<usize>,
    gnu_hash: Option<usize>,
    hash: Option<usize>,
    versym: Option<usize>,
    verneed: Option<VersionTable>,
    verdef: Option<VersionTable>,
}

impl Tables {
    /// Where the tables named by the dynamic section `dyns` are (the first
    /// entry of each tag counts, as for the loader).
    pub(super) fn find(dyns: &[Dyn], phdrs: &[ProgramHeader]) -> Tables {
        // One pass over the entries for the nine tags, not one per tag.
        const TAGS: [u64; 9] = [
            dynamic::DT_SYMTAB,
            dynamic::DT_STRTAB,
            DT_GNU_HASH,
            dynamic::DT_HASH,
            DT_VERSYM,
            DT_VERNEED,
            DT_VERNEEDNUM,
            DT_VERDEF,
            DT_VERDEFNUM,
        ];
        let mut first = [None; TAGS.len()];
        for d in dyns {
            if let Some(i) = TAGS.iter().position(|&t| t == d.d_tag) {
                first[i].get_or_insert(d.d_val);
            }
        }
        let tag = |t: u64| TAGS.iter().position(|&x| x == t).and_then(|i| first[i]);
        let off = |t: u64| {
            tag(t)
                .and_then(|a| vaddr_to_offset(phdrs, a))
                .and_then(|o| usize::try_from(o).ok())
        };
        let linked = |t: u64, num: u64| {
            off(t)
                .zip(tag(num))
                .map(|(at, count)| VersionTable { at, count })
        };
        Tables {
            symtab: off(dynamic::DT_SYMTAB),
            strtab: off(dynamic::DT_STRTAB),
            gnu_hash: off(DT_GNU_HASH),
            hash: off(dynamic::DT_HASH),
            versym: off(DT_VERSYM),
            verneed: linked(DT_VERNEED, DT_VERNEEDNUM),
            verdef: linked(DT_VERDEF, DT_VERDEFNUM),
        }
    }
}

/// The one-shot form: reads the dynamic symbols of `bytes` with
/// [`ElfFile::parse`] then [`ElfFile::symbols`], for a caller holding bytes
/// it has not parsed. On a file parsed already, call [`ElfFile::symbols`].
pub fn symbols(bytes: &[u8]) -> Result<Symbols, ParseError> {
    ElfFile::parse(bytes)?.symbols(bytes)
}

impl ElfFile {
    /// Reads the dynamic symbol table and the version definitions and needs
    /// from `bytes`, the contents this was parsed from, through the table
    /// offsets found by [`ElfFile::parse`]. A symbol table or string table
    /// that extends past the end of the file is an error (the loader would
    /// read past it too); version chains cut short end where they end.
    pub fn symbols(&self, bytes: &[u8]) -> Result<Symbols, ParseError> {
        let mut out = Symbols::default();
        let Some(table) = self.symbol_table(bytes)? else {
            return Ok(out);
        };
        let version_names =
            read_needs(table.img, table.strtab, self.tables.verneed, &mut out.needs);
        out.versions = read_definitions(table.img, table.strtab, self.tables.verdef);
        table.read(&version_names, &mut out);
        Ok(out)
    }

    /// The names of [`Symbols::imports`] alone, without versions: what a
    /// caller that only asks "does it call getservbyname?" needs, for a
    /// fraction of the work (no definition is named or stored). The same
    /// checks and errors as [`ElfFile::symbols`].
    pub fn import_names(&self, bytes: &[u8]) -> Result<Vec<String>, ParseError> {
        let Some(table) = self.symbol_table(bytes)? else {
            return Ok(Vec::new());
        };
        let mut names = Vec::new();
        table.each(|_, s| {
            if is_import(s)
                && let Some(n) = table.name(s)
            {
                names.push(n.to_string());
            }
        });
        Ok(names)
    }

    /// The dynamic symbol table of `bytes` (the contents this was parsed
    /// from), checked to lie within them; None when there is none.
    fn symbol_table<'a>(&self, bytes: &'a [u8]) -> Result<Option<SymbolTable<'a>>, ParseError> {
        if !has_elf_magic(bytes) {
            return Err(ParseError::NotElf);
        }
        let t = &self.tables;
        let (Some(symtab), Some(strtab)) = (t.symtab, t.strtab) else {
            return Ok(None);
        };
        let img = Image::new(bytes, self.class, self.data);
        let count = symbol_count(&img, t)
            .ok_or_else(|| ParseError::Malformed("the symbol hash table is cut short".into()))?;
        let end = count
            .checked_mul(Sym::size(&img))
            .and_then(|n| n.checked_add(symtab));
        if end.is_none_or(|end| end > bytes.len()) {
            return Err(ParseError::Malformed(format!(
                "the dynamic symbol table ({count} entries) extends past the end of the file"
            )));
        }
        if strtab >= bytes.len() {
            return Err(ParseError::Malformed(
                "DT_STRTAB is past the end of the file".into(),
            ));
        }
        Ok(Some(SymbolTable {
            img,
            symtab,
            strtab,
            versym: t.versym,
            count,
        }))
    }
}

/// Walks DT_VERNEED into `needs` and returns the version names by the index
/// DT_VERSYM uses for them.
fn read_needs(
    img: Image<'_>,
    strtab: usize,
    verneed: Option<VersionTable>,
    needs: &mut Vec<(String, Vec<String>)>,
) -> HashMap<u16, String> {
    let mut by_index = HashMap::new();
    let Some(VersionTable { at, count }) = verneed else {
        return by_index;
    };
    let name = |off: u32| img.str(strtab, off).unwrap_or("").to_string();
    for (at, vn) in Chain::<Verneed>::new(img, Some(at), count.min(MAX_VERNEED)) {
        let first_aux = at.checked_add(vn.vn_aux as usize);
        let limit = u64::from(vn.vn_cnt).min(MAX_VERNEED);
        let mut names = Vec::new();
        for (_, aux) in Chain::<Vernaux>::new(img, first_aux, limit) {
            let n = name(aux.vna_name);
            by_index.insert(aux.vna_other, n.clone());
            names.push(n);
        }
        needs.push((name(vn.vn_file), names));
    }
    by_index
}

/// The version names DT_VERDEF defines, the object's own base name excluded.
fn read_definitions(img: Image<'_>, strtab: usize, verdef: Option<VersionTable>) -> Vec<String> {
    let Some(VersionTable { at, count }) = verdef else {
        return Vec::new();
    };
    Chain::<Verdef>::new(img, Some(at), count.min(MAX_VERDEF))
        .filter(|(_, vd)| vd.vd_flags & VER_FLG_BASE == 0)
        .filter_map(|(at, vd)| {
            let aux = Verdaux::parse(&img, at.checked_add(vd.vd_aux as usize)?)?;
            Some(img.str(strtab, aux.vda_name).unwrap_or("").to_string())
        })
        .collect()
}

/// The dynamic symbol table and what reading it needs.
struct SymbolTable<'a> {
    img: Image<'a>,
    symtab: usize,
    strtab: usize,
    versym: Option<usize>,
    /// Entries in the table (entry 0, the null symbol, included).
    count: usize,
}

/// True when `s` is an import that must be met: undefined and not weak.
fn is_import(s: &Sym) -> bool {
    u32::from(s.st_shndx) == SHN_UNDEF && st_bind(s.st_info) != sym::STB_WEAK
}

impl SymbolTable<'_> {
    /// Sorts the named symbols into definitions and non-weak imports.
    fn read(&self, version_names: &HashMap<u16, String>, out: &mut Symbols) {
        // Room for every symbol at once rather than growing (and rehashing)
        // a dozen times for a large library; bounded by what the file holds.
        let room = self.img.len().saturating_sub(self.symtab) / Sym::size(&self.img).max(1);
        out.defined.reserve(self.count.min(room));
        self.each(|i, s| {
            let Some(n) = self.name(s) else {
                return;
            };
            if is_import(s) {
                out.imports.push(Import {
                    name: n.to_string(),
                    version: self
                        .version_index(i)
                        .and_then(|v| version_names.get(&v).cloned()),
                });
            } else if u32::from(s.st_shndx) != SHN_UNDEF
                && matches!(
                    st_bind(s.st_info),
                    sym::STB_GLOBAL | sym::STB_WEAK | sym::STB_GNU_UNIQUE
                )
            {
                out.defined.insert(n.to_string());
            }
        });
    }

    /// Calls `f` with each entry after the null symbol and its index, up
    /// to the first that cannot be read.
    fn each(&self, mut f: impl FnMut(usize, &Sym)) {
        let entsize = Sym::size(&self.img);
        for i in 1..self.count {
            let Some(s) = i
                .checked_mul(entsize)
                .and_then(|o| self.symtab.checked_add(o))
                .and_then(|at| Sym::parse(&self.img, at))
            else {
                break;
            };
            f(i, &s);
        }
    }

    /// The name of symbol `s`, when it has one.
    fn name(&self, s: &Sym) -> Option<&str> {
        self.img
            .str(self.strtab, s.st_name)
            .filter(|n| !n.is_empty())
    }

    /// The DT_VERSYM index of symbol `i`, when it names a version (not
    /// local, not global).
    fn version_index(&self, i: usize) -> Option<u16> {
        let at = self.versym?.checked_add(i.checked_mul(2)?)?;
        Some(self.img.u16(at)? & VERSYM_VERSION).filter(|&v| v > VER_NDX_GLOBAL)
    }
}

/// The number of dynamic symbols, from DT_GNU_HASH or else DT_HASH (0 with
/// neither); None when the table there cannot be read.
fn symbol_count(img: &Image<'_>, t: &Tables) -> Option<usize> {
    if let Some(h) = t.gnu_hash {
        gnu_hash_count(img, h)
    } else if let Some(h) = t.hash {
        // DT_HASH: nbucket, then nchain, which is the number of symbols.
        h.checked_add(4)
            .and_then(|at| img.u32(at))
            .map(|n| n as usize)
    } else {
        // No hash table: nothing says how many symbols there are.
        Some(0)
    }
}

/// The number of dynamic symbols, from a GNU hash table: one past the
/// highest symbol index any chain reaches.
fn gnu_hash_count(img: &Image<'_>, at: usize) -> Option<usize> {
    let h = GnuHashHeader::parse(img, at)?;
    let symoffset = h.symoffset as usize;
    let word = if img.is64() { 8 } else { 4 };
    let buckets = at
        .checked_add(GnuHashHeader::SIZE)?
        .checked_add((h.bloom_size as usize).checked_mul(word)?)?;
    let chains = buckets.checked_add((h.nbuckets as usize).checked_mul(4)?)?;
    let mut max = 0;
    for b in 0..h.nbuckets as usize {
        max = max.max(img.u32(buckets + 4 * b)? as usize);
    }
    if max < symoffset {
        return Some(symoffset);
    }
    // The chain of the highest bucket runs on to an entry with bit 0 set.
    let mut i = max;
    while img.u32(chains.checked_add((i - symoffset).checked_mul(4)?)?)? & 1 == 0 {
        i += 1;
    }
    Some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{Class, Data};
    use goblin::elf::Elf;

    #[test]
    fn reads_libc_versions_and_a_programs_needs() {
        let Ok(libc) = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6") else {
            // TODO(testing::skip): the shared skip helper replaces this.
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("no x86_64 glibc here, and CI is set");
            }
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
        // The parsed file reads the same symbols as the one-shot form.
        let parsed = ElfFile::parse(&ls).unwrap();
        assert_eq!(parsed.symbols(&ls).unwrap(), s);
        assert_eq!(parsed.symbols(b"#!/bin/sh"), Err(ParseError::NotElf));
    }

    #[test]
    fn hostile_tables_terminate_without_panicking() {
        let mut bytes = vec![0u8; 256];
        bytes[..4].copy_from_slice(b"\x7fELF");
        // A GNU hash table with 2^32-1 buckets and a huge bloom filter.
        bytes[64..68].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes[72..76].copy_from_slice(&u32::MAX.to_le_bytes());
        // A Verneed whose count, aux and next are all huge.
        bytes[128..144].copy_from_slice(&[
            1, 0, 255, 255, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255,
        ]);
        let img = Image::new(&bytes, Class::Elf64, Data::Little);
        let near_end = usize::MAX - 4;
        let tables = Tables {
            symtab: Some(near_end),
            strtab: Some(near_end),
            gnu_hash: Some(64),
            hash: None,
            versym: Some(near_end),
            verneed: Some(VersionTable {
                at: 128,
                count: u64::MAX,
            }),
            verdef: Some(VersionTable {
                at: near_end,
                count: u64::MAX,
            }),
        };
        assert_eq!(symbol_count(&img, &tables), None);
        let mut needs = Vec::new();
        read_needs(img, near_end, tables.verneed, &mut needs);
        assert_eq!(needs, [(String::new(), Vec::new())]);
        assert!(read_definitions(img, 0, tables.verdef).is_empty());
        let table = SymbolTable {
            img,
            symtab: 16,
            strtab: near_end,
            versym: Some(near_end),
            count: usize::MAX,
        };
        let mut out = Symbols::default();
        table.read(&HashMap::new(), &mut out);
        assert_eq!(out, Symbols::default());
    }
}
