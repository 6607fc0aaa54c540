//! dpkg's database: `/var/lib/dpkg/status` and the file lists in
//! `/var/lib/dpkg/info`, distroless's `/var/lib/dpkg/status.d`, md5sums
//! files, and the licenses of machine-readable copyright files.

use std::cell::OnceCell;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashSet;

use super::deb822::{self, Stanza};
use super::{
    Checksum, Checksums, Kind, List, MAX_COPYRIGHT, MAX_DATABASE, MAX_LIST, MAX_LISTS_TOTAL,
    Package, Source, read_capped, read_whole, too_large,
};
use crate::error::{Error, Result};
use crate::root::Root;

const STATUS: &str = "/var/lib/dpkg/status";
const INFO: &str = "/var/lib/dpkg/info";
const STATUS_D: &str = "/var/lib/dpkg/status.d";

/// The installed packages of dpkg's status file, with their file lists,
/// then those of distroless's status.d that the status file lacks.
pub(super) fn read(root: &Root, warnings: &mut Vec<Error>) -> Result<Vec<Package>> {
    let mut packages = Vec::new();
    if let Some(text) = read_whole(root, Path::new(STATUS), MAX_DATABASE, warnings)? {
        let text = super::text(&text);
        packages = parse(&text, Path::new(STATUS), true, warnings);
        attach_lists(root, &mut packages, warnings)?;
    }
    let more = read_status_d(root, &packages, warnings)?;
    packages.extend(more);
    Ok(packages)
}

/// The installed packages among the stanzas of `text` (read from `path`).
/// `need_status`: a stanza without a Status field is malformed (the status
/// file) rather than installed (status.d).
fn parse(text: &str, path: &Path, need_status: bool, warnings: &mut Vec<Error>) -> Vec<Package> {
    let mut packages = Vec::new();
    for stanza in deb822::stanzas(text) {
        let parsed = stanza.and_then(|s| {
            package(&s, need_status).map_err(|why| format!("stanza at line {}: {why}", s.line))
        });
        match parsed {
            Ok(Some(p)) => packages.push(p),
            Ok(None) => {}
            Err(why) => warnings.push(Error::Config {
                path: path.to_path_buf(),
                reason: format!("{why}; skipped"),
            }),
        }
    }
    packages
}

/// The package a stanza describes; None when it is not installed.
fn package(s: &Stanza, need_status: bool) -> std::result::Result<Option<Package>, String> {
    match s.first_line("Status") {
        Some(status) if !installed(status) => return Ok(None),
        None if need_status => return Err("no Status field".into()),
        _ => {}
    }
    let name = s.first_line("Package").unwrap_or("");
    if name.is_empty() || name.contains(['/', ':']) || name.starts_with('.') {
        return Err(format!("{name:?} is not a package name"));
    }
    let version = s
        .first_line("Version")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name}: no Version field"))?;
    Ok(Some(Package {
        name: name.to_string(),
        version: version.to_string(),
        arch: s.first_line("Architecture").unwrap_or("").to_string(),
        source: s.first_line("Source").map(|f| source(f, version)),
        kind: Kind::Dpkg,
        stanza: s.text.to_string(),
        list: List::built(Vec::new()),
        checksums: Checksums::None,
        license: OnceCell::new(),
        record: None,
        notices: Vec::new(),
    }))
}

/// `Status: WANT ok installed`: held and to-be-removed packages are still
/// installed; `half-installed`, `config-files` and the like are not.
fn installed(status: &str) -> bool {
    matches!(
        status.split_whitespace().collect::<Vec<_>>()[..],
        [_, "ok", "installed"]
    )
}

/// `Source: name (version)`, or `Source: name` (built from the same version).
fn source(field: &str, version: &str) -> Source {
    match field.split_once('(') {
        Some((name, rest)) => Source {
            name: name.trim().to_string(),
            version: rest.trim_end().trim_end_matches(')').trim().to_string(),
        },
        None => Source {
            name: field.trim().to_string(),
            version: version.to_string(),
        },
    }
}

/// Reads each package's `info/NAME[:ARCH].list` and notes its md5sums file.
fn attach_lists(root: &Root, packages: &mut [Package], warnings: &mut Vec<Error>) -> Result<()> {
    let names: FxHashSet<OsString> = root.list_dir(Path::new(INFO))?.into_iter().collect();
    let has = |key: &str, ext: &str| names.contains(&OsString::from(format!("{key}.{ext}")));
    let mut budget = MAX_LISTS_TOTAL;
    for p in packages.iter_mut() {
        let qualified = p.qualified_name();
        let key = [qualified.as_str(), p.name.as_str()]
            .into_iter()
            .find(|k| has(k, "list") || has(k, "md5sums"));
        let Some(key) = key else { continue };
        if has(key, "md5sums") {
            p.checksums = Checksums::File(Path::new(INFO).join(format!("{key}.md5sums")));
        }
        if !has(key, "list") {
            continue;
        }
        let path = Path::new(INFO).join(format!("{key}.list"));
        let cap = MAX_LIST.min(budget);
        match read_capped(root, &path, cap) {
            Ok(Some(c)) if c.whole => {
                budget -= c.bytes.len();
                p.list = List(c.bytes);
            }
            Ok(Some(_)) => warnings.push(too_large(&path, cap)),
            Ok(None) => {}
            Err(e) => warnings.push(e),
        }
    }
    Ok(())
}

