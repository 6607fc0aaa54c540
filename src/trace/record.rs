//! From the paths a trace saw to the profile's entries, once the command
//! has ended: each path normalised inside the traced root, what is there
//! now decides its kind (a link also brings the path it leads to), the
//! interpreters of executed files are added, and what the profile must not
//! hold is left out: /proc, /sys and /dev, the profile itself, paths that no
//! longer exist, and paths created while the command ran (the file system's
//! birth time is after the trace started: outputs, not needs).

use std::collections::{BTreeMap, HashSet};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::profile::{Kind, Profile};
use crate::files::{Files, Probe};

/// Scripts starting scripts: as deep as the kernel follows #! lines.
const MAX_INTERPRETERS: usize = 4;

/// When the trace started, to tell files the command created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    secs: i64,
    nanos: i64,
}

impl Instant {
    /// Now, on the clock file systems stamp birth times with.
    pub fn now() -> Instant {
        // SAFETY: timespec is plain data filled by the call.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: writes into a local.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        Instant {
            secs: ts.tv_sec,
            nanos: ts.tv_nsec,
        }
    }
}

/// Builds the profile's entries from the paths seen (`true`: executed).
pub fn entries(
    files: &Files,
    seen: impl IntoIterator<Item = (PathBuf, bool)>,
    start: Instant,
    output: &Path,
) -> BTreeMap<PathBuf, Kind> {
    let mut profile = Profile::default();
    let mut work: Vec<(PathBuf, bool, usize)> = seen.into_iter().map(|(p, e)| (p, e, 0)).collect();
    // Sorted, so that what an interpreter brings does not depend on hash order.
    work.sort();
    work.reverse();
    let mut done = HashSet::new();
    while let Some((path, exec, depth)) = work.pop() {
        if !done.insert((path.clone(), exec)) {
            continue;
        }
        let Some(real) = add(files, &mut profile, &path, exec, (start, output)) else {
            continue;
        };
        if exec && depth < MAX_INTERPRETERS {
            for (interp, executed) in interpreters(files, &real) {
                work.push((interp, executed, depth + 1));
            }
        }
    }
    profile.entries
}

/// Adds one path (and where its links lead); returns the file at the end
/// when it is a regular file.
fn add(
    files: &Files,
    profile: &mut Profile,
    path: &Path,
    exec: bool,
    (start, output): (Instant, &Path),
) -> Option<PathBuf> {
    let root = files.root();
    let path = normalise(files, path)?;
    let trace = root.trace(&path).ok()??;
    let real = &trace.real;
    let kind = match (trace.is_dir, trace.is_file) {
        (true, _) => Kind::Dir,
        (_, true) if exec => Kind::Exec,
        (_, true) => Kind::File,
        _ => return None,
    };
    if [&path, real].into_iter().any(|p| left_out(p))
        || root.host_path(real) == output
        || created_since(&root.host_path(real), start)
    {
        return None;
    }
    if root.link_target(&path).is_some() {
        if !created_since(&root.host_path(&path), start) {
            profile.add(path.clone(), Kind::Link);
        }
    } else {
        profile.add(path.clone(), kind);
    }
    if !trace.links.is_empty() {
        profile.add(real.clone(), kind);
    }
    trace.is_file.then(|| real.clone())
}

/// `path` without `.`, `..`, repeated or trailing slashes; `..` is taken
/// from the directory it follows as the kernel would (after its links).
fn normalise(files: &Files, path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out = files.root().resolve_dir(&out).ok()??;
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

/// Paths under the kernel's own file systems.
fn left_out(path: &Path) -> bool {
    ["/proc", "/sys", "/dev"]
        .iter()
        .any(|top| path.starts_with(top))
}

/// True when the file system says `host` was born after `start`.
fn created_since(host: &Path, start: Instant) -> bool {
    let Ok(c) = CString::new(host.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statx is plain data filled by the call.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a local buffer.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_BTIME,
            &mut stx,
        )
    };
    if rc != 0 || stx.stx_mask & libc::STATX_BTIME == 0 {
        return false;
    }
    let born = Instant {
        secs: stx.stx_btime.tv_sec,
        nanos: i64::from(stx.stx_btime.tv_nsec),
    };
    born > start
}

/// What running the file at `real` runs besides: the interpreter its #!
/// line names (executed), or the ELF interpreter (loaded by the kernel,
/// without a system call the trace would see).
fn interpreters(files: &Files, real: &Path) -> Vec<(PathBuf, bool)> {
    let Ok(head) = files.root().head(real, 256) else {
        return Vec::new();
    };
    if head.starts_with(b"#!") {
        return match crate::script::interpreter(real, &head) {
            Ok(Some(i)) if i.starts_with('/') => vec![(PathBuf::from(i), true)],
            _ => Vec::new(),
        };
    }
    match files.probe(real) {
        Probe::Elf(f) => f
            .interp
            .as_ref()
            .map(|i| vec![(PathBuf::from(i), false)])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::Root;

    #[test]
    fn dot_dot_is_taken_after_the_links_as_the_kernel_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("usr/lib/x")).unwrap();
        std::fs::create_dir_all(dir.path().join("usr/share")).unwrap();
        std::os::unix::fs::symlink("usr/lib/x", dir.path().join("lx")).unwrap();
        let files = Files::new(Root::open(dir.path()).unwrap());
        let n = |p: &str| normalise(&files, Path::new(p)).unwrap();
        // /lx is /usr/lib/x: its parent is /usr/lib, not /.
        assert_eq!(n("/lx/../share"), Path::new("/usr/lib/share"));
        assert_eq!(n("/usr/./share//a/"), Path::new("/usr/share/a"));
        assert_eq!(n("/../../usr"), Path::new("/usr"));
        assert_eq!(normalise(&files, Path::new("/absent/../usr")), None);
    }

    #[test]
    fn only_paths_outside_the_kernel_file_systems_are_kept() {
        for (path, out) in [
            ("/proc/self/maps", true),
            ("/dev", true),
            ("/devices", false),
        ] {
            assert_eq!(left_out(Path::new(path)), out, "{path}");
        }
    }
}
