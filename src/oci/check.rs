//! The digests of a layout directory's layer blobs, checked either when the
//! image is opened (a read of each blob of its own) or while the layers are
//! read as a root ([`crate::Root::layers_checked`]): then each blob is read
//! once, for its digest and its entries together. An archive's layers are
//! checked as they are copied out of it, always.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use super::digest::{Digest, Hasher};
use super::read::Image;
use crate::error::{Error, Result};
use crate::root::{Layer, LayerCheck};

/// The digest a layer blob must have, computed as its bytes go by.
struct BlobCheck {
    path: PathBuf,
    want: Digest,
    hasher: Hasher,
}

impl BlobCheck {
    fn new(path: PathBuf, want: Digest) -> BlobCheck {
        let hasher = Hasher::new(want.algorithm());
        BlobCheck { path, want, hasher }
    }
}

impl LayerCheck for BlobCheck {
    fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let got = self.hasher.finish();
        if got != self.want {
            return Err(Error::Config {
                path: self.path,
                reason: format!("digest mismatch: the contents are {got}"),
            });
        }
        Ok(())
    }
}

impl Image {
    /// The layers to read as a root, bottom first, each with the check of
    /// its digest when it was not checked yet (an image opened with
    /// [`super::open_image_streaming_for`]).
    pub fn layers_to_read(&self) -> Vec<Layer> {
        self.layer_paths
            .iter()
            .enumerate()
            .map(|(i, path)| Layer {
                path: path.clone(),
                check: self.unchecked.get(i).cloned().flatten().map(|want| {
                    Box::new(BlobCheck::new(path.clone(), want)) as Box<dyn LayerCheck>
                }),
            })
            .collect()
    }

    /// Checks the digests not checked yet, reading each blob.
    pub(super) fn check_now(&mut self) -> Result<()> {
        for layer in self.layers_to_read() {
            let Some(mut check) = layer.check else {
                continue;
            };
            let io_err = |e| Error::io(&layer.path, e);
            let mut file = File::open(&layer.path).map_err(io_err)?;
            let mut buf = vec![0; 1 << 16];
            loop {
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_err(e)),
                };
                check.update(&buf[..n]);
            }
            check.finish()?;
        }
        self.unchecked.clear();
        Ok(())
    }
}
