//! A bundle written as an OCI image or docker-archive (one per platform,
//! or an index of them): the image settings from the bundle's options.

use std::path::Path;

use super::run::{BundleConfig, Planned};
use crate::error::Result;
use crate::oci::{self, BundleFormat};

/// Writes the planned bundles as an image (or an index of them); the digest
/// that names what was written, and the bytes of file contents in the
/// (first) layer.
pub(super) fn write_image(
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
