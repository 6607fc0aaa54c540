//! `elfroot bundle`: the bundle must run. Each program is bundled into an
//! empty directory, /etc/hosts is copied in as a container runtime would
//! mount it, and `chroot DIR PROGRAM ARGS` must print what the program
//! prints on the host, with the same exit status.

use std::path::Path;
use std::process::Command;

use crate::util::*;

fn run_in(root: Option<&Path>, argv: &[&str]) -> Outcome {
    run_program(root, argv, &[("HOME", "/root")], b"")
}

/// True when bundles can be run with chroot here, which needs root;
/// otherwise [`skip`]s (a failure under CI) and returns false. Tests whose
/// bundle checks need no root call it just before running the bundle.
fn can_chroot() -> bool {
    if !is_root() {
        skip("bundles are run with chroot, which needs root");
        return false;
    }
    true
}

#[test]
fn twenty_programs_run_from_their_bundles_as_on_the_host() {
    if !can_chroot() {
        return;
    }
    let py = "import json, ssl; print(json.dumps([1]), ssl.OPENSSL_VERSION)";
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["/usr/bin/bash", "-c", "echo hello; exit 3"], vec![]),
        (vec!["/usr/bin/ls", "--version"], vec![]),
        (vec!["/usr/bin/curl", "--version"], vec![]),
        (vec!["/usr/bin/git", "--version"], vec![]),
        (
            vec!["/usr/bin/python3", "-c", py],
            vec!["--add", "/usr/lib/python3.11"],
        ),
        (vec!["/usr/bin/perl", "-e", "print qq(perl ok\\n)"], vec![]),
        (vec!["/usr/bin/openssl", "version"], vec![]),
        (vec!["/usr/bin/tar", "--version"], vec![]),
        (vec!["/usr/bin/gzip", "--version"], vec![]),
        (vec!["/usr/bin/ssh", "-V"], vec![]),
        (vec!["/usr/bin/sqlite3", "--version"], vec![]),
        (vec!["/usr/bin/sed", "--version"], vec![]),
        (vec!["/usr/bin/grep", "--version"], vec![]),
        (vec!["/usr/bin/find", "--version"], vec![]),
        (vec!["/usr/bin/diff", "--version"], vec![]),
        (vec!["/usr/bin/xz", "--version"], vec![]),
        (vec!["/usr/bin/zstd", "--version"], vec![]),
        (vec!["/usr/bin/date", "-u", "-d", "@86400"], vec![]),
        (vec!["/usr/bin/make", "--version"], vec![]),
        (vec!["/usr/bin/readelf", "--version"], vec![]),
        (vec!["/usr/bin/objdump", "--version"], vec![]),
        (vec!["/usr/bin/jq", "-n", "[1,2]|add"], vec![]),
        (vec!["/usr/bin/gpg", "--version"], vec![]),
        (vec!["/usr/bin/sha256sum", "/etc/passwd"], vec![]),
        (vec!["/usr/bin/uname", "-s"], vec![]),
    ];
    let mut ran = 0;
    let mut failures = Vec::new();
    for (argv, extra) in &cases {
        if !Path::new(argv[0]).exists() {
            eprintln!("not on this machine: {}", argv[0]);
            continue;
        }
        let bundle = BundleTest::new(&argv[..1]).args(extra).run().success();
        let root = bundle.out;
        as_a_runtime_would(&root);
        // sha256sum reads /etc/passwd: give it the bundle's own.
        let host = if argv[0].ends_with("sha256sum") {
            let mut a = argv.clone();
            let p = root.join("etc/passwd").to_string_lossy().into_owned();
            a[1] = Box::leak(p.into_boxed_str());
            let mut o = run_in(None, &a);
            o.0 = o.0.replace(a[1], "/etc/passwd");
            o
        } else {
            run_in(None, argv)
        };
        let inside = run_in(Some(&root), argv);
        ran += 1;
        if host != inside {
            failures.push(format!(
                "{argv:?}\n  host:   {host:?}\n  bundle: {inside:?}"
            ));
        }
    }
    assert!(ran >= 20, "only {ran} programs available");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn user_and_host_lookups_work_in_the_bundle() {
    if !can_chroot() {
        return;
    }
    let bundle = BundleTest::new(["/usr/bin/getent", "/usr/bin/id"])
        .run()
        .success();
    let out = &bundle.out;
    as_a_runtime_would(out);
    // The bundle's passwd holds the root's own line for root (part 7).
    let (o, e, c) = run_in(Some(out), &["/usr/bin/getent", "passwd", "root"]);
    let (host, _, _) = run_in(None, &["/usr/bin/getent", "passwd", "root"]);
    assert_eq!((o.as_str(), c), (host.as_str(), 0), "{e}");
    assert!(o.starts_with("root:x:0:0:"), "{o}");
    let (o, e, c) = run_in(Some(out), &["/usr/bin/getent", "hosts", "localhost"]);
    assert_eq!(c, 0, "{e}");
    assert!(o.contains("localhost"), "{o}");
    let (o, e, c) = run_in(Some(out), &["/usr/bin/id", "-un"]);
    assert_eq!((o.as_str(), c), ("root\n", 0), "{e}");
    assert!(out.join("etc/nsswitch.conf").is_file());
}

