//! `--with locale[=NAME]`: compiled glibc locales. Every locale of the
//! root (its `locale-archive` and each locale directory), or one: its
//! directory when the root has one, else its categories taken out of
//! `locale-archive` and written as a locale directory
//! (`/usr/lib/locale/fr_FR.utf8/LC_*`), which glibc loads when it finds no
//! archive. The archive layout is glibc's `locale/locarchive.h`.

use std::path::Path;

use super::planner::Planner;
use crate::error::{Error, Result};
use crate::profile::extras::{BUILTIN_LOCALES, LOCALE_DIR, normalise_locale};
use crate::root::Lookup;

/// `struct locarhead`'s magic number.
const AR_MAGIC: u32 = 0xde02_0109;
/// glibc's `__LC_LAST`: the slots of a locale record.
const LC_LAST: usize = 13;
/// The slot of `LC_ALL`, which holds no category.
const LC_ALL: usize = 6;
/// The file of each category in a locale directory, by glibc's category
/// number (LC_MESSAGES is a directory holding SYS_LC_MESSAGES, as
/// localedef writes it).
const CATEGORY_FILES: [&str; LC_LAST] = [
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES/SYS_LC_MESSAGES",
    "",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
];

/// The fields of `struct locarhead` this reader uses (all are `u32`).
struct ArchiveHead {
    namehash_offset: u32,
    namehash_size: u32,
}

/// One category of a locale, as a file of a locale directory.
#[derive(Debug, PartialEq, Eq)]
struct CategoryFile {
    /// Its path in the locale's directory (`LC_TIME`).
    path: &'static str,
    data: Vec<u8>,
}

/// `struct namehashent`: a name and the record of its locale.
struct NameHashEntry {
    name_offset: u32,
    locrec_offset: u32,
}

