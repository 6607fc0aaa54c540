//! A package's license as an SPDX license expression.
//!
//! Debian's copyright files name licenses by Debian's short names (`GPL-2+`,
//! `Expat`, `BSD-3-clause`), joined with `and`/`or`; Alpine's `L:` field
//! mostly uses SPDX ids already. Each name that is, or is Debian's alias of,
//! an SPDX license id (a table of the ids seen in distributions) becomes
//! that id; so do the short names of RPM distributions before SPDX
//! (`GPLv2+`, `LGPLv2+`, `ASL 2.0`: RHEL, CentOS, Amazon and Azure Linux);
//! any other becomes a `LicenseRef-` id, which a document must
//! declare with the original name. A text that is not an expression at all
//! is one `LicenseRef-` as a whole.

/// SPDX license ids, as the SPDX license list spells them.
#[rustfmt::skip]
const IDS: &[&str] = &[
    "0BSD", "AFL-2.1", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-1.1", "Apache-2.0",
    "Artistic-1.0", "Artistic-1.0-Perl", "Artistic-2.0", "Beerware", "BSD-1-Clause",
    "BSD-2-Clause", "BSD-2-Clause-Patent", "BSD-3-Clause", "BSD-4-Clause", "BSD-Source-Code",
    "BSL-1.0", "bzip2-1.0.6", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
    "CC0-1.0", "curl", "EPL-1.0", "EPL-2.0", "FSFAP", "FSFUL", "FSFULLR", "FTL",
    "GFDL-1.2-only", "GFDL-1.2-or-later", "GFDL-1.3-only", "GFDL-1.3-or-later",
    "GPL-1.0-only", "GPL-1.0-or-later", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only",
    "GPL-3.0-or-later", "HPND", "ICU", "IJG", "Info-ZIP", "ISC", "LGPL-2.0-only",
    "LGPL-2.0-or-later", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only",
    "LGPL-3.0-or-later", "Libpng", "libpng-2.0", "MIT", "MIT-0", "MIT-CMU", "MPL-1.1",
    "MPL-2.0", "NCSA", "NTP", "OFL-1.1", "OLDAP-2.8", "OpenSSL", "PHP-3.01", "PostgreSQL",
    "PSF-2.0", "Python-2.0", "Ruby", "Sleepycat", "TCL", "Unicode-DFS-2016", "Unlicense",
    "Vim", "W3C", "WTFPL", "X11", "Zlib", "zlib-acknowledgement",
];

/// SPDX exception ids (after `WITH`).
#[rustfmt::skip]
const EXCEPTIONS: &[&str] = &[
    "Autoconf-exception-3.0", "Bison-exception-2.2", "Classpath-exception-2.0",
    "GCC-exception-3.1", "LLVM-exception", "OpenSSL-exception",
];

/// Debian's short names that differ from the SPDX ids (matched ignoring case).
#[rustfmt::skip]
const DEBIAN: &[(&str, &str)] = &[
    ("AGPL-3", "AGPL-3.0-only"), ("AGPL-3+", "AGPL-3.0-or-later"), ("Apache-2", "Apache-2.0"),
    ("Artistic", "Artistic-1.0-Perl"), ("CC0", "CC0-1.0"), ("Expat", "MIT"),
    ("GFDL-1.2", "GFDL-1.2-only"), ("GFDL-1.2+", "GFDL-1.2-or-later"),
    ("GFDL-1.3", "GFDL-1.3-only"), ("GFDL-1.3+", "GFDL-1.3-or-later"),
    ("GPL-1", "GPL-1.0-only"), ("GPL-1+", "GPL-1.0-or-later"), ("GPL-2", "GPL-2.0-only"),
    ("GPL-2+", "GPL-2.0-or-later"), ("GPL-3", "GPL-3.0-only"), ("GPL-3+", "GPL-3.0-or-later"),
    ("LGPL-2", "LGPL-2.0-only"), ("LGPL-2+", "LGPL-2.0-or-later"), ("LGPL-2.1", "LGPL-2.1-only"),
    ("LGPL-2.1+", "LGPL-2.1-or-later"), ("LGPL-3", "LGPL-3.0-only"),
    ("LGPL-3+", "LGPL-3.0-or-later"), ("MPL-2", "MPL-2.0"), ("PSF-2", "PSF-2.0"),
    ("Python", "Python-2.0"), ("zlib/libpng", "Zlib"),
];

/// The short names of RPM distributions (Fedora's before 2023, RHEL's)
/// that differ from the SPDX ids (matched ignoring case). `ASL 2.0` and
/// `ASL 1.1` are spelt with a space: see [`expression`].
#[rustfmt::skip]
const RPM: &[(&str, &str)] = &[
    ("AGPLv3", "AGPL-3.0-only"), ("AGPLv3+", "AGPL-3.0-or-later"), ("Apache-2", "Apache-2.0"),
    ("ASL-2.0", "Apache-2.0"), ("ASL-1.1", "Apache-1.1"), ("Boost", "BSL-1.0"),
    ("GFDLv1.3+", "GFDL-1.3-or-later"), ("GPLv1+", "GPL-1.0-or-later"), ("GPLv2", "GPL-2.0-only"),
    ("GPLv2+", "GPL-2.0-or-later"), ("GPLv3", "GPL-3.0-only"), ("GPLv3+", "GPL-3.0-or-later"),
    ("LGPLv2", "LGPL-2.0-only"), ("LGPLv2+", "LGPL-2.0-or-later"), ("LGPLv2.1", "LGPL-2.1-only"),
    ("LGPLv2.1+", "LGPL-2.1-or-later"), ("LGPLv3", "LGPL-3.0-only"), ("LGPLv3+", "LGPL-3.0-or-later"),
    ("MPLv1.1", "MPL-1.1"), ("MPLv2.0", "MPL-2.0"),
];

