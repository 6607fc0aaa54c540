//! What a program's imports say it will open at run time: one rule per
//! row, each naming the functions that trigger it, what they need, and the
//! reason the bundle manifest prints. Used by `bundle` (to put the files
//! in) and `doctor` (to say which the target lacks).

/// What a rule needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A file of the root, by its path.
    File(&'static str),
    /// A shell at /bin/sh (system(3), popen(3) run `sh -c`).
    Shell,
    /// glibc's gconv modules (iconv_open loads them by name).
    Gconv,
}

/// One rule: importing any of `functions` means `need`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The functions whose import triggers the rule.
    pub functions: &'static [&'static str],
    /// What they open.
    pub need: Need,
    /// Why it is needed, as the manifest and the doctor say it.
    pub reason: &'static str,
}

/// The rules, in the order their needs are added.
pub const RULES: &[Rule] = &[
    Rule {
        functions: &[
            "getservbyname",
            "getservbyname_r",
            "getservbyport",
            "getservbyport_r",
            "getservent",
            "getservent_r",
        ],
        need: Need::File("/etc/services"),
        reason: "services database (getservbyname/getservbyport)",
    },
    Rule {
        functions: &[
            "getprotobyname",
            "getprotobyname_r",
            "getprotobynumber",
            "getprotobynumber_r",
            "getprotoent",
            "getprotoent_r",
        ],
        need: Need::File("/etc/protocols"),
        reason: "protocols database (getprotobyname/getprotobynumber)",
    },
    Rule {
        functions: &["system", "popen", "wordexp"],
        need: Need::Shell,
        reason: "shell for system()/popen()",
    },
    Rule {
        functions: &["iconv_open"],
        need: Need::Gconv,
        reason: "gconv modules for iconv_open()",
    },
];

/// The shell system(3) and popen(3) run.
pub const SHELL: &str = "/bin/sh";

/// The rules that `imports` (imported function names) trigger, in table order.
pub fn triggered<'a>(imports: impl IntoIterator<Item = &'a str>) -> Vec<&'static Rule> {
    let names: std::collections::HashSet<&str> = imports.into_iter().collect();
    RULES
        .iter()
        .filter(|r| r.functions.iter().any(|f| names.contains(f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_is_triggered_by_its_functions_only() {
        let needs = |imports: &[&str]| -> Vec<Need> {
            triggered(imports.iter().copied())
                .iter()
                .map(|r| r.need)
                .collect()
        };
        assert_eq!(needs(&["getservbyname"]), [Need::File("/etc/services")]);
        assert_eq!(
            needs(&["getprotobynumber_r"]),
            [Need::File("/etc/protocols")]
        );
        assert_eq!(needs(&["popen", "printf"]), [Need::Shell]);
        assert_eq!(needs(&["iconv_open", "system"]), [Need::Shell, Need::Gconv]);
        assert!(needs(&["printf", "getaddrinfo", "execvp"]).is_empty());
    }
}
