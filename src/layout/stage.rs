//! The files of a bundle planned from a root of layers (an image) exist
//! on the host only once they are taken out of the layers: this puts them
//! in a directory beside the output (see [`Root::extract`]), where the
//! writer's entries and the planned root read them.

use std::path::{Path, PathBuf};

use super::Layout;
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
}
