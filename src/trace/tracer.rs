//! The ptrace loop: follows the command and every process and thread it
//! starts, and collects the paths of the calls that succeeded.
//!
//! The seccomp filter stops a tracee at the entry of a path call
//! (`PTRACE_EVENT_SECCOMP`); the path is read from its memory then, made
//! absolute against its working directory or dirfd (`/proc/TID/cwd`,
//! `/proc/TID/fd/N`), and kept pending while the call runs to its exit
//! stop (`PTRACE_SYSCALL`), where a non-negative result records it. An exec
//! is recorded at its `PTRACE_EVENT_EXEC` stop. Every other stop is passed
//! on: new tracees' first SIGSTOP is swallowed, signals are delivered.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::syscalls::{self, Call};
use crate::error::{Error, Result};

/// How the traced command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it.
    Killed(i32),
}

/// What the trace saw: each path that a call used successfully, and
/// whether it was executed.
pub struct Seen {
    /// Absolute paths (inside the traced root, not yet normalised).
    pub paths: HashMap<PathBuf, bool>,
    /// How the first process ended.
    pub end: End,
}

/// A call stopped at its entry, recorded if it succeeds.
enum Pending {
    Path(PathBuf),
    Exec(PathBuf),
}

struct Tracer<'a> {
    main: libc::pid_t,
    /// With `--root`: the root's host path, which /proc shows before paths.
    prefix: Option<&'a Path>,
    pending: HashMap<libc::pid_t, Pending>,
    seen: HashSet<libc::pid_t>,
    paths: HashMap<PathBuf, bool>,
    end: Option<End>,
}

const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_EXITKILL;

/// Traces `main` (stopped before its exec, or already gone) and every
/// tracee it makes, until none is left. `prefix` is the `--root` directory.
pub fn trace(main: libc::pid_t, prefix: Option<&Path>) -> Result<Option<Seen>> {
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    if unsafe { libc::waitpid(main, &mut status, libc::__WALL) } != main {
        return Err(Error::io("waitpid", io::Error::last_os_error()));
    }
    if !libc::WIFSTOPPED(status) {
        // It failed before stopping; the caller asks it why.
        return Ok(None);
    }
    // SAFETY: ptrace requests on our stopped tracee.
    unsafe {
        if libc::ptrace(libc::PTRACE_SETOPTIONS, main, 0, OPTIONS) != 0 {
            let e = io::Error::last_os_error();
            libc::kill(main, libc::SIGKILL);
            return Err(Error::Usage(format!("ptrace options refused: {e}")));
        }
        libc::ptrace(libc::PTRACE_CONT, main, 0, 0);
    }
    let mut t = Tracer {
        main,
        prefix,
        pending: HashMap::new(),
        seen: HashSet::from([main]),
        paths: HashMap::new(),
        end: None,
    };
    t.run()?;
    Ok(t.end.map(|end| Seen {
        paths: t.paths,
        end,
    }))
}

