//! One integration-test binary (keeps link time low); one module per area.

mod util;

mod bundle;
mod doctor;
mod errors;
mod examples;
mod foreign;
mod glibc;
mod ldd;
mod library;
mod musl;
mod oci;
mod outputs;
mod runtime_files;
