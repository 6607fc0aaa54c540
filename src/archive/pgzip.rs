//! A gzip encoder that compresses on every CPU, pigz's way, with output
//! that depends on the input bytes alone.
//!
//! The input is cut into blocks of [`BLOCK`] bytes (a constant: never the
//! worker count, never timing). Each block is raw-deflated on a worker
//! thread with the previous block's last 32 KiB as a preset dictionary, so
//! matches reach back across the cut as in one stream, and ends with a sync
//! flush (the last block ends the stream). The writer's thread puts the
//! pieces out in order between one gzip header and the CRC-32 and length
//! trailer; each worker also sums its block's CRC-32, and the writer
//! combines the sums (measured here: combining costs the writer ~70 ns a
//! block, summing the input itself ~170 µs a MiB, on the thread that also
//! makes the tar stream). At most two blocks per worker are in flight, so
//! memory stays flat.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Crc, FlushCompress, Status};

/// The bytes of input per block (pigz's default).
pub(crate) const BLOCK: usize = 128 << 10;
/// deflate's window: the most a match can reach back.
const WINDOW: usize = 32 << 10;
/// Blocks in flight per worker: enough to keep them busy while the writer
/// waits for the oldest.
const IN_FLIGHT_PER_WORKER: usize = 2;

/// One block for a worker.
struct Job {
    seq: u64,
    /// The last [`WINDOW`] bytes before the block (empty for the first).
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
}

/// One block compressed.
struct Piece {
    seq: u64,
    deflated: io::Result<Vec<u8>>,
    crc: Crc,
}

/// A gzip stream written to `W`, compressed by worker threads; call
/// [`GzWriter::finish`] to end it.
pub(crate) struct GzWriter<W: Write> {
    inner: Option<W>,
    header: [u8; 10],
    block: Vec<u8>,
    dict: Vec<u8>,
    jobs: Option<Sender<Job>>,
    pieces: Receiver<Piece>,
    workers: Vec<JoinHandle<()>>,
    /// Blocks handed out so far, and blocks written so far.
    sent: u64,
    written: u64,
    /// Pieces that came back before an earlier one.
    early: BTreeMap<u64, Piece>,
    limit: usize,
    crc: Crc,
    len: u64,
}

impl<W: Write> GzWriter<W> {
    /// A stream to `inner` at deflate `level`, with `header` (10 bytes) in
    /// front, compressed by `workers` threads.
    pub(crate) fn new(inner: W, header: [u8; 10], level: u32, workers: usize) -> GzWriter<W> {
        let workers = workers.max(1);
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (piece_tx, pieces) = mpsc::channel();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let handles = (0..workers)
            .map(|_| {
                let (jobs, done) = (Arc::clone(&job_rx), piece_tx.clone());
                std::thread::spawn(move || work(level, &jobs, &done))
            })
            .collect();
        GzWriter {
            inner: Some(inner),
            header,
            block: Vec::with_capacity(BLOCK),
            dict: Vec::new(),
            jobs: Some(job_tx),
            pieces,
            workers: handles,
            sent: 0,
            written: 0,
            early: BTreeMap::new(),
            limit: workers * IN_FLIGHT_PER_WORKER,
            crc: Crc::new(),
            len: 0,
        }
    }

    /// Compresses what is left, writes the trailer and returns the writer
    /// (not flushed).
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.send(true)?;
        while self.written < self.sent {
            self.take_one()?;
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        trailer[4..].copy_from_slice(&(self.len as u32).to_le_bytes());
        self.out()?.write_all(&trailer)?;
        self.stop();
        self.inner.take().ok_or_else(gone)
    }

    /// The writer (gone only after [`GzWriter::finish`]).
    fn out(&mut self) -> io::Result<&mut W> {
        self.inner.as_mut().ok_or_else(gone)
    }

