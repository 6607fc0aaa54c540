//! Writing a bundle as an OCI image: the bundle's entries become one layer
//! blob (through [`crate::archive`], so it is the same reproducible tar as
//! `elfroot bundle -o x.tar.gz`), then the config, manifest and index are
//! generated around it, and the whole layout — optionally on top of a base
//! image's layers — is itself written through [`crate::archive::write`] as
//! a directory or a tar file, so it appears atomically and byte-stable.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::config::{self, RunConfig};
use super::digest::{Algorithm, Digest, HashingReader, HashingWriter};
use super::platform::Platform;
use super::read::Image;
use super::spec::{
    self, Descriptor, LAYOUT_VERSION, MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER, MEDIA_LAYER_GZIP,
    MEDIA_LAYER_ZSTD, MEDIA_MANIFEST, REF_NAME,
};
use crate::archive::{self, Entry, Format, WriteOptions, compress};
use crate::error::{Error, Result};

/// How the new layer is compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`application/vnd.oci.image.layer.v1.tar+gzip`), the default.
    #[default]
    Gzip,
    /// zstd (`...tar+zstd`).
    Zstd,
    /// A plain tar (`...tar`).
    None,
}

impl Compression {
    /// Parses "gzip" | "zstd" | "none".
    pub fn parse(s: &str) -> std::result::Result<Compression, String> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "none" => Ok(Compression::None),
            _ => Err(format!(
                "unknown compression '{s}' (expected gzip, zstd or none)"
            )),
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => MEDIA_LAYER_GZIP,
            Compression::Zstd => MEDIA_LAYER_ZSTD,
            Compression::None => MEDIA_LAYER,
        }
    }

    /// The decoder's name for the same compression.
    fn codec(self) -> compress::Compression {
        match self {
            Compression::Gzip => compress::Compression::Gzip,
            Compression::Zstd => compress::Compression::Zstd,
            Compression::None => compress::Compression::None,
        }
    }

    fn format(self) -> Format {
        match self {
            Compression::Gzip => Format::TarGz,
            Compression::Zstd => Format::TarZst,
            Compression::None => Format::Tar,
        }
    }
}

/// How an image is written.
#[derive(Debug)]
pub struct ImageOptions {
    /// One tar file (oci-archive) instead of a layout directory.
    pub archive: bool,
    /// How the new layer is compressed.
    pub compression: Compression,
    /// Modification time of every file, and the image's `created` time.
    pub mtime: u64,
    /// Write a layout into an existing, non-empty directory.
    pub force: bool,
    /// From the first input's ELF header.
    pub platform: Platform,
    /// The first input's path in the image: the default Entrypoint.
    pub program: String,
    /// What the container runs.
    pub run: RunConfig,
    /// The `org.opencontainers.image.ref.name` of the image ("latest" if none).
    pub tag: Option<String>,
    /// The history entry's `created_by`.
    pub created_by: String,
    /// An image the new layer goes on top of.
    pub base: Option<Image>,
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `sha256:<hex>` of the image manifest: the image's identity.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the image config.
    pub config_digest: String,
    /// The new layer blob's digest and size.
    pub layer_digest: String,
    /// Its size in bytes.
    pub layer_size: u64,
    /// Digest of the new layer's uncompressed tar.
    pub diff_id: String,
    /// Bytes of file contents in the new layer.
    pub bytes: u64,
}

/// The tag written when none is given.
pub const DEFAULT_TAG: &str = "latest";

/// Writes `entries` as a one-layer image (on top of `opts.base`, if any) at
/// `out`: a layout directory, or with `opts.archive` a tar file ("-" is
/// standard output).
pub fn write(entries: &[Entry], out: &Path, opts: &ImageOptions) -> Result<Written> {
    write_with(entries, out, opts, &[])
}

