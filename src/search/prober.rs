//! Trying paths the way a loader opens them: one file (a relative path from
//! the process's current directory), or one directory with its hwcaps
//! subdirectories first; each attempt is recorded as a [`Tried`], and what a
//! file is decides whether the search goes on ([`Step`]).

use std::path::PathBuf;

use super::{Candidate, Hwcaps, Outcome, SearchResult, Tried, TryResult, Via};
use crate::elf::ElfFile;
use crate::files::{Files, Probe};
use crate::root::Lookup;

/// What to do after trying one path.
pub(crate) enum Step {
    Found(Candidate),
    Next,
    Stop { path: String, reason: String },
}

/// The search state shared by the steps of one lookup.
pub(crate) struct Prober<'a> {
    pub files: &'a Files,
    /// The process's current directory, which relative paths start from.
    pub cwd: &'a str,
    /// The program being loaded: candidates must match its class, byte order and machine.
    pub want: &'a ElfFile,
    pub tried: Vec<Tried>,
}

impl<'a> Prober<'a> {
    pub fn new(files: &'a Files, cwd: &'a str, want: &'a ElfFile) -> Self {
        Prober {
            files,
            cwd,
            want,
            tried: Vec::new(),
        }
    }

    /// The directory a relative `path` is resolved against; None for an absolute one.
    fn relative_to(&self, path: &str) -> Option<String> {
        (!path.starts_with('/')).then(|| self.cwd.to_string())
    }

    /// Where `path` is in the root: as it is, or for a relative path, under the cwd.
    fn place(&self, path: &str) -> PathBuf {
        if path.starts_with('/') {
            PathBuf::from(path)
        } else {
            PathBuf::from(join(self.cwd, path))
        }
    }

    /// Tries one path; `record` says whether an absent file goes into the list.
    pub fn file(&mut self, path: &str, via: Via, record: bool) -> Step {
        let lookup = match self.files.root().lookup(&self.place(path)) {
            Ok(l) => l,
            Err(e) => {
                self.note(
                    path,
                    via,
                    TryResult::Unreadable {
                        reason: e.to_string(),
                    },
                );
                return Step::Next;
            }
        };
        let real = match lookup {
            Lookup::File(real) => real,
            Lookup::Absent => {
                if record {
                    self.note(path, via, TryResult::Absent);
                }
                return Step::Next;
            }
            Lookup::Dir(_) | Lookup::Other(_) => {
                self.note(path, via, TryResult::NotAFile);
                return Step::Next;
            }
        };
        match self.files.probe(&real) {
            Probe::Elf(elf) if elf.compatible_with(self.want) => Step::Found(Candidate {
                path: path.to_string(),
                real,
                elf,
                via,
                hwcaps: None,
                relative_to: self.relative_to(path),
            }),
            Probe::Elf(elf) => {
                self.note(
                    path,
                    via,
                    TryResult::WrongArch {
                        found: elf.describe(),
                    },
                );
                Step::Next
            }
            Probe::NotElf => self.stop(path, via, TryResult::NotElf),
            Probe::Malformed(reason) => self.stop(path, via, TryResult::Malformed { reason }),
            Probe::Unreadable(reason) => {
                self.note(path, via, TryResult::Unreadable { reason });
                Step::Next
            }
        }
    }

    /// Tries `dir/sub/name` for each hwcaps `sub` (best first), then `dir/name`.
    pub fn dir(&mut self, dir: &str, name: &str, subdirs: &[String], via: Via) -> Step {
        let root = self.files.root();
        for sub in subdirs.iter().filter(|s| !s.is_empty()) {
            let subdir = join(dir, sub);
            if !matches!(root.resolve_dir(&self.place(&subdir)), Ok(Some(_))) {
                continue;
            }
            match self.file(&join(&subdir, name), via, false) {
                Step::Found(mut c) => {
                    let base = join(dir, name);
                    let baseline = matches!(root.resolve_file(&self.place(&base)), Ok(Some(_)))
                        .then_some(base);
                    c.hwcaps = Some(Hwcaps {
                        subdir: sub.clone(),
                        baseline,
                    });
                    return Step::Found(c);
                }
                Step::Next => {}
                stop => return stop,
            }
        }
        if !matches!(root.resolve_dir(&self.place(dir)), Ok(Some(_))) {
            self.note(&join(dir, name), via, TryResult::Absent);
            return Step::Next;
        }
        self.file(&join(dir, name), via, true)
    }

    pub fn note(&mut self, path: &str, via: Via, result: TryResult) {
        self.tried.push(Tried {
            path: path.to_string(),
            via,
            relative_to: self.relative_to(path),
            result,
        });
    }

    fn stop(&mut self, path: &str, via: Via, result: TryResult) -> Step {
        let reason = result.describe();
        self.note(path, via, result);
        Step::Stop {
            path: path.to_string(),
            reason,
        }
    }

    /// Turns the last step into a result carrying everything tried.
    pub fn finish(self, step: Option<Step>) -> SearchResult {
        let outcome = match step {
            Some(Step::Found(c)) => Outcome::Found(c),
            Some(Step::Stop { path, reason }) => Outcome::Invalid { path, reason },
            Some(Step::Next) | None => Outcome::NotFound,
        };
        SearchResult {
            outcome,
            tried: self.tried,
        }
    }
}

/// `dir/name`, without doubling a slash; an empty `dir` (glibc's current
/// directory) leaves `name` as it is, as ld.so's string concatenation does.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        return dir.to_string();
    }
    if dir.is_empty() {
        return name.to_string();
    }
    // By hand rather than with format!: this runs for every directory a
    // search tries, and formatting costs several times the copy.
    let mut out = String::with_capacity(dir.len() + 1 + name.len());
    out.push_str(dir);
    if !dir.ends_with('/') {
        out.push('/');
    }
    out.push_str(name);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_directory_leaves_the_name_as_it_is() {
        assert_eq!(join("", "libf.so"), "libf.so");
        assert_eq!(join("lib", "libf.so"), "lib/libf.so");
        assert_eq!(join("/", "libf.so"), "/libf.so");
        assert_eq!(join("/srv", ""), "/srv");
    }
}
