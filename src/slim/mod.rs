//! `elfroot slim`: a minimal image from an existing one, without running it.
//!
//! The image is read as a root of layers; what its config runs (Entrypoint
//! and Cmd, resolved in the image as a runtime would: `command`) becomes the
//! inputs of the bundle planner, with the files and directories the command
//! names, `--keep`'s paths as added trees and `--profile`'s traces, so that closures, run-time
//! files and the user database come out of the image exactly as `bundle
//! --root` would take them. The kept files are copied out of the layers
//! with their metadata from the image (`meta`), checked by the doctor
//! before anything is written (the bundle's refusal rule), and written as a
//! one-layer image whose config keeps the original's run settings; then the
//! summary (`summary`). The planner also writes the package metadata
//! scanners read for the kept files' packages (the bundle's `pkgmeta`), and
//! `sbom` the SBOM of the result.

mod command;
mod meta;
mod one;
mod platforms;
mod sbom;
pub mod shell;
mod summary;

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::archive::Output;
use crate::bundle::{AddSpec, BundleOptions, UserSpec};
use crate::error::{Error, Result};
use crate::oci::{self, BundleFormat};
use crate::outcome::{Outcome, Status};

/// The settings of the image config that a slimmed image keeps.
pub const KEPT_SETTINGS: &[&str] = &[
    "Entrypoint",
    "Cmd",
    "Env",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
];

/// What `slim` is asked.
#[derive(Debug, Clone)]
pub struct SlimConfig {
    /// The image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]` or
    /// `docker-archive:FILE[:REF]`.
    pub image: String,
    /// Which image of a multi-platform index to slim (default: every
    /// platform of the index, into an index again).
    pub platform: Option<oci::Platform>,
    /// Where the slimmed image goes.
    pub output: Output,
    /// oci, oci-archive or docker-archive; guessed from the output's name
    /// when not given (a layout directory, or an archive for NAME.oci.tar and -).
    pub format: Option<BundleFormat>,
    /// The tag in the written layout's index (default `latest`).
    pub tag: Option<String>,
    /// Paths or globs of the image kept as they are.
    pub keep: Vec<String>,
    /// Profiles `elfroot trace` recorded (host files): what they name is
    /// kept too, taken from the image.
    pub profiles: Vec<PathBuf>,
    /// Replaces the image's Entrypoint (and, unless `cmd` is given, its Cmd).
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's Cmd.
    pub cmd: Option<Vec<String>>,
    /// Layer compression (default gzip).
    pub compression: Option<oci::Compression>,
    /// The image's `created` time and the mtime of what elfroot generates
    /// (default: SOURCE_DATE_EPOCH, else 0); kept files keep their own.
    pub mtime: Option<u64>,
    /// Write a layout into an existing, non-empty directory.
    pub force: bool,
    /// Write the manifest of the kept files as JSON to the output stream.
    pub json: bool,
    /// Write the package database scanners read for the kept files'
    /// packages, when the image has one (as `bundle` does).
    pub package_db: bool,
    /// Keep each owning package's copyright file.
    pub copyright: bool,
    /// The cap on a directory discovery takes whole (None: no cap; the
    /// bundle's default is [`crate::discover::DEFAULT_MAX_TREE_BYTES`]).
    pub discover_max: Option<u64>,
    /// Where to write an SBOM of the slimmed image, and in which format.
    pub sbom: Option<(PathBuf, crate::sbom::Format)>,
}

/// Slims the image: plans, checks and writes it. `out` receives the
/// manifest with `json`, else the written image's manifest digest (the
/// index digest for several platforms). The status is findings when the
/// result would not start (nothing written).
///
/// An image index of several platforms, when no platform is asked for,
/// slims each of them (each analysed natively in its own image) into an
/// index again.
pub fn run(config: &SlimConfig, out: &mut dyn Write) -> Result<Outcome> {
    run_with(config, out, &crate::progress::Silent)
}

/// [`run`], reporting its stages to `progress`: reading the layers (bytes),
/// analysing, taking the kept files out of the layers, writing.
pub fn run_with(
    config: &SlimConfig,
    out: &mut dyn Write,
    progress: &dyn crate::progress::Progress,
) -> Result<Outcome> {
    let format = output_format(config)?;
    sbom::check(config)?;
    let platforms = platforms::chosen(config, format)?;
    let mtime = match config.mtime {
        Some(m) => m,
        None => crate::config::source_date_epoch()?.unwrap_or(0),
    };
    let mut outcome = Outcome::new(Status::Clean);
    let mut slimmed = Vec::new();
    for platform in &platforms {
        match one::slim(
            config,
            (format, progress),
            platform.as_ref(),
            mtime,
            &mut outcome,
        )? {
            Some(s) => slimmed.push(s),
            None => return Ok(outcome),
        }
    }
    progress.stage("writing", None);
    // One image when an SBOM is asked for (`platforms::chosen`).
    let doc = sbom::document(&slimmed[0].plan, config, mtime)?;
    slimmed[0].options.artifacts = sbom::artifacts(doc.as_ref(), format);
    let (digest, written) = platforms::write(format, &slimmed, config)?;
    sbom::write(doc.as_ref(), config)?;
    for (s, w) in slimmed.iter().zip(&written) {
        let stats = summary::Stats::new(s.root(), &s.image, &s.entries, &s.plan, w)?;
        for line in stats.lines(&s.label, &config.output) {
            outcome.note(line);
        }
    }
    let stdout = |e| Error::io(crate::archive::STDOUT_PATH, e);
    if config.json {
        let shown = PathBuf::from(config.output.to_string());
        crate::output::manifest::write(&slimmed[0].plan, &shown, format.as_str(), true, out)
            .and_then(|()| out.flush())
            .map_err(stdout)?;
    } else if config.output != Output::Stdout {
        writeln!(out, "{digest}").map_err(stdout)?;
    }
    Ok(outcome)
}

