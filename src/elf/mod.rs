//! Reading ELF files: the only module that touches goblin.
//!
//! Bytes in, a small plain [`ElfFile`] out. Only what the loader itself reads
//! is parsed — the ELF header, the program headers and the dynamic section —
//! so section headers a loader ignores cannot make a file unreadable here.

pub mod arch;
mod literals;
mod records;
mod symbols;

pub use symbols::{Import, Symbols, symbols};

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::dynamic::{self, Dynamic};
use goblin::elf::header;
use goblin::elf::program_header::{self, ProgramHeader};
use serde::Serialize;

use records::{Image, Nhdr};

/// The longest name DT_NEEDED or DT_SONAME may hold: the kernel's PATH_MAX,
/// past which no file can be opened by that name. A longer one makes the
/// file malformed (a hostile file could otherwise make every copy huge).
pub const PATH_MAX: usize = 4096;
/// The longest DT_RPATH or DT_RUNPATH: sixteen PATH_MAX directories.
pub const MAX_SEARCH_PATH: usize = 16 * PATH_MAX;

/// `DF_1_NODEFLIB`: do not search the default directories for this object's dependencies.
pub const DF_1_NODEFLIB: u64 = dynamic::DF_1_NODEFLIB;
/// `DF_1_PIE`: the object is a position-independent executable.
pub const DF_1_PIE: u64 = dynamic::DF_1_PIE;

/// ELF file class: 32 or 64 bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Class {
    /// ELFCLASS32.
    #[serde(rename = "ELF32")]
    Elf32,
    /// ELFCLASS64.
    #[serde(rename = "ELF64")]
    Elf64,
}

/// Byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Data {
    /// ELFDATA2LSB: little endian.
    Little,
    /// ELFDATA2MSB: big endian.
    Big,
}

/// The kind of ELF object (`e_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// ET_EXEC: a position-dependent executable.
    Exec,
    /// ET_DYN: a shared object or a PIE.
    Dyn,
    /// ET_REL: an object file; the loader never starts one.
    Rel,
    /// ET_CORE or anything else.
    Other,
}

/// Everything elfroot needs from one ELF file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElfFile {
    /// `EI_CLASS`.
    pub class: Class,
    /// `EI_DATA`.
    pub data: Data,
    /// `e_machine`.
    pub machine: u16,
    /// `EI_OSABI`.
    pub osabi: u8,
    /// `e_flags` (ARM float ABI, MIPS NaN mode, RISC-V float ABI...).
    pub e_flags: u32,
    /// `e_type`.
    pub kind: Kind,
    /// PT_INTERP, without its trailing NUL.
    pub interp: Option<String>,
    /// DT_NEEDED in order.
    pub needed: Vec<String>,
    /// DT_SONAME.
    pub soname: Option<String>,
    /// DT_RPATH as written (colon separated, tokens unexpanded).
    pub rpath: Option<String>,
    /// DT_RUNPATH as written.
    pub runpath: Option<String>,
    /// DT_FLAGS_1.
    pub flags_1: u64,
    /// All symbols are bound at start (DT_BIND_NOW, DF_BIND_NOW or DF_1_NOW):
    /// a missing function fails the start instead of its first call.
    pub bind_now: bool,
    /// Whether the file has a PT_DYNAMIC segment.
    pub dynamic: bool,
    /// Libraries named in `.note.dlopen` notes (FDO "ELF dlopen metadata").
    pub dlopen: Vec<DlopenNote>,
    /// Where the symbol tables are, for [`ElfFile::symbols`].
    #[serde(skip)]
    tables: symbols::Tables,
    /// The file ranges (offset, size) of its read-only loaded data, for
    /// [`ElfFile::path_literals`].
    #[serde(skip)]
    rodata: Vec<(u64, u64)>,
}

/// One entry of an FDO dlopen note: alternatives for one feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DlopenNote {
    /// SONAMEs, any one of which provides the feature (first found wins).
    pub soname: Vec<String>,
    /// "required", "recommended" or "suggested" ("recommended" when absent).
    #[serde(default = "recommended")]
    pub priority: String,
    /// The feature's name.
    #[serde(default)]
    pub feature: Option<String>,
    /// What the feature is for.
    #[serde(default)]
    pub description: Option<String>,
}

