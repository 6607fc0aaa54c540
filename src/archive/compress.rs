//! gzip and zstd around the tar stream, with every setting that reaches the
//! output fixed so that it depends on the entries alone; and the one place
//! that tells a compressed stream by its magic bytes ([`Compression::sniff`])
//! and decodes one ([`decoder`]), for layer tarballs and image blobs.
//!
//! gzip: level 6 (gzip's default), header mtime 0, no file name, OS byte 3
//! (Unix, what `gzip -n` writes), compressed on all CPUs in fixed blocks
//! ([`super::pgzip`]), so the bytes do not depend on the CPU count. zstd: level 3 (zstd's default) with a
//! content checksum, as the zstd tool writes it, compressed on all CPUs;
//! multithreaded zstd output depends on the level and parameters but not on
//! the number of worker threads, which the tests check.

use std::io::{self, BufRead, BufWriter, Read, Write};

use super::copy::CHUNK;
use super::pgzip::GzWriter;

/// gzip's default level.
pub(crate) const GZIP_LEVEL: u32 = 6;
/// zstd's default level.
pub(crate) const ZSTD_LEVEL: i32 = 3;
/// The gzip header's OS byte for Unix.
const GZIP_OS_UNIX: u8 = 3;
/// The first bytes of a gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How a stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    /// Not at all.
    None,
    /// gzip (RFC 1952), possibly several members one after the other.
    Gzip,
    /// zstd frames.
    Zstd,
}

impl Compression {
    /// What a stream beginning with `head` is compressed with, by its magic
    /// bytes; anything else is taken as uncompressed.
    pub(crate) fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// `r` decompressed as `kind` says (every gzip member, as `gzip -d` reads
/// concatenated ones).
pub(crate) fn decoder<'a, R: BufRead + 'a>(
    kind: Compression,
    r: R,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    })
}

/// `r` decompressed as its first bytes say.
pub(crate) fn sniffed_decoder<'a, R: BufRead + 'a>(mut r: R) -> io::Result<Box<dyn Read + 'a>> {
    let kind = Compression::sniff(r.fill_buf()?);
    decoder(kind, r)
}

/// A gzip encoder writing through a buffer to `w`, using one worker thread
/// per CPU.
pub(crate) fn gzip<W: Write>(w: W) -> GzWriter<BufWriter<W>> {
    gzip_with(w, workers())
}

pub(super) fn gzip_with<W: Write>(w: W, workers: usize) -> GzWriter<BufWriter<W>> {
    // Deflate, no flags (no name), mtime 0, no extra flags, OS.
    let header = [
        GZIP_MAGIC[0],
        GZIP_MAGIC[1],
        8,
        0,
        0,
        0,
        0,
        0,
        0,
        GZIP_OS_UNIX,
    ];
    GzWriter::new(
        BufWriter::with_capacity(CHUNK, w),
        header,
        GZIP_LEVEL,
        workers,
    )
}

/// The CPUs this process may use.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A zstd encoder writing through a buffer to `w`, using one worker thread
/// per CPU.
pub(crate) fn zstd<W: Write>(w: W) -> io::Result<zstd::Encoder<'static, BufWriter<W>>> {
    zstd_with(w, u32::try_from(workers()).unwrap_or(u32::MAX))
}

fn zstd_with<W: Write>(w: W, workers: u32) -> io::Result<zstd::Encoder<'static, BufWriter<W>>> {
    let mut enc = zstd::Encoder::new(BufWriter::with_capacity(CHUNK, w), ZSTD_LEVEL)?;
    enc.include_checksum(true)?;
    enc.multithread(workers.max(1))?;
    Ok(enc)
}

