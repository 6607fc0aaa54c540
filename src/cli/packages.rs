//! `elfroot packages` flags.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use elfroot::packages::{Format, PackagesConfig};

/// How to print the packages.
#[derive(ValueEnum, Clone, Copy, Debug)]
enum FormatArg {
    /// `name version arch`, one package a line.
    List,
    /// One `apt-get install -y --no-install-recommends name=version ...` line.
    Apt,
    /// One `apk add name=version ...` line.
    Apk,
    /// One `dnf install -y name-[epoch:]version-release ...` line (microdnf and yum take
    /// the same).
    Dnf,
}

/// `elfroot packages`.
#[derive(Args, Debug)]
pub struct PackagesArgs {
    /// ELF files whose interpreter and libraries are looked up.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    root: super::inspect::RootArgs,
    /// How to print the packages.
    #[arg(long, value_enum, default_value = "list")]
    format: FormatArg,
    /// Print a JSON document instead (schema: docs/json.md).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Also the packages of the run-time files `elfroot bundle` would bring (NSS modules,
    /// paths the libraries name, language runtimes' libraries...).
    #[arg(long)]
    runtime: bool,
}

impl PackagesArgs {
    /// The library's settings for these flags.
    pub fn config(self) -> PackagesConfig {
        PackagesConfig {
            root: self.root.config(),
            files: self.files,
            runtime: self.runtime,
            format: match (self.json, self.format) {
                (true, _) => Format::Json,
                (false, FormatArg::List) => Format::List,
                (false, FormatArg::Apt) => Format::Apt,
                (false, FormatArg::Apk) => Format::Apk,
                (false, FormatArg::Dnf) => Format::Dnf,
            },
        }
    }
}
