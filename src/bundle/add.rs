//! `--add SRC[:DEST]`: files, directories and globs of the root added as
//! they are; ELF files among them bring their closures.

use std::path::{Path, PathBuf};

use super::planner::Planner;
use crate::error::{Error, Result};
use crate::root::Lookup;

/// `--add SRC[:DEST]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddSpec {
    /// A path or glob inside the root.
    pub src: String,
    /// Where it goes in the bundle (default: the same path).
    pub dest: Option<String>,
}

impl AddSpec {
    /// Parses `SRC[:DEST]`.
    pub fn parse(s: &str) -> AddSpec {
        match s.split_once(':') {
            Some((src, dest)) if !dest.is_empty() => AddSpec {
                src: src.to_string(),
                dest: Some(dest.to_string()),
            },
            _ => AddSpec {
                src: s.trim_end_matches(':').to_string(),
                dest: None,
            },
        }
    }
}

impl Planner<'_> {
    pub(super) fn add(&mut self, spec: &AddSpec) -> Result<()> {
        let matches = self.glob(&spec.src)?;
        if matches.is_empty() {
            return Err(Error::NotFound {
                path: PathBuf::from(&spec.src),
            });
        }
        // With a glob, DEST is a directory, as for `cp PATTERN DEST/`.
        let many = matches.len() > 1 || spec.src.contains(['*', '?', '[']);
        for m in matches {
            let shown = m.to_string_lossy().into_owned();
            let dest = spec.dest.as_ref().map(|d| {
                if many {
                    let name = m
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    format!("{}/{name}", d.trim_end_matches('/'))
                } else {
                    d.clone()
                }
            });
            let reason = format!("added ({})", spec.src);
            match self.root().lookup(&m)? {
                Lookup::Dir(_) => self.tree(&shown, dest.as_deref(), &reason)?,
                Lookup::File(real) => {
                    match &dest {
                        Some(d) => self.layout.add_file_at(self.root(), &real, d, &reason)?,
                        None => {
                            self.layout.add_path(self.root(), &shown, &reason)?;
                        }
                    }
                    self.elf_closure(&real)?;
                }
                _ => {
                    return Err(Error::NotFound { path: m });
                }
            }
        }
        Ok(())
    }

    /// Expands a glob pattern inside the root; a plain path is itself.
    pub(super) fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>> {
        if !pattern.contains(['*', '?', '[']) {
            return Ok(vec![PathBuf::from(pattern)]);
        }
        let root = self.root();
        let host_pattern = root.host_path(Path::new(pattern));
        let paths = glob::glob(&host_pattern.to_string_lossy())
            .map_err(|e| Error::Usage(format!("{pattern}: bad glob pattern: {e}")))?;
        let mut out: Vec<PathBuf> = paths
            .filter_map(|p| p.ok())
            .filter_map(|p| root.inner_path(&p))
            .collect();
        out.sort();
        Ok(out)
    }
}
