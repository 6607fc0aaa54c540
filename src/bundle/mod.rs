//! `elfroot bundle`: the closure of the inputs, and what their libc loads at
//! run time, planned as a minimal root file system.
//!
//! Planning reads the root and produces a [`Layout`]; writing it out is the
//! [`archive`](crate::archive) module's job. Nothing is written when a
//! library is missing (unless the caller allows it).

pub mod layout;
mod run;
pub mod script;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::closure::{Analyzer, Closure, InterpStatus, Libc};
use crate::elf::{self, Kind};
use crate::error::{Error, Result};
use crate::files::Probe;
use crate::profile;
pub use crate::profile::Extra;
use crate::root::Lookup;
use crate::search::Via;
pub use layout::{Layout, ManifestEntry};
pub use run::{BundleConfig, ImageConfig, run};

/// Which dlopen-note priorities are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DlopenMode {
    /// "required" and "recommended".
    #[default]
    Default,
    /// Every note, "suggested" ones too.
    All,
    /// No note.
    None,
}

/// `--add SRC[:DEST]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddSpec {
    /// A path or glob inside the root.
    pub src: String,
    /// Where it goes in the bundle (default: the same path).
    pub dest: Option<String>,
}

impl AddSpec {
    /// Parses `SRC[:DEST]`.
    pub fn parse(s: &str) -> AddSpec {
        match s.split_once(':') {
            Some((src, dest)) if !dest.is_empty() => AddSpec {
                src: src.to_string(),
                dest: Some(dest.to_string()),
            },
            _ => AddSpec {
                src: s.trim_end_matches(':').to_string(),
                dest: None,
            },
        }
    }
}

/// What goes into the bundle besides the closure.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// Where a single input goes in the bundle (default: its own path).
    pub dest: Option<String>,
    /// Runtime-loaded extras by libc (`--extras auto`).
    pub extras: bool,
    /// The libc, where the inputs do not say.
    pub libc: Option<Libc>,
    /// A host nsswitch.conf to use (with its NSS modules) instead of the minimal one.
    pub nsswitch: Option<PathBuf>,
    /// Write a minimal /etc/passwd and /etc/group.
    pub passwd: bool,
    /// Optional extras asked for.
    pub with: Vec<Extra>,
    /// Which dlopen notes are followed.
    pub dlopen: DlopenMode,
    /// Files, directories and globs added as they are.
    pub add: Vec<AddSpec>,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            dest: None,
            extras: true,
            libc: None,
            nsswitch: None,
            passwd: true,
            with: Vec::new(),
            dlopen: DlopenMode::Default,
            add: Vec::new(),
        }
    }
}

/// A library that could not be found, and who needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    /// The name as needed (a DT_NEEDED entry, an interpreter path...).
    pub name: String,
    /// The object that needs it.
    pub needed_by: String,
    /// What is wrong: missing, incompatible, invalid, unreadable...
    pub status: String,
}

/// A planned bundle.
#[derive(Debug)]
pub struct Bundle {
    /// Everything that goes in, by path.
    pub layout: Layout,
    /// Where each input is in the bundle.
    pub placed: Vec<PathBuf>,
    /// What could not be found.
    pub missing: Vec<Missing>,
    /// The closures of every ELF file that went in (inputs, extras, added files).
    pub closures: Vec<Closure>,
    /// Host files that went in besides copied files (a given nsswitch.conf).
    pub extra_sources: Vec<PathBuf>,
}

