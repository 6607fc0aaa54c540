//! `/etc/ld.so.conf` and its `include` files, read the way ldconfig reads them.
//!
//! glibc's ld.so never reads these: ldconfig turns them into ld.so.cache.
//! They are read only to say, for a root without a cache, which directories
//! ld.so will therefore not search.
//!
//! The files are untrusted: each is read once per run however often it is
//! included (includes that fan out would otherwise multiply), listings of
//! include directories are shared, and the include cycles found make one
//! warning, not one per path through them.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::root::Root;

/// The directories named by a root's ld.so.conf, in order, and what was wrong with it.
#[derive(Debug, Default)]
pub struct ConfDirs {
    /// The directories, in the order ld.so.conf and its includes name them.
    pub dirs: Vec<PathBuf>,
    /// Problems that did not stop the reading (an include cycle, say).
    pub warnings: Vec<Error>,
}

/// The state of one reading: where it is, and what it has seen.
struct Reader<'a> {
    root: &'a Root,
    out: ConfDirs,
    /// The files being read, outermost first (real paths).
    stack: Vec<PathBuf>,
    /// Every file read so far (real paths).
    read: HashSet<PathBuf>,
    /// The directories in `out.dirs`.
    known: HashSet<PathBuf>,
    /// Directory listings for include patterns.
    listings: HashMap<PathBuf, Vec<OsString>>,
    /// Each include cycle met, as `a -> b -> a`.
    cycles: Vec<String>,
}

/// Reads `path` (normally `/etc/ld.so.conf`) inside `root`, following includes.
pub fn read(root: &Root, path: &Path) -> Result<ConfDirs> {
    let mut r = Reader {
        root,
        out: ConfDirs::default(),
        stack: Vec::new(),
        read: HashSet::new(),
        known: HashSet::new(),
        listings: HashMap::new(),
        cycles: Vec::new(),
    };
    r.file(path)?;
    if let Some(first) = r.cycles.first() {
        let more = match r.cycles.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        r.out.warnings.push(Error::Config {
            path: path.to_path_buf(),
            reason: format!("include cycle ({first}){more}; ignored"),
        });
    }
    Ok(r.out)
}

impl Reader<'_> {
    fn file(&mut self, path: &Path) -> Result<()> {
        let real = match self.root.resolve_file(path) {
            Ok(Some(real)) => real,
            Ok(None) => return Ok(()),
            Err(e) => {
                self.out.warnings.push(e);
                return Ok(());
            }
        };
        if self.stack.contains(&real) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&real))
                .map(|p| p.display().to_string())
                .collect();
            self.cycles.push(chain.join(" -> "));
            return Ok(());
        }
        if !self.read.insert(real.clone()) {
            return Ok(());
        }
        let Some(text) = self.root.read_to_string(&real)? else {
            return Ok(());
        };
        self.stack.push(real);
        for line in text.lines() {
            self.line(path, line)?;
        }
        self.stack.pop();
        Ok(())
    }

    /// One line of the file at `path`: a comment, an include, a `hwcap`
    /// line (ignored), or a directory (`dir` or `dir=type`).
    fn line(&mut self, path: &Path, line: &str) -> Result<()> {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("include") => {
                for pattern in words {
                    for file in self.expand_include(path, pattern)? {
                        self.file(&file)?;
                    }
                }
            }
            Some("hwcap") | None => {}
            Some(_) => {
                let dir = line.split('=').next().unwrap_or(line).trim_end();
                let dir = dir.trim_end_matches('/');
                let dir = PathBuf::from(if dir.is_empty() { "/" } else { dir });
                if self.known.insert(dir.clone()) {
                    self.out.dirs.push(dir);
                }
            }
        }
        Ok(())
    }

    /// The files an include pattern names; a relative one is relative to the
    /// including file's directory.
    fn expand_include(&mut self, from: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
        let full = if pattern.starts_with('/') {
            PathBuf::from(pattern)
        } else {
            from.parent().unwrap_or(Path::new("/")).join(pattern)
        };
        let (Some(dir), Some(name)) = (full.parent(), full.file_name()) else {
            return Ok(Vec::new());
        };
        let name = name.to_string_lossy();
        if !name.contains(['*', '?', '[']) {
            return Ok(vec![full.clone()]);
        }
        let glob = glob::Pattern::new(&name).map_err(|e| Error::Config {
            path: from.to_path_buf(),
            reason: format!("bad include pattern {pattern:?}: {e}"),
        })?;
        if !self.listings.contains_key(dir) {
            let names = self.root.list_dir(dir)?;
            self.listings.insert(dir.to_path_buf(), names);
        }
        let names = self.listings.get(dir).map(Vec::as_slice).unwrap_or(&[]);
        Ok(names
            .iter()
            .filter(|n| {
                let n = n.to_string_lossy();
                !n.starts_with('.') && glob.matches(&n)
            })
            .map(|n| dir.join(n))
            .collect())
    }
}

/// Why ld.so.conf's `dirs` go unsearched, in words: "lists /opt/x/lib, but
/// there is no /etc/ld.so.cache, so ld.so will not search it".
pub fn not_searched(dirs: &[String]) -> String {
    let them = if dirs.len() == 1 { "it" } else { "them" };
    format!(
        "lists {}, but there is no /etc/ld.so.cache, so ld.so will not search {them}",
        dirs.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn includes_comments_and_cycles() {
        let t = tempfile::tempdir().unwrap();
        let etc = t.path().join("etc");
        fs::create_dir_all(etc.join("ld.so.conf.d")).unwrap();
        fs::write(
            etc.join("ld.so.conf"),
            "# comment\n\n/opt/a/lib/ # trailing\ninclude ld.so.conf.d/*.conf\n/opt/z=libc6\n",
        )
        .unwrap();
        fs::write(
            etc.join("ld.so.conf.d/b.conf"),
            "/opt/b\ninclude /etc/ld.so.conf\n",
        )
        .unwrap();
        fs::write(etc.join("ld.so.conf.d/a.conf"), "\t/opt/a2\n").unwrap();
        fs::write(etc.join("ld.so.conf.d/c.txt"), "/opt/ignored\n").unwrap();
        let root = Root::open(t.path()).unwrap();
        let conf = read(&root, Path::new("/etc/ld.so.conf")).unwrap();
        let dirs: Vec<_> = conf.dirs.iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(dirs, ["/opt/a/lib", "/opt/a2", "/opt/b", "/opt/z"]);
        assert_eq!(conf.warnings.len(), 1);
        assert!(conf.warnings[0].to_string().contains("include cycle"));
    }

    #[test]
    fn includes_that_fan_out_read_each_file_once() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("etc/ld.so.conf.d");
        fs::create_dir_all(&d).unwrap();
        fs::write(
            t.path().join("etc/ld.so.conf"),
            "include ld.so.conf.d/*.conf\n",
        )
        .unwrap();
        for i in 0..6 {
            let text = format!("/opt/{i}\ninclude /etc/ld.so.conf.d/*.conf\n");
            fs::write(d.join(format!("{i}.conf")), text).unwrap();
        }
        let root = Root::open(t.path()).unwrap();
        let conf = read(&root, Path::new("/etc/ld.so.conf")).unwrap();
        let dirs: Vec<_> = conf.dirs.iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(
            dirs,
            ["/opt/0", "/opt/1", "/opt/2", "/opt/3", "/opt/4", "/opt/5"]
        );
        // 21 cycles (each file includes itself and every file above it): one warning.
        assert_eq!(conf.warnings.len(), 1);
        let warning = conf.warnings[0].to_string();
        assert!(warning.ends_with("and 20 more; ignored"), "{warning}");
    }
}
