//! `elfroot bundle` as one call: plan the bundle, decide whether it may be
//! written (the refusal rule is `verdict`'s), write it as a root
//! file system or an image, then the depfile and the JSON manifest. With
//! platform roots, the same files are planned in each root (each analysed
//! natively, whatever its architecture) and written as one image index.

use std::io::Write;
use std::path::PathBuf;

use super::layout::ItemKind;
use super::{Bundle, BundleOptions, plan_files, verdict};
use crate::archive::{Output, WriteOptions};
use crate::closure::Analyzer;
use crate::config::RootConfig;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::oci::{self, BundleFormat};
use crate::outcome::{Outcome, Status};
use crate::output;

/// The image settings of `bundle --format oci|oci-archive`.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    /// Layer compression (default gzip).
    pub compression: Option<oci::Compression>,
    /// What the container runs, as the user asked (its user, when not
    /// set, is [`BundleOptions::user`]).
    pub run: oci::RunConfig,
    /// The tag in the layout's index (default `latest`).
    pub tag: Option<String>,
    /// A base image (layout directory or archive, `[:TAG]`) to put the layer on.
    pub base: Option<String>,
    /// More roots to bundle the same files from, each for its platform,
    /// into one image index with the main root's bundle.
    pub platform_roots: Vec<(oci::Platform, PathBuf)>,
}

impl ImageConfig {
    /// True when any image setting was given.
    pub fn is_set(&self) -> bool {
        self.compression.is_some()
            || self.run != oci::RunConfig::default()
            || self.tag.is_some()
            || self.base.is_some()
            || !self.platform_roots.is_empty()
    }
}

/// What `bundle` is asked.
#[derive(Debug, Clone)]
pub struct BundleConfig {
    /// The root the files come from, and the library path.
    pub root: RootConfig,
    /// Programs or scripts to bundle (paths inside the root).
    pub files: Vec<PathBuf>,
    /// Where the bundle goes.
    pub output: Output,
    /// The format; guessed from the output's name when not given.
    pub format: Option<BundleFormat>,
    /// Modification time of every entry (default: SOURCE_DATE_EPOCH, else 0).
    pub mtime: Option<u64>,
    /// Write into an existing non-empty directory.
    pub force: bool,
    /// What goes in besides the closures.
    pub options: BundleOptions,
    /// Where to write a Make rule naming every host file of the bundle.
    pub depfile: Option<PathBuf>,
    /// Write the manifest as JSON to the output stream.
    pub json: bool,
    /// Write the bundle even when a library is missing.
    pub allow_missing: bool,
    /// Write the bundle even when the doctor says it would not start.
    pub allow_broken: bool,
    /// Image settings (image formats only).
    pub image: ImageConfig,
    /// Where to write an SBOM of the bundle, and in which format.
    pub sbom: Option<(PathBuf, crate::sbom::Format)>,
}

/// Plans, checks and writes the bundle. `out` receives the manifest with
/// `json`, and the manifest digest of an image written to a path (the image
/// ID for a docker-archive, the index digest for several platforms). The
/// status is findings when the bundle was refused (nothing written).
pub fn run(config: &BundleConfig, out: &mut dyn Write) -> Result<Outcome> {
    let format = config
        .format
        .unwrap_or_else(|| BundleFormat::guess(&config.output));
    check(config, format)?;
    let mtime = match config.mtime {
        Some(m) => m,
        None => crate::config::source_date_epoch()?.unwrap_or(0),
    };
    let mut outcome = Outcome::new(Status::Clean);
    let mut plans = Vec::new();
    let defer = defers_verdict(config, format);
    for (root, declared) in roots(config) {
        plans.push(plan_root(
            &root,
            declared.as_ref(),
            config,
            &mut outcome,
            defer,
        )?);
    }
    let refused = plans.iter().any(|p| p.refused);
    if refused {
        nothing_written(config, &mut outcome);
    }
    if config.json {
        let shown = PathBuf::from(config.output.to_string());
        output::manifest::write(&plans[0].plan, &shown, format.as_str(), !refused, out)
            .and_then(|()| out.flush())
            .map_err(|e| Error::io(crate::archive::STDOUT_PATH, e))?;
    }
    if !refused {
        let sbom = match &config.sbom {
            Some((path, f)) => Some(super::inventory::artifact(
                &plans[0].plan,
                &config.output,
                path,
                *f,
                mtime,
            )?),
            None => None,
        };
        let written = write(plans, config, format, mtime, sbom.as_ref(), out)?;
        match written {
            Written::Summary(summary) => {
                if let (Some((path, _)), Some(doc)) = (&config.sbom, &sbom) {
                    crate::archive::write_small_file(path, &doc.bytes)?;
                }
                outcome.note(summary);
            }
            Written::Refused(problems) => {
                for p in problems {
                    outcome.problem(p);
                }
                nothing_written(config, &mut outcome);
            }
        }
    }
    Ok(outcome)
}

