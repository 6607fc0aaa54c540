//! The pieces of the OCI image spec both the reader and the writer use:
//! media types, annotation names, descriptors, and RFC 3339 times.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::digest::Digest;

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker's names for the same things, which `docker save` and registries
/// still use and skopeo keeps when it copies such an image.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// The annotation that tags a manifest in an image layout's index.json.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The annotation containerd (and so `docker save` since 25) names an
/// image by in index.json: the whole reference, `docker.io/library/x:1`.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// The annotations naming the image an image was made from.
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// See [`BASE_NAME`].
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// The version written to `oci-layout`.
pub const LAYOUT_VERSION: &str = "1.0.0";

/// A content descriptor: what a manifest or index says about a blob.
/// Fields this program does not use (urls, data, artifactType...) are kept
/// as they are, so that a base image's layers are copied faithfully.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the blob is (`application/vnd.oci.image.manifest.v1+json`...).
    pub media_type: String,
    /// `algorithm:hex` of the blob.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// For a manifest in an index: the platform it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Value>,
    /// Annotations (the tag is `org.opencontainers.image.ref.name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Any other field, kept as it was.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Descriptor {
    /// A plain descriptor of a blob.
    pub fn new(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            platform: None,
            annotations: BTreeMap::new(),
            other: Map::new(),
        }
    }

    /// The tag of an index entry.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(REF_NAME).map(String::as_str)
    }

    /// True for an (OCI or Docker) image index / manifest list.
    pub fn is_index(&self) -> bool {
        self.media_type == MEDIA_INDEX || self.media_type == DOCKER_LIST
    }
}

/// Compact JSON, the same bytes for the same value (object keys sorted).
pub fn to_json(v: &Value) -> Vec<u8> {
    // Serialising a `Value` to memory cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// `seconds` since the epoch as an RFC 3339 UTC time ("1970-01-01T00:00:00Z").
pub fn rfc3339(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rem = seconds % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, counted in
/// 400-year eras of 146097 days that start on a 1 March, which puts the
/// leap day at the end of each year of the era.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // 1970-01-01 is day 719468 after 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339(4_107_542_400), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn descriptors_keep_unknown_fields() {
        let text =
            r#"{"mediaType":"m","digest":"d","size":3,"urls":["u"],"annotations":{"a":"b"}}"#;
        let d: Descriptor = serde_json::from_str(text).unwrap();
        assert_eq!(d.other["urls"], serde_json::json!(["u"]));
        let back = serde_json::to_value(&d).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }
}
