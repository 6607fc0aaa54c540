//! The SBOM of a slimmed image (`slim --sbom`): the same document as
//! `bundle --sbom` writes, made by the bundle's inventory from the plan
//! once its files are staged out of the image's layers, so that it lists
//! the kept files, the package database written for scanners and the
//! packages of the image's database that own them. An OCI output also
//! holds it as an artifact referring to the image; a docker-archive
//! cannot.

use super::SlimConfig;
use crate::bundle::{Bundle, inventory};
use crate::error::Result;
use crate::oci::{Artifact, BundleFormat};

/// Fails, before anything is read, when the SBOM asked for could not be written.
pub(super) fn check(config: &SlimConfig) -> Result<()> {
    match &config.sbom {
        Some((path, _)) => inventory::check_writable(path),
        None => Ok(()),
    }
}

/// The SBOM asked for, of the staged plan (None when none is asked for).
pub(super) fn document(plan: &Bundle, config: &SlimConfig, mtime: u64) -> Result<Option<Artifact>> {
    let Some((path, format)) = &config.sbom else {
        return Ok(None);
    };
    inventory::artifact(plan, &config.output, path, *format, mtime).map(Some)
}

/// What the image's layout stores beside it: the SBOM, unless the output
/// is a docker-archive.
pub(super) fn artifacts(doc: Option<&Artifact>, format: BundleFormat) -> Vec<Artifact> {
    doc.filter(|_| format != BundleFormat::DockerArchive)
        .cloned()
        .into_iter()
        .collect()
}

/// Writes the SBOM's file, once the image is written.
pub(super) fn write(doc: Option<&Artifact>, config: &SlimConfig) -> Result<()> {
    if let (Some(doc), Some((path, _))) = (doc, &config.sbom) {
        crate::archive::write_small_file(path, &doc.bytes)?;
    }
    Ok(())
}
