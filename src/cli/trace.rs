//! `elfroot trace` flags, turned into a [`TraceConfig`].

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use elfroot::trace::TraceConfig;

/// `elfroot trace`.
#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The profile to write (replaced whole when COMMAND has ended, even if it failed or
    /// was killed).
    #[arg(short, long, value_name = "PROFILE")]
    output: PathBuf,
    /// Run COMMAND chrooted in this directory (needs root); paths are recorded as seen
    /// inside it.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// COMMAND's working directory (inside --root).
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Set a variable for COMMAND (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    env: Vec<OsString>,
    /// Add to the profile already at PROFILE instead of replacing it (several runs, one
    /// profile).
    #[arg(long)]
    append: bool,
    /// The command to run, and its arguments (after --).
    #[arg(required = true, last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

impl TraceArgs {
    /// The library's config.
    pub fn config(&self) -> Result<TraceConfig> {
        let mut env = Vec::new();
        for kv in &self.env {
            let bytes = kv.as_bytes();
            let Some(eq) = bytes.iter().position(|&b| b == b'=').filter(|&i| i > 0) else {
                bail!("--env {}: expected KEY=VALUE", kv.to_string_lossy());
            };
            env.push((
                OsStr::from_bytes(&bytes[..eq]).to_owned(),
                OsStr::from_bytes(&bytes[eq + 1..]).to_owned(),
            ));
        }
        Ok(TraceConfig {
            output: self.output.clone(),
            root: self.root.clone(),
            cwd: self.cwd.clone(),
            env,
            append: self.append,
            command: self.command.clone(),
        })
    }
}
