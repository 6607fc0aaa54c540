//! What bundles of real programs need at run time besides libraries: /tmp,
//! the root's own users and groups (and `--user`'s), the owners of copied
//! files, and compiled locales. Each is checked in the outputs, and by
//! running the program in a chroot of the bundle against the same program on
//! the host.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::util::*;

/// Runs `argv` on the host, or in the bundle at `root`, with `env`.
fn run(root: Option<&Path>, argv: &[&str], env: &[(&str, &str)]) -> Outcome {
    run_program(root, argv, env, b"")
}

/// The manifest entry for `path` in a `bundle --json` run.
fn manifest_entry(bundle: &Bundle, path: &str) -> serde_json::Value {
    let doc = bundle.run.json();
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in the manifest"))
        .clone()
}

#[test]
fn tmp_is_in_every_output_with_mode_1777() {
    let dir = BundleTest::new(["/usr/bin/true"])
        .arg("--json")
        .run()
        .success();
    let meta = std::fs::metadata(dir.out.join("tmp")).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o1777);
    if is_root() {
        assert_eq!((meta.uid(), meta.gid()), (0, 0));
    }
    let entry = manifest_entry(&dir, "/tmp");
    assert_eq!(
        (&entry["kind"], &entry["mode"], &entry["reason"]),
        (&"dir".into(), &"1777".into(), &"temporary files".into())
    );
    assert!(entry.get("owner").is_none(), "{entry}");

    let tar = BundleTest::new(["/usr/bin/true"])
        .named("t.tar")
        .run()
        .success();
    let listing = tar_listing(&tar.out);
    let line = tar_line(&listing, "tmp/").unwrap_or_else(|| panic!("no tmp/ in\n{listing}"));
    assert!(line.starts_with("drwxrwxrwt 0/0 "), "{line}");

    let oci = BundleTest::new(["/usr/bin/true"])
        .args(["--format", "oci", "--compress", "none"])
        .run()
        .success();
    let image = elfroot::oci::open_image(&format!("oci:{}", oci.out.display())).unwrap();
    let layer = tar_listing(&image.layer_paths()[0]);
    let line = tar_line(&layer, "tmp/").unwrap_or_else(|| panic!("no tmp/ in\n{layer}"));
    assert!(line.starts_with("drwxrwxrwt 0/0 "), "{line}");

    let none = BundleTest::new(["/usr/bin/true"])
        .named("n.tar")
        .arg("--no-tmp")
        .run()
        .success();
    assert_eq!(tar_line(&tar_listing(&none.out), "tmp/"), None);
}

#[test]
fn programs_that_write_temporary_files_run_as_on_the_host() {
    if !root_for("running bundles with chroot") {
        return;
    }
    let script = "f=$(mktemp) && echo x > \"$f\" && cat \"$f\" && rm \"$f\" && g=/tmp/elfroot-test.$$ && echo y > \"$g\" && cat \"$g\" && rm \"$g\"";
    let argv = ["/usr/bin/bash", "-c", script];
    let host = run(None, &argv, &[]);
    assert_eq!(host, ("x\ny\n".into(), String::new(), 0));
    let with = BundleTest::new(["/usr/bin/bash", "/usr/bin/mktemp", "/usr/bin/cat"])
        .args(["--add", "/usr/bin/rm"])
        .run()
        .success();
    assert_eq!(run(Some(&with.out), &argv, &[]), host);
    // The same bundle without /tmp is what fails in a scratch image.
    let without = BundleTest::new(["/usr/bin/bash", "/usr/bin/mktemp", "/usr/bin/cat"])
        .args(["--add", "/usr/bin/rm", "--no-tmp"])
        .run()
        .success();
    let (_, err, code) = run(Some(&without.out), &argv, &[]);
    assert_ne!(code, 0, "{err}");
}

#[test]
fn users_and_groups_are_the_roots_own() {
    let bundle = BundleTest::new(["/usr/bin/id", "/usr/bin/getent"])
        .arg("--json")
        .run()
        .success();
    let passwd = std::fs::read_to_string(bundle.out.join("etc/passwd")).unwrap();
    let host_passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for line in passwd.lines() {
        assert!(host_passwd.lines().any(|l| l == line), "{line}");
    }
    let reason = &manifest_entry(&bundle, "/etc/group")["reason"];
    assert_eq!(reason, "user database (entries of the root's /etc/group)");
    if !root_for("running bundles with chroot") {
        return;
    }
    for argv in [
        &["/usr/bin/id", "nobody"][..],
        &["/usr/bin/id", "root"],
        &["/usr/bin/getent", "group", "nogroup"],
        &["/usr/bin/getent", "passwd", "root"],
        &["/usr/bin/getent", "passwd", "nobody"],
    ] {
        let host = run(None, argv, &[]);
        assert_eq!(host.2, 0, "{argv:?} on the host: {host:?}");
        assert_eq!(run(Some(&bundle.out), argv, &[]), host, "{argv:?}");
    }
}

