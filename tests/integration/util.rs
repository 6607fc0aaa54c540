//! Helpers shared by the integration tests: running the real binary, building
//! fixtures with cc into temporary roots, and skipping (or, under CI, failing)
//! when a tool or privilege is missing.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use elfroot::testing::skip;

/// The output of one run of the real `elfroot` binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}):\n{}", self.stdout))
    }
}

impl From<&Output> for Run {
    fn from(out: &Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// `elfroot ARGS` with a clean LD_LIBRARY_PATH, ready to run.
pub fn elfroot_command<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_elfroot"));
    cmd.args(args).env_remove("LD_LIBRARY_PATH");
    cmd
}

/// Runs `elfroot ARGS` with a clean LD_LIBRARY_PATH.
pub fn elfroot(args: &[&str]) -> Run {
    elfroot_env(args, &[])
}

/// Runs `elfroot ARGS` with extra environment variables.
pub fn elfroot_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = elfroot_command(args)
        .envs(env.iter().copied())
        .output()
        .expect("run elfroot");
    Run::from(&out)
}

/// One `elfroot bundle INPUTS -o OUT ARGS` run, built up fluently:
///
/// ```ignore
/// let layer = BundleTest::new(["/usr/bin/ls"])
///     .named("layer.tar")
///     .args(["--with", "gconv"])
///     .env("SOURCE_DATE_EPOCH", "0")
///     .run()
///     .success();
/// assert!(layer.out.is_file());
/// ```
///
/// OUT is a new temporary directory's `root` (a directory bundle) unless
/// [`named`](Self::named), [`output`](Self::output) or
/// [`on_stdout`](Self::on_stdout) says otherwise; the directory lives as
/// long as the [`Bundle`].
pub struct BundleTest {
    inputs: Vec<OsString>,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    out: Out,
}

enum Out {
    /// A file name in the bundle's temporary directory.
    Named(String),
    /// A path the test chose.
    At(PathBuf),
    /// `-o -`: standard output.
    Stdout,
}

impl BundleTest {
    /// Bundles these files (paths on the host, or in `--root` when given).
    pub fn new<S: AsRef<OsStr>>(inputs: impl IntoIterator<Item = S>) -> BundleTest {
        BundleTest {
            inputs: inputs.into_iter().map(|s| s.as_ref().into()).collect(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            out: Out::Named("root".into()),
        }
    }

    /// Names the output in the temporary directory; the name picks the
    /// format as elfroot guesses it (`layer.tar.zst`, `img.oci.tar`, a
    /// directory otherwise).
    pub fn named(mut self, name: &str) -> BundleTest {
        self.out = Out::Named(name.into());
        self
    }

    /// Writes the bundle at `path`, for a test that prepares what is there
    /// or looks beside it.
    pub fn output(mut self, path: impl Into<PathBuf>) -> BundleTest {
        self.out = Out::At(path.into());
        self
    }

    /// Writes the bundle to standard output (`-o -`); [`run`](Self::run)
    /// saves what was printed as the bundle's `out`, a file.
    pub fn on_stdout(mut self) -> BundleTest {
        self.out = Out::Stdout;
        self
    }

    /// One more argument after `-o OUT`.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> BundleTest {
        self.args.push(arg.as_ref().into());
        self
    }

