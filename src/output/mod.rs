//! Writers: each reads a [`Report`](crate::Report) and nothing else.

pub mod json;
pub mod list;
pub mod manifest;
pub mod tree;

/// A serde_json error as an I/O error that keeps its kind (so a closed pipe
/// stays a closed pipe, which the binary treats as success).
pub(crate) fn json_error(e: serde_json::Error) -> std::io::Error {
    match e.io_error_kind() {
        Some(kind) => std::io::Error::new(kind, e),
        None => std::io::Error::other(e),
    }
}
pub mod doctor;