impl Tracer<'_> {
    fn run(&mut self) -> Result<()> {
        loop {
            let mut status = 0;
            // SAFETY: waits for any tracee.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
            if pid < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return Ok(()),
                    _ => return Err(Error::io("waitpid", e)),
                }
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.gone(pid, status);
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            let sig = libc::WSTOPSIG(status);
            let event = (status >> 16) & 0xff;
            let inject = if self.seen.insert(pid) && sig == libc::SIGSTOP && event == 0 {
                0
            } else {
                self.stopped(pid, sig, event)
            };
            self.resume(pid, inject);
        }
    }

    /// Handles a stop; returns the signal to deliver.
    fn stopped(&mut self, pid: libc::pid_t, sig: i32, event: i32) -> i32 {
        if sig == libc::SIGTRAP | 0x80 {
            self.exit(pid);
            return 0;
        }
        if sig == libc::SIGTRAP && event != 0 {
            match event {
                libc::PTRACE_EVENT_SECCOMP => self.entry(pid),
                libc::PTRACE_EVENT_EXEC => self.exec(pid),
                _ => {}
            }
            return 0;
        }
        let stop = [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
        if stop.contains(&sig) && !has_siginfo(pid) {
            // A group stop, not a signal to deliver: let it go on.
            return 0;
        }
        sig
    }

    fn resume(&self, pid: libc::pid_t, sig: i32) {
        let request = if self.pending.contains_key(&pid) {
            libc::PTRACE_SYSCALL
        } else {
            libc::PTRACE_CONT
        };
        // SAFETY: resumes a stopped tracee; a tracee killed meanwhile (ESRCH) is reported by waitpid.
        unsafe { libc::ptrace(request, pid, 0, sig as libc::c_long) };
    }

    fn gone(&mut self, pid: libc::pid_t, status: i32) {
        self.pending.remove(&pid);
        self.seen.remove(&pid);
        if pid == self.main {
            self.end = Some(if libc::WIFEXITED(status) {
                End::Exited(libc::WEXITSTATUS(status))
            } else {
                End::Killed(libc::WTERMSIG(status))
            });
        }
    }

    /// A path call's entry: reads its path, keeps it until the exit stop.
    fn entry(&mut self, pid: libc::pid_t) {
        let Some(regs) = registers(pid) else {
            return;
        };
        let (nr, args) = syscalls::decode(&regs);
        let pending = match syscalls::call(nr) {
            Some(Call::Open {
                dirfd,
                path,
                flags,
                how,
            }) => {
                let flags = if how {
                    read_u64(pid, args[flags])
                } else {
                    Some(args[flags])
                };
                let Some(flags) = flags.map(|f| f as libc::c_int) else {
                    return;
                };
                // Written, created or anonymous files are outputs, not needs.
                let writes = flags & libc::O_ACCMODE == libc::O_WRONLY
                    || flags & libc::O_TMPFILE == libc::O_TMPFILE
                    || flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL;
                if writes {
                    return;
                }
                self.path_at(pid, &args, dirfd, path).map(Pending::Path)
            }
            Some(Call::Look { dirfd, path }) => {
                self.path_at(pid, &args, dirfd, path).map(Pending::Path)
            }
            Some(Call::Exec { dirfd, path }) => {
                self.path_at(pid, &args, dirfd, path).map(Pending::Exec)
            }
            Some(Call::List) => self.fd_path(pid, args[0] as i32).map(Pending::Path),
            None => None,
        };
        if let Some(p) = pending {
            self.pending.insert(pid, p);
        }
    }

    /// A path call's exit: records its path if it succeeded.
    fn exit(&mut self, pid: libc::pid_t) {
        let Some(pending) = self.pending.remove(&pid) else {
            return;
        };
        let ok = registers(pid).is_some_and(|r| syscalls::result(&r) >= 0);
        if let (true, Pending::Path(p)) = (ok, pending) {
            self.paths.entry(p).or_insert(false);
        }
    }

    /// A successful exec: by the thread whose id the event message gives,
    /// which now has the thread group's id.
    fn exec(&mut self, pid: libc::pid_t) {
        let mut former: libc::c_ulong = 0;
        // SAFETY: reads the event message into a local.
        let ok = unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut former) } == 0;
        let former = if ok { former as libc::pid_t } else { pid };
        let pending = self.pending.remove(&former);
        self.pending.remove(&pid);
        if former != pid {
            self.seen.remove(&former);
        }
        if let Some(Pending::Exec(p) | Pending::Path(p)) = pending {
            self.paths.insert(p, true);
        }
    }

    /// The path argument `path` of a call, absolute: relative to the dirfd
    /// argument (if the call has one and it is not AT_FDCWD) or the working directory.
    fn path_at(
        &self,
        pid: libc::pid_t,
        args: &[u64; 6],
        dirfd: Option<usize>,
        path: usize,
    ) -> Option<PathBuf> {
        let name = read_string(pid, args[path])?;
        if name.first() == Some(&b'/') {
            return Some(PathBuf::from(OsString::from_vec(name)));
        }
        let base = match dirfd.map(|d| args[d] as i32) {
            Some(fd) if fd != libc::AT_FDCWD => self.fd_path(pid, fd)?,
            _ => self.proc_link(pid, "cwd")?,
        };
        if name.is_empty() {
            return Some(base);
        }
        Some(base.join(std::ffi::OsStr::from_bytes(&name)))
    }

    /// The path of the file or directory open at `fd` in `pid`.
    fn fd_path(&self, pid: libc::pid_t, fd: i32) -> Option<PathBuf> {
        self.proc_link(pid, &format!("fd/{fd}"))
    }

    /// Reads `/proc/PID/WHAT`, as a path inside the traced root.
    fn proc_link(&self, pid: libc::pid_t, what: &str) -> Option<PathBuf> {
        let target = std::fs::read_link(format!("/proc/{pid}/{what}")).ok()?;
        if !target.is_absolute() {
            return None; // a pipe, a socket, an anonymous inode
        }
        match self.prefix {
            None => Some(target),
            Some(root) => target
                .strip_prefix(root)
                .ok()
                .map(|rest| Path::new("/").join(rest)),
        }
    }
}

/// True when the tracee's stop has a signal to deliver (not a group stop).
fn has_siginfo(pid: libc::pid_t) -> bool {
    // SAFETY: siginfo_t is plain data; ptrace fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: reads into a local.
    unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, pid, 0, &mut info) == 0 }
}

fn registers(pid: libc::pid_t) -> Option<libc::user_regs_struct> {
    // SAFETY: user_regs_struct is plain data; ptrace fills it.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    // SAFETY: reads into a local.
    let rc = unsafe { libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs) };
    (rc == 0).then_some(regs)
}

/// Reads `buf.len()` bytes at `addr` in the tracee's memory; how many were read.
fn read_memory(pid: libc::pid_t, addr: u64, buf: &mut [u8]) -> Option<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: the local iovec covers `buf`; the remote one is only read by the kernel.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    (n > 0).then_some(n as usize)
}

fn read_u64(pid: libc::pid_t, addr: u64) -> Option<u64> {
    let mut buf = [0u8; 8];
    (read_memory(pid, addr, &mut buf)? == 8).then(|| u64::from_ne_bytes(buf))
}

/// The NUL-terminated string at `addr`, up to PATH_MAX bytes, read a page
/// at a time (a read must not cross into an unmapped page).
fn read_string(pid: libc::pid_t, mut addr: u64) -> Option<Vec<u8>> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut buf = [0u8; PAGE as usize];
    while out.len() < libc::PATH_MAX as usize {
        let len = (PAGE - addr % PAGE) as usize;
        let n = read_memory(pid, addr, &mut buf[..len])?;
        if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..end]);
            return Some(out);
        }
        out.extend_from_slice(&buf[..n]);
        addr += n as u64;
    }
    None
}