#[test]
fn user_adds_its_entry_and_primary_group() {
    let host = run(None, &["/usr/bin/getent", "passwd", "www-data"], &[]);
    if host.2 != 0 {
        return skip("the host has no www-data user");
    }
    let bundle = BundleTest::new(["/usr/bin/id"])
        .args(["--user", "www-data"])
        .run()
        .success();
    let passwd = std::fs::read_to_string(bundle.out.join("etc/passwd")).unwrap();
    assert!(passwd.contains(&host.0), "{passwd}");
    if is_root() {
        let argv = ["/usr/bin/id", "www-data"];
        assert_eq!(run(Some(&bundle.out), &argv, &[]), run(None, &argv, &[]));
    }
    // For an image, --user is also the config's User.
    let oci = BundleTest::new(["/usr/bin/id"])
        .args(["--format", "oci", "--user", "www-data"])
        .run()
        .success();
    let image = elfroot::oci::open_image(&format!("oci:{}", oci.out.display())).unwrap();
    assert_eq!(image.config()["config"]["User"], "www-data");
}

#[test]
fn user_entries_come_from_the_given_root_in_its_order() {
    let t = Tree::new();
    t.with_host_glibc();
    t.exe("usr/bin/app", "int main(void) { return 0; }\n", &[]);
    t.write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/ash\napp:x:1234:1500::/srv:/bin/false\nother:x:1:1::/:/x\nnobody:x:65534:65534::/:/x\n",
    );
    t.write(
        "etc/group",
        "root:x:0:\nappgroup:x:1500:\nextra:x:1600:\nnobody:x:65534:\n",
    );
    let root = t.s("/");
    let bundle = BundleTest::new(["/usr/bin/app"])
        .args(["--root", &root, "--user", "1234"])
        .run()
        .success();
    let read = |p: &str| std::fs::read_to_string(bundle.out.join(p)).unwrap();
    assert_eq!(
        read("etc/passwd"),
        "root:x:0:0:root:/root:/bin/ash\napp:x:1234:1500::/srv:/bin/false\nnobody:x:65534:65534::/:/x\n"
    );
    assert_eq!(
        read("etc/group"),
        "root:x:0:\nappgroup:x:1500:\nnobody:x:65534:\n"
    );
    // A group given by name comes too; a name the root lacks is an error.
    let bundle = BundleTest::new(["/usr/bin/app"])
        .args(["--root", &root, "--user", "app:extra"])
        .run()
        .success();
    assert!(read_in(&bundle, "etc/group").contains("extra:x:1600:"));
    let err = BundleTest::new(["/usr/bin/app"])
        .args(["--root", &root, "--user", "nosuch"])
        .run()
        .error_line();
    assert!(
        err.contains("\"nosuch\" is not in the root's /etc/passwd"),
        "{err}"
    );
    // A number needs no entry.
    BundleTest::new(["/usr/bin/app"])
        .args(["--root", &root, "--user", "4242:4242"])
        .run()
        .success();
    // --passwd and --group are written as they are.
    let own = t.write("mine/passwd", "root:x:0:0::/:/x\nsvc:x:7:7::/:/x\n");
    let group = t.write("mine/group", "root:x:0:\n");
    let bundle = BundleTest::new(["/usr/bin/app"])
        .args(["--root", &root, "--user", "svc"])
        .arg("--passwd")
        .arg(&own)
        .arg("--group")
        .arg(&group)
        .run()
        .success();
    assert_eq!(
        read_in(&bundle, "etc/passwd"),
        "root:x:0:0::/:/x\nsvc:x:7:7::/:/x\n"
    );
    assert_eq!(read_in(&bundle, "etc/group"), "root:x:0:\n");
}

fn read_in(bundle: &Bundle, path: &str) -> String {
    std::fs::read_to_string(bundle.out.join(path)).unwrap()
}

#[test]
fn owners_of_copied_files_are_kept_unless_chown_says() {
    if !root_for("giving files to another user") {
        return;
    }
    let t = Tree::new();
    t.write("var/lib/app/state/db", "x");
    t.mkdir("var/lib/app/cache");
    run_ok(
        Command::new("chown")
            .args(["-R", "4321:4322"])
            .arg(t.at("var/lib/app")),
    );
    let added = t.s("var/lib/app");
    let rel = added.trim_start_matches('/');
    let bundle = BundleTest::new(["/usr/bin/true"])
        .named("o.tar")
        .args(["--add", &added])
        .run()
        .success();
    let listing = tar_listing(&bundle.out);
    for p in [
        format!("{rel}/"),
        format!("{rel}/state/db"),
        format!("{rel}/cache/"),
    ] {
        let line = tar_line(&listing, &p).unwrap_or_else(|| panic!("no {p} in\n{listing}"));
        assert!(line.contains(" 4321/4322 "), "{line}");
    }
    for p in ["usr/bin/true", "etc/passwd", "tmp/", "var/"] {
        if let Some(line) = tar_line(&listing, p) {
            assert!(line.contains(" 0/0 "), "{line}");
        }
    }
    // A directory output sets them too (elfroot runs as root here), and
    // the manifest says them.
    let dir = BundleTest::new(["/usr/bin/true"])
        .args(["--add", &added, "--json"])
        .run()
        .success();
    let meta = std::fs::metadata(dir.out.join(format!("{rel}/state/db"))).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
    let entry = manifest_entry(&dir, &format!("/{rel}/state/db"));
    assert_eq!(entry["owner"], "4321:4322");
    // --chown applies to everything copied from the root.
    let chowned = |owner: &str| {
        let bundle = BundleTest::new(["/usr/bin/true"])
            .named("c.tar")
            .args(["--add", &added, "--chown", owner])
            .run()
            .success();
        tar_listing(&bundle.out)
    };
    let listing = chowned("0:0");
    assert!(listing.lines().all(|l| l.contains(" 0/0 ")), "{listing}");
    let listing = chowned("7:8");
    let owner_of = |p: &str| tar_line(&listing, p).unwrap().split_whitespace().nth(1);
    assert_eq!(owner_of("usr/bin/true"), Some("7/8"));
    assert_eq!(owner_of("etc/passwd"), Some("0/0"), "elfroot's own files");
}

