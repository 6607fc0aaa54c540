//! `bundle --profile`: bundles made with the profiles of `trace`'s test
//! programs (and of part 7's programs that static discovery leaves short)
//! must run under runc as the programs run on the host, be reproducible,
//! and say why each recorded path is there.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::trace::{Programs, trace};
use crate::util::*;

/// Runs `argv` with `env` in the directory bundle `rootfs` with runc, as
/// [`run_program`] runs it on the host (same PATH, in `/`).
fn runc(rootfs: &Path, argv: &[&str], env: &[(&str, &str)]) -> Outcome {
    runc_input(rootfs, argv, env, b"", None)
}

/// [`runc`], with `stdin` as standard input and `volume`, a host directory,
/// mounted at the same path.
fn runc_input(
    rootfs: &Path,
    argv: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
    volume: Option<&Path>,
) -> Outcome {
    let work = tempfile::tempdir().unwrap();
    run_ok(Command::new("runc").arg("spec").current_dir(work.path()));
    let cfg_path = work.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&cfg_path).unwrap()).unwrap();
    let mut vars = vec!["PATH=/usr/bin:/bin:/usr/sbin:/sbin".to_string()];
    vars.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!(argv);
    cfg["process"]["env"] = serde_json::json!(vars);
    cfg["root"]["path"] = rootfs.to_str().unwrap().into();
    cfg["root"]["readonly"] = false.into();
    if let Some(v) = volume {
        let v = v.to_str().unwrap();
        let mount = serde_json::json!({"destination": v, "type": "bind", "source": v,
            "options": ["rbind", "rw"]});
        cfg["mounts"].as_array_mut().unwrap().push(mount);
    }
    fs::write(&cfg_path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let name = work.path().file_name().unwrap().to_string_lossy();
    let id = format!("elfroot-trace-{}", name.trim_start_matches('.'));
    let out = with_input(
        Command::new("runc")
            .args(["run", "--bundle"])
            .arg(work.path())
            .arg(&id),
        stdin,
    );
    // `runc run` removes the container when it exits; this is for a failure half way.
    let _ = Command::new("runc")
        .args(["delete", "--force", &id])
        .output();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Runs `cmd` with `stdin` as its input.
fn with_input(cmd: &mut Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A program that exits without reading its input closes the pipe: fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// Traces `argv` with `env` into `profile`, bundles its program with the
/// profile, and gives (on the host, in the bundle under runc).
fn traced_bundle(profile: &Path, argv: &[&str], env: &[(&str, &str)]) -> (Outcome, Outcome) {
    let env_args: Vec<String> = env.iter().map(|(k, v)| format!("--env={k}={v}")).collect();
    let env_args: Vec<&str> = env_args.iter().map(String::as_str).collect();
    let (run, _) = trace(profile, &env_args, argv);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let bundle = BundleTest::new([argv[0]])
        .arg("--profile")
        .arg(profile)
        .run()
        .success();
    // Nothing but the summary line: no warning about the profile.
    assert!(
        bundle
            .run
            .stderr
            .lines()
            .all(|l| l.starts_with("elfroot: bundled ")),
        "{}",
        bundle.run.stderr
    );
    (
        run_program(None, argv, env, b""),
        runc(&bundle.out, argv, env),
    )
}

fn need_runc() -> bool {
    if !root_for("runc") {
        return false;
    }
    if !have("runc") {
        skip("runc not installed (apt-get install runc)");
        return false;
    }
    true
}

#[test]
fn bundles_made_with_profiles_run_under_runc_as_on_the_host() {
    if !need_runc() {
        return;
    }
    let ps = Programs::build();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<String>); 4] = [
        (
            "loader",
            vec![ps.s("bin/loader"), ps.s("plugins/libgreet.so")],
        ),
        ("reader", vec![ps.s("bin/reader"), ps.s("etc/reader.conf")]),
        ("script", vec![ps.s("bin/run.sh")]),
        ("threads", vec![ps.s("bin/threads"), ps.s("data")]),
    ];
    for (name, argv) in &cases {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (host, bundled) = traced_bundle(&dir.path().join(name), &argv, &[]);
        assert_eq!(host, bundled, "{name}");
        assert!(
            !host.0.is_empty() && !host.0.contains("no plugin"),
            "{name}: {host:?}"
        );
    }
    // Without the profile, the plugin and the configured file are not there.
    for (name, argv) in &cases[..2] {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let plain = BundleTest::new([argv[0]]).run().success();
        let host = run_program(None, &argv, &[], b"");
        assert_ne!(
            runc(&plain.out, &argv, &[]),
            host,
            "{name} runs without its profile"
        );
    }
}

#[test]
fn a_child_that_outlives_its_parent_finds_its_file_in_the_bundle() {
    if !root_for("running a bundle with chroot") {
        return;
    }
    // Under runc the container ends with its first process, and the child
    // with it: the bundle is run with chroot, which waits for the output.
    let ps = Programs::build();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let argv = [ps.s("bin/orphan"), ps.s("data/late")];
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    trace(&profile, &[], &argv);
    let bundle = BundleTest::new([argv[0]])
        .arg("--profile")
        .arg(&profile)
        .run()
        .success();
    as_a_runtime_would(&bundle.out);
    let host = run_program(None, &argv, &[], b"");
    assert_eq!(host.0, "late: after the parent\n");
    assert_eq!(run_program(Some(&bundle.out), &argv, &[], b""), host);
}

