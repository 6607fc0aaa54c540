//! `/etc/ld.so.conf` and its `include` files, read the way ldconfig reads them.
//!
//! Only used when a root has no ld.so.cache: the directories stand in for
//! the cache that `ldconfig` would have built from them.

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

/// Reads `path` (normally `/etc/ld.so.conf`) inside `root`, following includes.
pub fn read(root: &Root, path: &Path) -> Result<ConfDirs> {
    let mut out = ConfDirs::default();
    let mut stack = Vec::new();
    read_file(root, path, &mut stack, &mut out)?;
    Ok(out)
}

fn read_file(root: &Root, path: &Path, stack: &mut Vec<PathBuf>, out: &mut ConfDirs) -> Result<()> {
    let real = match root.resolve_file(path) {
        Ok(Some(real)) => real,
        Ok(None) => return Ok(()),
        Err(e) => {
            out.warnings.push(e);
            return Ok(());
        }
    };
    if stack.contains(&real) {
        let chain: Vec<String> = stack
            .iter()
            .chain(std::iter::once(&real))
            .map(|p| p.display().to_string())
            .collect();
        out.warnings.push(Error::Config {
            path: path.to_path_buf(),
            reason: format!("include cycle ({}); ignored", chain.join(" -> ")),
        });
        return Ok(());
    }
    let Some(text) = root.read_to_string(&real)? else {
        return Ok(());
    };
    stack.push(real.clone());
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("include") => {
                for pattern in words {
                    for file in expand_include(root, path, pattern)? {
                        read_file(root, &file, stack, out)?;
                    }
                }
            }
            Some("hwcap") => {}
            Some(_) => {
                let dir = line.split('=').next().unwrap_or(line).trim_end();
                let dir = dir.trim_end_matches('/');
                let dir = if dir.is_empty() { "/" } else { dir };
                let dir = PathBuf::from(dir);
                if !out.dirs.contains(&dir) {
                    out.dirs.push(dir);
                }
            }
            None => {}
        }
    }
    stack.pop();
    Ok(())
}

/// Expands an include pattern; a relative one is relative to the including file's directory.
fn expand_include(root: &Root, from: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
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
    Ok(root
        .list_dir(dir)?
        .into_iter()
        .filter(|n| {
            let n = n.to_string_lossy();
            !n.starts_with('.') && glob.matches(&n)
        })
        .map(|n| dir.join(n))
        .collect())
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
}
