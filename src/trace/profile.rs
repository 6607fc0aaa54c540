//! The profile file `elfroot trace` writes and `elfroot bundle --profile`
//! reads: the one owner of its format.
//!
//! ```text
//! # elfroot trace profile
//! # elfroot 0.1.0
//! # command: TERM=xterm-256color tput colors
//! exec /usr/bin/tput
//! link /usr/lib/terminfo
//! dir  /usr/share/terminfo
//! file /usr/share/terminfo/x/xterm-256color
//! ```
//!
//! One `KIND PATH` per line, one line per path, sorted by path component by
//! component (what a directory holds right after it).
//! KIND is `file` (opened, stat'ed or mapped), `exec` (executed, or the
//! interpreter of something executed), `dir` (a directory: listed, opened or
//! stat'ed) or `link` (a symbolic link; its target has a line of its own).
//! PATH is absolute and runs to the end of the line (spaces included); the
//! spaces between KIND and PATH only align the columns. In PATH, `\\` is a
//! backslash, `\n` a newline, and `\xHH` any other byte below 0x20, 0x7f, or
//! a byte that is not part of valid UTF-8. Empty lines and lines starting
//! with `#` are comments; `# command: ` lines name the traced commands.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What a recorded path is. The order is the merge order: a path recorded
/// as executed in one run and opened in another stays `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A symbolic link (its target is recorded too).
    Link,
    /// A directory.
    Dir,
    /// A file opened, stat'ed or mapped.
    File,
    /// A file executed (or the interpreter of one).
    Exec,
}

impl Kind {
    /// The word in the profile.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Link => "link",
            Kind::Dir => "dir",
            Kind::File => "file",
            Kind::Exec => "exec",
        }
    }

    fn parse(word: &str) -> Option<Kind> {
        [Kind::Link, Kind::Dir, Kind::File, Kind::Exec]
            .into_iter()
            .find(|k| k.word() == word)
    }
}

/// The paths a traced command used, and the command lines that were traced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The command lines, as shown in the header (in the order traced).
    pub commands: Vec<String>,
    /// Every recorded path (absolute, inside the traced root) and its kind.
    pub entries: BTreeMap<PathBuf, Kind>,
}

const TITLE: &str = "# elfroot trace profile";
const COMMAND: &str = "# command: ";

impl Profile {
    /// Parses a profile; `file` names it in errors (with the line number).
    pub fn parse(text: &str, file: &Path) -> Result<Profile> {
        let mut profile = Profile::default();
        for (n, line) in text.lines().enumerate() {
            let bad = |reason: String| Error::Config {
                path: file.to_path_buf(),
                reason: format!("line {}: {reason}", n + 1),
            };
            if let Some(command) = line.strip_prefix(COMMAND) {
                profile.add_command(command.to_string());
                continue;
            }
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let (word, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
            let kind = Kind::parse(word).ok_or_else(|| {
                bad(format!(
                    "{word:?} is not a kind (file, exec, dir or link), \
                     or the line is not KIND PATH"
                ))
            })?;
            let path = rest.trim_start_matches([' ', '\t']);
            if !path.starts_with('/') {
                return Err(bad(format!("{path:?} is not an absolute path")));
            }
            let path = unescape(path).map_err(bad)?;
            profile.add(PathBuf::from(OsString::from_vec(path)), kind);
        }
        Ok(profile)
    }

    /// Records `path` as `kind`, keeping the stronger kind of a path already there.
    pub fn add(&mut self, path: PathBuf, kind: Kind) {
        let old = self.entries.entry(path).or_insert(kind);
        *old = (*old).max(kind);
    }

    /// Adds a command line to the header, once.
    pub fn add_command(&mut self, command: String) {
        if !self.commands.contains(&command) {
            self.commands.push(command);
        }
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: Profile) {
        for c in other.commands {
            self.add_command(c);
        }
        for (path, kind) in other.entries {
            self.add(path, kind);
        }
    }

    /// The profile's text: the header, then the entries sorted by path.
    pub fn render(&self) -> String {
        let mut out = format!("{TITLE}\n# elfroot {}\n", env!("CARGO_PKG_VERSION"));
        for c in &self.commands {
            out.push_str(COMMAND);
            out.push_str(c);
            out.push('\n');
        }
        for (path, kind) in &self.entries {
            out.push_str(&format!("{:<4} ", kind.word()));
            out.push_str(&escape(path.as_os_str().as_bytes()));
            out.push('\n');
        }
        out
    }
}

/// `bytes` as profile text: see the module documentation.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes `text` stands for, or why it is not a valid escaped path.
fn unescape(text: &str) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'x') => {
                let hex = [bytes.next(), bytes.next()];
                let byte = match hex {
                    [Some(h), Some(l)] => std::str::from_utf8(&[h, l])
                        .ok()
                        .and_then(|s| u8::from_str_radix(s, 16).ok()),
                    _ => None,
                };
                out.push(byte.ok_or("\\x must be followed by two hex digits")?);
            }
            _ => return Err("a backslash must start \\\\, \\n or \\xHH".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_odd_bytes() {
        let mut p = Profile::default();
        p.add_command("tput colors".into());
        let odd = OsString::from_vec(b"/tmp/a b\n\\c\xff\x01\xc3\xa9".to_vec());
        p.add(PathBuf::from(&odd), Kind::File);
        p.add("/usr/bin/tput".into(), Kind::File);
        p.add("/usr/bin/tput".into(), Kind::Exec);
        p.add("/usr/lib".into(), Kind::Dir);
        let text = p.render();
        assert!(
            text.contains("file /tmp/a b\\n\\\\c\\xff\\x01é\n"),
            "{text}"
        );
        assert!(
            text.contains("exec /usr/bin/tput\ndir  /usr/lib\n"),
            "{text}"
        );
        assert_eq!(Profile::parse(&text, Path::new("p")).unwrap(), p);
    }

    #[test]
    fn bad_lines_name_the_line() {
        for (text, what) in [
            (
                "# x\nfile usr/lib\n",
                "line 2: \"usr/lib\" is not an absolute path",
            ),
            ("files /a\n", "line 1: \"files\" is not a kind"),
            ("file /a\\q\n", "line 1: a backslash"),
            ("file /a\\x4\n", "line 1: \\x must be followed"),
        ] {
            let e = Profile::parse(text, Path::new("p"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("p: ") && e.contains(what), "{e}");
        }
    }

    #[test]
    fn merge_keeps_commands_once_and_the_stronger_kind() {
        let mut a = Profile::parse("# command: a\nfile /x\ndir /d\n", Path::new("a")).unwrap();
        let b = Profile::parse("# command: a\n# command: b\nexec /x\n", Path::new("b")).unwrap();
        a.merge(b);
        assert_eq!(a.commands, ["a", "b"]);
        assert_eq!(a.entries[Path::new("/x")], Kind::Exec);
        assert_eq!(a.entries[Path::new("/d")], Kind::Dir);
    }
}
