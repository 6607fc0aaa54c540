//! `elfroot packages`: each file of a closure mapped to the package that owns
//! it, compared with `dpkg -S` on the host, with the file lists of the
//! Debian arm64 root read here, and on hand-made databases for the formats
//! and exit codes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// `files[]` of `elfroot packages --json`: path -> owner's name (None: unowned).
fn owners_of(doc: &Value) -> BTreeMap<String, Option<String>> {
    doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let owner = f["package"]["name"].as_str().map(str::to_string);
            (f["path"].as_str().unwrap().to_string(), owner)
        })
        .collect()
}

/// The path and its merged-/usr twin (`/lib/x` <-> `/usr/lib/x`), which
/// dpkg -S does not relate by itself.
fn spellings(path: &str) -> Vec<String> {
    let mut all = vec![path.to_string()];
    for top in ["/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"] {
        if path.starts_with(top) {
            all.push(format!("/usr{path}"));
        } else if let Some(rest) = path.strip_prefix("/usr")
            && rest.starts_with(top)
        {
            all.push(rest.to_string());
        }
    }
    all
}

/// `dpkg -S` of every spelling of each path: path -> owners (`name` or
/// `name:arch`, as dpkg prints them). The canonical file's owners count; the
/// path as written only when its target has none.
pub(crate) fn dpkg_s(paths: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    dpkg_s_in(None, paths)
}

/// [`dpkg_s`] with the database of an unpacked image (`admindir`, its
/// /var/lib/dpkg; `paths` canonical in the image), or the host's (None).
pub(crate) fn dpkg_s_in(
    admindir: Option<&Path>,
    paths: &[String],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut asked = BTreeMap::new();
    for p in paths {
        let real = match admindir {
            None => fs::canonicalize(p).unwrap().to_string_lossy().into_owned(),
            Some(_) => p.clone(),
        };
        asked.insert(p.clone(), (spellings(&real), spellings(p)));
    }
    let all: BTreeSet<&String> = asked
        .values()
        .flat_map(|(a, b)| a.iter().chain(b))
        .collect();
    let out = dpkg_query(admindir).arg("-S").args(&all).output().unwrap();
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with("diversion by") {
            continue;
        }
        let (pkgs, path) = line.split_once(": /").unwrap();
        let set = found.entry(format!("/{path}")).or_default();
        set.extend(pkgs.split(", ").map(str::to_string));
    }
    let owners = |spelt: &[String]| -> BTreeSet<String> {
        spelt
            .iter()
            .filter_map(|s| found.get(s))
            .flatten()
            .cloned()
            .collect()
    };
    asked
        .into_iter()
        .map(|(p, (real, written))| {
            let by_real = owners(&real);
            (
                p,
                if by_real.is_empty() {
                    owners(&written)
                } else {
                    by_real
                },
            )
        })
        .collect()
}

/// `name version arch` of installed packages, as dpkg-query prints them.
pub(crate) fn dpkg_versions(pkgs: &BTreeSet<String>) -> BTreeSet<String> {
    dpkg_versions_in(None, pkgs)
}

