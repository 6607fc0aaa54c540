//! The run-time files discovery finds, seen from the other commands: `tree
//! --runtime` and `list --paths --runtime` show what a bundle holds, with the
//! same reasons as its manifest; `doctor` warns when a target lacks them.

use std::collections::BTreeSet;

use crate::util::*;

/// Host programs that name run-time files of their own packages.
const PROGRAMS: &[&str] = &[
    "/usr/bin/convert-im6.q16",
    "/usr/bin/file",
    "/usr/bin/php8.2",
];

/// (path, reason) of what `tree --runtime --json` shows for `program`.
fn runtime_view(program: &str) -> Vec<(String, String)> {
    let run = elfroot(&["tree", "--runtime", "--json", program]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["inputs"][0]["runtime"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                    (s("path"), s("reason"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The reasons a discovery rule gives in a manifest (not the closure's,
/// the libc's or elfroot's own).
fn discovered(reason: &str) -> bool {
    reason.starts_with("path named in ")
        || reason.starts_with("working directory named in ")
        || reason.starts_with("directory of ")
        || reason.starts_with("time zones named in ")
        || reason.ends_with(" database (getservbyname/getservbyport)")
        || reason.ends_with(" database (getprotobyname/getprotobynumber)")
}

#[test]
fn the_runtime_view_shows_what_the_bundle_holds_with_the_same_reasons() {
    for program in PROGRAMS {
        if !std::path::Path::new(program).exists() {
            elfroot::testing::skip(&format!("{program} is not installed"));
            continue;
        }
        let view = runtime_view(program);
        assert!(
            view.iter().any(|(_, r)| r.starts_with("path named in ")),
            "{program}: nothing named: {view:?}"
        );
        let b = BundleTest::new([program])
            .named("root")
            .arg("--json")
            .run()
            .success();
        let doc = b.run.json();
        let entries = doc["entries"].as_array().expect("entries");
        let reason_of = |path: &str| {
            entries
                .iter()
                .find(|e| e["path"] == path)
                .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        };
        for (path, reason) in &view {
            // /lib/terminfo is /usr/lib/terminfo in a merged-/usr root: the
            // bundle holds it at the path the links on the way lead to.
            let p = std::path::Path::new(path);
            let parent = std::fs::canonicalize(p.parent().unwrap()).unwrap();
            let at = parent.join(p.file_name().unwrap());
            assert_eq!(
                reason_of(path)
                    .or_else(|| reason_of(&at.to_string_lossy()))
                    .as_deref(),
                Some(reason.as_str()),
                "{program}: {path}"
            );
        }
        // And the other way: every reason discovery gave in the manifest is one the view shows.
        let shown: BTreeSet<&str> = view.iter().map(|(_, r)| r.as_str()).collect();
        let in_bundle: BTreeSet<&str> = entries
            .iter()
            .filter_map(|e| e["reason"].as_str())
            .filter(|r| discovered(r))
            .collect();
        assert_eq!(in_bundle, shown, "{program}");
        // `list --paths --runtime`: the closure, then the same files.
        let paths = elfroot(&["list", "--paths", "--runtime", program]);
        let listed: BTreeSet<&str> = paths.stdout.lines().collect();
        for (path, _) in &view {
            assert!(listed.contains(path.as_str()), "{program}: {path}");
        }
        let plain = elfroot(&["list", "--paths", program]);
        assert!(plain.stdout.lines().all(|l| listed.contains(l)));
        assert_eq!(listed.len(), plain.stdout.lines().count() + view.len());
    }
}

/// The causes of the runtime-file-missing findings of `doctor --json`.
fn missing_runtime_files(target: &std::path::Path, program: &str) -> Vec<String> {
    let run = elfroot(&[
        "doctor",
        "--json",
        "--root",
        &target.to_string_lossy(),
        program,
    ]);
    // Warnings only: the program starts, and doctor exits 0.
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()["programs"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "runtime-file-missing")
        .filter_map(|f| f["cause"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn doctor_warns_when_a_target_lacks_what_discovery_finds() {
    let program = "/usr/bin/convert-im6.q16";
    if !std::path::Path::new(program).exists() {
        return elfroot::testing::skip("ImageMagick is not installed");
    }
    let bare = BundleTest::new([program])
        .named("bare")
        .args(["--discover", "none"])
        .run()
        .success();
    let causes = missing_runtime_files(&bare.out, program);
    let coders = causes
        .iter()
        .find(|c| c.contains("/ImageMagick-6.") && c.contains("path named in "))
        .unwrap_or_else(|| panic!("no warning for the coder directory: {causes:#?}"));
    assert!(coders.contains("libMagickCore"), "{coders}");
    assert!(coders.ends_with("absent in the target"), "{coders}");
    let full = BundleTest::new([program]).named("full").run().success();
    let causes = missing_runtime_files(&full.out, program);
    assert!(
        !causes.iter().any(|c| c.contains("named in ")),
        "{causes:#?}"
    );
}

#[test]
fn prefix_relative_names_and_time_zone_files_bring_their_directories() {
    let t = Tree::new();
    t.with_host_glibc();
    // A program that joins share/app/templates to its prefix (/usr), as git
    // does, and names a file of the time zone database, as php does.
    t.exe(
        "usr/bin/app",
        "#include <stdio.h>\nint main(void) { puts(\"share/app/templates\"); \
         puts(\"/usr/share/zoneinfo/zone.tab\"); return 0; }\n",
        &[],
    );
    t.write("usr/share/app/templates/hooks/README", "x\n");
    t.write("usr/share/zoneinfo/zone.tab", "tab\n");
    t.write("usr/share/zoneinfo/UTC", "TZif\n");
    // The same name relative to another prefix is not the program's.
    t.write("opt/share/app/templates/other", "x\n");
    let run = elfroot(&[
        "tree",
        "--runtime",
        "--json",
        "--root",
        &t.s(""),
        "/usr/bin/app",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let found: Vec<(String, String)> = run.json()["inputs"][0]["runtime"]
        .as_array()
        .expect("runtime")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("path"), s("reason"))
        })
        .collect();
    // No package database here: the path as named, not widened.
    assert!(
        found.contains(&(
            "/usr/share/app/templates".into(),
            "path named in /usr/bin/app".into()
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            "/usr/share/zoneinfo".into(),
            "time zones named in /usr/bin/app".into()
        )),
        "{found:?}"
    );
    let b = BundleTest::new(["/usr/bin/app"])
        .args(["--root", &t.s("")])
        .output(t.path().join("out"))
        .run()
        .success();
    let out = b.out;
    assert!(out.join("usr/share/app/templates/hooks/README").is_file());
    assert!(out.join("usr/share/zoneinfo/UTC").is_file());
    assert!(!out.join("opt").exists());
}
