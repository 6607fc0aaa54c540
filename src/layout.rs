//! A bundle's file tree as it is being planned (by `bundle`, and by
//! `discover` for the run-time files it finds): each path once, with what
//! it is, where it comes from and why it is there.
//!
//! Paths are added the way the loader reaches them: every symbolic link met
//! on the way (`/lib64 -> usr/lib64`, `libz.so.1 -> libz.so.1.2.13`) becomes a
//! link in the bundle too, and the file lands at its canonical path, so the
//! layer lays cleanly over a base image of the same distribution.
//!
//! Files and directories copied from the root keep their numeric owners
//! (`/var/lib/nginx` stays www-data's) unless `--chown` names one for all of
//! them; what elfroot makes itself (generated files, links, `/tmp`) is 0:0.

mod setid;
mod stage;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::{Entry, EntryKind};
use crate::error::{Error, Result};
use crate::root::{Root, TreeKind};

/// What one path of the bundle is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    /// A file copied from the host path.
    File(PathBuf),
    /// A generated file.
    Data(Vec<u8>),
    /// A symbolic link with this target, as written.
    Symlink(String),
    /// A directory.
    Dir,
}

/// A numeric owner and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Owner {
    /// 0:0, the owner of everything elfroot makes.
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };

    /// Reads `UID:GID` (numbers only: the bundle's user database may not
    /// have the names the host has).
    pub fn parse(s: &str) -> std::result::Result<Owner, String> {
        let bad = || format!("{s:?}: expected UID:GID, two numbers");
        let (uid, gid) = s.split_once(':').ok_or_else(bad)?;
        Ok(Owner {
            uid: uid.parse().map_err(|_| bad())?,
            gid: gid.parse().map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// One path of the bundle and why it is there.
#[derive(Debug, Clone)]
pub struct Item {
    /// What is there.
    pub kind: ItemKind,
    /// Permission bits.
    pub mode: u32,
    /// Its numeric owner.
    pub owner: Owner,
    /// Why it is there (the manifest says it).
    pub reason: String,
}

/// The manifest line for one path (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct ManifestEntry {
    /// The absolute path in the bundle.
    pub path: String,
    /// `file`, `generated`, `symlink` or `dir`.
    pub kind: &'static str,
    /// For a file: the host file copied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For a symbolic link: its target, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Permission bits in octal (`"0755"`).
    pub mode: String,
    /// `UID:GID`, when not 0:0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Why it is there.
    pub reason: String,
    /// For a regular file: the package that owns it (`name` or
    /// `name:arch`), when the root has a package database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// The planned tree.
#[derive(Debug, Default)]
pub struct Layout {
    items: BTreeMap<String, Item>,
    /// Canonical directories added whole (a link back into one adds nothing).
    trees: BTreeSet<PathBuf>,
    /// The owner of everything copied from the root (`--chown`), instead of its own.
    chown: Option<Owner>,
    /// Source -> host file with its contents, for a root of layers (`stage`).
    staged: std::collections::HashMap<PathBuf, PathBuf>,
}

impl Layout {
    /// An empty layout; with `chown`, everything copied from the root is
    /// owned by it instead of by its owner in the root.
    pub fn new(chown: Option<Owner>) -> Layout {
        Layout {
            chown,
            ..Layout::default()
        }
    }

    /// The owner in the bundle of something owned by `uid:gid` in the root.
    fn copied(&self, uid: u32, gid: u32) -> Owner {
        self.chown.unwrap_or(Owner { uid, gid })
    }

    fn insert(
        &mut self,
        path: &str,
        kind: ItemKind,
        (mode, owner): (u32, Owner),
        reason: &str,
    ) -> Result<()> {
        let path = normalise(path);
        if path == "/" {
            return Ok(());
        }
        if let Some(old) = self.items.get(&path) {
            if old.kind == kind || (old.kind == ItemKind::Dir && kind == ItemKind::Dir) {
                return Ok(());
            }
            let same_file =
                matches!((&old.kind, &kind), (ItemKind::File(a), ItemKind::File(b)) if a == b);
            if same_file {
                return Ok(());
            }
            return Err(Error::Usage(format!(
                "{path}: two different things would go at this path in the bundle ({} and {})",
                old.reason, reason
            )));
        }
        self.items.insert(
            path,
            Item {
                kind,
                mode,
                owner,
                reason: reason.to_string(),
            },
        );
        Ok(())
    }

    /// Adds a generated file (owned by 0:0).
    pub fn add_data(&mut self, path: &str, data: Vec<u8>, mode: u32, reason: &str) -> Result<()> {
        self.insert(path, ItemKind::Data(data), (mode, Owner::ROOT), reason)
    }

    /// Adds a directory elfroot makes (owned by 0:0).
    pub fn add_dir(&mut self, path: &str, mode: u32, reason: &str) -> Result<()> {
        self.insert(path, ItemKind::Dir, (mode, Owner::ROOT), reason)
    }

    /// True when something is already planned at `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.items.contains_key(&normalise(path))
    }

    /// Adds what is at `path` inside the root, with every link on the way.
    /// Returns the canonical path, or None when nothing is there.
    pub fn add_path(&mut self, root: &Root, path: &str, reason: &str) -> Result<Option<PathBuf>> {
        let Some(trace) = root.trace(Path::new(path))? else {
            return Ok(None);
        };
        for (link, target) in &trace.links {
            self.insert(
                utf8(link)?,
                ItemKind::Symlink(utf8(target)?.to_string()),
                (0o777, Owner::ROOT),
                reason,
            )?;
        }
        let real = utf8(&trace.real)?.to_string();
        let meta = (trace.mode, self.copied(trace.uid, trace.gid));
        if trace.is_file {
            let host = root.host_path(&trace.real);
            self.insert(&real, ItemKind::File(host), meta, reason)?;
        } else if trace.is_dir {
            self.insert(&real, ItemKind::Dir, meta, reason)?;
        }
        Ok(Some(trace.real))
    }

    /// Adds the file at canonical path `real` at another path `dest`.
    pub fn add_file_at(
        &mut self,
        root: &Root,
        real: &Path,
        dest: &str,
        reason: &str,
    ) -> Result<()> {
        let trace = root.trace(real)?.ok_or_else(|| Error::NotFound {
            path: real.to_path_buf(),
        })?;
        let host = root.host_path(&trace.real);
        let meta = (trace.mode, self.copied(trace.uid, trace.gid));
        self.insert(dest, ItemKind::File(host), meta, reason)
    }

    /// Adds the directory tree at `src` (a path inside the root) at `dest`
    /// (default: its own path). Links inside stay links, and what they point
    /// to is brought along: a file, or a directory with all it holds. Returns
    /// the canonical paths of the regular files.
    pub fn add_tree(
        &mut self,
        root: &Root,
        src: &str,
        dest: Option<&str>,
        reason: &str,
    ) -> Result<Vec<PathBuf>> {
        self.add_tree_following(root, src, dest, reason, &|_| true)
    }

    /// [`Layout::add_tree`], following a link inside only when `follow`
    /// accepts where it leads (canonical path); the link itself stays.
    pub fn add_tree_following(
        &mut self,
        root: &Root,
        src: &str,
        dest: Option<&str>,
        reason: &str,
        follow: &dyn Fn(&Path) -> bool,
    ) -> Result<Vec<PathBuf>> {
        let Some(top) = self.add_path(root, src, reason)? else {
            return Err(Error::NotFound {
                path: PathBuf::from(src),
            });
        };
        let dest = match dest {
            Some(d) => normalise(d),
            None => utf8(&top)?.to_string(),
        };
        if dest == utf8(&top)? {
            self.trees.insert(top.clone());
        }
        let mut files = Vec::new();
        let mut links = Vec::new();
        for e in root.walk_tree(&top)? {
            let rel = e.path.strip_prefix(&top).unwrap_or(&e.path);
            let at = if rel.as_os_str().is_empty() {
                dest.clone()
            } else {
                format!("{}/{}", dest.trim_end_matches('/'), utf8(rel)?)
            };
            let meta = (e.mode, self.copied(e.uid, e.gid));
            match e.kind {
                TreeKind::File => {
                    self.insert(&at, ItemKind::File(root.host_path(&e.path)), meta, reason)?;
                    files.push(e.path);
                }
                TreeKind::Dir => self.insert(&at, ItemKind::Dir, meta, reason)?,
                TreeKind::Symlink(target) => {
                    let target = utf8(&target)?.to_string();
                    let link = (0o777, Owner::ROOT);
                    self.insert(&at, ItemKind::Symlink(target), link, reason)?;
                    links.push(e.path);
                }
                TreeKind::Other => {}
            }
        }
        for link in links {
            let shown = utf8(&link)?.to_string();
            let leads_to = match root.lookup(&link)? {
                crate::root::Lookup::File(p) | crate::root::Lookup::Dir(p) => p,
                _ => continue,
            };
            if !follow(&leads_to) {
                continue;
            }
            let why = format!("target of {shown}");
            let Some(real) = self.add_path(root, &shown, &why)? else {
                continue;
            };
            match root.lookup(&real)? {
                crate::root::Lookup::File(_) => files.push(real),
                crate::root::Lookup::Dir(_) if !self.within_tree(&real) => {
                    let more = self.add_tree_following(root, utf8(&real)?, None, &why, follow)?;
                    files.extend(more);
                }
                _ => {}
            }
        }
        Ok(files)
    }

    /// Adds everything planned in `other` (run-time files found apart),
    /// keeping what is already here at the same path. What `other` copied
    /// from the root takes this layout's `--chown`.
    pub fn merge(&mut self, other: Layout) -> Result<()> {
        for (path, item) in other.items {
            let owner = match item.kind {
                ItemKind::File(_) | ItemKind::Dir => self.copied(item.owner.uid, item.owner.gid),
                _ => item.owner,
            };
            self.insert(&path, item.kind, (item.mode, owner), &item.reason)?;
        }
        self.trees.extend(other.trees);
        Ok(())
    }

    /// True when `dir` is (in) a directory already added whole.
    fn within_tree(&self, dir: &Path) -> bool {
        dir.ancestors().any(|a| self.trees.contains(a))
    }

    /// Every planned path and what is there, in path order.
    pub fn items(&self) -> impl Iterator<Item = (&str, &Item)> {
        self.items.iter().map(|(p, i)| (p.as_str(), i))
    }

    /// The writer's entries.
    pub fn entries(&self) -> Vec<Entry> {
        self.items
            .iter()
            .map(|(path, item)| {
                let kind = match &item.kind {
                    ItemKind::File(src) => EntryKind::File {
                        source: self.readable(src),
                    },
                    ItemKind::Data(d) => EntryKind::Data(d.clone()),
                    ItemKind::Symlink(t) => EntryKind::Symlink { target: t.clone() },
                    ItemKind::Dir => EntryKind::Dir,
                };
                Entry::new(path.clone(), kind, item.mode).owned(item.owner.uid, item.owner.gid)
            })
            .collect()
    }

    /// The planned tree, on top of `base` layers, as a root that can be
    /// analysed before it is written.
    pub fn as_root(&self, base: &[PathBuf]) -> Result<crate::root::Root> {
        use crate::root::layers::Virtual;
        let items = self
            .items
            .iter()
            .map(|(path, item)| {
                let v = match &item.kind {
                    ItemKind::File(host) => Virtual::File {
                        mode: item.mode,
                        host: self.readable(host),
                    },
                    ItemKind::Data(d) => Virtual::Data {
                        mode: item.mode,
                        bytes: d.clone(),
                    },
                    ItemKind::Symlink(t) => Virtual::Symlink(PathBuf::from(t)),
                    ItemKind::Dir => Virtual::Dir { mode: item.mode },
                };
                (PathBuf::from(path), v)
            })
            .collect();
        crate::root::Root::from_virtual("<bundle>", base, items)
    }

    /// Every host file copied into the bundle, sorted (for `--depfile`).
    pub fn sources(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .items
            .values()
            .filter_map(|i| match &i.kind {
                ItemKind::File(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The manifest, in path order.
    pub fn manifest(&self) -> Vec<ManifestEntry> {
        self.items
            .iter()
            .map(|(path, item)| {
                let (kind, source, target) = match &item.kind {
                    ItemKind::File(src) => ("file", Some(src.display().to_string()), None),
                    ItemKind::Data(_) => ("generated", None, None),
                    ItemKind::Symlink(t) => ("symlink", None, Some(t.clone())),
                    ItemKind::Dir => ("dir", None, None),
                };
                ManifestEntry {
                    path: path.clone(),
                    kind,
                    source,
                    target,
                    mode: format!("{:04o}", item.mode),
                    owner: (item.owner != Owner::ROOT).then(|| item.owner.to_string()),
                    reason: item.reason.clone(),
                    package: None,
                }
            })
            .collect()
    }
}

/// A path as the bundle names it: bundles hold UTF-8 names only.
pub(crate) fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| Error::Unsupported {
        path: path.to_path_buf(),
        reason: "the name is not valid UTF-8, which a bundle cannot hold".into(),
    })
}

/// `/a//b/./c/../d/` -> `/a/b/d` (textually, as for a path built from `$ORIGIN/..`).
fn normalise(p: &str) -> String {
    if crate::archive::is_normal(p) {
        return p.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for s in p.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}
