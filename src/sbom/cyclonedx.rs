//! The CycloneDX 1.5 JSON document: the bundle is the metadata's
//! component; each owning package is a `library` component (purl as its
//! bom-ref, license, its shipped files as nested `file` components with
//! their hashes); files no package owns are top-level `file` components.
//! The dependency graph says the bundle depends on every package and each
//! program on the packages of its libraries.
//!
//! The serial number is a UUID made of the content hash, so the same
//! bundle has the same one.

use serde_json::{Value, json};

use super::license;
use super::{File, Inventory, Package, content_hash, purl};

const BUNDLE_REF: &str = "elfroot:bundle";

/// The document as a JSON value.
pub(super) fn document(inv: &Inventory) -> Value {
    let refs: Vec<String> = inv
        .packages
        .iter()
        .map(|p| purl(p, inv.distro.as_ref()))
        .collect();
    let mut components: Vec<Value> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let files: Vec<Value> = inv
                .files
                .iter()
                .filter(|f| f.package == Some(i))
                .map(file)
                .collect();
            let mut c = json!({
                "type": "library",
                "bom-ref": refs[i],
                "name": p.name,
                "version": p.version,
                "purl": refs[i],
            });
            if let Some(l) = licenses(p) {
                c["licenses"] = l;
            }
            if let Some(s) = &p.supplier {
                c["publisher"] = json!(s);
            }
            if !files.is_empty() {
                c["components"] = json!(files);
            }
            c
        })
        .collect();
    components.extend(inv.files.iter().filter(|f| f.package.is_none()).map(file));
    let mut dependencies = vec![json!({"ref": BUNDLE_REF, "dependsOn": refs})];
    for prog in &inv.programs {
        let on: Vec<&String> = prog.depends_on.iter().map(|&d| &refs[d]).collect();
        dependencies.push(json!({"ref": file_ref(&prog.path), "dependsOn": on}));
    }
    let hash = content_hash(inv);
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &hash[0..8], &hash[8..12], &hash[12..16], &hash[16..20], &hash[20..32]
        ),
        "version": 1,
        "metadata": {
            "timestamp": crate::oci::spec::rfc3339(inv.created),
            "tools": {"components": [{
                "type": "application",
                "name": "elfroot",
                "version": inv.tool_version,
            }]},
            "component": {"type": "container", "bom-ref": BUNDLE_REF, "name": inv.name},
        },
        "components": components,
        "dependencies": dependencies,
    })
}

fn file_ref(path: &str) -> String {
    format!("file:{path}")
}

fn file(f: &File) -> Value {
    json!({
        "type": "file",
        "bom-ref": file_ref(&f.path),
        "name": f.path,
        "hashes": [
            {"alg": "SHA-1", "content": f.sha1},
            {"alg": "SHA-256", "content": f.sha256},
        ],
    })
}

/// The package's license: an SPDX expression when every license in it is
/// an SPDX id, else each name as written.
fn licenses(p: &Package) -> Option<Value> {
    let text = p.license.as_deref()?;
    let e = license::expression(text);
    Some(if e.is_spdx() {
        match license::spdx_id(&e.text) {
            Some(id) => json!([{"license": {"id": id}}]),
            None => json!([{"expression": e.text}]),
        }
    } else {
        json!([{"license": {"name": text}}])
    })
}