/// [`dpkg_versions`] from the database at `admindir`, or the host's (None).
pub(crate) fn dpkg_versions_in(
    admindir: Option<&Path>,
    pkgs: &BTreeSet<String>,
) -> BTreeSet<String> {
    let out = run_ok(
        dpkg_query(admindir)
            .args(["-W", "-f", "${Package} ${Version} ${Architecture}\\n"])
            .args(pkgs),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// dpkg-query, on the database at `admindir` or the host's.
fn dpkg_query(admindir: Option<&Path>) -> Command {
    let mut query = Command::new("dpkg-query");
    if let Some(dir) = admindir {
        query.arg(format!("--admindir={}", dir.display()));
    }
    query
}

#[test]
fn host_programs_agree_with_dpkg_s() {
    if !have("dpkg-query") || !Path::new("/var/lib/dpkg/status").is_file() {
        return skip("no dpkg database on this host");
    }
    let programs = [
        "/usr/bin/curl",
        "/usr/bin/ls",
        "/usr/bin/git",
        "/usr/bin/python3",
        "/usr/bin/ssh",
        "/usr/bin/openssl",
    ];
    let mut checked = 0;
    for prog in programs.into_iter().filter(|p| Path::new(p).is_file()) {
        let paths: Vec<String> = elfroot(&["list", "--paths", prog])
            .lines()
            .iter()
            .map(|l| l.to_string())
            .collect();
        let expected = dpkg_s(&paths);
        let run = elfroot(&["packages", "--json", prog]);
        assert_eq!(run.code, 0, "{prog}: {}", run.stderr);
        let got = owners_of(&run.json());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{prog}"
        );
        for (path, owner) in &got {
            let names: BTreeSet<&str> = expected[path]
                .iter()
                .map(|q| q.split(':').next().unwrap())
                .collect();
            let owner = owner
                .as_deref()
                .unwrap_or_else(|| panic!("{prog}: {path} unowned, dpkg -S: {names:?}"));
            assert!(
                names.contains(owner),
                "{prog}: {path}: elfroot says {owner}, dpkg -S {names:?}"
            );
        }
        let all: BTreeSet<String> = expected.into_values().flatten().collect();
        let list = elfroot(&["packages", prog]);
        let lines: BTreeSet<String> = list.lines().iter().map(|l| l.to_string()).collect();
        assert_eq!(lines, dpkg_versions(&all), "{prog}: the list format");
        checked += 1;
    }
    assert!(checked > 0, "none of {programs:?} is installed");
}

// ---------------------------------------------------------------------------
// The Debian arm64 root (scripts/make-arm64-root.sh): its own database when it
// has one, else one made here from the .debs it was unpacked from.

/// The root, and the extra layer holding a database made from its .debs
/// (None when the root has its own).
fn arm64_root() -> Option<(PathBuf, Option<tempfile::TempDir>)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::var_os("ELFROOT_ARM64_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target/arm64/root"));
    if !root
        .join("usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1")
        .is_file()
    {
        skip(&format!(
            "no arm64 root at {} (scripts/make-arm64-root.sh)",
            root.display()
        ));
        return None;
    }
    if root.join("var/lib/dpkg/status").is_file() {
        return Some((root, None));
    }
    let debs = root.parent().unwrap().join("arm64-debs");
    let mut found: Vec<PathBuf> = fs::read_dir(&debs)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    if found.is_empty() || !have("dpkg-deb") {
        skip(&format!(
            "the arm64 root has no dpkg database and there are no .debs in {}",
            debs.display()
        ));
        return None;
    }
    found.sort();
    let layer = tempfile::tempdir().unwrap();
    database_from_debs(&found, layer.path());
    Some((root, Some(layer)))
}

/// Writes var/lib/dpkg/{status,info/*.list} under `dir` as dpkg would have
/// on installing `debs`: each control stanza with its Status, each data
/// tarball's paths (`/.`, `/usr`, ...), Multi-Arch: same lists as NAME:ARCH.
fn database_from_debs(debs: &[PathBuf], dir: &Path) {
    let info = dir.join("var/lib/dpkg/info");
    fs::create_dir_all(&info).unwrap();
    let mut status = String::new();
    for deb in debs {
        let control =
            String::from_utf8(run_ok(Command::new("dpkg-deb").arg("-f").arg(deb)).stdout).unwrap();
        let field = |name: &str| {
            control
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
                .unwrap_or("")
                .to_string()
        };
        let (name, arch) = (field("Package"), field("Architecture"));
        let key = if field("Multi-Arch") == "same" {
            format!("{name}:{arch}")
        } else {
            name.clone()
        };
        let mut lines = control.lines();
        status += &format!("{}\nStatus: install ok installed\n", lines.next().unwrap());
        for l in lines {
            status += l;
            status.push('\n');
        }
        status.push('\n');
        let tar = run_ok(Command::new("dpkg-deb").arg("--fsys-tarfile").arg(deb)).stdout;
        let mut list = String::new();
        for entry in tar::Archive::new(&tar[..]).entries().unwrap() {
            let path = entry
                .unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let path = path.trim_start_matches('.').trim_end_matches('/');
            list += if path.is_empty() { "/." } else { path };
            list.push('\n');
        }
        fs::write(info.join(format!("{key}.list")), list).unwrap();
    }
    fs::write(dir.join("var/lib/dpkg/status"), status).unwrap();
}

