//! `--add SRC[:DEST]`: files, directories and globs of the root added as
//! they are; ELF files among them bring their closures.

use std::path::Path;

use super::planner::Planner;
use crate::error::{Error, Result};
use crate::root::{Lookup, is_pattern};

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
    /// Adds what `spec` names. SRC is a path or glob inside the root (a
    /// relative one is taken from the working directory, or `/` in another
    /// root); DEST is an absolute path in the bundle, and a directory when
    /// it ends in `/` or SRC is a glob, as for `cp SRC DEST/`.
    pub(super) fn add(&mut self, spec: &AddSpec) -> Result<()> {
        let pattern = self.root().absolute(Path::new(&spec.src));
        let matches = self.root().glob(&pattern)?;
        if matches.is_empty() {
            return Err(Error::NotFound { path: pattern });
        }
        if let Some(d) = &spec.dest
            && !d.starts_with('/')
        {
            return Err(Error::Usage(format!(
                "{d}: a destination in the bundle must be an absolute path"
            )));
        }
        let into_dir = matches.len() > 1
            || is_pattern(&spec.src)
            || spec.dest.as_deref().is_some_and(|d| d.ends_with('/'));
        let reason = format!("added ({})", spec.src);
        for m in matches {
            let shown = super::layout::utf8(&m)?.to_string();
            let dest = match &spec.dest {
                Some(d) if into_dir => {
                    let name = m.file_name().map(|n| n.to_string_lossy().into_owned());
                    let Some(name) = name else {
                        return Err(Error::Usage(format!("{shown}: has no name to put in {d}")));
                    };
                    Some(format!("{}/{name}", d.trim_end_matches('/')))
                }
                other => other.clone(),
            };
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
                Lookup::Other(_) => {
                    return Err(Error::Unsupported {
                        path: m,
                        reason: "not a regular file or directory".into(),
                    });
                }
                Lookup::Absent => return Err(Error::NotFound { path: m }),
            }
        }
        Ok(())
    }
}
