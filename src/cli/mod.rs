//! The command line: clap flags (their doc comments are the help text),
//! checked and turned into the library's plain config structs, then one
//! call into the library per command. Nothing here reads files or the
//! environment, or decides anything about the result but how to print it.

mod bundle;
mod discover_max;
mod doctor;
mod inspect;
mod packages;
mod progress;
mod slim;
mod trace;

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use clap::{Parser, Subcommand};

use elfroot::outcome::Outcome;

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
    Tree(inspect::TreeArgs),
    /// Print ldd-style lines (`libz.so.1 => /lib/.../libz.so.1`) for each FILE.
    List(inspect::ListArgs),
    /// Write everything FILEs need to start into a minimal root file system
    /// (a directory, a reproducible tar layer for `FROM scratch`, or an OCI image).
    Bundle(Box<bundle::BundleArgs>),
    /// Predict, without running anything, whether each FILE would start in a
    /// target root (an image), quoting the error it would otherwise give.
    Doctor(Box<doctor::DoctorArgs>),
    /// Print the packages (dpkg or apk, from the root's own database) that own
    /// the interpreter and libraries each FILE loads, as a list, an apt or apk
    /// command line, or JSON.
    Packages(packages::PackagesArgs),
    /// Slim an image without running it: keep what its Entrypoint and Cmd need
    /// (closures, run-time files, the files they name), with the image's own
    /// metadata, in a one-layer image that keeps its run settings.
    Slim(Box<slim::SlimArgs>),
    /// Run COMMAND (this command, and only this one, executes something) under ptrace and
    /// record every file it and its children open, execute, stat or list, as a PROFILE
    /// for `bundle --profile`.
    Trace(trace::TraceArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on standard output.
    Man,
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
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let outcome = match cli.command {
        Command::Tree(args) => elfroot::inspect::run(&args.config(), &mut out)?,
        Command::List(args) => elfroot::inspect::run(&args.config(), &mut out)?,
        Command::Bundle(args) => bundle::run(&args, &mut out)?,
        Command::Doctor(args) => elfroot::doctor::run(&args.config()?, &mut out)?,
        Command::Packages(args) => elfroot::packages::run(&args.config(), &mut out)?,
        Command::Slim(args) => slim::run(&args, &mut out)?,
        Command::Trace(args) => {
            out.flush()?;
            let traced = elfroot::trace::run(&args.config()?)?;
            report(&traced.outcome);
            return Ok(traced.exit_code);
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "elfroot", &mut out);
            Outcome::new(elfroot::outcome::Status::Clean)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            Outcome::new(elfroot::outcome::Status::Clean)
        }
    };
    out.flush()?;
    report(&outcome);
    Ok(outcome.exit_code())
}

/// Prints the diagnostics on standard error, one line each.
fn report(outcome: &Outcome) {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for d in &outcome.diagnostics {
        let _ = writeln!(err, "elfroot: {d}");
    }
}