/// Distroless's layout: one stanza a file in status.d, the file list from
/// the `.md5sums` beside it. Packages already `known` are left out.
fn read_status_d(
    root: &Root,
    known: &[Package],
    warnings: &mut Vec<Error>,
) -> Result<Vec<Package>> {
    let names = root.list_dir(Path::new(STATUS_D))?;
    let mut packages = Vec::new();
    for name in &names {
        let name = name.to_string_lossy();
        if name.ends_with(".md5sums") {
            continue;
        }
        let path = Path::new(STATUS_D).join(&*name);
        let Some(text) = read_whole(root, &path, MAX_LIST, warnings)? else {
            continue;
        };
        let sums = Path::new(STATUS_D).join(format!("{name}.md5sums"));
        for mut p in parse(&super::text(&text), &path, false, warnings) {
            let seen = |q: &Package| q.name == p.name && q.arch == p.arch;
            if known.iter().chain(&packages).any(seen) {
                continue;
            }
            let sums = match md5sums(root, &sums) {
                Ok(s) => s,
                Err(e) => {
                    warnings.push(e);
                    Vec::new()
                }
            };
            p.list = List::built(
                sums.iter()
                    .flat_map(|(f, _)| [f.as_os_str().as_encoded_bytes(), b"\n"])
                    .flatten()
                    .copied()
                    .collect(),
            );
            p.checksums = Checksums::Inline(sums);
            packages.push(p);
        }
    }
    Ok(packages)
}

/// The lines of an md5sums file (`HEX  relative/path`), paths made
/// absolute; lines that are not such are ignored. Empty when there is none.
pub(super) fn md5sums(root: &Root, path: &Path) -> Result<Vec<(PathBuf, Checksum)>> {
    let Some(c) = read_capped(root, path, MAX_LIST)? else {
        return Ok(Vec::new());
    };
    if !c.whole {
        return Err(too_large(path, MAX_LIST));
    }
    let mut sums = Vec::new();
    for line in c.bytes.split(|&b| b == b'\n') {
        let Some(space) = line.iter().position(|&b| b == b' ') else {
            continue;
        };
        let (hex, rest) = line.split_at(space);
        let file = rest.trim_ascii_start();
        if hex.len() != 32 || !hex.iter().all(u8::is_ascii_hexdigit) || file.is_empty() {
            continue;
        }
        let file = file.strip_prefix(b"/").unwrap_or(file);
        let mut abs = b"/".to_vec();
        abs.extend_from_slice(file);
        sums.push((
            PathBuf::from(OsString::from_vec(abs)),
            Checksum::Md5(String::from_utf8_lossy(hex).into_owned()),
        ));
    }
    Ok(sums)
}

/// The licenses of `/usr/share/doc/NAME/copyright`, when machine-readable.
pub(super) fn copyright_license(root: &Root, name: &str) -> Result<Option<String>> {
    let path = Path::new("/usr/share/doc").join(name).join("copyright");
    Ok(read_capped(root, &path, MAX_COPYRIGHT)?
        .and_then(|c| licenses(&super::text(&c.bytes[..c.bytes.len().min(MAX_COPYRIGHT)]))))
}

/// The `License:` short names of a copyright-format 1.0 file, once each,
/// joined with `AND` (compound ones in parentheses); None for a free-form
/// file or one that names none.
fn licenses(text: &str) -> Option<String> {
    let stanzas: Vec<Stanza> = deb822::stanzas(text).into_iter().flatten().collect();
    let format = stanzas.first()?.first_line("Format")?;
    if !format.contains("copyright-format/1.0") {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    for s in &stanzas {
        let Some(l) = s.first_line("License") else {
            continue;
        };
        let l = l.split_whitespace().collect::<Vec<_>>().join(" ");
        if !l.is_empty() && !names.contains(&l) {
            names.push(l);
        }
    }
    match names.len() {
        0 => None,
        1 => names.pop(),
        _ => Some(
            names
                .iter()
                .map(|n| match n.contains(' ') {
                    true => format!("({n})"),
                    false => n.clone(),
                })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}
