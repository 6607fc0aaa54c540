//! Language runtimes, recognised by their library or program: Python's
//! standard library (for python3.N and for programs that embed
//! libpython3.N, as gdb does) and a JVM's libraries.

use std::collections::BTreeSet;
use std::path::Path;

use super::{Discovery, Rule};
use crate::closure::Closure;
use crate::error::Result;
use crate::root::Lookup;

impl Discovery<'_> {
    /// Python's standard library, for python3.N and for programs that embed
    /// libpython3.N (gdb): `lib/python3.N` under the prefix (/usr).
    pub(super) fn python(&mut self, shown: &str) -> Result<()> {
        let name = shown.rsplit('/').next().unwrap_or(shown);
        let version = name
            .strip_prefix("libpython")
            .or_else(|| name.strip_prefix("python"))
            .map(|rest| rest.split(".so").next().unwrap_or(rest))
            .filter(|v| v.starts_with("3.") && v[2..].chars().all(|c| c.is_ascii_digit()));
        let Some(version) = version else {
            return Ok(());
        };
        let stdlib = format!("/usr/lib/python{version}");
        if self.has(&format!("{stdlib}/os.py")) {
            return Ok(());
        }
        match self.root().lookup(Path::new(&stdlib))? {
            Lookup::Dir(_) => {
                let reason = format!("standard library of python{version}");
                self.tree(&stdlib, (Rule::Runtime, &reason), &|_| true, false)
            }
            _ => Ok(()),
        }
    }

    /// A JVM: the launcher's libjli.so is in JAVA_HOME/lib. JAVA_HOME/lib
    /// (with the VM jvm.cfg names first, lib/server/libjvm.so) and its conf
    /// come in. The JDK's libraries need libjvm.so, which the launcher has
    /// loaded before them (as the same SONAME): that need is met, not missing.
    pub(super) fn jvm(&mut self, inputs: &[Closure]) -> Result<()> {
        let homes: BTreeSet<String> = self
            .objects(inputs)
            .map(|o| o.real.to_string_lossy().into_owned())
            .filter_map(|p| Some(p.strip_suffix("/lib/libjli.so")?.to_string()))
            .collect();
        for home in homes {
            let lib = format!("{home}/lib");
            if self.has(&format!("{lib}/jvm.cfg")) {
                continue;
            }
            let Lookup::Dir(_) = self.root().lookup(Path::new(&lib))? else {
                continue;
            };
            let reason = format!("JVM libraries of {home}");
            self.tree(&lib, (Rule::Runtime, &reason), &|_| true, false)?;
            for extra in ["conf", "release"] {
                let path = format!("{home}/{extra}");
                let reason = format!("JVM configuration of {home}");
                match self.root().lookup(Path::new(&path))? {
                    Lookup::Dir(_) => {
                        self.tree(&path, (Rule::Runtime, &reason), &|_| true, false)?
                    }
                    Lookup::File(_) => {
                        self.single(&path, Rule::Runtime, &reason)?;
                    }
                    _ => {}
                }
            }
            let vm = self
                .root()
                .read_to_string(Path::new(&format!("{lib}/jvm.cfg")))?
                .and_then(|cfg| {
                    cfg.lines()
                        .map(str::trim)
                        .filter(|l| !l.starts_with('#'))
                        .find_map(|l| {
                            l.strip_suffix(" KNOWN")?
                                .strip_prefix('-')
                                .map(str::to_string)
                        })
                })
                .unwrap_or_else(|| "server".into());
            if self.has(&format!("{lib}/{vm}/libjvm.so")) {
                self.out
                    .preloaded
                    .push(("libjvm.so".into(), format!("{home}/")));
            }
        }
        Ok(())
    }
}
