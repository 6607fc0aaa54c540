//! Opening an existing image: an OCI image layout directory (`oci:DIR[:TAG]`),
//! the same as one tar file (`oci-archive:FILE[:TAG]`), or what `docker save`
//! writes (`docker-archive:FILE[:REF]`, read in `docker`), down to its config
//! and the host paths of its layer blobs, in order, for one platform.
//!
//! Every blob read is checked against its descriptor (size and digest), so a
//! damaged image is an error naming the file, never a wrong analysis. Only
//! the chosen image's layers of an archive are copied out, into a temporary
//! directory that lives as long as the [`Image`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::choose::{self, Candidates, descriptors};
use super::digest::Digest;
use super::docker;
use super::platform::Platform;
use super::spec::{DOCKER_CONFIG, Descriptor, MEDIA_CONFIG};
use super::store::{MAX_LAYERS, Store};
use crate::error::{Error, Result};

/// What an image was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// An OCI image layout directory.
    Layout,
    /// An OCI image layout as one tar file.
    OciArchive,
    /// What `docker save` / `podman save` write (either form).
    DockerArchive,
}

/// One image of a layout, opened and checked.
#[derive(Debug)]
pub struct Image {
    pub(super) source: PathBuf,
    pub(super) kind: ImageKind,
    pub(super) tag: Option<String>,
    pub(super) name: Option<String>,
    pub(super) manifest_digest: Digest,
    pub(super) manifest: Value,
    /// True when the manifest was made here (a legacy docker-archive has none).
    pub(super) made_manifest: bool,
    pub(super) config_digest: Digest,
    pub(super) config: Value,
    pub(super) layers: Vec<Descriptor>,
    pub(super) layer_paths: Vec<PathBuf>,
    /// The digest each layer blob must have, when not checked yet (a
    /// layout's, until [`Image::check_now`] or the read of the layers).
    pub(super) unchecked: Vec<Option<Digest>>,
    /// Where an archive's layers were extracted; removed on drop.
    pub(super) _temp: Option<tempfile::TempDir>,
}

impl Image {
    /// Host paths of the layer blobs, bottom layer first: plain, gzip or
    /// zstd tar files, as [`crate::Root::layers`] reads them.
    pub fn layer_paths(&self) -> &[PathBuf] {
        &self.layer_paths
    }

    /// The image config (architecture, os, config.Env, rootfs, history...).
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The config's `architecture` (GOARCH-style: amd64, arm64...).
    pub fn architecture(&self) -> Option<&str> {
        self.config.get("architecture").and_then(Value::as_str)
    }

    /// The config's `os`.
    pub fn os(&self) -> Option<&str> {
        self.config.get("os").and_then(Value::as_str)
    }

    /// The config's `variant` (v8, v7...).
    pub fn variant(&self) -> Option<&str> {
        self.config.get("variant").and_then(Value::as_str)
    }

    /// The platform the config names (None when it names none).
    pub fn platform(&self) -> Option<Platform> {
        Platform::from_json(&self.config)
    }

    /// The image manifest. A legacy docker-archive has none: this is the
    /// OCI manifest of its config and layers (uncompressed layers are
    /// their own diff_ids), which a layer written on top of it uses.
    pub fn manifest(&self) -> &Value {
        &self.manifest
    }

    /// The digest of the image manifest, as `sha256:<hex>`.
    pub fn manifest_digest(&self) -> String {
        self.manifest_digest.to_string()
    }

    /// The digest of the image config: the image ID Docker and podman show.
    pub fn config_digest(&self) -> String {
        self.config_digest.to_string()
    }

    /// The layer descriptors of the manifest, in the order of [`Image::layer_paths`].
    pub fn layers(&self) -> &[Descriptor] {
        &self.layers
    }

    /// The layout directory or archive the image was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// What the image was read from.
    pub fn kind(&self) -> ImageKind {
        self.kind
    }

