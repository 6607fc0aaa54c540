//! Writing a bundle as an image: the bundle's entries become one layer blob
//! (the same reproducible tar as `elfroot bundle -o x.tar.gz`), the config
//! is made around it (a [`Built`] image); `layout` writes built images as an
//! OCI layout (one image, or an index of platforms), `docker_write` as a
//! docker-archive, through [`crate::archive::write`]: atomic, byte-stable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::BundleFormat;
use super::config::{self, RunConfig};
use super::digest::Digest;
use super::platform::Platform;
use super::read::Image;
use super::spec::{
    self, Descriptor, MEDIA_CONFIG, MEDIA_LAYER, MEDIA_LAYER_GZIP, MEDIA_LAYER_ZSTD,
    MEDIA_MANIFEST, to_json,
};
use super::{docker_write, layer, layout};
use crate::archive::{self, Entry, Format};
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

    pub(super) fn format(self) -> Format {
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
    /// One tar file (oci-archive) instead of a layout directory; only
    /// [`write`] reads it ([`write_image`] and [`write_index`] take a format).
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
    /// The `org.opencontainers.image.ref.name` of the image ("latest" if
    /// none); in a docker-archive, its RepoTag (`NAME:TAG`; a bare TAG gets
    /// the program's file name as NAME).
    pub tag: Option<String>,
    /// The history entry's `created_by`.
    pub created_by: String,
    /// An image the new layer goes on top of.
    pub base: Option<Image>,
    /// The config's `config` object as it is, instead of one built from
    /// `run` (`elfroot slim` keeps the slimmed image's own).
    pub config: Option<serde_json::Map<String, Value>>,
    /// Annotations of the image manifest (`org.opencontainers.image.base.name`...).
    pub annotations: BTreeMap<String, String>,
    /// Documents (an SBOM) stored in an OCI layout as artifacts whose
    /// subject is the image (see `referrer`); for an index, the first
    /// image's options carry them. A docker-archive has no place for them.
    pub artifacts: Vec<super::Artifact>,
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `sha256:<hex>` of the image manifest: the image's identity (for a
    /// docker-archive, which has no manifest, the manifest the same image
    /// has in an OCI layout).
    pub manifest_digest: String,
    /// `sha256:<hex>` of the image config: the image ID Docker and podman show.
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

/// What [`write_index`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenIndex {
    /// `sha256:<hex>` of the image index: the multi-platform image's identity.
    pub index_digest: String,
    /// Each platform's image, in the order given.
    pub images: Vec<Written>,
}

/// The tag written when none is given.
pub const DEFAULT_TAG: &str = "latest";

/// Writes `entries` as a one-layer image (on top of `opts.base`, if any) at
/// `out`: a layout directory, or with `opts.archive` a tar file ("-" is
/// standard output).
pub fn write(entries: &[Entry], out: &Path, opts: &ImageOptions) -> Result<Written> {
    let format = if opts.archive {
        BundleFormat::OciArchive
    } else {
        BundleFormat::Oci
    };
    write_image(format, entries, out, opts)
}

/// Writes `entries` as a one-layer image in `format` (oci, oci-archive or
/// docker-archive; `opts.archive` is not read) at `out` ("-": standard
/// output, for the tar formats).
pub fn write_image(
    format: BundleFormat,
    entries: &[Entry],
    out: &Path,
    opts: &ImageOptions,
) -> Result<Written> {
    check_output(format, out)?;
    let built = Built::new(entries, out, opts)?;
    if format == BundleFormat::DockerArchive {
        return docker_write::write(&built, out, opts);
    }
    let index = layout::write(
        std::slice::from_ref(&built),
        out,
        format == BundleFormat::OciArchive,
        opts,
    )?;
    Ok(index
        .images
        .into_iter()
        .next()
        .unwrap_or_else(|| built.written()))
}

