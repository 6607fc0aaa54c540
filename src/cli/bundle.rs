//! `elfroot bundle` flags: checked as typed (combinations, KEY=VALUE forms),
//! then turned into a [`BundleConfig`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use elfroot::archive::{Format, Output};
use elfroot::bundle::{
    AddSpec, BundleConfig, BundleOptions, DlopenMode, Extra, ImageConfig, Owner, UserSpec,
};
use elfroot::config::{RootConfig, split_path_list};
use elfroot::oci::{self, BundleFormat};

use super::discover_max::DiscoverMax;
use elfroot::outcome::{Diagnostic, Outcome, Status};

/// `elfroot bundle`.
#[derive(Args, Debug)]
pub struct BundleArgs {
    /// Programs (or scripts) to bundle, at their own paths.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output: a directory, NAME.tar, NAME.tar.gz/.tgz, NAME.tar.zst, NAME.oci.tar (an OCI
    /// image archive), NAME.docker.tar (a docker-archive), or - (a tar on stdout).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Override the format guessed from OUT (oci: an OCI image layout directory;
    /// oci-archive: the same as one tar file; docker-archive: what docker save writes and
    /// docker load / podman load take).
    #[arg(long, value_name = "FORMAT", value_enum)]
    format: Option<FormatArg>,
    /// Modification time of every entry (default: SOURCE_DATE_EPOCH, else 0).
    #[arg(long, value_name = "SECONDS")]
    mtime: Option<u64>,
    /// Write into an existing non-empty directory.
    #[arg(long)]
    force: bool,
    /// Path of the (single) input inside the bundle.
    #[arg(long, value_name = "PATH")]
    dest: Option<String>,
    /// Take files from this root file system instead of the host's: a directory, a layer
    /// tarball, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF].
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// The platform to take from a multi-platform --root image (default: this machine's; a
    /// multi-platform --base gives its image for the bundle's platform).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = oci::Platform::parse)]
    platform: Option<oci::Platform>,
    /// Extra LD_LIBRARY_PATH directories, colon separated.
    #[arg(long, value_name = "PATHS")]
    library_path: Option<String>,
    /// Runtime-loaded extras chosen by the inputs' libc (none: the closure alone, no
    /// discovery either).
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ExtrasArg::Auto)]
    extras: ExtrasArg,
    /// The libc, where the inputs do not say.
    #[arg(long, value_name = "LIBC", value_enum)]
    libc: Option<LibcArg>,
    /// Use this nsswitch.conf (and its NSS modules) instead of the minimal one.
    #[arg(long, value_name = "FILE")]
    nsswitch: Option<PathBuf>,
    /// Do not write /etc/passwd and /etc/group (by default: the root's entries for root,
    /// nobody and nogroup, and --user's).
    #[arg(long, conflicts_with_all = ["passwd", "group"])]
    no_passwd: bool,
    /// The user the program runs as (NAME, UID, or USER:GROUP): its passwd entry and primary
    /// group go into the bundle, and it is an image's User.
    #[arg(long, value_name = "USER", value_parser = UserSpec::parse)]
    user: Option<UserSpec>,
    /// Write this file as /etc/passwd instead of the root's entries.
    #[arg(long, value_name = "FILE")]
    passwd: Option<PathBuf>,
    /// Write this file as /etc/group instead of the root's entries.
    #[arg(long, value_name = "FILE")]
    group: Option<PathBuf>,
    /// Do not add /tmp (mode 1777).
    #[arg(long)]
    no_tmp: bool,
    /// Owner of everything copied from the root (default: its owner there; what elfroot
    /// makes is 0:0).
    #[arg(long, value_name = "UID:GID", value_parser = Owner::parse)]
    chown: Option<Owner>,
    /// Optional extras, repeated or comma separated: gconv (iconv modules), certs (CA
    /// certificates), tzdata (time zones), sh (the root's /bin/sh, for system() and
    /// popen()), locale (every compiled locale of the root), locale=NAME (one, e.g.
    /// locale=fr_FR.UTF-8).
    #[arg(long, value_name = "EXTRA", value_delimiter = ',', value_parser = Extra::parse)]
    with: Vec<Extra>,
    /// Run-time files found without running: paths the libraries name, language
    /// runtimes' standard libraries, what the imports open (auto), or none.
    #[arg(long, value_name = "WHICH", value_enum, default_value_t = DiscoverArg::Auto)]
    discover: DiscoverArg,
    /// Leave out a directory discovery would take whole (not a language runtime's) whose
    /// files add up to more than SIZE (default 16M; none: no cap), with a warning naming it.
    #[arg(long, value_name = "SIZE", value_parser = DiscoverMax::parse)]
    discover_max: Option<DiscoverMax>,
    /// Libraries named in .note.dlopen notes: default (required and recommended), all, none.
    #[arg(long, value_name = "WHICH", value_enum, default_value_t = DlopenArg::Default)]
    dlopen: DlopenArg,
    /// Extra files, directories or globs, at their own path or at DEST; ELF files bring their closure.
    #[arg(long, value_name = "SRC[:DEST]")]
    add: Vec<String>,
    /// A profile written by `elfroot trace` (repeatable): every path it records goes in
    /// (ELF files with their closures, links with their targets, directories empty but for
    /// what it records inside them).
    #[arg(long, value_name = "PROFILE")]
    profile: Vec<PathBuf>,
    /// Write a Make rule `OUT: <every host file in the bundle>` to FILE.
    #[arg(long, value_name = "FILE")]
    depfile: Option<PathBuf>,
    /// Print the manifest as JSON: every entry, its source, its kind and why it is there.
    #[arg(long)]
    json: bool,
    /// Write the bundle even when a library is missing.
    #[arg(long)]
    allow_missing: bool,
    /// Write the bundle even when `elfroot doctor` says it would not start.
    #[arg(long)]
    allow_broken: bool,
    #[command(flatten)]
    image: ImageArgs,
    #[command(flatten)]
    packages: PackageArgs,
}

