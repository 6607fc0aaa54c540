//! The records of the packages a bundle ships, cut to the files it ships:
//! dpkg's stanza (its `Conffiles`) and md5sums, apk's installed record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::Result;
use crate::packages::{Checksum, Package};
use crate::root::{Lookup, Root};
use crate::sbom;

/// The files of one package that are shipped: canonical path in the root
/// -> path in the bundle, and their file names (a listed path whose name is
/// not among them is not looked up).
pub(super) struct Shipped {
    by_real: FxHashMap<PathBuf, String>,
    names: FxHashSet<std::ffi::OsString>,
}

impl Shipped {
    pub(super) fn new(by_real: FxHashMap<PathBuf, String>) -> Shipped {
        let names = by_real
            .keys()
            .filter_map(|r| r.file_name().map(|n| n.to_os_string()))
            .collect();
        Shipped { by_real, names }
    }

    /// The shipped file a path as a database lists it leads to.
    fn find(&self, root: &Root, listed: &Path) -> Option<&PathBuf> {
        if !listed.file_name().is_some_and(|n| self.names.contains(n)) {
            return None;
        }
        // Spelt as the root spells it: no need to look it up.
        if let Some((real, _)) = self.by_real.get_key_value(listed) {
            return Some(real);
        }
        match root.lookup(listed) {
            Ok(Lookup::File(real)) => self.by_real.get_key_value(&real).map(|(k, _)| k),
            _ => None,
        }
    }
}

/// The package's stanza, its `Conffiles` cut to the files shipped.
pub(super) fn dpkg_stanza(root: &Root, p: &Package, shipped: &Shipped) -> String {
    let mut out = String::new();
    let mut in_conffiles = false;
    for line in p.stanza.lines() {
        if line.starts_with([' ', '\t']) {
            if in_conffiles {
                let path = line.split_whitespace().next().unwrap_or("");
                if shipped.find(root, Path::new(path)).is_none() {
                    continue;
                }
            }
        } else {
            in_conffiles = line.starts_with("Conffiles:");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `HEX  path` for each file of `p` shipped: the database's checksum where
/// it has one, else the shipped file's own; sorted by path.
pub(super) fn md5sums(root: &Root, p: &Package, shipped: &Shipped) -> Result<String> {
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    let mut covered: FxHashSet<&PathBuf> = FxHashSet::default();
    for (listed, sum) in p.checksums(root)? {
        let Checksum::Md5(hex) = sum else { continue };
        if let Some(real) = shipped.find(root, &listed) {
            covered.insert(real);
            let rel = listed.to_string_lossy().trim_start_matches('/').to_string();
            lines.insert(rel, hex);
        }
    }
    for (real, path) in shipped.by_real.iter().filter(|(r, _)| !covered.contains(r)) {
        let bytes = root.contents(real)?;
        let hex = sbom::hex(&<md5::Md5 as md5::Digest>::digest(&bytes[..]));
        lines.insert(path.trim_start_matches('/').to_string(), hex);
    }
    let text = lines
        .iter()
        .flat_map(|(path, hex)| [hex.as_str(), "  ", path, "\n"]);
    Ok(text.collect())
}

/// The package's apk record, listing only the files shipped (with their
/// checksum and permission lines) and the directories that hold them.
pub(super) fn apk_record(root: &Root, p: &Package, shipped: &Shipped) -> String {
    let mut head = String::new();
    let mut dirs: Vec<(String, Vec<String>)> = Vec::new();
    let mut keep_file = false;
    for line in p.stanza.lines() {
        let key = line.split_once(':').map_or("", |(k, _)| k);
        match (key, dirs.last_mut()) {
            ("F", _) => dirs.push((format!("{line}\n"), Vec::new())),
            ("M", Some((dir, files))) if files.is_empty() => {
                dir.push_str(line);
                dir.push('\n');
            }
            ("R", Some((dir, files))) => {
                let d = dir.lines().next().unwrap_or("F:").trim_start_matches("F:");
                let path = format!("/{d}/{}", &line[2..]);
                keep_file = shipped.find(root, Path::new(&path)).is_some();
                if keep_file {
                    files.push(format!("{line}\n"));
                }
            }
            ("a" | "Z", Some((_, files))) => {
                if keep_file && let Some(last) = files.last_mut() {
                    last.push_str(line);
                    last.push('\n');
                }
            }
            (_, None) => {
                head.push_str(line);
                head.push('\n');
            }
            _ => {}
        }
    }
    for (dir, files) in dirs.into_iter().filter(|(_, f)| !f.is_empty()) {
        head.push_str(&dir);
        head.extend(files);
    }
    head
}
