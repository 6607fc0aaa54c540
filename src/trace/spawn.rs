//! Starting the traced command: everything it needs is prepared before the
//! fork (the child may only make system calls), then the child asks to be
//! traced, stops so that the tracer can set its options, installs the
//! seccomp filter and execs. A failure in the child comes back through a
//! close-on-exec pipe as (step, errno), and is turned into one error naming
//! the step, the cause and what to do.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

/// What the child runs, prepared for a child that cannot allocate.
pub struct Prepared {
    /// The candidate paths of the program (one per PATH directory, or the path given).
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    root: Option<CString>,
    cwd: Option<CString>,
    filter: Vec<libc::sock_filter>,
}

/// The steps a child reports a failure of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Step {
    Chroot = 1,
    Chdir,
    Traceme,
    Seccomp,
    Exec,
}

fn cstring(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| Error::Usage(format!("{}: contains a NUL byte", s.to_string_lossy())))
}

impl Prepared {
    /// Prepares `command` with environment `env`, run in `cwd` inside `root`.
    pub fn new(
        command: &[OsString],
        env: &[(OsString, OsString)],
        root: Option<&Path>,
        cwd: Option<&Path>,
    ) -> Result<Prepared> {
        let program = command
            .first()
            .ok_or_else(|| Error::Usage("no COMMAND to trace".into()))?;
        let path_var = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v);
        let candidates = if program.as_bytes().contains(&b'/') {
            vec![cstring(program)?]
        } else {
            let dirs =
                path_var.map_or(b"/usr/local/bin:/usr/bin:/bin".as_slice(), |p| p.as_bytes());
            dirs.split(|&b| b == b':')
                .map(|d| {
                    let d = if d.is_empty() { b".".as_slice() } else { d };
                    cstring(Path::new(OsStr::from_bytes(d)).join(program).as_os_str())
                })
                .collect::<Result<_>>()?
        };
        let envp = env
            .iter()
            .map(|(k, v)| cstring(&super::key_value(k, v)))
            .collect::<Result<_>>()?;
        Ok(Prepared {
            candidates,
            argv: command.iter().map(|a| cstring(a)).collect::<Result<_>>()?,
            envp,
            root: root.map(|r| cstring(r.as_os_str())).transpose()?,
            cwd: match (cwd, root) {
                (Some(c), _) => Some(cstring(c.as_os_str())?),
                (None, Some(_)) => Some(cstring(OsStr::new("/"))?),
                (None, None) => None,
            },
            filter: super::filter::program(),
        })
    }
}

/// A started child, stopped before its exec, and the pipe its failures come through.
pub struct Child {
    /// Its process id.
    pub pid: libc::pid_t,
    errors: libc::c_int,
}

/// Forks and starts the child; it stops itself (SIGSTOP) before installing
/// the filter and exec'ing.
pub fn start(p: &Prepared) -> Result<Child> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::io("pipe", io::Error::last_os_error()));
    }
    let argv = pointers(&p.argv);
    let envp = pointers(&p.envp);
    let prog = libc::sock_fprog {
        len: p.filter.len() as u16,
        filter: p.filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the child only makes system calls on memory prepared above
    // (no allocation, no locks) and ends in exec or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::io("fork", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see above.
        unsafe { child(p, &argv, &envp, &prog, fds[1]) }
    }
    // SAFETY: the write end belongs to the child now.
    unsafe { libc::close(fds[1]) };
    Ok(Child {
        pid,
        errors: fds[0],
    })
}