#[test]
fn profile_bundles_are_reproducible_and_say_why_each_path_is_there() {
    let ps = Programs::build();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let argv = [ps.s("bin/loader"), ps.s("plugins/libgreet.so")];
    trace(&profile, &[], &[&argv[0], &argv[1]]);
    let [a, b] = ["a.tar", "b.tar"].map(|n| {
        BundleTest::new([&argv[0]])
            .named(n)
            .arg("--profile")
            .arg(&profile)
            .run()
            .success()
    });
    assert_eq!(fs::read(&a.out).unwrap(), fs::read(&b.out).unwrap());
    let json = BundleTest::new([&argv[0]])
        .args(["--json", "--profile"])
        .arg(&profile)
        .run()
        .success()
        .run
        .json();
    let plugin = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == argv[1].as_str())
        .unwrap_or_else(|| panic!("no plugin in {json}"));
    assert_eq!(plugin["reason"], format!("profile {}", profile.display()));

    // A path the root no longer has is a warning naming it.
    let mut text = fs::read_to_string(&profile).unwrap();
    text.push_str("file /nonexistent/gone\n");
    fs::write(&profile, text).unwrap();
    let run = BundleTest::new([&argv[0]])
        .arg("--profile")
        .arg(&profile)
        .run()
        .success();
    assert!(
        run.run
            .stderr
            .contains("warning: /nonexistent/gone: recorded in"),
        "{}",
        run.run.stderr
    );
    fs::write(&profile, "file relative\n").unwrap();
    let run = BundleTest::new([&argv[0]])
        .arg("--profile")
        .arg(&profile)
        .run();
    assert_eq!(run.run.code, 2);
    assert!(run.run.stderr.contains("line 1"), "{}", run.run.stderr);
}

/// One of part 7's programs that static discovery leaves short.
struct Harder {
    /// The command; `{W}` is a work directory, mounted in the container.
    argv: &'static [&'static str],
    stdin: &'static str,
    /// Writes the inputs into the work directory.
    setup: fn(&Path),
    /// What the program writes in the work directory, removed after each run.
    output: Option<&'static str>,
}

/// Part 7's programs that static discovery leaves short (the program make
/// runs, the shell git clone of a local repository and zip -T run, and what
/// they start through it): traced once with the very
/// command, bundled with the profile, they run under runc as on the host;
/// bundled without it, they do not.
#[test]
fn harder_real_programs_run_under_runc_with_their_profiles() {
    if !need_runc() {
        return;
    }
    let none = |_: &Path| {};
    let cases = [
        Harder {
            argv: &["/usr/bin/make", "-f", "-"],
            stdin: "all:\n\t@echo made\n",
            setup: none,
            output: None,
        },
        Harder {
            argv: &["/usr/bin/git", "clone", "{W}/repo", "{W}/clone"],
            stdin: "",
            setup: crate::real_programs::repository,
            output: Some("clone"),
        },
        Harder {
            argv: &["/usr/bin/zip", "-T", "{W}/a.zip"],
            stdin: "",
            setup: crate::real_programs::zipped,
            output: None,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    for case in &cases {
        if !Path::new(case.argv[0]).exists() {
            let why = format!(
                "{} is not installed (scripts/test.sh installs it)",
                case.argv[0]
            );
            skip(&why);
            continue;
        }
        check_harder(case, dir.path());
    }
}

/// Traces, bundles and runs one [`Harder`] case.
fn check_harder(case: &Harder, dir: &Path) {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    (case.setup)(w);
    let argv: Vec<String> = case
        .argv
        .iter()
        .map(|a| a.replace("{W}", w.to_str().unwrap()))
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let stdin = case.stdin.as_bytes();
    let clean = || {
        if let Some(o) = case.output {
            let _ = fs::remove_dir_all(w.join(o));
        }
    };
    let profile = dir.join(argv[0].rsplit('/').next().unwrap());
    let mut cmd = elfroot_command(["trace", "-o", profile.to_str().unwrap(), "--cwd", "/"]);
    cmd.env_clear().env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin");
    let traced = with_input(cmd.arg("--").args(&argv), stdin);
    clean();
    let host = run_program(None, &argv, &[], stdin);
    clean();
    let shown = String::from_utf8_lossy(&traced.stdout);
    assert_eq!(shown, host.0, "{argv:?} traced");
    let with = BundleTest::new([argv[0]])
        .arg("--profile")
        .arg(&profile)
        .run()
        .success();
    let bundled = runc_input(&with.out, &argv, &[], stdin, Some(w));
    clean();
    assert_eq!(bundled, host, "{argv:?}");
    let without = BundleTest::new([argv[0]]).run().success();
    let plain = runc_input(&without.out, &argv, &[], stdin, Some(w));
    clean();
    assert_ne!(
        plain, host,
        "{argv:?} runs without its profile: the test proves nothing"
    );
}