/// [`write`], with `artifacts` (an SBOM) stored in the layout as artifacts
/// that refer to the image (`referrer`).
pub fn write_with(
    entries: &[Entry],
    out: &Path,
    opts: &ImageOptions,
    artifacts: &[super::Artifact],
) -> Result<Written> {
    if !opts.archive && out.as_os_str() == "-" {
        return Err(Error::Usage(
            "-: an OCI image layout is a directory; only an archive can go to standard output"
                .into(),
        ));
    }
    let tag = opts.tag.as_deref().unwrap_or(DEFAULT_TAG);
    check_tag(tag)?;
    opts.run.check()?;
    if let Some(base) = &opts.base {
        refuse_overwriting(base, out)?;
    }
    let staging = staging_dir(out)?;
    let layer_path = staging.path.join("layer");
    let bytes = archive::write(
        entries,
        &layer_path,
        &WriteOptions {
            format: opts.compression.format(),
            mtime: opts.mtime,
            force: false,
        },
    )?;
    let (layer_digest, layer_size, diff_id) = digests(&layer_path, opts.compression)?;

    let created = spec::rfc3339(opts.mtime);
    let config = config::build(
        opts.base.as_ref().map(Image::config),
        &opts.run,
        &config::Layer {
            platform: &opts.platform,
            created: &created,
            created_by: &opts.created_by,
            diff_id: &diff_id,
            program: &opts.program,
        },
    )?;
    let mut layers: Vec<(Descriptor, PathBuf)> = match &opts.base {
        Some(b) => b
            .layers()
            .iter()
            .map(oci_media_type)
            .zip(b.layer_paths().iter().cloned())
            .collect(),
        None => Vec::new(),
    };
    layers.push((
        Descriptor::new(opts.compression.media_type(), &layer_digest, layer_size),
        layer_path.clone(),
    ));
    let mut layout = Layout::new(tag, &opts.platform, &config, &layers)?;
    super::referrer::attach(&mut layout.files, artifacts, &created)?;
    let format = if opts.archive {
        Format::Tar
    } else {
        Format::Dir
    };
    archive::write(
        &layout.files,
        out,
        &WriteOptions {
            format,
            mtime: opts.mtime,
            force: opts.force,
        },
    )?;
    Ok(Written {
        manifest_digest: layout.manifest_digest.to_string(),
        config_digest: layout.config_digest.to_string(),
        layer_digest: layer_digest.to_string(),
        layer_size,
        diff_id: diff_id.to_string(),
        bytes,
    })
}

/// The files of an image layout holding one image.
struct Layout {
    files: Vec<Entry>,
    manifest_digest: Digest,
    config_digest: Digest,
}

impl Layout {
    /// The layout of the image with `config` and `layers` (descriptors and
    /// host files, bottom first), tagged `tag` in index.json.
    fn new(
        tag: &str,
        platform: &Platform,
        config: &Value,
        layers: &[(Descriptor, PathBuf)],
    ) -> Result<Layout> {
        let config_bytes = to_json(config);
        let config_digest = Digest::sha256(&config_bytes);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": Descriptor::new(MEDIA_CONFIG, &config_digest, config_bytes.len() as u64),
            "layers": layers.iter().map(|(d, _)| d).collect::<Vec<_>>(),
        });
        let manifest_bytes = to_json(&manifest);
        let manifest_digest = Digest::sha256(&manifest_bytes);
        let mut top = Descriptor::new(
            MEDIA_MANIFEST,
            &manifest_digest,
            manifest_bytes.len() as u64,
        );
        top.platform = Some(platform.to_json());
        top.annotations.insert(REF_NAME.into(), tag.into());
        let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [top]});
        let layout = json!({"imageLayoutVersion": LAYOUT_VERSION});

        let mut files = vec![
            Entry::data("/oci-layout", to_json(&layout), 0o644),
            Entry::data("/index.json", to_json(&index), 0o644),
            Entry::data(
                "/manifest.json",
                docker_manifest(tag, &config_digest, layers)?,
                0o644,
            ),
            Entry::data(blob_entry(&config_digest), config_bytes, 0o644),
            Entry::data(blob_entry(&manifest_digest), manifest_bytes, 0o644),
        ];
        for (d, path) in layers {
            let digest = Digest::parse(&d.digest).map_err(|reason| Error::Image {
                path: path.clone(),
                reason,
            })?;
            let name = blob_entry(&digest);
            // The same layer twice in one image is one blob.
            if !files.iter().any(|e| e.path == name) {
                files.push(Entry::file(name, path, 0o644));
            }
        }
        Ok(Layout {
            files,
            manifest_digest,
            config_digest,
        })
    }
}