fn pointers(list: &[CString]) -> Vec<*const libc::c_char> {
    list.iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The child's side. Never returns.
unsafe fn child(
    p: &Prepared,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    prog: &libc::sock_fprog,
    errors: libc::c_int,
) -> ! {
    let fail = |step: Step| -> ! {
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let mut record = [0u8; 5];
        record[0] = step as u8;
        record[1..].copy_from_slice(&errno.to_ne_bytes());
        // SAFETY: a write of a local buffer, then the end of the child.
        unsafe {
            libc::write(errors, record.as_ptr().cast(), record.len());
            libc::_exit(127)
        }
    };
    // SAFETY: system calls on prepared, NUL-terminated data.
    unsafe {
        // elfroot ignores these while it traces (and Rust ignores SIGPIPE); the command must not.
        for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_DFL);
        }
        if let Some(root) = &p.root
            && libc::chroot(root.as_ptr()) != 0
        {
            fail(Step::Chroot);
        }
        if let Some(cwd) = &p.cwd
            && libc::chdir(cwd.as_ptr()) != 0
        {
            fail(Step::Chdir);
        }
        if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
            fail(Step::Traceme);
        }
        libc::raise(libc::SIGSTOP);
        let filter = |prog: &libc::sock_fprog| {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                prog as *const _,
            )
        };
        if filter(prog) != 0 {
            // Without CAP_SYS_ADMIN a filter needs no_new_privs.
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            if filter(prog) != 0 {
                fail(Step::Seccomp);
            }
        }
        let mut first_error = 0;
        for c in &p.candidates {
            libc::execve(c.as_ptr(), argv.as_ptr(), envp.as_ptr());
            let e = *libc::__errno_location();
            if first_error == 0 || (first_error == libc::ENOENT && e != libc::ENOENT) {
                first_error = e;
            }
        }
        *libc::__errno_location() = first_error;
        fail(Step::Exec)
    }
}

impl Child {
    /// The failure the child reported, once it has exited: None when it exec'd.
    pub fn failure(
        &self,
        command: &OsStr,
        root: Option<&Path>,
        cwd: Option<&Path>,
    ) -> Option<Error> {
        let mut record = [0u8; 5];
        // SAFETY: a read into a local buffer; every write end is closed by now.
        let n = unsafe { libc::read(self.errors, record.as_mut_ptr().cast(), record.len()) };
        if n != 5 {
            return None;
        }
        let errno = i32::from_ne_bytes([record[1], record[2], record[3], record[4]]);
        let cause = io::Error::from_raw_os_error(errno);
        let shown = command.to_string_lossy();
        let root_shown = root.map(|r| r.display().to_string()).unwrap_or_default();
        let step = [
            Step::Chroot,
            Step::Chdir,
            Step::Traceme,
            Step::Seccomp,
            Step::Exec,
        ]
        .into_iter()
        .find(|s| *s as u8 == record[0])?;
        Some(Error::Usage(match step {
            Step::Chroot if errno == libc::EPERM => format!(
                "--root {root_shown}: chroot needs root (CAP_SYS_CHROOT); run elfroot trace as root"
            ),
            Step::Chroot => format!("--root {root_shown}: chroot: {cause}"),
            Step::Chdir => format!("--cwd {}: {cause}", cwd.unwrap_or(Path::new("/")).display()),
            Step::Traceme => not_permitted(&cause),
            Step::Seccomp => format!(
                "cannot install the seccomp filter that makes tracing fast ({cause}); \
                 elfroot trace needs seccomp (a kernel with CONFIG_SECCOMP_FILTER)"
            ),
            Step::Exec if errno == libc::ENOENT => format!("{shown}: command not found"),
            Step::Exec => format!("{shown}: cannot execute: {cause}"),
        }))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: the read end is ours.
        unsafe { libc::close(self.errors) };
    }
}

/// Why ptrace was refused, and what to do.
fn not_permitted(cause: &io::Error) -> String {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").ok();
    let tracer = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("TracerPid:").map(|p| p.trim().to_string()))
        })
        .filter(|p| p != "0");
    let why = if let Some(t) = tracer {
        format!(
            "elfroot itself is being traced (by process {t}: a debugger or strace -f), and a process has one tracer at most; run elfroot trace outside it"
        )
    } else if scope.as_deref().map(str::trim) == Some("3") {
        "kernel.yama.ptrace_scope is 3 (ptrace disabled until reboot); elfroot trace cannot run on this machine".into()
    } else {
        "the container or sandbox forbids ptrace (no CAP_SYS_PTRACE, or a seccomp profile that blocks it); run it with ptrace allowed (docker/podman run --cap-add SYS_PTRACE), or trace on a machine that allows it".into()
    };
    format!("ptrace is not permitted here (PTRACE_TRACEME: {cause}): {why}")
}