    /// More arguments after `-o OUT`.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> BundleTest {
        self.args
            .extend(args.into_iter().map(|s| s.as_ref().into()));
        self
    }

    /// An environment variable for elfroot.
    pub fn env(mut self, key: &str, value: &str) -> BundleTest {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs elfroot in this working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> BundleTest {
        self.cwd = Some(dir.into());
        self
    }

    /// Runs the real binary.
    pub fn run(self) -> Bundle {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = match &self.out {
            Out::Named(name) => dir.path().join(name),
            Out::At(path) => path.clone(),
            Out::Stdout => dir.path().join("stdout"),
        };
        let o = match self.out {
            Out::Stdout => OsString::from("-"),
            _ => out.clone().into_os_string(),
        };
        let mut args: Vec<OsString> = vec!["bundle".into()];
        args.extend(self.inputs);
        args.extend(["-o".into(), o]);
        args.extend(self.args);
        let mut cmd = elfroot_command(&args);
        cmd.envs(self.env);
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        let output = cmd.output().expect("run elfroot");
        let run = Run::from(&output);
        if matches!(self.out, Out::Stdout) {
            fs::write(&out, &output.stdout).expect("save stdout");
        }
        let command = args.join(OsStr::new(" ")).to_string_lossy().into_owned();
        Bundle {
            out,
            run,
            command,
            _dir: dir,
        }
    }
}

/// What [`BundleTest::run`] gives: where the bundle is and how elfroot exited.
pub struct Bundle {
    /// The output path given to `-o` (or the file standard output was saved to).
    pub out: PathBuf,
    pub run: Run,
    /// The command line, for messages.
    command: String,
    _dir: tempfile::TempDir,
}

impl Bundle {
    /// Asserts exit status 0, with elfroot's stderr in the message.
    pub fn success(self) -> Bundle {
        self.status(0)
    }

    /// Asserts exit status `code`, with elfroot's stderr in the message.
    pub fn status(self, code: i32) -> Bundle {
        assert_eq!(
            self.run.code, code,
            "elfroot {}:\n{}",
            self.command, self.run.stderr
        );
        self
    }

    /// Asserts that elfroot refused with exit status 2 and one line on
    /// stderr (the errors contract), and returns that line.
    pub fn error_line(self) -> String {
        let run = self.status(2).run;
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        run.stderr
    }
}

/// True when `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a command and panics with its output when it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A temporary directory tree that tests fill with built fixtures.
pub struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The host path of `rel` (a path inside the tree, with or without a leading '/').
    pub fn at(&self, rel: &str) -> PathBuf {
        self.path().join(rel.trim_start_matches('/'))
    }

    /// The host path of `rel` as a string.
    pub fn s(&self, rel: &str) -> String {
        self.at(rel).to_string_lossy().into_owned()
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.at(rel);
        fs::create_dir_all(&p).expect("mkdir");
        p
    }

    pub fn write(&self, rel: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.at(rel);
        fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        fs::write(&p, data).expect("write");
        p
    }

    pub fn symlink(&self, target: &str, rel: &str) {
        let p = self.at(rel);
        fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        symlink(target, p).expect("symlink");
    }

    /// Copies a host file into the tree, keeping its mode.
    pub fn copy_in(&self, host: &str, rel: &str) {
        let p = self.at(rel);
        fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        fs::copy(host, &p).unwrap_or_else(|e| panic!("copy {host}: {e}"));
    }

    /// Compiles C source `src` with `compiler` into `rel`, with extra arguments.
    pub fn build(&self, compiler: &str, src: &str, rel: &str, args: &[&str]) -> PathBuf {
        let out = self.at(rel);
        fs::create_dir_all(out.parent().unwrap()).expect("mkdir");
        let c = self.path().join(format!(
            "src-{}.c",
            rel.trim_start_matches('/').replace('/', "_")
        ));
        fs::write(&c, src).expect("write source");
        run_ok(
            Command::new(compiler)
                .arg("-o")
                .arg(&out)
                .arg(&c)
                .arg("-Wl,--build-id=none")
                .args(args),
        );
        out
    }

    /// A shared library `rel` (SONAME = its file name) built with cc.
    pub fn lib(&self, rel: &str, body: &str, args: &[&str]) -> PathBuf {
        let soname = Path::new(rel)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut all = vec!["-shared", "-fPIC"];
        let so = format!("-Wl,-soname,{soname}");
        all.push(&so);
        all.extend_from_slice(args);
        self.build("cc", body, rel, &all)
    }

    /// An executable `rel` built with cc.
    pub fn exe(&self, rel: &str, body: &str, args: &[&str]) -> PathBuf {
        self.build("cc", body, rel, args)
    }

    /// Copies the host's glibc loader and libc into the tree (Debian layout,
    /// merged /usr), so that the tree can serve as a root for real runs.
    pub fn with_host_glibc(&self) {
        self.mkdir("usr/lib/x86_64-linux-gnu");
        self.mkdir("usr/lib64");
        self.symlink("usr/lib", "lib");
        self.symlink("usr/lib64", "lib64");
        for lib in ["libc.so.6", "ld-linux-x86-64.so.2"] {
            self.copy_in(
                &format!("/lib/x86_64-linux-gnu/{lib}"),
                &format!("usr/lib/x86_64-linux-gnu/{lib}"),
            );
        }
        self.symlink(
            "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "usr/lib64/ld-linux-x86-64.so.2",
        );
    }
}

