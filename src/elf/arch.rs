//! Facts about architectures the loaders depend on: names, Debian multiarch
//! triplets, the 64-bit library directory, ld.so.cache flags and `$PLATFORM`.
//!
//! Everything here is a pure function of an ELF header (`e_machine`, class,
//! byte order, `e_flags`), so a foreign root is analysed exactly like the host.

use super::{Class, Data, ElfFile};

pub use goblin::elf::header::{
    EM_68K, EM_386, EM_AARCH64, EM_ARM, EM_IA_64, EM_LOONGARCH, EM_MIPS, EM_PARISC, EM_PPC,
    EM_PPC64, EM_RISCV, EM_S390, EM_SH, EM_SPARC32PLUS, EM_SPARCV9, EM_X86_64,
};
/// Alpha as Linux builds it: the unofficial 0x9026, not the registered `EM_ALPHA` (41).
pub const EM_ALPHA: u16 = 0x9026;

const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;
const EF_MIPS_NAN2008: u32 = 0x400;
const EF_MIPS_ABI2: u32 = 0x20;
const EF_RISCV_FLOAT_ABI: u32 = 0x6;
const EF_RISCV_FLOAT_ABI_DOUBLE: u32 = 0x4;

/// A human name for `e_machine`, as `file` and `readelf` print it.
pub fn machine_name(machine: u16) -> String {
    match machine {
        EM_386 => "Intel 80386".into(),
        EM_68K => "Motorola m68k".into(),
        EM_MIPS => "MIPS".into(),
        EM_PARISC => "PA-RISC".into(),
        EM_PPC => "PowerPC".into(),
        EM_PPC64 => "64-bit PowerPC".into(),
        EM_S390 => "IBM S/390".into(),
        EM_ARM => "ARM".into(),
        EM_SH => "Renesas SH".into(),
        EM_SPARC32PLUS => "SPARC32PLUS".into(),
        EM_SPARCV9 => "SPARC V9".into(),
        EM_IA_64 => "IA-64".into(),
        EM_X86_64 => "x86-64".into(),
        EM_AARCH64 => "ARM aarch64".into(),
        EM_RISCV => "RISC-V".into(),
        EM_LOONGARCH => "LoongArch".into(),
        EM_ALPHA => "Alpha".into(),
        m => format!("machine {m}"),
    }
}

/// The short architecture name used in JSON and messages (`x86_64`, `aarch64`...).
pub fn arch_name(f: &ElfFile) -> String {
    let s = match (f.machine, f.class, f.data) {
        (EM_X86_64, Class::Elf64, _) => "x86_64",
        (EM_X86_64, Class::Elf32, _) => "x32",
        (EM_386, ..) => "i386",
        (EM_AARCH64, _, Data::Little) => "aarch64",
        (EM_AARCH64, _, Data::Big) => "aarch64_be",
        (EM_ARM, _, Data::Little) => "arm",
        (EM_ARM, _, Data::Big) => "armeb",
        (EM_PPC64, _, Data::Little) => "ppc64le",
        (EM_PPC64, _, Data::Big) => "ppc64",
        (EM_PPC, ..) => "ppc",
        (EM_S390, Class::Elf64, _) => "s390x",
        (EM_S390, Class::Elf32, _) => "s390",
        (EM_MIPS, Class::Elf64, Data::Little) => "mips64el",
        (EM_MIPS, Class::Elf64, Data::Big) => "mips64",
        (EM_MIPS, Class::Elf32, Data::Little) => "mipsel",
        (EM_MIPS, Class::Elf32, Data::Big) => "mips",
        (EM_RISCV, Class::Elf64, _) => "riscv64",
        (EM_RISCV, Class::Elf32, _) => "riscv32",
        (EM_LOONGARCH, ..) => "loongarch64",
        (EM_SPARCV9, ..) => "sparc64",
        (EM_IA_64, ..) => "ia64",
        (EM_ALPHA, ..) => "alpha",
        (EM_68K, ..) => "m68k",
        (EM_SH, ..) => "sh4",
        (EM_PARISC, ..) => "hppa",
        _ => return format!("em{}", f.machine),
    };
    s.to_string()
}

