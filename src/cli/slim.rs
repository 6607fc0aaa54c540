//! `elfroot slim` flags, checked as typed and turned into a [`SlimConfig`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use elfroot::archive::Output;
use elfroot::oci::{self, BundleFormat};
use elfroot::outcome::Outcome;
use elfroot::slim::SlimConfig;

use super::discover_max::DiscoverMax;

/// `elfroot slim`.
#[derive(Args, Debug)]
pub struct SlimArgs {
    /// The image to slim: oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]
    /// (what `docker save` and `podman save` write).
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Output: an OCI layout directory, NAME.oci.tar (an OCI image archive), NAME.docker.tar
    /// (a docker-archive for `docker load`), or - (an archive on stdout).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Override the format guessed from OUT.
    #[arg(long, value_name = "FORMAT", value_enum)]
    format: Option<FormatArg>,
    /// Slim only this platform's image of a multi-platform IMAGE (OS/ARCH[/VARIANT]; default:
    /// every platform of the index, written as an index again). The analysis runs natively
    /// whatever the architecture.
    #[arg(long, value_name = "OS/ARCH", value_parser = oci::Platform::parse)]
    platform: Option<oci::Platform>,
    /// Tag in the written layout's index (default: latest).
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// Also keep this path or glob of the image (repeatable); ELF files bring their closure.
    #[arg(long, value_name = "PATH")]
    keep: Vec<String>,
    /// Also keep what this profile (written by `elfroot trace`) names, taken from the image
    /// (repeatable).
    #[arg(long, value_name = "PROFILE")]
    profile: Vec<PathBuf>,
    /// Run this instead of the image's Entrypoint (and drop its Cmd unless --cmd is
    /// given), one argument per flag or one JSON array.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    entrypoint: Vec<String>,
    /// Run with this Cmd instead of the image's, one argument per flag or one JSON array.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    cmd: Vec<String>,
    /// Layer compression (default: gzip).
    #[arg(long, value_name = "HOW", value_enum)]
    compress: Option<CompressArg>,
    /// The image's created time and the mtime of generated files (default:
    /// SOURCE_DATE_EPOCH, else 0); kept files keep the image's.
    #[arg(long, value_name = "SECONDS")]
    mtime: Option<u64>,
    /// Write a layout into an existing non-empty directory.
    #[arg(long)]
    force: bool,
    /// Print the manifest of the slimmed image as JSON: every entry and why it is there.
    #[arg(long)]
    json: bool,
    /// Leave out a directory run-time discovery would take whole (not a language runtime's)
    /// whose files add up to more than SIZE (default 16M; none: no cap), with a warning.
    #[arg(long, value_name = "SIZE", value_parser = DiscoverMax::parse)]
    discover_max: Option<DiscoverMax>,
    #[command(flatten)]
    packages: super::bundle::PackageArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Oci,
    OciArchive,
    DockerArchive,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CompressArg {
    Gzip,
    Zstd,
    None,
}

/// Runs `slim`.
pub fn run(args: &SlimArgs, out: &mut dyn Write) -> Result<Outcome> {
    let config = args.config()?;
    // Dropped (the bar cleared) before the summary is printed.
    let progress = super::progress::Bar::on_stderr();
    Ok(elfroot::slim::run_with(&config, out, progress.as_ref())?)
}

impl SlimArgs {
    fn config(&self) -> Result<SlimConfig> {
        let output = if self.output.as_os_str() == "-" {
            Output::Stdout
        } else {
            Output::Path(self.output.clone())
        };
        let format = self.format.map(|f| match f {
            FormatArg::Oci => BundleFormat::Oci,
            FormatArg::OciArchive => BundleFormat::OciArchive,
            FormatArg::DockerArchive => BundleFormat::DockerArchive,
        });
        if output == Output::Stdout {
            if self.json {
                bail!("--json with -o - would mix the manifest into the image archive");
            }
            if matches!(format, Some(BundleFormat::Oci)) {
                bail!(
                    "-: an OCI layout is a directory (standard output takes --format oci-archive or docker-archive)"
                );
            }
        }
        let entrypoint = oci::parse_command(&self.entrypoint);
        if entrypoint.as_ref().is_some_and(Vec::is_empty) {
            bail!("--entrypoint: an empty command");
        }
        Ok(SlimConfig {
            image: self.image.clone(),
            platform: self.platform.clone(),
            output,
            format,
            tag: self.tag.clone(),
            keep: self.keep.clone(),
            profiles: self.profile.clone(),
            entrypoint,
            cmd: oci::parse_command(&self.cmd),
            compression: self.compress.map(|c| match c {
                CompressArg::Gzip => oci::Compression::Gzip,
                CompressArg::Zstd => oci::Compression::Zstd,
                CompressArg::None => oci::Compression::None,
            }),
            mtime: self.mtime,
            force: self.force,
            json: self.json,
            package_db: !self.packages.no_package_db,
            copyright: !self.packages.no_copyright,
            discover_max: DiscoverMax::bytes(self.discover_max),
            sbom: self.packages.sbom(),
        })
    }
}
