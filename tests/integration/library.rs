//! The commands driven through the library's entry points (`inspect::run`,
//! `doctor::run`, `bundle::run`) on temporary roots, without spawning the
//! binary: the same configs the command line builds, the same outcomes.

use std::path::{Path, PathBuf};

use elfroot::archive::Output;
use elfroot::bundle::{BundleConfig, BundleOptions, ImageConfig};
use elfroot::config::RootConfig;
use elfroot::doctor::{DoctorConfig, Placement};
use elfroot::inspect::{InspectConfig, View};
use elfroot::outcome::{Diagnostic, Status};

use crate::util::*;

const MAIN_USES_LIB: &str = "int f(void); int main(void) { return f(); }\n";

/// A root with the host's glibc, /usr/bin/app needing libf.so (in /usr/lib)
/// and /usr/bin/broken needing libgone.so, which is not there.
fn root() -> Tree {
    let t = Tree::new();
    t.with_host_glibc();
    let lib = t.lib("usr/lib/libf.so", "int f(void) { return 0; }\n", &[]);
    let dir = lib.parent().unwrap().to_string_lossy().into_owned();
    t.exe("usr/bin/app", MAIN_USES_LIB, &[&format!("-L{dir}"), "-lf"]);
    let gone = t.lib("gone/libgone.so", "int f(void) { return 1; }\n", &[]);
    let gone_dir = gone.parent().unwrap().to_string_lossy().into_owned();
    t.exe(
        "usr/bin/broken",
        MAIN_USES_LIB,
        &[&format!("-L{gone_dir}"), "-lgone"],
    );
    std::fs::remove_dir_all(gone.parent().unwrap()).unwrap();
    t
}

fn root_config(t: &Tree) -> RootConfig {
    RootConfig {
        layers: vec![t.path().to_path_buf()],
        platform: None,
        library_path: Vec::new(),
        cwd: None,
    }
}

fn inspect(t: &Tree, file: &str, view: View) -> (elfroot::outcome::Outcome, String) {
    let config = InspectConfig {
        root: root_config(t),
        files: vec![PathBuf::from(file)],
        view,
        runtime: false,
        discover_max: None,
    };
    let mut out = Vec::new();
    let outcome = elfroot::inspect::run(&config, &mut out).expect("inspect");
    (outcome, String::from_utf8(out).unwrap())
}

#[test]
fn inspect_run_resolves_inside_the_root_and_reports_what_is_missing() {
    let t = root();
    let (outcome, text) = inspect(&t, "/usr/bin/app", View::Paths);
    assert_eq!(outcome.status, Status::Clean, "{:?}", outcome.diagnostics);
    let paths: Vec<&str> = text.lines().collect();
    // Found in the default directory /lib, which is usr/lib in this merged-/usr root.
    assert!(paths.contains(&"/lib/libf.so"), "{text}");
    assert!(paths.contains(&"/lib64/ld-linux-x86-64.so.2"), "{text}");

    let (outcome, json) = inspect(&t, "/usr/bin/broken", View::Json);
    assert_eq!(outcome.status, Status::Findings);
    assert_eq!(outcome.exit_code(), 1);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["inputs"][0]["problems"][0]["name"], "libgone.so");
    assert_eq!(doc["inputs"][0]["problems"][0]["status"], "missing");

    // A bad input is a diagnostic naming it, and the status says errors.
    let (outcome, _) = inspect(&t, "/usr/bin/nothere", View::List);
    assert_eq!(outcome.status, Status::Errors);
    assert!(
        matches!(&outcome.diagnostics[..], [Diagnostic::Problem(m)] if m.contains("/usr/bin/nothere")),
        "{:?}",
        outcome.diagnostics
    );
}

fn doctor(t: &Tree, files: &[&str], placement: Placement) -> elfroot::Result<(Status, String)> {
    let config = DoctorConfig {
        target: root_config(t),
        files: files.iter().map(PathBuf::from).collect(),
        placement,
        json: true,
    };
    let mut out = Vec::new();
    let outcome = elfroot::doctor::run(&config, &mut out)?;
    Ok((outcome.status, String::from_utf8(out).unwrap()))
}

