//! Which hardware-capability subdirectories glibc's ld.so tries, best first.
//!
//! For every directory it searches, ld.so first tries `glibc-hwcaps/<level>`
//! for each level the CPU supports, then (until glibc 2.37) the legacy
//! platform and hwcap subdirectories, then the directory itself. This is a
//! property of the CPU that will run the program, which the analysis does
//! not read itself: the caller says which CPU ([`HwcapsLevels`], the baseline
//! unless told otherwise, so that results do not depend on the machine), and
//! [`host_levels`] gives this machine's. A CPU's levels only apply to programs
//! of this machine's architecture.

use crate::elf::ElfFile;
use crate::elf::arch;

/// The CPU whose capabilities pick ld.so's subdirectories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HwcapsLevels {
    /// No CPU in particular: only the plain directories, which every CPU of
    /// the architecture can load from (no glibc-hwcaps or legacy subdirectory).
    #[default]
    Baseline,
    /// A CPU of this machine's architecture, with its glibc-hwcaps
    /// subdirectories (`glibc-hwcaps/x86-64-v3`, ...), best first; the legacy
    /// subdirectories apply too.
    Cpu(Vec<String>),
}

/// This machine's CPU, as ld.so running here would see it.
pub fn host_levels() -> HwcapsLevels {
    HwcapsLevels::Cpu(cpu_levels())
}

/// The glibc-hwcaps subdirectories tried for programs like `main`, best first.
pub fn glibc_hwcaps(main: &ElfFile, levels: &HwcapsLevels) -> Vec<String> {
    match levels {
        HwcapsLevels::Cpu(levels) if arch::is_host(main) => levels.clone(),
        _ => Vec::new(),
    }
}

/// The glibc-hwcaps levels this CPU supports, best first.
#[cfg(target_arch = "x86_64")]
fn cpu_levels() -> Vec<String> {
    use std::arch::is_x86_feature_detected as has;
    let v2 = has!("cmpxchg16b")
        && has!("popcnt")
        && has!("sse3")
        && has!("sse4.1")
        && has!("sse4.2")
        && has!("ssse3");
    let v3 = v2
        && has!("avx")
        && has!("avx2")
        && has!("bmi1")
        && has!("bmi2")
        && has!("f16c")
        && has!("fma")
        && has!("lzcnt")
        && has!("movbe")
        && has!("xsave");
    let v4 = v3
        && has!("avx512f")
        && has!("avx512bw")
        && has!("avx512cd")
        && has!("avx512dq")
        && has!("avx512vl");
    let mut out = Vec::new();
    for (ok, name) in [(v4, "x86-64-v4"), (v3, "x86-64-v3"), (v2, "x86-64-v2")] {
        if ok {
            out.push(format!("glibc-hwcaps/{name}"));
        }
    }
    out
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_levels() -> Vec<String> {
    Vec::new()
}

/// Legacy subdirectories (platform and hwcap names, and `tls`) that glibc
/// 2.36 and earlier try after glibc-hwcaps, as `LD_DEBUG=libs` shows them:
/// for a known CPU of this machine's architecture only, like the levels.
pub fn legacy_subdirs(main: &ElfFile, levels: &HwcapsLevels) -> Vec<String> {
    if *levels == HwcapsLevels::Baseline || !arch::is_host(main) {
        return Vec::new();
    }
    match arch::platform(main) {
        Some("x86_64") => [
            "tls/x86_64/x86_64",
            "tls/x86_64",
            "tls",
            "x86_64/x86_64",
            "x86_64",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        _ => Vec::new(),
    }
}

/// The glibc-hwcaps names without their `glibc-hwcaps/` prefix, as the cache records them.
pub fn cache_names(subdirs: &[String]) -> Vec<String> {
    subdirs
        .iter()
        .filter_map(|s| s.strip_prefix("glibc-hwcaps/"))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test program itself: an ELF file of the host's architecture.
    fn host_program() -> ElfFile {
        let bytes = std::fs::read("/proc/self/exe").unwrap_or_default();
        ElfFile::parse(&bytes).expect("the test binary is ELF")
    }

    #[test]
    fn the_baseline_tries_no_subdirectory() {
        let main = host_program();
        assert!(glibc_hwcaps(&main, &HwcapsLevels::Baseline).is_empty());
        assert!(legacy_subdirs(&main, &HwcapsLevels::Baseline).is_empty());
    }

    #[test]
    fn cpu_levels_apply_to_the_hosts_architecture_only() {
        let levels = HwcapsLevels::Cpu(vec!["glibc-hwcaps/x86-64-v2".into()]);
        let mut main = host_program();
        if arch::is_host(&main) {
            assert_eq!(glibc_hwcaps(&main, &levels), ["glibc-hwcaps/x86-64-v2"]);
        }
        main.machine = main.machine.wrapping_add(1);
        assert!(glibc_hwcaps(&main, &levels).is_empty());
        assert!(legacy_subdirs(&main, &levels).is_empty());
    }
}
