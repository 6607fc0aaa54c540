//! Writing a built image as a docker-archive, the legacy form `docker load`
//! and `podman load` have always taken: `manifest.json` (Config, RepoTags,
//! Layers), the config as `<digest>.json`, each layer as
//! `<digest>/layer.tar`, and `repositories`. One image, one RepoTag.
//!
//! The RepoTag is `--tag` when it is `NAME:TAG`; a bare TAG (or none, which
//! is `latest`) gets the bundled program's file name as NAME, since an
//! image loaded without a name is hard to find again.

use std::path::Path;

use serde_json::{Value, json};

use super::spec::to_json;
use super::write::{Built, DEFAULT_TAG, ImageOptions, Written};
use crate::archive::{self, Entry, Format, WriteOptions};
use crate::error::{Error, Result};

/// One image of a `manifest.json`.
pub(super) fn docker_manifest_entry(config: &str, repo_tags: &[&str], layers: &[String]) -> Value {
    json!({"Config": config, "RepoTags": repo_tags, "Layers": layers})
}

/// Writes `built` as a docker-archive tar file at `out` ("-": standard output).
pub(super) fn write(built: &Built, out: &Path, opts: &ImageOptions) -> Result<Written> {
    let repo_tag = repo_tag(opts.tag.as_deref(), &opts.program)?;
    let (config, config_digest) = built.config_blob();
    let config_name = format!("{}.json", config_digest.hex());
    let mut files = vec![Entry::data(format!("/{config_name}"), config, 0o644)];
    let mut layer_names = Vec::new();
    for (digest, path) in built.layer_blobs()? {
        let name = format!("{}/layer.tar", digest.hex());
        let entry = format!("/{name}");
        if !files.iter().any(|e| e.path == entry) {
            files.push(Entry::file(entry, path, 0o644));
        }
        layer_names.push(name);
    }
    let manifest = json!([docker_manifest_entry(
        &config_name,
        &[repo_tag.as_str()],
        &layer_names
    )]);
    files.push(Entry::data("/manifest.json", to_json(&manifest), 0o644));
    // Docker's older loader reads `repositories`: NAME -> TAG -> top layer.
    if let (Some((name, tag)), Some(top)) = (split_tag(&repo_tag), layer_names.last()) {
        let top = top.trim_end_matches("/layer.tar");
        let repositories = json!({ name: { tag: top } });
        files.push(Entry::data("/repositories", to_json(&repositories), 0o644));
    }
    archive::write(
        &files,
        out,
        &WriteOptions {
            format: Format::Tar,
            mtime: opts.mtime,
            force: opts.force,
        },
    )?;
    Ok(built.written())
}

/// NAME and TAG of `NAME:TAG` (the colon after the last slash: a registry
/// port is part of NAME).
fn split_tag(reference: &str) -> Option<(&str, &str)> {
    let (name, tag) = reference.rsplit_once(':')?;
    (!tag.contains('/')).then_some((name, tag))
}

/// The RepoTag for `tag` (`NAME:TAG`, a bare TAG, or none) and the program
/// bundled (its file name is the NAME when `tag` has none), as Docker's
/// reference grammar allows it.
fn repo_tag(tag: Option<&str>, program: &str) -> Result<String> {
    let given = tag.unwrap_or(DEFAULT_TAG);
    let (name, tag) = match split_tag(given) {
        Some((name, tag)) => (name.to_string(), tag),
        None => (name_from(program), given),
    };
    let plain = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    };
    // A registry host may have a :PORT; nothing else a colon.
    let name_ok = name
        .split('/')
        .enumerate()
        .all(|(n, part)| match part.split_once(':') {
            Some((host, port)) if n == 0 && name.contains('/') => {
                plain(host) && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
            }
            Some(_) => false,
            None => plain(part),
        });
    let tag_ok = tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if name_ok && tag_ok {
        Ok(format!("{name}:{tag}"))
    } else {
        Err(Error::Usage(format!(
            "tag {given:?}: a docker-archive's tag is NAME:TAG (NAME lowercase letters, digits, \
             . _ - and /; TAG letters, digits, _ . -) or a bare TAG"
        )))
    }
}

/// An image name from a program's path: its file name in lowercase, other
/// characters as `-` (`/usr/bin/X11` gives `x11`).
fn name_from(program: &str) -> String {
    let file = program.rsplit('/').next().unwrap_or(program);
    let name: String = file
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if name.is_empty() {
        "elfroot".into()
    } else {
        name.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags() {
        assert_eq!(repo_tag(None, "/usr/bin/ls").unwrap(), "ls:latest");
        assert_eq!(repo_tag(Some("v1"), "/usr/bin/Py_3").unwrap(), "py_3:v1");
        assert_eq!(repo_tag(Some("my/app:1.0"), "/x").unwrap(), "my/app:1.0");
        assert_eq!(
            repo_tag(Some("localhost:5000/app:2"), "/x").unwrap(),
            "localhost:5000/app:2"
        );
        assert_eq!(repo_tag(None, "/+++").unwrap(), "elfroot:latest");
        for bad in ["App:1", "a:-x", "a::b", "a b:1"] {
            assert!(repo_tag(Some(bad), "/x").is_err(), "{bad}");
        }
    }
}
