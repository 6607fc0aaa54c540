//! Which manifest of an image layout is meant: by tag in `index.json`, then
//! by platform, through a nested image index (what a multi-platform image
//! is) or among same-tagged manifests that each name their platform.
//!
//! Without a platform, the host's is preferred and an only manifest is
//! taken whatever its platform (analysing a foreign image is ordinary); a
//! platform that was asked for must be there, and the error lists those
//! that are.

use std::path::Path;

use serde_json::Value;

use super::platform::Platform;
use super::spec::{CONTAINERD_NAME, Descriptor, REF_NAME};
use super::store::Store;
use crate::error::{Error, Result};

/// What `index.json` offers under a tag: one manifest, or several for
/// different platforms (a nested index's entries, or same-tagged ones).
pub(super) enum Candidates {
    /// One manifest (its platform is in its config).
    One(Descriptor),
    /// Manifests that name their platform.
    Platforms(Vec<Descriptor>),
}

/// The manifest (or platform manifests) `tag` names in index.json, and the
/// name the index gives the image (containerd's name annotation, else the tag).
pub(super) fn candidates(
    store: &Store,
    path: &Path,
    tag: Option<&str>,
) -> Result<(Candidates, Option<String>)> {
    let usage = |reason: String| Error::Usage(format!("{}: {reason}", path.display()));
    let index = store.read_json("index.json")?;
    let manifests =
        descriptors(&index, "manifests").map_err(|reason| store.bad("index.json", &reason))?;
    let tagged = by_tag(&manifests, tag).map_err(usage)?;
    let name = tagged.first().and_then(|d| {
        d.annotations
            .get(CONTAINERD_NAME)
            .or_else(|| d.annotations.get(REF_NAME))
            .cloned()
    });
    let chosen = match tagged.as_slice() {
        many @ [_, _, ..] if many.iter().all(|d| d.platform.is_some()) => {
            return Ok((Candidates::Platforms(many.to_vec()), name));
        }
        // One manifest, or the same tag given twice: the first, as skopeo takes it.
        [first, ..] => first.clone(),
        [] => return Err(usage("the layout holds no image".into())),
    };
    if !chosen.is_index() {
        return Ok((Candidates::One(chosen), name));
    }
    let digest = store.digest_of(&chosen, "index.json")?;
    let nested = store.read_json_blob(&chosen, &digest, "image index")?;
    let list = descriptors(&nested, "manifests")
        .map_err(|reason| store.bad(&digest.blob_path(), &reason))?;
    let candidates = match list.as_slice() {
        [one] => Candidates::One(one.clone()),
        [] => return Err(store.bad(&digest.blob_path(), "the image index lists no manifest")),
        _ => Candidates::Platforms(list),
    };
    Ok((candidates, name))
}

/// The manifest for `platform` (None: the host's, or the only one).
pub(super) fn choose(
    candidates: Candidates,
    path: &Path,
    platform: Option<&Platform>,
) -> Result<Descriptor> {
    match candidates {
        Candidates::One(d) => Ok(d),
        Candidates::Platforms(list) => choose_platform(&list, platform)
            .map_err(|reason| Error::Usage(format!("{}: {reason}", path.display()))),
    }
}

/// The descriptors in `doc[key]` (an index's manifests, a manifest's layers).
pub(super) fn descriptors(doc: &Value, key: &str) -> std::result::Result<Vec<Descriptor>, String> {
    let list = doc.get(key).ok_or_else(|| format!("no \"{key}\" list"))?;
    serde_json::from_value(list.clone()).map_err(|e| format!("bad \"{key}\" list: {e}"))
}

