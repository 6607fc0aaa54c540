//! `elfroot bundle`: the closure of the inputs, and what their libc loads at
//! run time, planned as a minimal root file system.
//!
//! Planning reads the root and produces a [`Layout`]; writing it out is the
//! [`archive`](crate::archive) module's job. Nothing is written when a
//! library is missing (unless the caller allows it).

mod add;
mod image;
pub mod inventory;
mod locale;
pub mod pkgmeta;
mod pkgrecords;
mod planner;
mod profiled;
mod run;
mod runtime;
mod users;
mod verdict;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::closure::{Analyzer, Closure, Libc};
use crate::error::{Error, Result};
pub use crate::layout;
pub use crate::profile::Extra;
pub use add::AddSpec;
pub use layout::{Layout, ManifestEntry, Owner};
use planner::Planner;
pub use run::{BundleConfig, ImageConfig, run};
pub use users::UserSpec;
pub(crate) use verdict::judge;

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
    /// Write /etc/passwd and /etc/group (the root's entries for root,
    /// nobody and nogroup, and [`BundleOptions::user`]'s).
    pub passwd: bool,
    /// The user the program runs as (`--user`): its entries and primary
    /// group go into the user database, and it is an image's User.
    pub user: Option<UserSpec>,
    /// A host file written as /etc/passwd instead of the root's entries.
    pub passwd_file: Option<PathBuf>,
    /// A host file written as /etc/group instead of the root's entries.
    pub group_file: Option<PathBuf>,
    /// Add `/tmp` (mode 1777), as distroless images have it.
    pub tmp: bool,
    /// Run-time files found without running (`--discover auto`): paths the
    /// objects name, language runtimes, what the imports open.
    pub discover: bool,
    /// The most bytes a directory discovery takes whole may hold (None: no
    /// cap); what is larger is left out with a warning.
    pub discover_max: Option<u64>,
    /// The owner of everything copied from the root, instead of its own
    /// (`--chown`); what elfroot makes is 0:0 either way.
    pub chown: Option<Owner>,
    /// Optional extras asked for.
    pub with: Vec<Extra>,
    /// Which dlopen notes are followed.
    pub dlopen: DlopenMode,
    /// Files, directories and globs added as they are.
    pub add: Vec<AddSpec>,
    /// Profiles written by `elfroot trace`, whose paths are added.
    pub profiles: Vec<PathBuf>,
    /// Write the package database scanners read (dpkg status.d, apk
    /// installed) for the packages present, when the root has one.
    pub package_db: bool,
    /// Bring each owning package's copyright file.
    pub copyright: bool,
    /// Read each owning package's license from its copyright file (for
    /// the JSON manifest and the SBOM; `bundle` and `slim` turn it off
    /// when they write neither). Without it, [`Bundle::ownership`] stays
    /// empty: nothing else reads it.
    pub licenses: bool,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            dest: None,
            extras: true,
            libc: None,
            nsswitch: None,
            passwd: true,
            user: None,
            passwd_file: None,
            group_file: None,
            tmp: true,
            discover: true,
            discover_max: Some(crate::discover::DEFAULT_MAX_TREE_BYTES),
            chown: None,
            with: Vec::new(),
            dlopen: DlopenMode::Default,
            add: Vec::new(),
            profiles: Vec::new(),
            package_db: true,
            copyright: true,
            licenses: true,
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
    /// Host files that went in besides copied files (a given nsswitch.conf,
    /// passwd or group file, a profile).
    pub extra_sources: Vec<PathBuf>,
    /// What went in with a doubt (a profile's path the root no longer has),
    /// and what discovery left out.
    pub warnings: Vec<String>,
    /// Which package owns each file (empty when nothing asked, see
    /// [`BundleOptions::licenses`]).
    pub ownership: pkgmeta::Ownership,
    /// What [`Bundle::add_package_metadata`] still has to add, if anything.
    pending: Option<Pending>,
}

/// What the package metadata of a bundle planned by [`plan_files`] needs.
#[derive(Debug)]
struct Pending {
    db: crate::discover::Database,
    programs: Vec<(PathBuf, PathBuf)>,
    opts: BundleOptions,
}

/// Plans the bundle of `inputs` (paths inside the analyser's root).
pub fn plan(analyzer: &Analyzer, inputs: &[PathBuf], opts: &BundleOptions) -> Result<Bundle> {
    let mut bundle = plan_files(analyzer, inputs, opts)?;
    bundle.add_package_metadata(analyzer)?;
    Ok(bundle)
}