    /// The tag (or docker-archive reference) it was chosen by, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The name the image is known by, for `org.opencontainers.image.base.name`:
    /// a docker-archive's RepoTag, or the index entry's containerd name or
    /// tag. None when the image is not named.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The digest for `org.opencontainers.image.base.digest`: the manifest
    /// digest, or, for a legacy docker-archive (which has no manifest), the
    /// config digest, which is the image ID `docker load` gives it.
    pub fn base_digest(&self) -> String {
        if self.made_manifest {
            self.config_digest()
        } else {
            self.manifest_digest()
        }
    }
}

/// True when `spec` names an image for [`open_image`] (`oci:`,
/// `oci-archive:` or `docker-archive:`), as opposed to a directory or a
/// layer tarball.
pub fn is_image_spec(spec: &str) -> bool {
    parse_spec(spec).is_some()
}

fn parse_spec(spec: &str) -> Option<(ImageKind, &str)> {
    [
        ("oci:", ImageKind::Layout),
        ("oci-archive:", ImageKind::OciArchive),
        ("docker-archive:", ImageKind::DockerArchive),
    ]
    .into_iter()
    .find_map(|(prefix, kind)| spec.strip_prefix(prefix).map(|rest| (kind, rest)))
}

/// Opens `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]` or
/// `docker-archive:FILE[:REF]` for this machine's platform (or the only
/// one), as [`open_image_for`] does.
pub fn open_image(spec: &str) -> Result<Image> {
    open_image_for(spec, None)
}

/// Opens `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]` or
/// `docker-archive:FILE[:REF]`.
///
/// Like skopeo, the tag is everything after the first colon of the rest.
/// Without a tag the layout must hold exactly one image; otherwise the error
/// lists the tags. A docker-archive's REF is one of its RepoTags or `@N`
/// (the Nth image, from 0). An image index (several platforms) gives the
/// manifest for `platform`, or without one for this machine's platform or
/// its only one; an image for another platform than one asked for is an
/// error listing those it has.
pub fn open_image_for(spec: &str, platform: Option<&Platform>) -> Result<Image> {
    let mut image = open_image_streaming_for(spec, platform)?;
    image.check_now()?;
    Ok(image)
}

/// [`open_image_for`], except that a layout directory's layer digests are
/// checked as [`Image::layers_to_read`] are read (by
/// [`crate::Root::layers_checked`]: each blob read once instead of twice).
pub fn open_image_streaming_for(spec: &str, platform: Option<&Platform>) -> Result<Image> {
    let Some((kind, rest)) = parse_spec(spec) else {
        return Err(Error::Usage(format!(
            "{spec}: not an image reference (expected oci:DIR[:TAG], oci-archive:FILE[:TAG] \
             or docker-archive:FILE[:REF])"
        )));
    };
    let (path, tag) = split_reference(rest, spec)?;
    let path = Path::new(path);
    let store = match kind {
        ImageKind::Layout => Store::dir(path)?,
        _ => Store::archive(path)?,
    };
    open_store(store, path, kind, tag, platform)
}

/// Opens `DIR[:TAG]` (a layout) or `FILE[:TAG]` (an OCI archive or a
/// docker-archive), telling them apart by what is there; the prefixed
/// forms [`open_image`] takes are accepted too.
pub fn open_path(spec: &str) -> Result<Image> {
    open_path_for(spec, None)
}

/// [`open_path`] for a platform, as [`open_image_for`] chooses it.
pub fn open_path_for(spec: &str, platform: Option<&Platform>) -> Result<Image> {
    if is_image_spec(spec) {
        return open_image_for(spec, platform);
    }
    let (path, tag) = split_reference(spec, spec)?;
    let path = Path::new(path);
    if !path.is_file() {
        let mut image = open_store(Store::dir(path)?, path, ImageKind::Layout, tag, platform)?;
        image.check_now()?;
        return Ok(image);
    }
    let store = Store::archive(path)?;
    let kind = if !store.has("oci-layout")? && store.has("manifest.json")? {
        ImageKind::DockerArchive
    } else {
        ImageKind::OciArchive
    };
    open_store(store, path, kind, tag, platform)
}