/// Whether the doctor's verdict on the planned bundle is reached while it
/// is written rather than before (it is the bundle's to keep or drop): a
/// root file system of one root, with nothing printed or written from the
/// plan before the bundle (no JSON manifest, no SBOM).
fn defers_verdict(config: &BundleConfig, format: BundleFormat) -> bool {
    matches!(format, BundleFormat::Root(_))
        && !config.json
        && config.sbom.is_none()
        && config.image.platform_roots.is_empty()
}

/// Reports a bundle refused: nothing written.
fn nothing_written(config: &BundleConfig, outcome: &mut Outcome) {
    outcome.status = Status::Findings;
    outcome.problem(format!(
        "nothing written to {}: the bundle would not start",
        config.output
    ));
}

/// What [`write`] did.
enum Written {
    /// Wrote the bundle: the summary line.
    Summary(String),
    /// Wrote nothing: the doctor's verdict, reached while writing, refused
    /// it for these reasons.
    Refused(Vec<String>),
}

/// A bundle planned in one root.
pub(super) struct Planned {
    pub(super) plan: Bundle,
    pub(super) platform: oci::Platform,
    pub(super) base: Option<oci::Image>,
    refused: bool,
    /// Whether the doctor's verdict is still to be reached (while writing).
    pending: bool,
    /// The package metadata, still to be planned while writing: the
    /// analyser of the root, and the first path it may add.
    metadata: Option<(Analyzer, &'static str)>,
    /// The files taken out of a root of layers (see [`crate::layout::Layout::stage`]).
    _staging: Option<crate::archive::Temp>,
}

/// The roots to bundle from: the main one, then each platform root with
/// the platform it was declared for.
fn roots(config: &BundleConfig) -> Vec<(RootConfig, Option<oci::Platform>)> {
    let mut roots = vec![(config.root.clone(), None)];
    for (platform, dir) in &config.image.platform_roots {
        let root = RootConfig {
            layers: vec![dir.clone()],
            platform: Some(platform.clone()),
            ..config.root.clone()
        };
        roots.push((root, Some(platform.clone())));
    }
    roots
}

/// Plans the bundle in `root`, reporting what is missing and why it would
/// not start; a root declared for a platform must hold files for it.
fn plan_root(
    root: &RootConfig,
    declared: Option<&oci::Platform>,
    config: &BundleConfig,
    outcome: &mut Outcome,
    defer: bool,
) -> Result<Planned> {
    let (fs, options) = root.open()?;
    let inputs: Vec<PathBuf> = config.files.iter().map(|f| fs.absolute(f)).collect();
    let analyzer = Analyzer::new(Files::new(fs), options);
    let options = BundleOptions {
        licenses: config.json || config.sbom.is_some(),
        ..config.options.clone()
    };
    let mut plan = plan_files(&analyzer, &inputs, &options)?;
    // With the verdict reached while writing, the package metadata may be
    // planned then too (in a directory root: no files to take out of layers).
    let metadata_from = match defer && !analyzer.files().root().is_layers() {
        true => plan.metadata_from(&analyzer),
        false => None,
    };
    if metadata_from.is_none() {
        plan.add_package_metadata(&analyzer)?;
    }
    let staging = plan.layout.stage(analyzer.files().root(), &config.output)?;
    for w in analyzer.take_warnings() {
        outcome.warning(w.to_string());
    }
    for w in &plan.warnings {
        outcome.warning(w.clone());
    }
    let platform = plan
        .closures
        .first()
        .and_then(|c| c.objects.first())
        .map_or_else(oci::Platform::host, |o| oci::Platform::of(&o.elf));
    if let Some(want) = declared
        && !want.matches(&platform.to_json())
    {
        return Err(Error::Usage(format!(
            "{}: the files there are for {}, not {}",
            root.display(),
            platform.display(),
            want.display()
        )));
    }
    // A multi-platform base gives its image for the bundle's platform.
    let base = match &config.image.base {
        Some(b) => Some(oci::open_path_for(b, Some(&platform))?),
        None => None,
    };
    let base_layers: Vec<PathBuf> = base
        .as_ref()
        .map(|b| b.layer_paths().to_vec())
        .unwrap_or_default();
    let allow = (config.allow_missing, config.allow_broken);
    let (refused, pending) = match defer {
        true => {
            let refused = verdict::missing(&plan, allow.0, outcome);
            (refused, !refused && !allow.1)
        }
        false => (verdict::judge(&plan, allow, &base_layers, outcome)?, false),
    };
    Ok(Planned {
        plan,
        platform,
        base,
        refused,
        pending,
        metadata: metadata_from.map(|from| (analyzer, from)),
        _staging: staging,
    })
}

/// Requests that cannot be carried out as made.
fn check(config: &BundleConfig, format: BundleFormat) -> Result<()> {
    if config.image.is_set() && !format.is_image() {
        return Err(Error::Usage(format!(
            "image settings (compression, entrypoint, command, environment, working directory, \
             user, labels, tag, base) need an image format, not {}",
            format.as_str()
        )));
    }
    if !config.image.platform_roots.is_empty() {
        if format == BundleFormat::DockerArchive {
            return Err(Error::Usage(
                "a docker-archive holds one platform; bundles for several platforms go into \
                 an OCI image index (format oci or oci-archive)"
                    .into(),
            ));
        }
        if config.depfile.is_some() || config.json || config.sbom.is_some() {
            return Err(Error::Usage(
                "the depfile, the JSON manifest and the SBOM describe one root's bundle; \
                 write them without platform roots"
                    .into(),
            ));
        }
    }
    if let Some((sbom, _)) = &config.sbom {
        super::inventory::check_writable(sbom)?;
    }
    if config.json && config.output == Output::Stdout {
        return Err(Error::Usage(
            "the JSON manifest and the bundle cannot both go to standard output".into(),
        ));
    }
    Ok(())
}

/// Writes the bundle (one image per platform, or one root file system),
/// then the depfile; returns the summary line.
fn write(
    mut plans: Vec<Planned>,
    config: &BundleConfig,
    format: BundleFormat,
    mtime: u64,
    sbom: Option<&oci::Artifact>,
    out: &mut dyn Write,
) -> Result<Written> {
    let target = config.output.as_path();
    let (digest, bytes, (files, depfile)) = match format {
        BundleFormat::Root(format) => {
            let opts = WriteOptions {
                format,
                mtime,
                force: config.force,
            };
            let first = &mut plans[0];
            let written = match first.metadata.take() {
                Some((analyzer, from)) => {
                    let pending = first.pending;
                    let plan = (&mut first.plan, &analyzer, from);
                    verdict::write_root_staged(plan, pending, target, &opts, config.allow_missing)?
                }
                None => {
                    let plan = (&first.plan, first.pending);
                    let entries = first.plan.layout.entries();
                    verdict::write_root(plan, &entries, target, &opts, config.allow_missing)?
                }
            };
            match written {
                Ok(bytes) => (None, bytes, described(&first.plan, config)),
                Err(problems) => return Ok(Written::Refused(problems)),
            }
        }
        _ => {
            let entries: Vec<_> = plans.iter().map(|p| p.plan.layout.entries()).collect();
            let described = described(&plans[0].plan, config);
            let (digest, bytes) =
                super::image::write_image(plans, &entries, config, (format, mtime), sbom, target)?;
            (Some(digest), bytes, described)
        }
    };
    if let Some(digest) = digest
        && config.output != Output::Stdout
        && !config.json
    {
        writeln!(out, "{digest}").map_err(|e| Error::io(crate::archive::STDOUT_PATH, e))?;
    }
    if let (Some(dep), Some(text)) = (&config.depfile, depfile) {
        crate::archive::write_small_file(dep, text.as_bytes())?;
    }
    Ok(Written::Summary(format!(
        "bundled {files} files, {} into {}",
        crate::outcome::size(bytes),
        config.output
    )))
}

/// How many files the bundle holds, and its depfile (when asked for).
fn described(plan: &Bundle, config: &BundleConfig) -> (usize, Option<String>) {
    let files = (plan.layout.items())
        .filter(|(_, i)| matches!(i.kind, ItemKind::File(_) | ItemKind::Data(_)))
        .count();
    let depfile =
        (config.depfile.as_ref()).map(|_| output::manifest::depfile(plan, config.output.as_path()));
    (files, depfile)
}