/// [`plan`] but for the package metadata ([`pkgmeta`]): the files of the
/// bundle, with the distribution's release files. The metadata comes last,
/// by [`Bundle::add_package_metadata`], at paths from
/// [`Bundle::metadata_from`] on (a writer may write what comes before).
pub fn plan_files(analyzer: &Analyzer, inputs: &[PathBuf], opts: &BundleOptions) -> Result<Bundle> {
    if opts.dest.is_some() && inputs.len() != 1 {
        return Err(Error::Usage(
            "a destination path in the bundle needs exactly one input".into(),
        ));
    }
    // `--extras none` asks for the closure alone: no discovery either.
    let discover = opts.discover && opts.extras;
    let mut p = Planner {
        analyzer,
        layout: Layout::new(opts.chown),
        missing: Vec::new(),
        closures: Vec::new(),
        cache: Vec::new(),
        // Read in the background (the host's) when something will read it.
        db: match discover || opts.package_db {
            true => crate::discover::Database::prefetch(analyzer.files().root()),
            false => crate::discover::Database::default(),
        },
    };
    let mut placed = Vec::new();
    for input in inputs {
        p.input(input, opts.dest.as_deref())?;
        placed.push(match &opts.dest {
            Some(d) => PathBuf::from(d),
            None => placed_at(analyzer.files().root(), input)?,
        });
    }
    for spec in &opts.add {
        p.add(spec)?;
    }
    p.dlopen_notes(opts.dlopen)?;
    let mut warnings = Vec::new();
    if discover {
        warnings.extend(p.discover(opts.discover_max)?);
    }
    if opts.with.contains(&Extra::Sh) {
        p.shell()?;
    }
    let mut extra_sources = opts.profiles.clone();
    if opts.extras {
        extra_sources.extend(p.extras(opts)?);
    }
    if opts.passwd {
        extra_sources.extend(p.user_database(
            opts.user.as_ref(),
            opts.passwd_file.as_deref(),
            opts.group_file.as_deref(),
        )?);
    }
    if opts.tmp && !p.layout.contains("/tmp") {
        p.layout.add_dir("/tmp", 0o1777, "temporary files")?;
    }
    // After the files elfroot makes, which a profile's copies must not displace.
    for file in &opts.profiles {
        warnings.extend(p.profile(file)?);
    }
    p.ld_so_cache()?;
    // The package metadata will read the database: read it now, to tell
    // what went wrong with it with the other warnings.
    if opts.package_db || opts.copyright || opts.licenses {
        p.packages();
    }
    p.release_files(opts)?;
    warnings.extend(p.db.problems().iter().cloned());
    Ok(Bundle {
        pending: Some(Pending {
            db: p.db,
            programs: inputs.iter().cloned().zip(placed.clone()).collect(),
            opts: opts.clone(),
        }),
        layout: p.layout,
        placed,
        missing: p.missing,
        closures: p.closures,
        extra_sources,
        warnings,
        ownership: pkgmeta::Ownership::default(),
    })
}

impl Bundle {
    /// Adds the package metadata to a bundle from [`plan_files`], with the
    /// analyser that planned it (once; nothing the second time).
    pub fn add_package_metadata(&mut self, analyzer: &Analyzer) -> Result<()> {
        let Some(Pending { db, programs, opts }) = self.pending.take() else {
            return Ok(());
        };
        let mut p = Planner {
            analyzer,
            layout: std::mem::take(&mut self.layout),
            missing: std::mem::take(&mut self.missing),
            closures: std::mem::take(&mut self.closures),
            cache: Vec::new(),
            db,
        };
        let ownership = p.package_metadata(&opts, &programs);
        (self.layout, self.missing, self.closures) = (p.layout, p.missing, p.closures);
        self.ownership = ownership?;
        Ok(())
    }

    /// The first path, in the order entries are written (byte order), that
    /// [`Bundle::add_package_metadata`] may add or change; None when the
    /// metadata is in already, adds nothing, or may come anywhere.
    pub fn metadata_from(&self, analyzer: &Analyzer) -> Option<&'static str> {
        let pending = self.pending.as_ref()?;
        let db = pending.db.get(analyzer.files().root())?;
        pkgmeta::metadata_from(db, &pending.opts)
    }
}

/// Where an input is in the bundle: its path, with `.` and `..` resolved as
/// the kernel resolves them (the bundle does not hold the directories a
/// `..` climbs out of).
fn placed_at(root: &crate::root::Root, input: &Path) -> Result<PathBuf> {
    use std::path::Component;
    let dotted = input
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir));
    let (Some(parent), Some(name)) = (input.parent(), input.file_name()) else {
        return Ok(input.to_path_buf());
    };
    if !dotted {
        return Ok(input.to_path_buf());
    }
    Ok(match root.resolve_dir(parent)? {
        Some(dir) => dir.join(name),
        None => input.to_path_buf(),
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
pub(crate) fn parent(path: &str) -> String {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    }
}

/// Runs the doctor's checks on the planned bundle, before anything is
/// written: the verdict on each input as it would start from the bundle laid
/// over the `base` image's layers (none for a plain layer).
pub fn verify(bundle: &Bundle, base: &[PathBuf]) -> Result<Vec<crate::doctor::Verdict>> {
    verify_placed(&bundle.layout, &bundle.placed, base)
}

/// [`verify`] of the programs `placed` in `layout`.
fn verify_placed(
    layout: &Layout,
    placed: &[PathBuf],
    base: &[PathBuf],
) -> Result<Vec<crate::doctor::Verdict>> {
    let analyzer = Analyzer::new(
        crate::files::Files::new(layout.as_root(base)?),
        crate::closure::Options::default(),
    );
    let target = crate::doctor::Target::survey(&analyzer);
    placed
        .iter()
        .map(|p| crate::doctor::check(&analyzer, &target, p, &crate::doctor::Placement::InRoot))
        .collect()
}
