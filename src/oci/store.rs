//! The files of an image layout, in a directory or in a tar archive, read
//! and checked against their descriptors.
//!
//! An archive is indexed once (the offset and size of each member, nothing
//! extracted; a compressed one is decompressed to a temporary file first);
//! members are read in place, and only the layers asked for are copied out.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::digest::{Digest, Hasher, HashingReader};
use super::spec::Descriptor;
use crate::archive::compress;
use crate::error::{Error, Result};

/// The largest JSON document (index, manifest, config) read into memory.
const MAX_JSON: u64 = 16 << 20;

/// The most layers one image may have (Docker's overlay2 driver stops at
/// 128): more is refused rather than read.
pub(crate) const MAX_LAYERS: usize = 256;

/// The most members an image archive may have (real ones hold a few per layer).
const MAX_MEMBERS: usize = 100_000;

/// How many symbolic links in a row a member name may go through.
const MAX_LINK_HOPS: usize = 8;

/// Where the layout's files are.
pub(crate) enum Store {
    Dir(PathBuf),
    Archive {
        path: PathBuf,
        file: File,
        /// Regular members by normalised path: (content offset, size).
        members: HashMap<String, (u64, u64)>,
        /// Symbolic links between members (`docker save` links a layer it wrote).
        links: HashMap<String, String>,
    },
}

impl Store {
    /// An image layout directory.
    pub(crate) fn dir(path: &Path) -> Result<Store> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Ok(Store::Dir(path.to_path_buf())),
            Ok(_) => Err(Error::Config {
                path: path.to_path_buf(),
                reason: "not an OCI image layout directory (use oci-archive: for a tar file)"
                    .into(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound {
                path: path.to_path_buf(),
            }),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// An image layout in a tar file, indexed.
    pub(crate) fn archive(path: &Path) -> Result<Store> {
        let io_err = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound {
                path: path.to_path_buf(),
            },
            _ => Error::io(path, e),
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut magic = [0u8; 4];
        let n = file.read_at(&mut magic, 0).map_err(io_err)?;
        let bad = |e: io::Error| Error::Config {
            path: path.to_path_buf(),
            reason: format!("not a readable tar archive: {e}"),
        };
        let kind = compress::Compression::sniff(&magic[..n]);
        if kind != compress::Compression::None {
            // `docker load` takes `docker save | gzip`: such an archive is
            // read from a decompressed copy that goes when the store does.
            let mut plain = tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?;
            compress::decoder(kind, io::BufReader::new(&file))
                .and_then(|mut d| io::copy(&mut d, &mut plain))
                .and_then(|_| plain.seek(io::SeekFrom::Start(0)))
                .map_err(bad)?;
            file = plain;
        }
        let mut members = HashMap::new();
        let mut hard = Vec::new();
        let mut links = HashMap::new();
        {
            let mut tar = tar::Archive::new(&mut file);
            for (n, entry) in tar.entries_with_seek().map_err(bad)?.enumerate() {
                let entry = entry.map_err(bad)?;
                if n >= MAX_MEMBERS {
                    let e = format!("more than {MAX_MEMBERS} members, not an image archive");
                    return Err(bad(io::Error::other(e)));
                }
                let name = normalise(&entry.path().map_err(bad)?);
                let kind = entry.header().entry_type();
                let target = entry.link_name().map_err(bad)?;
                if kind.is_file() {
                    members.insert(name, (entry.raw_file_position(), entry.size()));
                } else if let Some(target) = target {
                    let target = target.to_string_lossy().into_owned();
                    if kind.is_hard_link() {
                        hard.push((name, normalise(Path::new(&target))));
                    } else if kind.is_symlink() {
                        links.insert(name, target);
                    }
                }
            }
        }
        for (name, target) in hard {
            if let Some(&at) = members.get(&target) {
                members.insert(name, at);
            }
        }
        Ok(Store::Archive {
            path: path.to_path_buf(),
            file,
            members,
            links,
        })
    }

    /// Checks the `oci-layout` marker file.
    pub(crate) fn check_layout(&self) -> Result<()> {
        let layout = self.read_json("oci-layout")?;
        match layout.get("imageLayoutVersion") {
            Some(Value::String(_)) => Ok(()),
            _ => Err(self.bad("oci-layout", "no imageLayoutVersion")),
        }
    }

    /// How errors name `rel`: the file in the layout, or ARCHIVE/rel.
    pub(crate) fn shown(&self, rel: &str) -> PathBuf {
        match self {
            Store::Dir(dir) => dir.join(rel),
            Store::Archive { path, .. } => PathBuf::from(format!("{}/{rel}", path.display())),
        }
    }

    /// An error about the layout's file `rel`.
    pub(crate) fn bad(&self, rel: &str, reason: &str) -> Error {
        Error::Config {
            path: self.shown(rel),
            reason: reason.to_string(),
        }
    }

    /// The size of `rel`, or an error saying it is missing.
    pub(crate) fn size(&self, rel: &str, missing: &str) -> Result<u64> {
        let gone = || self.bad(rel, missing);
        match self {
            Store::Dir(dir) => match self.confined(dir, rel)? {
                Some(m) if m.is_file() => Ok(m.len()),
                Some(_) => Err(self.bad(rel, "not a regular file")),
                None => Err(gone()),
            },
            Store::Archive { .. } => self.member(rel)?.map(|m| m.1).ok_or_else(gone),
        }
    }

    /// True when the layout or archive has a file `rel`.
    pub(crate) fn has(&self, rel: &str) -> Result<bool> {
        match self {
            Store::Dir(dir) => Ok(self.confined(dir, rel)?.is_some_and(|m| m.is_file())),
            Store::Archive { .. } => Ok(self.member(rel)?.is_some()),
        }
    }

    /// Where the archive member `rel` is, through symbolic links between
    /// members; a link that leads out of the archive (absolute, or `..`
    /// above its top) is an error, since following it would mean reading
    /// the host.
    fn member(&self, rel: &str) -> Result<Option<(u64, u64)>> {
        let Store::Archive { members, links, .. } = self else {
            return Ok(None);
        };
        let mut name = rel.to_string();
        for _ in 0..=MAX_LINK_HOPS {
            if let Some(&at) = members.get(&name) {
                return Ok(Some(at));
            }
            let Some(target) = links.get(&name) else {
                return Ok(None);
            };
            name = inside_archive(&name, target).ok_or_else(|| {
                self.bad(
                    rel,
                    &format!("is a symbolic link to {target:?}, outside the archive"),
                )
            })?;
        }
        Err(self.bad(rel, "too many levels of symbolic links"))
    }

    /// What is at `rel` in the layout directory `dir`, without following a
    /// symbolic link anywhere on the way: a layout whose files are links
    /// could make elfroot read, and report on, any file of the host.
    fn confined(&self, dir: &Path, rel: &str) -> Result<Option<std::fs::Metadata>> {
        let mut at = dir.to_path_buf();
        let mut meta = None;
        for part in rel.split('/') {
            if part.is_empty() || part == "." || part == ".." {
                return Err(self.bad(rel, "not a path inside the layout"));
            }
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(self.bad(
                        rel,
                        "is (or is under) a symbolic link; an image layout's files must be in it",
                    ));
                }
                Ok(m) => meta = Some(m),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(Error::io(self.shown(rel), e)),
            }
        }
        Ok(meta)
    }

