//! Command-line flags (clap derive; the doc comments are the help text) and
//! their translation into library calls.

mod doctor;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use elfroot::archive::WriteOptions;
use elfroot::bundle::{AddSpec, BundleOptions, DlopenMode, Extra};
use elfroot::files::Files;
use elfroot::output;
use elfroot::{Analyzer, Libc, Options, Report, Root};

/// What an ELF file needs to start, computed like glibc's and musl's loaders, without running it.
#[derive(Parser, Debug)]
#[command(name = "elfroot", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the dependency tree of each FILE, with how each library was found.
    Tree {
        #[command(flatten)]
        common: Common,
        /// Also show names that resolve to a library already shown elsewhere.
        #[arg(short, long)]
        all: bool,
    },
    /// Print ldd-style lines (`libz.so.1 => /lib/.../libz.so.1`) for each FILE.
    List {
        #[command(flatten)]
        common: Common,
        /// Print only the closure: the interpreter and every resolved library,
        /// one path per line, each once over all FILEs.
        #[arg(short, long)]
        paths: bool,
    },
    /// Write everything FILEs need to start into a minimal root file system
    /// (a directory, a reproducible tar layer for `FROM scratch`, or an OCI image).
    Bundle(Box<BundleArgs>),
    /// Predict, without running anything, whether each FILE would start in a
    /// target root (an image), quoting the error it would otherwise give.
    Doctor(Box<doctor::DoctorArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on standard output.
    Man,
}

#[derive(Args, Debug)]
struct BundleArgs {
    /// Programs (or scripts) to bundle, at their own paths.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output: a directory, NAME.tar, NAME.tar.gz/.tgz, NAME.tar.zst, NAME.oci.tar (an OCI
    /// image archive), or - (a tar on stdout).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Override the format guessed from OUT: dir, tar, tar.gz, tar.zst, oci (an OCI image
    /// layout directory) or oci-archive (the same as one tar file).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Modification time of every entry (default: SOURCE_DATE_EPOCH, else 0).
    #[arg(long, value_name = "SECONDS")]
    mtime: Option<u64>,
    /// Write into an existing non-empty directory.
    #[arg(long)]
    force: bool,
    /// Path of the (single) input inside the bundle.
    #[arg(long, value_name = "PATH")]
    dest: Option<String>,
    /// Take files from this root file system instead of the host's.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Extra LD_LIBRARY_PATH directories, colon separated.
    #[arg(long, value_name = "PATHS")]
    library_path: Option<String>,
    /// Runtime-loaded extras chosen by the inputs' libc: auto or none.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "none"])]
    extras: String,
    /// The libc, where the inputs do not say: glibc or musl.
    #[arg(long, value_name = "LIBC", value_parser = ["glibc", "musl"])]
    libc: Option<String>,
    /// Use this nsswitch.conf (and its NSS modules) instead of the minimal one.
    #[arg(long, value_name = "FILE")]
    nsswitch: Option<PathBuf>,
    /// Do not write a minimal /etc/passwd and /etc/group.
    #[arg(long)]
    no_passwd: bool,
    /// Optional extras: gconv, certs, tzdata, locale (repeat or separate with commas).
    #[arg(long, value_name = "EXTRA", value_delimiter = ',')]
    with: Vec<String>,
    /// Libraries named in .note.dlopen notes: default (required and recommended), all, none.
    #[arg(long, value_name = "WHICH", default_value = "default", value_parser = ["default", "all", "none"])]
    dlopen: String,
    /// Extra files, directories or globs, at their own path or at DEST; ELF files bring their closure.
    #[arg(long, value_name = "SRC[:DEST]")]
    add: Vec<String>,
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
    /// Image layer compression: gzip (default), zstd or none.
    #[arg(long, value_name = "HOW", value_parser = ["gzip", "zstd", "none"], help_heading = "Image")]
    compress: Option<String>,
    /// Image Entrypoint, one argument per flag or one JSON array (default: the first FILE,
    /// or the base image's).
    #[arg(
        long,
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "Image"
    )]
    entrypoint: Vec<String>,
    /// Image Cmd (arguments to the Entrypoint), one argument per flag or one JSON array.
    #[arg(
        long,
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "Image"
    )]
    cmd: Vec<String>,
    /// Image environment variable (repeatable; PATH is set by default without --base).
    #[arg(long, value_name = "KEY=VALUE", help_heading = "Image")]
    env: Vec<String>,
    /// Image working directory.
    #[arg(long, value_name = "DIR", help_heading = "Image")]
    workdir: Option<String>,
    /// Image user (NAME, UID or UID:GID).
    #[arg(long, value_name = "USER", help_heading = "Image")]
    user: Option<String>,
    /// Image label (repeatable).
    #[arg(long, value_name = "KEY=VALUE", help_heading = "Image")]
    label: Vec<String>,
    /// Image tag in the layout's index (org.opencontainers.image.ref.name; default: latest).
    #[arg(long, value_name = "TAG", help_heading = "Image")]
    tag: Option<String>,
    /// Put the layer on top of this OCI image (a layout directory or an oci-archive file),
    /// keeping its layers and config.
    #[arg(long, value_name = "DIR[:TAG]", help_heading = "Image")]
    base: Option<String>,
}

