//! Command-line flags (clap derive; the doc comments are the help text) and
//! their translation into library calls.

mod doctor;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use elfroot::archive::{Format, WriteOptions};
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
    /// (a directory, or a reproducible tar layer for `FROM scratch`).
    Bundle(Box<BundleArgs>),
    /// Predict, without running anything, whether each FILE would start in a
    /// target root (an image), quoting the error it would otherwise give.
    Doctor(Box<doctor::DoctorArgs>),
}

#[derive(Args, Debug)]
struct BundleArgs {
    /// Programs (or scripts) to bundle, at their own paths.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output: a directory, NAME.tar, NAME.tar.gz/.tgz, NAME.tar.zst, or - (a tar on stdout).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Override the format guessed from OUT: dir, tar, tar.gz or tar.zst.
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
    let root = Root::layers(roots)
        .with_context(|| format!("cannot use {} as a root", shown.join(" + ")))?;
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
    Ok((
        root,
        Options {
            library_path: paths,
        },
    ))
}

fn bundle(args: &BundleArgs) -> Result<u8> {
    let format = match &args.format {
        Some(f) => Format::parse(f).map_err(anyhow::Error::msg)?,
        None => Format::guess(&args.output),
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
        for v in elfroot::bundle::verify(&plan)? {
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
        elfroot::archive::write(
            &plan.layout.entries(),
            &args.output,
            &WriteOptions {
                format,
                mtime,
                force: args.force,
            },
        )?;
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