/// Writes one image per platform (each `entries` with its options, every
/// platform different) into one OCI layout whose index.json tags an image
/// index listing them, as `format` (oci or oci-archive) at `out`. The tag,
/// mtime and force of the first options apply to the layout.
pub fn write_index(
    format: BundleFormat,
    images: &[(&[Entry], &ImageOptions)],
    out: &Path,
) -> Result<WrittenIndex> {
    if !matches!(format, BundleFormat::Oci | BundleFormat::OciArchive) {
        return Err(Error::Usage(format!(
            "images for several platforms go into an OCI image index: format oci or \
             oci-archive, not {}",
            format.as_str()
        )));
    }
    check_output(format, out)?;
    let Some((_, first)) = images.first() else {
        return Err(Error::Usage("an index of no image".into()));
    };
    let platforms: Vec<&Platform> = images.iter().map(|(_, o)| &o.platform).collect();
    if let Some(p) = (1..platforms.len())
        .find_map(|n| platforms[..n].contains(&platforms[n]).then(|| platforms[n]))
    {
        return Err(Error::Usage(format!(
            "two images for {} in one index",
            p.display()
        )));
    }
    let built = images
        .iter()
        .map(|(entries, opts)| Built::new(entries, out, opts))
        .collect::<Result<Vec<_>>>()?;
    layout::write(&built, out, format == BundleFormat::OciArchive, first)
}

/// Refuses what cannot be written where asked.
fn check_output(format: BundleFormat, out: &Path) -> Result<()> {
    match format {
        BundleFormat::Oci if out.as_os_str() == "-" => Err(Error::Usage(
            "-: an OCI image layout is a directory; only an archive can go to standard output"
                .into(),
        )),
        BundleFormat::Root(f) => Err(Error::Usage(format!("{}: not an image format", f.as_str()))),
        _ => Ok(()),
    }
}

/// An image made but not yet written: its new layer staged beside the
/// output, its config made, the base's layers listed under it.
pub(super) struct Built {
    /// Holds the new layer's blob until the image is written.
    _staging: archive::Temp,
    pub platform: Platform,
    pub config: Value,
    /// Descriptors and host files of every layer, bottom first.
    pub layers: Vec<(Descriptor, PathBuf)>,
    pub annotations: BTreeMap<String, String>,
    layer_digest: Digest,
    layer_size: u64,
    diff_id: Digest,
    bytes: u64,
}

impl Built {
    /// Stages the layer of `entries` and makes the config around it.
    fn new(entries: &[Entry], out: &Path, opts: &ImageOptions) -> Result<Built> {
        check_tag(opts.tag.as_deref().unwrap_or(DEFAULT_TAG))?;
        opts.run.check()?;
        if let Some(base) = &opts.base {
            refuse_overwriting(base, out)?;
        }
        let staging = staging_dir(out)?;
        let layer_path = staging.path.join("layer");
        let (bytes, (layer_digest, layer_size, diff_id)) =
            layer::write(entries, &layer_path, opts)?;
        let created = spec::rfc3339(opts.mtime);
        let mut config = config::build(
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
        if let (Some(kept), Some(cfg)) = (&opts.config, config.as_object_mut()) {
            cfg.insert("config".into(), Value::Object(kept.clone()));
        }
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
            layer_path,
        ));
        Ok(Built {
            _staging: staging,
            platform: opts.platform.clone(),
            config,
            layers,
            annotations: opts.annotations.clone(),
            layer_digest,
            layer_size,
            diff_id,
            bytes,
        })
    }

    /// The config's bytes and digest.
    pub fn config_blob(&self) -> (Vec<u8>, Digest) {
        let bytes = to_json(&self.config);
        let digest = Digest::sha256(&bytes);
        (bytes, digest)
    }

    /// The OCI image manifest's bytes and digest.
    pub fn manifest_blob(&self) -> (Vec<u8>, Digest) {
        let (config, config_digest) = self.config_blob();
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": Descriptor::new(MEDIA_CONFIG, &config_digest, config.len() as u64),
            "layers": self.layers.iter().map(|(d, _)| d).collect::<Vec<_>>(),
        });
        if !self.annotations.is_empty() {
            manifest["annotations"] = json!(self.annotations);
        }
        let bytes = to_json(&manifest);
        let digest = Digest::sha256(&bytes);
        (bytes, digest)
    }

    /// The digest and host file of each layer blob, bottom first.
    pub fn layer_blobs(&self) -> Result<Vec<(Digest, &Path)>> {
        self.layers
            .iter()
            .map(|(d, path)| {
                let digest = Digest::parse(&d.digest).map_err(|reason| Error::Image {
                    path: path.clone(),
                    reason,
                })?;
                Ok((digest, path.as_path()))
            })
            .collect()
    }

    /// What was written, once it is.
    pub fn written(&self) -> Written {
        Written {
            manifest_digest: self.manifest_blob().1.to_string(),
            config_digest: self.config_blob().1.to_string(),
            layer_digest: self.layer_digest.to_string(),
            layer_size: self.layer_size,
            diff_id: self.diff_id.to_string(),
            bytes: self.bytes,
        }
    }
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
