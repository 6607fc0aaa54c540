//! Taking whole files out of the layers, for a bundle or a slimmed image
//! that copies them: the tree keeps only the first bytes of most files, so
//! the layers that hold the rest are streamed once more, and only the
//! wanted entries' contents are copied (to files in a staging directory);
//! every other entry is skipped by its header, and a layer is left as soon
//! as its last wanted entry is passed. Memory stays flat whatever the sizes.
//!
//! Files kept whole in memory are written out from there, and files of a
//! directory layer are used in place.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Data, NodeKind, Tree};
use crate::archive::compress;
use crate::error::{Error, Result};

/// One piece of the work of [`Tree::extract`], done by whichever thread
/// comes to it.
enum Task<'t> {
    /// Stream the layer at this path once more, copying the numbered
    /// entries' contents to their files.
    Layer(&'t Path, BTreeMap<usize, Vec<PathBuf>>),
    /// Write out files kept in memory or in a spool.
    Copies(&'t [(&'t Data, PathBuf)]),
}

impl Tree {
    /// The host file holding the whole contents of each file at `paths`
    /// (canonical paths of regular files), in order; files written are
    /// named by their position under `dir`. The layers streamed again and
    /// the files written from memory and the spools are independent: they
    /// are shared out among a thread per core.
    pub(in crate::root) fn extract(&self, paths: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = Vec::with_capacity(paths.len());
        let mut copies = Vec::new();
        // layer -> entry -> the staged files that want its contents.
        let mut wanted: BTreeMap<usize, BTreeMap<usize, Vec<PathBuf>>> = BTreeMap::new();
        // A hard link of a layer is a copy of its target's node, with the
        // same contents: the same staged file, which the writer links.
        let mut staged_for: HashMap<(u64, u64, u64), usize> = HashMap::new();
        for (i, path) in paths.iter().enumerate() {
            let staged = dir.join(i.to_string());
            let data = match self.nodes.get(path.as_os_str()).map(|n| &n.kind) {
                Some(NodeKind::File(d)) => d,
                _ => {
                    return Err(Error::Unsupported {
                        path: path.clone(),
                        reason: "not a regular file of the image".into(),
                    });
                }
            };
            if let Some(key) = self.file_identity(path) {
                if let Some(&at) = staged_for.get(&key) {
                    out.push(out[at].clone());
                    continue;
                }
                staged_for.insert(key, out.len());
            }
            match data {
                Data::Host(host) => {
                    out.push(host.clone());
                    continue;
                }
                Data::Bytes(_) | Data::Spooled { .. } => copies.push((data, staged.clone())),
                Data::Head { layer, entry, .. } => {
                    let to = wanted.entry(*layer).or_default().entry(*entry).or_default();
                    to.push(staged.clone());
                }
            }
            out.push(staged);
        }
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut tasks = Vec::new();
        for (layer, entries) in wanted {
            let path = self.layers.get(layer).ok_or_else(|| {
                Error::Internal(format!("a file names layer {layer}, which is not there"))
            })?;
            tasks.push(Task::Layer(path, entries));
        }
        let chunk = copies.len().div_ceil(workers).max(1);
        tasks.extend(copies.chunks(chunk).map(Task::Copies));
        self.run(tasks, workers)?;
        Ok(out)
    }

    /// Does `tasks` on up to `workers` threads; the first task's error, in
    /// their order, if any failed.
    fn run(&self, tasks: Vec<Task<'_>>, workers: usize) -> Result<()> {
        let next = AtomicUsize::new(0);
        let tasks: Vec<Mutex<Option<Task<'_>>>> =
            tasks.into_iter().map(|t| Mutex::new(Some(t))).collect();
        let results: Vec<Mutex<Result<()>>> = tasks.iter().map(|_| Mutex::new(Ok(()))).collect();
        std::thread::scope(|s| {
            for _ in 0..workers.min(tasks.len()) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(slot) = tasks.get(i) else {
                            break;
                        };
                        let r = match slot.lock().ok().and_then(|mut t| t.take()) {
                            Some(Task::Layer(path, entries)) => copy_entries(path, &entries),
                            Some(Task::Copies(copies)) => self.copy_out(copies),
                            None => Ok(()),
                        };
                        if let Ok(mut result) = results[i].lock() {
                            *result = r;
                        }
                    }
                });
            }
        });
        results.into_iter().try_for_each(|r| {
            r.into_inner()
                .unwrap_or_else(|_| Err(Error::Internal("a task panicked".into())))
        })
    }

    /// Writes each file kept in memory or in a spool to its path.
    fn copy_out(&self, copies: &[(&Data, PathBuf)]) -> Result<()> {
        for (data, staged) in copies {
            match data {
                Data::Bytes(bytes) => std::fs::write(staged, &bytes[..]),
                Data::Spooled {
                    spool, offset, len, ..
                } => self
                    .spool(*spool)
                    .and_then(|s| s.copy_to(*offset, *len, staged)),
                _ => Err(io::Error::other("not a file kept whole")),
            }
            .map_err(|e| Error::io(staged, e))?;
        }
        Ok(())
    }
}

