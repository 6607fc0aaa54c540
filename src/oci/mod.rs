//! OCI images: `elfroot bundle --format oci|oci-archive` writes the bundle
//! as a one-layer image (optionally on top of a base image), and
//! [`open_image`] reads an image back as layer files for
//! [`crate::Root::layers`], for commands that analyse an image.
//!
//! The writer makes every byte a function of the inputs: the layer is the
//! reproducible tar of [`crate::archive`], the JSON documents are compact
//! with sorted keys, `created` comes from the bundle's mtime, so the same
//! inputs give the same manifest digest. The reader checks every blob it
//! uses against its descriptor.
//!
//! `spec` holds the spec's names and descriptors, `digest` the content
//! digests, `platform` the ELF-header-to-platform mapping, `config` the
//! image config, `write` and `read` the two directions, `store` the files
//! of a layout directory or archive.

mod check;
mod choose;
mod config;
mod digest;
mod docker;
mod docker_write;
mod layer;
mod layout;
mod platform;
mod read;
mod referrer;
pub(crate) mod spec;
mod store;
mod write;

use crate::archive::{Format, Output};

pub use config::{DEFAULT_PATH, RunConfig, parse_command};
pub use digest::{Algorithm, Digest};
pub use platform::Platform;
pub use read::{
    Image, ImageKind, image_platforms, is_image_spec, open_image, open_image_for,
    open_image_streaming_for, open_path, open_path_for,
};
pub use referrer::Artifact;
pub use spec::{BASE_DIGEST, BASE_NAME, Descriptor};
pub use write::{
    Compression, DEFAULT_TAG, ImageOptions, Written, WrittenIndex, write, write_image, write_index,
};

/// What `elfroot bundle` writes: a root file system, or an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleFormat {
    /// A directory or a tar stream of the root file system.
    Root(Format),
    /// An OCI image layout directory.
    Oci,
    /// An OCI image layout as one tar file.
    OciArchive,
    /// What `docker save` writes and `docker load` / `podman load` take.
    DockerArchive,
}

