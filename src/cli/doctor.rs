//! `elfroot doctor` flags.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use elfroot::config::RootConfig;
use elfroot::doctor::{DoctorConfig, Placement};
use elfroot::oci::Platform;

/// `elfroot doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Programs to check: host files placed at the same path in the target
    /// (or at --at), or paths inside the target with --in-root.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The target: a root directory, a layer tarball (.tar, .tar.gz, .tar.zst),
    /// oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]; repeat
    /// to stack layers in order (OCI whiteouts honoured).
    #[arg(long, value_name = "TARGET", default_value = "/")]
    root: Vec<PathBuf>,
    /// The platform to take from a multi-platform image (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = Platform::parse)]
    platform: Option<Platform>,
    /// Where the (single) FILE goes in the target.
    #[arg(long, value_name = "PATH", conflicts_with = "in_root")]
    at: Option<PathBuf>,
    /// FILEs are paths inside the target.
    #[arg(long)]
    in_root: bool,
    /// The directory the program would be started from (default: the current
    /// directory on the host, / in any other root): relative directories in
    /// LD_LIBRARY_PATH, RPATH and RUNPATH start there.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Print JSON instead.
    #[arg(long)]
    json: bool,
}

impl DoctorArgs {
    /// The library's settings for these flags.
    pub fn config(self) -> Result<DoctorConfig> {
        if self.at.is_some() && self.files.len() != 1 {
            anyhow::bail!("--at needs exactly one FILE");
        }
        Ok(DoctorConfig {
            target: RootConfig {
                layers: self.root,
                platform: self.platform,
                library_path: Vec::new(),
                cwd: self.cwd,
            },
            files: self.files,
            placement: if self.in_root {
                Placement::InRoot
            } else {
                Placement::Host { at: self.at }
            },
            json: self.json,
        })
    }
}
