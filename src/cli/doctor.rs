//! `elfroot doctor` flags and output.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Programs to check: host files placed at the same path in the target
    /// (or at --at), or paths inside the target with --in-root.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The target: a root directory, a layer tarball, oci:DIR[:TAG] or
    /// oci-archive:FILE; repeat to stack layers in order.
    #[arg(long, value_name = "TARGET", default_value = "/")]
    root: Vec<PathBuf>,
}

pub fn run(_args: &DoctorArgs) -> Result<u8> {
    anyhow::bail!("doctor: not implemented yet")
}
