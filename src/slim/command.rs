//! What an image runs, resolved inside the image as a container runtime
//! resolves it: the program through the image's PATH (or the WorkingDir for
//! a relative path), the arguments that name files or directories of the
//! image, and for a shell-form command (`sh -c "…"`) or a shell script the
//! command words of the script (see [`super::shell`]). Reads the image only
//! through its [`Root`]; nothing on the host is looked at.

use std::path::{Path, PathBuf};

use super::shell;
use crate::error::Result;
use crate::root::{Lookup, Root};

/// Shells whose `-c` argument, and whose scripts, are read for commands.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"];

/// Commands a POSIX shell runs itself: not looked for in PATH.
const BUILTINS: &[&str] = &[
    ":", ".", "[", "alias", "bg", "break", "cd", "command", "continue", "echo", "eval", "exec",
    "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd",
    "read", "readonly", "return", "set", "shift", "test", "times", "trap", "true", "type",
    "ulimit", "umask", "unalias", "unset", "wait", "source",
];

/// The most scripts read for the commands they run (scripts run scripts).
const MAX_SCRIPTS: usize = 64;

/// Where the runtime looks for the program.
pub(super) struct Context<'a> {
    /// The image's PATH, colon separated.
    pub path: &'a str,
    /// The image's WorkingDir ("/" when unset).
    pub workdir: &'a str,
}

/// What the command keeps.
#[derive(Debug, Default)]
pub(super) struct Kept {
    /// Programs and scripts, as the runtime finds them (bundle inputs).
    pub programs: Vec<PathBuf>,
    /// Files and directories the arguments and scripts name.
    pub paths: Vec<PathBuf>,
    /// Commands of a script found nowhere in PATH (it would fail there).
    pub not_found: Vec<String>,
}

impl Kept {
    fn program(&mut self, p: PathBuf) -> bool {
        if self.programs.contains(&p) {
            return false;
        }
        self.programs.push(p);
        true
    }

    fn path(&mut self, p: PathBuf) {
        if !self.paths.contains(&p) && !self.programs.contains(&p) {
            self.paths.push(p);
        }
    }
}

/// Resolves `argv` (Entrypoint followed by Cmd). The program must be
/// found: None says it is not in the image.
pub(super) fn resolve(root: &Root, argv: &[String], cx: &Context<'_>) -> Result<Option<Kept>> {
    let Some((program, args)) = argv.split_first() else {
        return Ok(None);
    };
    let Some(found) = find(root, program, cx)? else {
        return Ok(None);
    };
    let mut kept = Kept::default();
    kept.program(found.clone());
    let mut scripts = Vec::new();
    let mut rest = args;
    if is_shell(&found)
        && let Some(i) = args.iter().position(|a| a == "-c")
    {
        if let Some(script) = args.get(i + 1) {
            scripts.push(script.clone());
        }
        rest = args.get(i + 2..).unwrap_or(&[]);
    }
    for a in rest {
        argument(root, a, cx, &mut kept)?;
    }
    // Shell scripts among the programs run commands too.
    let mut read = 0;
    let mut next = 0;
    while next < kept.programs.len() || !scripts.is_empty() {
        for s in std::mem::take(&mut scripts) {
            script(root, &s, cx, &mut kept)?;
        }
        let Some(p) = kept.programs.get(next).cloned() else {
            continue;
        };
        next += 1;
        if read < MAX_SCRIPTS
            && let Some(text) = shell_script(root, &p)?
        {
            read += 1;
            scripts.push(text);
        }
    }
    literal_paths(root, &mut kept)?;
    Ok(Some(kept))
}

/// The largest script whose quoted paths are looked for.
const MAX_SCRIPT: u64 = 1 << 20;

