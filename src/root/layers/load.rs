//! Reading the layers of a [`Tree`]: a few worker threads (as many as the
//! machine has cores, no more than there are layers) each stream whole
//! layers, taking the next one in order, with a spool of their own; the
//! tree applies their entries in layer order as they come. A stack of
//! layers takes about as long as its largest layer rather than their sum.
//!
//! A layer may come with a [`LayerCheck`] (an image's digest of its blob),
//! which sees every byte of the file as it is read: the blob is read once,
//! for its digest and its entries together.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use super::read::{self, Item};
use super::spool::Spool;
use super::{Node, NodeKind, Tree};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Judges the bytes of a layer's file as they are read.
pub trait LayerCheck: Send {
    /// The next bytes of the file.
    fn update(&mut self, bytes: &[u8]);
    /// Every byte was given: an error (naming the file) when they are not
    /// what was expected.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A layer to read: a directory or a tar file, and what checks its bytes.
pub struct Layer {
    /// The directory or tar file (plain, gzip or zstd).
    pub path: PathBuf,
    /// Sees every byte of a tar file (not used for a directory, whose
    /// files are read when asked).
    pub check: Option<Box<dyn LayerCheck>>,
}

impl Layer {
    /// The layers at `paths`, with nothing to check their bytes.
    pub fn unchecked(paths: &[PathBuf]) -> Vec<Layer> {
        paths
            .iter()
            .map(|path| Layer {
                path: path.clone(),
                check: None,
            })
            .collect()
    }
}

/// What the workers share.
struct Work<'a> {
    paths: &'a [PathBuf],
    checks: Vec<Mutex<Option<Box<dyn LayerCheck>>>>,
    next: AtomicUsize,
    failed: AtomicBool,
    /// Bytes of tar files read, for the progress.
    read: AtomicU64,
}

/// Counts what a worker reads into the shared total.
struct Count<'a>(&'a AtomicU64);

