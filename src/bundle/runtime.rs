//! What the libc loads at run time that no DT_NEEDED names, added to the
//! plan: NSS modules, libgcc_s, gconv modules (glibc), CA certificates, time
//! zones, locales (`locale`), libraries named by `.note.dlopen` notes, and an
//! ld.so.cache for libraries the loader found outside its default
//! directories; and what `discover` finds. The rules themselves are
//! `profile`'s and `discover`'s.

use std::path::{Path, PathBuf};

use super::planner::Planner;
use super::{BundleOptions, DlopenMode, Extra, Missing};
use crate::closure::Libc;
use crate::error::{Error, Result};
use crate::profile;

impl Planner<'_> {
    /// Adds what the libc and the runtime around it load (`--extras auto`)
    /// and the extras `--with` asks for; returns the host files read (a
    /// given nsswitch.conf), for the depfile.
    pub(super) fn extras(&mut self, opts: &BundleOptions) -> Result<Vec<PathBuf>> {
        let mut sources = Vec::new();
        let libc = opts
            .libc
            .or_else(|| self.closures.iter().find_map(|c| c.libc));
        if libc == Some(Libc::Glibc) {
            let conf = match &opts.nsswitch {
                Some(src) => {
                    sources.push(std::path::absolute(src).map_err(|e| Error::io(src, e))?);
                    super::read_host_text(src)?
                }
                None => profile::nss::DEFAULT_NSSWITCH.to_string(),
            };
            self.glibc_extras(&conf, opts.with.contains(&Extra::Gconv))?;
        }
        let tls = self.closures.iter().any(profile::extras::uses_tls);
        if opts.with.contains(&Extra::Certs) || tls {
            self.paths(profile::extras::CERT_PATHS, "CA certificates")?;
        }
        if opts.with.contains(&Extra::Tzdata) {
            self.paths(profile::extras::TZ_PATHS, "time zones")?;
        }
        for extra in &opts.with {
            if let Extra::Locale(name) = extra {
                self.locales(name.as_deref())?;
            }
        }
        Ok(sources)
    }

    pub(super) fn glibc_extras(&mut self, nsswitch: &str, gconv: bool) -> Result<()> {
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
        let files = self.analyzer.files();
        let imports = (self.closures.iter())
            .filter(|c| c.libc == Some(Libc::Glibc))
            .flat_map(|c| c.objects.iter())
            .map(|o| files.imports(&o.real))
            .collect::<Result<Vec<_>>>()?;
        if profile::extras::needs_libgcc_s(imports.iter().flat_map(|n| n.iter()))
            && let Some(path) = self.analyzer.locate(&main, libc, "libgcc_s.so.1")
        {
            self.runtime_library(&path, "unwinder for pthread_cancel/pthread_exit")?;
        }
        if gconv {
            self.gconv()?;
        }
        Ok(())
    }

    /// glibc's gconv modules, from the first directory of them the root has
    /// for the first glibc program.
    pub(super) fn gconv(&mut self) -> Result<()> {
        let Some(main) = self.glibc_main() else {
            return Ok(());
        };
        for d in profile::extras::gconv_dirs(&main.objects[0].elf) {
            if self.layout.contains(&d) {
                return Ok(());
            }
            if matches!(self.root().resolve_dir(Path::new(&d)), Ok(Some(_))) {
                return self.tree(&d, None, "gconv modules");
            }
        }
        Ok(())
    }

    /// The run-time files discovery finds (`--discover auto`, directories
    /// of at most `max_tree` bytes), merged in; returns a warning for each
    /// thing it left out.
    pub(super) fn discover(&mut self, max_tree: Option<u64>) -> Result<Vec<String>> {
        let layout = &self.layout;
        let known = |p: &str| layout.contains(p);
        let found =
            crate::discover::discover(self.analyzer, &self.closures, &known, &self.db, max_tree)?;
        self.layout.merge(found.layout)?;
        let warnings = found.left_out.iter().map(ToString::to_string).collect();
        for c in found.closures {
            self.closure(c);
        }
        // A library an optional object misses is no reason to refuse the
        // bundle: only a program that loads it would fail.
        for c in found.optional {
            let before = self.missing.len();
            self.closure(c);
            self.missing.truncate(before);
        }
        for (name, under) in found.preloaded {
            self.missing
                .retain(|m| !(m.name == name && m.needed_by.starts_with(&under)));
        }
        Ok(warnings)
    }

    /// The root's /bin/sh and its closure (`--with sh`).
    pub(super) fn shell(&mut self) -> Result<()> {
        use crate::profile::imports::SHELL;
        if let crate::root::Lookup::File(real) = self.root().lookup(Path::new(SHELL))? {
            self.layout
                .add_path(self.root(), SHELL, "shell (--with sh)")?;
            self.elf_closure(&real)?;
        }
        Ok(())
    }

    pub(super) fn dlopen_notes(&mut self, mode: DlopenMode) -> Result<()> {
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
    pub(super) fn ld_so_cache(&mut self) -> Result<()> {
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