impl Planner<'_> {
    /// Adds the locales `--with locale[=NAME]` asks for.
    pub(super) fn locales(&mut self, name: Option<&str>) -> Result<()> {
        match name {
            None => self.every_locale(),
            Some(n) if BUILTIN_LOCALES.contains(&n) => Ok(()),
            Some(n) => self.one_locale(n),
        }
    }

    fn every_locale(&mut self) -> Result<()> {
        let reason = "locales (every one compiled in the root)";
        for name in self.root().list_dir(Path::new(LOCALE_DIR))? {
            let path = format!("{LOCALE_DIR}/{}", name.to_string_lossy());
            match self.root().lookup(Path::new(&path))? {
                Lookup::Dir(_) => self.tree(&path, None, reason)?,
                Lookup::File(_) if name == "locale-archive" => {
                    self.layout.add_path(self.root(), &path, reason)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn one_locale(&mut self, name: &str) -> Result<()> {
        let norm = normalise_locale(name);
        let reason = format!("locale {name}");
        for candidate in [name, norm.as_str()] {
            let dir = format!("{LOCALE_DIR}/{candidate}");
            if let Lookup::Dir(_) = self.root().lookup(Path::new(&dir))? {
                return self.tree(&dir, None, &reason);
            }
        }
        let archive = Path::new(LOCALE_DIR).join("locale-archive");
        let categories = match self.root().resolve_file(&archive)? {
            Some(real) => {
                let bytes = self.root().contents(&real)?;
                categories(&bytes, &norm).map_err(|reason| Error::Unsupported {
                    path: archive.clone(),
                    reason,
                })?
            }
            None => None,
        };
        let Some(categories) = categories else {
            let source = name.split(['.', '@']).next().unwrap_or(name);
            let charset = name
                .split_once('.')
                .map_or("UTF-8", |(_, c)| c.split('@').next().unwrap_or(c));
            return Err(Error::Usage(format!(
                "locale {name}: not compiled in the root (no {LOCALE_DIR}/{norm} and not in \
                 {}); compile it there first (localedef -i {source} -f {charset} {name})",
                archive.display()
            )));
        };
        let reason = format!("locale {name} (taken out of locale-archive)");
        for dir in [norm.clone(), format!("{norm}/LC_MESSAGES")] {
            self.layout
                .add_dir(&format!("{LOCALE_DIR}/{dir}"), 0o755, &reason)?;
        }
        for file in categories {
            let path = format!("{LOCALE_DIR}/{norm}/{}", file.path);
            self.layout.add_data(&path, file.data, 0o644, &reason)?;
        }
        Ok(())
    }
}

/// The category files of the locale `name` (as glibc looks it up: its
/// normalised form) in the locale archive `bytes`, or None when the archive does not hold it. Errors say what is
/// malformed.
fn categories(bytes: &[u8], name: &str) -> std::result::Result<Option<Vec<CategoryFile>>, String> {
    let word = word_reader(bytes)?;
    let head = ArchiveHead {
        namehash_offset: word(8)?,
        namehash_size: word(16)?,
    };
    // A name is found by scanning the whole table, rather than by glibc's
    // hash probe: the result is the same, and a damaged hash cannot loop.
    for i in 0..head.namehash_size as usize {
        let at = head.namehash_offset as usize + i * 12;
        let entry = NameHashEntry {
            name_offset: word(at + 4)?,
            locrec_offset: word(at + 8)?,
        };
        if entry.name_offset == 0 || entry.locrec_offset == 0 {
            continue;
        }
        if c_string(bytes, entry.name_offset as usize)? != name.as_bytes() {
            continue;
        }
        let mut files = Vec::new();
        for (slot, file) in CATEGORY_FILES.iter().enumerate() {
            if slot == LC_ALL {
                continue;
            }
            let at = entry.locrec_offset as usize + 4 + slot * 8;
            let (offset, len) = (word(at)? as usize, word(at + 4)? as usize);
            let data = bytes
                .get(offset..offset.saturating_add(len))
                .ok_or_else(|| format!("the {file} data of {name} lies outside the file"))?;
            files.push(CategoryFile {
                path: file,
                data: data.to_vec(),
            });
        }
        return Ok(Some(files));
    }
    Ok(None)
}

/// A reader of the archive's `u32` words at byte offsets, in the byte order
/// its magic number says (the archive is written in the machine's order).
fn word_reader(
    bytes: &[u8],
) -> std::result::Result<impl Fn(usize) -> std::result::Result<u32, String> + '_, String> {
    let raw = |at: usize| -> std::result::Result<[u8; 4], String> {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| "a locale archive cut short".to_string())
    };
    let big = match raw(0)? {
        m if u32::from_le_bytes(m) == AR_MAGIC => false,
        m if u32::from_be_bytes(m) == AR_MAGIC => true,
        _ => return Err("not a glibc locale archive (bad magic number)".into()),
    };
    Ok(move |at| {
        let b = raw(at)?;
        Ok(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    })
}

/// The NUL-terminated string at `at`.
fn c_string(bytes: &[u8], at: usize) -> std::result::Result<&[u8], String> {
    let rest = bytes
        .get(at..)
        .ok_or_else(|| "a locale name lies outside the file".to_string())?;
    let end = memchr::memchr(0, rest).ok_or("a locale name without its NUL")?;
    Ok(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A locale archive holding `fr_FR.utf8`, whose category `i` is the
    /// bytes `[i; i + 1]`, laid out as localedef lays it out: header, name
    /// table (with an empty slot), strings, records, data.
    fn archive() -> Vec<u8> {
        let mut b = vec![0u8; 56];
        let put = |b: &mut Vec<u8>, at: usize, v: u32| {
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        };
        put(&mut b, 0, AR_MAGIC);
        let (names, strings, records) = (56, 56 + 2 * 12, 56 + 2 * 12 + 16);
        let data = records + 4 + LC_LAST * 8;
        b.resize(data, 0);
        put(&mut b, 8, names as u32);
        put(&mut b, 16, 2);
        // Slot 0 is empty; slot 1 names the locale.
        put(&mut b, names + 12 + 4, strings as u32);
        put(&mut b, names + 12 + 8, records as u32);
        b[strings..strings + 11].copy_from_slice(b"fr_FR.utf8\0");
        put(&mut b, records, 1);
        for i in (0..LC_LAST).filter(|&i| i != LC_ALL) {
            let offset = b.len();
            b.extend(std::iter::repeat_n(i as u8, i + 1));
            put(&mut b, records + 4 + i * 8, offset as u32);
            put(&mut b, records + 8 + i * 8, i as u32 + 1);
        }
        b
    }

    #[test]
    fn categories_come_out_of_the_archive() {
        let a = archive();
        let files = categories(&a, "fr_FR.utf8").unwrap().unwrap();
        assert_eq!(files.len(), LC_LAST - 1);
        let file = |i: usize| (files[i].path, files[i].data.clone());
        assert_eq!(file(0), ("LC_CTYPE", vec![0]));
        assert_eq!(file(2), ("LC_TIME", vec![2, 2, 2]));
        assert_eq!(file(5), ("LC_MESSAGES/SYS_LC_MESSAGES", vec![5; 6]));
        assert_eq!(file(11), ("LC_IDENTIFICATION", vec![12; 13]));
        assert_eq!(categories(&a, "de_DE.utf8").unwrap(), None);
    }

    #[test]
    fn damaged_archives_are_errors() {
        let a = archive();
        assert!(categories(&a[..40], "fr_FR.utf8").is_err());
        assert!(categories(&a[..a.len() - 1], "fr_FR.utf8").is_err());
        let mut bad = a.clone();
        bad[0] ^= 1;
        assert!(categories(&bad, "x").unwrap_err().contains("magic"));
    }
}
