//! `--profile PROFILE`: the paths `elfroot trace` recorded, added through
//! the root like everything else. Files and links come in with the links on
//! their way (ELF files with their closures), directories are created (with
//! only what the profile names inside them), and a path the root no longer
//! has is a warning naming it. What elfroot writes itself (/etc/passwd,
//! /etc/group, nsswitch.conf, /tmp, the loader cache for what the bundle
//! holds) stays: the profile's copies of those are not taken.

use std::path::Path;

use super::planner::Planner;
use crate::error::Result;
use crate::trace::{Kind, Profile};

impl Planner<'_> {
    /// Adds what the profile at `file` (a host file) records; returns the warnings.
    pub(super) fn profile(&mut self, file: &Path) -> Result<Vec<String>> {
        let text = super::read_host_text(file)?;
        let profile = Profile::parse(&text, file)?;
        let reason = format!("profile {}", file.display());
        let mut warnings = Vec::new();
        for (path, kind) in &profile.entries {
            let Some(shown) = path.to_str() else {
                warnings.push(format!(
                    "{}: {} is not UTF-8 and cannot go in a bundle",
                    file.display(),
                    path.display()
                ));
                continue;
            };
            if self.layout.contains(shown) || shown == "/etc/ld.so.cache" {
                continue;
            }
            match self.layout.add_path(self.root(), shown, &reason)? {
                None => warnings.push(format!(
                    "{shown}: recorded in {} ({}) but missing from the root",
                    file.display(),
                    kind.word()
                )),
                Some(real) if *kind != Kind::Dir => self.elf_closure(&real)?,
                Some(_) => {}
            }
        }
        Ok(warnings)
    }
}
