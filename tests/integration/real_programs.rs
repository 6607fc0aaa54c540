//! Part 7's proof: real programs, bundled the way a new user would bundle
//! them (the program, and only the flags a user would naturally write), run
//! in a chroot of the bundle given what a container runtime gives (/proc,
//! /sys, /dev, /etc/hosts), must print what they print on the host, to the
//! byte, with the same exit status.
//!
//! One test runs every case and prints one line per case (PASS, FAIL with
//! the first difference, or why elfroot refused to bundle), the bundle's size
//! and the total; it asserts that at least [`REQUIRED`] cases pass, a number
//! raised as run-time file discovery grows. With `ELFROOT_REAL_STRACE=1`, each
//! failing program is run again under strace, and the files it looked for that
//! the host has and the bundle lacks are listed under its line.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::*;

/// How many cases must pass: what passes on main's code, raised as
/// discovery lands (the target is 31 of 37). The three that fail need what
/// no static rule here says: `git clone` of a local repository and `zip -T`
/// run a command through `sh -c` (git-upload-pack, unzip), and `make` runs
/// a recipe's `echo` as /usr/bin/echo, found on PATH. `--with sh --add
/// /usr/lib/git-core` (over the discovery cap) makes git clone run (seen in
/// a chroot); zip also needs unzip, make its echo.
const REQUIRED: usize = 34;

/// The longest a program may run, on the host or in its bundle.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// `{W}` in command lines, flags and environment values stands for the
/// case's work directory: a fresh host directory holding the inputs its
/// `setup` wrote, copied into the bundle at the same path (as a volume would
/// be mounted), so that outputs naming it need no rewriting.
const W: &str = "{W}";

/// One program, as a user would bundle and run it.
struct Case {
    /// The command line, split as a shell splits words (single quotes
    /// only); its first word, a host path, is what is bundled.
    command: &'static str,
    /// `elfroot bundle` flags after `-o OUT`, split the same way.
    flags: &'static str,
    stdin: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// Writes the case's inputs into its work directory, with host tools.
    setup: fn(&Path),
    /// Files the program writes, whose sizes are compared after the runs.
    produces: &'static [&'static str],
    /// Rewrites what legitimately differs between two runs (stdout and
    /// stderr alike); said at each use.
    normalise: fn(&str) -> String,
}

fn case(command: &'static str) -> Case {
    Case {
        command,
        flags: "",
        stdin: "",
        env: &[],
        setup: |_| {},
        produces: &[],
        normalise: str::to_string,
    }
}

impl Case {
    fn flags(self, flags: &'static str) -> Case {
        Case { flags, ..self }
    }
    fn stdin(self, stdin: &'static str) -> Case {
        Case { stdin, ..self }
    }
    fn env(self, env: &'static [(&'static str, &'static str)]) -> Case {
        Case { env, ..self }
    }
    fn setup(self, setup: fn(&Path)) -> Case {
        Case { setup, ..self }
    }
    fn produces(self, produces: &'static [&'static str]) -> Case {
        Case { produces, ..self }
    }
    fn normalise(self, normalise: fn(&str) -> String) -> Case {
        Case { normalise, ..self }
    }

    /// The program: the first word of the command line.
    fn program(&self) -> &'static str {
        self.command.split(' ').next().unwrap_or_default()
    }

    /// The case as its line names it: the command line without the
    /// program's directory.
    fn name(&self) -> String {
        let program = self.program();
        let dir = program.rfind('/').map_or(0, |at| at + 1);
        let name = &self.command[dir..];
        match name.char_indices().nth(46) {
            Some((at, _)) => format!("{}…", &name[..at]),
            None => name.to_string(),
        }
    }
}

