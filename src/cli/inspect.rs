//! `elfroot tree` and `elfroot list` flags.

use std::path::PathBuf;

use clap::Args;

use super::discover_max::DiscoverMax;

use elfroot::config::{RootConfig, split_path_list};
use elfroot::inspect::{InspectConfig, View};
use elfroot::oci::Platform;

/// The root flags of the commands that analyse files inside a root.
#[derive(Args, Debug)]
pub struct RootArgs {
    /// Analyse inside this root file system, as if chrooted there; FILEs are paths inside it.
    /// A directory, a layer tarball (.tar, .tar.gz, .tar.zst), oci:DIR[:TAG],
    /// oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]; repeat to stack layers.
    #[arg(long, value_name = "DIR|TAR|IMAGE", default_value = "/")]
    root: Vec<PathBuf>,
    /// The platform to take from a multi-platform image (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = Platform::parse)]
    platform: Option<Platform>,
    /// Extra LD_LIBRARY_PATH directories, colon separated (searched before the environment's).
    #[arg(long, value_name = "PATHS")]
    library_path: Option<String>,
    /// The directory the program would be started from (default: the current
    /// directory on the host, / in any other root): relative directories in
    /// LD_LIBRARY_PATH, RPATH and RUNPATH start there.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
}

impl RootArgs {
    /// The library's root settings for these flags.
    pub fn config(self) -> RootConfig {
        RootConfig {
            layers: self.root,
            platform: self.platform,
            library_path: self
                .library_path
                .as_deref()
                .map(split_path_list)
                .unwrap_or_default(),
            cwd: self.cwd,
        }
    }
}

/// The flags `tree` and `list` share.
#[derive(Args, Debug)]
pub struct Common {
    /// ELF files to analyse; a directory is walked and every ELF file in it analysed.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    root: RootArgs,
    /// Print a JSON report instead (schema: docs/json.md).
    #[arg(long)]
    json: bool,
    /// Also show the run-time files a bundle would hold (paths the objects
    /// name, language runtimes' libraries, what the imports open), each with
    /// its reason: what `bundle --discover auto` adds.
    #[arg(long)]
    runtime: bool,
    /// With --runtime: leave out a directory discovery would take whole (not a language
    /// runtime's) whose files add up to more than SIZE (default 16M; none: no cap), as
    /// `bundle --discover-max` does.
    #[arg(long, value_name = "SIZE", requires = "runtime", value_parser = DiscoverMax::parse)]
    discover_max: Option<DiscoverMax>,
}

impl Common {
    fn config(self, view: View) -> InspectConfig {
        InspectConfig {
            root: self.root.config(),
            files: self.files,
            view: if self.json { View::Json } else { view },
            runtime: self.runtime,
            discover_max: DiscoverMax::bytes(self.discover_max),
        }
    }
}

/// `elfroot tree`.
#[derive(Args, Debug)]
pub struct TreeArgs {
    #[command(flatten)]
    common: Common,
    /// Also show names that resolve to a library already shown elsewhere.
    #[arg(short, long)]
    all: bool,
}

impl TreeArgs {
    /// The library's settings for these flags.
    pub fn config(self) -> InspectConfig {
        self.common.config(View::Tree { all: self.all })
    }
}

/// `elfroot list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    common: Common,
    /// Print only the closure: the interpreter and every resolved library,
    /// one path per line, each once over all FILEs.
    #[arg(short, long)]
    paths: bool,
}

impl ListArgs {
    /// The library's settings for these flags.
    pub fn config(self) -> InspectConfig {
        let view = if self.paths { View::Paths } else { View::List };
        self.common.config(view)
    }
}
