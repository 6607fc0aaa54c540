//! The [`Analyzer`]: one root's files and loader configuration, read once and
//! shared by every program analysed in it (ld.so.cache, musl's path files,
//! and ld.so.conf, which only matters when it is not in effect: in a root
//! without a cache), with the [`Options`] that do not come from the root.
//! Problems with that configuration are kept as warnings, not errors.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::elf::{ElfFile, arch};
use crate::error::Error;
use crate::files::Files;
use crate::profile::libc::{self, Libc};
use crate::search::glibc::{Abi, System};
use crate::search::hwcaps::HwcapsLevels;
use crate::search::ld_so_cache::{self, LdCache};
use crate::search::ld_so_conf::{self, ConfDirs};
use crate::search::{SearchResult, musl};

/// Search settings that do not come from the root.
#[derive(Debug, Clone)]
pub struct Options {
    /// LD_LIBRARY_PATH elements (from `--library-path`, then from the
    /// environment when the root is the host).
    pub library_path: Vec<String>,
    /// The CPU whose glibc-hwcaps subdirectories ld.so tries: the baseline
    /// unless set ([`host_levels`](crate::search::hwcaps::host_levels) for this machine's).
    pub hwcaps: HwcapsLevels,
    /// The directory the program would be started from, an absolute path
    /// inside the root: where the loaders resolve relative directories of
    /// LD_LIBRARY_PATH, DT_RPATH and DT_RUNPATH, and (glibc) empty ones. `/` by default.
    pub cwd: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            library_path: Vec::new(),
            hwcaps: HwcapsLevels::default(),
            cwd: "/".to_string(),
        }
    }
}

/// Where glibc's loader reads its cache.
const CACHE: &str = "/etc/ld.so.cache";

/// Computes closures in one root, sharing every file read between inputs.
pub struct Analyzer {
    files: Files,
    options: Options,
    cache: OnceCell<Option<LdCache>>,
    unsearched: OnceCell<Vec<String>>,
    musl_paths: RefCell<HashMap<String, Vec<String>>>,
    warnings: RefCell<Vec<Error>>,
    /// glibc searches already made, by everything they depend on (see
    /// `Loading::search_key`): a thousand programs needing libc.so.6 with
    /// no RPATH or RUNPATH search for it once.
    searches: RefCell<FxHashMap<Vec<u8>, Rc<SearchResult>>>,
    /// glibc's view of each ABI met, by what it depends on in the program
    /// (machine, class, byte order, flags): worked out once, not per program.
    abis: RefCell<FxHashMap<AbiKey, Rc<Abi>>>,
}

/// What [`Abi::new`] reads of a program: its machine, class, byte order and flags.
type AbiKey = (u16, crate::elf::Class, crate::elf::Data, u32);

impl Analyzer {
    /// An analyser of the root behind `files`; nothing is read yet.
    pub fn new(files: Files, options: Options) -> Analyzer {
        Analyzer {
            files,
            options,
            cache: Default::default(),
            unsearched: Default::default(),
            searches: Default::default(),
            abis: Default::default(),
            musl_paths: Default::default(),
            warnings: Default::default(),
        }
    }

    /// The root's files, as read so far.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// The settings it was made with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// A search made before under `key`.
    pub(super) fn remembered_search(&self, key: &[u8]) -> Option<Rc<SearchResult>> {
        self.searches.borrow().get(key).cloned()
    }

    /// Remembers the result of a search under `key`.
    pub(super) fn remember_search(&self, key: Vec<u8>, result: Rc<SearchResult>) {
        self.searches.borrow_mut().insert(key, result);
    }

    /// Problems with the root's configuration met so far (bad cache, include cycles).
    pub fn take_warnings(&self) -> Vec<Error> {
        std::mem::take(&mut self.warnings.borrow_mut())
    }

    /// The default directories of the loader for programs like `main`.
    pub fn default_dirs(&self, main: &ElfFile) -> Vec<String> {
        self.abi(main).defaults.clone()
    }

    /// What the file at a loader path in this root is ([`libc::loader_libc`]).
    pub fn loader_libc(&self, interp: &str) -> Option<Libc> {
        libc::loader_libc(&self.files, interp)
    }