/// Compact JSON, the same bytes for the same value (object keys sorted).
fn to_json(v: &Value) -> Vec<u8> {
    // Serialising a `Value` to memory cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

fn blob_entry(d: &Digest) -> String {
    format!("/{}", d.blob_path())
}

/// The legacy `manifest.json` `docker load` reads (it names the blobs by
/// their paths in the layout, as `docker save` itself writes it since 25).
fn docker_manifest(
    tag: &str,
    config: &Digest,
    layers: &[(Descriptor, PathBuf)],
) -> Result<Vec<u8>> {
    let layer_paths = layers
        .iter()
        .map(|(d, path)| {
            Digest::parse(&d.digest)
                .map(|d| d.blob_path())
                .map_err(|reason| Error::Image {
                    path: path.clone(),
                    reason,
                })
        })
        .collect::<Result<Vec<_>>>()?;
    // Docker wants a NAME:TAG here; a bare tag gives an untagged image.
    let repo_tags: Vec<&str> = if tag.contains(':') { vec![tag] } else { vec![] };
    Ok(to_json(&json!([{
        "Config": config.blob_path(),
        "RepoTags": repo_tags,
        "Layers": layer_paths,
    }])))
}

/// A base layer's descriptor with Docker's media types turned into OCI's
/// (the manifest written is an OCI manifest).
fn oci_media_type(d: &Descriptor) -> Descriptor {
    let mut d = d.clone();
    let oci = match d.media_type.as_str() {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => Some(MEDIA_LAYER_GZIP),
        "application/vnd.docker.image.rootfs.diff.tar.zstd" => Some(MEDIA_LAYER_ZSTD),
        "application/vnd.docker.image.rootfs.diff.tar" => Some(MEDIA_LAYER),
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
            Some("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
        }
        _ => None,
    };
    if let Some(m) = oci {
        d.media_type = m.to_string();
    }
    d
}

/// The layer blob's digest and size, and the digest of its uncompressed
/// contents (the diff_id), in one read of the file.
fn digests(path: &Path, compression: Compression) -> Result<(Digest, u64, Digest)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut blob = HashingReader::new(BufReader::new(file), Algorithm::Sha256);
    let mut plain = HashingWriter::new(io::sink(), Algorithm::Sha256);
    compress::decoder(compression.codec(), BufReader::new(&mut blob))
        .and_then(|mut d| io::copy(&mut d, &mut plain))
        .map_err(|e| Error::io(path, e))?;
    let (digest, size) = blob.drain().map_err(|e| Error::io(path, e))?;
    let (_, diff_id, _) = plain.finish();
    Ok((digest, size, diff_id))
}

/// A directory for the layer blob before it has a name: beside OUT (on its
/// file system), or in the system's temporary directory for stdout; removed
/// at the end, or by a later run if this one is killed.
fn staging_dir(out: &Path) -> Result<archive::Temp> {
    if out.as_os_str() == "-" {
        return archive::Temp::new(&std::env::temp_dir().join("elfroot-layer"), true);
    }
    archive::Temp::new(out, true)
}

/// A tag as the image spec allows it: letters and digits, separated by
/// `-._:@/+`.
fn check_tag(tag: &str) -> Result<()> {
    let ok = tag
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:@/+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "tag {tag:?}: a tag is letters and digits separated by - . _ : @ / +"
        )))
    }
}

/// Writing the layout over its own base would copy blobs onto themselves.
fn refuse_overwriting(base: &Image, out: &Path) -> Result<()> {
    let (Ok(a), Ok(b)) = (base.source().canonicalize(), out.canonicalize()) else {
        return Ok(());
    };
    if a == b {
        return Err(Error::Usage(format!(
            "{}: the output cannot be the base image itself",
            out.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        for ok in ["latest", "v1.2", "myapp:1.0", "reg.io/a/b:c_d"] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a b", "a\n"] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn docker_media_types_become_oci() {
        let d = Descriptor::new(
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            &Digest::sha256(b""),
            0,
        );
        assert_eq!(oci_media_type(&d).media_type, MEDIA_LAYER_GZIP);
    }
}
