//! glibc's Name Service Switch: the services an nsswitch.conf names (each a
//! `libnss_<service>.so.2` module that libc loads on first use), the
//! configuration and user database a minimal root gets (entries of the
//! root's own /etc/passwd and /etc/group, chosen by name or id), and the libc
//! functions that consult them.

/// The nsswitch.conf written when none is given: local files, and DNS for hosts.
pub const DEFAULT_NSSWITCH: &str = "\
passwd:         files
group:          files
shadow:         files
hosts:          files dns
";

/// The /etc/passwd used when the root has none: root, and nobody for
/// programs that drop privileges.
pub const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";

/// The /etc/group used when the root has none, matching [`PASSWD`].
pub const GROUP: &str = "\
root:x:0:
nobody:x:65534:
";

/// The users a bundle always gets from the root's /etc/passwd.
pub const USERS: &[&str] = &["root", "nobody"];

/// The groups a bundle always gets from the root's /etc/group ("nogroup"
/// is Debian's name for gid 65534, "nobody" other distributions').
pub const GROUPS: &[&str] = &["root", "nobody", "nogroup"];

/// One entry of /etc/passwd (`name:x:uid:gid:...`) or /etc/group
/// (`name:x:gid:members`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbEntry<'a> {
    /// The whole line, without its line end.
    pub line: &'a str,
    /// The user or group name.
    pub name: &'a str,
    /// The uid (passwd) or gid (group).
    pub id: u32,
    /// The primary group (passwd only; None in a group file).
    pub gid: Option<u32>,
}

/// The entries of a passwd or group file, in order; comments, blank and
/// malformed lines (and NIS `+`/`-` lines) are left out.
pub fn entries(text: &str) -> Vec<DbEntry<'_>> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(':');
            let name = f
                .next()
                .filter(|n| !n.is_empty() && !n.starts_with(['#', '+', '-']))?;
            let id = f.nth(1)?.parse().ok()?;
            let gid = f.next().and_then(|g| g.parse().ok());
            Some(DbEntry {
                line,
                name,
                id,
                gid,
            })
        })
        .collect()
}

/// A user or group as given (`www-data`, `33`): a name, or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who<'a> {
    /// A name, which must be in the database for the id to be known.
    Name(&'a str),
    /// A numeric id, which a container can use without any entry.
    Id(u32),
}

impl<'a> Who<'a> {
    /// Reads a name or a number.
    pub fn parse(s: &'a str) -> Who<'a> {
        match s.parse() {
            Ok(id) => Who::Id(id),
            Err(_) => Who::Name(s),
        }
    }

    /// True when `e` is this user or group.
    pub fn is(&self, e: &DbEntry<'_>) -> bool {
        match *self {
            Who::Name(n) => e.name == n,
            Who::Id(id) => e.id == id,
        }
    }
}

/// The lines of `entries` that `keep` selects, in their order, each ended by a newline.
pub fn text_of<'a>(entries: &[DbEntry<'a>], keep: impl Fn(&DbEntry<'a>) -> bool) -> String {
    entries
        .iter()
        .filter(|e| keep(e))
        .map(|e| format!("{}\n", e.line))
        .collect()
}

/// Names of libc functions that look users and groups up (through NSS, in
/// /etc/passwd and /etc/group with the `files` service).
pub const USER_LOOKUPS: &[&str] = &[
    "getpwnam",
    "getpwuid",
    "getpwnam_r",
    "getpwuid_r",
    "getpwent",
    "getgrnam",
    "getgrgid",
    "getgrnam_r",
    "getgrgid_r",
    "getgrouplist",
    "initgroups",
    "getlogin",
    "getlogin_r",
];

/// The NSS services an nsswitch.conf names, in order of first use
/// (`files`, `dns`, `systemd`...; actions in brackets are not services).
pub fn services(conf: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in conf.lines() {
        let line = line.split('#').next().unwrap_or("");
        let Some((_, services)) = line.split_once(':') else {
            continue;
        };
        let mut in_action = false;
        for word in services.split_whitespace() {
            if word.starts_with('[') {
                in_action = !word.ends_with(']');
                continue;
            }
            if in_action {
                in_action = !word.ends_with(']');
                continue;
            }
            if !out.iter().any(|s| s == word) {
                out.push(word.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_entries_and_selection() {
        let passwd = "# comment\nroot:x:0:0:root:/root:/bin/bash\n+nis\nbad\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nnobody:x:65534:65534::/:/x\n";
        let e = entries(passwd);
        let names: Vec<_> = e.iter().map(|e| (e.name, e.id, e.gid)).collect();
        assert_eq!(
            names,
            [
                ("root", 0, Some(0)),
                ("www-data", 33, Some(33)),
                ("nobody", 65534, Some(65534))
            ]
        );
        let text = text_of(&e, |e| USERS.contains(&e.name) || Who::parse("33").is(e));
        assert_eq!(
            text,
            "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nnobody:x:65534:65534::/:/x\n"
        );
        let group = entries("root:x:0:\nnogroup:x:65534:\n");
        assert_eq!(group[1].gid, None);
        assert!(Who::parse("nogroup").is(&group[1]));
        assert_eq!(entries(GROUP).len(), 2);
    }

    #[test]
    fn services_skip_actions_and_comments() {
        let conf = "passwd: files systemd\n# hosts: nis\nhosts: files [NOTFOUND=return] dns mymachines\ngroup: files [ SUCCESS=merge ] systemd\n";
        assert_eq!(services(conf), ["files", "systemd", "dns", "mymachines"]);
        assert_eq!(services(DEFAULT_NSSWITCH), ["files", "dns"]);
    }
}
