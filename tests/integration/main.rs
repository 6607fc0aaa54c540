//! One integration-test binary (keeps link time low); one module per area.

mod util;

mod bundle;
mod doctor;
mod errors;
mod examples;
mod foreign;
mod glibc;
mod hostile;
mod ldd;
mod library;
mod loader;
mod musl;
mod oci;
mod outputs;
mod packages;
mod paths;
mod real_programs;
mod runtime_files;
mod sbom;
