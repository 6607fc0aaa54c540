//! glibc's ld.so search order (ld.so(8), `_dl_map_object` in elf/dl-load.c).
//!
//! For a DT_NEEDED name without a slash: DT_RPATH of the needing object and
//! of each object that loaded it up to the program (only when the needing
//! object has no DT_RUNPATH); LD_LIBRARY_PATH; the needing object's own
//! DT_RUNPATH; the cache; the default directories unless DF_1_NODEFLIB. ld.so
//! never reads ld.so.conf: in a root without a cache, the directories it
//! lists are not searched. Each directory is tried with the hwcaps
//! subdirectories first. A file of another architecture is skipped; a file
//! that is not ELF stops the search.
//!
//! In LD_LIBRARY_PATH, DT_RPATH and DT_RUNPATH (`fillin_rpath` in
//! elf/dl-load.c), an empty element is the current directory (ld.so opens
//! the bare name) and a relative one is relative to the current directory,
//! like every relative path ld.so opens. `$ORIGIN` in LD_LIBRARY_PATH is the
//! program's directory.

use std::path::Path;

use crate::elf::ElfFile;
use crate::elf::arch;
use crate::files::Files;
use crate::search::hwcaps::{self, HwcapsLevels};
use crate::search::ld_so_cache::LdCache;
use crate::search::{Hwcaps, Link, Prober, SearchResult, Step, TryResult, Via, expand_tokens};

/// What glibc's loader knows about the system before it loads anything.
pub struct System<'a> {
    /// The root's files.
    pub files: &'a Files,
    /// The root's ld.so.cache, when it has a readable one.
    pub cache: Option<&'a LdCache>,
    /// LD_LIBRARY_PATH elements, unexpanded.
    pub ld_library_path: &'a [String],
    /// The process's current directory: where empty and relative elements lead.
    pub cwd: &'a str,
}

/// The loader's view for one program's ABI: its default directories, the
/// hwcaps subdirectories to try, `$LIB` and `$PLATFORM`, the cache flags.
pub struct Abi {
    /// The default directories, searched last unless DF_1_NODEFLIB.
    pub defaults: Vec<String>,
    /// The hwcaps subdirectories tried in each directory, best first.
    pub subdirs: Vec<String>,
    /// The glibc-hwcaps names the cache lookup accepts, best first.
    pub cache_hwcaps: Vec<String>,
    /// The cache entry flags of this ABI (`FLAG_X8664_LIB64`...).
    pub cache_flags: i32,
    /// What `$LIB` expands to (`lib/x86_64-linux-gnu`, `lib64`).
    pub lib: String,
    /// What `$PLATFORM` expands to, when known (`x86_64`).
    pub platform: Option<&'static str>,
}

impl Abi {
    /// Works out the loader's defaults for programs like `main` in this root:
    /// Debian-style multiarch directories when the root has them, else the
    /// ABI's own `lib64` or `lib`; the subdirectories are those of the CPU `levels`.
    pub fn new(files: &Files, main: &ElfFile, levels: &HwcapsLevels) -> Abi {
        let root = files.root();
        let triplet = arch::multiarch_triplet(main).filter(|t| {
            [format!("/lib/{t}"), format!("/usr/lib/{t}")]
                .iter()
                .any(|d| matches!(root.resolve_dir(Path::new(d)), Ok(Some(_))))
        });
        let (defaults, lib) = match triplet {
            Some(t) => (
                vec![
                    format!("/lib/{t}"),
                    format!("/usr/lib/{t}"),
                    "/lib".to_string(),
                    "/usr/lib".to_string(),
                ],
                format!("lib/{t}"),
            ),
            None => {
                let l = arch::libdir_name(main);
                (vec![format!("/{l}"), format!("/usr/{l}")], l.to_string())
            }
        };
        let hw = hwcaps::glibc_hwcaps(main, levels);
        let mut subdirs = hw.clone();
        subdirs.extend(hwcaps::legacy_subdirs(main, levels));
        Abi {
            defaults,
            subdirs,
            cache_hwcaps: hwcaps::cache_names(&hw),
            cache_flags: arch::cache_flags(main),
            lib,
            platform: arch::platform(main),
        }
    }

    /// Expands the tokens of one search-path element for an object at `origin`.
    fn expand(&self, element: &str, origin: &str) -> Option<String> {
        expand_tokens(element, Some(origin), Some(&self.lib), self.platform)
    }
}

/// Finds `name`, needed by `chain[0]`; `chain` runs up to the program itself.
pub fn search(sys: &System<'_>, abi: &Abi, name: &str, chain: &[Link<'_>]) -> SearchResult {
    let want = chain.last().expect("chain holds at least the program").elf;
    let mut p = Prober::new(sys.files, sys.cwd, want);
    let step = steps(sys, abi, name, chain, &mut p);
    p.finish(step)
}