    /// glibc's view of the ABI of `main`: defaults, hwcaps subdirectories, tokens.
    pub(super) fn abi(&self, main: &ElfFile) -> Rc<Abi> {
        let key = (main.machine, main.class, main.data, main.e_flags);
        if let Some(abi) = self.abis.borrow().get(&key) {
            return abi.clone();
        }
        let abi = Rc::new(Abi::new(&self.files, main, &self.options.hwcaps));
        self.abis.borrow_mut().insert(key, abi.clone());
        abi
    }

    /// What glibc's loader knows before it loads programs like `main`: the
    /// cache and LD_LIBRARY_PATH.
    pub(super) fn glibc_system(&self, main: &ElfFile) -> System<'_> {
        let cache = self.cache(main);
        if cache.is_none() {
            // Only to warn: ld.so itself never reads ld.so.conf.
            self.unsearched_conf_dirs(main);
        }
        System {
            files: &self.files,
            cache,
            ld_library_path: &self.options.library_path,
            cwd: &self.options.cwd,
        }
    }

    /// The directories the root's ld.so.conf lists that glibc's ld.so will
    /// not search for programs like `main` because the root has no usable
    /// ld.so.cache: those that exist, hold something, and are not default
    /// directories. Empty in a root with a cache. The first call that finds
    /// some also records a warning.
    pub fn unsearched_conf_dirs(&self, main: &ElfFile) -> &[String] {
        self.unsearched.get_or_init(|| {
            if self.cache(main).is_some() {
                return Vec::new();
            }
            let defaults = self.default_dirs(main);
            let root = self.files.root();
            let dirs: Vec<String> = self
                .conf()
                .dirs
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .filter(|d| !defaults.contains(d))
                .filter(|d| root.list_dir(Path::new(d)).is_ok_and(|n| !n.is_empty()))
                .collect();
            if !dirs.is_empty() {
                self.warnings.borrow_mut().push(Error::Config {
                    path: "/etc/ld.so.conf".into(),
                    reason: format!(
                        "{}; run ldconfig in the root",
                        ld_so_conf::not_searched(&dirs)
                    ),
                });
            }
            dirs
        })
    }

    fn cache(&self, main: &ElfFile) -> Option<&LdCache> {
        self.cache
            .get_or_init(|| {
                let cache = self.read_cache(main).unwrap_or_else(|e| {
                    self.warnings.borrow_mut().push(e);
                    None
                })?;
                if cache.ignored() > 0 {
                    self.warnings.borrow_mut().push(Error::Config {
                        path: CACHE.into(),
                        reason: format!(
                            "{} entries ignored (a name or path longer than {} bytes, unterminated or not UTF-8, or a bad hwcaps index)",
                            cache.ignored(),
                            ld_so_cache::MAX_STRING
                        ),
                    });
                }
                Some(cache)
            })
            .as_ref()
    }

    /// The root's ld.so.cache, if it has one; an error when it is unusable.
    fn read_cache(&self, main: &ElfFile) -> Result<Option<LdCache>, Error> {
        let root = self.files.root();
        let Some(real) = root.resolve_file(Path::new(CACHE))? else {
            return Ok(None);
        };
        let bytes = root.contents(&real)?;
        let cache = LdCache::parse(&bytes, main.data).map_err(|reason| Error::Config {
            path: CACHE.into(),
            reason: format!("invalid ld.so.cache ({reason}); ignored"),
        })?;
        Ok(Some(cache))
    }

    /// The root's ld.so.conf, read once (by [`Self::unsearched_conf_dirs`]).
    fn conf(&self) -> ConfDirs {
        match ld_so_conf::read(self.files.root(), Path::new("/etc/ld.so.conf")) {
            Ok(mut c) => {
                self.warnings.borrow_mut().append(&mut c.warnings);
                c
            }
            Err(e) => {
                self.warnings.borrow_mut().push(e);
                ConfDirs::default()
            }
        }
    }

    /// musl's search path for programs like `main` started by the loader `interp`.
    pub(super) fn musl_system_path(&self, interp: &str, main: &ElfFile) -> Vec<String> {
        let arch = arch::musl_arch_from_interp(interp)
            .or_else(|| arch::musl_arch(main))
            .unwrap_or("unknown");
        if let Some(p) = self.musl_paths.borrow().get(interp) {
            return p.clone();
        }
        let path = musl::system_path(&self.files, interp, arch).unwrap_or_else(|e| {
            self.warnings.borrow_mut().push(e);
            Vec::new()
        });
        self.musl_paths
            .borrow_mut()
            .insert(interp.to_string(), path.clone());
        path
    }
}
