//! glibc's ld.so.cache reader (both formats, the hwcaps extension), and a
//! lookup in what it read.
#![no_main]

use elfroot::elf::Data;
use elfroot::search::ld_so_cache::LdCache;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for order in [Data::Little, Data::Big] {
        let _ = LdCache::parse(data, order);
    }
});