/// The Debian multiarch triplet of the objects' architecture, when Debian has one.
pub fn multiarch_triplet(f: &ElfFile) -> Option<&'static str> {
    Some(match (f.machine, f.class, f.data) {
        (EM_X86_64, Class::Elf64, _) => "x86_64-linux-gnu",
        (EM_X86_64, Class::Elf32, _) => "x86_64-linux-gnux32",
        (EM_386, ..) => "i386-linux-gnu",
        (EM_AARCH64, _, Data::Little) => "aarch64-linux-gnu",
        (EM_ARM, ..) if f.e_flags & EF_ARM_ABI_FLOAT_HARD != 0 => "arm-linux-gnueabihf",
        (EM_ARM, ..) => "arm-linux-gnueabi",
        (EM_PPC64, _, Data::Little) => "powerpc64le-linux-gnu",
        (EM_PPC64, _, Data::Big) => "powerpc64-linux-gnu",
        (EM_PPC, ..) => "powerpc-linux-gnu",
        (EM_S390, Class::Elf64, _) => "s390x-linux-gnu",
        (EM_MIPS, Class::Elf64, Data::Little) => "mips64el-linux-gnuabi64",
        (EM_MIPS, Class::Elf64, Data::Big) => "mips64-linux-gnuabi64",
        (EM_MIPS, Class::Elf32, Data::Little) => "mipsel-linux-gnu",
        (EM_MIPS, Class::Elf32, Data::Big) => "mips-linux-gnu",
        (EM_RISCV, Class::Elf64, _) => "riscv64-linux-gnu",
        (EM_LOONGARCH, ..) => "loongarch64-linux-gnu",
        (EM_SPARCV9, ..) => "sparc64-linux-gnu",
        (EM_ALPHA, ..) => "alpha-linux-gnu",
        (EM_68K, ..) => "m68k-linux-gnu",
        (EM_SH, ..) => "sh4-linux-gnu",
        (EM_PARISC, ..) => "hppa-linux-gnu",
        (EM_IA_64, ..) => "ia64-linux-gnu",
        _ => return None,
    })
}

/// The library directory name glibc uses by default for this ABI outside
/// Debian-style multiarch: `lib64` where the 64-bit ABI lives there.
pub fn libdir_name(f: &ElfFile) -> &'static str {
    match (f.machine, f.class) {
        (EM_X86_64, Class::Elf64)
        | (EM_AARCH64, _)
        | (EM_PPC64, _)
        | (EM_S390, Class::Elf64)
        | (EM_SPARCV9, _)
        | (EM_LOONGARCH, _) => "lib64",
        (EM_MIPS, Class::Elf64) => "lib64",
        (EM_MIPS, Class::Elf32) if f.e_flags & EF_MIPS_ABI2 != 0 => "lib32",
        (EM_X86_64, Class::Elf32) => "libx32",
        (EM_RISCV, Class::Elf64) if f.e_flags & EF_RISCV_FLOAT_ABI == EF_RISCV_FLOAT_ABI_DOUBLE => {
            "lib64/lp64d"
        }
        (EM_RISCV, Class::Elf64) => "lib64/lp64",
        _ => "lib",
    }
}

