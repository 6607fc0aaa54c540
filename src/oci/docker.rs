//! Reading what `docker save` and `podman save` write (`docker-archive:`):
//! a tar file whose `manifest.json` lists images, each a config file,
//! RepoTags and layer files, bottom first.
//!
//! Two forms exist. The legacy one (Docker before 25, podman, skopeo) has
//! `<id>/layer.tar` or `<digest>.tar` layers and `<id>.json` configs, and no
//! manifest: each layer's contents are checked against the config's
//! rootfs.diff_ids, and the image gets the OCI manifest of its blobs. Docker
//! 25 and later put an OCI image layout in the same tar, manifest.json
//! naming its blobs: the image is then read through the layout's own
//! index and manifest (every blob checked against its descriptor), the one
//! whose config is the config manifest.json names; when none is, the files
//! manifest.json names are read as in the legacy form.
//!
//! manifest.json is hostile input: a name in it that is not a plain path
//! inside the archive is refused, and symbolic links between members (which
//! `docker save` writes for a layer it already wrote) are followed only
//! inside the archive, so nothing of the host is ever read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use super::choose::descriptors;
use super::digest::{Algorithm, Digest, HashingReader, HashingWriter};
use super::platform::Platform;
use super::read::{self, Image, ImageKind};
use super::spec::{
    Descriptor, MEDIA_CONFIG, MEDIA_LAYER, MEDIA_LAYER_GZIP, MEDIA_LAYER_ZSTD, MEDIA_MANIFEST,
    to_json,
};
use super::store::{MAX_LAYERS, Store};
use crate::archive::compress;
use crate::error::{Error, Result};

/// The most manifests of an OCI-form archive looked at to find the one
/// manifest.json means.
const MAX_MANIFESTS: usize = 1024;

/// One image of manifest.json.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    /// The config file's name in the archive.
    config: String,
    /// `name:tag` references (null or missing for an untagged image).
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    /// Layer files, bottom first.
    layers: Vec<String>,
}

impl ManifestEntry {
    fn tags(&self) -> &[String] {
        self.repo_tags.as_deref().unwrap_or_default()
    }
}

/// Opens the image `reference` (a RepoTag or `@N`) of a docker-archive.
pub(super) fn open(
    store: Store,
    path: &Path,
    reference: Option<&str>,
    platform: Option<&Platform>,
) -> Result<Image> {
    let size = store.size(
        "manifest.json",
        "missing: not a docker-archive (docker save writes one)",
    )?;
    let bytes = store.read_small("manifest.json", size)?;
    let entries: Vec<ManifestEntry> = serde_json::from_slice(&bytes).map_err(|e| {
        store.bad(
            "manifest.json",
            &format!("bad docker-archive manifest: {e}"),
        )
    })?;
    let (entry, name) = choose_entry(&entries, reference)
        .map_err(|reason| Error::Usage(format!("{}: {reason}", path.display())))?;
    let config = member_name(&store, &entry.config)?;
    let oci = match store.has("oci-layout")? && store.has("index.json")? {
        true => oci_manifest(&store, &config)?,
        false => None,
    };
    let mut image = match oci {
        Some(d) => read::from_manifest(store, path, &d, platform)?,
        None => legacy(store, path, &config, &entry.layers, platform)?,
    };
    image.kind = ImageKind::DockerArchive;
    image.tag = reference.map(str::to_string);
    image.name = name;
    Ok(image)
}

/// The image `reference` names (and the RepoTag it is known by).
fn choose_entry<'e>(
    entries: &'e [ManifestEntry],
    reference: Option<&str>,
) -> std::result::Result<(&'e ManifestEntry, Option<String>), String> {
    let listing = || {
        let tags: Vec<String> = entries
            .iter()
            .enumerate()
            .map(|(n, e)| match e.tags() {
                [] => format!("@{n} (untagged)"),
                tags => tags.join(", "),
            })
            .collect();
        tags.join(", ")
    };
    let first_tag = |e: &ManifestEntry| e.tags().first().cloned();
    match reference {
        Some(r) if r.starts_with('@') => {
            let n: usize = r[1..]
                .parse()
                .map_err(|_| format!("{r:?}: expected @N, a number from 0"))?;
            let e = entries
                .get(n)
                .ok_or_else(|| format!("no image {r} (the archive holds {})", entries.len()))?;
            Ok((e, first_tag(e)))
        }
        Some(r) => entries
            .iter()
            .find_map(|e| {
                let tag = e.tags().iter().find(|t| same_reference(t, r))?;
                Some((e, Some(tag.clone())))
            })
            .ok_or_else(|| format!("no image named '{r}' (it holds {})", listing())),
        None => match entries {
            [one] => Ok((one, first_tag(one))),
            [] => Err("manifest.json lists no image".into()),
            _ => Err(format!(
                "holds {} images; name one with :NAME:TAG or :@N ({})",
                entries.len(),
                listing()
            )),
        },
    }
}

