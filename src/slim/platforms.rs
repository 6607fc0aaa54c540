//! Which images of IMAGE `slim` slims, and writing them: the one asked
//! for with `--platform` (or the only one, or this machine's), or every
//! platform of an image index, written as an index again.

use super::SlimConfig;
use super::one::Slimmed;
use crate::error::{Error, Result};
use crate::oci::{self, BundleFormat, Platform};

/// The platforms to slim: `[None]` (the image `open_image_for` chooses
/// without a platform), `[Some(asked)]`, or each platform of an index of
/// several when none is asked for.
pub(super) fn chosen(config: &SlimConfig, format: BundleFormat) -> Result<Vec<Option<Platform>>> {
    if let Some(p) = &config.platform {
        return Ok(vec![Some(p.clone())]);
    }
    let mut platforms = oci::image_platforms(&config.image)?;
    // Attestation manifests (buildx's `unknown/unknown`) are not images to run.
    platforms.retain(|p| p.os != "unknown" && p.architecture != "unknown");
    platforms.dedup();
    if platforms.len() < 2 {
        return Ok(vec![None]);
    }
    let names: Vec<String> = platforms.iter().map(Platform::display).collect();
    if format == BundleFormat::DockerArchive {
        return Err(Error::Usage(format!(
            "{}: an index of {} platforms ({}), and a docker-archive holds one: write an OCI \
             image index (format oci or oci-archive) or choose one with --platform",
            config.image,
            platforms.len(),
            names.join(", ")
        )));
    }
    if config.json || config.sbom.is_some() {
        return Err(Error::Usage(format!(
            "{}: --json and --sbom describe one image, and this index holds {} ({}): choose \
             one with --platform",
            config.image,
            platforms.len(),
            names.join(", ")
        )));
    }
    Ok(platforms.into_iter().map(Some).collect())
}

/// Writes the slimmed images (one image, or an index of several): the
/// digest that names what was written (the image ID of a docker-archive)
/// and what was written of each image.
pub(super) fn write(
    format: BundleFormat,
    slimmed: &[Slimmed],
    config: &SlimConfig,
) -> Result<(String, Vec<oci::Written>)> {
    let out = config.output.as_path();
    if let [one] = slimmed {
        let written = oci::write_image(format, &one.entries, out, &one.options)?;
        return Ok((written.manifest_digest.clone(), vec![written]));
    }
    let pairs: Vec<(&[crate::archive::Entry], &oci::ImageOptions)> = slimmed
        .iter()
        .map(|s| (s.entries.as_slice(), &s.options))
        .collect();
    let index = oci::write_index(format, &pairs, out)?;
    Ok((index.index_digest, index.images))
}
