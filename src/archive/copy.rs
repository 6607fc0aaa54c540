//! Copying a host file's contents in fixed-size chunks, so memory stays flat
//! however large the bundle, and each error names the side that failed: the
//! source file when reading, the output when writing.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use crate::error::{Error, Result};

/// Size of one read. Large enough that per-call overhead vanishes next to
/// compression, small enough to be irrelevant to memory use.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Files from this size on are copied by the kernel when the output is a
/// regular file ([`copy_in_kernel`]); smaller ones share the output buffer.
pub(crate) const IN_KERNEL_FROM: u64 = 64 * 1024;

/// A reusable buffer of [`CHUNK`] bytes.
pub(crate) fn buffer() -> Vec<u8> {
    vec![0; CHUNK]
}

/// Opens `path` for reading and returns it with its metadata, taken from
/// the open file so that header and contents agree (and, by its device
/// and inode, which sources are one file: `links`). Refuses anything but a
/// regular file (after following symbolic links) before opening it:
/// opening a FIFO would block, and opening a device can act on it (a
/// watchdog starts counting); a directory has no contents to copy.
pub(crate) fn open(path: &Path) -> Result<(File, fs::Metadata)> {
    let refuse = || {
        let why = io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        Err(Error::io(path, why))
    };
    if !fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .is_file()
    {
        return refuse();
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return refuse();
    }
    Ok((file, meta))
}

/// Copies exactly `size` bytes from `src` to `dst` through `buf`. A source
/// that has shrunk since its size was taken is an error (the header already
/// promised `size` bytes); bytes beyond `size` are not read.
pub(crate) fn copy_exact(
    src: &mut File,
    size: u64,
    src_path: &Path,
    dst: &mut impl Write,
    dst_path: &Path,
    buf: &mut [u8],
) -> Result<()> {
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match src.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(Error::io(
                    src_path,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("file shrank while being read (expected {size} bytes)"),
                    ),
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(src_path, e)),
        };
        dst.write_all(&buf[..n])
            .map_err(|e| Error::io(dst_path, e))?;
        left -= n as u64;
    }
    Ok(())
}

/// Copies up to `len` bytes from `src` to the open file `dst` inside the
/// kernel (copy_file_range(2): one copy between page caches rather than two
/// through a buffer), from and advancing both files' offsets. Returns how
/// many bytes were copied: fewer when the kernel cannot (`dst` is a pipe or
/// on another file system, `src` shrank), and the caller copies the rest.
pub(crate) fn copy_in_kernel(src: &File, dst: RawFd, len: u64) -> u64 {
    let mut done = 0;
    while done < len {
        let want = usize::try_from(len - done)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        // SAFETY: both descriptors are open for the call; null offsets make
        // the kernel use and advance the files' own.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                std::ptr::null_mut(),
                dst,
                std::ptr::null_mut(),
                want,
                0,
            )
        };
        match u64::try_from(n) {
            Ok(n) if n > 0 => done += n,
            _ => break,
        }
    }
    done
}

/// How much of the output is handed to the disk at a time ([`Writeback`]).
const WRITEBACK_STEP: u64 = 8 << 20;

/// Starts writing a file output's pages to disk as it grows, on a thread
/// of its own (sync_file_range(2), which does not wait for the disk but may
/// wait for room in its queue), so that the disk works while the rest is
/// copied. Without it, all of it would be flushed at the end: ext4 writes a
/// file out when it is renamed over an existing one (80 MB took 70-80 ms
/// here, on the main thread). A file that replaces nothing is not written
/// out at its rename: its pages are left to the kernel's own writeback, as
/// any program's writes are, and no thread is started ([`Writeback::none`]):
/// its work would only add CPU time. Nothing waits for the disk to finish: when
/// [`Writeback::finish`] is called, the thread stops after the range it is
/// starting, if any; the rest is the kernel's to write, as before.
pub(crate) struct Writeback {
    /// The end of the output written so far, to the thread.
    tx: Option<std::sync::mpsc::Sender<u64>>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The end last sent.
    sent: u64,
}

impl Writeback {
    /// Writeback of `file` (a regular file written from offset 0); inert
    /// when its descriptor cannot be duplicated or no thread can start.
    pub(crate) fn start(file: &File) -> Writeback {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let stop = done.clone();
        let thread = file.try_clone().ok().and_then(|file| {
            std::thread::Builder::new()
                .name("writeback".into())
                .spawn(move || write_back(&file, &rx, &stop))
                .ok()
        });
        Writeback {
            tx: thread.is_some().then_some(tx),
            done,
            thread,
            sent: 0,
        }
    }

    /// The writeback of `file`, which is to replace whatever is at `out`:
    /// [`Writeback::start`] when something is there, else
    /// [`Writeback::none`].
    pub(crate) fn for_output(file: &File, out: &Path) -> Writeback {
        match out.symlink_metadata() {
            Ok(_) => Writeback::start(file),
            Err(_) => Writeback::none(),
        }
    }

    /// No writeback of our own: the kernel's.
    pub(crate) fn none() -> Writeback {
        Writeback {
            tx: None,
            done: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            thread: None,
            sent: 0,
        }
    }

    /// The output now holds `end` bytes, all of them in the file (none
    /// left in a buffer).
    pub(crate) fn written(&mut self, end: u64) {
        if end - self.sent < WRITEBACK_STEP {
            return;
        }
        if let Some(tx) = &self.tx
            && tx.send(end).is_ok()
        {
            self.sent = end;
        }
    }

    /// Stops the thread (after the range it is starting, if any).
    pub(crate) fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The writeback thread: starts writing each new range out, the latest
/// end first taking in those sent since (best effort: an error only means
/// the kernel writes those pages later, as it would have).
fn write_back(
    file: &File,
    rx: &std::sync::mpsc::Receiver<u64>,
    done: &std::sync::atomic::AtomicBool,
) {
    let mut from = 0;
    while let Ok(mut end) = rx.recv() {
        while let Ok(later) = rx.try_recv() {
            end = later;
        }
        if done.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let (Ok(offset), Ok(len)) = (i64::try_from(from), i64::try_from(end - from)) else {
            return;
        };
        // SAFETY: the descriptor is open for the call; the call only reads
        // its arguments.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
        from = end;
    }
}
