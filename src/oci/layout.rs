//! The files of an OCI image layout holding built images: one image tagged
//! in index.json, or several platforms' images under one image index that
//! index.json tags (as `docker buildx` and `podman manifest` make them, and
//! as skopeo and runtimes choose a platform from). A `manifest.json` beside
//! them lets `docker load` take the layout as `docker save` writes it
//! since Docker 25.

use std::path::Path;

use serde_json::json;

use super::digest::Digest;
use super::docker_write::docker_manifest_entry;
use super::spec::{
    self, Descriptor, LAYOUT_VERSION, MEDIA_INDEX, MEDIA_MANIFEST, REF_NAME, to_json,
};
use super::write::{Built, DEFAULT_TAG, ImageOptions, WrittenIndex};
use crate::archive::{self, Entry, Format, WriteOptions};
use crate::error::Result;

/// Writes `built` as a layout (a directory, or with `archive` a tar file)
/// at `out`, tagged with `opts.tag`, with `opts.mtime` and `opts.force`.
pub(super) fn write(
    built: &[Built],
    out: &Path,
    archive: bool,
    opts: &ImageOptions,
) -> Result<WrittenIndex> {
    let tag = opts.tag.as_deref().unwrap_or(DEFAULT_TAG);
    let layout = json!({"imageLayoutVersion": LAYOUT_VERSION});
    let mut files = vec![Entry::data("/oci-layout", to_json(&layout), 0o644)];
    let mut manifests = Vec::new();
    let mut docker = Vec::new();
    for (n, b) in built.iter().enumerate() {
        let (config, config_digest) = b.config_blob();
        let (manifest, manifest_digest) = b.manifest_blob();
        let mut d = Descriptor::new(MEDIA_MANIFEST, &manifest_digest, manifest.len() as u64);
        d.platform = Some(b.platform.to_json());
        manifests.push(d);
        add_blob(&mut files, &config_digest, Blob::Data(config));
        add_blob(&mut files, &manifest_digest, Blob::Data(manifest));
        let layers = b.layer_blobs()?;
        for (digest, path) in &layers {
            add_blob(&mut files, digest, Blob::File(path));
        }
        // Docker wants a NAME:TAG here; a bare tag gives an untagged image.
        let tags: Vec<&str> = (n == 0 && tag.contains(':'))
            .then_some(tag)
            .into_iter()
            .collect();
        let layer_names: Vec<String> = layers.iter().map(|(d, _)| d.blob_path()).collect();
        docker.push(docker_manifest_entry(
            &config_digest.blob_path(),
            &tags,
            &layer_names,
        ));
    }
    let (mut top, index_digest) = match manifests.as_slice() {
        [one] => (one.clone(), Digest::parse(&one.digest).ok()),
        _ => {
            let index = to_json(&json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_INDEX,
                "manifests": manifests,
            }));
            let digest = Digest::sha256(&index);
            let d = Descriptor::new(MEDIA_INDEX, &digest, index.len() as u64);
            add_blob(&mut files, &digest, Blob::Data(index));
            (d, Some(digest))
        }
    };
    top.annotations.insert(REF_NAME.into(), tag.into());
    let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [top]});
    files.insert(1, Entry::data("/index.json", to_json(&index), 0o644));
    files.insert(
        2,
        Entry::data("/manifest.json", to_json(&json!(docker)), 0o644),
    );
    super::referrer::attach(&mut files, &opts.artifacts, &spec::rfc3339(opts.mtime))?;
    archive::write(
        &files,
        out,
        &WriteOptions {
            format: if archive { Format::Tar } else { Format::Dir },
            mtime: opts.mtime,
            force: opts.force,
        },
    )?;
    Ok(WrittenIndex {
        index_digest: index_digest.map(|d| d.to_string()).unwrap_or_default(),
        images: built.iter().map(Built::written).collect(),
    })
}

/// What a blob is made from.
enum Blob<'a> {
    Data(Vec<u8>),
    File(&'a Path),
}

/// Adds the blob `digest` unless it is there already (a layer shared by
/// two images, or listed twice in one, is one blob).
fn add_blob(files: &mut Vec<Entry>, digest: &Digest, blob: Blob<'_>) {
    let name = format!("/{}", digest.blob_path());
    if files.iter().any(|e| e.path == name) {
        return;
    }
    files.push(match blob {
        Blob::Data(bytes) => Entry::data(name, bytes, 0o644),
        Blob::File(path) => Entry::file(name, path, 0o644),
    });
}
