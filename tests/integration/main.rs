//! One integration-test binary (keeps link time low); one module per area.

mod util;

mod bundle;
mod discovery;
mod discovery_limits;
mod docker;
mod docker_read;
mod doctor;
mod errors;
mod examples;
mod foreign;
mod glibc;
mod hardlinks;
mod hostile;
mod ldd;
mod library;
mod loader;
mod musl;
mod oci;
mod outputs;
mod packages;
mod paths;
mod platforms;
mod real_programs;
mod rpm;
mod runtime_files;
mod sbom;
mod slim;
mod slim_index;
mod slim_sbom;
mod trace;
mod trace_bundle;
