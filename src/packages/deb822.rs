//! Debian control-file syntax (deb822): stanzas of `Field: value` lines,
//! continuation lines starting with a space or a tab, stanzas separated by
//! blank lines. Used for dpkg's status files and machine-readable copyright
//! files. Pure functions over text; no file access.

/// One stanza: its text exactly as written and its fields in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stanza<'a> {
    /// The stanza's lines, each with its newline, as in the file.
    pub text: &'a str,
    /// The line the stanza starts on, counted from 1 (for messages).
    pub line: usize,
    /// (name, value): the value runs from after the colon to the end of the
    /// field, continuation lines included, trimmed.
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Stanza<'a> {
    /// The value of field `name` (compared without regard to case, as
    /// dpkg does), continuation lines included.
    pub fn field(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The first line of field `name`: the whole of a simple field, the
    /// synopsis of a multi-line one.
    pub fn first_line(&self, name: &str) -> Option<&'a str> {
        self.field(name)
            .map(|v| v.lines().next().unwrap_or("").trim())
    }
}

/// The stanzas of `text`, in order; a stanza that breaks the syntax is an
/// `Err` saying where and why, and the ones after it are still read.
pub(crate) fn stanzas(text: &str) -> Vec<Result<Stanza<'_>, String>> {
    blocks(text)
        .into_iter()
        .map(|(line, block)| parse(block, line))
        .collect()
}

/// The runs of non-blank lines of `text`, each with the number (from 1) of
/// its first line: the records of deb822 files and of apk's database.
pub(crate) fn blocks(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte offset, line number)
    let mut offset = 0;
    for (i, line) in lines(text).enumerate() {
        if line.trim().is_empty() {
            if let Some((at, n)) = start.take() {
                out.push((n, &text[at..offset]));
            }
        } else if start.is_none() {
            start = Some((offset, i + 1));
        }
        offset += line.len();
    }
    if let Some((at, n)) = start {
        out.push((n, &text[at..]));
    }
    out
}

/// The lines of `text`, each with its newline, as `split_inclusive('\n')`
/// gives them, found with a vectorised search (a status file has 20 000).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    memchr::memchr_iter(b'\n', text.as_bytes())
        .map(|nl| nl + 1)
        .chain(std::iter::once(text.len()))
        .filter_map(move |end| {
            let line = text.get(from..end).filter(|l| !l.is_empty())?;
            from = end;
            Some(line)
        })
}

/// Parses the lines of one stanza (no blank line among them).
fn parse(text: &str, line: usize) -> Result<Stanza<'_>, String> {
    let mut fields: Vec<(&str, usize, usize)> = Vec::new(); // (name, value start, value end)
    let mut offset = 0;
    for (i, l) in lines(text).enumerate() {
        let at = offset;
        offset += l.len();
        if l.starts_with(' ') || l.starts_with('\t') {
            match fields.last_mut() {
                Some(last) => last.2 = offset,
                None => return Err(format!("line {}: continuation of no field", line + i)),
            }
            continue;
        }
        if l.starts_with('#') {
            continue;
        }
        let Some(colon) = memchr::memchr(b':', l.as_bytes()) else {
            return Err(format!("line {}: not a `Field: value` line", line + i));
        };
        let name = &l[..colon];
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("line {}: {name:?} is not a field name", line + i));
        }
        fields.push((name, at + colon + 1, offset));
    }
    Ok(Stanza {
        text,
        line,
        fields: fields
            .into_iter()
            .map(|(n, from, to)| (n, text[from..to].trim()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_continuations_and_raw_text() {
        let text =
            "Package: a\nDescription: short\n more\n .\n end\n\n\nPackage: b\r\nversion:  2 \n";
        let all = stanzas(text);
        assert_eq!(all.len(), 2);
        let a = all[0].as_ref().unwrap();
        assert_eq!(a.text, "Package: a\nDescription: short\n more\n .\n end\n");
        assert_eq!(a.line, 1);
        assert_eq!(a.first_line("description"), Some("short"));
        assert_eq!(a.field("Description"), Some("short\n more\n .\n end"));
        let b = all[1].as_ref().unwrap();
        assert_eq!((b.line, b.field("Version")), (8, Some("2")));
        assert_eq!(b.field("Package"), Some("b"));
    }

    #[test]
    fn lines_as_split_inclusive_gives_them() {
        for text in ["", "a", "\n", "a\n", "a\nb", "a\n\nb\n", "\n\n", "é\nü\r\n"] {
            let want: Vec<&str> = text.split_inclusive('\n').collect();
            assert_eq!(lines(text).collect::<Vec<_>>(), want, "{text:?}");
        }
    }

    #[test]
    fn a_broken_stanza_does_not_hide_the_next() {
        let all =
            stanzas(" orphan\nPackage: x\n\nno colon here\n\nPackage: y\n: empty\n\nPackage: z\n");
        assert!(all[0].as_ref().unwrap_err().contains("line 1"));
        assert!(all[1].as_ref().unwrap_err().contains("line 4"));
        assert!(all[2].is_err());
        assert_eq!(all[3].as_ref().unwrap().field("package"), Some("z"));
    }
}
