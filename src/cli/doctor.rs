//! `elfroot doctor` flags and output.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use elfroot::doctor::{self, Placement, Target};
use elfroot::files::Files;
use elfroot::{Analyzer, output};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Programs to check: host files placed at the same path in the target
    /// (or at --at), or paths inside the target with --in-root.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The target: a root directory, a layer tarball (.tar, .tar.gz, .tar.zst),
    /// oci:DIR[:TAG] or oci-archive:FILE[:TAG]; repeat to stack layers in
    /// order (OCI whiteouts honoured).
    #[arg(long, value_name = "TARGET", default_value = "/")]
    root: Vec<PathBuf>,
    /// Where the (single) FILE goes in the target.
    #[arg(long, value_name = "PATH", conflicts_with = "in_root")]
    at: Option<PathBuf>,
    /// FILEs are paths inside the target.
    #[arg(long)]
    in_root: bool,
    /// Print JSON instead.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &DoctorArgs) -> Result<u8> {
    if args.at.is_some() && args.files.len() != 1 {
        anyhow::bail!("--at needs exactly one FILE");
    }
    let (root, options) = super::setup(&args.root, None)?;
    let analyzer = Analyzer::new(Files::new(root), options);
    let target = Target::survey(&analyzer);
    let mut verdicts = Vec::new();
    let mut errors = false;
    for f in &args.files {
        let (file, placement) = if args.in_root {
            (analyzer.files().root().absolute(f), Placement::InRoot)
        } else {
            let host = std::path::absolute(f)?;
            let at = args.at.clone().or_else(|| Some(host.clone()));
            (host, Placement::Host { at })
        };
        match doctor::check(&analyzer, &target, &file, &placement) {
            Ok(v) => verdicts.push(v),
            Err(e) => {
                eprintln!("elfroot: {e}");
                errors = true;
            }
        }
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        let shown: Vec<String> = args.root.iter().map(|r| r.display().to_string()).collect();
        output::doctor::write_json(&verdicts, &shown.join(" + "), &mut out)?;
    } else {
        output::doctor::write(&verdicts, &mut out)?;
    }
    out.flush()?;
    Ok(if errors {
        2
    } else if verdicts.iter().all(|v| v.starts) {
        0
    } else {
        1
    })
}