/// Plans the bundle of `inputs` (paths inside the analyser's root).
pub fn plan(analyzer: &Analyzer, inputs: &[PathBuf], opts: &BundleOptions) -> Result<Bundle> {
    if opts.dest.is_some() && inputs.len() != 1 {
        return Err(Error::Usage(
            "a destination path in the bundle needs exactly one input".into(),
        ));
    }
    let mut p = Planner {
        analyzer,
        layout: Layout::default(),
        missing: Vec::new(),
        closures: Vec::new(),
        cache: Vec::new(),
    };
    let mut placed = Vec::new();
    for input in inputs {
        p.input(input, opts.dest.as_deref())?;
        placed.push(
            opts.dest
                .as_ref()
                .map(PathBuf::from)
                .unwrap_or_else(|| input.clone()),
        );
    }
    for spec in &opts.add {
        p.add(spec)?;
    }
    p.dlopen_notes(opts.dlopen)?;
    let libc = opts.libc.or_else(|| p.closures.iter().find_map(|c| c.libc));
    let mut extra_sources = Vec::new();
    if opts.extras {
        if libc == Some(Libc::Glibc) {
            let conf = match &opts.nsswitch {
                Some(src) => {
                    extra_sources.push(std::path::absolute(src).map_err(|e| Error::io(src, e))?);
                    read_host_text(src)?
                }
                None => profile::nss::DEFAULT_NSSWITCH.to_string(),
            };
            p.glibc_extras(&conf, opts.with.contains(&Extra::Gconv))?;
        }
        let tls = p.closures.iter().any(profile::extras::uses_tls);
        if opts.with.contains(&Extra::Certs) || tls {
            p.paths(profile::extras::CERT_PATHS, "CA certificates")?;
        }
        if opts.with.contains(&Extra::Tzdata) {
            p.paths(profile::extras::TZ_PATHS, "time zones")?;
        }
        if opts.with.contains(&Extra::Locale) {
            p.paths(profile::extras::LOCALE_PATHS, "C.UTF-8 locale")?;
        }
    }
    if opts.passwd {
        for (path, text) in [
            ("/etc/passwd", profile::nss::PASSWD),
            ("/etc/group", profile::nss::GROUP),
        ] {
            if !p.layout.contains(path) {
                p.layout
                    .add_data(path, text.as_bytes().to_vec(), 0o644, "user database")?;
            }
        }
    }
    p.ld_so_cache()?;
    Ok(Bundle {
        layout: p.layout,
        placed,
        missing: p.missing,
        closures: p.closures,
        extra_sources,
    })
}

/// A text file named by the user on the host.
fn read_host_text(path: &Path) -> Result<String> {
    let absolute = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    crate::root::Root::host()
        .read_to_string(&absolute)?
        .ok_or_else(|| Error::NotFound {
            path: path.to_path_buf(),
        })
}

/// The directory part of a path inside the root ("/" for a top-level file).
fn parent(path: &str) -> String {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    }
}

/// Runs the doctor's checks on the planned bundle, before anything is
/// written: the verdict on each input as it would start from the bundle laid
/// over the `base` image's layers (none for a plain layer).
pub fn verify(bundle: &Bundle, base: &[PathBuf]) -> Result<Vec<crate::doctor::Verdict>> {
    let analyzer = Analyzer::new(
        crate::files::Files::new(bundle.layout.as_root(base)?),
        crate::closure::Options::default(),
    );
    let target = crate::doctor::Target::survey(&analyzer);
    bundle
        .placed
        .iter()
        .map(|p| crate::doctor::check(&analyzer, &target, p, &crate::doctor::Placement::InRoot))
        .collect()
}

struct Planner<'a> {
    analyzer: &'a Analyzer,
    layout: Layout,
    missing: Vec<Missing>,
    closures: Vec<Closure>,
    /// (name, path) of libraries the loader found through the cache or ld.so.conf.
    cache: Vec<(String, String)>,
}

