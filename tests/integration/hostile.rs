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
    // The peak RSS is the kernel's high-water mark of the process's own
    // memory (VmHWM), polled while it runs: wait4's ru_maxrss would also
    // count this (large, multi-threaded) test process, whose memory the
    // child has until it execs.
    let watcher = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut peak = 0i64;
        while Instant::now() < deadline {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
            match hwm {
                Some(kib) => peak = peak.max(kib),
                // Exited (a zombie has no memory left), or reaped.
                None => return (peak, false),
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: the child is ours and not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        (peak, true)
    });
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let seconds = start.elapsed().as_secs_f64();
    // The child is reaped by waitpid; std's Child must not wait again.
    std::mem::forget(child);
    let (max_rss_kib, killed) = watcher.join().unwrap();
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
        max_rss_kib,
        seconds,
        killed,
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
    // Under PATH_MAX the name is read, and looked for once.
    let mut w = ElfWriter::new();
    let name = w.string(&vec![b'y'; 4000]);
    w.dynamic
        .extend(std::iter::repeat_n((DT_NEEDED, name), 4000));
    t.write("app", w.bytes());
    let b = bounded(&["list", "--json", "--root", &root, "/app"]);
    assert_bounded("list, 4000 bytes", &b, &[1]);
    let doc = b.run.json();
    assert_eq!(doc["inputs"][0]["problems"].as_array().unwrap().len(), 1);
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

/// sha256 of `bytes`, as an OCI digest.
fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let hex: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Writes `bytes` as a blob of the layout at `dir`; returns its descriptor.
fn blob(dir: &Path, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    let d = digest(bytes);
    let path = dir.join("blobs/sha256").join(&d["sha256:".len()..]);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": d, "size": bytes.len()})
}

/// An OCI layout at `dir` whose manifest lists the same layer `copies` times
/// (the layer: one 1 MiB file, /big). Returns the manifest's descriptor.
fn layout_repeating_one_layer(dir: &Path, copies: usize) -> serde_json::Value {
    let tar = dir.with_extension("layer.tar");
    tar_with("big", &vec![7u8; 1 << 20], &tar);
    let layer = fs::read(&tar).unwrap();
    let diff_id = digest(&layer);
    let layer = blob(dir, "application/vnd.oci.image.layer.v1.tar", &layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": vec![diff_id; copies]},
    });
    let config = blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": vec![layer; copies],
    });
    let manifest = blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [manifest]});
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    manifest
}

#[test]
fn an_image_listing_one_layer_thousands_of_times() {
    let t = Tree::new();
    layout_repeating_one_layer(&t.mkdir("many"), 3000);
    let b = bounded(&["list", "--root", &format!("oci:{}", t.s("many")), "/big"]);
    assert_bounded("list, 3000 layers", &b, &[2]);
    assert!(b.run.stderr.contains("3000 layers"), "{}", b.run.stderr);
    // Under the cap, a blob listed many times is checked once and read.
    layout_repeating_one_layer(&t.mkdir("some"), 200);
    let b = bounded(&["list", "--root", &format!("oci:{}", t.s("some")), "/big"]);
    assert_bounded("list, 200 layers", &b, &[2]);
    assert!(b.run.stderr.contains("/big"), "{}", b.run.stderr);
}

/// Replaces a file of a layout (at the first path) by a link to the host
/// file at the second; the third is the manifest's descriptor.
type Spoil = fn(&Path, &Path, &serde_json::Value);

#[test]
fn an_image_layout_whose_files_are_links_to_the_host_is_refused() {
    let t = Tree::new();
    let secret = t.write("secret", "a host file the image must not see\n");
    let secret_digest = digest(&fs::read(&secret).unwrap());
    let secret_size = fs::metadata(&secret).unwrap().len().to_string();
    let cases: [(&str, Spoil); 3] = [
        ("index.json", |dir, secret, _| {
            fs::remove_file(dir.join("index.json")).unwrap();
            std::os::unix::fs::symlink(secret, dir.join("index.json")).unwrap();
        }),
        ("the manifest blob", |dir, secret, manifest| {
            let d = manifest["digest"].as_str().unwrap();
            let p = dir.join("blobs/sha256").join(&d["sha256:".len()..]);
            fs::remove_file(&p).unwrap();
            std::os::unix::fs::symlink(secret, p).unwrap();
        }),
        ("the blobs directory", |dir, secret, _| {
            let host = secret.with_file_name("hostblobs");
            fs::rename(dir.join("blobs"), &host).unwrap();
            std::os::unix::fs::symlink(&host, dir.join("blobs")).unwrap();
        }),
    ];
    for (i, (what, spoil)) in cases.iter().enumerate() {
        let dir = t.mkdir(&format!("layout{i}"));
        let manifest = layout_repeating_one_layer(&dir, 1);
        spoil(&dir, &secret, &manifest);
        let b = bounded(&["list", "--root", &format!("oci:{}", dir.display()), "/big"]);
        assert_bounded(what, &b, &[2]);
        assert!(
            b.run.stderr.contains("symbolic link"),
            "{what}: {}",
            b.run.stderr
        );
        assert!(
            !b.run.stderr.contains(&secret_digest),
            "{what}: {}",
            b.run.stderr
        );
        assert!(
            !b.run.stderr.contains(&secret_size),
            "{what}: {}",
            b.run.stderr
        );
        let _ = fs::remove_dir_all(secret.with_file_name("hostblobs"));
    }
}

