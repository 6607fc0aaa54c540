//! musl's search order (`load_library` in ldso/dynlink.c).
//!
//! Names of the libc family (`libc.*`, `libpthread.*`, `libm.*`, `libdl.*`,
//! `librt.*`, `libutil.*`, `libxnet.*`) are the loader itself. Otherwise:
//! LD_LIBRARY_PATH, then the RUNPATH-or-RPATH of the needing object and of
//! each object that loaded it (only `$ORIGIN` is expanded; an element with
//! another token disables that object's path), then the loader's path file
//! `<prefix>/etc/ld-musl-<arch>.path` or, without it, /lib:/usr/local/lib:/usr/lib.
//!
//! Unlike glibc, musl skips empty elements of every path (`path_open` steps
//! over separators); a relative element is relative to the current directory,
//! as for any relative path the loader opens.

use std::path::Path;

use crate::error::Result;
use crate::files::Files;
use crate::search::{Link, Prober, SearchResult, Step, Via};

const DEFAULT_PATH: &str = "/lib:/usr/local/lib:/usr/lib";

/// The names musl's loader answers itself.
pub fn is_loader_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("lib") else {
        return false;
    };
    ["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."]
        .iter()
        .any(|r| rest.starts_with(r))
}

/// The path-file location for a loader at `interp`: `etc/` beside the
/// loader's directory (`/lib/ld-musl-x86_64.so.1` -> `/etc/ld-musl-x86_64.path`).
pub fn path_file(interp: &str, arch: &str) -> String {
    let dir = Path::new(interp).parent().unwrap_or(Path::new("/"));
    let prefix = dir.parent().unwrap_or(Path::new("/"));
    let prefix = prefix.to_string_lossy();
    let prefix = prefix.trim_end_matches('/');
    format!("{prefix}/etc/ld-musl-{arch}.path")
}

/// The system search path of a musl root: the path file's entries, or the default.
pub fn system_path(files: &Files, interp: &str, arch: &str) -> Result<Vec<String>> {
    let file = path_file(interp, arch);
    let text = files.root().read_to_string(Path::new(&file))?;
    let list = text.as_deref().unwrap_or(DEFAULT_PATH);
    Ok(list
        .split([':', '\n'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// musl's `$ORIGIN` expansion: None when the path holds any other token.
fn expand(path: &str, origin: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let len = if after.starts_with("${ORIGIN}") {
            9
        } else if after.starts_with("$ORIGIN") {
            7
        } else {
            return None;
        };
        out.push_str(origin);
        rest = &after[len..];
    }
    out.push_str(rest);
    Some(out)
}

/// What musl's loader knows before it loads anything.
pub struct System<'a> {
    /// The root's files.
    pub files: &'a Files,
    /// LD_LIBRARY_PATH elements.
    pub ld_library_path: &'a [String],
    /// The loader's search path ([`system_path`]).
    pub path: &'a [String],
    /// The process's current directory: where relative elements lead.
    pub cwd: &'a str,
}

/// Finds `name`, needed by `chain[0]`; `chain` runs up to the program itself.
pub fn search(sys: &System<'_>, name: &str, chain: &[Link<'_>]) -> SearchResult {
    let want = chain.last().expect("chain holds at least the program").elf;
    let mut p = Prober::new(sys.files, sys.cwd, want);
    let step = steps(&mut p, sys, name, chain);
    p.finish(step)
}

fn steps(p: &mut Prober<'_>, sys: &System<'_>, name: &str, chain: &[Link<'_>]) -> Option<Step> {
    let none: [String; 0] = [];
    let one = |p: &mut Prober<'_>, dir: &str, via| match p.dir(dir, name, &none, via) {
        // musl maps whatever it opens first: a file of another architecture is not skipped.
        Step::Next => match p.tried.last() {
            Some(t) if matches!(t.result, crate::search::TryResult::WrongArch { .. }) => {
                Some(Step::Stop {
                    path: t.path.clone(),
                    reason: t.result.describe(),
                })
            }
            _ => None,
        },
        done => Some(done),
    };
    for dir in sys.ld_library_path.iter().filter(|d| !d.is_empty()) {
        if let Some(done) = one(p, dir, Via::LdLibraryPath) {
            return Some(done);
        }
    }
    for link in chain {
        let path = link.elf.runpath.as_deref().or(link.elf.rpath.as_deref());
        let Some(path) = path.and_then(|r| expand(r, link.origin)) else {
            continue;
        };
        let via = if link.elf.runpath.is_some() {
            Via::Runpath
        } else {
            Via::Rpath
        };
        for dir in path.split([':', '\n']).filter(|d| !d.is_empty()) {
            if let Some(done) = one(p, dir, via) {
                return Some(done);
            }
        }
    }
    for dir in sys.path.iter().filter(|d| !d.is_empty()) {
        if let Some(done) = one(p, dir, Via::Default) {
            return Some(done);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_names() {
        for n in [
            "libc.so",
            "libc.musl-x86_64.so.1",
            "libc.so.6",
            "libm.so.6",
            "libpthread.so.0",
        ] {
            assert!(is_loader_name(n), "{n}");
        }
        for n in [
            "libcrypto.so.3",
            "libz.so.1",
            "libmagic.so.1",
            "libcap.so.2",
        ] {
            assert!(!is_loader_name(n), "{n}");
        }
    }

    #[test]
    fn path_file_sits_beside_the_loader_prefix() {
        assert_eq!(
            path_file("/lib/ld-musl-x86_64.so.1", "x86_64"),
            "/etc/ld-musl-x86_64.path"
        );
        assert_eq!(
            path_file("/opt/musl/lib/ld-musl-aarch64.so.1", "aarch64"),
            "/opt/musl/etc/ld-musl-aarch64.path"
        );
    }

    #[test]
    fn only_origin_is_expanded() {
        assert_eq!(
            expand("$ORIGIN/../lib", "/a/bin").as_deref(),
            Some("/a/bin/../lib")
        );
        assert_eq!(expand("${ORIGIN}/x", "/a").as_deref(), Some("/a/x"));
        assert_eq!(expand("$LIB/x", "/a"), None);
    }
}
