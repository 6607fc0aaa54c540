//! Absolute paths written into an object's read-only data: the data and
//! plugin directories a library names itself (libMagickCore its coder
//! directory, libgs its Resource/Init, libtinfo its terminfo directories).
//!
//! Only whole C strings count: a string that starts right after a NUL (or
//! at the start of a read-only segment) with `/`, made of printable
//! characters, without a `%` (a printf template such as "%s/lib" is not a
//! path) or white space. A colon-separated list of absolute paths
//! ("/etc/terminfo:/lib/terminfo") gives each. Whether a path matters is
//! not decided here: that is the bundle's relevance rule.

use std::collections::BTreeSet;

use goblin::elf::program_header::{self, ProgramHeader};

use super::ElfFile;

/// The longest string taken as a path (the kernel's PATH_MAX).
const MAX_LEN: usize = 4096;
/// The most paths one object gives (a hostile file full of slashes).
const MAX_PATHS: usize = 4096;
/// The most bytes of read-only data scanned in one object.
const MAX_SCAN: u64 = 256 << 20;

/// The file ranges of the loaded segments that hold read-only data: the
/// non-writable, non-executable PT_LOAD segments, or, in a file laid out
/// without them (older linkers put .rodata in the text segment), the
/// non-writable ones.
pub(super) fn read_only_ranges(phdrs: &[ProgramHeader]) -> Vec<(u64, u64)> {
    let loads = || phdrs.iter().filter(|p| p.p_type == program_header::PT_LOAD);
    let ro = |p: &&ProgramHeader| p.p_flags & program_header::PF_W == 0;
    let data_only: Vec<(u64, u64)> = loads()
        .filter(ro)
        .filter(|p| p.p_flags & program_header::PF_X == 0)
        .map(|p| (p.p_offset, p.p_filesz))
        .collect();
    if !data_only.is_empty() {
        return data_only;
    }
    loads()
        .filter(ro)
        .map(|p| (p.p_offset, p.p_filesz))
        .collect()
}

impl ElfFile {
    /// The absolute paths written as C strings in the read-only data of
    /// `bytes` (the contents this was parsed from), sorted, each once.
    pub fn path_literals(&self, bytes: &[u8]) -> Vec<String> {
        let mut out = BTreeSet::new();
        let mut budget = MAX_SCAN;
        for &(offset, size) in &self.rodata {
            let size = size.min(budget);
            budget -= size;
            let (Ok(start), Ok(len)) = (usize::try_from(offset), usize::try_from(size)) else {
                continue;
            };
            let Some(seg) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
                continue;
            };
            scan(seg, &mut out);
            if out.len() >= MAX_PATHS {
                break;
            }
        }
        out.into_iter().take(MAX_PATHS).collect()
    }
}

/// Adds the paths among the C strings of `seg` to `out`.
fn scan(seg: &[u8], out: &mut BTreeSet<String>) {
    for s in seg.split(|&b| b == 0) {
        if s.first() != Some(&b'/') || s.len() > MAX_LEN || !s.iter().all(|&b| path_byte(b)) {
            continue;
        }
        let Ok(text) = std::str::from_utf8(s) else {
            continue;
        };
        for part in text.split(':') {
            if let Some(p) = path(part) {
                out.insert(p);
            }
        }
    }
}

/// Printable, not white space, not a printf conversion.
fn path_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'%' || b >= 0x80
}

/// `part` as a normalised absolute path (doubled slashes folded, as in
/// "ImageMagick-6.9.11//modules-Q16"), when it is one worth looking up: more
/// than `/` alone, no `.` or `..` component, no wildcard or shell punctuation.
fn path(part: &str) -> Option<String> {
    const PUNCTUATION: [char; 15] = [
        '*', '?', '[', '$', '`', '"', '\'', '<', '>', '|', ';', '&', '\\', '{', '(',
    ];
    if !part.starts_with('/') || part.contains(PUNCTUATION) {
        return None;
    }
    let parts: Vec<&str> = part.split('/').filter(|c| !c.is_empty()).collect();
    if parts.is_empty() || parts.iter().any(|&c| c == "." || c == "..") {
        return None;
    }
    Some(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(seg: &[u8]) -> Vec<String> {
        let mut out = BTreeSet::new();
        scan(seg, &mut out);
        out.into_iter().collect()
    }

    #[test]
    fn whole_c_strings_that_are_absolute_paths() {
        let seg = b"\0/usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11/modules-Q16/coders\0\
            relative/path\0%s/lib\0/etc/%s.conf\0/usr/share/terminfo/\0\
            usage: /bin/sh -c\0/\0/a/../b\0/opt//x/\0/etc/terminfo:/lib/terminfo:/usr/share/terminfo\0\
            /usr/lib/*.so\0/dev/null";
        assert_eq!(
            paths(seg),
            [
                "/dev/null",
                "/etc/terminfo",
                "/lib/terminfo",
                "/opt/x",
                "/usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11/modules-Q16/coders",
                "/usr/share/terminfo",
            ]
        );
    }

    #[test]
    fn a_string_that_does_not_start_after_a_nul_is_not_a_path() {
        // "xyz/usr/lib" holds "/usr/lib" in its middle: not a string of its own.
        assert!(paths(b"\0xyz/usr/lib\0").is_empty());
        // A segment boundary starts a string, as the data there does.
        assert_eq!(paths(b"/usr/lib/a\0xx"), ["/usr/lib/a"]);
    }

    #[test]
    fn a_real_library_names_its_own_directories() {
        let Ok(bytes) = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6") else {
            return crate::testing::skip("no x86_64 glibc here");
        };
        let elf = ElfFile::parse(&bytes).unwrap();
        let found = elf.path_literals(&bytes);
        for p in ["/etc/nsswitch.conf", "/usr/lib/locale", "/etc/localtime"] {
            assert!(found.iter().any(|f| f == p), "{p} not in {found:?}");
        }
        assert!(found.iter().all(|f| !f.contains('%')));
    }
}