/// The format to write: asked for, or an image either way (NAME.oci.tar,
/// NAME.docker.tar and - are archives, anything else a layout).
fn output_format(config: &SlimConfig) -> Result<BundleFormat> {
    let format = config.format.unwrap_or_else(|| {
        match (&config.output, BundleFormat::guess(&config.output)) {
            (_, f) if f.is_image() => f,
            (Output::Stdout, _) => BundleFormat::OciArchive,
            _ => BundleFormat::Oci,
        }
    });
    if !format.is_image() {
        return Err(Error::Usage(format!(
            "{}: slim writes an image (oci, oci-archive or docker-archive), not {}",
            config.output,
            format.as_str()
        )));
    }
    Ok(format)
}

/// The settings of the image's config that are kept, with the
/// Entrypoint and Cmd asked for instead (a new Entrypoint drops the Cmd
/// unless one is given too, as `docker run --entrypoint` does).
fn kept_settings(image_config: &Value, config: &SlimConfig) -> Map<String, Value> {
    let theirs = image_config
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut kept: Map<String, Value> = theirs
        .into_iter()
        .filter(|(k, v)| KEPT_SETTINGS.contains(&k.as_str()) && !v.is_null())
        .collect();
    if let Some(e) = &config.entrypoint {
        kept.insert("Entrypoint".into(), Value::from(e.clone()));
        kept.remove("Cmd");
    }
    if let Some(c) = &config.cmd {
        kept.insert("Cmd".into(), Value::from(c.clone()));
    }
    kept
}

/// Entrypoint followed by Cmd.
fn command_line(settings: &Map<String, Value>) -> Vec<String> {
    ["Entrypoint", "Cmd"]
        .iter()
        .filter_map(|k| settings.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// PATH from the image's Env, else the runtimes' default.
fn env_path(settings: &Map<String, Value>) -> String {
    settings
        .get("Env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(oci::DEFAULT_PATH)
        .to_string()
}

/// The bundle planner's options: the image's User, and the paths kept.
fn bundle_options(
    settings: &Map<String, Value>,
    kept: &command::Kept,
    keep: &[String],
) -> Result<BundleOptions> {
    let user = match settings.get("User").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => {
            Some(UserSpec::parse(u).map_err(|e| Error::Usage(format!("the image's User {e}")))?)
        }
        _ => None,
    };
    let mut add: Vec<AddSpec> = kept
        .paths
        .iter()
        .map(|p| AddSpec {
            src: p.display().to_string(),
            dest: None,
        })
        .collect();
    for k in keep {
        if !k.starts_with('/') {
            return Err(Error::Usage(format!(
                "--keep {k}: a path inside the image is absolute"
            )));
        }
        add.push(AddSpec {
            src: k.clone(),
            dest: None,
        });
    }
    Ok(BundleOptions {
        user,
        add,
        ..BundleOptions::default()
    })
}

fn image_options(
    config: &SlimConfig,
    format: BundleFormat,
    image: &oci::Image,
    settings: Map<String, Value>,
    mtime: u64,
    argv: &[String],
) -> oci::ImageOptions {
    let platform = oci::Platform {
        os: image.os().unwrap_or("linux").to_string(),
        architecture: image
            .architecture()
            .map_or_else(|| oci::Platform::host().architecture, str::to_string),
        variant: image.variant().map(str::to_string),
    };
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(oci::BASE_DIGEST.to_string(), image.base_digest());
    if let Some(name) = image.name() {
        annotations.insert(oci::BASE_NAME.to_string(), name.to_string());
    }
    oci::ImageOptions {
        archive: format == BundleFormat::OciArchive,
        // `docker save` writes plain tar layers; gzip elsewhere.
        compression: config.compression.unwrap_or(match format {
            BundleFormat::DockerArchive => oci::Compression::None,
            _ => oci::Compression::Gzip,
        }),
        mtime,
        force: config.force,
        platform,
        program: argv.first().cloned().unwrap_or_default(),
        run: oci::RunConfig::default(),
        tag: config.tag.clone(),
        created_by: format!("elfroot slim {}", base_name(image)),
        base: None,
        config: Some(settings),
        annotations,
        artifacts: Vec::new(),
    }
}

/// The image as the history names it: its name, or its digest (never a
/// host path, so that the same image gives the same result wherever it is).
fn base_name(image: &oci::Image) -> String {
    image
        .name()
        .map_or_else(|| image.base_digest(), str::to_string)
}
