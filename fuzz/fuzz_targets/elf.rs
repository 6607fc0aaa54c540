//! The ELF reader: headers, program headers, the dynamic section, notes,
//! then the symbol and version tables through the offsets found.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(elf) = elfroot::elf::ElfFile::parse(data) {
        let _ = elf.symbols(data);
        let _ = elf.describe();
        let _ = elfroot::elf::arch::arch_name(&elf);
    }
});