/// Flushes the buffer [`gzip`] and [`zstd()`] put under the encoder and
/// returns the writer.
pub(crate) fn unbuffer<W: Write>(w: BufWriter<W>) -> io::Result<W> {
    w.into_inner().map_err(|e| e.into_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::testutil::sample;
    use crate::archive::{Format, WriteOptions, write, write_tar};
    use std::fs;
    use std::io::Read;

    fn zst(input: &[u8], workers: u32) -> Vec<u8> {
        let mut enc = zstd_with(Vec::new(), workers).unwrap();
        enc.write_all(input).unwrap();
        unbuffer(enc.finish().unwrap()).unwrap()
    }

    /// Several MiB of mildly compressible bytes, so that zstd splits the
    /// work into several jobs.
    fn corpus() -> Vec<u8> {
        let mut x: u32 = 1;
        (0..24 << 20)
            .map(|i: u32| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                if i % 7 < 3 {
                    (x >> 24) as u8
                } else {
                    (i / 64) as u8
                }
            })
            .collect()
    }

    #[test]
    fn sniffing_tells_gzip_zstd_and_plain_apart_and_they_decode() {
        let plain = b"a layer's tar stream ".repeat(500);
        let (a, b) = plain.split_at(4000);
        // Two gzip members back to back, as some tools write layers.
        let mut gz = Vec::new();
        for part in [a, b] {
            let mut enc = gzip(Vec::new());
            enc.write_all(part).unwrap();
            gz.extend(unbuffer(enc.finish().unwrap()).unwrap());
        }
        let zst = zst(&plain, 1);
        for (bytes, kind) in [
            (&gz, Compression::Gzip),
            (&zst, Compression::Zstd),
            (&plain, Compression::None),
        ] {
            assert_eq!(Compression::sniff(bytes), kind);
            let mut out = Vec::new();
            sniffed_decoder(&bytes[..])
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert!(out == plain, "{kind:?} does not round trip");
        }
        for short in [&b""[..], &[0x1f], &[0x28, 0xb5, 0x2f], b"\x7fELF"] {
            assert_eq!(Compression::sniff(short), Compression::None);
        }
        assert!(
            decoder(Compression::Zstd, &b"not zstd"[..])
                .is_ok_and(|mut d| { d.read_to_end(&mut Vec::new()).is_err() })
        );
    }

    fn gz(input: &[u8], workers: usize, piece: usize) -> Vec<u8> {
        let mut enc = gzip_with(Vec::new(), workers);
        for part in input.chunks(piece.max(1)) {
            enc.write_all(part).unwrap();
        }
        unbuffer(enc.finish().unwrap()).unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut plain)
            .unwrap();
        plain
    }

    #[test]
    fn gzip_output_does_not_depend_on_workers_or_write_sizes() {
        let input = &corpus()[..(3 << 20) + 12_345];
        let one = gz(input, 1, CHUNK);
        // Several rounds: with workers that reused their compressor, the
        // bytes changed with timing in one round out of a few.
        let cases = [(2, CHUNK), (3, 1000), (8, 1 << 20), (2, input.len())];
        for (workers, piece) in cases.into_iter().cycle().take(12) {
            assert!(
                gz(input, workers, piece) == one,
                "{workers} workers writing {piece} at a time differ from 1"
            );
        }
        assert!(gunzip(&one) == input);
    }

    #[test]
    fn gzip_blocks_round_trip_through_gzip_itself() {
        let input = corpus();
        let block = super::super::pgzip::BLOCK;
        for len in [
            0,
            1,
            block - 1,
            block,
            block + 1,
            2 * block,
            3 * block + 32_768,
        ] {
            let gz = gz(&input[..len], 2, 4096);
            assert!(gunzip(&gz) == input[..len], "{len} bytes do not round trip");
            let mut isize = [0u8; 4];
            isize.copy_from_slice(&gz[gz.len() - 4..]);
            assert_eq!(u32::from_le_bytes(isize) as usize, len);
            gzip_tool_reads(&gz, &input[..len]);
        }
    }

    #[test]
    fn matches_reach_back_across_block_cuts() {
        // 20 KiB of noise repeated: one deflate stream stores it about
        // once; blocks without the previous block's tail as dictionary
        // would store it once per block.
        let noise = &corpus()[..20 << 10];
        let input: Vec<u8> = noise.iter().copied().cycle().take(4 << 20).collect();
        let mut one = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        one.write_all(&input).unwrap();
        let one = one.finish().unwrap().len();
        let ours = gz(&input, 2, CHUNK).len();
        assert!(ours < one * 2, "{ours} bytes against {one} in one stream");
    }

    /// `gzip -t` accepts `gz` and `gzip -dc` gives back `plain`.
    fn gzip_tool_reads(gz: &[u8], plain: &[u8]) {
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.gz");
        fs::write(&file, gz).unwrap();
        let Ok(test) = Command::new("gzip").arg("-t").arg(&file).status() else {
            return crate::testing::skip("gzip is not installed");
        };
        assert!(test.success(), "gzip -t rejects the stream");
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(&file)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout == plain,
            "gzip -dc differs"
        );
    }

    /// A sink that takes `room` bytes, then fails.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_is_an_error_not_a_hang() {
        let input = &corpus()[..4 << 20];
        for room in [0, 10, 300_000] {
            let mut enc = gzip_with(Full { room }, 2);
            let failed = enc.write_all(input).is_err() || enc.finish().and_then(unbuffer).is_err();
            assert!(failed, "writing into {room} bytes of room succeeded");
        }
    }

    #[test]
    fn zstd_output_does_not_depend_on_worker_count() {
        let input = corpus();
        let one = zst(&input, 1);
        for workers in [2, 3, 8] {
            assert!(
                zst(&input, workers) == one,
                "{workers} workers differ from 1"
            );
        }
        assert_eq!(zstd::decode_all(&one[..]).unwrap(), input);
    }

    #[test]
    fn compressed_files_are_deterministic_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample(dir.path());
        let tar = write_tar(&entries, 7, Vec::new()).unwrap();
        for (format, name) in [(Format::TarGz, "r.tar.gz"), (Format::TarZst, "r.tar.zst")] {
            let opts = WriteOptions {
                format,
                mtime: 7,
                force: false,
            };
            let out = dir.path().join(name);
            write(&entries, &out, &opts).unwrap();
            let first = fs::read(&out).unwrap();
            write(&entries, &out, &opts).unwrap();
            assert!(
                fs::read(&out).unwrap() == first,
                "{name} differs between runs"
            );
            let mut plain = Vec::new();
            match format {
                Format::TarGz => {
                    // mtime 0, no flags (no name), deflate, OS Unix.
                    assert_eq!(&first[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
                    flate2::read::GzDecoder::new(&first[..])
                        .read_to_end(&mut plain)
                        .unwrap();
                }
                _ => plain = zstd::decode_all(&first[..]).unwrap(),
            }
            assert!(plain == tar, "{name} does not hold the tar stream");
        }
    }
}