/// The manifests tagged `tag`; without a tag, the only image, or the
/// manifests of one multi-platform image that each say their platform.
fn by_tag(
    manifests: &[Descriptor],
    tag: Option<&str>,
) -> std::result::Result<Vec<Descriptor>, String> {
    let names = || {
        let mut names: Vec<String> = manifests
            .iter()
            .map(|d| match d.ref_name() {
                Some(t) => t.to_string(),
                None => format!("untagged {}", d.digest),
            })
            .collect();
        names.dedup();
        names.join(", ")
    };
    if let Some(tag) = tag {
        let found: Vec<Descriptor> = manifests
            .iter()
            .filter(|d| d.ref_name() == Some(tag))
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(match manifests.len() {
                0 => format!("no image tagged '{tag}' (the layout holds no image)"),
                _ => format!("no image tagged '{tag}' (tags: {})", names()),
            });
        }
        return Ok(found);
    }
    let one_image = manifests
        .iter()
        .all(|d| d.ref_name() == manifests[0].ref_name() && d.platform.is_some());
    match manifests {
        [] => Err("the layout holds no image".into()),
        [_] => Ok(manifests.to_vec()),
        _ if one_image => Ok(manifests.to_vec()),
        _ => Err(format!(
            "holds {} images; name one with :TAG (tags: {})",
            manifests.len(),
            names()
        )),
    }
}

/// The platform manifest for `want`, or for the host without one.
fn choose_platform(
    list: &[Descriptor],
    want: Option<&Platform>,
) -> std::result::Result<Descriptor, String> {
    let host = Platform::host();
    let target = want.unwrap_or(&host);
    let named = |d: &&Descriptor| d.platform.as_ref().is_some_and(|p| target.matches(p));
    if let Some(d) = list.iter().find(named) {
        return Ok(d.clone());
    }
    let available = platform_names(list).join(", ");
    Err(match want {
        Some(p) => format!(
            "the image has no manifest for {} (it has {available})",
            p.display()
        ),
        None => format!(
            "the image index has no manifest for this machine, {} (it has {available}); \
             choose one with --platform",
            host.display()
        ),
    })
}

/// The platforms of a list of platform manifests, as `os/arch[/variant]`.
pub(super) fn platform_names(list: &[Descriptor]) -> Vec<String> {
    list.iter()
        .map(|d| {
            d.platform
                .as_ref()
                .and_then(Platform::from_json)
                .map_or_else(|| format!("unnamed {}", d.digest), |p| p.display())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::digest::Digest;
    use super::super::spec::MEDIA_MANIFEST;
    use super::*;

    fn desc(tag: Option<&str>, digest: &str) -> Descriptor {
        let mut d = Descriptor::new(MEDIA_MANIFEST, &Digest::parse(digest).unwrap(), 1);
        if let Some(t) = tag {
            d.annotations.insert(REF_NAME.into(), t.into());
        }
        d
    }

    #[test]
    fn tags_choose_and_errors_list_them() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let list = [desc(Some("one"), &a), desc(None, &b)];
        assert_eq!(by_tag(&list, Some("one")).unwrap()[0].digest, a);
        let err = by_tag(&list, None).unwrap_err();
        assert!(err.contains("one, untagged sha256:bbbb"), "{err}");
        let err = by_tag(&list, Some("two")).unwrap_err();
        assert!(err.contains("'two'") && err.contains("tags: one"), "{err}");
        assert_eq!(by_tag(&list[..1], None).unwrap()[0].digest, a);
    }

    #[test]
    fn platforms_choose_and_errors_list_them() {
        let mut amd = desc(Some("t"), &format!("sha256:{}", "a".repeat(64)));
        amd.platform = Some(serde_json::json!({"os": "linux", "architecture": "amd64"}));
        let mut arm = desc(Some("t"), &format!("sha256:{}", "b".repeat(64)));
        arm.platform =
            Some(serde_json::json!({"os": "linux", "architecture": "arm64", "variant": "v8"}));
        let list = [amd.clone(), arm.clone()];
        // Same-tagged manifests with platforms are one image.
        assert_eq!(by_tag(&list, None).unwrap().len(), 2);
        let arm64 = Platform::parse("linux/arm64").unwrap();
        assert_eq!(choose_platform(&list, Some(&arm64)).unwrap(), arm);
        let riscv = Platform::parse("linux/riscv64").unwrap();
        let err = choose_platform(&list, Some(&riscv)).unwrap_err();
        assert!(
            err.contains("no manifest for linux/riscv64")
                && err.contains("linux/amd64, linux/arm64/v8"),
            "{err}"
        );
        if Platform::host().architecture == "amd64" {
            assert_eq!(choose_platform(&list, None).unwrap(), amd);
        }
    }
}