fn steps(
    sys: &System<'_>,
    abi: &Abi,
    name: &str,
    chain: &[Link<'_>],
    p: &mut Prober<'_>,
) -> Option<Step> {
    let needer = chain[0];
    macro_rules! try_step {
        ($step:expr) => {
            match $step {
                Step::Next => {}
                done => return Some(done),
            }
        };
    }
    if needer.elf.runpath.is_none() {
        for link in chain {
            if let Some(rpath) = link.elf.effective_rpath() {
                for dir in rpath.split(':') {
                    if let Some(dir) = abi.expand(dir, link.origin) {
                        try_step!(p.dir(&dir, name, &abi.subdirs, Via::Rpath));
                    }
                }
            }
        }
    }
    // ld.so expands LD_LIBRARY_PATH once, for the program.
    let program = chain.last().copied().unwrap_or(needer);
    for dir in sys.ld_library_path {
        if let Some(dir) = abi.expand(dir, program.origin) {
            try_step!(p.dir(&dir, name, &abi.subdirs, Via::LdLibraryPath));
        }
    }
    if let Some(runpath) = &needer.elf.runpath {
        for dir in runpath.split(':') {
            if let Some(dir) = abi.expand(dir, needer.origin) {
                try_step!(p.dir(&dir, name, &abi.subdirs, Via::Runpath));
            }
        }
    }
    let nodeflib = needer.elf.nodeflib();
    if let Some(cache) = sys.cache {
        try_step!(cache_step(cache, abi, name, nodeflib, p));
    }
    if !nodeflib {
        for dir in &abi.defaults {
            try_step!(p.dir(dir, name, &abi.subdirs, Via::Default));
        }
    }
    None
}

/// The cache's entry for `name`, as ld.so uses it: passed over under
/// DF_1_NODEFLIB when it lies in a default directory; a glibc-hwcaps entry
/// carries the baseline entry it stands for.
fn cache_step(cache: &LdCache, abi: &Abi, name: &str, nodeflib: bool, p: &mut Prober<'_>) -> Step {
    let Some(hit) = cache.lookup(name, abi.cache_flags, &abi.cache_hwcaps) else {
        p.note("/etc/ld.so.cache", Via::Cache, TryResult::NoCacheEntry);
        return Step::Next;
    };
    if nodeflib && in_dirs(hit.path, &abi.defaults) {
        p.note(hit.path, Via::Cache, TryResult::Absent);
        return Step::Next;
    }
    let baseline = hit.hwcaps.and_then(|_| {
        cache
            .lookup(name, abi.cache_flags, &[])
            .map(|b| b.path.to_string())
    });
    match p.file(hit.path, Via::Cache, true) {
        Step::Found(mut c) => {
            if let Some(sub) = hit.hwcaps {
                c.hwcaps = Some(Hwcaps {
                    subdir: format!("glibc-hwcaps/{sub}"),
                    baseline,
                });
            }
            Step::Found(c)
        }
        other => other,
    }
}

/// True when `path` lies under one of the default directories: ld.so compares
/// the cached path's prefix with each system directory, slash included.
fn in_dirs(path: &str, dirs: &[String]) -> bool {
    dirs.iter().any(|d| {
        path.strip_prefix(d.as_str())
            .is_some_and(|rest| rest.starts_with('/') || d.ends_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::Root;
    use crate::search::Outcome;

    /// Where `libc.so.6` is found for a program of this machine's
    /// architecture with DT_RUNPATH `/hw`, in a root where `/hw` holds it
    /// and a glibc-hwcaps x86-64-v2 variant of it, under the CPU `levels`.
    fn found_under(levels: &HwcapsLevels) -> Option<(String, Option<String>)> {
        let dir = tempfile::tempdir().ok()?;
        let libc = std::fs::read("/proc/self/exe").ok()?;
        let variant = dir.path().join("hw/glibc-hwcaps/x86-64-v2");
        std::fs::create_dir_all(&variant).ok()?;
        std::fs::write(dir.path().join("hw/libt.so"), &libc).ok()?;
        std::fs::write(variant.join("libt.so"), &libc).ok()?;
        let mut main = ElfFile::parse(&libc).ok()?;
        main.runpath = Some("/hw".into());
        let files = Files::new(Root::open(dir.path()).ok()?);
        let sys = System {
            files: &files,
            cache: None,
            ld_library_path: &[],
            cwd: "/",
        };
        let abi = Abi::new(&files, &main, levels);
        let chain = [Link {
            elf: &main,
            origin: "/",
        }];
        match search(&sys, &abi, "libt.so", &chain).outcome {
            Outcome::Found(c) => Some((c.path, c.hwcaps.map(|h| h.subdir))),
            _ => None,
        }
    }

    #[test]
    fn the_hwcaps_variant_follows_the_cpu_levels_given() {
        let plain = found_under(&HwcapsLevels::Baseline);
        assert_eq!(plain, Some(("/hw/libt.so".to_string(), None)));
        let levels = HwcapsLevels::Cpu(vec!["glibc-hwcaps/x86-64-v2".into()]);
        let main = std::fs::read("/proc/self/exe").unwrap_or_default();
        if ElfFile::parse(&main).is_ok_and(|m| arch::is_host(&m)) {
            assert_eq!(
                found_under(&levels),
                Some((
                    "/hw/glibc-hwcaps/x86-64-v2/libt.so".to_string(),
                    Some("glibc-hwcaps/x86-64-v2".to_string())
                ))
            );
        }
    }
}