#[test]
fn a_zero_byte_or_non_tar_file_given_as_a_layer_is_an_error_naming_it() {
    let t = Tree::new();
    t.write("empty.tar", "");
    t.write("text.tar", "hello, not a tar\n");
    for layer in ["empty.tar", "text.tar"] {
        let run = elfroot(&["list", "--root", &t.s(layer), "/bin/sh"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{}: not a", t.s(layer))),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_library_with_a_damaged_symbol_table_is_a_finding_not_silence() {
    let t = Tree::new();
    t.with_host_glibc();
    // A library whose hash table claims a million symbols the file lacks.
    let mut w = ElfWriter::new();
    let soname = w.string(b"libdamaged.so");
    w.dynamic.push((14, soname)); // DT_SONAME
    let mut lib = w.bytes();
    let hash_at = lib.len() - 16 * 7 - 16;
    lib[hash_at + 4..hash_at + 8].copy_from_slice(&1_000_000u32.to_le_bytes());
    t.write("usr/lib/libdamaged.so", lib);
    let dir = t.s("usr/lib");
    t.exe(
        "app",
        "int main(void) { return 0; }\n",
        &[&format!("-L{dir}"), "-Wl,--no-as-needed", "-ldamaged"],
    );
    let run = elfroot(&["doctor", "--json", "--root", &t.s(""), "--in-root", "/app"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let finding = &run.json()["programs"][0]["findings"][0];
    assert_eq!(finding["code"], "object-damaged", "{finding}");
    assert!(
        finding["cause"]
            .as_str()
            .unwrap()
            .contains("/lib/libdamaged.so"),
        "{finding}"
    );
}

/// A small deterministic generator (xorshift), so every run mutates alike.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One mutation of `seed`: byte flips, a truncation, or a huge count or
    /// offset written over a header or dynamic-section field.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut b = seed.to_vec();
        match self.below(4) {
            0 => {
                for _ in 0..1 + self.below(8) {
                    let at = self.below(b.len());
                    b[at] ^= 1 << self.below(8);
                }
            }
            1 => b.truncate(self.below(b.len())),
            _ => {
                // Headers and the first kilobytes hold the tables' counts and offsets.
                let at = self.below(b.len().min(8192).saturating_sub(8));
                let huge = [u64::MAX, u64::MAX / 2, 1 << 32, 0x7fff_ffff, 0xffff][self.below(5)];
                let width = [2, 4, 8][self.below(3)];
                b[at..at + width].copy_from_slice(&huge.to_le_bytes()[..width]);
            }
        }
        b
    }
}

#[test]
fn twenty_thousand_mutated_elf_files_end_cleanly() {
    let t = Tree::new();
    t.with_host_glibc();
    // Seeds: a program and a library built here, and the loader itself.
    let exe = fs::read(t.exe("seed/app", "int main(void) { return 0; }\n", &[])).unwrap();
    let lib = fs::read(t.lib("seed/libs.so", "int f(void) { return 1; }\n", &[])).unwrap();
    let ld = fs::read(t.at("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")).unwrap();
    let seeds = [exe, lib, ld];
    let root = elfroot::Root::open(t.path()).unwrap();
    let analyzer = elfroot::Analyzer::new(elfroot::files::Files::new(root), Default::default());
    let mut m = Mutator(0x5eed_e1f0_0dd5_eed5);
    let start = Instant::now();
    for i in 0..20_000 {
        let seed = &seeds[i % seeds.len()];
        let bytes = m.mutate(seed);
        // The reader, then the symbol tables, as doctor reads them.
        if let Ok(elf) = elfroot::elf::ElfFile::parse(&bytes) {
            let _ = elf.symbols(&bytes);
            let _ = elf.path_literals(&bytes);
        }
        // Every thousandth goes through a whole closure in the root.
        if i % 1000 == 0 {
            let name = format!("mutant{i}");
            t.write(&name, &bytes);
            let _ = analyzer.analyze(Path::new(&format!("/{name}")));
        }
    }
    eprintln!("20,000 mutations in {:.2} s", start.elapsed().as_secs_f64());
}
