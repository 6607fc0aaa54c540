//! Artifacts stored beside an image in its layout, referring to it (OCI
//! image spec 1.1): an SBOM becomes a manifest whose `artifactType` says what
//! it is, whose config is the empty descriptor, whose one layer is the
//! document, and whose `subject` is the image manifest. The artifact's
//! manifest is listed in index.json (without a tag), where `oras discover`
//! and registries' referrers API find what refers to an image; the image's
//! own manifest, and so its digest, is untouched.

use serde_json::{Value, json};

use super::digest::Digest;
use super::spec::{Descriptor, MEDIA_MANIFEST};
use crate::archive::{Entry, EntryKind};
use crate::error::{Error, Result};

/// The empty JSON config artifacts carry (image spec 1.1).
const MEDIA_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// A document to store beside the image.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Its media type, which is also the manifest's `artifactType`
    /// (`application/spdx+json`).
    pub artifact_type: String,
    /// Its file name (the layer's `org.opencontainers.image.title`).
    pub title: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Adds each artifact (blobs and manifest) to a layout's `files`, its
/// manifest to index.json, with the index's first manifest (the image) as
/// subject. `created` is the RFC 3339 time the manifests carry.
pub(super) fn attach(files: &mut Vec<Entry>, artifacts: &[Artifact], created: &str) -> Result<()> {
    if artifacts.is_empty() {
        return Ok(());
    }
    let bad = |reason: &str| Error::Image {
        path: "index.json".into(),
        reason: reason.to_string(),
    };
    let at = files
        .iter()
        .position(|e| e.path == "/index.json")
        .ok_or_else(|| bad("no index.json to list the artifact in"))?;
    let EntryKind::Data(bytes) = &files[at].kind else {
        return Err(bad("index.json is not generated"));
    };
    let mut index: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
    let image = index["manifests"]
        .get(0)
        .ok_or_else(|| bad("no image manifest"))?;
    let subject = json!({
        "mediaType": image["mediaType"],
        "digest": image["digest"],
        "size": image["size"],
    });
    let empty = b"{}".to_vec();
    let empty_digest = Digest::sha256(&empty);
    push_blob(files, &empty_digest, empty);
    for a in artifacts {
        let digest = Digest::sha256(&a.bytes);
        let mut layer = Descriptor::new(&a.artifact_type, &digest, a.bytes.len() as u64);
        layer
            .annotations
            .insert(ANNOTATION_TITLE.into(), a.title.clone());
        push_blob(files, &digest, a.bytes.clone());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "artifactType": a.artifact_type,
            "config": Descriptor::new(MEDIA_EMPTY, &empty_digest, 2),
            "layers": [layer],
            "subject": subject,
            "annotations": {ANNOTATION_CREATED: created},
        });
        let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
        let manifest_digest = Digest::sha256(&manifest_bytes);
        let mut listed = Descriptor::new(
            MEDIA_MANIFEST,
            &manifest_digest,
            manifest_bytes.len() as u64,
        );
        listed
            .other
            .insert("artifactType".into(), json!(a.artifact_type));
        push_blob(files, &manifest_digest, manifest_bytes);
        if let Some(list) = index["manifests"].as_array_mut() {
            list.push(json!(listed));
        }
    }
    files[at] = Entry::data(
        "/index.json",
        serde_json::to_vec(&index).unwrap_or_default(),
        0o644,
    );
    Ok(())
}

/// Adds a blob unless the layout has it already.
fn push_blob(files: &mut Vec<Entry>, digest: &Digest, bytes: Vec<u8>) {
    let path = format!("/{}", digest.blob_path());
    if !files.iter().any(|e| e.path == path) {
        files.push(Entry::data(path, bytes, 0o644));
    }
}
