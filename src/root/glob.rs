//! Glob patterns expanded inside the root, one component at a time through
//! the same confined resolution as every other path: a symbolic link in
//! the root that points at a host directory lists the root's directory of
//! that name, never the host's.

use std::path::{Component, Path, PathBuf};

use glob::{MatchOptions, Pattern};

use super::{Lookup, Root};
use crate::error::{Error, Result};

/// The most paths one pattern may match (or stand for on the way): a
/// pattern such as `/*/*/*/*` over a large image is refused beyond it.
pub const MAX_MATCHES: usize = 100_000;

/// True when `s` holds a glob wildcard.
pub fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Root {
    /// The paths inside the root that `pattern` (absolute) matches, sorted;
    /// a pattern without wildcards is itself when it exists. As in a shell,
    /// `*` does not match a leading dot.
    pub fn glob(&self, pattern: &Path) -> Result<Vec<PathBuf>> {
        let bad = |reason: String| Error::Usage(format!("{}: {reason}", pattern.display()));
        let options = MatchOptions {
            require_literal_leading_dot: true,
            ..MatchOptions::new()
        };
        let mut found = vec![PathBuf::from("/")];
        for component in pattern.components() {
            let part = match component {
                Component::Normal(p) => p,
                Component::ParentDir => std::ffi::OsStr::new(".."),
                _ => continue,
            };
            let text = part.to_string_lossy();
            if !is_pattern(&text) {
                found.iter_mut().for_each(|f| f.push(part));
                continue;
            }
            let glob = Pattern::new(&text).map_err(|e| bad(format!("bad glob pattern: {e}")))?;
            let mut next = Vec::new();
            for dir in &found {
                for name in self.list_dir(dir)? {
                    if glob.matches_with(&name.to_string_lossy(), options) {
                        next.push(dir.join(name));
                    }
                }
                if next.len() > MAX_MATCHES {
                    return Err(bad(format!("matches more than {MAX_MATCHES} paths")));
                }
            }
            found = next;
        }
        let mut out = Vec::new();
        for f in found {
            if self.lookup(&f)? != Lookup::Absent {
                out.push(f);
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn globs_stay_inside_the_root_through_links() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir_all(d.join("opt/a")).unwrap();
        fs::create_dir_all(d.join("etc/x.d")).unwrap();
        fs::write(d.join("opt/a/one.so"), "").unwrap();
        fs::write(d.join("opt/a/.hidden.so"), "").unwrap();
        fs::write(d.join("etc/x.d/in-root.conf"), "").unwrap();
        // A link to the host's /etc: it must list the root's /etc.
        std::os::unix::fs::symlink("/etc", d.join("opt/etc")).unwrap();
        let root = Root::open(d).unwrap();
        let g = |p: &str| root.glob(Path::new(p)).unwrap();
        assert_eq!(g("/opt/*/*.so"), [PathBuf::from("/opt/a/one.so")]);
        assert_eq!(g("/opt/etc/*"), [PathBuf::from("/opt/etc/x.d")]);
        assert_eq!(
            g("/opt/etc/*/*.conf"),
            [PathBuf::from("/opt/etc/x.d/in-root.conf")]
        );
        assert_eq!(g("/opt/a/one.so"), [PathBuf::from("/opt/a/one.so")]);
        assert!(g("/opt/a/none").is_empty());
        assert!(g("/nothing/*").is_empty());
    }
}
