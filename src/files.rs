//! Each distinct file is read and parsed once per run, whoever reaches it.
//!
//! [`Files`] pairs a [`Root`] with a cache of parsed ELF headers keyed by the
//! file's canonical path inside the root, so that a library shared by a
//! thousand programs is opened once; its symbols, when asked for, are read
//! through the tables that one parse located. Uses `root` and `elf`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::elf::{ElfFile, ParseError, Symbols};
use crate::error::{Error, Result};
use crate::root::Root;

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
    parsed: RefCell<HashMap<PathBuf, Probe>>,
    symbols: RefCell<HashMap<PathBuf, Arc<Symbols>>>,
}

impl Files {
    /// Nothing read yet from `root`.
    pub fn new(root: Root) -> Files {
        Files {
            root,
            parsed: RefCell::default(),
            symbols: RefCell::default(),
        }
    }

    /// The root files are read from.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Reads the file at canonical path `real` as ELF, once per run.
    pub fn probe(&self, real: &Path) -> Probe {
        if let Some(p) = self.parsed.borrow().get(real) {
            return p.clone();
        }
        let probe = match self.root.contents(real) {
            Ok(bytes) => match ElfFile::parse(&bytes) {
                Ok(f) => Probe::Elf(Arc::new(f)),
                Err(ParseError::NotElf) => Probe::NotElf,
                Err(ParseError::Malformed(m)) => Probe::Malformed(m),
            },
            Err(e) => Probe::Unreadable(match e {
                Error::Io { source, .. } => source.to_string(),
                other => other.to_string(),
            }),
        };
        self.parsed
            .borrow_mut()
            .insert(real.to_path_buf(), probe.clone());
        probe
    }

    /// The dynamic symbols and versions of the file at canonical path
    /// `real`, read once per run through its parsed headers (empty when it
    /// is not a readable ELF file).
    pub fn symbols(&self, real: &Path) -> Arc<Symbols> {
        if let Some(s) = self.symbols.borrow().get(real) {
            return s.clone();
        }
        let s = Arc::new(match self.probe(real) {
            Probe::Elf(elf) => self
                .root
                .contents(real)
                .ok()
                .and_then(|b| elf.symbols(&b).ok())
                .unwrap_or_default(),
            Probe::NotElf | Probe::Malformed(_) | Probe::Unreadable(_) => Symbols::default(),
        });
        self.symbols
            .borrow_mut()
            .insert(real.to_path_buf(), s.clone());
        s
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
        let s = files.symbols(Path::new("/ls"));
        assert!(!s.imports.is_empty());
        assert_eq!(*s, crate::elf::symbols(&ls).unwrap());
        assert!(matches!(files.probe(Path::new("/ls")), Probe::Elf(_)));
        assert_eq!(*files.symbols(Path::new("/script")), Symbols::default());
        assert_eq!(*files.symbols(Path::new("/absent")), Symbols::default());
    }
}
