//! `elfroot trace`: the one command that runs something. It runs the
//! command the user names under ptrace, following every process and thread
//! it starts, records the paths they successfully opened, executed,
//! stat'ed, listed or read as links, and writes them as a [`Profile`] that
//! `elfroot bundle --profile` adds to a bundle.
//!
//! `spawn` starts the command (stopped before its exec, with a seccomp
//! filter from `filter` so that only path calls stop), `tracer` runs the
//! ptrace loop, `record` turns what it saw into entries once the command
//! has ended, and [`profile`] owns the file format. Nothing is written
//! before the command ends; the profile then appears whole (atomic write).
//! On hosts other than x86_64, [`run`] refuses (reading profiles still works).

#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code, unused_imports))]

#[cfg(target_arch = "x86_64")]
mod filter;
pub mod profile;
mod record;
#[cfg(target_arch = "x86_64")]
mod spawn;
#[cfg(target_arch = "x86_64")]
mod syscalls;
#[cfg(target_arch = "x86_64")]
mod tracer;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::outcome::{Outcome, Status};
pub use profile::{Kind, Profile};

/// What `trace` is asked.
#[derive(Debug, Clone)]
pub struct TraceConfig {
    /// The profile to write.
    pub output: PathBuf,
    /// Run the command chrooted in this directory (paths are recorded inside it).
    pub root: Option<PathBuf>,
    /// The command's working directory (inside the root).
    pub cwd: Option<PathBuf>,
    /// Variables set for the command, over elfroot's own environment.
    pub env: Vec<(OsString, OsString)>,
    /// Merge with the profile already at `output`.
    pub append: bool,
    /// The command and its arguments.
    pub command: Vec<OsString>,
}

/// How `trace` ended: the diagnostics, and the exit code (the command's).
#[derive(Debug)]
pub struct Traced {
    /// Warnings for standard error.
    pub outcome: Outcome,
    /// The command's exit status, or 128 + the signal that killed it.
    pub exit_code: u8,
}

/// Runs the command under trace and writes its profile.
#[cfg(target_arch = "x86_64")]
pub fn run(config: &TraceConfig) -> Result<Traced> {
    let output = std::path::absolute(&config.output).map_err(|e| Error::io(&config.output, e))?;
    let mut profile = match config.append {
        true => existing(&output)?,
        false => Profile::default(),
    };
    // SAFETY: geteuid has no preconditions.
    if config.root.is_some() && unsafe { libc::geteuid() } != 0 {
        return Err(Error::Usage(
            "--root: running a command chrooted needs root (CAP_SYS_CHROOT); \
             run elfroot trace as root, or trace without --root"
                .into(),
        ));
    }
    let root = match &config.root {
        Some(d) => crate::root::Root::open(d)?,
        None => crate::root::Root::host(),
    };
    let root_dir = (!root.is_host()).then(|| root.dir().to_path_buf());
    let files = crate::files::Files::new(root);
    let env = environment(&config.env);
    let prepared = spawn::Prepared::new(
        &config.command,
        &env,
        root_dir.as_deref(),
        config.cwd.as_deref(),
    )?;
    let start = record::Instant::now();
    let seen = {
        let _quiet = IgnoreInterrupts::new();
        let child = spawn::start(&prepared)?;
        let seen = tracer::trace(child.pid, root_dir.as_deref())?;
        if let Some(e) = child.failure(
            &config.command[0],
            root_dir.as_deref(),
            config.cwd.as_deref(),
        ) {
            return Err(e);
        }
        seen.ok_or_else(|| Error::Internal("the traced command left no exit status".into()))?
    };
    let mut outcome = Outcome::new(Status::Clean);
    let exit_code = match seen.end {
        tracer::End::Exited(code) => code as u8,
        tracer::End::Killed(sig) => {
            outcome.warning(format!(
                "{} was killed by signal {sig} ({}); the profile holds what it used until then",
                config.command[0].to_string_lossy(),
                signal_name(sig)
            ));
            128 + sig as u8
        }
    };
    let mut traced = Profile {
        commands: vec![shown_command(&config.env, &config.command)],
        entries: record::entries(&files, seen.paths, start, &output),
    };
    if let Some(r) = &config.root {
        traced.commands[0] = format!("{} (in --root {})", traced.commands[0], r.display());
    }
    profile.merge(traced);
    crate::archive::write_small_file(&output, profile.render().as_bytes())?;
    Ok(Traced { outcome, exit_code })
}

/// On hosts other than x86_64: a refusal.
#[cfg(not(target_arch = "x86_64"))]
pub fn run(_config: &TraceConfig) -> Result<Traced> {
    Err(Error::Usage(format!(
        "elfroot trace runs on x86_64 hosts only (this one is {})",
        std::env::consts::ARCH
    )))
}

/// The profile already at `output` (none: an empty one).
fn existing(output: &Path) -> Result<Profile> {
    let host = crate::root::Root::host();
    let Some(real) = host.resolve_file(output)? else {
        return Ok(Profile::default());
    };
    let bytes = host.contents(&real)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::Config {
        path: output.to_path_buf(),
        reason: "not a profile (not UTF-8 text)".into(),
    })?;
    Profile::parse(text, output)
}

/// elfroot's environment with `set` applied over it.
fn environment(set: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
        .collect();
    env.extend(set.iter().cloned());
    env
}

/// `KEY=VALUE`.
fn key_value(key: &OsStr, value: &OsStr) -> OsString {
    let mut kv = key.to_owned();
    kv.push("=");
    kv.push(value);
    kv
}

/// The command line for the header, shell-quoted, after the variables set.
fn shown_command(env: &[(OsString, OsString)], command: &[OsString]) -> String {
    let words = env
        .iter()
        .map(|(k, v)| key_value(k, v))
        .chain(command.iter().cloned());
    words
        .map(|w| quote(&profile::escape(w.as_encoded_bytes())))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn signal_name(sig: i32) -> String {
    // SAFETY: strsignal returns a static string (or NULL).
    let p = unsafe { libc::strsignal(sig) };
    if p.is_null() {
        return format!("signal {sig}");
    }
    // SAFETY: a NUL-terminated string from libc.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// SIGINT and SIGQUIT go to the traced command alone while it runs (as a
/// shell's `time` does): elfroot must outlive it to write the profile.
#[cfg(target_arch = "x86_64")]
struct IgnoreInterrupts {
    old: [libc::sighandler_t; 2],
}

#[cfg(target_arch = "x86_64")]
impl IgnoreInterrupts {
    fn new() -> IgnoreInterrupts {
        // SAFETY: setting a disposition to SIG_IGN.
        let old = unsafe {
            [
                libc::signal(libc::SIGINT, libc::SIG_IGN),
                libc::signal(libc::SIGQUIT, libc::SIG_IGN),
            ]
        };
        IgnoreInterrupts { old }
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        // SAFETY: restoring the dispositions saved above.
        unsafe {
            libc::signal(libc::SIGINT, self.old[0]);
            libc::signal(libc::SIGQUIT, self.old[1]);
        }
    }
}
