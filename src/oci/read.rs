//! Opening an existing image: an OCI image layout directory (`oci:DIR[:TAG]`)
//! or the same as one tar file (`oci-archive:FILE[:TAG]`), down to its
//! config and the host paths of its layer blobs, in order.
//!
//! Every blob read is checked against its descriptor (size and digest), so a
//! damaged image is an error naming the file, never a wrong analysis. Only
//! the chosen image's layers of an archive are copied out, into a temporary
//! directory that lives as long as the [`Image`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::digest::Digest;
use super::platform::Platform;
use super::spec::{DOCKER_CONFIG, Descriptor, MEDIA_CONFIG};
use super::store::{MAX_LAYERS, Store};
use crate::error::{Error, Result};

/// One image of a layout, opened and checked.
#[derive(Debug)]
pub struct Image {
    source: PathBuf,
    tag: Option<String>,
    manifest_digest: Digest,
    manifest: Value,
    config: Value,
    layers: Vec<Descriptor>,
    layer_paths: Vec<PathBuf>,
    /// Where an archive's layers were extracted; removed on drop.
    _temp: Option<tempfile::TempDir>,
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

    /// The image manifest.
    pub fn manifest(&self) -> &Value {
        &self.manifest
    }

    /// The digest of the image manifest, as `sha256:<hex>`.
    pub fn manifest_digest(&self) -> String {
        self.manifest_digest.to_string()
    }

    /// The layer descriptors of the manifest, in the order of [`Image::layer_paths`].
    pub fn layers(&self) -> &[Descriptor] {
        &self.layers
    }

    /// The layout directory or archive the image was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The tag it was chosen by, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
}

/// True when `spec` names an image for [`open_image`] (`oci:` or
/// `oci-archive:`), as opposed to a directory or a layer tarball.
pub fn is_image_spec(spec: &str) -> bool {
    spec.starts_with("oci:") || spec.starts_with("oci-archive:")
}

/// Opens `oci:DIR[:TAG]` or `oci-archive:FILE[:TAG]`.
///
/// Like skopeo, the tag is everything after the first colon of the rest.
/// Without a tag the layout must hold exactly one image; otherwise the error
/// lists the tags. An image index (several platforms) under the tag picks
/// the manifest for this machine's platform, or its only one.
pub fn open_image(spec: &str) -> Result<Image> {
    let (archive, rest) = if let Some(rest) = spec.strip_prefix("oci:") {
        (false, rest)
    } else if let Some(rest) = spec.strip_prefix("oci-archive:") {
        (true, rest)
    } else {
        return Err(Error::Usage(format!(
            "{spec}: not an image reference (expected oci:DIR[:TAG] or oci-archive:FILE[:TAG])"
        )));
    };
    let (path, tag) = split_reference(rest, spec)?;
    open(Path::new(path), archive, tag)
}

