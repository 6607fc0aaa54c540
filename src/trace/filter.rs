//! The seccomp-bpf program installed in the traced command before it
//! execs: the calls of [`syscalls::CALLS`] stop for the tracer
//! (`SECCOMP_RET_TRACE`), every other call runs untouched, so the command
//! pays for tracing only where a path is used. fstat done through
//! newfstatat/statx with AT_EMPTY_PATH names no path and does not stop;
//! neither do calls of another ABI (i386, x32), which `trace` does not see.

use super::syscalls::{AUDIT_ARCH, CALLS, X32_BIT};

// Classic BPF opcodes (linux/bpf_common.h): class | size | mode or operation | source.
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K (0)
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JSET_K: u16 = 0x05 | 0x40;
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;

// Offsets in `struct seccomp_data`: nr, arch, instruction pointer, args.
const NR: u32 = 0;
const ARCH: u32 = 4;
const fn arg_low(n: usize) -> u32 {
    16 + 8 * n as u32
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The filter program. Each call is a test on the number, then (for the
/// stat calls) a test of AT_EMPTY_PATH in its flags, ending in a return.
pub fn program() -> Vec<libc::sock_filter> {
    let mut p = vec![
        stmt(BPF_LD_W_ABS, ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
        stmt(BPF_LD_W_ABS, NR),
        jump(BPF_JMP_JGE_K, X32_BIT, 0, 1),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
    ];
    for (nr, _, empty_path_flags) in CALLS {
        let nr = *nr as u32;
        match empty_path_flags {
            None => {
                p.push(jump(BPF_JMP_JEQ_K, nr, 0, 1));
                p.push(stmt(BPF_RET_K, SECCOMP_RET_TRACE));
            }
            Some(arg) => {
                p.push(jump(BPF_JMP_JEQ_K, nr, 0, 4));
                p.push(stmt(BPF_LD_W_ABS, arg_low(*arg)));
                p.push(jump(BPF_JMP_JSET_K, libc::AT_EMPTY_PATH as u32, 0, 1));
                p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
                p.push(stmt(BPF_RET_K, SECCOMP_RET_TRACE));
            }
        }
    }
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on one call, as the kernel would.
    fn verdict(p: &[libc::sock_filter], arch: u32, nr: u32, args: [u32; 6]) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0;
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => {
                    acc = match i.k {
                        NR => nr,
                        ARCH => arch,
                        k => args[((k - 16) / 8) as usize],
                    }
                }
                BPF_RET_K => return i.k,
                code => {
                    let taken = match code {
                        BPF_JMP_JEQ_K => acc == i.k,
                        BPF_JMP_JGE_K => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
            }
        }
    }

    #[test]
    fn stops_only_on_path_calls() {
        let p = program();
        let a = AUDIT_ARCH;
        let nr = |n: i64| n as u32;
        let empty = libc::AT_EMPTY_PATH as u32;
        assert_eq!(
            verdict(&p, a, nr(libc::SYS_openat), [0; 6]),
            SECCOMP_RET_TRACE
        );
        assert_eq!(
            verdict(&p, a, nr(libc::SYS_getdents64), [0; 6]),
            SECCOMP_RET_TRACE
        );
        assert_eq!(
            verdict(&p, a, nr(libc::SYS_read), [0; 6]),
            SECCOMP_RET_ALLOW
        );
        let fstat = [0, 0, 0, empty, 0, 0];
        assert_eq!(
            verdict(&p, a, nr(libc::SYS_newfstatat), fstat),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            verdict(&p, a, nr(libc::SYS_newfstatat), [0; 6]),
            SECCOMP_RET_TRACE
        );
        let statx_fd = [0, 0, empty, 0, 0, 0];
        assert_eq!(
            verdict(&p, a, nr(libc::SYS_statx), statx_fd),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            verdict(&p, a, nr(libc::SYS_execve), [0; 6]),
            SECCOMP_RET_TRACE
        );
        assert_eq!(verdict(&p, 0x4000_0003, 5, [0; 6]), SECCOMP_RET_ALLOW);
        let x32_open = X32_BIT | nr(libc::SYS_openat);
        assert_eq!(verdict(&p, a, x32_open, [0; 6]), SECCOMP_RET_ALLOW);
    }
}
