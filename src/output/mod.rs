//! Writers: each reads a [`Report`](crate::Report) and nothing else.

pub mod json;
pub mod list;
pub mod tree;
