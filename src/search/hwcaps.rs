//! Which hardware-capability subdirectories glibc's ld.so tries, best first.
//!
//! For every directory it searches, ld.so first tries `glibc-hwcaps/<level>`
//! for each level the CPU supports, then (until glibc 2.37) the legacy
//! platform and hwcap subdirectories, then the directory itself. This is a
//! property of the CPU that runs the program, so it is only known when the
//! analysed program is of the host's own architecture.

use crate::elf::ElfFile;
use crate::elf::arch;

/// The glibc-hwcaps subdirectory names the host CPU supports for `main`, best first.
pub fn glibc_hwcaps(main: &ElfFile) -> Vec<String> {
    if !arch::is_host(main) {
        return Vec::new();
    }
    host_levels()
}

#[cfg(target_arch = "x86_64")]
fn host_levels() -> Vec<String> {
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
fn host_levels() -> Vec<String> {
    Vec::new()
}

/// Legacy subdirectories (platform and hwcap names, and `tls`) that glibc
/// 2.36 and earlier try after glibc-hwcaps, as `LD_DEBUG=libs` shows them.
pub fn legacy_subdirs(main: &ElfFile) -> Vec<String> {
    if !arch::is_host(main) {
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