/// Opens `DIR[:TAG]` (a layout) or `FILE[:TAG]` (an archive), telling them
/// apart by what is there; `oci:` and `oci-archive:` are accepted too.
pub fn open_path(spec: &str) -> Result<Image> {
    if is_image_spec(spec) {
        return open_image(spec);
    }
    let (path, tag) = split_reference(spec, spec)?;
    let path = Path::new(path);
    open(path, path.is_file(), tag)
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

fn open(path: &Path, archive: bool, tag: Option<&str>) -> Result<Image> {
    let store = if archive {
        Store::archive(path)?
    } else {
        Store::dir(path)?
    };
    store.check_layout()?;
    let chosen = choose_manifest(&store, path, tag)?;
    let manifest_digest = store.digest_of(&chosen, "index.json")?;
    let manifest = store.read_json_blob(&chosen, &manifest_digest, "manifest")?;
    let (config, layers) = read_config(&store, &manifest, &manifest_digest.blob_path())?;
    let temp = match &store {
        Store::Archive { .. } if !layers.is_empty() => Some(
            tempfile::Builder::new()
                .prefix("elfroot-image-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?,
        ),
        _ => None,
    };
    if layers.len() > MAX_LAYERS {
        return Err(store.bad(
            &manifest_digest.blob_path(),
            &format!(
                "{} layers; elfroot reads at most {MAX_LAYERS}",
                layers.len()
            ),
        ));
    }
    // A blob listed twice is checked (and copied out of an archive) once.
    let mut checked: HashMap<(&str, u64), PathBuf> = HashMap::new();
    let mut layer_paths = Vec::with_capacity(layers.len());
    for d in &layers {
        let path = match checked.get(&(d.digest.as_str(), d.size)) {
            Some(p) => p.clone(),
            None => {
                let p = store.layer(d, &manifest_digest, temp.as_ref().map(|t| t.path()))?;
                checked.insert((d.digest.as_str(), d.size), p.clone());
                p
            }
        };
        layer_paths.push(path);
    }
    Ok(Image {
        source: path.to_path_buf(),
        tag: tag.map(str::to_string),
        manifest_digest,
        manifest,
        config,
        layers,
        layer_paths,
        _temp: temp,
    })
}

/// The manifest descriptor `tag` names in index.json (through a
/// per-platform index, if that is what it names).
fn choose_manifest(store: &Store, path: &Path, tag: Option<&str>) -> Result<Descriptor> {
    let usage = |reason: String| Error::Usage(format!("{}: {reason}", path.display()));
    let index = store.read_json("index.json")?;
    let manifests =
        descriptors(&index, "manifests").map_err(|reason| store.bad("index.json", &reason))?;
    let chosen = choose_by_tag(&manifests, tag).map_err(usage)?;
    if !chosen.is_index() {
        return Ok(chosen);
    }
    let digest = store.digest_of(&chosen, "index.json")?;
    let nested = store.read_json_blob(&chosen, &digest, "image index")?;
    let list = descriptors(&nested, "manifests")
        .map_err(|reason| store.bad(&digest.blob_path(), &reason))?;
    choose_platform(&list, &Platform::host()).map_err(usage)
}

/// The config a manifest names (checked to be an image config with a
/// diff_id per layer), and the manifest's layer descriptors.
fn read_config(
    store: &Store,
    manifest: &Value,
    manifest_name: &str,
) -> Result<(Value, Vec<Descriptor>)> {
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
    Ok((config, layers))
}

/// The descriptors in `doc[key]` (an index's manifests, a manifest's layers).
fn descriptors(doc: &Value, key: &str) -> std::result::Result<Vec<Descriptor>, String> {
    let list = doc.get(key).ok_or_else(|| format!("no \"{key}\" list"))?;
    serde_json::from_value(list.clone()).map_err(|e| format!("bad \"{key}\" list: {e}"))
}

fn choose_by_tag(
    manifests: &[Descriptor],
    tag: Option<&str>,
) -> std::result::Result<Descriptor, String> {
    let names = || {
        manifests
            .iter()
            .map(|d| match d.ref_name() {
                Some(t) => t.to_string(),
                None => format!("untagged {}", d.digest),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match tag {
        Some(tag) => manifests
            .iter()
            .find(|d| d.ref_name() == Some(tag))
            .cloned()
            .ok_or_else(|| match manifests.len() {
                0 => format!("no image tagged '{tag}' (the layout holds no image)"),
                _ => format!("no image tagged '{tag}' (tags: {})", names()),
            }),
        None => match manifests {
            [one] => Ok(one.clone()),
            [] => Err("the layout holds no image".into()),
            _ => Err(format!(
                "holds {} images; name one with :TAG (tags: {})",
                manifests.len(),
                names()
            )),
        },
    }
}

fn choose_platform(
    list: &[Descriptor],
    host: &Platform,
) -> std::result::Result<Descriptor, String> {
    if let [one] = list {
        return Ok(one.clone());
    }
    if let Some(d) = list
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| host.matches(p)))
    {
        return Ok(d.clone());
    }
    let platforms: Vec<String> = list
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .map(|p| {
            let f = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("?");
            format!("{}/{}", f("os"), f("architecture"))
        })
        .collect();
    Err(format!(
        "the image index has no manifest for {} (it has {}); copy one platform out with skopeo copy --override-arch",
        host.display(),
        platforms.join(", ")
    ))
}

fn check_diff_ids(config: &Value, layers: usize) -> std::result::Result<(), String> {
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
    use super::super::spec::{MEDIA_MANIFEST, REF_NAME};
    use super::*;

    fn desc(tag: Option<&str>, digest: &str) -> Descriptor {
        let mut d = Descriptor::new(MEDIA_MANIFEST, &Digest::parse(digest).unwrap(), 1);
        if let Some(t) = tag {
            d.annotations.insert(REF_NAME.into(), t.into());
        }
        d
    }

    #[test]
    fn tags_choose_and_errors_list_them() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let list = [desc(Some("one"), &a), desc(None, &b)];
        assert_eq!(choose_by_tag(&list, Some("one")).unwrap().digest, a);
        let err = choose_by_tag(&list, None).unwrap_err();
        assert!(err.contains("one, untagged sha256:bbbb"), "{err}");
        let err = choose_by_tag(&list, Some("two")).unwrap_err();
        assert!(err.contains("'two'") && err.contains("tags: one"), "{err}");
        assert_eq!(choose_by_tag(&list[..1], None).unwrap().digest, a);
    }

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
    }
}
