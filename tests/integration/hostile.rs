//! Hostile inputs, built at test time: elfroot is pointed at untrusted
//! images, so each of these must end with a clear status, within bounded
//! memory (a peak RSS under 100 MiB), and touch nothing outside the root.
//! A run is killed after 60 s, so a hang fails instead of blocking the suite
//! (how fast each is, is measured by scripts/bench.sh, not asserted here).

use std::fs;
use std::io::{Read as _, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// What one bounded run did.
struct Bounded {
    run: Run,
    /// Peak resident set, in KiB.
    max_rss_kib: i64,
    seconds: f64,
    killed: bool,
}

/// Runs `elfroot ARGS`, killed after 60 s, measuring its peak RSS.
fn bounded(args: &[&str]) -> Bounded {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_elfroot"))
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn elfroot");
    let pid = child.id() as libc::pid_t;
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let killer = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            // SAFETY: signal 0 only checks that the process exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: the child is ours and not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        true
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage are valid out-pointers.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = start.elapsed().as_secs_f64();
    // The child is reaped by wait4; std's Child must not wait again.
    std::mem::forget(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Bounded {
        run: Run {
            code,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        },
        max_rss_kib: usage.ru_maxrss,
        seconds,
        killed: killer.join().unwrap(),
    }
}

/// Asserts the run ended by itself with `code` within the memory bound, and
/// prints what it took (for the record; the time is not asserted).
fn assert_bounded(what: &str, b: &Bounded, codes: &[i32]) {
    eprintln!(
        "{what}: exit {}, {:.2} s, {} MiB peak RSS",
        b.run.code,
        b.seconds,
        b.max_rss_kib / 1024
    );
    assert!(!b.killed, "{what}: still running after 60 s");
    assert!(
        codes.contains(&b.run.code),
        "{what}: exit {} (expected {codes:?}):\n{}",
        b.run.code,
        b.run.stderr
    );
    assert!(
        b.max_rss_kib < 100 * 1024,
        "{what}: peak RSS {} MiB",
        b.max_rss_kib / 1024
    );
    assert!(
        b.run.stderr.lines().count() <= 3,
        "{what}: too many lines on stderr:\n{}",
        b.run.stderr
    );
}

/// A minimal ELF64 little-endian x86-64 shared object, written byte by byte:
/// one PT_LOAD covering the file (so addresses are file offsets), a
/// PT_DYNAMIC, a string table and whatever `extra` bytes the caller places,
/// with `dynamic` entries added to DT_STRTAB/DT_STRSZ/DT_SYMTAB/DT_HASH.
struct ElfWriter {
    strtab: Vec<u8>,
    extra: Vec<u8>,
    dynamic: Vec<(u64, u64)>,
}

const EHDR: u64 = 64;
const PHDR: u64 = 56;
const DT_NEEDED: u64 = 1;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_STRSZ: u64 = 10;
const DT_SYMENT: u64 = 11;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;

impl ElfWriter {
    fn new() -> ElfWriter {
        ElfWriter {
            strtab: vec![0],
            extra: Vec::new(),
            dynamic: Vec::new(),
        }
    }

    /// Adds a string to the string table; returns its offset there.
    fn string(&mut self, s: &[u8]) -> u64 {
        let at = self.strtab.len() as u64;
        self.strtab.extend_from_slice(s);
        self.strtab.push(0);
        at
    }

    /// Where `extra` starts in the file (after headers and the string table).
    fn extra_at(&self) -> u64 {
        EHDR + 2 * PHDR + self.strtab.len() as u64
    }

    fn bytes(&self) -> Vec<u8> {
        let strtab_at = EHDR + 2 * PHDR;
        let extra_at = self.extra_at();
        // An empty symbol table (the null symbol) and a SysV hash saying so.
        let symtab_at = extra_at + self.extra.len() as u64;
        let hash_at = symtab_at + 24;
        let dyn_at = hash_at + 16;
        let mut dynamic = vec![
            (DT_STRTAB, strtab_at),
            (DT_STRSZ, self.strtab.len() as u64),
            (DT_SYMTAB, symtab_at),
            (DT_SYMENT, 24),
            (DT_HASH, hash_at),
        ];
        dynamic.extend(&self.dynamic);
        dynamic.push((0, 0));
        let size = dyn_at + 16 * dynamic.len() as u64;
        let mut b = Vec::with_capacity(size as usize);
        b.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        let u16s = |b: &mut Vec<u8>, v: u16| b.extend_from_slice(&v.to_le_bytes());
        let u32s = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
        let u64s = |b: &mut Vec<u8>, v: u64| b.extend_from_slice(&v.to_le_bytes());
        u16s(&mut b, 3); // ET_DYN
        u16s(&mut b, 62); // EM_X86_64
        u32s(&mut b, 1);
        u64s(&mut b, 0); // e_entry
        u64s(&mut b, EHDR); // e_phoff
        u64s(&mut b, 0); // e_shoff
        u32s(&mut b, 0);
        for v in [EHDR as u16, PHDR as u16, 2, 64, 0, 0] {
            u16s(&mut b, v);
        }
        // PT_LOAD: the whole file at address 0.
        u32s(&mut b, 1);
        u32s(&mut b, 5);
        for v in [0, 0, 0, size, size, 0x1000] {
            u64s(&mut b, v);
        }
        // PT_DYNAMIC.
        u32s(&mut b, 2);
        u32s(&mut b, 6);
        let dyn_size = 16 * dynamic.len() as u64;
        for v in [dyn_at, dyn_at, dyn_at, dyn_size, dyn_size, 8] {
            u64s(&mut b, v);
        }
        b.extend_from_slice(&self.strtab);
        b.extend_from_slice(&self.extra);
        b.extend_from_slice(&[0; 24]);
        for v in [1u32, 1, 0, 0] {
            u32s(&mut b, v);
        }
        for (tag, val) in dynamic {
            u64s(&mut b, tag);
            u64s(&mut b, val);
        }
        b
    }
}

/// A root with the host's glibc and `file` at /app.
fn root_with(file: &[u8]) -> Tree {
    let t = Tree::new();
    t.with_host_glibc();
    t.write("app", file);
    t
}

#[test]
fn four_thousand_needed_entries_naming_one_long_string() {
    let mut w = ElfWriter::new();
    let name = w.string(&vec![b'x'; 50_000]);
    w.dynamic
        .extend(std::iter::repeat_n((DT_NEEDED, name), 4000));
    let t = root_with(&w.bytes());
    let root = t.s("");
    let b = bounded(&["list", "--root", &root, "/app"]);
    assert_bounded("list", &b, &[1, 2]);
    let b = bounded(&["doctor", "--root", &root, "--in-root", "/app"]);
    assert_bounded("doctor", &b, &[1, 2]);
}

#[test]
fn overlapping_version_records() {
    let mut w = ElfWriter::new();
    let file = w.string(b"libc.so.6") as u32;
    let long = w.string(&vec![b'v'; 50_000]) as u32;
    // 1000 Verneed records that all point at one chain of 1000 Vernaux
    // records, each naming the same 50 KB string: a million versions.
    let n: u32 = 1000;
    let at = w.extra_at() as u32;
    let aux_at = at + 16 * n;
    let mut extra = Vec::new();
    for i in 0..n {
        let me = at + 16 * i;
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&(n as u16).to_le_bytes());
        for v in [file, aux_at - me, if i + 1 < n { 16 } else { 0 }] {
            extra.extend_from_slice(&v.to_le_bytes());
        }
    }
    for j in 0..n {
        extra.extend_from_slice(&0u32.to_le_bytes());
        extra.extend_from_slice(&0u16.to_le_bytes());
        extra.extend_from_slice(&(2 + j as u16).to_le_bytes());
        for v in [long, if j + 1 < n { 16 } else { 0 }] {
            extra.extend_from_slice(&v.to_le_bytes());
        }
    }
    w.extra = extra;
    w.dynamic.push((DT_VERNEED, at as u64));
    w.dynamic.push((DT_VERNEEDNUM, n as u64));
    let t = root_with(&w.bytes());
    let b = bounded(&["doctor", "--root", &t.s(""), "--in-root", "/app"]);
    assert_bounded("doctor", &b, &[0, 1, 2]);
}

#[test]
fn an_ld_so_cache_whose_entries_share_one_long_name() {
    let t = Tree::new();
    t.with_host_glibc();
    let mut w = ElfWriter::new();
    let needed = w.string(b"libnothere.so.1");
    w.dynamic.push((DT_NEEDED, needed));
    t.write("app", w.bytes());
    // glibc-ld.so.cache1.1: header, entries, then the strings they point to.
    let n: u32 = 13_000;
    let strings_at = 48 + 24 * n;
    let mut c = b"glibc-ld.so.cache1.1".to_vec();
    c.extend_from_slice(&n.to_le_bytes());
    c.extend_from_slice(&20_000u32.to_le_bytes()); // len_strings
    c.push(2); // flags: little endian
    c.extend_from_slice(&[0; 3]);
    c.extend_from_slice(&0u32.to_le_bytes()); // extension offset
    c.extend_from_slice(&[0; 12]);
    for _ in 0..n {
        c.extend_from_slice(&0x0303i32.to_le_bytes());
        c.extend_from_slice(&strings_at.to_le_bytes());
        c.extend_from_slice(&strings_at.to_le_bytes());
        c.extend_from_slice(&0u32.to_le_bytes());
        c.extend_from_slice(&0u64.to_le_bytes());
    }
    c.extend(std::iter::repeat_n(b'/', 19_999));
    c.push(0);
    t.write("etc/ld.so.cache", c);
    let b = bounded(&["list", "--root", &t.s(""), "/app"]);
    assert_bounded("list", &b, &[1, 2]);
}

#[test]
fn ld_so_conf_includes_that_fan_out() {
    let t = Tree::new();
    t.with_host_glibc();
    let mut w = ElfWriter::new();
    let needed = w.string(b"libnothere.so.1");
    w.dynamic.push((DT_NEEDED, needed));
    t.write("app", w.bytes());
    t.write("etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
    for i in 0..9 {
        t.write(
            &format!("etc/ld.so.conf.d/{i}.conf"),
            format!("/opt/{i}/lib\ninclude /etc/ld.so.conf.d/*.conf\n"),
        );
    }
    let b = bounded(&["list", "--root", &t.s(""), "/app"]);
    assert_bounded("list", &b, &[1]);
    let b = bounded(&["doctor", "--root", &t.s(""), "--in-root", "/app"]);
    assert_bounded("doctor", &b, &[1]);
}

/// Writes a tar with one entry at `path` (long names as GNU tar writes them).
fn tar_with(path: &str, data: &[u8], out: &Path) {
    let mut b = tar::Builder::new(fs::File::create(out).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o755);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, data).unwrap();
    b.finish().unwrap();
}

#[test]
fn a_layer_entry_thirty_thousand_directories_deep() {
    let t = Tree::new();
    let deep = "d/".repeat(30_000) + "f";
    tar_with(&deep, b"x", &t.at("deep.tar"));
    let b = bounded(&["list", "--root", &t.s("deep.tar"), "/app"]);
    assert_bounded("list", &b, &[2]);
    assert!(b.run.stderr.contains("deep.tar"), "{}", b.run.stderr);
}

#[test]
fn a_zstd_layer_that_inflates_to_a_gigabyte() {
    let t = Tree::new();
    let out = fs::File::create(t.at("bomb.tar.zst")).unwrap();
    let mut z = zstd::Encoder::new(out, 19).unwrap();
    {
        let mut tar = tar::Builder::new(&mut z);
        let mut h = tar::Header::new_gnu();
        let size: u64 = 1 << 30;
        h.set_size(size);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, "zeros", std::io::repeat(0).take(size))
            .unwrap();
        tar.finish().unwrap();
    }
    z.finish().unwrap().flush().unwrap();
    let size = fs::metadata(t.at("bomb.tar.zst")).unwrap().len();
    assert!(size < 1 << 20, "the bomb is {size} bytes");
    let b = bounded(&["list", "--root", &t.s("bomb.tar.zst"), "/zeros"]);
    assert_bounded("list", &b, &[2]);
    assert!(b.run.stderr.contains("/zeros"), "{}", b.run.stderr);
}