/// A license expression and the `LicenseRef-` ids it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    /// The expression (`GPL-2.0-or-later AND LicenseRef-public-domain`).
    pub text: String,
    /// Each `LicenseRef-` id in it, with the name it stands for.
    pub refs: Vec<(String, String)>,
}

impl Expression {
    /// True when every license in it is an SPDX id.
    pub fn is_spdx(&self) -> bool {
        self.refs.is_empty()
    }
}

/// The SPDX id of a license name: itself (in the list's spelling) or
/// Debian's or RPM's alias of it.
pub fn spdx_id(name: &str) -> Option<&'static str> {
    let bare = name.trim_end_matches(',');
    IDS.iter()
        .copied()
        .find(|id| id.eq_ignore_ascii_case(bare))
        .or_else(|| {
            DEBIAN
                .iter()
                .chain(RPM)
                .find(|(alias, _)| alias.eq_ignore_ascii_case(bare))
                .map(|(_, id)| *id)
        })
}

/// The expression for a license text as a package states it (RPM's `ASL
/// 2.0`, the one name with a space in common use, read as one word).
pub fn expression(text: &str) -> Expression {
    let joined = text
        .replace("ASL 2.0", "ASL-2.0")
        .replace("ASL 1.1", "ASL-1.1");
    parse(&joined).unwrap_or_else(|| {
        let id = license_ref(text);
        Expression {
            text: id.clone(),
            refs: vec![(id, text.to_string())],
        }
    })
}

/// `LicenseRef-` and the name with what an SPDX id cannot hold made `-`.
fn license_ref(name: &str) -> String {
    format!("LicenseRef-{}", super::sanitise(name.trim()))
}

/// The expression when `text` is names joined by and/or (in parentheses
/// or not, `WITH` an exception); None otherwise.
fn parse(text: &str) -> Option<Expression> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let mut out: Vec<String> = Vec::new();
    let mut refs: Vec<(String, String)> = Vec::new();
    // Whether the next token must be a license (true) or an operator.
    let mut want_license = true;
    let mut depth = 0usize;
    let mut tokens = spaced.split_whitespace().peekable();
    while let Some(t) = tokens.next() {
        let t = t.trim_end_matches(',');
        match (t.to_ascii_lowercase().as_str(), want_license) {
            ("(", true) => {
                depth += 1;
                out.push("(".into());
            }
            (")", false) if depth > 0 => {
                depth -= 1;
                out.push(")".into());
            }
            ("and" | "or", false) => {
                out.push(t.to_ascii_uppercase());
                want_license = true;
            }
            ("with", false) => {
                let exception = tokens.next()?;
                let id = EXCEPTIONS
                    .iter()
                    .find(|e| e.eq_ignore_ascii_case(exception))?;
                out.push(format!("WITH {id}"));
            }
            (_, true) if !t.is_empty() && !"()".contains(t) => {
                match spdx_id(t) {
                    Some(id) => out.push(id.to_string()),
                    None => {
                        let id = license_ref(t);
                        if !refs.iter().any(|(r, _)| r == &id) {
                            refs.push((id.clone(), t.to_string()));
                        }
                        out.push(id);
                    }
                }
                want_license = false;
            }
            _ => return None,
        }
    }
    if want_license || depth != 0 {
        return None;
    }
    let text = out.join(" ").replace("( ", "(").replace(" )", ")");
    Some(Expression { text, refs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_names_become_spdx_ids() {
        let e = expression("GPL-2+ AND (LGPL-2.1+ or Expat) AND BSD-3-clause");
        assert_eq!(
            e.text,
            "GPL-2.0-or-later AND (LGPL-2.1-or-later OR MIT) AND BSD-3-Clause"
        );
        assert!(e.is_spdx());
    }

    #[test]
    fn rpm_names_become_spdx_ids() {
        let e = expression("GPLv2+ and LGPLv2+ and ASL 2.0");
        assert_eq!(
            e.text,
            "GPL-2.0-or-later AND LGPL-2.0-or-later AND Apache-2.0"
        );
        let e = expression("GPLv3+ and Public Domain");
        assert!(!e.is_spdx(), "two words, no operator: one reference");
    }

    #[test]
    fn other_names_are_license_refs() {
        let e = expression("GPL-3+ AND public-domain");
        assert_eq!(e.text, "GPL-3.0-or-later AND LicenseRef-public-domain");
        assert_eq!(
            e.refs,
            vec![("LicenseRef-public-domain".into(), "public-domain".into())]
        );
        let e = expression("GPL-2+ with OpenSSL exception");
        assert_eq!(e.text, "LicenseRef-GPL-2--with-OpenSSL-exception");
        assert!(!e.is_spdx());
        assert_eq!(expression("GPL-2 AND").refs.len(), 1);
    }
}
