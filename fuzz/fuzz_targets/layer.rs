//! The layer reader: the input as a layer tarball (plain, gzip or zstd, by
//! its magic), merged into a root, then walked and looked up in.
#![no_main]

use std::path::Path;

use elfroot::root::Root;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let layer = dir.path().join("layer.tar");
    if std::fs::write(&layer, data).is_err() {
        return;
    }
    let Ok(root) = Root::layers(&[layer]) else { return };
    let _ = root.walk_tree(Path::new("/"));
    for p in ["/bin/sh", "/lib/ld-musl-x86_64.so.1", "/etc/ld.so.cache", "/a/b/c"] {
        if let Ok(elfroot::root::Lookup::File(real)) = root.lookup(Path::new(p)) {
            let _ = root.contents(&real);
        }
    }
});