impl BundleFormat {
    /// Guesses from the output name: *.oci.tar => OciArchive,
    /// *.docker.tar => DockerArchive (ignoring ASCII case), anything else
    /// as [`Format::guess`].
    pub fn guess(out: &Output) -> BundleFormat {
        let out = out.as_path();
        let lower = out
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase());
        if lower.as_ref().is_some_and(|n| n.ends_with(".oci.tar")) {
            BundleFormat::OciArchive
        } else if lower.is_some_and(|n| n.ends_with(".docker.tar")) {
            BundleFormat::DockerArchive
        } else {
            BundleFormat::Root(Format::guess(out))
        }
    }

    /// Parses "oci" | "oci-archive" | "docker-archive" or anything
    /// [`Format::parse`] takes.
    pub fn parse(s: &str) -> std::result::Result<BundleFormat, String> {
        match s {
            "oci" => Ok(BundleFormat::Oci),
            "oci-archive" => Ok(BundleFormat::OciArchive),
            "docker-archive" => Ok(BundleFormat::DockerArchive),
            _ => Format::parse(s).map(BundleFormat::Root).map_err(|_| {
                format!(
                    "unknown format '{s}' (expected dir, tar, tar.gz, tar.zst, oci, oci-archive \
                     or docker-archive)"
                )
            }),
        }
    }

    /// The name [`BundleFormat::parse`] accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleFormat::Root(f) => f.as_str(),
            BundleFormat::Oci => "oci",
            BundleFormat::OciArchive => "oci-archive",
            BundleFormat::DockerArchive => "docker-archive",
        }
    }

    /// True for the image formats.
    pub fn is_image(self) -> bool {
        !matches!(self, BundleFormat::Root(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Entry;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn formats() {
        let g = |s: &str| BundleFormat::guess(&Output::Path(s.into()));
        assert_eq!(g("img.oci.tar"), BundleFormat::OciArchive);
        assert_eq!(g("IMG.OCI.TAR"), BundleFormat::OciArchive);
        assert_eq!(g("img.docker.tar"), BundleFormat::DockerArchive);
        assert_eq!(g("img.tar"), BundleFormat::Root(Format::Tar));
        assert_eq!(g("img"), BundleFormat::Root(Format::Dir));
        for f in [
            BundleFormat::Oci,
            BundleFormat::OciArchive,
            BundleFormat::DockerArchive,
            BundleFormat::Root(Format::TarZst),
        ] {
            assert_eq!(BundleFormat::parse(f.as_str()), Ok(f));
        }
        assert!(
            BundleFormat::parse("zip")
                .unwrap_err()
                .contains("oci-archive")
        );
    }

    fn options(archive: bool, compression: Compression) -> ImageOptions {
        ImageOptions {
            archive,
            compression,
            mtime: 1_700_000_000,
            force: false,
            platform: Platform::host(),
            program: "/bin/hello".into(),
            run: RunConfig::default(),
            tag: Some("t1".into()),
            created_by: "elfroot bundle /bin/hello".into(),
            base: None,
            config: None,
            annotations: Default::default(),
            artifacts: Vec::new(),
        }
    }

    fn entries() -> Vec<Entry> {
        vec![
            Entry::data("/bin/hello", "#!/bin/true\n", 0o755),
            Entry::symlink("/bin/hi", "hello"),
        ]
    }

    #[test]
    fn written_images_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        for (archive, compression, name) in [
            (false, Compression::Gzip, "a"),
            (true, Compression::Zstd, "b.oci.tar"),
            (false, Compression::None, "c"),
        ] {
            let out = dir.path().join(name);
            let w = write(&entries(), &out, &options(archive, compression)).unwrap();
            let prefix = if archive { "oci-archive" } else { "oci" };
            for spec in [
                format!("{prefix}:{}", out.display()),
                format!("{prefix}:{}:t1", out.display()),
            ] {
                let img = open_image(&spec).unwrap();
                assert_eq!(img.manifest_digest(), w.manifest_digest);
                assert_eq!(
                    img.architecture(),
                    Some(Platform::host().architecture.as_str())
                );
                assert_eq!(img.config()["created"], "2023-11-14T22:13:20Z");
                assert_eq!(img.config()["config"]["Entrypoint"], json!(["/bin/hello"]));
                assert_eq!(img.layer_paths().len(), 1);
                let root = crate::Root::layers(img.layer_paths()).unwrap();
                assert_eq!(
                    root.read_to_string(Path::new("/bin/hello"))
                        .unwrap()
                        .as_deref(),
                    Some("#!/bin/true\n")
                );
            }
            let err = open_image(&format!("{prefix}:{}:nope", out.display())).unwrap_err();
            assert!(err.to_string().contains("tags: t1"), "{err}");
        }
    }

    #[test]
    fn same_inputs_same_digest_and_a_base_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let wa = write(&entries(), &a, &options(false, Compression::Gzip)).unwrap();
        let wb = write(&entries(), &b, &options(false, Compression::Gzip)).unwrap();
        assert_eq!(wa, wb);
        assert_eq!(
            std::fs::read(a.join("index.json")).unwrap(),
            std::fs::read(b.join("index.json")).unwrap()
        );

        let mut opts = options(true, Compression::Gzip);
        opts.base = Some(open_path(&a.display().to_string()).unwrap());
        opts.run.env = vec!["X=1".into()];
        let top = dir.path().join("top.oci.tar");
        let extra = [Entry::data("/etc/motd", "hi\n", 0o644)];
        write(&extra, &top, &opts).unwrap();
        let img = open_path(&top.display().to_string()).unwrap();
        assert_eq!(img.layers().len(), 2);
        assert_eq!(img.layers()[0].digest, wa.layer_digest);
        let ids = img.config()["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(ids[0], json!(wa.diff_id));
        assert_eq!(
            img.config()["config"]["Env"],
            json!([format!("PATH={DEFAULT_PATH}"), "X=1"])
        );
        let root = crate::Root::layers(img.layer_paths()).unwrap();
        assert!(
            root.read_to_string(Path::new("/etc/motd"))
                .unwrap()
                .is_some()
        );
        assert!(
            root.read_to_string(Path::new("/bin/hello"))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("img");
        let w = write(&entries(), &out, &options(false, Compression::Gzip)).unwrap();
        let spec = format!("oci:{}", out.display());
        let layer = out.join(Digest::parse(&w.layer_digest).unwrap().blob_path());
        let streamed = |spec: &str| {
            let img = open_image_streaming_for(spec, None).unwrap();
            crate::Root::layers_checked(img.layers_to_read(), &crate::progress::Silent)
        };
        assert!(streamed(&spec).is_ok());

        let mut bytes = std::fs::read(&layer).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&layer, &bytes).unwrap();
        let err = open_image(&spec).unwrap_err().to_string();
        assert!(
            err.contains(&w.layer_digest[7..]) && err.contains("digest mismatch"),
            "{err}"
        );
        // Checked as the layer is read, its trailer too.
        let err = streamed(&spec).err().unwrap().to_string();
        assert!(
            err.contains(&w.layer_digest[7..]) && err.contains("digest mismatch"),
            "{err}"
        );

        std::fs::remove_file(&layer).unwrap();
        let err = open_image(&spec).unwrap_err().to_string();
        assert!(err.contains("missing blob"), "{err}");

        std::fs::write(out.join("index.json"), "{").unwrap();
        let err = open_image(&spec).unwrap_err().to_string();
        assert!(err.contains("index.json: bad JSON"), "{err}");

        let err = open_image("oci:/nonexistent/x").unwrap_err().to_string();
        assert!(err.starts_with("/nonexistent/x:"), "{err}");
    }
}