/// Makes sure the host has the fr_FR.UTF-8 locale (compiling it into the
/// host's locale-archive if needed); false (after saying why) when it cannot.
fn french_locale_on_the_host() -> bool {
    let has = || {
        run(None, &["/usr/bin/locale", "-a"], &[])
            .0
            .lines()
            .any(|l| l == "fr_FR.utf8")
    };
    if has() {
        return true;
    }
    if !have("localedef") || !Path::new("/usr/share/i18n/locales/fr_FR").exists() {
        skip("no fr_FR locale and no localedef to compile it (apt-get install locales)");
        return false;
    }
    if !root_for("compiling a locale into the host's locale-archive") {
        return false;
    }
    run_ok(Command::new("localedef").args(["-i", "fr_FR", "-f", "UTF-8", "fr_FR.UTF-8"]));
    has()
}

#[test]
fn locales_come_as_asked() {
    if !french_locale_on_the_host() {
        return;
    }
    let env = [("LC_ALL", "fr_FR.UTF-8")];
    let weekday = ["/usr/bin/date", "-u", "-d", "@0", "+%A"];
    let full = ["/usr/bin/date", "-u", "-d", "@0"];
    let host = run(None, &weekday, &env);
    assert_eq!(host.0, "jeudi\n", "{host:?}");

    // One locale: only its files, from the archive or its own directory.
    let one = BundleTest::new(["/usr/bin/date"])
        .args(["--with", "locale=fr_FR.UTF-8", "--json"])
        .run()
        .success();
    let locale = one.out.join("usr/lib/locale");
    assert!(locale.join("fr_FR.utf8/LC_TIME").is_file());
    assert!(!locale.join("C.utf8").exists());
    let reason = manifest_entry(&one, "/usr/lib/locale/fr_FR.utf8/LC_TIME")["reason"].clone();
    assert!(
        reason.as_str().unwrap().starts_with("locale fr_FR.UTF-8"),
        "{reason}"
    );
    // Every locale: the archive and the directories.
    let all = BundleTest::new(["/usr/bin/date"])
        .args(["--with", "locale"])
        .run()
        .success();
    assert!(all.out.join("usr/lib/locale/C.utf8/LC_CTYPE").is_file());
    let c = BundleTest::new(["/usr/bin/date"])
        .args(["--with", "locale=C.UTF-8"])
        .run()
        .success();
    assert!(c.out.join("usr/lib/locale/C.utf8/LC_CTYPE").is_file());
    assert!(!c.out.join("usr/lib/locale/locale-archive").exists());
    // A locale the root lacks is an error that says how to compile it.
    let err = BundleTest::new(["/usr/bin/date"])
        .args(["--with", "locale=xx_YY.UTF-8"])
        .run()
        .error_line();
    assert!(
        err.contains("localedef -i xx_YY -f UTF-8 xx_YY.UTF-8"),
        "{err}"
    );
    // The same inputs give the same bytes.
    let [a, b] = ["a.tar", "b.tar"].map(|n| {
        BundleTest::new(["/usr/bin/date"])
            .named(n)
            .args(["--with", "locale=fr_FR.UTF-8"])
            .run()
            .success()
    });
    assert!(std::fs::read(&a.out).unwrap() == std::fs::read(&b.out).unwrap());

    if !root_for("running bundles with chroot") {
        return;
    }
    for bundle in [&one, &all] {
        for argv in [&weekday[..], &full, &["/usr/bin/date", "-u"]] {
            let host = run(None, argv, &env);
            let inside = run(Some(&bundle.out), argv, &env);
            if argv.len() == 2 {
                // The current time: compare the words, not the seconds.
                let words =
                    |o: &Outcome| o.0.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
                assert_eq!(words(&inside), words(&host), "{argv:?}");
            } else {
                assert_eq!(inside, host, "{argv:?}");
            }
        }
    }
    // Without the locale the bundle speaks English.
    let bare = BundleTest::new(["/usr/bin/date"]).run().success();
    assert_ne!(run(Some(&bare.out), &weekday, &env), host);
}