    /// A reader of the whole of `rel`.
    pub(crate) fn open(&self, rel: &str) -> Result<Box<dyn Read + '_>> {
        match self {
            Store::Dir(dir) => {
                self.confined(dir, rel)?;
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(dir.join(rel))
                    .map_err(|e| Error::io(self.shown(rel), e))?;
                Ok(Box::new(f))
            }
            Store::Archive { file, .. } => {
                let (offset, size) = self.member(rel)?.ok_or_else(|| self.bad(rel, "missing"))?;
                Ok(Box::new(RangeReader {
                    file,
                    offset,
                    left: size,
                }))
            }
        }
    }

    pub(crate) fn read_small(&self, rel: &str, size: u64) -> Result<Vec<u8>> {
        if size > MAX_JSON {
            return Err(self.bad(
                rel,
                &format!("{size} bytes is too large for a JSON document"),
            ));
        }
        let mut buf = Vec::with_capacity(size as usize);
        self.open(rel)?
            .take(size)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(self.shown(rel), e))?;
        Ok(buf)
    }

    pub(crate) fn parse_json(&self, rel: &str, bytes: &[u8]) -> Result<Value> {
        serde_json::from_slice(bytes).map_err(|e| self.bad(rel, &format!("bad JSON: {e}")))
    }

    /// A file of the layout that is not a blob (oci-layout, index.json).
    pub(crate) fn read_json(&self, rel: &str) -> Result<Value> {
        let missing = match self {
            Store::Dir(_) => "missing: not an OCI image layout",
            Store::Archive { .. } => "missing: not an OCI image archive",
        };
        let size = self.size(rel, missing)?;
        let bytes = self.read_small(rel, size)?;
        self.parse_json(rel, &bytes)
    }

    /// The digest of a descriptor found in `named_in` (a path in the layout).
    pub(crate) fn digest_of(&self, d: &Descriptor, named_in: &str) -> Result<Digest> {
        Digest::parse(&d.digest).map_err(|reason| self.bad(named_in, &reason))
    }

    /// A JSON blob, checked against its descriptor (`digest` is its digest).
    pub(crate) fn read_json_blob(
        &self,
        d: &Descriptor,
        digest: &Digest,
        what: &str,
    ) -> Result<Value> {
        let rel = digest.blob_path();
        let size = self.blob_size(d, digest, what)?;
        let bytes = self.read_small(&rel, size)?;
        let actual = {
            let mut h = Hasher::new(digest.algorithm());
            h.update(&bytes);
            h.finish()
        };
        self.check_digest(&rel, digest, &actual)?;
        self.parse_json(&rel, &bytes)
    }

    fn blob_size(&self, d: &Descriptor, digest: &Digest, what: &str) -> Result<u64> {
        let rel = digest.blob_path();
        let size = self.size(&rel, &format!("missing blob (the {what} {digest})"))?;
        if size != d.size {
            return Err(self.bad(
                &rel,
                &format!(
                    "size mismatch: the descriptor says {} bytes, the blob has {size}",
                    d.size
                ),
            ));
        }
        Ok(size)
    }

    fn check_digest(&self, rel: &str, want: &Digest, got: &Digest) -> Result<()> {
        if want != got {
            return Err(self.bad(rel, &format!("digest mismatch: the contents are {got}")));
        }
        Ok(())
    }

    /// The host path of a layer blob of the manifest `manifest`, its size
    /// checked; an archive's is copied into `temp`, its digest checked on
    /// the way. A layout directory's is used in place: its digest, to check
    /// when it is read, comes back with it.
    pub(crate) fn layer(
        &self,
        d: &Descriptor,
        manifest: &Digest,
        temp: Option<&Path>,
    ) -> Result<(PathBuf, Option<Digest>)> {
        let digest = self.digest_of(d, &manifest.blob_path())?;
        let rel = digest.blob_path();
        self.blob_size(d, &digest, "layer")?;
        let temp = match (self, temp) {
            (Store::Dir(dir), _) => return Ok((dir.join(&rel), Some(digest))),
            (Store::Archive { .. }, Some(temp)) => temp,
            (Store::Archive { .. }, None) => {
                return Err(Error::Internal("no directory for layers".into()));
            }
        };
        let mut reader = HashingReader::new(self.open(&rel)?, digest.algorithm());
        let host = temp.join(digest.hex());
        let mut out = File::create(&host).map_err(|e| Error::io(&host, e))?;
        io::copy(&mut reader, &mut out).map_err(|e| Error::io(self.shown(&rel), e))?;
        out.flush().map_err(|e| Error::io(&host, e))?;
        let (actual, _) = reader.drain().map_err(|e| Error::io(self.shown(&rel), e))?;
        self.check_digest(&rel, &digest, &actual)?;
        Ok((host, None))
    }
}

/// `./blobs/sha256/x` and `/blobs/sha256/x` are `blobs/sha256/x`.
fn normalise(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut s: &str = &s;
    loop {
        if let Some(rest) = s.strip_prefix("./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix('/') {
            s = rest;
        } else {
            break;
        }
    }
    s.trim_end_matches('/').to_string()
}

/// The member a symbolic link at `name` to `target` names, if it stays in
/// the archive.
fn inside_archive(name: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Reads `left` bytes of `file` from `offset`, without moving a shared cursor.
struct RangeReader<'f> {
    file: &'f File,
    offset: u64,
    left: u64,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside this member",
            ));
        }
        self.offset += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_normalised_and_links_stay_inside() {
        assert_eq!(normalise(Path::new("./index.json")), "index.json");
        assert_eq!(normalise(Path::new("/blobs/sha256/")), "blobs/sha256");
        assert_eq!(
            inside_archive("b/layer.tar", "../a/layer.tar").as_deref(),
            Some("a/layer.tar")
        );
        assert_eq!(inside_archive("x", "./y").as_deref(), Some("y"));
        for outside in ["../../etc/passwd", "/etc/passwd"] {
            assert_eq!(inside_archive("b/layer.tar", outside), None);
        }
    }
}