/// Streams the tar layer at `path` and copies the contents of each entry
/// numbered in `wanted` to its files.
fn copy_entries(path: &Path, wanted: &BTreeMap<usize, Vec<PathBuf>>) -> Result<()> {
    let io_err = |e: io::Error| Error::io(path, e);
    let file = BufReader::new(File::open(path).map_err(io_err)?);
    let reader = compress::sniffed_decoder(file).map_err(io_err)?;
    let mut archive = tar::Archive::new(reader);
    let last = wanted.keys().next_back().copied().unwrap_or(0);
    let mut found = 0;
    for (i, entry) in archive.entries().map_err(io_err)?.enumerate() {
        let mut entry = entry.map_err(io_err)?;
        if let Some(targets) = wanted.get(&i) {
            let (first, rest) = targets
                .split_first()
                .ok_or_else(|| Error::Internal("an extracted entry with nowhere to go".into()))?;
            let mut w = BufWriter::new(File::create(first).map_err(|e| Error::io(first, e))?);
            io::copy(&mut entry, &mut w).map_err(io_err)?;
            w.flush().map_err(|e| Error::io(first, e))?;
            for other in rest {
                std::fs::copy(first, other).map_err(|e| Error::io(other, e))?;
            }
            found += 1;
        }
        if i >= last {
            break;
        }
    }
    if found != wanted.len() {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            reason: "the layer changed while it was read (an entry it had is gone)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Entry, write_tar};

    #[test]
    fn whole_files_come_out_of_the_layer_that_has_them_last() {
        let t = tempfile::tempdir().unwrap();
        let big = |c: u8| vec![c; super::super::read::KEEP_SMALL as usize + 1000];
        let layer = |name: &str, entries: &[Entry]| {
            let p = t.path().join(name);
            std::fs::write(&p, write_tar(entries, 0, Vec::new()).unwrap()).unwrap();
            p
        };
        let lower = layer(
            "lower.tar",
            &[
                Entry::data("/data/a", big(b'a'), 0o644),
                Entry::data("/data/b", big(b'b'), 0o644),
            ],
        );
        let upper = layer(
            "upper.tar",
            &[
                Entry::data("/data/b", big(b'B'), 0o600),
                Entry::data("/etc/small", "small", 0o644),
            ],
        );
        let tree = Tree::load(&[lower, upper]).unwrap();
        assert!(tree.contents(Path::new("/data/a")).is_err(), "a head only");
        let staging = t.path().join("staging");
        std::fs::create_dir(&staging).unwrap();
        let paths: Vec<PathBuf> = ["/data/b", "/etc/small", "/data/a"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let got = tree.extract(&paths, &staging).unwrap();
        assert_eq!(std::fs::read(&got[0]).unwrap(), big(b'B'));
        assert_eq!(std::fs::read(&got[1]).unwrap(), b"small");
        assert_eq!(std::fs::read(&got[2]).unwrap(), big(b'a'));
        let err = tree
            .extract(&[PathBuf::from("/data")], &staging)
            .unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn files_from_spools_and_layers_come_out_whole_side_by_side() {
        let t = tempfile::tempdir().unwrap();
        // ELF files are spooled whole; big data files are streamed again.
        let body = |i: usize, magic: &[u8], len: usize| {
            let mut b = magic.to_vec();
            b.extend((0..len).map(|j| ((i * 7 + j) % 251) as u8));
            b
        };
        let big = super::super::read::KEEP_SMALL as usize + 10;
        let want = |n: usize| match n % 13 {
            12 => (format!("/data/{n}"), body(n, b"data", big)),
            _ => (format!("/lib/{n}.so"), body(n, b"\x7fELF", 70_000)),
        };
        let entries: Vec<Entry> = (0..8 * 13)
            .map(|n| {
                let (path, bytes) = want(n);
                Entry::data(path, bytes, 0o644)
            })
            .collect();
        let layer = t.path().join("l.tar");
        std::fs::write(&layer, write_tar(&entries, 0, Vec::new()).unwrap()).unwrap();
        let tree = Tree::load(&[layer]).unwrap();
        let staging = t.path().join("staging");
        std::fs::create_dir(&staging).unwrap();
        let paths: Vec<PathBuf> = entries.iter().map(|e| PathBuf::from(&e.path)).collect();
        let got = tree.extract(&paths, &staging).unwrap();
        for (n, file) in got.iter().enumerate() {
            assert!(std::fs::read(file).unwrap() == want(n).1, "{n}");
        }
    }
}