/// The platforms the image `spec` (as [`open_path`] takes it) holds: those
/// of its index, or its config's (a docker-archive image has one).
pub fn image_platforms(spec: &str) -> Result<Vec<Platform>> {
    let (kind, rest) = parse_spec(spec).unwrap_or((ImageKind::Layout, spec));
    let (path, tag) = split_reference(rest, spec)?;
    let path = Path::new(path);
    let store = if path.is_file() {
        Store::archive(path)?
    } else {
        Store::dir(path)?
    };
    if kind == ImageKind::DockerArchive || !store.has("index.json")? {
        return Ok(open_path(spec)?.platform().into_iter().collect());
    }
    store.check_layout()?;
    match choose::candidates(&store, path, tag)?.0 {
        Candidates::Platforms(list) => Ok(list
            .iter()
            .filter_map(|d| d.platform.as_ref().and_then(Platform::from_json))
            .collect()),
        Candidates::One(d) => {
            let digest = store.digest_of(&d, "index.json")?;
            let manifest = store.read_json_blob(&d, &digest, "manifest")?;
            let (_, config, _) = read_config(&store, &manifest, &digest.blob_path())?;
            Ok(Platform::from_json(&config).into_iter().collect())
        }
    }
}

fn split_reference<'s>(rest: &'s str, spec: &str) -> Result<(&'s str, Option<&'s str>)> {
    let (path, tag) = match rest.split_once(':') {
        Some((p, t)) => (p, Some(t).filter(|t| !t.is_empty())),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(Error::Usage(format!("{spec}: no path before the tag")));
    }
    Ok((path, tag))
}

fn open_store(
    store: Store,
    path: &Path,
    kind: ImageKind,
    tag: Option<&str>,
    platform: Option<&Platform>,
) -> Result<Image> {
    if kind == ImageKind::DockerArchive {
        return docker::open(store, path, tag, platform);
    }
    store.check_layout()?;
    let (candidates, name) = choose::candidates(&store, path, tag)?;
    let chosen = choose::choose(candidates, path, platform)?;
    let mut image = from_manifest(store, path, &chosen, platform)?;
    image.kind = kind;
    image.tag = tag.map(str::to_string);
    image.name = name;
    Ok(image)
}

/// The image whose manifest `chosen` (from index.json) describes, checked,
/// with an archive's layers copied out.
pub(super) fn from_manifest(
    store: Store,
    path: &Path,
    chosen: &Descriptor,
    platform: Option<&Platform>,
) -> Result<Image> {
    let manifest_digest = store.digest_of(chosen, "index.json")?;
    let manifest = store.read_json_blob(chosen, &manifest_digest, "manifest")?;
    let manifest_name = manifest_digest.blob_path();
    let (config_digest, config, layers) = read_config(&store, &manifest, &manifest_name)?;
    check_platform(&config, platform, || {
        store.shown(&config_digest.blob_path())
    })?;
    if layers.len() > MAX_LAYERS {
        return Err(store.bad(
            &manifest_name,
            &format!(
                "{} layers; elfroot reads at most {MAX_LAYERS}",
                layers.len()
            ),
        ));
    }
    let temp = layer_dir(&store, layers.len())?;
    // A blob listed twice is checked (and copied out of an archive) once.
    let mut checked: HashMap<(&str, u64), (PathBuf, Option<Digest>)> = HashMap::new();
    let mut layer_paths = Vec::with_capacity(layers.len());
    let mut unchecked = Vec::with_capacity(layers.len());
    for d in &layers {
        let (path, check) = match checked.get(&(d.digest.as_str(), d.size)) {
            Some(p) => p.clone(),
            None => {
                let p = store.layer(d, &manifest_digest, temp.as_ref().map(|t| t.path()))?;
                checked.insert((d.digest.as_str(), d.size), p.clone());
                p
            }
        };
        layer_paths.push(path);
        unchecked.push(check);
    }
    Ok(Image {
        source: path.to_path_buf(),
        kind: ImageKind::Layout,
        tag: None,
        name: None,
        manifest_digest,
        manifest,
        made_manifest: false,
        config_digest,
        config,
        layers,
        layer_paths,
        unchecked,
        _temp: temp,
    })
}