/// The owners of each canonical path (relative to `root`) among the lists of
/// `db` (a root holding var/lib/dpkg/info), by the package name in the
/// list's file name; only paths named `wanted` are resolved.
fn lists_read_here(
    root: &Path,
    db: &Path,
    wanted: &BTreeSet<String>,
) -> BTreeMap<PathBuf, BTreeSet<String>> {
    let top = fs::canonicalize(root).unwrap();
    let mut owners: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for entry in fs::read_dir(db.join("var/lib/dpkg/info"))
        .unwrap()
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(key) = file.strip_suffix(".list") else {
            continue;
        };
        let name = key.split(':').next().unwrap().to_string();
        let mut text = String::new();
        fs::File::open(entry.path())
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let named = Path::new(line)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            if !named.is_some_and(|n| wanted.contains(&n)) {
                continue;
            }
            // Relative links (lib -> usr/lib) resolve on the host as in the root.
            if let Ok(real) = fs::canonicalize(root.join(line.trim_start_matches('/')))
                && let Ok(inner) = real.strip_prefix(&top)
            {
                owners
                    .entry(Path::new("/").join(inner))
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    owners
}

#[test]
fn arm64_root_agrees_with_its_own_file_lists() {
    let Some((root, layer)) = arm64_root() else {
        return;
    };
    let mut args: Vec<String> = vec!["--root".into(), root.display().to_string()];
    if let Some(l) = &layer {
        args.extend(["--root".into(), l.path().display().to_string()]);
    }
    let db = layer
        .as_ref()
        .map_or(root.clone(), |l| l.path().to_path_buf());
    let mut programs: Vec<String> = fs::read_dir(root.join("usr/bin"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| fs::read(e.path()).is_ok_and(|b| b.starts_with(b"\x7fELF")))
        .map(|e| format!("/usr/bin/{}", e.file_name().to_string_lossy()))
        .collect();
    programs.sort();
    let mut cmd = vec!["packages", "--json"];
    cmd.extend(args.iter().map(String::as_str));
    cmd.extend(programs.iter().map(String::as_str));
    let run = elfroot(&cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got = owners_of(&run.json());
    let names: BTreeSet<String> = got
        .keys()
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    let expected = lists_read_here(&root, &db, &names);
    let top = fs::canonicalize(&root).unwrap();
    for (path, owner) in &got {
        let real = fs::canonicalize(root.join(path.trim_start_matches('/'))).unwrap();
        let real = Path::new("/").join(real.strip_prefix(&top).unwrap());
        let want = expected
            .get(&real)
            .unwrap_or_else(|| panic!("{path}: no list names {}", real.display()));
        assert!(
            owner.as_ref().is_some_and(|o| want.contains(o)),
            "{path}: elfroot says {owner:?}, the lists {want:?}"
        );
    }
    assert!(
        got.len() > 20,
        "only {} files in the closures of {} programs",
        got.len(),
        programs.len()
    );
    // Multi-Arch: same (libc6:arm64.list), and a list spelling /lib while
    // the root reaches the loader through lib -> usr/lib.
    assert_eq!(got["/lib/ld-linux-aarch64.so.1"].as_deref(), Some("libc6"));
    assert!(
        got.keys().any(|p| p.starts_with("/lib/")),
        "merged-/usr spellings were exercised"
    );
}

// ---------------------------------------------------------------------------
// Formats and exit codes on a hand-made database.

/// A merged-/usr root with the host's glibc and /app needing /opt/lib/libapp.so;
/// libc6 is in the database, and libapp's package when `listed`.
fn app_root(listed: bool) -> Tree {
    let t = Tree::new();
    t.with_host_glibc();
    t.lib("opt/lib/libapp.so", "int app(void) { return 1; }", &[]);
    let lib = t.s("opt/lib");
    t.exe(
        "app",
        "int app(void); int main(void) { return app(); }",
        &[&format!("-L{lib}"), "-lapp", "-Wl,-rpath,/opt/lib"],
    );
    let mut status = String::from(
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-test\n\n",
    );
    t.write("var/lib/dpkg/info/libc6:amd64.list", "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n/lib64/ld-linux-x86-64.so.2\n");
    if listed {
        status += "Package: app\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n";
        t.write("var/lib/dpkg/info/app.list", "/opt/lib/libapp.so\n");
    }
    t.write("var/lib/dpkg/status", status);
    t
}

#[test]
fn formats_and_exit_codes() {
    if !have("cc") {
        return skip("no cc");
    }
    let t = app_root(false);
    let root = t.s("");
    let run = elfroot(&["packages", "--root", &root, "/app"]);
    assert_eq!(
        (run.code, run.lines()),
        (1, vec!["libc6 2.36-test amd64"]),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("/opt/lib/libapp.so: owned by no package"),
        "{}",
        run.stderr
    );
    let doc = elfroot(&["packages", "--json", "--root", &root, "/app"]).json();
    assert_eq!(
        (doc["schema"].as_str(), doc["status"].as_str()),
        (Some("elfroot-packages"), Some("findings"))
    );
    assert_eq!(doc["unowned"], serde_json::json!(["/opt/lib/libapp.so"]));
    assert_eq!(doc["packages"][0]["source"]["name"], "glibc");

    let t = app_root(true);
    let root = t.s("");
    let apt = elfroot(&["packages", "--format", "apt", "--root", &root, "/app"]);
    assert_eq!(
        (apt.code, apt.lines()),
        (
            0,
            vec!["apt-get install -y --no-install-recommends app=1 libc6=2.36-test"]
        )
    );
    let apk = elfroot(&["packages", "--format", "apk", "--root", &root, "/app"]);
    assert_eq!(apk.lines(), ["apk add app=1 libc6=2.36-test"]);
    fs::remove_file(t.at("opt/lib/libapp.so")).unwrap();
    let missing = elfroot(&["packages", "--root", &root, "/app"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("libapp.so missing"),
        "{}",
        missing.stderr
    );
    assert_eq!(elfroot(&["packages", "--root", &root, "/nothing"]).code, 2);
}

/// A bundle from a root whose package database cannot be read still gets
/// made, but says why it carries no package metadata, naming the file.
#[test]
fn a_bundle_says_when_the_package_database_cannot_be_read() {
    let t = Tree::new();
    t.with_host_glibc();
    t.exe("usr/bin/app", "int main(void) { return 0; }\n", &[]);
    t.write("var/lib/rpm/rpmdb.sqlite", vec![0xa5u8; 8192]);
    let out = t.at("app.tar");
    let run = elfroot(&[
        "bundle",
        "--root",
        &t.s(""),
        "/usr/bin/app",
        "-o",
        &out.to_string_lossy(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let said: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("package database not read") && l.contains("rpmdb.sqlite"))
        .collect();
    assert_eq!(said.len(), 1, "{}", run.stderr);
    assert!(
        !tar_listing(&out).contains("var/lib/rpm"),
        "{}",
        tar_listing(&out)
    );
}
