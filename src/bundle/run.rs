//! `elfroot bundle` as one call: plan the bundle, decide whether it may be
//! written (the refusal rule lives here and only here), write it as a root
//! file system or an OCI image, then the depfile and the JSON manifest.

use std::io::Write;
use std::path::PathBuf;

use super::{Bundle, BundleOptions, plan, verify};
use crate::archive::{Output, WriteOptions};
use crate::closure::Analyzer;
use crate::config::RootConfig;
use crate::doctor::{Code, Severity};
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
}

impl ImageConfig {
    /// True when any image setting was given.
    pub fn is_set(&self) -> bool {
        self.compression.is_some()
            || self.run != oci::RunConfig::default()
            || self.tag.is_some()
            || self.base.is_some()
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
/// `json`, and the manifest digest of an image written to a path. The
/// status is findings when the bundle was refused (nothing written).
pub fn run(config: &BundleConfig, out: &mut dyn Write) -> Result<Outcome> {
    let format = config
        .format
        .unwrap_or_else(|| BundleFormat::guess(&config.output));
    check(config, format)?;
    let base = match &config.image.base {
        Some(b) => Some(oci::open_path(b)?),
        None => None,
    };
    let mtime = match config.mtime {
        Some(m) => m,
        None => crate::config::source_date_epoch()?.unwrap_or(0),
    };
    let (root, options) = config.root.open()?;
    let inputs: Vec<PathBuf> = config.files.iter().map(|f| root.absolute(f)).collect();
    let analyzer = Analyzer::new(Files::new(root), options);
    let plan = plan(&analyzer, &inputs, &config.options)?;
    let mut outcome = Outcome::new(Status::Clean);
    for w in analyzer.take_warnings() {
        outcome.warning(w.to_string());
    }
    let base_layers: Vec<PathBuf> = base
        .as_ref()
        .map(|b| b.layer_paths().to_vec())
        .unwrap_or_default();
    for m in &plan.missing {
        outcome.problem(format!(
            "{}: {} (needed by {})",
            m.name, m.status, m.needed_by
        ));
    }
    let refusal = refusal(&plan, config, &base_layers)?;
    let refused = refusal.is_some();
    if let Some(reasons) = refusal {
        for r in reasons {
            outcome.problem(r);
        }
        outcome.status = Status::Findings;
        outcome.problem(format!(
            "nothing written to {}: the bundle would not start",
            config.output
        ));
    } else {
        let sbom = match &config.sbom {
            Some((path, f)) => Some(sbom_document(&plan, config, path, *f, mtime)?),
            None => None,
        };
        write(&plan, config, format, mtime, base, sbom.as_ref(), out)?;
        if let (Some((path, _)), Some(doc)) = (&config.sbom, &sbom) {
            crate::archive::write_small_file(path, &doc.bytes)?;
        }
    }
    if config.json {
        let shown = PathBuf::from(config.output.to_string());
        output::manifest::write(&plan, &shown, format.as_str(), !refused, out)
            .and_then(|()| out.flush())
            .map_err(|e| Error::io(crate::archive::STDOUT_PATH, e))?;
    }
    Ok(outcome)
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
    if let Some((sbom, _)) = &config.sbom {
        // Found out before the bundle is written, not after.
        let dir = match sbom.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        if !dir.is_dir() {
            return Err(Error::NotFound {
                path: dir.to_path_buf(),
            });
        }
    }
    if config.json && config.output == Output::Stdout {
        return Err(Error::Usage(
            "the JSON manifest and the bundle cannot both go to standard output".into(),
        ));
    }
    Ok(())
}

/// Whether the planned bundle must not be written: `None` to write it,
/// else one line for each program that would not start from it and why
/// (no line when the reason is a missing library, already reported).
///
/// A missing library refuses the bundle unless `allow_missing`; a program
/// the doctor says would not start (checked on the bundle laid over the
/// base image's layers) refuses it unless `allow_broken`; with
/// `allow_missing`, a missing library is no such reason either.
fn refusal(plan: &Bundle, config: &BundleConfig, base: &[PathBuf]) -> Result<Option<Vec<String>>> {
    if !plan.missing.is_empty() && !config.allow_missing {
        return Ok(Some(Vec::new()));
    }
    if config.allow_broken {
        return Ok(None);
    }
    let mut out = Vec::new();
    for v in verify(plan, base)? {
        for f in &v.findings {
            let fatal = f.severity == Severity::Error
                && !(config.allow_missing && f.code == Code::LibraryMissing);
            if fatal {
                out.push(format!(
                    "{}: would not start from the bundle: [{}] {}",
                    v.file, f.code, f.cause
                ));
            }
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Writes the bundle, then the depfile.
fn write(
    plan: &Bundle,
    config: &BundleConfig,
    format: BundleFormat,
    mtime: u64,
    base: Option<oci::Image>,
    sbom: Option<&oci::Artifact>,
    out: &mut dyn Write,
) -> Result<()> {
    let entries = plan.layout.entries();
    let target = config.output.as_path();
    match format {
        BundleFormat::Root(format) => {
            crate::archive::write(
                &entries,
                target,
                &WriteOptions {
                    format,
                    mtime,
                    force: config.force,
                },
            )?;
        }
        BundleFormat::Oci | BundleFormat::OciArchive => {
            let image = image_options(plan, config, format, mtime, base);
            let written = oci::write_with(
                &entries,
                target,
                &image,
                sbom.map(std::slice::from_ref).unwrap_or_default(),
            )?;
            if config.output != Output::Stdout && !config.json {
                writeln!(out, "{}", written.manifest_digest)
                    .map_err(|e| Error::io(crate::archive::STDOUT_PATH, e))?;
            }
        }
    }
    if let Some(dep) = &config.depfile {
        let text = output::manifest::depfile(plan, target);
        crate::archive::write_small_file(dep, text.as_bytes())?;
    }
    Ok(())
}

/// The SBOM of the planned bundle, named after the output, as an artifact
/// (the file's bytes, and what an OCI layout stores beside the image).
fn sbom_document(
    plan: &Bundle,
    config: &BundleConfig,
    path: &std::path::Path,
    format: crate::sbom::Format,
    mtime: u64,
) -> Result<oci::Artifact> {
    let name = match &config.output {
        crate::archive::Output::Stdout => "bundle".to_string(),
        o => o
            .as_path()
            .file_name()
            .map_or_else(|| o.to_string(), |n| n.to_string_lossy().into_owned()),
    };
    let inventory = super::inventory::inventory(plan, &name, mtime)?;
    Ok(oci::Artifact {
        artifact_type: format.media_type().to_string(),
        title: path
            .file_name()
            .map_or_else(|| "sbom.json".into(), |n| n.to_string_lossy().into_owned()),
        bytes: crate::sbom::document(&inventory, format),
    })
}

fn image_options(
    plan: &Bundle,
    config: &BundleConfig,
    format: BundleFormat,
    mtime: u64,
    base: Option<oci::Image>,
) -> oci::ImageOptions {
    let in_bundle: Vec<String> = plan
        .placed
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let platform = plan
        .closures
        .first()
        .and_then(|c| c.objects.first())
        .map_or_else(oci::Platform::host, |o| oci::Platform::of(&o.elf));
    let mut run = config.image.run.clone();
    if run.user.is_none() {
        run.user = config.options.user.as_ref().map(ToString::to_string);
    }
    oci::ImageOptions {
        archive: format == BundleFormat::OciArchive,
        compression: config.image.compression.unwrap_or(oci::Compression::Gzip),
        mtime,
        force: config.force,
        platform,
        program: in_bundle.first().cloned().unwrap_or_default(),
        run,
        tag: config.image.tag.clone(),
        created_by: format!("elfroot bundle {}", in_bundle.join(" ")),
        base,
    }
}
