//! `elfroot bundle` as one call: plan the bundle, decide whether it may be
//! written (the refusal rule is `verdict`'s), write it as a root
//! file system or an image, then the depfile and the JSON manifest. With
//! platform roots, the same files are planned in each root (each analysed
//! natively, whatever its architecture) and written as one image index.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Bundle, BundleOptions, plan, verdict};
use crate::archive::{EntryKind, Output, WriteOptions};
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
struct Planned {
    plan: Bundle,
    platform: oci::Platform,
    base: Option<oci::Image>,
    refused: bool,
    /// Whether the doctor's verdict is still to be reached (while writing).
    pending: bool,
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
    let mut plan = plan(&analyzer, &inputs, &options)?;
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
    plans: Vec<Planned>,
    config: &BundleConfig,
    format: BundleFormat,
    mtime: u64,
    sbom: Option<&oci::Artifact>,
    out: &mut dyn Write,
) -> Result<Written> {
    let target = config.output.as_path();
    let entries: Vec<_> = plans.iter().map(|p| p.plan.layout.entries()).collect();
    let depfile =
        (config.depfile.as_ref()).map(|_| output::manifest::depfile(&plans[0].plan, target));
    let files = entries[0]
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. } | EntryKind::Data(_)))
        .count();
    let (digest, bytes) = match format {
        BundleFormat::Root(format) => {
            let opts = WriteOptions {
                format,
                mtime,
                force: config.force,
            };
            let first = (&plans[0].plan, plans[0].pending);
            match verdict::write_root(first, &entries[0], target, &opts, config.allow_missing)? {
                Ok(bytes) => (None, bytes),
                Err(problems) => return Ok(Written::Refused(problems)),
            }
        }
        _ => {
            let (digest, bytes) =
                write_image(plans, &entries, config, (format, mtime), sbom, target)?;
            (Some(digest), bytes)
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

/// Writes the planned bundles as an image (or an index of them); the digest
/// that names what was written, and the bytes of file contents in the
/// (first) layer.
fn write_image(
    plans: Vec<Planned>,
    entries: &[Vec<crate::archive::Entry>],
    config: &BundleConfig,
    (format, mtime): (BundleFormat, u64),
    sbom: Option<&oci::Artifact>,
    target: &Path,
) -> Result<(String, u64)> {
    let mut images: Vec<oci::ImageOptions> = plans
        .into_iter()
        .map(|p| image_options(p, config, format, mtime))
        .collect();
    // An OCI layout holds the SBOM beside the image; a docker-archive cannot.
    if let (Some(doc), Some(first)) = (sbom, images.first_mut())
        && format != BundleFormat::DockerArchive
    {
        first.artifacts.push(doc.clone());
    }
    if let [image] = images.as_slice() {
        let written = oci::write_image(format, &entries[0], target, image)?;
        let digest = match format {
            BundleFormat::DockerArchive => written.config_digest,
            _ => written.manifest_digest,
        };
        return Ok((digest, written.bytes));
    }
    let pairs: Vec<(&[crate::archive::Entry], &oci::ImageOptions)> = entries
        .iter()
        .map(Vec::as_slice)
        .zip(images.iter())
        .collect();
    let index = oci::write_index(format, &pairs, target)?;
    let bytes = index.images.first().map_or(0, |w| w.bytes);
    Ok((index.index_digest, bytes))
}

fn image_options(
    planned: Planned,
    config: &BundleConfig,
    format: BundleFormat,
    mtime: u64,
) -> oci::ImageOptions {
    let in_bundle: Vec<String> = planned
        .plan
        .placed
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut run = config.image.run.clone();
    if run.user.is_none() {
        run.user = config.options.user.as_ref().map(ToString::to_string);
    }
    // `docker save` writes plain tar layers; gzip elsewhere.
    let compression = match format {
        BundleFormat::DockerArchive => oci::Compression::None,
        _ => oci::Compression::Gzip,
    };
    // What the image was made from, as `docker buildx` records a FROM.
    let mut annotations = std::collections::BTreeMap::new();
    if let Some(base) = &planned.base {
        annotations.insert(oci::BASE_DIGEST.to_string(), base.base_digest());
        if let Some(name) = base.name() {
            annotations.insert(oci::BASE_NAME.to_string(), name.to_string());
        }
    }
    oci::ImageOptions {
        archive: format == BundleFormat::OciArchive,
        compression: config.image.compression.unwrap_or(compression),
        mtime,
        force: config.force,
        platform: planned.platform,
        program: in_bundle.first().cloned().unwrap_or_default(),
        run,
        tag: config.image.tag.clone(),
        created_by: format!("elfroot bundle {}", in_bundle.join(" ")),
        base: planned.base,
        config: None,
        annotations,
        artifacts: Vec::new(),
    }
}
