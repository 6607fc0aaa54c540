//! glibc's Name Service Switch: the services an nsswitch.conf names (each a
//! `libnss_<service>.so.2` module that libc loads on first use), the
//! configuration and user database a minimal root gets, and the libc
//! functions that consult them.

/// The nsswitch.conf written when none is given: local files, and DNS for hosts.
pub const DEFAULT_NSSWITCH: &str = "\
passwd:         files
group:          files
shadow:         files
hosts:          files dns
";

/// The minimal /etc/passwd: root, and nobody for programs that drop privileges.
pub const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";

/// The minimal /etc/group matching [`PASSWD`].
pub const GROUP: &str = "\
root:x:0:
nobody:x:65534:
";

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
    fn services_skip_actions_and_comments() {
        let conf = "passwd: files systemd\n# hosts: nis\nhosts: files [NOTFOUND=return] dns mymachines\ngroup: files [ SUCCESS=merge ] systemd\n";
        assert_eq!(services(conf), ["files", "systemd", "dns", "mymachines"]);
        assert_eq!(services(DEFAULT_NSSWITCH), ["files", "dns"]);
    }
}
