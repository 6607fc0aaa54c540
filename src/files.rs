//! Each distinct file is read and parsed once per run, whoever reaches it.
//!
//! [`Files`] pairs a [`Root`] with a cache of parsed ELF headers keyed by the
//! file's canonical path inside the root, so that a library shared by a
//! thousand programs is opened once; its symbols, when asked for, are read
//! through the tables that one parse located. Uses `root` and `elf`.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use crate::elf::{ElfFile, ParseError, Symbols};
use crate::error::{Error, Result};
use crate::root::{PathMap, Root};

/// What reading one file as ELF gave.
#[derive(Debug, Clone)]
pub enum Probe {
    /// An ELF file, parsed.
    Elf(Arc<ElfFile>),
    /// Something else (a script, a text file...).
    NotElf,
    /// ELF, but its headers are damaged: why.
    Malformed(String),
    /// The file could not be read: why.
    Unreadable(String),
}

/// The root plus everything read from it so far.
pub struct Files {
    root: Root,
    parsed: RefCell<PathMap<Probe>>,
    /// Symbols by canonical path, or why they could not be read.
    symbols: RefCell<PathMap<Read<Symbols>>>,
    /// Names of imported symbols alone ([`Files::imports`]), likewise.
    imports: RefCell<PathMap<Read<Vec<String>>>>,
}

/// What reading a part of a file gave: it, or why it could not be read.
type Read<T> = std::result::Result<Arc<T>, String>;

impl Files {
    /// Nothing read yet from `root`.
    pub fn new(root: Root) -> Files {
        Files {
            root,
            parsed: RefCell::default(),
            symbols: RefCell::default(),
            imports: RefCell::default(),
        }
    }

    /// The root files are read from.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Reads the file at canonical path `real` as ELF, once per run.
    pub fn probe(&self, real: &Path) -> Probe {
        if let Some(p) = self.parsed.borrow().get(real.as_os_str()) {
            return p.clone();
        }
        let probe = read_probe(&self.root, real);
        self.parsed
            .borrow_mut()
            .insert(real.as_os_str().to_owned(), probe.clone());
        probe
    }

    /// Takes what reading the file at canonical path `real` gave another
    /// reader of the same root ([`read_probe`]), unless it was read here already.
    pub fn remember(&self, real: &Path, probe: Probe) {
        self.parsed
            .borrow_mut()
            .entry(real.as_os_str().to_owned())
            .or_insert(probe);
    }

    /// The dynamic symbols and versions of the file at canonical path
    /// `real`, read once per run through its parsed headers; an error naming
    /// the file when it is not a readable ELF file, or its tables are damaged
    /// (never an empty table that would let a check pass).
    pub fn symbols(&self, real: &Path) -> Result<Arc<Symbols>> {
        self.cached(&self.symbols, real, |elf, bytes| elf.symbols(bytes))
    }

    /// The names of the symbols the file at canonical path `real` imports
    /// ([`ElfFile::import_names`]), read once per run (taken from its
    /// symbols when those were read); errors as [`Files::symbols`].
    pub fn imports(&self, real: &Path) -> Result<Arc<Vec<String>>> {
        let known = self.symbols.borrow().get(real.as_os_str()).cloned();
        if let Some(Ok(s)) = known
            && !self.imports.borrow().contains_key(real.as_os_str())
        {
            let names = s.imports.iter().map(|i| i.name.clone()).collect();
            self.imports
                .borrow_mut()
                .insert(real.as_os_str().to_owned(), Ok(Arc::new(names)));
        }
        self.cached(&self.imports, real, |elf, bytes| elf.import_names(bytes))
    }

    /// What `read` gives for the ELF file at canonical path `real`, kept in
    /// `cache` (failures too, as the reason).
    fn cached<T>(
        &self,
        cache: &RefCell<PathMap<Read<T>>>,
        real: &Path,
        read: impl FnOnce(&ElfFile, &[u8]) -> std::result::Result<T, ParseError>,
    ) -> Result<Arc<T>> {
        let cached = cache.borrow().get(real.as_os_str()).cloned();
        let result = match cached {
            Some(r) => r,
            None => {
                let r = self.read_part(real, read);
                cache
                    .borrow_mut()
                    .insert(real.as_os_str().to_owned(), r.clone());
                r
            }
        };
        result.map_err(|reason| Error::Malformed {
            path: real.to_path_buf(),
            reason,
        })
    }

