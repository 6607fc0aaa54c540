//! Software bills of materials: what a bundle (or a slimmed image) holds,
//! as an SPDX 2.3 or a CycloneDX 1.5 JSON document.
//!
//! The input is an [`Inventory`]: the regular files of the bundle with their
//! checksums and owning package, the packages, and which packages each
//! program's libraries come from. [`document`] turns it into the bytes of
//! one document. Everything in it is a function of the inventory: the
//! creation time is the bundle's (SOURCE_DATE_EPOCH), identifiers are
//! derived from names and paths, and the document's namespace (SPDX) or
//! serial number (CycloneDX) from a hash of the contents, so that the same
//! bundle gives the same bytes.
//!
//! `license` reads Debian's license names as SPDX expressions, `purl` writes
//! package URLs; `spdx` and `cyclonedx` are the two writers. Uses `oci`'s
//! RFC 3339 times and nothing else of the crate.

mod cyclonedx;
pub mod license;
mod spdx;

use std::path::Path;

use sha2::{Digest as _, Sha256};

/// Which document is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SPDX 2.3 JSON (`.spdx.json`).
    Spdx,
    /// CycloneDX 1.5 JSON (`.cdx.json`).
    CycloneDx,
}

impl Format {
    /// The format a file name asks for: `*.cdx.json` or `*.cyclonedx.json`
    /// is CycloneDX, anything else SPDX.
    pub fn guess(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".cdx.json") || name.ends_with(".cyclonedx.json") {
            Format::CycloneDx
        } else {
            Format::Spdx
        }
    }

    /// The media type of the document (an OCI artifact's `artifactType`).
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Spdx => "application/spdx+json",
            Format::CycloneDx => "application/vnd.cyclonedx+json",
        }
    }
}

/// Which package manager a package comes from (the purl type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecosystem {
    /// Debian and derivatives (`pkg:deb`).
    Deb,
    /// Alpine (`pkg:apk`).
    Apk,
    /// RPM distributions: Fedora, RHEL and their rebuilds, openSUSE (`pkg:rpm`).
    Rpm,
}

/// The distribution the packages belong to, from os-release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Distro {
    /// `ID` (`debian`, `ubuntu`, `alpine`).
    pub id: String,
    /// `VERSION_ID` (`12`, `3.19.1`); empty when unknown.
    pub version_id: String,
}

/// One package that owns files of the bundle.
#[derive(Debug, Clone)]
pub struct Package {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its architecture; empty when unknown.
    pub arch: String,
    /// Its package manager.
    pub ecosystem: Ecosystem,
    /// The source package's name and version, when the database names one.
    pub source: Option<(String, String)>,
    /// The license as the package says it (Debian copyright `License:`
    /// names joined with AND, apk's `L:`); None when unknown.
    pub license: Option<String>,
    /// Its maintainer, as written; None when unknown.
    pub supplier: Option<String>,
}

/// One regular file of the bundle.
#[derive(Debug, Clone)]
pub struct File {
    /// Its absolute path in the bundle.
    pub path: String,
    /// SHA-256 of its contents, in hex.
    pub sha256: String,
    /// SHA-1 of its contents, in hex (SPDX requires it).
    pub sha1: String,
    /// The index in [`Inventory::packages`] of the package owning it; None
    /// for a file elfroot generated or no package ships.
    pub package: Option<usize>,
}

/// A program of the bundle and the packages its libraries come from.
#[derive(Debug, Clone)]
pub struct Program {
    /// Its path in the bundle (one of [`Inventory::files`]).
    pub path: String,
    /// Indexes in [`Inventory::packages`] of the packages owning its
    /// interpreter and libraries (its own package left out).
    pub depends_on: Vec<usize>,
}

/// What a document describes.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The bundle's name (the output's file name).
    pub name: String,
    /// The distribution, when the root says.
    pub distro: Option<Distro>,
    /// The packages, in a stable order (by name, then architecture).
    pub packages: Vec<Package>,
    /// The regular files, by path.
    pub files: Vec<File>,
    /// The programs bundled.
    pub programs: Vec<Program>,
    /// Seconds since the epoch: the document's creation time.
    pub created: u64,
    /// The creating tool's version (`elfroot-0.1.0`).
    pub tool_version: String,
}

/// The bytes of the document describing `inventory`.
pub fn document(inventory: &Inventory, format: Format) -> Vec<u8> {
    let value = match format {
        Format::Spdx => spdx::document(inventory),
        Format::CycloneDx => cyclonedx::document(inventory),
    };
    // Serialising a `Value` to memory cannot fail.
    let mut bytes = serde_json::to_vec_pretty(&value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The elfroot version written as the documents' creator.
pub fn tool_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// A SHA-256 (hex) of everything the inventory says, for identifiers
/// derived from the contents.
fn content_hash(inv: &Inventory) -> String {
    let mut h = Sha256::new();
    for line in [&inv.name, &inv.tool_version] {
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    h.update(inv.created.to_string().as_bytes());
    for p in &inv.packages {
        h.update(purl(p, inv.distro.as_ref()).as_bytes());
        h.update(b"\n");
    }
    for f in &inv.files {
        h.update(format!("{} {} {:?}\n", f.sha256, f.path, f.package).as_bytes());
    }
    hex(&h.finalize())
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What an SPDX id may hold: letters, digits, `.` and `-`; anything else
/// becomes `-`.
fn sanitise(name: &str) -> String {
    name.chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                true => c,
                false => '-',
            },
        )
        .collect()
}

/// A short stable hash of a text, for identifiers.
fn short_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes())[..8])
}

