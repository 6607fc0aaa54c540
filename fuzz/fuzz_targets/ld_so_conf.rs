//! The ld.so.conf reader, includes and all: the input is split at NUL bytes
//! into /etc/ld.so.conf and up to three files of /etc/ld.so.conf.d that it
//! may include, written into a fresh root.
#![no_main]

use std::path::Path;

use elfroot::root::Root;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let d = dir.path();
    if std::fs::create_dir_all(d.join("etc/ld.so.conf.d")).is_err() {
        return;
    }
    let names = ["etc/ld.so.conf", "etc/ld.so.conf.d/a.conf", "etc/ld.so.conf.d/b.conf", "etc/c.conf"];
    for (part, name) in data.split(|&b| b == 0).zip(names) {
        let _ = std::fs::write(d.join(name), part);
    }
    if let Ok(root) = Root::open(d) {
        let _ = elfroot::search::ld_so_conf::read(&root, Path::new("/etc/ld.so.conf"));
    }
});
