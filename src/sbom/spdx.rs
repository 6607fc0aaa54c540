//! The SPDX 2.3 JSON document: the bundle as a package that CONTAINS the
//! owning packages (each with its purl, declared license, and its shipped
//! files, checksummed, as `hasFiles`) and the files no package owns; each
//! program DEPENDS_ON the packages of its libraries.
//!
//! SPDX ids are derived from names and paths (with a short hash, as names
//! may hold characters an id cannot); the namespace from the contents.

use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};

use super::license::{self, Expression};
use super::{Inventory, content_hash, hex, purl, sanitise, short_hash};

const BUNDLE_ID: &str = "SPDXRef-Bundle";
const NOASSERTION: &str = "NOASSERTION";

/// The document as a JSON value.
pub(super) fn document(inv: &Inventory) -> Value {
    let package_ids: Vec<String> = inv
        .packages
        .iter()
        .map(|p| {
            let key = format!("{}:{}", p.name, p.arch);
            format!("SPDXRef-Package-{}-{}", sanitise(&p.name), short_hash(&key))
        })
        .collect();
    let mut refs: Vec<(String, String)> = Vec::new();
    // The files no package owns are the bundle's own.
    let unowned: Vec<&super::File> = inv.files.iter().filter(|f| f.package.is_none()).collect();
    let mut bundle = json!({
        "SPDXID": BUNDLE_ID,
        "name": inv.name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": !unowned.is_empty(),
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "CONTAINER",
        "hasFiles": unowned.iter().map(|f| file_id(&f.path)).collect::<Vec<_>>(),
    });
    if !unowned.is_empty() {
        bundle["packageVerificationCode"] =
            json!({"packageVerificationCodeValue": verification_code(&unowned)});
    }
    let mut packages = vec![bundle];
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", BUNDLE_ID)];
    for (i, id) in package_ids.iter().enumerate() {
        packages.push(package(inv, i, id, &mut refs));
        relationships.push(relationship(BUNDLE_ID, "CONTAINS", id));
    }
    for prog in &inv.programs {
        for &d in &prog.depends_on {
            relationships.push(relationship(
                &file_id(&prog.path),
                "DEPENDS_ON",
                &package_ids[d],
            ));
        }
    }
    let files: Vec<Value> = inv.files.iter().map(file).collect();
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": inv.name,
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/elfroot/{}-{}",
            sanitise(&inv.name),
            content_hash(inv)
        ),
        "creationInfo": {
            "created": crate::oci::spec::rfc3339(inv.created),
            "creators": [format!("Tool: elfroot-{}", inv.tool_version)],
        },
        "packages": packages,
        "files": files,
        "relationships": relationships,
    });
    if !refs.is_empty() {
        doc["hasExtractedLicensingInfos"] = refs
            .iter()
            .map(|(id, name)| {
                json!({
                    "licenseId": id,
                    "name": name,
                    "extractedText": format!("The license the package's copyright file calls {name:?}."),
                })
            })
            .collect();
    }
    doc
}

fn file_id(path: &str) -> String {
    format!("SPDXRef-File-{}", short_hash(path))
}

/// The SPDX package of `inv.packages[i]` (id `id`), its shipped files
/// listed; the license references its declared license makes are added to `refs`.
fn package(inv: &Inventory, i: usize, id: &str, refs: &mut Vec<(String, String)>) -> Value {
    let p = &inv.packages[i];
    let files: Vec<&super::File> = inv.files.iter().filter(|f| f.package == Some(i)).collect();
    let declared = p.license.as_deref().map(license::expression);
    if let Some(e) = &declared {
        for r in &e.refs {
            if !refs.iter().any(|(id, _)| id == &r.0) {
                refs.push(r.clone());
            }
        }
    }
    let mut v = json!({
        "SPDXID": id,
        "name": p.name,
        "versionInfo": p.version,
        "downloadLocation": NOASSERTION,
        "supplier": p.supplier.as_deref().map_or(NOASSERTION.to_string(), actor),
        "filesAnalyzed": !files.is_empty(),
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": declared.as_ref().map_or(NOASSERTION, |e: &Expression| &e.text),
        "copyrightText": NOASSERTION,
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl(p, inv.distro.as_ref()),
        }],
        "hasFiles": files.iter().map(|f| file_id(&f.path)).collect::<Vec<_>>(),
    });
    if !files.is_empty() {
        v["packageVerificationCode"] =
            json!({"packageVerificationCodeValue": verification_code(&files)});
    }
    if let Some((name, version)) = &p.source {
        v["sourceInfo"] = json!(format!("built from source package {name} {version}"));
    }
    v
}

/// The SPDX file of one shipped file.
fn file(f: &super::File) -> Value {
    json!({
        "SPDXID": file_id(&f.path),
        "fileName": format!(".{}", f.path),
        "checksums": [
            {"algorithm": "SHA1", "checksumValue": f.sha1},
            {"algorithm": "SHA256", "checksumValue": f.sha256},
        ],
        "licenseConcluded": NOASSERTION,
        "copyrightText": NOASSERTION,
    })
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({
        "spdxElementId": from,
        "relationshipType": kind,
        "relatedSpdxElement": to,
    })
}

/// SPDX's package verification code: the SHA-1 of the files' SHA-1s (hex),
/// sorted and concatenated.
fn verification_code(files: &[&super::File]) -> String {
    let mut sums: Vec<&str> = files.iter().map(|f| f.sha1.as_str()).collect();
    sums.sort_unstable();
    let mut h = Sha1::new();
    for s in sums {
        h.update(s.as_bytes());
    }
    hex(&h.finalize())
}

/// A maintainer (`Name <address>`) as an SPDX actor (`Person: Name (address)`).
fn actor(maintainer: &str) -> String {
    match maintainer.split_once('<') {
        Some((name, rest)) => format!(
            "Person: {} ({})",
            name.trim(),
            rest.trim_end().trim_end_matches('>')
        ),
        None => format!("Person: {}", maintainer.trim()),
    }
}
