//! The input of an SBOM ([`sbom::Inventory`]): the files with their
//! checksums, who owns them, what the programs need. [`inventory`] makes it
//! for a planned bundle or a slimmed image (ownership already decided by
//! `pkgmeta`).

use super::layout::ItemKind;
use crate::error::Result;
use crate::root::Root;
use crate::sbom;

/// The SBOM's input for a planned bundle: its regular files with their
/// checksums (read now, where the layout reads them: staged out of an
/// image's layers for `slim`), their packages and the inputs' dependencies.
pub fn inventory(bundle: &super::Bundle, name: &str, created: u64) -> Result<sbom::Inventory> {
    let own = &bundle.ownership;
    let host = Root::host();
    let mut files = Vec::new();
    for (path, item) in bundle.layout.items() {
        let contents;
        let data: &[u8] = match &item.kind {
            ItemKind::File(src) => {
                contents = host.contents(&bundle.layout.readable(src))?;
                &contents
            }
            ItemKind::Data(d) => d,
            _ => continue,
        };
        let (sha256, sha1) = checksums(data);
        files.push(sbom::File {
            path: path.to_string(),
            sha256,
            sha1,
            package: own.files.get(path).copied().flatten(),
        });
    }
    Ok(sbom::Inventory {
        name: name.to_string(),
        distro: own.distro.clone(),
        packages: own.packages.clone(),
        files,
        programs: own
            .programs
            .iter()
            .map(|(path, on)| sbom::Program {
                path: path.clone(),
                depends_on: on.clone(),
            })
            .collect(),
        created,
        tool_version: sbom::tool_version(),
    })
}

/// Fails when the SBOM could not be written at `path` (its directory is
/// missing): found out before the image is written, not after.
pub fn check_writable(path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(crate::error::Error::NotFound {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// The SBOM of the planned bundle, named after the output, as an artifact
/// (the bytes of the file `path`, and what an OCI layout stores beside the
/// image).
pub fn artifact(
    bundle: &super::Bundle,
    output: &crate::archive::Output,
    path: &std::path::Path,
    format: sbom::Format,
    created: u64,
) -> Result<crate::oci::Artifact> {
    let name = match output {
        crate::archive::Output::Stdout => "bundle".to_string(),
        o => o
            .as_path()
            .file_name()
            .map_or_else(|| o.to_string(), |n| n.to_string_lossy().into_owned()),
    };
    let inventory = inventory(bundle, &name, created)?;
    Ok(crate::oci::Artifact {
        artifact_type: format.media_type().to_string(),
        title: path
            .file_name()
            .map_or_else(|| "sbom.json".into(), |n| n.to_string_lossy().into_owned()),
        bytes: sbom::document(&inventory, format),
    })
}

/// SHA-256 and SHA-1 of some bytes, in hex.
fn checksums(data: &[u8]) -> (String, String) {
    use sha1::Digest as _;
    (
        sbom::hex(&sha2::Sha256::digest(data)),
        sbom::hex(&sha1::Sha1::digest(data)),
    )
}