/// A temporary directory for the layers of an archive, if it has any.
pub(super) fn layer_dir(store: &Store, layers: usize) -> Result<Option<tempfile::TempDir>> {
    match store {
        Store::Archive { .. } if layers > 0 => tempfile::Builder::new()
            .prefix("elfroot-image-")
            .tempdir()
            .map(Some)
            .map_err(|e| Error::io(std::env::temp_dir(), e)),
        _ => Ok(None),
    }
}

/// Refuses an image for another platform than the one asked for.
pub(super) fn check_platform(
    config: &Value,
    platform: Option<&Platform>,
    shown: impl FnOnce() -> PathBuf,
) -> Result<()> {
    let Some(want) = platform else {
        return Ok(());
    };
    if want.matches(config) {
        return Ok(());
    }
    let has = Platform::from_json(config).map_or_else(|| "no platform".into(), |p| p.display());
    Err(Error::Usage(format!(
        "{}: the image is for {has}, not {}",
        shown().display(),
        want.display()
    )))
}

/// The config a manifest names (checked to be an image config with a
/// diff_id per layer), its digest, and the manifest's layer descriptors.
fn read_config(
    store: &Store,
    manifest: &Value,
    manifest_name: &str,
) -> Result<(Digest, Value, Vec<Descriptor>)> {
    let bad = |reason: String| store.bad(manifest_name, &reason);
    let desc = manifest
        .get("config")
        .ok_or_else(|| bad("manifest has no config".into()))?;
    let desc: Descriptor = serde_json::from_value(desc.clone())
        .map_err(|e| bad(format!("bad config descriptor: {e}")))?;
    let layers = descriptors(manifest, "layers").map_err(bad)?;
    if desc.media_type != MEDIA_CONFIG && desc.media_type != DOCKER_CONFIG {
        return Err(bad(format!(
            "not a container image (its config is {})",
            desc.media_type
        )));
    }
    let digest = store.digest_of(&desc, manifest_name)?;
    let config = store.read_json_blob(&desc, &digest, "config")?;
    let config_name = digest.blob_path();
    if !config.is_object() {
        return Err(store.bad(&config_name, "config is not a JSON object"));
    }
    check_diff_ids(&config, layers.len()).map_err(|reason| store.bad(&config_name, &reason))?;
    Ok((digest, config, layers))
}

pub(super) fn check_diff_ids(config: &Value, layers: usize) -> std::result::Result<(), String> {
    let Some(ids) = config.pointer("/rootfs/diff_ids") else {
        return Err("config has no rootfs.diff_ids".into());
    };
    let Some(ids) = ids.as_array() else {
        return Err("rootfs.diff_ids is not a list".into());
    };
    if ids.len() != layers {
        return Err(format!(
            "rootfs.diff_ids lists {} layers but the manifest has {layers}",
            ids.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_first_colon() {
        assert_eq!(
            split_reference("dir:tag", "").unwrap(),
            ("dir", Some("tag"))
        );
        assert_eq!(
            split_reference("dir:a:b", "").unwrap(),
            ("dir", Some("a:b"))
        );
        assert_eq!(split_reference("dir:", "").unwrap(), ("dir", None));
        assert_eq!(split_reference("dir", "").unwrap(), ("dir", None));
        assert!(split_reference(":tag", "").is_err());
        assert!(matches!(open_image("docker://x"), Err(Error::Usage(_))));
        assert!(is_image_spec("docker-archive:x.tar:a:b"));
    }
}