    /// Hands the current block to the workers, then waits while too many
    /// are in flight.
    fn send(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let next = data[data.len().saturating_sub(WINDOW)..].to_vec();
        let dict = std::mem::replace(&mut self.dict, next);
        let job = Job {
            seq: self.sent,
            dict,
            data,
            last,
        };
        let jobs = self.jobs.as_ref().ok_or_else(gone)?;
        jobs.send(job).map_err(|_| gone())?;
        self.sent += 1;
        while self.sent - self.written >= self.limit as u64 {
            self.take_one()?;
        }
        Ok(())
    }

    /// Waits for the next piece in order and writes it.
    fn take_one(&mut self) -> io::Result<()> {
        let piece = loop {
            if let Some(p) = self.early.remove(&self.written) {
                break p;
            }
            let p = self.pieces.recv().map_err(|_| gone())?;
            if p.seq == self.written {
                break p;
            }
            self.early.insert(p.seq, p);
        };
        let (header, first) = (self.header, self.written == 0);
        let out = self.out()?;
        if first {
            out.write_all(&header)?;
        }
        out.write_all(&piece.deflated?)?;
        self.crc.combine(&piece.crc);
        self.written += 1;
        Ok(())
    }

    /// Ends the workers (their queue closes) and waits for them.
    fn stop(&mut self) {
        self.jobs = None;
        for h in self.workers.drain(..) {
            // A worker's panic was already reported as its piece's error.
            let _ = h.join();
        }
    }
}

impl<W: Write> Write for GzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // A full block is sent only once more input comes, so that the
        // last block (which ends the stream) is never an empty one after
        // a full one: the cuts depend on the length alone.
        if self.block.len() == BLOCK {
            self.send(false)?;
        }
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    /// Writes the pieces that are done and flushes the writer; the block
    /// being filled stays open (cutting it here would make the output
    /// depend on when the caller flushes).
    fn flush(&mut self) -> io::Result<()> {
        while self.written < self.sent {
            match self.pieces.try_recv() {
                Ok(p) => {
                    self.early.insert(p.seq, p);
                }
                Err(_) => break,
            }
            while self.early.contains_key(&self.written) {
                self.take_one()?;
            }
        }
        self.out()?.flush()
    }
}

impl<W: Write> Drop for GzWriter<W> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The error when the workers are gone (one panicked, or the writer was
/// already finished).
fn gone() -> io::Error {
    io::Error::other("gzip: a compression worker stopped")
}

/// A worker: takes blocks until the queue closes, and sends each back
/// compressed (or the error, also when compressing panicked).
fn work(level: u32, jobs: &Mutex<Receiver<Job>>, done: &Sender<Piece>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let deflated = catch_unwind(AssertUnwindSafe(|| {
            deflate(level, &job.dict, &job.data, job.last)
        }))
        .unwrap_or_else(|_| Err(io::Error::other("gzip: a compression worker panicked")));
        let mut crc = Crc::new();
        crc.update(&job.data);
        let piece = Piece {
            seq: job.seq,
            deflated,
            crc,
        };
        if done.send(piece).is_err() {
            return;
        }
    }
}

/// `data` raw-deflated after `dict`, ended by a sync flush, or ending the
/// stream when `last`. The compressor is a new one each time: zlib-rs
/// zeroes a new one's window, but a reset one keeps the bytes of the block
/// it compressed before, and they reach the output (seen: a block's output
/// changed with which block its worker had compressed before), which would
/// make the bytes depend on timing (zlib-rs issue 459, zlib-ng issue 2100:
/// fixed upstream after the zlib-rs 0.6.8 this builds with). A new one costs a few hundred KiB of
/// zeroing per 128 KiB block, little next to deflating it.
fn deflate(level: u32, dict: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(flate2::Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    // Some backends count the dictionary as input.
    let base = c.total_in();
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        let used = usize::try_from(c.total_in() - base).map_err(io::Error::other)?;
        let status = c
            .compress_vec(&data[used..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() - base == data.len() as u64;
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete when it left room in the output.
            _ if !last && all_in && out.len() < out.capacity() => return Ok(out),
            _ => out.reserve(out.capacity().max(1024)),
        }
    }
}
