//! Progress of long runs (slimming an image of a gigabyte), reported to a
//! [`Progress`] the caller gives: the library only says which stage it is
//! in and how far; drawing it (or not) is the caller's concern.

use std::io::{self, Read};

/// Receives the stages of a long run and how far each has come.
pub trait Progress {
    /// A new stage begins: what it does (`reading layers`), and its total
    /// in bytes when known.
    fn stage(&self, _what: &str, _total: Option<u64>) {}
    /// `bytes` more of the current stage are done.
    fn advance(&self, _bytes: u64) {}
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}

/// Reads through `inner`, reporting each byte read as progress.
pub struct Counting<'p, R> {
    inner: R,
    progress: &'p dyn Progress,
}

impl<'p, R> Counting<'p, R> {
    /// Counts what is read of `inner` into `progress`.
    pub fn new(inner: R, progress: &'p dyn Progress) -> Self {
        Counting { inner, progress }
    }
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Count(Cell<u64>);
    impl Progress for Count {
        fn advance(&self, bytes: u64) {
            self.0.set(self.0.get() + bytes);
        }
    }

    #[test]
    fn counting_reports_every_byte_read() {
        let seen = Count(Cell::new(0));
        let mut out = Vec::new();
        Counting::new(&b"twelve bytes"[..], &seen)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!((seen.0.get(), out.len()), (12, 12));
    }
}
