//! Command-line flags (clap derive; the doc comments are the help text) and
//! their translation into library calls.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use elfroot::output;
use elfroot::{Options, Report, Root};

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
}

#[derive(Args, Debug)]
struct Common {
    /// ELF files to analyse; a directory is walked and every ELF file in it analysed.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Analyse inside this root file system, as if chrooted there; FILEs are paths inside it.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
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
    let root = Root::open(&common.root)
        .with_context(|| format!("cannot use {} as a root", common.root.display()))?;
    let mut library_path: Vec<String> = Vec::new();
    if let Some(p) = &common.library_path {
        library_path.extend(p.split([':', ';']).map(str::to_string));
    }
    if root.is_host()
        && let Ok(env) = std::env::var("LD_LIBRARY_PATH")
        && !env.is_empty()
    {
        library_path.extend(env.split([':', ';']).map(str::to_string));
    }
    Ok(elfroot::analyze(
        root,
        &common.files,
        Options { library_path },
    ))
}