/// The flags of the image formats.
#[derive(Args, Debug)]
#[command(next_help_heading = "Image")]
struct ImageArgs {
    /// Image layer compression (default: gzip).
    #[arg(long, value_name = "HOW", value_enum)]
    compress: Option<CompressArg>,
    /// Image Entrypoint, one argument per flag or one JSON array (default: the first FILE,
    /// or the base image's).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    entrypoint: Vec<String>,
    /// Image Cmd (arguments to the Entrypoint), one argument per flag or one JSON array.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    cmd: Vec<String>,
    /// Image environment variable (repeatable; PATH is set by default without --base).
    #[arg(long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Image working directory.
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// Image label (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Image tag in the layout's index (org.opencontainers.image.ref.name; default: latest).
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// Put the layer on top of this OCI image (a layout directory or an oci-archive file),
    /// keeping its layers and config.
    #[arg(long, value_name = "DIR[:TAG]")]
    base: Option<String>,
    /// Also bundle the same FILEs from DIR (a root for that platform, analysed natively),
    /// into one OCI image index with the --root's bundle (repeatable; oci and oci-archive).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]=DIR", value_parser = parse_platform_root)]
    platform_root: Vec<(oci::Platform, PathBuf)>,
}

/// `OS/ARCH[/VARIANT]=DIR`.
fn parse_platform_root(s: &str) -> std::result::Result<(oci::Platform, PathBuf), String> {
    let (platform, dir) = s
        .split_once('=')
        .filter(|(_, d)| !d.is_empty())
        .ok_or_else(|| format!("{s:?}: expected OS/ARCH[/VARIANT]=DIR"))?;
    Ok((oci::Platform::parse(platform)?, PathBuf::from(dir)))
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Dir,
    Tar,
    #[value(name = "tar.gz")]
    TarGz,
    #[value(name = "tar.zst")]
    TarZst,
    Oci,
    OciArchive,
    DockerArchive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExtrasArg {
    Auto,
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LibcArg {
    Glibc,
    Musl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DiscoverArg {
    Auto,
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DlopenArg {
    Default,
    All,
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CompressArg {
    Gzip,
    Zstd,
    None,
}

/// Runs `bundle`; the line saying a bundle was refused ends with the flags
/// that override the refusal.
pub fn run(args: &BundleArgs, out: &mut dyn Write) -> Result<Outcome> {
    let mut outcome = elfroot::bundle::run(&args.config()?, out).map_err(|e| match e {
        elfroot::Error::OutputNotEmpty { .. } => anyhow::anyhow!("{e} (use --force)"),
        e => e.into(),
    })?;
    if outcome.status == Status::Findings
        && let Some(Diagnostic::Problem(last)) = outcome.diagnostics.last_mut()
    {
        last.push_str(" (--allow-missing or --allow-broken write it anyway)");
    }
    Ok(outcome)
}

impl BundleArgs {
    fn config(&self) -> Result<BundleConfig> {
        let output = if self.output.as_os_str() == "-" {
            Output::Stdout
        } else {
            Output::Path(self.output.clone())
        };
        let format = self.format.map(FormatArg::format);
        let image = self.image.config()?;
        if image.is_set()
            && !format
                .unwrap_or_else(|| BundleFormat::guess(&output))
                .is_image()
        {
            bail!(
                "--compress, --entrypoint, --cmd, --env, --workdir, --label, --tag, --base and \
                 --platform-root need --format oci, oci-archive or docker-archive (or OUT named \
                 *.oci.tar or *.docker.tar)"
            );
        }
        match format {
            Some(BundleFormat::Oci) if output == Output::Stdout => {
                bail!(
                    "-: an OCI image layout is a directory (use --format oci-archive for standard output)"
                )
            }
            Some(BundleFormat::Root(Format::Dir)) if output == Output::Stdout => {
                bail!("-: cannot write a directory bundle to standard output (use --format tar)")
            }
            _ => {}
        }
        if output == Output::Stdout && self.json {
            bail!("--json with -o - would mix the manifest into the tar stream");
        }
        if self.dest.is_some() && self.files.len() != 1 {
            bail!("--dest needs exactly one FILE");
        }
        Ok(BundleConfig {
            root: RootConfig {
                layers: vec![self.root.clone()],
                platform: self.platform.clone(),
                library_path: self
                    .library_path
                    .as_deref()
                    .map(split_path_list)
                    .unwrap_or_default(),
                cwd: None,
            },
            files: self.files.clone(),
            output,
            format,
            mtime: self.mtime,
            force: self.force,
            options: self.options(),
            depfile: self.depfile.clone(),
            json: self.json,
            allow_missing: self.allow_missing,
            allow_broken: self.allow_broken,
            image,
            sbom: self.packages.sbom(),
        })
    }

    fn options(&self) -> BundleOptions {
        BundleOptions {
            dest: self.dest.clone(),
            extras: self.extras == ExtrasArg::Auto,
            libc: self.libc.map(|l| match l {
                LibcArg::Glibc => elfroot::Libc::Glibc,
                LibcArg::Musl => elfroot::Libc::Musl,
            }),
            nsswitch: self.nsswitch.clone(),
            passwd: !self.no_passwd,
            user: self.user.clone(),
            passwd_file: self.passwd.clone(),
            group_file: self.group.clone(),
            tmp: !self.no_tmp,
            chown: self.chown,
            with: self.with.clone(),
            discover: self.discover == DiscoverArg::Auto,
            discover_max: DiscoverMax::bytes(self.discover_max),
            dlopen: match self.dlopen {
                DlopenArg::Default => DlopenMode::Default,
                DlopenArg::All => DlopenMode::All,
                DlopenArg::None => DlopenMode::None,
            },
            add: self.add.iter().map(|a| AddSpec::parse(a)).collect(),
            profiles: self.profile.clone(),
            package_db: !self.packages.no_package_db,
            copyright: !self.packages.no_copyright,
            // bundle::run reads them only for --json and --sbom.
            licenses: true,
        }
    }
}

impl ImageArgs {
    fn config(&self) -> Result<ImageConfig> {
        for (list, flag) in [(&self.env, "--env"), (&self.label, "--label")] {
            for kv in list {
                if kv.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                    bail!("{flag} {kv:?}: expected KEY=VALUE");
                }
            }
        }
        let entrypoint = oci::parse_command(&self.entrypoint);
        if entrypoint.as_ref().is_some_and(Vec::is_empty) {
            bail!("--entrypoint: an empty command");
        }
        Ok(ImageConfig {
            compression: self.compress.map(|c| match c {
                CompressArg::Gzip => oci::Compression::Gzip,
                CompressArg::Zstd => oci::Compression::Zstd,
                CompressArg::None => oci::Compression::None,
            }),
            run: oci::RunConfig {
                entrypoint,
                cmd: oci::parse_command(&self.cmd),
                env: self.env.clone(),
                workdir: self.workdir.clone(),
                user: None,
                labels: self.label.clone(),
            },
            tag: self.tag.clone(),
            base: self.base.clone(),
            platform_roots: self.platform_root.clone(),
        })
    }
}

impl FormatArg {
    fn format(self) -> BundleFormat {
        match self {
            FormatArg::Dir => BundleFormat::Root(Format::Dir),
            FormatArg::Tar => BundleFormat::Root(Format::Tar),
            FormatArg::TarGz => BundleFormat::Root(Format::TarGz),
            FormatArg::TarZst => BundleFormat::Root(Format::TarZst),
            FormatArg::Oci => BundleFormat::Oci,
            FormatArg::OciArchive => BundleFormat::OciArchive,
            FormatArg::DockerArchive => BundleFormat::DockerArchive,
        }
    }
}

/// The flags of package metadata and SBOMs.
#[derive(Args, Debug)]
#[command(next_help_heading = "Packages and SBOM")]
pub(crate) struct PackageArgs {
    /// Do not write the package database scanners read (dpkg's status.d, apk's installed)
    /// for the packages whose files are bundled.
    #[arg(long)]
    pub(crate) no_package_db: bool,
    /// Do not bring each package's copyright file (/usr/share/doc/PKG/copyright; rpm's %license
    /// files).
    #[arg(long)]
    pub(crate) no_copyright: bool,
    /// Also write an SBOM of what is written to FILE (SPDX 2.3 JSON, or CycloneDX 1.5 JSON for
    /// *.cdx.json); an OCI image also stores it as an artifact referring to the image.
    #[arg(long, value_name = "FILE")]
    sbom: Option<PathBuf>,
    /// The SBOM's format, instead of the one FILE's name says.
    #[arg(long, value_name = "FORMAT", value_enum, requires = "sbom")]
    sbom_format: Option<SbomFormatArg>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SbomFormatArg {
    Spdx,
    Cyclonedx,
}

impl PackageArgs {
    /// The SBOM asked for: its path and format (named, or guessed from the path).
    pub(crate) fn sbom(&self) -> Option<(PathBuf, elfroot::sbom::Format)> {
        use elfroot::sbom::Format;
        let path = self.sbom.clone()?;
        let format = match self.sbom_format {
            Some(SbomFormatArg::Spdx) => Format::Spdx,
            Some(SbomFormatArg::Cyclonedx) => Format::CycloneDx,
            None => Format::guess(&path),
        };
        Some((path, format))
    }
}