impl<'a> Planner<'a> {
    fn root(&self) -> &'a crate::root::Root {
        self.analyzer.files().root()
    }

    fn input(&mut self, input: &Path, dest: Option<&str>) -> Result<()> {
        let shown = input.to_string_lossy().into_owned();
        let real = match self.root().lookup(input)? {
            Lookup::File(real) => real,
            Lookup::Dir(_) | Lookup::Other(_) => {
                return Err(Error::Unsupported {
                    path: input.to_path_buf(),
                    reason: "not a regular file (a directory goes in as an added tree, not as a program)".into(),
                });
            }
            Lookup::Absent => {
                // Let the analyser name the problem (dangling link, loop, absent).
                return self.analyzer.analyze(input).map(|_| ());
            }
        };
        let head = self.root().head(&real, 512)?;
        if let Some(interp) = script::interpreter(input, &head)? {
            self.place(input, &real, dest, "input")?;
            let reason = format!("interpreter of {shown}");
            let interp_path = PathBuf::from(&interp);
            if self.root().resolve_file(&interp_path)?.is_none() {
                self.missing.push(Missing {
                    name: interp.clone(),
                    needed_by: shown,
                    status: "missing".into(),
                });
                return Ok(());
            }
            self.layout.add_path(self.root(), &interp, &reason)?;
            let closure = self.analyzer.analyze(&interp_path)?;
            self.closure(closure);
            return Ok(());
        }
        let closure = self.analyzer.analyze(input)?;
        self.place(input, &real, dest, "input")?;
        // A program moved by --dest takes the libraries it finds through
        // $ORIGIN along: they go at the same place relative to its new home.
        let moved = dest.map(|d| (closure.objects[0].origin().to_string(), parent(d)));
        self.add_closure(closure, moved);
        Ok(())
    }

    fn place(&mut self, input: &Path, real: &Path, dest: Option<&str>, reason: &str) -> Result<()> {
        match dest {
            Some(d) => self.layout.add_file_at(self.root(), real, d, reason),
            None => self
                .layout
                .add_path(self.root(), &input.to_string_lossy(), reason)
                .map(|_| ()),
        }
    }

    /// Adds every object of a closure at the path the loader opens, and
    /// records what is missing.
    fn closure(&mut self, c: Closure) {
        self.add_closure(c, None);
    }

    /// [`Planner::closure`], for a program moved from directory `moved.0` to
    /// `moved.1`: what it found through its own RPATH/RUNPATH under `moved.0`
    /// goes to the same place under `moved.1`.
    fn add_closure(&mut self, c: Closure, moved: Option<(String, String)>) {
        let root = self.analyzer.files().root();
        let mut failures = Vec::new();
        if let Some(i) = &c.interpreter
            && !matches!(i.status, InterpStatus::Loaded(_))
        {
            self.missing.push(Missing {
                name: i.path.clone(),
                needed_by: c.input.clone(),
                status: "interpreter missing".into(),
            });
        }
        for o in c.objects.iter().skip(1) {
            let reason = match (o.via, o.loaded_by) {
                (Via::Interpreter, _) => format!("interpreter of {}", c.input),
                (_, Some(by)) => format!("needed by {}", c.objects[by].path),
                _ => format!("needed by {}", c.input),
            };
            let moved = moved.as_ref().and_then(|(from, to)| {
                let rest = o.path.strip_prefix(from.as_str())?.strip_prefix('/')?;
                matches!(o.via, Via::Rpath | Via::Runpath)
                    .then(|| format!("{}/{rest}", to.trim_end_matches('/')))
            });
            let added = match moved {
                Some(at) => self.layout.add_file_at(root, &o.real, &at, &reason),
                None => self.layout.add_path(root, &o.path, &reason).map(|_| ()),
            };
            if let Err(e) = added {
                failures.push(e);
            }
            if let Some(b) = o.hwcaps.as_ref().and_then(|h| h.baseline.as_ref())
                && let Err(e) = self
                    .layout
                    .add_path(root, b, &format!("baseline of {}", o.path))
            {
                failures.push(e);
            }
            if matches!(o.via, Via::Cache | Via::Conf) {
                // The bundle's cache has no hwcaps section: it names the
                // baseline, which runs on every CPU, rather than this CPU's variant.
                let path = o
                    .hwcaps
                    .as_ref()
                    .and_then(|h| h.baseline.clone())
                    .unwrap_or_else(|| o.path.clone());
                for n in o.names.iter().filter(|n| !n.contains('/')) {
                    self.cache.push((n.clone(), path.clone()));
                }
            }
        }
        for (o, d) in c.problems() {
            self.missing.push(Missing {
                name: d.name.clone(),
                needed_by: o.path.clone(),
                status: d.resolution.problem().unwrap_or("missing").to_string(),
            });
        }
        for e in failures {
            self.missing.push(Missing {
                name: e.to_string(),
                needed_by: c.input.clone(),
                status: "unreadable".into(),
            });
        }
        self.closures.push(c);
    }

    /// Adds an ELF file found at run time (NSS module, dlopen'ed library) with its closure.
    fn runtime_library(&mut self, path: &str, reason: &str) -> Result<()> {
        if self.layout.add_path(self.root(), path, reason)?.is_none() {
            return Ok(());
        }
        let closure = self.analyzer.analyze(Path::new(path))?;
        self.closure(closure);
        Ok(())
    }

    /// The first closure of a dynamic glibc program: the one whose search
    /// path run-time loads use.
    fn glibc_main(&self) -> Option<&Closure> {
        self.closures.iter().find(|c| c.libc == Some(Libc::Glibc))
    }

    fn glibc_extras(&mut self, nsswitch: &str, gconv: bool) -> Result<()> {
        if !self.layout.contains("/etc/nsswitch.conf") {
            self.layout.add_data(
                "/etc/nsswitch.conf",
                nsswitch.as_bytes().to_vec(),
                0o644,
                "NSS configuration",
            )?;
        }
        let Some(main) = self.glibc_main().cloned() else {
            return Ok(());
        };
        // NSS modules and libgcc_s are dlopen'ed by libc itself.
        let libc = main
            .objects
            .iter()
            .position(|o| o.names.iter().any(|n| n.starts_with("libc.so")))
            .unwrap_or(0);
        for service in profile::nss::services(nsswitch) {
            let name = format!("libnss_{service}.so.2");
            if let Some(path) = self.analyzer.locate(&main, libc, &name) {
                self.runtime_library(&path, &format!("NSS module for '{service}'"))?;
            }
        }
        let mut imports: Vec<String> = Vec::new();
        for o in self
            .closures
            .iter()
            .filter(|c| c.libc == Some(Libc::Glibc))
            .flat_map(|c| c.objects.iter())
        {
            let s = self.analyzer.files().symbols(&o.real)?;
            imports.extend(s.imports.iter().map(|i| i.name.clone()));
        }
        if profile::extras::needs_libgcc_s(&imports)
            && let Some(path) = self.analyzer.locate(&main, libc, "libgcc_s.so.1")
        {
            self.runtime_library(&path, "unwinder for pthread_cancel/pthread_exit")?;
        }
        if gconv {
            let main_elf = main.objects[0].elf.clone();
            let mut dirs: Vec<String> = Vec::new();
            if let Some(t) = crate::elf::arch::multiarch_triplet(&main_elf) {
                dirs.push(format!("/usr/lib/{t}/gconv"));
            }
            dirs.push(format!(
                "/usr/{}/gconv",
                crate::elf::arch::libdir_name(&main_elf)
            ));
            dirs.push("/usr/lib/gconv".into());
            for d in dirs {
                if matches!(self.root().resolve_dir(Path::new(&d)), Ok(Some(_))) {
                    self.tree(&d, None, "gconv modules")?;
                    break;
                }
            }
        }
        Ok(())
    }

    fn paths(&mut self, paths: &[&str], reason: &str) -> Result<()> {
        for p in paths {
            match self.root().lookup(Path::new(p))? {
                Lookup::Dir(_) => {
                    self.tree(p, None, reason)?;
                }
                Lookup::File(_) => {
                    self.layout.add_path(self.root(), p, reason)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds a directory tree; every startable ELF file in it brings its closure.
    fn tree(&mut self, src: &str, dest: Option<&str>, reason: &str) -> Result<()> {
        let files = self
            .layout
            .add_tree(self.analyzer.files().root(), src, dest, reason)?;
        for f in files {
            self.elf_closure(&f)?;
        }
        Ok(())
    }

    /// The closure of a file that came in by --add or as an extra, if it is a startable ELF file.
    fn elf_closure(&mut self, real: &Path) -> Result<()> {
        let head = self.root().head(real, 4)?;
        if !elf::has_elf_magic(&head) {
            return Ok(());
        }
        match self.analyzer.files().probe(real) {
            Probe::Elf(f) if matches!(f.kind, Kind::Exec | Kind::Dyn) && !f.is_static() => {
                let c = self.analyzer.analyze(real)?;
                self.closure(c);
            }
            _ => {}
        }
        Ok(())
    }

    fn add(&mut self, spec: &AddSpec) -> Result<()> {
        let matches = self.glob(&spec.src)?;
        if matches.is_empty() {
            return Err(Error::NotFound {
                path: PathBuf::from(&spec.src),
            });
        }
        // With a glob, DEST is a directory, as for `cp PATTERN DEST/`.
        let many = matches.len() > 1 || spec.src.contains(['*', '?', '[']);
        for m in matches {
            let shown = m.to_string_lossy().into_owned();
            let dest = spec.dest.as_ref().map(|d| {
                if many {
                    let name = m
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    format!("{}/{name}", d.trim_end_matches('/'))
                } else {
                    d.clone()
                }
            });
            let reason = format!("added ({})", spec.src);
            match self.root().lookup(&m)? {
                Lookup::Dir(_) => self.tree(&shown, dest.as_deref(), &reason)?,
                Lookup::File(real) => {
                    match &dest {
                        Some(d) => self.layout.add_file_at(self.root(), &real, d, &reason)?,
                        None => {
                            self.layout.add_path(self.root(), &shown, &reason)?;
                        }
                    }
                    self.elf_closure(&real)?;
                }
                _ => {
                    return Err(Error::NotFound { path: m });
                }
            }
        }
        Ok(())
    }

    /// Expands a glob pattern inside the root; a plain path is itself.
    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>> {
        if !pattern.contains(['*', '?', '[']) {
            return Ok(vec![PathBuf::from(pattern)]);
        }
        let root = self.root();
        let host_pattern = root.host_path(Path::new(pattern));
        let paths = glob::glob(&host_pattern.to_string_lossy())
            .map_err(|e| Error::Usage(format!("{pattern}: bad glob pattern: {e}")))?;
        let mut out: Vec<PathBuf> = paths
            .filter_map(|p| p.ok())
            .filter_map(|p| root.inner_path(&p))
            .collect();
        out.sort();
        Ok(out)
    }

    fn dlopen_notes(&mut self, mode: DlopenMode) -> Result<()> {
        if mode == DlopenMode::None {
            return Ok(());
        }
        let mut i = 0;
        while i < self.closures.len() {
            let c = self.closures[i].clone();
            i += 1;
            for (id, o) in c.objects.iter().enumerate() {
                for note in &o.elf.dlopen {
                    let wanted = mode == DlopenMode::All
                        || matches!(note.priority.as_str(), "required" | "recommended");
                    if !wanted {
                        continue;
                    }
                    let found = note
                        .soname
                        .iter()
                        .find_map(|n| self.analyzer.locate(&c, id, n));
                    match found {
                        Some(path) if !self.layout.contains(&path) => {
                            self.runtime_library(&path, &format!("dlopen note of {}", o.path))?;
                        }
                        Some(_) => {}
                        None if note.priority == "required" => self.missing.push(Missing {
                            name: note.soname.join(" or "),
                            needed_by: o.path.clone(),
                            status: "missing (required by a dlopen note)".into(),
                        }),
                        None => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes an /etc/ld.so.cache when the loader found libraries through the
    /// root's cache in directories it would not search by default.
    fn ld_so_cache(&mut self) -> Result<()> {
        if self.cache.is_empty() || self.layout.contains("/etc/ld.so.cache") {
            return Ok(());
        }
        let Some(main) = self.glibc_main() else {
            return Ok(());
        };
        let main_elf = main.objects[0].elf.clone();
        let defaults = self.analyzer.default_dirs(&main_elf);
        let outside = self.cache.iter().any(|(_, path)| {
            let dir = Path::new(path)
                .parent()
                .map(|d| d.to_string_lossy().into_owned());
            !defaults.iter().any(|d| Some(d) == dir.as_ref())
        });
        if !outside {
            return Ok(());
        }
        let bytes = crate::search::ld_so_cache::write(
            &self.cache,
            crate::elf::arch::cache_flags(&main_elf),
            main_elf.data,
        );
        self.layout.add_data(
            "/etc/ld.so.cache",
            bytes,
            0o644,
            "libraries outside the default directories",
        )
    }
}
