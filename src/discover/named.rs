//! The relevance rule applied to the paths an object names (see the module
//! above): which come in, widened to what their source package ships
//! around them, and which bring only the directory a program works in.

use std::path::Path;

use super::relevance::{Naming, Owners, denied};
use super::{Discovery, Rule};
use crate::error::Result;
use crate::root::Lookup;

/// Where the time zone database is: an object naming a file under it
/// reads time zones by name.
const TZ_NAMES: &str = "/usr/share/zoneinfo/";

/// The install prefix of an object, against which it resolves the
/// prefix-relative paths it names: /usr for /usr/bin/git and for
/// /usr/lib/x86_64-linux-gnu/libaspell.so.15 (its real path).
fn prefix_of(real: &Path) -> Option<String> {
    let mut dir = real.parent()?;
    if dir.file_name()?.to_str()?.ends_with("-linux-gnu") {
        dir = dir.parent()?;
    }
    let name = dir.file_name()?.to_str()?;
    matches!(name, "bin" | "sbin" | "lib" | "lib64")
        .then(|| dir.parent().map(|p| p.to_string_lossy().into_owned()))
        .flatten()
}

impl Discovery<'_> {
    /// Of the paths the object at `real` names ([`Discovery::literals`]),
    /// the relevant ones, found.
    pub(super) fn named_paths(
        &mut self,
        shown: &str,
        real: &Path,
        literals: Vec<String>,
    ) -> Result<()> {
        // The source packages of the naming object, read on first need.
        let mut named_by: Option<Option<Naming>> = None;
        for path in literals {
            if self.has(&path) {
                continue;
            }
            if path.starts_with(TZ_NAMES) {
                self.time_zones(shown)?;
            }
            if denied(&path) {
                self.state_dir(&path)?;
                continue;
            }
            let found = match self.root().lookup(Path::new(&path))? {
                Lookup::File(p) | Lookup::Dir(p) => p,
                Lookup::Absent => {
                    // Made at run time (nginx's /var/lib/nginx/body): its
                    // directory must be there.
                    self.state_dir(&path)?;
                    continue;
                }
                Lookup::Other(_) => continue,
            };
            if denied(&found.to_string_lossy()) {
                continue;
            }
            let ours = named_by
                .get_or_insert_with(|| self.db().map(|db| Naming::of(db, self.root(), real)))
                .clone();
            if let Some(ours) = &ours {
                let theirs = self.owners(Path::new(&path), ours);
                if !theirs.related(ours) {
                    // A directory no package ships, that the program works in
                    // (nginx's /var/lib/nginx/body): there, empty, its owner kept.
                    if theirs.all.is_empty() {
                        self.working_dir(&path, &found, ours, shown)?;
                    }
                    continue;
                }
            }
            let reason = format!("path named in {shown}");
            let cap = self.cap_for(shown, real);
            let widened = match &ours {
                Some(ours) if !ours.sources.is_empty() => self.widest(&path, ours),
                _ => path.clone(),
            };
            if self.has(&widened) {
                continue;
            }
            // A widened directory over the cap leaves the path as named.
            let path = match self.found(&widened, &reason, cap)? {
                false if widened != path && !self.has(&path) => {
                    self.found(&path, &reason, cap)?;
                    path
                }
                _ => widened,
            };
            // libmagic and others read the compiled form beside a named file.
            let compiled = format!("{path}.mgc");
            if !self.has(&compiled)
                && matches!(self.root().lookup(Path::new(&compiled))?, Lookup::File(_))
            {
                self.found(&compiled, &reason, cap)?;
            }
        }
        Ok(())
    }

    /// The time zone database, for an object that names a file in it (php's
    /// `/usr/share/zoneinfo/zone.tab`): it reads time zones by name.
    fn time_zones(&mut self, shown: &str) -> Result<()> {
        let dir = TZ_NAMES.trim_end_matches('/');
        if self.has(dir) || !matches!(self.root().lookup(Path::new(dir))?, Lookup::Dir(_)) {
            return Ok(());
        }
        let reason = format!("time zones named in {shown}");
        self.found(dir, &reason, self.max_tree)?;
        Ok(())
    }

    /// The paths the object at `real` names: the absolute ones, and the
    /// prefix-relative ones that exist under its prefix.
    pub(super) fn literals(&self, real: &Path) -> Result<Vec<String>> {
        let crate::files::Probe::Elf(elf) = self.analyzer.files().probe(real) else {
            return Ok(Vec::new());
        };
        let bytes = self.root().contents(real)?;
        let named = elf.all_path_literals(&bytes);
        drop(bytes);
        let mut literals = named.absolute;
        if let Some(prefix) = prefix_of(real) {
            for rel in named.relative {
                // Only what is there: a relative name that is not is
                // rarely a path at all (a source file in an assertion).
                let path = format!("{}/{rel}", prefix.trim_end_matches('/'));
                if self.root().lookup(Path::new(&path))? != Lookup::Absent {
                    literals.push(path);
                }
            }
        }
        Ok(literals)
    }

    /// Who owns what is at `path`, against `ours` (no one without a database).
    fn owners(&self, path: &Path, ours: &Naming) -> Owners {
        self.db()
            .map(|db| Owners::of(db, self.root(), path, ours))
            .unwrap_or_default()
    }

    /// A path no package ships that the program works in: a directory
    /// (nginx's /var/lib/nginx/body) comes in empty, its owner kept; for a
    /// file (a log), the directory it is in, when a package of the same
    /// source ships that (/var/log/nginx).
    fn working_dir(&mut self, path: &str, found: &Path, ours: &Naming, shown: &str) -> Result<()> {
        let reason = format!("working directory named in {shown}");
        if self.root().lookup(found)? == Lookup::Dir(found.to_path_buf()) {
            self.single(path, Rule::WorkDir, &reason)?;
        } else if let Some(parent) = Path::new(path).parent()
            && !denied(&parent.to_string_lossy())
            && self.owners(parent, ours).related(ours)
        {
            self.single(&parent.to_string_lossy(), Rule::WorkDir, &reason)?;
        }
        Ok(())
    }

    /// A path the program makes or keeps its run-time state in
    /// (`/run/nginx.pid`, `/var/lib/nginx/body`): not taken, but the
    /// directory it goes in must exist, empty (with its owner), as it does
    /// in the root, when that is a state directory or one a name could bring.
    fn state_dir(&mut self, path: &str) -> Result<()> {
        const STATE: &[&str] = &["/run/", "/var/run/", "/var/lock/"];
        let Some(parent) = Path::new(path).parent() else {
            return Ok(());
        };
        let text = parent.to_string_lossy().into_owned();
        if self.has(&text) || (!STATE.iter().any(|d| path.starts_with(d)) && denied(&text)) {
            return Ok(());
        }
        if let Lookup::Dir(_) = self.root().lookup(parent)? {
            self.single(&text, Rule::WorkDir, &format!("directory of {path}"))?;
        }
        Ok(())
    }

    /// The widest directory around `path` that only packages of the same
    /// source (`ours`) own: a library names `.../10.00.0/Resource/Init`
    /// and reads `.../10.00.0/iccprofiles` beside it (Ghostscript), or names
    /// its coder directory and reads its config directory beside it.
    fn widest(&self, path: &str, ours: &Naming) -> String {
        let mut best = path.to_string();
        for up in Path::new(path).ancestors().skip(1) {
            let text = up.to_string_lossy();
            if denied(&text) {
                break;
            }
            if !self.owners(up, ours).only(ours) {
                break;
            }
            best = text.into_owned();
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_above_bin_sbin_or_lib() {
        let p = |s: &str| prefix_of(Path::new(s));
        assert_eq!(p("/usr/bin/git").as_deref(), Some("/usr"));
        assert_eq!(p("/usr/local/sbin/x").as_deref(), Some("/usr/local"));
        assert_eq!(
            p("/usr/lib/x86_64-linux-gnu/libaspell.so.15.3.1").as_deref(),
            Some("/usr")
        );
        assert_eq!(p("/opt/app/lib64/libx.so").as_deref(), Some("/opt/app"));
        assert_eq!(p("/bin/ls").as_deref(), Some("/"));
        assert_eq!(p("/usr/lib/git-core/git-remote-http"), None);
        assert_eq!(p("/opt/app/app"), None);
    }
}
