//! One image of `slim`: the image of one platform read as a root, its
//! command resolved, planned, staged out of the layers and checked by the
//! doctor, ready to be written (alone or with the other platforms' into an
//! index, `platforms`).

use serde_json::Value;

use super::{SlimConfig, command, meta};
use crate::archive::{Entry, Temp};
use crate::bundle::{self, Bundle};
use crate::closure::Analyzer;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::oci::{self, BundleFormat, Platform};
use crate::outcome::{Outcome, Status};
use crate::progress::Progress;
use crate::root::Root;

/// An image slimmed but not yet written.
pub(super) struct Slimmed {
    /// The image as the summary names it (with its platform when several).
    pub label: String,
    pub image: oci::Image,
    pub plan: Bundle,
    pub entries: Vec<Entry>,
    pub options: oci::ImageOptions,
    analyzer: Analyzer,
    /// Holds the kept files taken out of the layers until written.
    _staging: Option<Temp>,
}

impl Slimmed {
    /// The image's root of layers.
    pub fn root(&self) -> &Root {
        self.analyzer.files().root()
    }
}

/// Slims the image of `platform` (None: the only one, or this machine's).
/// None when it would not start: the problem is in `outcome`, its status
/// findings.
pub(super) fn slim(
    config: &SlimConfig,
    (format, progress): (BundleFormat, &dyn Progress),
    platform: Option<&Platform>,
    mtime: u64,
    outcome: &mut Outcome,
) -> Result<Option<Slimmed>> {
    let label = match (platform, &config.platform) {
        (Some(p), None) => format!("{} ({})", config.image, p.display()),
        _ => config.image.clone(),
    };
    let image = oci::open_image_streaming_for(&config.image, platform)?;
    let root = Root::layers_checked(image.layers_to_read(), progress).map_err(|e| Error::Root {
        root: label.clone(),
        source: Box::new(e),
    })?;
    let settings = super::kept_settings(image.config(), config);
    let argv = super::command_line(&settings);
    let cx = command::Context {
        path: &super::env_path(&settings),
        workdir: settings
            .get("WorkingDir")
            .and_then(Value::as_str)
            .filter(|w| !w.is_empty())
            .unwrap_or("/"),
    };
    let Some(kept) = command::resolve(&root, &argv, &cx)? else {
        outcome.status = Status::Findings;
        outcome.problem(format!(
            "nothing written to {}: the command {argv:?} of {label} would not start: {}",
            config.output,
            why_not_found(&argv, cx.path)
        ));
        return Ok(None);
    };
    for c in &kept.not_found {
        outcome.warning(format!(
            "{label}: the command's script runs {c}, which is not in the image's PATH"
        ));
    }
    let mut options = super::bundle_options(&settings, &kept, &config.keep)?;
    options.profiles = config.profiles.clone();
    options.package_db = config.package_db;
    options.copyright = config.copyright;
    options.discover_max = config.discover_max;
    options.licenses = config.json || config.sbom.is_some();
    let analyzer = Analyzer::new(Files::new(root), crate::closure::Options::default());
    progress.stage("analysing", None);
    let mut plan = bundle::plan(&analyzer, &kept.programs, &options)?;
    for w in analyzer.take_warnings() {
        outcome.warning(w.to_string());
    }
    for w in &plan.warnings {
        outcome.warning(w.clone());
    }
    let root = analyzer.files().root();
    progress.stage("taking kept files out of the layers", None);
    let staging = plan.layout.stage(root, &config.output)?;
    if bundle::judge(&plan, (false, false), &[], outcome)? {
        outcome.status = Status::Findings;
        outcome.problem(format!(
            "nothing written to {}: the slimmed image of {label} would not start",
            config.output
        ));
        return Ok(None);
    }
    let entries = meta::from_image(root, plan.layout.entries());
    let options = super::image_options(config, format, &image, settings, mtime, &argv);
    Ok(Some(Slimmed {
        label,
        image,
        plan,
        entries,
        options,
        analyzer,
        _staging: staging,
    }))
}

/// Why the command `argv` has nothing to run, in an image whose PATH is `path`.
fn why_not_found(argv: &[String], path: &str) -> String {
    match argv.first() {
        None => "it has no Entrypoint or Cmd (give --entrypoint or --cmd)".to_string(),
        Some(p) => format!("{p} is not an executable file of the image (PATH={path})"),
    }
}
