//! What discovery leaves out unless asked: a directory it would take whole
//! (named, or widened to) whose files add up to more than a cap, any
//! set-user-ID or set-group-ID file, and hardware helpers (`devices`). Each is reported ([`LeftOut`]; the
//! bundle warns), so that `--add` can bring it.
//!
//! The cap keeps plain programs from growing by their helper suites (git's
//! /usr/lib/git-core is 22 MiB beside a 7 MiB closure) while plugin and
//! data directories come in: the largest a real program of the tests needs
//! is php's extension directory (9 MiB), then ImageMagick's coders (3.7
//! MiB). Language runtimes are not capped: their standard libraries (the
//! `runtimes` rules), and what an object of a runtime names (libruby's
//! library directories, php's extensions).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Discovery;
use crate::root::TreeEntry;

/// The default cap on a directory discovery takes whole, in bytes.
pub const DEFAULT_MAX_TREE_BYTES: u64 = 16 << 20;

/// Something discovery found and did not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    /// Its path in the root.
    pub path: String,
    /// Why discovery found it (`path named in /usr/bin/git`).
    pub reason: String,
    /// Why it was left out.
    pub why: Why,
}

/// Why a [`LeftOut`] was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Why {
    /// A directory whose files add up to `bytes`, over the `cap`.
    TooLarge {
        /// What its files add up to.
        bytes: u64,
        /// The cap in force.
        cap: u64,
    },
    /// A file that runs with its owner's or group's rights.
    SetId {
        /// Its permission bits.
        mode: u32,
        /// Its owner.
        uid: u32,
        /// Its group.
        gid: u32,
    },
    /// A program or library whose closure needs `library`, which reaches
    /// devices (`reaches`) that the inputs' closures do not: a container
    /// has them only when given them.
    Device {
        /// The device library's file name (`libfido2.so.1`).
        library: String,
        /// What it reaches (`FIDO security keys`).
        reaches: &'static str,
    },
}

impl std::fmt::Display for LeftOut {
    /// The warning: what was left out, why, and how to bring it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (path, reason) = (&self.path, &self.reason);
        match &self.why {
            Why::TooLarge { bytes, cap } => write!(
                f,
                "{path} ({reason}) holds {}, over the discovery cap of {}: left out; --add it, or raise --discover-max",
                crate::outcome::size(*bytes),
                crate::outcome::size(*cap)
            ),
            Why::SetId { mode, uid, gid } => {
                let what = match mode & 0o4000 {
                    0 => format!("set-group-ID (group {gid})"),
                    _ if *uid == 0 => "set-user-ID root".to_string(),
                    _ => format!("set-user-ID (owner {uid})"),
                };
                write!(
                    f,
                    "{path} ({reason}) is {what}: left out (discovery never takes such a file); --add it to bundle it"
                )
            }
            Why::Device { library, reaches } => write!(
                f,
                "{path} ({reason}) needs {library}, for {reaches}, which a container reaches only when given the device: left out; --add it to bundle it"
            ),
        }
    }
}

impl Discovery<'_> {
    /// The cap on the directories the object at `shown` (real path `real`)
    /// names: none for a language runtime's.
    pub(super) fn cap_for(&self, shown: &str, real: &Path) -> Option<u64> {
        let runtime = super::relevance::is_runtime(shown)
            || super::relevance::is_runtime(&real.to_string_lossy());
        self.max_tree.filter(|_| !runtime)
    }

    /// Records `path`, found for `reason`, as left out for `why`.
    pub(super) fn leave_out(&mut self, path: String, reason: String, why: Why) {
        self.out.left_out.push(LeftOut { path, reason, why });
    }

    /// True when `path` was left out already.
    pub(super) fn left_out(&self, path: &str) -> bool {
        self.out.left_out.iter().any(|l| l.path == path)
    }

    /// True (and recorded) when the files of the tree `entries` at `path`
    /// add up to more than `cap`.
    pub(super) fn over_cap(
        &mut self,
        path: &str,
        reason: &str,
        entries: &[TreeEntry],
        cap: Option<u64>,
    ) -> bool {
        let Some(cap) = cap else {
            return false;
        };
        let bytes = self.root().files_size(entries);
        if bytes <= cap {
            return false;
        }
        self.leave_out(path.into(), reason.into(), Why::TooLarge { bytes, cap });
        true
    }

    /// Takes the set-user-ID and set-group-ID files out of what is planned,
    /// recording each; returns their canonical paths.
    pub(super) fn drop_set_id(&mut self) -> HashSet<PathBuf> {
        let mut dropped = HashSet::new();
        for (path, item) in self.out.layout.take_set_id() {
            dropped.insert(PathBuf::from(&path));
            let why = Why::SetId {
                mode: item.mode,
                uid: item.owner.uid,
                gid: item.owner.gid,
            };
            self.leave_out(path, item.reason, why);
        }
        dropped
    }
}
