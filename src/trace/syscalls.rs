//! The system calls `elfroot trace` stops on, per host architecture: their
//! numbers (for the seccomp filter) and where their arguments are (for the
//! tracer). x86_64 only: `trace` refuses to run on other hosts (this module
//! is not built there).

/// Which argument of a call holds what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// open/openat/openat2: a path opened with flags (openat2: `flags` is a
    /// pointer to `struct open_how`, whose first field is the flags).
    Open {
        /// The dirfd argument, if any.
        dirfd: Option<usize>,
        /// The path argument.
        path: usize,
        /// The flags argument.
        flags: usize,
        /// The flags are behind a pointer (openat2).
        how: bool,
    },
    /// stat family, access, readlink: a path looked at.
    Look {
        /// The dirfd argument, if any.
        dirfd: Option<usize>,
        /// The path argument.
        path: usize,
    },
    /// execve/execveat.
    Exec {
        /// The dirfd argument, if any.
        dirfd: Option<usize>,
        /// The path argument.
        path: usize,
    },
    /// getdents/getdents64: the directory open at argument 0 is listed.
    List,
}

/// `AUDIT_ARCH_X86_64`: what `seccomp_data.arch` says for native calls.
pub const AUDIT_ARCH: u32 = 0xc000_003e;
/// Calls numbered from here on are the x32 ABI's.
pub const X32_BIT: u32 = 0x4000_0000;

const fn at(dirfd: usize, path: usize) -> Call {
    Call::Look {
        dirfd: Some(dirfd),
        path,
    }
}

const fn plain(path: usize) -> Call {
    Call::Look { dirfd: None, path }
}

/// Each call stopped on; `flags_empty_path` gives the argument whose
/// AT_EMPTY_PATH bit makes it an fstat (not stopped: the filter lets it through).
pub const CALLS: &[(i64, Call, Option<usize>)] = &[
    (
        libc::SYS_open,
        Call::Open {
            dirfd: None,
            path: 0,
            flags: 1,
            how: false,
        },
        None,
    ),
    (
        libc::SYS_openat,
        Call::Open {
            dirfd: Some(0),
            path: 1,
            flags: 2,
            how: false,
        },
        None,
    ),
    (
        libc::SYS_openat2,
        Call::Open {
            dirfd: Some(0),
            path: 1,
            flags: 2,
            how: true,
        },
        None,
    ),
    (libc::SYS_stat, plain(0), None),
    (libc::SYS_lstat, plain(0), None),
    (libc::SYS_newfstatat, at(0, 1), Some(3)),
    (libc::SYS_statx, at(0, 1), Some(2)),
    (libc::SYS_access, plain(0), None),
    (libc::SYS_faccessat, at(0, 1), None),
    (libc::SYS_faccessat2, at(0, 1), None),
    (libc::SYS_readlink, plain(0), None),
    (libc::SYS_readlinkat, at(0, 1), None),
    (
        libc::SYS_execve,
        Call::Exec {
            dirfd: None,
            path: 0,
        },
        None,
    ),
    (
        libc::SYS_execveat,
        Call::Exec {
            dirfd: Some(0),
            path: 1,
        },
        None,
    ),
    (libc::SYS_getdents, Call::List, None),
    (libc::SYS_getdents64, Call::List, None),
];

/// The call number and arguments at a stop, from the registers.
pub fn decode(regs: &libc::user_regs_struct) -> (i64, [u64; 6]) {
    let args = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
    (regs.orig_rax as i64, args)
}

/// The return value at a syscall-exit stop.
pub fn result(regs: &libc::user_regs_struct) -> i64 {
    regs.rax as i64
}

/// The call `nr` is, if it is one stopped on.
pub fn call(nr: i64) -> Option<Call> {
    CALLS.iter().find(|(n, ..)| *n == nr).map(|(_, c, _)| *c)
}