/// Splits a command line into words as a shell does, for the quoting used
/// here: spaces separate words, single quotes keep everything up to the
/// next single quote (`''` is an empty word).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' if !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// The cases: the programs part 7 names, and a few plain ones to compare.
/// Outputs are compared as they are unless a comment says what is rewritten.
fn cases() -> Vec<Case> {
    vec![
        // Plain programs: libraries, the user database, the C library's files.
        case("/usr/bin/ls -l {W}/in.png").setup(png),
        case("/usr/bin/curl --version"),
        case("/usr/bin/bash -c 'echo hello; exit 3'"),
        case("/usr/bin/python3 -c 'import json, ssl; print(json.dumps([1]), ssl.OPENSSL_VERSION)'"),
        case("/usr/bin/id nobody"),
        case("/usr/bin/getent services http"),
        case("/usr/bin/getent protocols tcp"),
        case("/usr/bin/date -u -d @0 +%A")
            .env(&[("LC_ALL", "fr_FR.UTF-8")])
            .flags("--with locale=fr_FR.UTF-8"),
        // Images: coders are modules, found through paths in the libraries.
        case(r"/usr/bin/convert -size 2x1 xc:red -format '%w %h %[pixel:p{0,0}]\n' info:"),
        case("/usr/bin/convert {W}/in.png -resize 1x2 txt:-").setup(png),
        case(r"/usr/bin/identify -format '%m %w %h %[mean]\n' {W}/in.png").setup(png),
        case(r"/usr/bin/gm identify -format '%m %w %h\n' {W}/in.png").setup(png),
        case("/usr/bin/gm convert -size 2x1 xc:red txt:-"),
        case("/usr/bin/file {W}/in.png").setup(png),
        // PostScript: init files and fonts under /usr/share.
        case("/usr/bin/gs -q -dNODISPLAY -c '1 2 add == quit'"),
        case("/usr/bin/gs -q -dNOPAUSE -dBATCH -sDEVICE=txtwrite -sOutputFile=- {W}/page.ps")
            .setup(postscript),
        // Language runtimes and their extensions.
        case("/usr/bin/php -m"),
        case(r#"/usr/bin/php -r 'echo json_encode([1]), "\n";'"#),
        case(r#"/usr/bin/ruby -e 'require "json"; puts JSON.generate([1])'"#),
        case(r#"/usr/bin/gawk -l filefuncs 'BEGIN { stat("/etc/passwd", s); print s["type"] }'"#),
        case(r#"/usr/bin/gawk -l ordchr 'BEGIN { print ord("A"), chr(66) }'"#),
        case("/usr/bin/gdb -batch -ex 'python print(6*7)'"),
        case("/usr/lib/jvm/java-17-openjdk-amd64/bin/java -version"),
        // Crypto: providers, keys, random bytes.
        case("/usr/bin/openssl list -providers"),
        case("/usr/bin/openssl md4 -provider legacy -provider default").stdin("abc\n"),
        case("/usr/bin/gpg --version"),
        // gpg makes its home in the work directory, on the host as in the bundle.
        case("/usr/bin/gpg --batch --passphrase pw -d {W}/msg.gpg")
            .env(&[("HOME", "{W}")])
            .setup(encrypted),
        // The key is random: the sizes of the key files are compared.
        case("/usr/bin/ssh-keygen -t ed25519 -N '' -f {W}/k -q").produces(&["{W}/k", "{W}/k.pub"]),
        // Data files: terminal descriptions, dictionaries.
        case("/usr/bin/tput cols").env(&[("TERM", "xterm")]),
        case("/usr/bin/aspell -a").stdin("helo\n"),
        // Programs that run others.
        case("/usr/bin/git clone {W}/repo {W}/clone").setup(repository),
        case("/usr/bin/zip -T {W}/a.zip").setup(zipped),
        case("/usr/bin/make -f -").stdin("all:\n\t@echo made\n"),
        // The transfer counts and rate vary from run to run: rewritten.
        case("/usr/bin/rsync -av {W}/src/ {W}/dst/")
            .setup(tree)
            .normalise(without_rate),
        // Servers: their version, and nginx's check of the configuration it
        // ships (its error lines start with the time and the PID: removed).
        case("/usr/bin/redis-server --version"),
        case("/usr/bin/redis-cli --version"),
        case("/usr/sbin/nginx -t").normalise(without_time_and_pid),
    ]
}

/// A 2x2 red PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a,
    0x73, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x44, 0x0c, 0x10, 0x0a, 0x00, 0x1f, 0xee, 0x03, 0xfd, 0x63, 0x5e, 0xbb, 0x5b, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

fn png(w: &Path) {
    fs::write(w.join("in.png"), PNG).unwrap();
}

/// A page with text in a standard font (Ghostscript finds its fonts).
fn postscript(w: &Path) {
    let page =
        "%!PS\n/Times-Roman findfont 12 scalefont setfont\n72 72 moveto (hello) show showpage\n";
    fs::write(w.join("page.ps"), page).unwrap();
}

/// A message encrypted with the passphrase "pw" by the host's gpg.
fn encrypted(w: &Path) {
    fs::write(w.join("msg"), "hello\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    run_ok(
        Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["-q", "--batch", "--passphrase", "pw", "-c", "-o"])
            .arg(w.join("msg.gpg"))
            .arg(w.join("msg")),
    );
}

/// A repository with one commit.
pub(crate) fn repository(w: &Path) {
    let repo = w.join("repo");
    run_ok(Command::new("git").args(["init", "-q"]).arg(&repo));
    fs::write(repo.join("README"), "hello\n").unwrap();
    let git = |args: &[&str]| {
        run_ok(
            Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
                .args(args)
                .current_dir(&repo),
        );
    };
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "one"]);
}

pub(crate) fn zipped(w: &Path) {
    fs::write(w.join("msg"), "hello\n").unwrap();
    run_ok(
        Command::new("zip")
            .args(["-q", "a.zip", "msg"])
            .current_dir(w),
    );
}

fn tree(w: &Path) {
    fs::create_dir_all(w.join("src/d")).unwrap();
    fs::write(w.join("src/d/f"), "x\n").unwrap();
}

/// `sent 150 bytes  received 79 bytes  458.00 bytes/sec` and `total size is
/// 2  speedup is 0.01`: the rate is a timing, and the counts vary from run to
/// run of the same copy (149, 150 or 153 bytes sent for the same files), and
/// the speedup with them: every number on those lines becomes N.
fn without_rate(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("sent ") || line.starts_with("total size is ") {
            let words: Vec<&str> = line
                .split(' ')
                .map(|w| match w.parse::<f64>() {
                    Ok(_) => "N",
                    Err(_) => w,
                })
                .collect();
            out.push_str(&words.join(" "));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// `2026/11/26 10:56:00 [emerg] 5983#5983: open() ...`: nginx's error lines
/// start with the time and the process and thread IDs; keeps `[emerg] ...`.
fn without_time_and_pid(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let bytes = line.as_bytes();
        let stamped = bytes.len() > 20
            && bytes[4] == b'/'
            && bytes[7] == b'/'
            && bytes[13] == b':'
            && bytes[19] == b' ';
        match line.find(" [").filter(|_| stamped) {
            Some(at) => {
                let rest = &line[at + 1..];
                let (level, after) = rest.split_once("] ").unwrap_or((rest, ""));
                let message = after.split_once(": ").map_or(after, |(_, m)| m);
                out.push_str(&format!("{level}] {message}"));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// What happened to one case.
enum Verdict {
    Pass,
    Fail(String),
    Refused(String),
    Skipped(String),
}

#[test]
fn real_programs_run_from_their_bundles_as_on_the_host() {
    if !root_for("running bundles with chroot and mounting /proc in them") {
        return;
    }
    if !Path::new("/usr/sbin/chroot").exists() {
        return skip("no /usr/sbin/chroot");
    }
    let trace = std::env::var_os("ELFROOT_REAL_STRACE").is_some();
    if trace && !have("strace") {
        eprintln!("ELFROOT_REAL_STRACE: no strace (apt-get install strace)");
    }
    let trace = trace && have("strace");
    french_locale_on_the_host();
    let started = Instant::now();
    let cases = cases();
    let (mut passed, mut total_files, mut total_bytes) = (0, 0, 0);
    eprintln!("real programs, bundled alone and run in a chroot as a container runtime would:");
    for case in &cases {
        let began = Instant::now();
        let (verdict, size, absent) = run_case(case, trace);
        let size = match size {
            Some((files, bytes)) => {
                total_files += files;
                total_bytes += bytes;
                format!("{files:>5} files {:>8.1} MB", bytes as f64 / 1e6)
            }
            None => String::new(),
        };
        let (word, why) = match verdict {
            Verdict::Pass => {
                passed += 1;
                ("PASS", String::new())
            }
            Verdict::Fail(why) => ("FAIL", why),
            Verdict::Refused(why) => ("FAIL", format!("bundle refused: {why}")),
            Verdict::Skipped(why) => ("SKIP", why),
        };
        eprintln!(
            "{word}  {:<48} {size:>24} {:>5.1}s  {why}",
            case.name(),
            began.elapsed().as_secs_f64()
        );
        if !absent.is_empty() {
            eprintln!("      absent from the bundle: {}", absent.join(" "));
        }
    }
    eprintln!(
        "{passed} of {} pass (required: {REQUIRED}) in {:.0}s; the bundles hold {total_files} files, {:.1} MB",
        cases.len(),
        started.elapsed().as_secs_f64(),
        total_bytes as f64 / 1e6
    );
    assert!(
        passed >= REQUIRED,
        "{passed} real programs run from their bundles as on the host; {REQUIRED} must"
    );
}

/// Compiles fr_FR.UTF-8 into the host's locale-archive when it is missing,
/// as the French date case needs it on the host (the bundle takes it from
/// there with `--with locale=fr_FR.UTF-8`).
fn french_locale_on_the_host() {
    let listed = run_program(None, &["/usr/bin/locale", "-a"], &[], b"").0;
    if !listed.lines().any(|l| l == "fr_FR.utf8") && have("localedef") {
        let _ = Command::new("localedef")
            .args(["-i", "fr_FR", "-f", "UTF-8", "fr_FR.UTF-8"])
            .status();
    }
}

/// Bundles, runs and compares one case; gives the verdict, the bundle's size
/// (files, bytes) and, when `trace`, what a failing program looked for in
/// vain in the bundle that the host has.
fn run_case(case: &Case, trace: bool) -> (Verdict, Option<(u64, u64)>, Vec<String>) {
    let program = case.program();
    if !Path::new(program).exists() {
        let why = format!("{program} is not installed (scripts/test.sh installs it)");
        return (Verdict::Skipped(why), None, Vec::new());
    }
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    (case.setup)(w);
    let fill = |s: &str| s.replace(W, &w.to_string_lossy());
    let argv: Vec<String> = words(&fill(case.command));
    let flags: Vec<String> = words(&fill(case.flags));
    let env: Vec<(String, String)> = case
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), fill(v)))
        .collect();

    let bundle = BundleTest::new([program]).args(&flags).run();
    if bundle.run.code != 0 {
        let why = bundle.run.stderr.lines().next().unwrap_or("").to_string();
        let why = format!("exit {}: {why}", bundle.run.code);
        return (Verdict::Refused(why), None, Vec::new());
    }
    let root = &bundle.out;
    let size = walk_size(root);
    as_a_runtime_would(root);
    // The work directory, as a volume mounted at the same path.
    let inside = root.join(w.strip_prefix("/").unwrap());
    fs::create_dir_all(inside.parent().unwrap()).unwrap();
    run_ok(Command::new("cp").arg("-a").arg(w).arg(&inside));
    let mounts = mount_proc_and_sys(root);

    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (host, bundled) = run_both(case, root, &argv, &env, &fill);
    let verdict = match first_difference(&host, &bundled) {
        None => Verdict::Pass,
        Some(why) => Verdict::Fail(why),
    };
    let absent = if trace && matches!(verdict, Verdict::Fail(_)) {
        absent_in_bundle(root, w, &argv, &env, case.stdin)
    } else {
        Vec::new()
    };
    drop(mounts);
    (verdict, Some(size), absent)
}

/// Runs the program on the host and in the bundle (each within
/// [`TIME_LIMIT`]), adds the sizes of the files it `produces`, and
/// normalises both outcomes: (host, bundle).
fn run_both(
    case: &Case,
    root: &Path,
    argv: &[&str],
    env: &[(&str, &str)],
    fill: &dyn Fn(&str) -> String,
) -> (Outcome, Outcome) {
    let limit = TIME_LIMIT.as_secs().to_string();
    let root_s = root.to_string_lossy();
    let mut on_host = vec!["/usr/bin/timeout", "-s", "KILL", &limit];
    on_host.extend(argv);
    let mut chrooted = on_host.clone();
    chrooted.splice(4..4, ["/usr/sbin/chroot", &root_s]);
    let mut bundled = run_program(None, &chrooted, env, case.stdin.as_bytes());
    let mut host = run_program(None, &on_host, env, case.stdin.as_bytes());
    for p in case.produces {
        let p = fill(p);
        let size_at = |at: &Path| match fs::metadata(at) {
            Ok(m) => format!("{p}: {} bytes\n", m.len()),
            Err(_) => format!("{p}: absent\n"),
        };
        host.0.push_str(&size_at(Path::new(&p)));
        bundled
            .0
            .push_str(&size_at(&root.join(p.trim_start_matches('/'))));
    }
    for o in [&mut host, &mut bundled] {
        o.0 = (case.normalise)(&o.0);
        o.1 = (case.normalise)(&o.1);
    }
    (host, bundled)
}

/// Files (anything but directories) and bytes (of regular files) under `root`.
fn walk_size(root: &Path) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.expect("walk the bundle");
        let meta = entry.metadata().expect("stat");
        if !meta.is_dir() {
            files += 1;
        }
        if meta.is_file() {
            bytes += meta.len();
        }
    }
    (files, bytes)
}

/// The first line that differs (stdout, then stderr, then the exit status),
/// as `where: host "..." bundle "..."`; when stdout differs, the first
/// difference on stderr too (where the bundle usually says what it missed).
fn first_difference(host: &Outcome, bundled: &Outcome) -> Option<String> {
    let out = line_difference("stdout", &host.0, &bundled.0);
    let err = line_difference("stderr", &host.1, &bundled.1);
    match (out, err) {
        (Some(out), Some(err)) => Some(format!("{out}; {err}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => (host.2 != bundled.2)
            .then(|| format!("exit status: host {} bundle {}", host.2, bundled.2)),
    }
}

fn line_difference(stream: &str, host: &str, bundled: &str) -> Option<String> {
    if host == bundled {
        return None;
    }
    let show = |s: Option<&str>| s.map_or("(end)".to_string(), |s| format!("{:?}", clip(s)));
    let (mut x, mut y) = (host.lines(), bundled.lines());
    for n in 1.. {
        let (l, m) = (x.next(), y.next());
        if l != m || l.is_none() {
            return Some(format!(
                "{stream} line {n}: host {} bundle {}",
                show(l),
                show(m)
            ));
        }
    }
    None
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Runs the program in the bundle under `strace -f -e trace=%file` and lists
/// the absolute paths it failed to find (ENOENT) that exist on the host: the
/// files run-time discovery missed.
fn absent_in_bundle(
    root: &Path,
    work: &Path,
    argv: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
) -> Vec<String> {
    let log = tempfile::NamedTempFile::new().unwrap();
    let log_s = log.path().to_string_lossy().into_owned();
    let root_s = root.to_string_lossy();
    let limit = TIME_LIMIT.as_secs().to_string();
    let mut traced = vec![
        "/usr/bin/strace",
        "-f",
        "-qq",
        "-e",
        "trace=%file",
        "-o",
        &log_s,
        "/usr/bin/timeout",
        "-s",
        "KILL",
        &limit,
        "/usr/sbin/chroot",
        &root_s,
    ];
    traced.extend(argv);
    run_program(None, &traced, env, stdin.as_bytes());
    let text = fs::read_to_string(log.path()).unwrap_or_default();
    let mut absent: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| l.contains("= -1 ENOENT")) {
        let Some(path) = line.split('"').nth(1) else {
            continue;
        };
        let on_host = Path::new(path).symlink_metadata().is_ok();
        let in_bundle = root
            .join(path.trim_start_matches('/'))
            .symlink_metadata()
            .is_ok();
        // The loader's cache is only a short cut when the libraries are in
        // the default directories; the work directory's files are the
        // program's own outputs.
        let noise = path == "/etc/ld.so.cache" || Path::new(path).starts_with(work);
        if path.starts_with('/')
            && on_host
            && !in_bundle
            && !noise
            && !absent.iter().any(|a| a == path)
        {
            absent.push(path.to_string());
        }
    }
    absent
}