fn recommended() -> String {
    "recommended".into()
}

/// The note type and owner of FDO dlopen metadata.
const NT_FDO_DLOPEN_METADATA: u32 = 0x407c_0c0a;

/// Why bytes could not be read as ELF. The caller adds the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The ELF magic is absent.
    NotElf,
    /// Headers are cut short or point outside the file.
    Malformed(String),
}

/// True when `bytes` starts with the ELF magic.
pub fn has_elf_magic(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && &bytes[..4] == header::ELFMAG
}

impl ElfFile {
    /// Parses the parts of an ELF file that the loader reads.
    pub fn parse(bytes: &[u8]) -> Result<ElfFile, ParseError> {
        let (hdr, class, data) = read_header(bytes)?;
        let mut file = ElfFile {
            class,
            data,
            machine: hdr.e_machine,
            osabi: hdr.e_ident[header::EI_OSABI],
            e_flags: hdr.e_flags,
            kind: match hdr.e_type {
                header::ET_EXEC => Kind::Exec,
                header::ET_DYN => Kind::Dyn,
                header::ET_REL => Kind::Rel,
                _ => Kind::Other,
            },
            interp: None,
            needed: Vec::new(),
            soname: None,
            rpath: None,
            runpath: None,
            flags_1: 0,
            bind_now: false,
            dynamic: false,
            dlopen: Vec::new(),
            tables: symbols::Tables::default(),
            rodata: Vec::new(),
        };
        if hdr.e_phnum == 0 {
            return Ok(file);
        }
        let ctx = Ctx::new(
            match class {
                Class::Elf32 => Container::Little,
                Class::Elf64 => Container::Big,
            },
            match data {
                Data::Little => Endian::Little,
                Data::Big => Endian::Big,
            },
        );
        let phoff = usize::try_from(hdr.e_phoff)
            .map_err(|_| ParseError::Malformed("program header offset too large".into()))?;
        let phdrs =
            ProgramHeader::parse(bytes, phoff, hdr.e_phnum as usize, ctx).map_err(|_| {
                ParseError::Malformed(format!(
                    "program headers ({} at offset {phoff:#x}) extend past the end of the file",
                    hdr.e_phnum
                ))
            })?;
        file.read_segments(bytes, &phdrs)?;
        let dynamic = Dynamic::parse(bytes, &phdrs, ctx)
            .map_err(|e| ParseError::Malformed(format!("dynamic section: {e}")))?;
        if let Some(dynamic) = dynamic {
            file.dynamic = true;
            file.read_dynamic(bytes, &phdrs, &dynamic)?;
            file.tables = symbols::Tables::find(&dynamic.dyns, &phdrs);
        }
        Ok(file)
    }

    /// PT_INTERP and the dlopen notes of the PT_NOTE segments.
    fn read_segments(&mut self, bytes: &[u8], phdrs: &[ProgramHeader]) -> Result<(), ParseError> {
        self.rodata = literals::read_only_ranges(phdrs);
        for ph in phdrs {
            if ph.p_type == program_header::PT_NOTE {
                self.dlopen
                    .extend(dlopen_notes(bytes, ph, self.class, self.data));
            }
            if ph.p_type == program_header::PT_INTERP {
                let start = ph.p_offset as usize;
                let raw = start
                    .checked_add(ph.p_filesz as usize)
                    .and_then(|end| bytes.get(start..end))
                    .ok_or_else(|| {
                        ParseError::Malformed("PT_INTERP extends past the end of the file".into())
                    })?;
                let raw = raw.split(|&b| b == 0).next().unwrap_or(&[]);
                self.interp = Some(String::from_utf8_lossy(raw).into_owned());
            }
        }
        Ok(())
    }