impl Progress for Count<'_> {
    fn advance(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Tree {
    /// Applies `layers` in order, each checked as it is read, reporting
    /// the bytes of tar files read.
    pub fn load_checked(layers: Vec<Layer>, progress: &dyn Progress) -> Result<Tree> {
        let mut t = Tree::default();
        t.nodes.insert(
            std::ffi::OsString::from("/"),
            Node::new(NodeKind::Dir, 0o755),
        );
        let (paths, checks): (Vec<PathBuf>, Vec<_>) = layers
            .into_iter()
            .map(|l| (l.path, Mutex::new(l.check)))
            .unzip();
        let total = paths
            .iter()
            .filter_map(|l| std::fs::metadata(l).ok().filter(|m| m.is_file()))
            .map(|m| m.len())
            .sum();
        progress.stage("reading layers", Some(total));
        let work = Work {
            paths: &paths,
            checks,
            next: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            read: AtomicU64::new(0),
        };
        let workers = std::thread::available_parallelism()
            .map_or(1, NonZeroUsize::get)
            .min(paths.len())
            .max(1);
        let (tx, rx) = mpsc::channel();
        let result = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|n| {
                    let (tx, work) = (tx.clone(), &work);
                    s.spawn(move || worker(work, n, &tx))
                })
                .collect();
            drop(tx);
            let applied = t.apply_in_order(&rx, &work, progress);
            let mut spools = Vec::with_capacity(workers);
            for h in handles {
                let spool = h
                    .join()
                    .map_err(|_| Error::Internal("a layer reader panicked".into()))?;
                spools.push(spool);
            }
            applied.map(|()| spools)
        });
        // Spool n is worker n's (None when it read no tar layer).
        t.spools = result?;
        t.layers = paths;
        Ok(t)
    }

    /// Applies the layers the workers send, in order, as each one's turn
    /// comes; the error of the lowest layer that failed (workers take
    /// layers in order, so none below it is left unread).
    fn apply_in_order(
        &mut self,
        rx: &mpsc::Receiver<(usize, Result<Vec<Item>>)>,
        work: &Work<'_>,
        progress: &dyn Progress,
    ) -> Result<()> {
        let mut pending = BTreeMap::new();
        let mut next = 0;
        let mut error: Option<(usize, Error)> = None;
        let mut reported = 0;
        loop {
            let got = rx.recv_timeout(Duration::from_millis(100));
            let read = work.read.load(Ordering::Relaxed);
            progress.advance(read - reported);
            reported = read;
            let (i, items) = match got {
                Ok(got) => got,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match items {
                Ok(items) => {
                    pending.insert(i, items);
                }
                Err(e) => {
                    work.failed.store(true, Ordering::Relaxed);
                    if error.as_ref().is_none_or(|(at, _)| i < *at) {
                        error = Some((i, e));
                    }
                }
            }
            while let Some(items) = pending.remove(&next) {
                self.apply(items);
                next += 1;
            }
        }
        match error {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}

/// Worker `n`: reads the next layer until none is left or one failed;
/// returns its spool, if it read a tar layer.
fn worker(
    work: &Work<'_>,
    n: usize,
    tx: &mpsc::Sender<(usize, Result<Vec<Item>>)>,
) -> Option<Spool> {
    let mut spool: Option<Spool> = None;
    while !work.failed.load(Ordering::Relaxed) {
        let i = work.next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = work.paths.get(i) else {
            break;
        };
        let items = if path.is_dir() {
            read::dir_layer(path)
        } else {
            let check = work.checks[i].lock().map_or(None, |mut c| c.take());
            match &mut spool {
                Some(s) => Ok(s),
                None => Spool::new()
                    .map(|s| spool.insert(s))
                    .map_err(|e| Error::io(std::env::temp_dir(), e)),
            }
            .and_then(|s| read::tar_layer(path, (i, n), &Count(&work.read), s, check))
        };
        if tx.send((i, items)).is_err() {
            break;
        }
    }
    spool
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Entry, write_tar};
    use std::sync::Arc;

    /// Counts the bytes it is shown; fails with `fail` if given.
    struct Counted(Arc<AtomicU64>, Option<&'static str>);

    impl LayerCheck for Counted {
        fn update(&mut self, bytes: &[u8]) {
            self.0.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        fn finish(self: Box<Self>) -> Result<()> {
            match self.1 {
                Some(why) => Err(Error::Internal(why.into())),
                None => Ok(()),
            }
        }
    }

    fn layer(path: PathBuf, fail: Option<&'static str>) -> (Layer, Arc<AtomicU64>) {
        let seen = Arc::new(AtomicU64::new(0));
        let check = Box::new(Counted(seen.clone(), fail));
        let l = Layer {
            path,
            check: Some(check),
        };
        (l, seen)
    }

    #[test]
    fn checks_see_every_byte_and_the_lowest_failing_layer_is_reported() {
        let t = tempfile::tempdir().unwrap();
        let good = t.path().join("good.tar");
        let mut bytes = write_tar(&[Entry::data("/a", "a", 0o644)], 0, Vec::new()).unwrap();
        // After the end of the archive: never read by tar, still checked.
        bytes.extend_from_slice(&[7; 5000]);
        std::fs::write(&good, &bytes).unwrap();
        let junk = t.path().join("junk");
        std::fs::write(&junk, "not a tar").unwrap();

        let (l, seen) = layer(good.clone(), None);
        let tree = Tree::load_checked(vec![l], &crate::progress::Silent).unwrap();
        assert_eq!(seen.load(Ordering::Relaxed), bytes.len() as u64);
        assert_eq!(&*tree.contents(Path::new("/a")).unwrap(), b"a");

        let (bad, _) = layer(good.clone(), Some("bad digest"));
        let (j, _) = layer(junk.clone(), None);
        let err = Tree::load_checked(vec![bad, j], &crate::progress::Silent).unwrap_err();
        assert!(err.to_string().contains("bad digest"), "{err}");
        let (bad, _) = layer(good, Some("bad digest"));
        let (j, _) = layer(junk, None);
        let err = Tree::load_checked(vec![j, bad], &crate::progress::Silent).unwrap_err();
        assert!(
            err.to_string()
                .contains("junk: not a directory or a readable"),
            "{err}"
        );
    }
}