/// The package URL of a package (purl-spec: `pkg:deb/debian/NAME@VERSION?
/// arch=ARCH&distro=debian-12&upstream=SOURCE`, `pkg:apk/alpine/...`,
/// `pkg:rpm/fedora/NAME@VERSION-RELEASE?arch=ARCH&distro=fedora-40&epoch=1&
/// upstream=NAME-VERSION-RELEASE.src.rpm`), qualifiers sorted by key. An rpm
/// purl's namespace is the distribution's ID, left out when it is unknown
/// (there is no default vendor); its epoch is a qualifier, not part of the
/// version, and its upstream the source package file's name, as syft writes it.
pub fn purl(p: &Package, distro: Option<&Distro>) -> String {
    let (kind, default_ns) = match p.ecosystem {
        Ecosystem::Deb => ("deb", "debian"),
        Ecosystem::Apk => ("apk", "alpine"),
        Ecosystem::Rpm => ("rpm", ""),
    };
    let ns = distro
        .map(|d| d.id.as_str())
        .filter(|id| !id.is_empty())
        .unwrap_or(default_ns);
    let (epoch, version) = match p.ecosystem {
        Ecosystem::Rpm => rpm_epoch(&p.version),
        _ => (None, p.version.as_str()),
    };
    let mut s = format!("pkg:{kind}/");
    if !ns.is_empty() {
        s.push_str(&encode(&ns.to_ascii_lowercase()));
        s.push('/');
    }
    s.push_str(&format!("{}@{}", encode(&p.name), encode(version)));
    let mut q: Vec<(&str, String)> = Vec::new();
    if !p.arch.is_empty() {
        q.push(("arch", p.arch.clone()));
    }
    if let Some(d) = distro.filter(|d| !d.id.is_empty() && !d.version_id.is_empty()) {
        q.push(("distro", format!("{}-{}", d.id, d.version_id)));
    }
    if let Some(e) = epoch {
        q.push(("epoch", e.to_string()));
    }
    if let Some((name, version)) = &p.source
        && (name != &p.name || p.ecosystem == Ecosystem::Rpm)
    {
        let upstream = match (p.ecosystem, version == &p.version) {
            (Ecosystem::Rpm, _) => format!("{name}-{version}.src.rpm"),
            (_, true) => name.clone(),
            (_, false) => format!("{name}@{version}"),
        };
        q.push(("upstream", upstream));
    }
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&encode(v));
    }
    s
}

/// rpm's `EPOCH:VERSION-RELEASE` as (epoch, `VERSION-RELEASE`).
fn rpm_epoch(version: &str) -> (Option<&str>, &str) {
    match version.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(e), rest)
        }
        _ => (None, version),
    }
}

/// Percent-encodes all but the unreserved characters and `:` (purl-spec).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, source: Option<(&str, &str)>) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            ecosystem: Ecosystem::Deb,
            source: source.map(|(a, b)| (a.into(), b.into())),
            license: None,
            supplier: None,
        }
    }

    #[test]
    fn purls_follow_the_spec() {
        let d = Distro {
            id: "debian".into(),
            version_id: "12".into(),
        };
        let p = pkg(
            "libssl3",
            "3.0.15-1~deb12u1",
            Some(("openssl", "3.0.15-1~deb12u1")),
        );
        assert_eq!(
            purl(&p, Some(&d)),
            "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl"
        );
        let p = pkg(
            "libstdc++6",
            "12.2.0-14+deb12u1",
            Some(("gcc-12", "12.2.0-14")),
        );
        assert_eq!(
            purl(&p, None),
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14%2Bdeb12u1?arch=amd64&upstream=gcc-12%4012.2.0-14"
        );
        let p = pkg("libc6", "1:2.36-9", None);
        assert_eq!(purl(&p, None), "pkg:deb/debian/libc6@1:2.36-9?arch=amd64");
    }

    #[test]
    fn rpm_purls_put_the_epoch_in_a_qualifier() {
        let d = Distro {
            id: "fedora".into(),
            version_id: "40".into(),
        };
        let mut p = pkg(
            "openssl-libs",
            "1:3.2.1-2.fc40",
            Some(("openssl", "3.2.1-2.fc40")),
        );
        p.ecosystem = Ecosystem::Rpm;
        p.arch = "x86_64".into();
        assert_eq!(
            purl(&p, Some(&d)),
            "pkg:rpm/fedora/openssl-libs@3.2.1-2.fc40?arch=x86_64&distro=fedora-40&epoch=1&upstream=openssl-3.2.1-2.fc40.src.rpm"
        );
        let mut p = pkg("bash", "5.2.26-3.fc40", Some(("bash", "5.2.26-3.fc40")));
        p.ecosystem = Ecosystem::Rpm;
        p.arch = "x86_64".into();
        assert_eq!(
            purl(&p, None),
            "pkg:rpm/bash@5.2.26-3.fc40?arch=x86_64&upstream=bash-5.2.26-3.fc40.src.rpm"
        );
    }

    #[test]
    fn format_from_name() {
        assert_eq!(Format::guess(Path::new("a/b.cdx.json")), Format::CycloneDx);
        assert_eq!(Format::guess(Path::new("b.spdx.json")), Format::Spdx);
        assert_eq!(Format::guess(Path::new("b.json")), Format::Spdx);
    }
}
