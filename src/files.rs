//! Each distinct file is read and parsed once per run, whoever reaches it.
//!
//! [`Files`] pairs a [`Root`] with a cache of parsed ELF headers keyed by the
//! file's canonical path inside the root, so that a library shared by a
//! thousand programs is opened once.

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
    Elf(Arc<ElfFile>),
    NotElf,
    Malformed(String),
    Unreadable(String),
}

/// The root plus everything read from it so far.
pub struct Files {
    root: Root,
    parsed: RefCell<HashMap<PathBuf, Probe>>,
    symbols: RefCell<HashMap<PathBuf, Arc<Symbols>>>,
}

impl Files {
    pub fn new(root: Root) -> Files {
        Files {
            root,
            parsed: RefCell::default(),
            symbols: RefCell::default(),
        }
    }

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
    /// `real`, read once per run (empty when unreadable).
    pub fn symbols(&self, real: &Path) -> Arc<Symbols> {
        if let Some(s) = self.symbols.borrow().get(real) {
            return s.clone();
        }
        let s = Arc::new(
            self.root
                .contents(real)
                .ok()
                .and_then(|b| crate::elf::symbols(&b).ok())
                .unwrap_or_default(),
        );
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
