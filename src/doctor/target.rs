//! What a target root offers a program: its architecture, its libc (and
//! glibc's version), its NSS configuration and user database.

use std::path::Path;

use serde::Serialize;

use crate::closure::Analyzer;
use crate::elf::ElfFile;
use crate::elf::arch;
use crate::files::Probe;
use crate::profile::Libc;

/// A libc found in the target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetLibc {
    /// Which libc it is.
    pub libc: Libc,
    /// The loader or libc file that shows it.
    pub path: String,
    /// For glibc: the newest GLIBC_x.y version its libc.so.6 defines.
    pub version: Option<String>,
}

impl TargetLibc {
    /// "glibc GLIBC_2.36 (/lib/x86_64-linux-gnu/libc.so.6)", for messages.
    pub fn describe(&self) -> String {
        let name = self.libc.as_str();
        match &self.version {
            Some(v) => format!("{name} {v} ({})", self.path),
            None => format!("{name} ({})", self.path),
        }
    }
}

/// The facts about a target that the checks use.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Every libc found (musl's loaders first, then glibc's libc.so.6).
    pub libcs: Vec<TargetLibc>,
    /// An ELF file of the target that shows its architecture.
    pub arch: Option<(String, std::sync::Arc<ElfFile>)>,
    /// /etc/nsswitch.conf, when there is one.
    pub nsswitch: Option<String>,
    /// Whether it has an /etc/passwd.
    pub has_passwd: bool,
    /// NSS module name -> found, remembered across programs.
    pub(crate) nss_modules: std::cell::RefCell<std::collections::HashMap<String, bool>>,
    /// The host's package database, read once for every host program's
    /// run-time files.
    pub(crate) host_packages: std::rc::Rc<crate::discover::Database>,
}

const LIB_DIRS: &[&str] = &["/lib", "/usr/lib", "/lib64", "/usr/lib64"];

impl Target {
    /// Surveys the analyser's root.
    pub fn survey(analyzer: &Analyzer) -> Target {
        let files = analyzer.files();
        let root = files.root();
        let mut t = Target::default();
        // musl: its loader in /lib.
        for name in root.list_dir(Path::new("/lib")).unwrap_or_default() {
            let name = name.to_string_lossy();
            if name.starts_with("ld-musl-") && name.ends_with(".so.1") {
                let path = format!("/lib/{name}");
                if matches!(root.resolve_file(Path::new(&path)), Ok(Some(_))) {
                    t.libcs.push(TargetLibc {
                        libc: Libc::Musl,
                        path,
                        version: None,
                    });
                }
            }
        }
        // glibc: libc.so.6 in a library directory (multiarch ones included).
        let mut dirs: Vec<String> = LIB_DIRS.iter().map(|d| d.to_string()).collect();
        for base in ["/lib", "/usr/lib"] {
            for name in root.list_dir(Path::new(base)).unwrap_or_default() {
                let name = name.to_string_lossy();
                if name.ends_with("-linux-gnu") || name.contains("-linux-gnu") {
                    dirs.push(format!("{base}/{name}"));
                }
            }
        }
        for d in dirs {
            let path = format!("{d}/libc.so.6");
            let Ok(Some(real)) = root.resolve_file(Path::new(&path)) else {
                continue;
            };
            let Probe::Elf(elf) = files.probe(&real) else {
                continue;
            };
            if elf.soname.as_deref() != Some("libc.so.6") {
                continue;
            }
            // A libc whose tables cannot be read has no known version here;
            // each program that loads it gets an object-damaged finding.
            let version = files
                .symbols(&real)
                .ok()
                .and_then(|s| newest_glibc(&s.versions));
            t.libcs.push(TargetLibc {
                libc: Libc::Glibc,
                path,
                version,
            });
            if t.arch.is_none() {
                t.arch = Some((arch::arch_name(&elf), elf));
            }
            break;
        }
        if t.arch.is_none() {
            // No glibc: the architecture of the shell, or of the musl loader.
            let candidates = ["/bin/sh", "/usr/bin/env", "/bin/busybox"]
                .into_iter()
                .map(str::to_string)
                .chain(t.libcs.iter().map(|l| l.path.clone()));
            t.arch = candidates.into_iter().find_map(|p| {
                let real = root.resolve_file(Path::new(&p)).ok()??;
                match files.probe(&real) {
                    Probe::Elf(e) => Some((arch::arch_name(&e), e)),
                    _ => None,
                }
            });
        }
        t.nsswitch = root
            .read_to_string(Path::new("/etc/nsswitch.conf"))
            .ok()
            .flatten();
        t.has_passwd = matches!(root.resolve_file(Path::new("/etc/passwd")), Ok(Some(_)));
        t
    }

    /// The target's libcs, described for a message ("musl (/lib/ld-musl-x86_64.so.1)").
    pub fn describe_libcs(&self) -> String {
        if self.libcs.is_empty() {
            return "no libc at all (an empty or static-only image)".into();
        }
        self.libcs
            .iter()
            .map(TargetLibc::describe)
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// The glibc version the target provides, when it has glibc.
    pub fn glibc_version(&self) -> Option<&str> {
        self.libcs
            .iter()
            .find(|l| l.libc == Libc::Glibc)
            .and_then(|l| l.version.as_deref())
    }
}

/// The highest `GLIBC_x.y[.z]` among version names.
pub fn newest_glibc(versions: &[String]) -> Option<String> {
    versions
        .iter()
        .filter_map(|v| {
            let nums: Vec<u32> = v
                .strip_prefix("GLIBC_")?
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((nums, v.clone()))
        })
        .max()
        .map(|(_, v)| v)
}

/// True when glibc `version` (GLIBC_x.y) is at least `major.minor`.
pub fn glibc_at_least(version: &str, major: u32, minor: u32) -> bool {
    let Some(rest) = version.strip_prefix("GLIBC_") else {
        return false;
    };
    let mut it = rest.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_compare_numerically() {
        let v: Vec<String> = ["GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.4", "GLIBC_PRIVATE"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(newest_glibc(&v).as_deref(), Some("GLIBC_2.34"));
        assert!(glibc_at_least("GLIBC_2.36", 2, 34));
        assert!(!glibc_at_least("GLIBC_2.31", 2, 34));
    }
}