/// The `flags` value glibc's ld.so.cache lookup accepts for this ABI
/// (`_DL_CACHE_DEFAULT_ID` in glibc's per-architecture dl-cache.h).
pub fn cache_flags(f: &ElfFile) -> i32 {
    const ELF_LIBC6: i32 = 0x0003;
    let required = match (f.machine, f.class) {
        (EM_SPARCV9, _) => 0x0100,
        (EM_IA_64, _) => 0x0200,
        (EM_X86_64, Class::Elf64) => 0x0300,
        (EM_S390, Class::Elf64) => 0x0400,
        (EM_PPC64, _) => 0x0500,
        (EM_MIPS, Class::Elf32) if f.e_flags & EF_MIPS_ABI2 != 0 => {
            if f.e_flags & EF_MIPS_NAN2008 != 0 {
                0x0d00
            } else {
                0x0600
            }
        }
        (EM_MIPS, Class::Elf64) => {
            if f.e_flags & EF_MIPS_NAN2008 != 0 {
                0x0e00
            } else {
                0x0700
            }
        }
        (EM_MIPS, Class::Elf32) if f.e_flags & EF_MIPS_NAN2008 != 0 => 0x0c00,
        (EM_X86_64, Class::Elf32) => 0x0800,
        (EM_ARM, _) if f.e_flags & EF_ARM_ABI_FLOAT_HARD != 0 => 0x0900,
        (EM_ARM, _) => 0x0b00,
        (EM_AARCH64, _) => 0x0a00,
        (EM_RISCV, _) if f.e_flags & EF_RISCV_FLOAT_ABI == EF_RISCV_FLOAT_ABI_DOUBLE => 0x1000,
        (EM_RISCV, _) => 0x0f00,
        (EM_LOONGARCH, _) => 0x1200,
        _ => 0,
    };
    required | ELF_LIBC6
}

/// The value of `$PLATFORM` (the kernel's AT_PLATFORM) where it is fixed for the ABI.
pub fn platform(f: &ElfFile) -> Option<&'static str> {
    Some(match (f.machine, f.class, f.data) {
        (EM_X86_64, Class::Elf64, _) => "x86_64",
        (EM_386, ..) => "i686",
        (EM_AARCH64, _, Data::Little) => "aarch64",
        (EM_AARCH64, _, Data::Big) => "aarch64_be",
        (EM_RISCV, Class::Elf64, _) => "riscv64",
        (EM_LOONGARCH, ..) => "loongarch",
        _ => return None,
    })
}

/// True when `f` is of the architecture this program itself runs on, so the
/// CPU's features decide which glibc-hwcaps subdirectories ld.so would use.
pub fn is_host(f: &ElfFile) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        f.machine == EM_X86_64 && f.class == Class::Elf64
    }
    #[cfg(target_arch = "aarch64")]
    {
        f.machine == EM_AARCH64 && f.data == Data::Little
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = f;
        false
    }
}

/// The musl architecture name in a loader path `/lib/ld-musl-ARCH.so.1`.
pub fn musl_arch_from_interp(interp: &str) -> Option<&str> {
    let base = interp.rsplit('/').next()?;
    base.strip_prefix("ld-musl-")?.strip_suffix(".so.1")
}

/// musl's name for the architecture (its `LDSO_ARCH`: the `ARCH` in
/// `ld-musl-ARCH.so.1` and `/etc/ld-musl-ARCH.path`).
pub fn musl_arch(f: &ElfFile) -> Option<&'static str> {
    Some(match (f.machine, f.class, f.data) {
        (EM_X86_64, Class::Elf64, _) => "x86_64",
        (EM_X86_64, Class::Elf32, _) => "x32",
        (EM_386, ..) => "i386",
        (EM_AARCH64, _, Data::Little) => "aarch64",
        (EM_AARCH64, _, Data::Big) => "aarch64_be",
        (EM_ARM, _, Data::Little) if f.e_flags & EF_ARM_ABI_FLOAT_HARD != 0 => "armhf",
        (EM_ARM, _, Data::Little) => "arm",
        (EM_PPC64, _, Data::Little) => "powerpc64le",
        (EM_PPC64, _, Data::Big) => "powerpc64",
        (EM_PPC, ..) => "powerpc",
        (EM_S390, Class::Elf64, _) => "s390x",
        (EM_RISCV, Class::Elf64, _) => "riscv64",
        (EM_LOONGARCH, ..) => "loongarch64",
        (EM_MIPS, Class::Elf64, Data::Little) => "mips64el",
        (EM_MIPS, Class::Elf64, Data::Big) => "mips64",
        (EM_MIPS, Class::Elf32, Data::Little) => "mipsel",
        (EM_MIPS, Class::Elf32, Data::Big) => "mips",
        _ => return None,
    })
}
