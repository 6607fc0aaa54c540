//! Writers: each reads a [`Report`](crate::Report) and nothing else.

pub mod json;
pub mod list;
pub mod manifest;
pub mod tree;

/// Bytes for people: `812 B`, `4.0 KiB`, `31.2 MiB`, `1.1 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A serde_json error as an I/O error that keeps its kind (so a closed pipe
/// stays a closed pipe, which the binary treats as success).
pub(crate) fn json_error(e: serde_json::Error) -> std::io::Error {
    match e.io_error_kind() {
        Some(kind) => std::io::Error::new(kind, e),
        None => std::io::Error::other(e),
    }
}
pub mod doctor;