    fn read_part<T>(
        &self,
        real: &Path,
        read: impl FnOnce(&ElfFile, &[u8]) -> std::result::Result<T, ParseError>,
    ) -> Read<T> {
        match self.probe(real) {
            Probe::Elf(elf) => {
                let bytes = self.root.contents(real).map_err(|e| e.to_string())?;
                read(&elf, &bytes).map(Arc::new).map_err(|e| match e {
                    ParseError::NotElf => "not an ELF file".to_string(),
                    ParseError::Malformed(m) => format!("its symbol tables: {m}"),
                })
            }
            Probe::NotElf => Err("not an ELF file".into()),
            Probe::Malformed(m) | Probe::Unreadable(m) => Err(m),
        }
    }

    /// Reads the file at canonical path `real` as ELF, turning failures into
    /// errors that name `shown` (the path as the user or the loader wrote it).
    pub fn elf(&self, real: &Path, shown: &Path) -> Result<Arc<ElfFile>> {
        match self.probe(real) {
            Probe::Elf(f) => Ok(f),
            Probe::NotElf => Err(Error::NotElf {
                path: shown.to_path_buf(),
            }),
            Probe::Malformed(reason) => Err(Error::Malformed {
                path: shown.to_path_buf(),
                reason,
            }),
            Probe::Unreadable(reason) => Err(Error::Io {
                path: shown.to_path_buf(),
                source: std::io::Error::other(reason),
            }),
        }
    }
}

/// Reads the file at canonical path `real` of `root` as ELF, uncached.
pub(crate) fn read_probe(root: &Root, real: &Path) -> Probe {
    match root.contents(real) {
        Ok(bytes) => match ElfFile::parse(&bytes) {
            Ok(f) => Probe::Elf(Arc::new(f)),
            Err(ParseError::NotElf) => Probe::NotElf,
            Err(ParseError::Malformed(m)) => Probe::Malformed(m),
        },
        Err(e) => Probe::Unreadable(match e {
            Error::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_come_from_the_one_parse_and_agree_with_the_one_shot_form() {
        let t = tempfile::tempdir().unwrap();
        let ls = std::fs::read("/usr/bin/ls").unwrap();
        std::fs::write(t.path().join("ls"), &ls).unwrap();
        std::fs::write(t.path().join("script"), b"#!/bin/sh\n").unwrap();
        let files = Files::new(Root::open(t.path()).unwrap());
        let names = files.imports(Path::new("/ls")).unwrap();
        let s = files.symbols(Path::new("/ls")).unwrap();
        assert!(!s.imports.is_empty());
        assert_eq!(*s, crate::elf::symbols(&ls).unwrap());
        // The names alone, read before the symbols, are theirs.
        let full: Vec<&str> = s.imports.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(*names, full);
        assert_eq!(files.imports(Path::new("/ls")).unwrap(), names);
        // Read after the symbols, they come from them, once.
        let after = Files::new(Root::open(t.path()).unwrap());
        after.symbols(Path::new("/ls")).unwrap();
        let first = after.imports(Path::new("/ls")).unwrap();
        assert_eq!(first, names);
        assert!(Arc::ptr_eq(
            &first,
            &after.imports(Path::new("/ls")).unwrap()
        ));
        assert!(matches!(files.probe(Path::new("/ls")), Probe::Elf(_)));
        // What cannot be read is an error naming the file, never no symbols.
        for bad in ["/script", "/absent"] {
            let err = files.symbols(Path::new(bad)).unwrap_err();
            assert_eq!(err.path(), Some(&std::path::PathBuf::from(bad)), "{err}");
            let err = files.imports(Path::new(bad)).unwrap_err();
            assert_eq!(err.path(), Some(&std::path::PathBuf::from(bad)), "{err}");
        }
    }
}