    fn read_dynamic(
        &mut self,
        bytes: &[u8],
        phdrs: &[ProgramHeader],
        dynamic: &Dynamic,
    ) -> Result<(), ParseError> {
        let strtab_addr = dynamic
            .dyns
            .iter()
            .find(|d| d.d_tag == dynamic::DT_STRTAB)
            .map(|d| d.d_val);
        let strtab = match strtab_addr {
            Some(addr) => Some(vaddr_to_offset(phdrs, addr).ok_or_else(|| {
                ParseError::Malformed(format!("DT_STRTAB {addr:#x} is in no loaded segment"))
            })?),
            None => None,
        };
        let string = |off: u64, max: usize| -> Result<String, ParseError> {
            let base = strtab.ok_or_else(|| {
                ParseError::Malformed("dynamic section has strings but no DT_STRTAB".into())
            })?;
            let start = base
                .checked_add(off)
                .and_then(|s| usize::try_from(s).ok())
                .filter(|&s| s < bytes.len())
                .ok_or_else(|| {
                    ParseError::Malformed(format!("dynamic string at {off:#x} is out of bounds"))
                })?;
            let rest = &bytes[start..];
            let end = memchr::memchr(0, rest)
                .ok_or_else(|| ParseError::Malformed("unterminated dynamic string".into()))?;
            if end > max {
                return Err(ParseError::Malformed(format!(
                    "a dynamic string of {end} bytes, longer than any the loader can use ({max})"
                )));
            }
            Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        for d in &dynamic.dyns {
            match d.d_tag {
                dynamic::DT_NEEDED => self.needed.push(string(d.d_val, PATH_MAX)?),
                dynamic::DT_SONAME => self.soname = Some(string(d.d_val, PATH_MAX)?),
                dynamic::DT_RPATH => self.rpath = Some(string(d.d_val, MAX_SEARCH_PATH)?),
                dynamic::DT_RUNPATH => self.runpath = Some(string(d.d_val, MAX_SEARCH_PATH)?),
                dynamic::DT_FLAGS_1 => {
                    self.flags_1 = d.d_val;
                    self.bind_now |= d.d_val & dynamic::DF_1_NOW != 0;
                }
                dynamic::DT_FLAGS => self.bind_now |= d.d_val & dynamic::DF_BIND_NOW != 0,
                dynamic::DT_BIND_NOW => self.bind_now = true,
                _ => {}
            }
        }
        Ok(())
    }

    /// True when the object asks not to search the default directories.
    pub fn nodeflib(&self) -> bool {
        self.flags_1 & DF_1_NODEFLIB != 0
    }

    /// True for a position-independent executable.
    pub fn pie(&self) -> bool {
        self.flags_1 & DF_1_PIE != 0
    }

    /// A static program: no interpreter and nothing to load.
    pub fn is_static(&self) -> bool {
        self.interp.is_none() && self.needed.is_empty()
    }

    /// The RPATH the loader uses: glibc ignores DT_RPATH when DT_RUNPATH is present.
    pub fn effective_rpath(&self) -> Option<&str> {
        if self.runpath.is_some() {
            None
        } else {
            self.rpath.as_deref()
        }
    }

    /// True when `other` can be loaded into the same process as `self`.
    pub fn compatible_with(&self, other: &ElfFile) -> bool {
        self.class == other.class && self.data == other.data && self.machine == other.machine
    }

    /// "ELF 64-bit LSB x86-64", the way `file` would put it.
    pub fn describe(&self) -> String {
        format!(
            "ELF {}-bit {} {}",
            match self.class {
                Class::Elf32 => 32,
                Class::Elf64 => 64,
            },
            match self.data {
                Data::Little => "LSB",
                Data::Big => "MSB",
            },
            crate::elf::arch::machine_name(self.machine)
        )
    }
}

/// Reads the ELF header: class and byte order first, so that a truncated or
/// unknown header is a clear error rather than goblin's.
fn read_header(bytes: &[u8]) -> Result<(header::Header, Class, Data), ParseError> {
    if !has_elf_magic(bytes) {
        return Err(ParseError::NotElf);
    }
    let class = match bytes.get(header::EI_CLASS) {
        Some(&header::ELFCLASS32) => Class::Elf32,
        Some(&header::ELFCLASS64) => Class::Elf64,
        Some(c) => return Err(ParseError::Malformed(format!("unknown ELF class {c}"))),
        None => return Err(ParseError::Malformed("truncated ELF header".into())),
    };
    let header_size = match class {
        Class::Elf32 => header::header32::SIZEOF_EHDR,
        Class::Elf64 => header::header64::SIZEOF_EHDR,
    };
    if bytes.len() < header_size {
        return Err(ParseError::Malformed(format!(
            "truncated ELF header ({} bytes, need {header_size})",
            bytes.len()
        )));
    }
    let hdr =
        goblin::elf::Elf::parse_header(bytes).map_err(|e| ParseError::Malformed(e.to_string()))?;
    let data = match hdr.e_ident[header::EI_DATA] {
        header::ELFDATA2LSB => Data::Little,
        header::ELFDATA2MSB => Data::Big,
        d => {
            return Err(ParseError::Malformed(format!(
                "unknown ELF data encoding {d}"
            )));
        }
    };
    Ok((hdr, class, data))
}

/// The FDO dlopen notes in one PT_NOTE segment; malformed notes are ignored,
/// as a loader would ignore them.
fn dlopen_notes(bytes: &[u8], ph: &ProgramHeader, class: Class, data: Data) -> Vec<DlopenNote> {
    let mut out = Vec::new();
    let start = ph.p_offset as usize;
    let Some(seg) = start
        .checked_add(ph.p_filesz as usize)
        .and_then(|end| bytes.get(start..end))
    else {
        return out;
    };
    let img = Image::new(seg, class, data);
    let align = if ph.p_align == 8 { 8 } else { 4 };
    let pad = |n: usize| n.checked_next_multiple_of(align);
    let mut at = 0;
    while let Some(note) = Nhdr::parse(&img, at) {
        let (namesz, descsz) = (note.n_namesz as usize, note.n_descsz as usize);
        let name_at = at + Nhdr::SIZE;
        let Some(desc_at) = pad(namesz).and_then(|n| name_at.checked_add(n)) else {
            break;
        };
        let Some(desc) = desc_at
            .checked_add(descsz)
            .and_then(|end| seg.get(desc_at..end))
        else {
            break;
        };
        let name = seg.get(name_at..name_at + namesz).unwrap_or(&[]);
        if note.n_type == NT_FDO_DLOPEN_METADATA && name.starts_with(b"FDO") {
            let json = desc.split(|&b| b == 0).next().unwrap_or(&[]);
            if let Ok(notes) = serde_json::from_slice::<Vec<DlopenNote>>(json) {
                out.extend(notes);
            }
        }
        let Some(next) = pad(descsz).and_then(|n| desc_at.checked_add(n)) else {
            break;
        };
        at = next;
    }
    out
}

pub(crate) fn vaddr_to_offset(phdrs: &[ProgramHeader], addr: u64) -> Option<u64> {
    phdrs
        .iter()
        .filter(|ph| ph.p_type == program_header::PT_LOAD)
        .find(|ph| addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_filesz.max(1))
        .and_then(|ph| ph.p_offset.checked_add(addr - ph.p_vaddr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf_and_truncated() {
        assert_eq!(ElfFile::parse(b"#!/bin/sh\n"), Err(ParseError::NotElf));
        assert_eq!(ElfFile::parse(b""), Err(ParseError::NotElf));
        let truncated = b"\x7fELF\x02\x01\x01\0\0\0";
        assert!(matches!(
            ElfFile::parse(truncated),
            Err(ParseError::Malformed(m)) if m.contains("truncated")
        ));
    }

    #[test]
    fn rejects_program_headers_past_the_end() {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2; // 64-bit
        h[5] = 1; // little endian
        h[6] = 1;
        h[16] = 3; // ET_DYN
        h[18] = 62; // x86-64
        h[20] = 1;
        h[32] = 64; // e_phoff
        h[52] = 64; // e_ehsize
        h[54] = 56; // e_phentsize
        h[56] = 9; // e_phnum: nine headers that are not there
        assert!(matches!(ElfFile::parse(&h), Err(ParseError::Malformed(_))));
    }
}