/// Scripts and text files the command keeps name files in quotes
/// (`open("/app/x")`): the regular files of the image so named are kept
/// too. Directories are not (a quoted "/usr" would keep a system).
fn literal_paths(root: &Root, kept: &mut Kept) -> Result<()> {
    let texts: Vec<PathBuf> = kept.programs.iter().chain(&kept.paths).cloned().collect();
    for p in texts {
        let Some(real) = root.resolve_file(&p)? else {
            continue;
        };
        let small = root.meta(&real).is_some_and(|m| m.size <= MAX_SCRIPT);
        if !small || root.head(&real, 4)?.starts_with(b"\x7fELF") {
            continue;
        }
        let Some(text) = root.read_to_string(&real)? else {
            continue;
        };
        for q in quoted(&text) {
            let q = PathBuf::from(q);
            if matches!(root.lookup(&q)?, Lookup::File(_)) {
                kept.path(q);
            }
        }
    }
    Ok(())
}

/// The absolute paths written between quotes in `text`.
fn quoted(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for quote in ['"', '\''] {
        let mut parts = text.split(quote);
        parts.next();
        while let (Some(inside), _) = (parts.next(), parts.next()) {
            if inside.starts_with('/') && inside.len() > 1 && !inside.contains(['\n', ' ']) {
                out.push(inside);
            }
        }
    }
    out
}

/// Keeps the commands and absolute paths of a shell script.
fn script(root: &Root, text: &str, cx: &Context<'_>, kept: &mut Kept) -> Result<()> {
    let words = shell::words(text);
    for c in &words.commands {
        if BUILTINS.contains(&c.as_str()) {
            continue;
        }
        match find(root, c, cx)? {
            Some(p) => {
                kept.program(p);
            }
            None => {
                if !kept.not_found.contains(c) {
                    kept.not_found.push(c.clone());
                }
            }
        }
    }
    for p in &words.paths {
        let p = PathBuf::from(p);
        if matches!(root.lookup(&p)?, Lookup::File(_) | Lookup::Dir(_)) && p != Path::new("/") {
            kept.path(p);
        }
    }
    Ok(())
}

/// An argument that names a file or directory of the image (absolute, or
/// relative to the working directory) keeps it; a script or program there
/// is a program (it brings its interpreter and closure). A file under the
/// working directory (other than `/`) keeps its whole directory.
fn argument(root: &Root, arg: &str, cx: &Context<'_>, kept: &mut Kept) -> Result<()> {
    let value = match arg.split_once('=') {
        Some((opt, v)) if opt.starts_with('-') => v,
        _ if arg.starts_with('-') => return Ok(()),
        _ => arg,
    };
    if value.is_empty() || value == "/" {
        return Ok(());
    }
    let path = inside(cx.workdir, value);
    match root.lookup(&path)? {
        Lookup::File(real) => {
            let head = root.head(&real, 4)?;
            let runs = head.starts_with(b"#!") || head.starts_with(b"\x7fELF");
            let executable = root.meta(&real).is_some_and(|m| m.mode & 0o111 != 0);
            // A file inside the working directory is part of the app, which
            // imports its neighbours (python puts the script's directory on
            // sys.path): its directory is kept whole.
            let app_dir = path
                .parent()
                .filter(|d| cx.workdir != "/" && d.starts_with(cx.workdir))
                .map(Path::to_path_buf);
            if runs && executable {
                kept.program(path);
            } else {
                kept.path(path);
            }
            if let Some(d) = app_dir {
                kept.path(d);
            }
        }
        Lookup::Dir(_) => kept.path(path),
        _ => {}
    }
    Ok(())
}

/// The text of `program` when it is a script run by a shell.
fn shell_script(root: &Root, program: &Path) -> Result<Option<String>> {
    let Some(real) = root.resolve_file(program)? else {
        return Ok(None);
    };
    let head = root.head(&real, 128)?;
    let Some(line) = head.strip_prefix(b"#!") else {
        return Ok(None);
    };
    let line = String::from_utf8_lossy(line);
    let interp = line.split_whitespace().next().unwrap_or("");
    if !is_shell(Path::new(interp)) {
        return Ok(None);
    }
    root.read_to_string(&real)
}

/// `word` taken from the directory `dir`, without `.` components.
fn inside(dir: &str, word: &str) -> PathBuf {
    Path::new(dir)
        .join(word)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

fn is_shell(program: &Path) -> bool {
    program
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| SHELLS.contains(&n))
}

