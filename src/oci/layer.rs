//! The layer blob of a written image: the reproducible tar of the
//! bundle's entries, compressed as asked, and its digests (of the blob, and
//! of the tar inside it: the config's diff_id) without reading it back
//! through a decompressor.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use super::digest::{Algorithm, Digest, HashingReader, HashingWriter};
use super::write::{Compression, ImageOptions};
use crate::archive::{self, Entry, WriteOptions};
use crate::error::{Error, Result};

/// Writes the layer blob of `entries` at `path`: the payload byte count,
/// and the blob's digest and size and the digest of the tar inside it (the
/// diff_id). A compressed layer's diff_id is the digest of the same tar
/// made again from the entries on a second thread while the first
/// compresses (cheaper than decompressing the blob afterwards).
pub(super) fn write(
    entries: &[Entry],
    path: &Path,
    opts: &ImageOptions,
) -> Result<(u64, (Digest, u64, Digest))> {
    let write = || {
        let format = opts.compression.format();
        let (mtime, force) = (opts.mtime, false);
        archive::write(
            entries,
            path,
            &WriteOptions {
                format,
                mtime,
                force,
            },
        )
    };
    if opts.compression == Compression::None {
        let bytes = write()?;
        let (digest, size) = blob_digest(path)?;
        return Ok((bytes, (digest.clone(), size, digest)));
    }
    let (bytes, diff_id) = std::thread::scope(|s| {
        let plain = s.spawn(|| {
            let tar = HashingWriter::new(io::sink(), Algorithm::Sha256);
            archive::write_tar(entries, opts.mtime, tar).map(|h| h.finish().1)
        });
        let bytes = write();
        let diff_id = plain
            .join()
            .map_err(|_| Error::Internal("the layer's digest thread panicked".into()));
        (bytes, diff_id)
    });
    let (bytes, diff_id) = (bytes?, diff_id??);
    let (digest, size) = blob_digest(path)?;
    Ok((bytes, (digest, size, diff_id)))
}

/// The digest and size of the file at `path`.
fn blob_digest(path: &Path) -> Result<(Digest, u64)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    HashingReader::new(BufReader::with_capacity(1 << 16, file), Algorithm::Sha256)
        .drain()
        .map_err(|e| Error::io(path, e))
}