#[derive(Args, Debug)]
struct Common {
    /// ELF files to analyse; a directory is walked and every ELF file in it analysed.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Analyse inside this root file system, as if chrooted there; FILEs are paths inside it.
    /// A directory or a layer tarball (.tar, .tar.gz, .tar.zst); repeat to stack layers.
    #[arg(long, value_name = "DIR|TAR", default_value = "/")]
    root: Vec<PathBuf>,
    /// Extra LD_LIBRARY_PATH directories, colon separated (searched before the environment's).
    #[arg(long, value_name = "PATHS")]
    library_path: Option<String>,
    /// Print a JSON report instead (schema: docs/json.md).
    #[arg(long)]
    json: bool,
}

/// Runs the command line; returns the exit status.
pub fn run() -> Result<u8> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            e.print()?;
            return Ok(code);
        }
    };
    let (common, mode) = match &cli.command {
        Command::Tree { common, all } => (common, Mode::Tree { all: *all }),
        Command::List { common, paths } => (common, Mode::List { paths: *paths }),
        Command::Bundle(args) => return bundle(args),
        Command::Doctor(args) => return doctor::run(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "elfroot", &mut io::stdout());
            return Ok(0);
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut io::stdout())?;
            return Ok(0);
        }
    };
    let report = analyze(common)?;
    for entry in &report.entries {
        if let Err(e) = &entry.result {
            eprintln!("elfroot: {e}");
        }
    }
    for w in &report.warnings {
        eprintln!("elfroot: warning: {w}");
    }
    for c in report.closures() {
        for cycle in &c.cycles {
            let names: Vec<&str> = cycle.iter().map(|&i| c.objects[i].path.as_str()).collect();
            eprintln!(
                "elfroot: warning: {}: dependency cycle between {}",
                c.input,
                names.join(", ")
            );
        }
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if common.json {
        output::json::write(&report, &mut out)?;
    } else {
        match mode {
            Mode::Tree { all } => {
                output::tree::write(&report, output::tree::TreeOptions { all }, &mut out)?
            }
            Mode::List { paths: true } => output::list::write_paths(&report, &mut out)?,
            Mode::List { paths: false } => output::list::write(&report, &mut out)?,
        }
    }
    out.flush()?;
    Ok(report.status().exit_code() as u8)
}

enum Mode {
    Tree { all: bool },
    List { paths: bool },
}

fn analyze(common: &Common) -> Result<Report> {
    let (root, options) = setup(&common.root, common.library_path.as_deref())?;
    Ok(elfroot::analyze(root, &common.files, options))
}

/// The root and the search options shared by every command.
pub(crate) fn setup(roots: &[PathBuf], library_path: Option<&str>) -> Result<(Root, Options)> {
    let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    // oci:DIR[:TAG] and oci-archive:FILE[:TAG] stand for their layers, in order.
    // Layer tarballs are read into memory, so the image may go once the root is built.
    let mut layers = Vec::new();
    let mut images = Vec::new();
    for r in roots {
        let spec = r.to_string_lossy();
        if elfroot::oci::is_image_spec(&spec) {
            let image = elfroot::oci::open_image(&spec)?;
            layers.extend(image.layer_paths().iter().cloned());
            images.push(image);
        } else {
            layers.push(r.clone());
        }
    }
    let root = Root::layers(&layers)
        .with_context(|| format!("cannot use {} as a root", shown.join(" + ")))?;
    drop(images);
    let mut paths: Vec<String> = Vec::new();
    if let Some(p) = library_path {
        paths.extend(p.split([':', ';']).map(str::to_string));
    }
    if root.is_host()
        && let Ok(env) = std::env::var("LD_LIBRARY_PATH")
        && !env.is_empty()
    {
        paths.extend(env.split([':', ';']).map(str::to_string));
    }
    // ld.so picks glibc-hwcaps subdirectories by the CPU that runs the
    // program: this one for the host, none known for an image.
    let hwcaps = if root.is_host() {
        elfroot::search::hwcaps::host_levels()
    } else {
        elfroot::search::hwcaps::HwcapsLevels::Baseline
    };
    Ok((
        root,
        Options {
            library_path: paths,
            hwcaps,
        },
    ))
}