/// Where the runtime finds `word`: a path with a slash is taken from the
/// working directory, a name is looked for in PATH; it must be an
/// executable regular file.
fn find(root: &Root, word: &str, cx: &Context<'_>) -> Result<Option<PathBuf>> {
    let candidates: Vec<PathBuf> = if word.contains('/') {
        vec![inside(cx.workdir, word)]
    } else {
        cx.path
            .split(':')
            .map(|d| if d.is_empty() { cx.workdir } else { d })
            .map(|d| inside(cx.workdir, d).join(word))
            .collect()
    };
    for c in candidates {
        if let Lookup::File(real) = root.lookup(&c)?
            && root.meta(&real).is_some_and(|m| m.mode & 0o111 != 0)
        {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::layers::Virtual;

    fn image() -> Root {
        let file = |mode, text: &str| Virtual::Data {
            mode,
            bytes: text.as_bytes().to_vec(),
        };
        let items = vec![
            (PathBuf::from("/usr/bin/sh"), file(0o755, "\x7fELF")),
            (PathBuf::from("/usr/bin/curl"), file(0o755, "\x7fELF")),
            (PathBuf::from("/usr/bin/cut"), file(0o755, "\x7fELF")),
            (PathBuf::from("/usr/bin/python3"), file(0o755, "\x7fELF")),
            (PathBuf::from("/usr/bin/notexec"), file(0o644, "\x7fELF")),
            (PathBuf::from("/bin"), Virtual::Symlink("usr/bin".into())),
            (
                PathBuf::from("/app/main.py"),
                file(0o644, "open('/app/data/y')\n"),
            ),
            (PathBuf::from("/app/data/y"), file(0o644, "y")),
            (PathBuf::from("/app/data/x"), file(0o644, "x")),
            (
                PathBuf::from("/app/run.sh"),
                file(0o755, "#!/bin/sh\ncut -c1 /app/data/x | nothere\n"),
            ),
        ];
        Root::from_virtual("<test>", &[], items).unwrap()
    }

    fn run(argv: &[&str], workdir: &str) -> Option<Kept> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let cx = Context {
            path: "/usr/local/bin:/usr/bin:/bin",
            workdir,
        };
        resolve(&image(), &argv, &cx).unwrap()
    }

    fn strings(v: &[PathBuf]) -> Vec<String> {
        v.iter().map(|p| p.display().to_string()).collect()
    }

    #[test]
    fn programs_come_from_path_and_arguments_from_the_workdir() {
        let k = run(
            &["python3", "main.py", "data", "-v", "--out=/app/data/x"],
            "/app",
        )
        .unwrap();
        assert_eq!(strings(&k.programs), ["/usr/bin/python3"]);
        assert_eq!(
            strings(&k.paths),
            [
                "/app/main.py",
                "/app",
                "/app/data",
                "/app/data/x",
                "/app/data/y"
            ]
        );
        let k = run(&["python3", "/app/main.py"], "/").unwrap();
        assert_eq!(
            strings(&k.paths),
            ["/app/main.py", "/app/data/y"],
            "no workdir"
        );
        assert!(run(&["notexec"], "/").is_none(), "not executable");
        assert!(run(&["nothere"], "/").is_none());
    }

    #[test]
    fn shell_forms_and_scripts_keep_their_commands() {
        let k = run(
            &["/bin/sh", "-c", "curl -s file:///app/x | cut -c1-16"],
            "/",
        )
        .unwrap();
        assert_eq!(
            strings(&k.programs),
            ["/bin/sh", "/usr/bin/curl", "/usr/bin/cut"]
        );
        let k = run(&["./run.sh"], "/app").unwrap();
        assert_eq!(strings(&k.programs), ["/app/run.sh", "/usr/bin/cut"]);
        assert_eq!(strings(&k.paths), ["/app/data/x"]);
        assert_eq!(k.not_found, ["nothere"]);
    }
}
