//! Alpine's apk database, `/lib/apk/db/installed`: one record per package,
//! records separated by blank lines, each line `K:value` with a one-letter
//! key (P name, V version, A arch, L license, o origin; F a directory, R a
//! file in the last F, Z the checksum of the last R).

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use super::deb822::blocks;
use super::{Checksum, Checksums, Kind, List, MAX_DATABASE, Package, Source, read_whole};
use crate::error::{Error, Result};
use crate::root::Root;

const INSTALLED: &str = "/lib/apk/db/installed";

/// The installed packages; empty when the root has no apk database.
pub(super) fn read(root: &Root, warnings: &mut Vec<Error>) -> Result<Vec<Package>> {
    let path = Path::new(INSTALLED);
    let Some(bytes) = read_whole(root, path, MAX_DATABASE, warnings)? else {
        return Ok(Vec::new());
    };
    let text = super::text(&bytes);
    let mut packages = Vec::new();
    for (line, record) in blocks(&text) {
        match package(record) {
            Ok(p) => packages.push(p),
            Err(why) => warnings.push(Error::Config {
                path: path.to_path_buf(),
                reason: format!("record at line {line}: {why}; skipped"),
            }),
        }
    }
    Ok(packages)
}

/// The value of key `name` in a record (the first, for repeated keys).
pub(super) fn field<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
}

/// What one record says, and the paths of its directories and files.
#[derive(Default)]
struct Record<'a> {
    name: &'a str,
    version: &'a str,
    arch: &'a str,
    license: Option<&'a str>,
    origin: Option<&'a str>,
    list: Vec<u8>,
    sums: Vec<(PathBuf, Checksum)>,
}

fn package(text: &str) -> std::result::Result<Package, String> {
    let mut r = Record::default();
    let mut dir = "";
    let mut last: Option<PathBuf> = None;
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':').filter(|(k, _)| k.len() == 1) else {
            return Err(format!("line {}: not a `K:value` line", i + 1));
        };
        match key {
            "P" => r.name = value,
            "V" => r.version = value,
            "A" => r.arch = value,
            "L" => r.license = Some(value),
            "o" => r.origin = Some(value),
            "F" => {
                dir = checked(value)?;
                push_line(&mut r.list, &["/", dir]);
            }
            "R" => {
                let file = checked(value)?;
                let path = match dir {
                    "" => format!("/{file}"),
                    d => format!("/{d}/{file}"),
                };
                push_line(&mut r.list, &[&path]);
                last = Some(PathBuf::from(path));
            }
            "Z" => {
                if let Some(file) = last.take() {
                    r.sums.push((file, Checksum::ApkQ1(value.to_string())));
                }
            }
            _ => {}
        }
    }
    if r.name.is_empty() || r.version.is_empty() {
        return Err("no P: (name) or V: (version)".into());
    }
    Ok(Package {
        name: r.name.to_string(),
        version: r.version.to_string(),
        arch: r.arch.to_string(),
        source: r.origin.map(|o| Source {
            name: o.to_string(),
            version: r.version.to_string(),
        }),
        kind: Kind::Apk,
        stanza: text.to_string(),
        list: List::built(r.list),
        checksums: Checksums::Inline(r.sums),
        license: OnceCell::from(r.license.map(str::to_string)),
        record: None,
        notices: Vec::new(),
    })
}

/// A directory or file name of the database: relative, no `..`.
fn checked(value: &str) -> std::result::Result<&str, String> {
    let value = value.trim_end_matches('/');
    if value.starts_with('/') || value.split('/').any(|c| c == "..") {
        return Err(format!("{value:?} is not a path inside the root"));
    }
    Ok(value)
}

fn push_line(list: &mut Vec<u8>, parts: &[&str]) {
    for p in parts {
        list.extend_from_slice(p.as_bytes());
    }
    list.push(b'\n');
}