fn bundle(args: &BundleArgs) -> Result<u8> {
    use elfroot::oci::{self, BundleFormat};
    let format = match &args.format {
        Some(f) => BundleFormat::parse(f).map_err(anyhow::Error::msg)?,
        None => BundleFormat::guess(&args.output),
    };
    let image_flags = args.compress.is_some()
        || !args.entrypoint.is_empty()
        || !args.cmd.is_empty()
        || !args.env.is_empty()
        || args.workdir.is_some()
        || args.user.is_some()
        || !args.label.is_empty()
        || args.tag.is_some()
        || args.base.is_some();
    if image_flags && !format.is_image() {
        anyhow::bail!(
            "--compress, --entrypoint, --cmd, --env, --workdir, --user, --label, --tag and --base \
             need --format oci or oci-archive (or OUT named *.oci.tar)"
        );
    }
    let mut base = match &args.base {
        Some(b) => Some(oci::open_path(b).with_context(|| format!("--base {b}"))?),
        None => None,
    };
    let stdout = args.output.as_os_str() == "-";
    if stdout && args.json {
        anyhow::bail!("--json with -o - would mix the manifest into the tar stream");
    }
    let mtime = match args.mtime {
        Some(m) => m,
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) => v
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?,
            Err(_) => 0,
        },
    };
    let nsswitch = match &args.nsswitch {
        Some(p) => Some((
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
            std::path::absolute(p)?,
        )),
        None => None,
    };
    let with = args
        .with
        .iter()
        .map(|w| Extra::parse(w))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let opts = BundleOptions {
        dest: args.dest.clone(),
        extras: args.extras == "auto",
        libc: args
            .libc
            .as_deref()
            .map(|l| if l == "musl" { Libc::Musl } else { Libc::Glibc }),
        nsswitch,
        passwd: !args.no_passwd,
        with,
        dlopen: match args.dlopen.as_str() {
            "all" => DlopenMode::All,
            "none" => DlopenMode::None,
            _ => DlopenMode::Default,
        },
        add: args.add.iter().map(|a| AddSpec::parse(a)).collect(),
    };
    let (root, options) = setup(
        std::slice::from_ref(&args.root),
        args.library_path.as_deref(),
    )?;
    let inputs: Vec<PathBuf> = args.files.iter().map(|f| root.absolute(f)).collect();
    let analyzer = Analyzer::new(Files::new(root), options);
    let plan = elfroot::bundle::plan(&analyzer, &inputs, &opts)?;
    for w in analyzer.take_warnings() {
        eprintln!("elfroot: warning: {w}");
    }
    for m in &plan.missing {
        eprintln!(
            "elfroot: {}: {} (needed by {})",
            m.name, m.status, m.needed_by
        );
    }
    let mut refuse = !plan.missing.is_empty() && !args.allow_missing;
    if !refuse && !args.allow_broken {
        let base_layers: Vec<PathBuf> = base
            .as_ref()
            .map(|b| b.layer_paths().to_vec())
            .unwrap_or_default();
        for v in elfroot::bundle::verify(&plan, &base_layers)? {
            // With --allow-missing, missing libraries are accepted; anything else is not.
            let fatal: Vec<_> = v
                .findings
                .iter()
                .filter(|f| f.severity == elfroot::doctor::Severity::Error)
                .filter(|f| !(args.allow_missing && f.code == "library-missing"))
                .collect();
            if !fatal.is_empty() {
                refuse = true;
                for f in fatal {
                    eprintln!(
                        "elfroot: {}: would not start from the bundle: [{}] {}",
                        v.file, f.code, f.cause
                    );
                }
            }
        }
    }
    if refuse {
        eprintln!(
            "elfroot: nothing written to {}: the bundle would not start (--allow-missing or --allow-broken write it anyway)",
            args.output.display()
        );
    } else {
        match format {
            BundleFormat::Root(format) => {
                elfroot::archive::write(
                    &plan.layout.entries(),
                    &args.output,
                    &WriteOptions {
                        format,
                        mtime,
                        force: args.force,
                    },
                )?;
            }
            BundleFormat::Oci | BundleFormat::OciArchive => {
                let in_bundle: Vec<String> = match &args.dest {
                    Some(d) => vec![d.clone()],
                    None => inputs.iter().map(|i| i.display().to_string()).collect(),
                };
                let platform = plan
                    .closures
                    .first()
                    .and_then(|c| c.objects.first())
                    .map_or_else(oci::Platform::host, |o| oci::Platform::of(&o.elf));
                let image = oci::ImageOptions {
                    archive: format == BundleFormat::OciArchive,
                    compression: match &args.compress {
                        Some(c) => oci::Compression::parse(c).map_err(anyhow::Error::msg)?,
                        None => oci::Compression::Gzip,
                    },
                    mtime,
                    force: args.force,
                    platform,
                    program: in_bundle[0].clone(),
                    run: oci::RunConfig {
                        entrypoint: oci::parse_command(&args.entrypoint),
                        cmd: oci::parse_command(&args.cmd),
                        env: args.env.clone(),
                        workdir: args.workdir.clone(),
                        user: args.user.clone(),
                        labels: args.label.clone(),
                    },
                    tag: args.tag.clone(),
                    created_by: format!("elfroot bundle {}", in_bundle.join(" ")),
                    base: base.take(),
                };
                let written = oci::write(&plan.layout.entries(), &args.output, &image)?;
                if !stdout && !args.json {
                    println!("{}", written.manifest_digest);
                }
            }
        }
        if let Some(dep) = &args.depfile {
            let target = if stdout {
                Path::new("-")
            } else {
                args.output.as_path()
            };
            let text = output::manifest::depfile(&plan, target);
            elfroot::archive::write_small_file(dep, text.as_bytes())?;
        }
    }
    if args.json {
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        output::manifest::write(&plan, &args.output, format.as_str(), !refuse, &mut out)?;
        out.flush()?;
    }
    Ok(if refuse { 1 } else { 0 })
}