/// `elfroot list --paths` for one file, as a sorted set of canonical host paths
/// (for comparing with ldd, which reports paths the same way).
pub fn canonical_set(paths: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = paths
        .iter()
        .map(|p| {
            fs::canonicalize(p)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_else(|_| p.to_string())
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Parses `ldd` output into (resolved paths, names reported "not found").
pub fn parse_ldd(text: &str) -> (Vec<String>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((name, rest)) = line.split_once(" => ") {
            let rest = rest.trim();
            if rest.starts_with("not found") {
                missing.push(name.trim().to_string());
            } else if let Some(p) = rest
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/'))
            {
                found.push(p.to_string());
            }
        } else if let Some(p) = line
            .split_whitespace()
            .next()
            .filter(|p| p.starts_with('/'))
        {
            found.push(p.to_string());
        }
    }
    (found, missing)
}

/// Runs the real ldd on `file` with the given environment (test-only: ldd executes the loader).
pub fn ldd(file: &Path, env: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
    let mut cmd = Command::new("ldd");
    cmd.arg(file).env_remove("LD_LIBRARY_PATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run ldd");
    parse_ldd(&String::from_utf8_lossy(&out.stdout))
}

/// The resolved paths and missing names from `elfroot list` (same parser as ldd's).
pub fn elfroot_list(
    file: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Vec<String>, Vec<String>, Run) {
    let f = file.to_string_lossy();
    let mut args = vec!["list"];
    args.extend_from_slice(extra);
    args.push(&f);
    let run = elfroot_env(&args, env);
    let (found, missing) = parse_ldd(&run.stdout);
    (found, missing, run)
}

/// Asserts that elfroot and the real ldd agree on `file` (same resolved
/// canonical paths, same missing names).
pub fn assert_same_as_ldd(file: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let (mut found, mut missing, run) = elfroot_list(file, extra, env);
    let (mut lfound, mut lmissing) = ldd(file, env);
    let refs: Vec<&str> = found.iter().map(String::as_str).collect();
    let lrefs: Vec<&str> = lfound.iter().map(String::as_str).collect();
    let (a, b) = (canonical_set(&refs), canonical_set(&lrefs));
    found.sort();
    lfound.sort();
    missing.sort();
    lmissing.sort();
    assert_eq!(
        a,
        b,
        "resolved paths differ from ldd for {}:\n{}",
        file.display(),
        run.stdout
    );
    assert_eq!(
        missing,
        lmissing,
        "missing names differ from ldd for {}",
        file.display()
    );
    run
}

/// One program run: (stdout, stderr, exit status).
pub type Outcome = (String, String, i32);

/// Runs `argv` with a clean environment (plus `env`) and `stdin`, on the
/// host or, with `root`, inside it with chroot (test-only: running bundles is
/// how the tests prove them).
pub fn run_program(
    root: Option<&Path>,
    argv: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
) -> Outcome {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = match root {
        Some(r) => {
            let mut c = Command::new("/usr/sbin/chroot");
            c.arg(r).args(argv);
            c
        }
        None => {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .current_dir("/");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    if let Some(mut input) = child.stdin.take() {
        // A program that exits without reading its input closes the pipe: fine.
        let _ = input.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// True when the test runs as root; otherwise [`skip`]s saying what needs
/// it (a failure under CI) and returns false.
pub fn root_for(what: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(&format!("{what} needs root"));
    false
}

/// `tar -tvf ARCHIVE --numeric-owner`: one line per entry, owners as numbers.
pub fn tar_listing(archive: &Path) -> String {
    let out = run_ok(
        Command::new("tar")
            .args(["--numeric-owner", "-tvf"])
            .arg(archive),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The line of a `tar -tv` listing for `path` (relative, as tar shows it).
pub fn tar_line<'a>(listing: &'a str, path: &str) -> Option<&'a str> {
    listing
        .lines()
        .find(|l| l.ends_with(&format!(" {path}")) || l.contains(&format!(" {path} -> ")))
}

/// Gives a bundle directory what a container runtime gives every container
/// (runc's and Docker's defaults): /etc/hosts, /etc/hostname and
/// /etc/resolv.conf as the host has them, the device nodes runc creates,
/// /dev/pts and /dev/shm, and /dev's links into /proc. /proc and /sys are
/// mounts: [`mount_proc_and_sys`].
pub fn as_a_runtime_would(root: &Path) {
    fs::create_dir_all(root.join("etc")).unwrap();
    for file in ["hosts", "hostname", "resolv.conf"] {
        let host = Path::new("/etc").join(file);
        if host.exists() {
            let _ = fs::remove_file(root.join("etc").join(file));
            fs::copy(&host, root.join("etc").join(file)).unwrap();
        }
    }
    let dev = root.join("dev");
    for dir in ["pts", "shm"] {
        fs::create_dir_all(dev.join(dir)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dev.join("shm"), fs::Permissions::from_mode(0o1777)).unwrap();
    let nodes = [
        ("null", "1", "3"),
        ("zero", "1", "5"),
        ("full", "1", "7"),
        ("random", "1", "8"),
        ("urandom", "1", "9"),
        ("tty", "5", "0"),
    ];
    for (name, major, minor) in nodes {
        let node = dev.join(name);
        if !node.exists() {
            run_ok(
                Command::new("mknod")
                    .args(["-m", "666"])
                    .arg(&node)
                    .args(["c", major, minor]),
            );
        }
    }
    let links = [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ];
    for (name, target) in links {
        if dev.join(name).symlink_metadata().is_err() {
            symlink(target, dev.join(name)).unwrap();
        }
    }
}

/// /proc and /sys (read-only) mounted in a bundle directory, as runc mounts
/// them in every container; unmounted when dropped, which must happen before
/// the directory is removed.
pub struct KernelMounts {
    mounted: Vec<PathBuf>,
}

/// Mounts /proc and /sys in `root` (needs root).
pub fn mount_proc_and_sys(root: &Path) -> KernelMounts {
    let mut mounts = KernelMounts {
        mounted: Vec::new(),
    };
    for (fs_type, dir, options) in [("proc", "proc", "rw"), ("sysfs", "sys", "ro")] {
        let at = root.join(dir);
        fs::create_dir_all(&at).unwrap();
        run_ok(
            Command::new("mount")
                .args(["-t", fs_type, "-o", options, fs_type])
                .arg(&at),
        );
        mounts.mounted.push(at);
    }
    mounts
}

impl Drop for KernelMounts {
    fn drop(&mut self) {
        for at in self.mounted.iter().rev() {
            let plain = Command::new("umount").arg(at).status();
            if !plain.is_ok_and(|s| s.success()) {
                // Busy (a program left running): detach it anyway, so that
                // removing the directory never walks into /proc or /sys.
                let _ = Command::new("umount").arg("-l").arg(at).status();
            }
        }
    }
}
