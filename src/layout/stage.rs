//! The files of a bundle planned from a root of layers (an image) exist
//! on the host only once they are taken out of the layers: this puts them
//! in a directory beside the output (see [`Root::extract`]), where the
//! writer's entries and the planned root read them. A file kept as it is
//! may also be replaced by generated contents (an image's own package
//! database, cut to the packages kept).

use std::path::{Path, PathBuf};

use super::{ItemKind, Layout};
use crate::archive::{Output, Temp};
use crate::error::Result;
use crate::root::Root;

impl Layout {
    /// Takes the files copied from `root`, when it is a root of layers, out
    /// of the layers into a directory beside `output` that lives as long as
    /// the returned value; [`Layout::entries`] and [`Layout::as_root`] read
    /// them there. Nothing to do (None) for a directory root.
    pub(crate) fn stage(&mut self, root: &Root, output: &Output) -> Result<Option<Temp>> {
        if !root.is_layers() {
            return Ok(None);
        }
        let beside = match output {
            Output::Path(p) => p.clone(),
            Output::Stdout => std::env::temp_dir().join("elfroot-stage"),
        };
        let dir = Temp::new(&beside, true)?;
        let (sources, inner): (Vec<PathBuf>, Vec<PathBuf>) = self
            .sources()
            .into_iter()
            .filter_map(|s| root.inner_path(&s).map(|i| (s, i)))
            .unzip();
        let staged = root.extract(&inner, &dir.path)?;
        self.staged = sources.into_iter().zip(staged).collect();
        Ok(Some(dir))
    }

    /// The host file to read for a file copied from `source`.
    pub(crate) fn readable(&self, source: &Path) -> PathBuf {
        self.staged
            .get(source)
            .cloned()
            .unwrap_or_else(|| source.to_path_buf())
    }

    /// Replaces the file copied from the root at `path` by `data`, keeping
    /// its mode and owner; false (nothing done) when no copied file is there.
    pub(crate) fn replace_file(&mut self, path: &str, data: Vec<u8>, reason: &str) -> bool {
        match self.items.get_mut(path) {
            Some(item) if matches!(item.kind, ItemKind::File(_)) => {
                item.kind = ItemKind::Data(data);
                item.reason = reason.to_string();
                true
            }
            _ => false,
        }
    }
}