#[test]
fn doctor_run_gives_each_verdict_and_the_status() {
    let t = root();
    let (status, json) = doctor(&t, &["/usr/bin/app"], Placement::InRoot).unwrap();
    assert_eq!(status, Status::Clean, "{json}");
    let (status, json) =
        doctor(&t, &["/usr/bin/app", "/usr/bin/broken"], Placement::InRoot).unwrap();
    assert_eq!(status, Status::Findings);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["programs"][0]["starts"], true);
    assert_eq!(doc["programs"][1]["starts"], false);
    assert_eq!(doc["programs"][1]["findings"][0]["code"], "library-missing");
    // One placement for two programs is a usage error, before anything is read.
    let two = doctor(
        &t,
        &["/bin/true", "/bin/false"],
        Placement::Host {
            at: Some("/app".into()),
        },
    );
    assert!(matches!(two, Err(elfroot::Error::Usage(_))));
}

fn bundle_config(t: &Tree, file: &str, out: &Path) -> BundleConfig {
    BundleConfig {
        root: root_config(t),
        files: vec![PathBuf::from(file)],
        output: Output::Path(out.to_path_buf()),
        format: None,
        mtime: Some(0),
        force: false,
        options: BundleOptions::default(),
        depfile: None,
        json: false,
        allow_missing: false,
        allow_broken: false,
        image: ImageConfig::default(),
        sbom: None,
    }
}

#[test]
fn bundle_run_writes_the_closure_or_refuses_and_writes_nothing() {
    let t = root();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("app-root");
    let mut sink = Vec::new();
    let outcome =
        elfroot::bundle::run(&bundle_config(&t, "/usr/bin/app", &out), &mut sink).expect("bundle");
    assert_eq!(outcome.status, Status::Clean, "{:?}", outcome.diagnostics);
    for p in [
        "usr/bin/app",
        "usr/lib/libf.so",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "lib64/ld-linux-x86-64.so.2",
        "etc/passwd",
    ] {
        assert!(out.join(p).exists(), "{p} missing from the bundle");
    }

    // A missing library: refused, nothing written, and the diagnostics say why.
    let refused = dir.path().join("broken-root");
    let config = bundle_config(&t, "/usr/bin/broken", &refused);
    let outcome = elfroot::bundle::run(&config, &mut sink).expect("bundle");
    assert_eq!(outcome.status, Status::Findings);
    assert!(!refused.exists(), "a refused bundle was written");
    let text: Vec<String> = outcome.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|l| l.contains("libgone.so: missing")),
        "{text:?}"
    );
    assert!(
        text.last().unwrap().starts_with("nothing written to"),
        "{text:?}"
    );

    // Allowing the missing library writes it, with the problem still reported.
    let config = BundleConfig {
        allow_missing: true,
        ..config
    };
    let outcome = elfroot::bundle::run(&config, &mut sink).expect("bundle");
    assert_eq!(outcome.status, Status::Clean);
    assert!(refused.join("usr/bin/broken").exists());
    assert!(
        matches!(&outcome.diagnostics[..], [Diagnostic::Problem(m), Diagnostic::Note(n)]
            if m.contains("libgone.so") && n.starts_with("bundled ")),
        "{:?}",
        outcome.diagnostics
    );
}

#[test]
fn bundle_run_rejects_image_settings_for_a_plain_layer() {
    let t = root();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("app.tar");
    let mut config = bundle_config(&t, "/usr/bin/app", &out);
    config.image.tag = Some("1.0".into());
    let err = elfroot::bundle::run(&config, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, elfroot::Error::Usage(_)), "{err}");
    assert!(
        !err.to_string().contains("--"),
        "library messages name no flags: {err}"
    );
    assert!(!out.exists());
}