#[test]
fn a_library_known_only_to_the_roots_cache_loads_in_the_bundle() {
    if !can_chroot() {
        return;
    }
    let t = Tree::new();
    t.with_host_glibc();
    t.lib(
        "opt/custom/lib/libcustom.so.1",
        "#include <stdio.h>\nint f(void) { return puts(\"custom library loaded\") < 0; }\n",
        &[],
    );
    let l = format!("-L{}", t.s("opt/custom/lib"));
    t.exe(
        "usr/bin/app",
        "int f(void); int main(void) { return f(); }\n",
        &[&l, "-l:libcustom.so.1"],
    );
    t.write("etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
    t.write("etc/ld.so.conf.d/custom.conf", "/opt/custom/lib\n");
    run_ok(Command::new("ldconfig").arg("-r").arg(t.path()));
    let bundle = BundleTest::new(["/usr/bin/app"])
        .arg("--root")
        .arg(t.path())
        .run()
        .success();
    let out = &bundle.out;
    assert!(
        out.join("etc/ld.so.cache").is_file(),
        "the bundle needs its own cache"
    );
    assert!(out.join("opt/custom/lib/libcustom.so.1").is_file());
    // In the bundle only the cache leads to /opt/custom/lib (ld.so reads
    // no ld.so.conf).
    let doc = elfroot(&[
        "list",
        "--json",
        "--root",
        &out.to_string_lossy(),
        "/usr/bin/app",
    ])
    .json();
    let custom = doc["inputs"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == "/opt/custom/lib/libcustom.so.1")
        .expect("libcustom.so.1 resolves in the bundle");
    assert_eq!(custom["found_by"], "cache", "{custom}");
    let (o, e, c) = run_in(Some(out), &["/usr/bin/app"]);
    assert_eq!((o.as_str(), c), ("custom library loaded\n", 0), "{e}");
    // glibc's own tools read the cache elfroot wrote.
    let listed = run_ok(
        Command::new("ldconfig")
            .arg("-p")
            .arg("-C")
            .arg(out.join("etc/ld.so.cache")),
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("libcustom.so.1 (libc6,x86-64) => /opt/custom/lib/libcustom.so.1"),
        "{listed}"
    );
}

#[test]
fn a_tar_bundle_runs_under_runc() {
    if !can_chroot() {
        return;
    }
    if !have("runc") {
        return skip("runc not installed (apt-get install runc)");
    }
    let layer = BundleTest::new(["/usr/bin/ls"])
        .named("layer.tar")
        .run()
        .success();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(&layer.out)
            .arg("-C")
            .arg(&rootfs),
    );
    run_ok(Command::new("runc").arg("spec").current_dir(&bundle));
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!(["/usr/bin/ls", "--version"]);
    cfg["root"]["readonly"] = true.into();
    std::fs::write(&cfg_path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let id = format!("elfroot-test-{}", std::process::id());
    let out = Command::new("runc")
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .output()
        .unwrap();
    let host = run_in(None, &["/usr/bin/ls", "--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        host.0,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_same_inputs_give_byte_identical_layers() {
    for ext in ["tar", "tar.gz", "tar.zst"] {
        let [a, b] = ["a", "b"].map(|name| {
            BundleTest::new(["/usr/bin/curl"])
                .named(&format!("{name}.{ext}"))
                .run()
                .success()
        });
        let (x, y) = (
            std::fs::read(&a.out).unwrap(),
            std::fs::read(&b.out).unwrap(),
        );
        assert!(x.len() > 1000);
        assert!(x == y, "{ext}: two runs differ");
    }
    // SOURCE_DATE_EPOCH sets every mtime; tar lists it.
    let c = BundleTest::new(["/usr/bin/ls"])
        .named("c.tar")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .run()
        .success();
    let list = run_ok(
        Command::new("tar")
            .args(["--numeric-owner", "--full-time", "-tvf"])
            .arg(&c.out),
    );
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .all(|l| l.contains("0/0") && l.contains("2023-11-14")),
        "{list}"
    );
    // Links stay links: the merged-/usr directory links and SONAME links.
    assert!(list.contains("lib -> usr/lib"), "{list}");
    assert!(
        list.lines().any(|l| l.contains("libpcre2-8.so.0 -> ")),
        "{list}"
    );
}

#[test]
fn a_tar_goes_to_stdout() {
    let tar = BundleTest::new(["/usr/bin/ls"]).on_stdout().run().success();
    let list = run_ok(Command::new("tar").arg("-tf").arg(&tar.out));
    assert!(String::from_utf8_lossy(&list.stdout).contains("usr/bin/ls"));
}

#[test]
fn a_missing_library_writes_nothing() {
    let t = Tree::new();
    t.lib("gone/libgone.so", "int g(void) { return 0; }\n", &[]);
    let l = format!("-L{}", t.s("gone"));
    let app = t.exe(
        "app",
        "int g(void); int main(void) { return g(); }\n",
        &[&l, "-lgone"],
    );
    std::fs::remove_file(t.at("gone/libgone.so")).unwrap();
    let out = t.write("out.tar", "previous contents");
    let run = BundleTest::new([&app]).output(&out).run().status(1).run;
    assert!(
        run.stderr.contains("libgone.so")
            && run.stderr.contains(&app.to_string_lossy().to_string()),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous contents");
    let leftovers: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let dir_out = t.at("outdir");
    BundleTest::new([&app]).output(&dir_out).run().status(1);
    assert!(!dir_out.exists());
    BundleTest::new([&app])
        .output(&dir_out)
        .arg("--allow-missing")
        .run()
        .success();
    assert!(dir_out.join(app.strip_prefix("/").unwrap()).is_file());
    // An existing non-empty directory is refused without --force.
    let line = BundleTest::new(["/usr/bin/ls"])
        .output(&dir_out)
        .run()
        .error_line();
    assert!(line.contains("--force"), "{line}");
}

#[test]
fn scripts_bring_their_interpreter_and_crlf_is_refused() {
    let t = Tree::new();
    let script = t.write("hello.sh", "#!/bin/sh\necho \"hello from sh\"\n");
    run_ok(Command::new("chmod").arg("755").arg(&script));
    let bundle = BundleTest::new([&script])
        .args(["--dest", "/hello"])
        .run()
        .success();
    let out = &bundle.out;
    assert!(out.join("hello").is_file());
    assert!(
        std::fs::symlink_metadata(out.join("bin"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The interpreter /bin/sh names, as a file (/usr/bin/dash on Debian).
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    let sh_inside = out.join(sh.strip_prefix("/").unwrap());
    assert!(
        std::fs::symlink_metadata(&sh_inside).is_ok_and(|m| m.is_file()),
        "{} is not in the bundle",
        sh.display()
    );
    if can_chroot() {
        as_a_runtime_would(out);
        let (o, e, c) = run_in(Some(out), &["/hello"]);
        assert_eq!((o.as_str(), c), ("hello from sh\n", 0), "{e}");
    }
    let crlf = t.write("crlf.sh", "#!/bin/sh\r\necho hi\r\n");
    let line = BundleTest::new([&crlf]).run().error_line();
    assert!(line.contains("CRLF") && line.contains("crlf.sh"), "{line}");
}

#[test]
fn a_symlinked_input_stays_a_symlink_and_the_manifest_says_why() {
    let bundle = BundleTest::new(["/usr/bin/python3"])
        .args(["--json", "--dlopen", "none"])
        .run()
        .success();
    let link = std::fs::read_link(bundle.out.join("usr/bin/python3")).unwrap();
    assert_eq!(link, std::fs::read_link("/usr/bin/python3").unwrap());
    let doc = bundle.run.json();
    assert_eq!(doc["schema"], "elfroot-bundle");
    let entries = doc["entries"].as_array().unwrap();
    let find = |p: &str| {
        entries
            .iter()
            .find(|e| e["path"] == p)
            .unwrap_or_else(|| panic!("{p} not in manifest"))
    };
    assert_eq!(find("/usr/bin/python3")["kind"], "symlink");
    assert_eq!(find("/usr/bin/python3")["reason"], "input");
    let libc = find("/usr/lib/x86_64-linux-gnu/libc.so.6");
    assert_eq!(libc["kind"], "file");
    assert!(
        libc["reason"].as_str().unwrap().starts_with("needed by "),
        "{libc}"
    );
    assert!(
        find("/usr/lib64/ld-linux-x86-64.so.2")["reason"]
            .as_str()
            .unwrap()
            .contains("interpreter")
    );
    assert_eq!(find("/etc/nsswitch.conf")["kind"], "generated");
    assert!(
        find("/usr/lib/x86_64-linux-gnu/libnss_files.so.2")["reason"]
            .as_str()
            .unwrap()
            .contains("NSS")
    );
}

#[test]
fn the_depfile_lists_every_host_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("layer.tar");
    let dep = dir.path().join("layer.d");
    let bundle = BundleTest::new(["/usr/bin/ls"])
        .output(&out)
        .args(["--json", "--depfile"])
        .arg(&dep)
        .run()
        .success();
    let text = std::fs::read_to_string(&dep).unwrap();
    assert!(text.starts_with(&format!("{}:", out.display())), "{text}");
    // Every file copied from the host, as the manifest lists them.
    let doc = bundle.run.json();
    let sources: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["source"].as_str())
        .collect();
    assert!(sources.len() > 3, "{}", bundle.run.stdout);
    let listed: Vec<&str> = text.split_whitespace().skip(1).collect();
    for source in sources {
        assert!(listed.contains(&source), "{source} not in:\n{text}");
    }
    for f in [
        "/usr/bin/ls",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libselinux.so.1",
    ] {
        let real = std::fs::canonicalize(f).unwrap();
        assert!(
            text.contains(&real.to_string_lossy().to_string()),
            "{f} not in:\n{text}"
        );
    }
}

#[test]
fn dlopen_notes_and_added_elf_files_bring_their_closures() {
    let t = Tree::new();
    let plug = t.s("plug");
    t.lib(
        "plug/libplug.so.1",
        "#include <stdio.h>\nvoid hello(void) { puts(\"plugin says hello\"); }\n",
        &[],
    );
    // A library with an FDO .note.dlopen naming libplug.so.1 as required.
    let json = r#"[{\"feature\":\"hello\",\"soname\":[\"libnope.so.9\",\"libplug.so.1\"],\"priority\":\"required\"}]"#;
    let note_src = format!(
        "#define J \"{json}\"\nstruct n {{ unsigned a, b, c; char name[4]; char desc[(sizeof J + 3) & ~3]; }};\n\
         __attribute__((section(\".note.dlopen\"), used, aligned(4))) static const struct n note = {{ 4, sizeof J, 0x407c0c0a, \"FDO\", J }};\n\
         #include <dlfcn.h>\nint run(void) {{ void *h = dlopen(\"libplug.so.1\", RTLD_NOW); if (!h) return 1; ((void (*)(void))dlsym(h, \"hello\"))(); return 0; }}\n"
    );
    t.lib("lib/libhost.so", &note_src, &[]);
    let l = format!("-L{}", t.s("lib"));
    // RPATH, which the dlopen in libhost inherits (a RUNPATH would not be).
    let rp = format!("-Wl,-rpath,{}:{plug}", t.s("lib"));
    let app = t.exe(
        "app",
        "int run(void); int main(void) { return run(); }\n",
        &[&l, "-lhost", &rp, "-Wl,--disable-new-dtags"],
    );
    let host = run_in(None, &[&app.to_string_lossy()]);
    assert_eq!(
        (host.0.as_str(), host.2),
        ("plugin says hello\n", 0),
        "{}",
        host.1
    );
    let bundle = BundleTest::new([&app]).arg("--json").run().success();
    let out = &bundle.out;
    let doc = bundle.run.json();
    let plug_entry = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == format!("{plug}/libplug.so.1"))
        .expect("the dlopen'ed plugin is in the bundle");
    assert!(
        plug_entry["reason"]
            .as_str()
            .unwrap()
            .starts_with("dlopen note of"),
        "{plug_entry}"
    );
    if can_chroot() {
        as_a_runtime_would(out);
        let (o, e, c) = run_in(Some(out), &[&app.to_string_lossy()]);
        assert_eq!((o.as_str(), c), ("plugin says hello\n", 0), "{e}");
    }
    // --dlopen none leaves it out.
    let none = BundleTest::new([&app])
        .args(["--dlopen", "none"])
        .run()
        .success();
    assert!(
        !none
            .out
            .join(plug.trim_start_matches('/'))
            .join("libplug.so.1")
            .exists()
    );
    // --add of an ELF file brings its closure, at DEST.
    let add = format!("{plug}/libplug.so.1:/plugins/libplug.so.1");
    // libselinux needs libpcre2-8, which true does not.
    let selinux = "/usr/lib/x86_64-linux-gnu/libselinux.so.1";
    let added = BundleTest::new(["/usr/bin/true"])
        .args([
            "--add",
            &add,
            "--add",
            &format!("{selinux}:/plugins/libselinux.so.1"),
        ])
        .run()
        .success();
    let out3 = &added.out;
    assert!(out3.join("plugins/libplug.so.1").is_file());
    assert!(out3.join("usr/lib/x86_64-linux-gnu/libc.so.6").is_file());
    assert!(out3.join("plugins/libselinux.so.1").is_file());
    assert!(
        out3.join("usr/lib/x86_64-linux-gnu/libpcre2-8.so.0")
            .exists(),
        "the closure of an added library"
    );
}

#[test]
fn a_musl_program_bundle_runs() {
    if !have("musl-gcc") {
        return skip("musl-gcc not installed (apt-get install musl-tools)");
    }
    let t = Tree::new();
    let app = t.build(
        "musl-gcc",
        "#include <stdio.h>\nint main(void) { puts(\"musl bundle ok\"); return 0; }\n",
        "app",
        &[],
    );
    let bundle = BundleTest::new([&app])
        .args(["--dest", "/app"])
        .run()
        .success();
    let out = &bundle.out;
    assert!(!out.join("etc/nsswitch.conf").exists(), "musl has no NSS");
    assert!(out.join("etc/passwd").exists());
    if can_chroot() {
        as_a_runtime_would(out);
        let (o, e, c) = run_in(Some(out), &["/app"]);
        assert_eq!((o.as_str(), c), ("musl bundle ok\n", 0), "{e}");
    }
}

#[test]
fn thread_cancellation_brings_libgcc_s() {
    let t = Tree::new();
    let app = t.exe(
        "app",
        "#include <pthread.h>\n#include <unistd.h>\nstatic void *f(void *a) { for (;;) pause(); return a; }\n\
         int main(void) { pthread_t t; pthread_create(&t, 0, f, 0); pthread_cancel(t); pthread_join(t, 0); return 0; }\n",
        &["-pthread"],
    );
    let bundle = BundleTest::new([&app])
        .args(["--dest", "/app"])
        .run()
        .success();
    let out = &bundle.out;
    assert!(out.join("usr/lib/x86_64-linux-gnu/libgcc_s.so.1").exists());
    if can_chroot() {
        as_a_runtime_would(out);
        let (_, e, c) = run_in(Some(out), &["/app"]);
        assert_eq!(c, 0, "{e}");
    }
}

#[test]
fn optional_extras_gconv_tzdata_locale_and_certs() {
    // iconv needs its gconv modules for anything but UTF-8 <-> ASCII.
    let iconv = BundleTest::new(["/usr/bin/iconv"])
        .args(["--with", "gconv,locale"])
        .run()
        .success();
    let out = &iconv.out;
    assert!(
        out.join("usr/lib/x86_64-linux-gnu/gconv/gconv-modules")
            .exists()
    );
    assert!(
        out.join("usr/lib/x86_64-linux-gnu/gconv/ISO8859-1.so")
            .exists()
    );
    assert!(out.join("usr/lib/locale/C.utf8/LC_CTYPE").exists());
    let argv = ["/usr/bin/iconv", "-f", "UTF-8", "-t", "ISO-8859-15"];
    let input = "caf\u{e9} \u{20ac}\n".as_bytes();
    if can_chroot() {
        as_a_runtime_would(out);
        assert_eq!(
            run_program(Some(out), &argv, &[], input),
            run_program(None, &argv, &[], input)
        );
        // Without --with gconv the same conversion fails in the bundle.
        let bare = BundleTest::new(["/usr/bin/iconv"]).run().success();
        as_a_runtime_would(&bare.out);
        assert_ne!(run_program(Some(&bare.out), &argv, &[], input).2, 0);
    }
    // Time zones.
    let date = BundleTest::new(["/usr/bin/date"])
        .args(["--with", "tzdata"])
        .run()
        .success();
    let out = &date.out;
    assert!(out.join("usr/share/zoneinfo/Europe/Paris").exists());
    if can_chroot() {
        as_a_runtime_would(out);
        let argv = ["/usr/bin/date", "-d", "@0"];
        let env = [("TZ", "Europe/Paris")];
        let host = run_program(None, &argv, &env, b"");
        assert!(host.0.contains("CET"), "{host:?}");
        assert_eq!(run_program(Some(out), &argv, &env, b""), host);
    }
    // CA certificates come with a TLS library; --no-passwd leaves the user database out.
    let curl = BundleTest::new(["/usr/bin/curl"])
        .arg("--no-passwd")
        .run()
        .success();
    let out = &curl.out;
    assert!(out.join("etc/ssl/certs/ca-certificates.crt").is_file());
    assert!(!out.join("etc/passwd").exists() && !out.join("etc/group").exists());
    // --extras none: no NSS configuration and no certificates.
    let none = BundleTest::new(["/usr/bin/curl"])
        .args(["--extras", "none"])
        .run()
        .success();
    let out = &none.out;
    assert!(!out.join("etc/nsswitch.conf").exists() && !out.join("etc/ssl").exists());
}

#[test]
fn a_given_nsswitch_conf_brings_its_modules() {
    let t = Tree::new();
    t.lib(
        "nss/libnss_elfroottest.so.2",
        "int _nss_elfroottest_getpwnam_r(void) { return 0; }\n",
        &[],
    );
    t.write("nsswitch.conf", "passwd: files elfroottest\nhosts: files\n");
    let lp = format!("--library-path={}", t.s("nss"));
    let bundle = BundleTest::new(["/usr/bin/getent"])
        .args(["--nsswitch", &t.s("nsswitch.conf"), &lp, "--json"])
        .run()
        .success();
    assert_eq!(
        std::fs::read_to_string(bundle.out.join("etc/nsswitch.conf")).unwrap(),
        "passwd: files elfroottest\nhosts: files\n"
    );
    let doc = bundle.run.json();
    let module = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["path"]
                .as_str()
                .unwrap()
                .ends_with("/libnss_elfroottest.so.2")
        })
        .expect("the module named by the given nsswitch.conf");
    assert_eq!(module["reason"], "NSS module for 'elfroottest'");
}

#[test]
fn added_trees_keep_links_and_bring_their_targets() {
    let t = Tree::new();
    t.write("opt/jdk/lib/conf.real", "setting=1\n");
    t.write("etc/jdk/security.conf", "x\n");
    // A JDK-like tree: a link into /etc (absolute), one inside the tree (relative).
    t.symlink(&t.s("etc/jdk/security.conf"), "opt/jdk/conf/security.conf");
    t.symlink("../lib/conf.real", "opt/jdk/conf/main.conf");
    let bundle = BundleTest::new(["/usr/bin/true"])
        .args(["--add", &t.s("opt/jdk")])
        .run()
        .success();
    let out = &bundle.out;
    let inside = |p: &str| out.join(p.trim_start_matches('/'));
    let link = inside(&t.s("opt/jdk/conf/security.conf"));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        inside(&t.s("etc/jdk/security.conf")).is_file(),
        "the link's target came too"
    );
    assert_eq!(
        std::fs::read_link(inside(&t.s("opt/jdk/conf/main.conf"))).unwrap(),
        Path::new("../lib/conf.real")
    );
    // Globs, and SRC:DEST.
    let glob = format!("{}:/conf", t.s("opt/jdk/lib/*.real"));
    let globbed = BundleTest::new(["/usr/bin/true"])
        .args(["--add", &glob])
        .run()
        .success();
    assert!(globbed.out.join("conf/conf.real").is_file());
}
