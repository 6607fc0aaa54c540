//! What every command is pointed at, and the settings that come from outside
//! its flags: the root (a directory, layer tarballs or an OCI image), the
//! environment (LD_LIBRARY_PATH, SOURCE_DATE_EPOCH, the current directory),
//! each read here and nowhere else.
//!
//! Uses `root` and `oci` (to open an image as its layers); used by the
//! per-command entry points (`inspect`, `doctor::run`, `bundle::run`).

use std::path::PathBuf;

use crate::closure::Options;
use crate::error::{Error, Result};
use crate::root::Root;

/// The root file system to analyse and the search settings that go with it.
#[derive(Debug, Clone)]
pub struct RootConfig {
    /// Layers in order: directories, layer tarballs, `oci:DIR[:TAG]`,
    /// `oci-archive:FILE[:TAG]` or `docker-archive:FILE[:REF]`. `/` alone
    /// is the host.
    pub layers: Vec<PathBuf>,
    /// The platform to take from an image index (None: this machine's, or
    /// the image's only one).
    pub platform: Option<crate::oci::Platform>,
    /// Extra LD_LIBRARY_PATH directories (searched before the environment's,
    /// which only counts when the root is the host).
    pub library_path: Vec<String>,
    /// The directory the program would be started from, inside the root
    /// (relative: to the default). None: this process's current directory
    /// for the host root, `/` for any other root.
    pub cwd: Option<PathBuf>,
}

impl RootConfig {
    /// The host's own root, with no extra library path.
    pub fn host() -> RootConfig {
        RootConfig {
            layers: vec![PathBuf::from("/")],
            platform: None,
            library_path: Vec::new(),
            cwd: None,
        }
    }

    /// How the root is shown in messages and reports (`a.tar + b.tar`).
    pub fn display(&self) -> String {
        let shown: Vec<String> = self
            .layers
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        shown.join(" + ")
    }

    /// Opens the root (images stand for their layers, in order) and settles
    /// the search options: the library path, plus the environment's
    /// LD_LIBRARY_PATH when the root is the host, and the current directory.
    pub fn open(&self) -> Result<(Root, Options)> {
        let mut layers = Vec::new();
        // Layer tarballs are read into memory, but files are extracted from
        // them again when a bundle copies them: the images live with the root.
        let mut images = Vec::new();
        for r in &self.layers {
            let spec = r.to_string_lossy();
            if crate::oci::is_image_spec(&spec) {
                let image = crate::oci::open_image_for(&spec, self.platform.as_ref())?;
                layers.extend(image.layer_paths().iter().cloned());
                images.push(image);
            } else {
                layers.push(r.clone());
            }
        }
        let mut root = Root::layers(&layers).map_err(|e| Error::Root {
            root: self.display(),
            source: Box::new(e),
        })?;
        for image in images {
            root.keep_alive(Box::new(image));
        }
        let mut library_path = self.library_path.clone();
        if root.is_host() {
            library_path.extend(ld_library_path());
        }
        // ld.so picks glibc-hwcaps subdirectories by the CPU that runs the
        // program: this one's for the host, the baseline for any other root.
        let hwcaps = if root.is_host() {
            crate::search::hwcaps::host_levels()
        } else {
            crate::search::hwcaps::HwcapsLevels::Baseline
        };
        let cwd = self.cwd(&root);
        Ok((
            root,
            Options {
                library_path,
                hwcaps,
                cwd,
            },
        ))
    }

    /// The program's current directory: `cwd` made absolute against the
    /// default, this process's current directory for the host and `/` for
    /// any other root, without `.` components.
    fn cwd(&self, root: &Root) -> String {
        let default = match std::env::current_dir() {
            Ok(dir) if root.is_host() => dir,
            _ => PathBuf::from("/"),
        };
        let dir = match &self.cwd {
            Some(d) => default.join(d),
            None => default,
        };
        dir.components()
            .collect::<PathBuf>()
            .to_string_lossy()
            .into_owned()
    }
}

/// Splits a colon (or semicolon) separated directory list, as ld.so does.
/// An empty list is no list at all (as glibc takes an empty LD_LIBRARY_PATH);
/// an empty element of a longer one stands for the current directory.
pub fn split_path_list(list: &str) -> Vec<String> {
    if list.is_empty() {
        return Vec::new();
    }
    list.split([':', ';']).map(str::to_string).collect()
}

/// The environment's LD_LIBRARY_PATH, split.
fn ld_library_path() -> Vec<String> {
    match std::env::var("LD_LIBRARY_PATH") {
        Ok(env) if !env.is_empty() => split_path_list(&env),
        _ => Vec::new(),
    }
}

/// SOURCE_DATE_EPOCH (reproducible-builds.org), when it is set.
pub fn source_date_epoch() -> Result<Option<u64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse().map(Some).map_err(|_| Error::Environment {
            name: "SOURCE_DATE_EPOCH",
            reason: format!("{v:?} is not a number of seconds"),
        }),
        Err(_) => Ok(None),
    }
}