/// True when two references name the same image, as Docker and podman
/// complete them (`x` is `x:latest`, `docker.io/library/x`, `localhost/x`).
fn same_reference(a: &str, b: &str) -> bool {
    fn full(r: &str) -> String {
        let r = ["docker.io/library/", "docker.io/", "localhost/"]
            .iter()
            .find_map(|p| r.strip_prefix(p))
            .unwrap_or(r);
        let last = r.rsplit('/').next().unwrap_or(r);
        if last.contains(':') {
            r.to_string()
        } else {
            format!("{r}:latest")
        }
    }
    full(a) == full(b)
}

/// A name manifest.json gives: a plain relative path, not leaving the archive.
fn member_name(store: &Store, name: &str) -> Result<String> {
    let trimmed = name.strip_prefix("./").unwrap_or(name);
    let plain = !trimmed.is_empty()
        && !trimmed.starts_with('/')
        && trimmed
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..");
    if plain {
        Ok(trimmed.to_string())
    } else {
        Err(store.bad(
            "manifest.json",
            &format!("names {name:?}, which is not a file inside the archive"),
        ))
    }
}

/// The digest a member's name says its contents have (`blobs/sha256/<hex>`,
/// `<hex>.json`, `<hex>.tar`), if it says one.
fn named_digest(name: &str) -> Option<Digest> {
    if let Some(rest) = name.strip_prefix("blobs/")
        && let Some((alg, hex)) = rest.split_once('/')
    {
        return Digest::parse(&format!("{alg}:{hex}")).ok();
    }
    let hex = name
        .strip_suffix(".json")
        .or_else(|| name.strip_suffix(".tar"))?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

/// In the Docker 25+ form, the manifest of the layout whose config is the
/// one manifest.json names (None: none is, and the files manifest.json
/// names are read as in the legacy form).
fn oci_manifest(store: &Store, config_name: &str) -> Result<Option<Descriptor>> {
    let Some(want) = named_digest(config_name) else {
        return Ok(None);
    };
    let index = store.read_json("index.json")?;
    let mut queue =
        descriptors(&index, "manifests").map_err(|reason| store.bad("index.json", &reason))?;
    let mut seen = 0;
    while let Some(d) = queue.pop() {
        seen += 1;
        if seen > MAX_MANIFESTS {
            break;
        }
        let digest = store.digest_of(&d, "index.json")?;
        if d.is_index() {
            let nested = store.read_json_blob(&d, &digest, "image index")?;
            let list = descriptors(&nested, "manifests")
                .map_err(|reason| store.bad(&digest.blob_path(), &reason))?;
            queue.extend(list);
            continue;
        }
        if d.media_type != MEDIA_MANIFEST
            && d.media_type != "application/vnd.docker.distribution.manifest.v2+json"
        {
            continue;
        }
        let manifest = store.read_json_blob(&d, &digest, "manifest")?;
        let config = manifest.pointer("/config/digest").and_then(Value::as_str);
        if config == Some(want.to_string().as_str()) {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// The legacy form: the config and layer files manifest.json names, each
/// layer's uncompressed contents checked against its diff_id.
fn legacy(
    store: Store,
    path: &Path,
    config_name: &str,
    layer_names: &[String],
    platform: Option<&Platform>,
) -> Result<Image> {
    let size = store.size(
        config_name,
        "missing (manifest.json names it as the config)",
    )?;
    let bytes = store.read_small(config_name, size)?;
    let config_digest = Digest::sha256(&bytes);
    check_named(&store, config_name, &config_digest)?;
    let config = store.parse_json(config_name, &bytes)?;
    if !config.is_object() {
        return Err(store.bad(config_name, "config is not a JSON object"));
    }
    let bad_config = |reason: String| store.bad(config_name, &reason);
    read::check_diff_ids(&config, layer_names.len()).map_err(bad_config)?;
    read::check_platform(&config, platform, || store.shown(config_name))?;
    if layer_names.len() > MAX_LAYERS {
        return Err(store.bad(
            "manifest.json",
            &format!(
                "{} layers; elfroot reads at most {MAX_LAYERS}",
                layer_names.len()
            ),
        ));
    }
    let diff_ids = config
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let temp = read::layer_dir(&store, layer_names.len())?;
    let mut layers = Vec::new();
    let mut layer_paths: Vec<PathBuf> = Vec::new();
    for (n, (name, diff_id)) in layer_names.iter().zip(&diff_ids).enumerate() {
        let rel = member_name(&store, name)?;
        let dir = temp.as_ref().map(|t| t.path()).unwrap_or(Path::new("."));
        let layer = copy_layer(&store, &rel, &dir.join(format!("layer-{n}")))?;
        check_named(&store, &rel, &layer.blob)?;
        if Some(layer.diff_id.to_string().as_str()) != diff_id.as_str() {
            return Err(store.bad(
                &rel,
                &format!(
                    "its contents are {} but the config's rootfs.diff_ids[{n}] is {diff_id}",
                    layer.diff_id
                ),
            ));
        }
        layers.push(Descriptor::new(layer.media_type, &layer.blob, layer.size));
        layer_paths.push(layer.host);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": Descriptor::new(MEDIA_CONFIG, &config_digest, size),
        "layers": layers,
    });
    Ok(Image {
        source: path.to_path_buf(),
        kind: ImageKind::DockerArchive,
        tag: None,
        name: None,
        manifest_digest: Digest::sha256(&to_json(&manifest)),
        manifest,
        made_manifest: true,
        config_digest,
        config,
        layers,
        layer_paths,
        unchecked: Vec::new(),
        _temp: temp,
    })
}

/// Refuses a member whose name is a digest its contents do not have.
fn check_named(store: &Store, rel: &str, got: &Digest) -> Result<()> {
    match named_digest(rel) {
        Some(want) if want.algorithm() == Algorithm::Sha256 && want != *got => {
            Err(store.bad(rel, &format!("digest mismatch: the contents are {got}")))
        }
        _ => Ok(()),
    }
}

/// A layer copied out of the archive.
struct Layer {
    host: PathBuf,
    /// Digest and size of the file as it is in the archive.
    blob: Digest,
    size: u64,
    /// The OCI media type of its compression.
    media_type: &'static str,
    /// Digest of the uncompressed tar.
    diff_id: Digest,
}

/// Copies the member `rel` to `host`, digesting it as it is and
/// uncompressed, in one read.
fn copy_layer(store: &Store, rel: &str, host: &Path) -> Result<Layer> {
    let unreadable = |e: io::Error| store.bad(rel, &format!("not a readable layer: {e}"));
    let out = File::create(host).map_err(|e| Error::io(host, e))?;
    let raw = HashingReader::new(store.open(rel)?, Algorithm::Sha256);
    let mut buffered = BufReader::new(Tee {
        inner: raw,
        out: BufWriter::new(out),
    });
    let kind = compress::Compression::sniff(buffered.fill_buf().map_err(unreadable)?);
    let mut plain = HashingWriter::new(io::sink(), Algorithm::Sha256);
    compress::decoder(kind, &mut buffered)
        .and_then(|mut d| io::copy(&mut d, &mut plain))
        .map_err(unreadable)?;
    // Whatever follows the compressed stream is part of the file too.
    io::copy(&mut buffered, &mut io::sink()).map_err(unreadable)?;
    let tee = buffered.into_inner();
    let mut out = tee.out;
    out.flush().map_err(|e| Error::io(host, e))?;
    let (blob, size) = tee.inner.drain().map_err(unreadable)?;
    let (_, diff_id, _) = plain.finish();
    let media_type = match kind {
        compress::Compression::None => MEDIA_LAYER,
        compress::Compression::Gzip => MEDIA_LAYER_GZIP,
        compress::Compression::Zstd => MEDIA_LAYER_ZSTD,
    };
    Ok(Layer {
        host: host.to_path_buf(),
        blob,
        size,
        media_type,
        diff_id,
    })
}

/// A reader that writes what it reads to `out`.
struct Tee<R, W> {
    inner: R,
    out: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tags: &[&str]) -> ManifestEntry {
        ManifestEntry {
            config: "c.json".into(),
            repo_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            layers: vec![],
        }
    }

    #[test]
    fn references_choose_an_image() {
        let list = [
            entry(&["a:1", "a:2"]),
            entry(&["docker.io/library/b:latest"]),
            entry(&[]),
        ];
        assert_eq!(
            choose_entry(&list, Some("a:2")).unwrap().1.as_deref(),
            Some("a:2")
        );
        let (e, name) = choose_entry(&list, Some("b")).unwrap();
        assert_eq!(e.tags()[0], "docker.io/library/b:latest");
        assert_eq!(name.as_deref(), Some("docker.io/library/b:latest"));
        assert!(choose_entry(&list, Some("@2")).unwrap().1.is_none());
        let err = choose_entry(&list, None).unwrap_err();
        assert!(
            err.contains("holds 3 images") && err.contains("a:1, a:2"),
            "{err}"
        );
        assert!(err.contains("@2 (untagged)"), "{err}");
        assert!(
            choose_entry(&list, Some("@3"))
                .unwrap_err()
                .contains("holds 3")
        );
        assert!(choose_entry(&list, Some("c")).unwrap_err().contains("'c'"));
        assert!(same_reference("localhost/x:1", "x:1"));
        assert!(!same_reference("x:1", "x"));
    }

    #[test]
    fn names_say_their_digest() {
        let hex = "a".repeat(64);
        let d = Digest::parse(&format!("sha256:{hex}")).unwrap();
        assert_eq!(
            named_digest(&format!("blobs/sha256/{hex}")),
            Some(d.clone())
        );
        assert_eq!(named_digest(&format!("{hex}.json")), Some(d.clone()));
        assert_eq!(named_digest(&format!("{hex}.tar")), Some(d));
        assert_eq!(named_digest(&format!("{hex}/layer.tar")), None);
        assert_eq!(named_digest("config.json"), None);
    }
}
