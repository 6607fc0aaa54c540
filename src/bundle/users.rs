//! The bundle's user database: /etc/passwd and /etc/group holding the
//! root's own entries for root, nobody and nogroup (names differ between
//! distributions: gid 65534 is "nogroup" on Debian), the user `--user` names
//! and its primary group, in the order of the root's files; or the files
//! given with `--passwd` and `--group`. The rules of what is chosen are
//! `profile::nss`'s.

use std::fmt;
use std::path::{Path, PathBuf};

use super::planner::Planner;
use crate::error::{Error, Result};
use crate::profile::nss::{self, DbEntry, Who};

/// `--user USER[:GROUP]`: who the program runs as, by name or number. The
/// user and group go into the bundle's user database, and become an image's
/// `User`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// A user name or uid.
    pub user: String,
    /// A group name or gid (default: the user's primary group).
    pub group: Option<String>,
}

impl UserSpec {
    /// Reads `USER[:GROUP]`.
    pub fn parse(s: &str) -> std::result::Result<UserSpec, String> {
        let (user, group) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        if user.is_empty() || group.is_some_and(str::is_empty) {
            return Err(format!("{s:?}: expected NAME, UID, or USER:GROUP"));
        }
        Ok(UserSpec {
            user: user.to_string(),
            group: group.map(str::to_string),
        })
    }
}

impl fmt::Display for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.user)?;
        match &self.group {
            Some(g) => write!(f, ":{g}"),
            None => Ok(()),
        }
    }
}

/// Where the entries of one database file come from.
enum Source {
    /// A file the user gave, written as it is.
    Given(PathBuf),
    /// The root's own file, of which some entries are kept.
    Root,
    /// elfroot's minimal text, when the root has no such file or none of the entries.
    Minimal,
}

/// One database file (passwd or group) as read.
struct Db {
    /// Its path in the bundle.
    path: &'static str,
    text: String,
    source: Source,
}

impl Db {
    /// What the manifest says about it.
    fn reason(&self) -> String {
        match &self.source {
            Source::Given(p) => format!("user database ({})", p.display()),
            Source::Root => format!("user database (entries of the root's {})", self.path),
            Source::Minimal => "user database (minimal: the root has none)".into(),
        }
    }

    /// Where a missing name should have been, for messages.
    fn shown(&self) -> String {
        match &self.source {
            Source::Given(p) => p.display().to_string(),
            Source::Root | Source::Minimal => format!("the root's {}", self.path),
        }
    }
}

impl Planner<'_> {
    /// Adds /etc/passwd and /etc/group (unless the bundle has them already)
    /// and returns the host files they were read from, for the depfile. A
    /// user or group `user` names by name must be in them: an image whose
    /// User is unknown does not start.
    /// Users a program's configuration in the bundle names: nginx's
    /// `user NAME [GROUP];` (nginx looks it up at start and stops without it).
    fn configured_users(&self) -> Result<Vec<String>> {
        const NGINX: &str = "/etc/nginx/nginx.conf";
        if !self.layout.contains(NGINX) {
            return Ok(Vec::new());
        }
        let text = self
            .root()
            .read_to_string(Path::new(NGINX))?
            .unwrap_or_default();
        Ok(text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter_map(|l| l.strip_prefix("user")?.strip_prefix(char::is_whitespace))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(|name| name.trim_end_matches(';').to_string())
            .filter(|name| !name.is_empty())
            .collect())
    }

    pub(super) fn user_database(
        &mut self,
        user: Option<&UserSpec>,
        passwd_file: Option<&Path>,
        group_file: Option<&Path>,
    ) -> Result<Vec<PathBuf>> {
        let passwd = self.database("/etc/passwd", passwd_file, nss::PASSWD)?;
        let group = self.database("/etc/group", group_file, nss::GROUP)?;
        let (users, groups) = (nss::entries(&passwd.text), nss::entries(&group.text));
        let who = user.map(|u| Who::parse(&u.user));
        let group_who = user.and_then(|u| u.group.as_deref()).map(Who::parse);
        known(who, &users, "user", &passwd)?;
        known(group_who, &groups, "group", &group)?;

        let configured = self.configured_users()?;
        let wanted = |e: &DbEntry<'_>| {
            nss::USERS.contains(&e.name)
                || who.is_some_and(|w| w.is(e))
                || configured.iter().any(|c| c == e.name)
        };
        let primary: Vec<u32> = users
            .iter()
            .filter(|e| wanted(e))
            .filter_map(|e| e.gid)
            .collect();
        let passwd_text = nss::text_of(&users, wanted);
        let group_text = nss::text_of(&groups, |e| {
            nss::GROUPS.contains(&e.name)
                || primary.contains(&e.id)
                || group_who.is_some_and(|g| g.is(e))
        });
        let mut sources = Vec::new();
        for (db, chosen, minimal) in [
            (passwd, passwd_text, nss::PASSWD),
            (group, group_text, nss::GROUP),
        ] {
            if let Source::Given(p) = &db.source {
                sources.push(p.clone());
            }
            let (text, db) = match db.source {
                Source::Given(_) => (db.text.clone(), db),
                Source::Root if !chosen.is_empty() => (chosen, db),
                Source::Root | Source::Minimal => {
                    let db = Db {
                        source: Source::Minimal,
                        ..db
                    };
                    (minimal.to_string(), db)
                }
            };
            if !self.layout.contains(db.path) {
                self.layout
                    .add_data(db.path, text.into_bytes(), 0o644, &db.reason())?;
            }
        }
        Ok(sources)
    }

    /// The database at `path`: the `given` host file, else the root's.
    fn database(&self, path: &'static str, given: Option<&Path>, minimal: &str) -> Result<Db> {
        let (text, source) = match given {
            Some(file) => (
                super::read_host_text(file)?,
                Source::Given(std::path::absolute(file).map_err(|e| Error::io(file, e))?),
            ),
            None => match self.root().read_to_string(Path::new(path))? {
                Some(text) => (text, Source::Root),
                None => (minimal.to_string(), Source::Minimal),
            },
        };
        Ok(Db { path, text, source })
    }
}

/// Fails when `who` is a name that `entries` (of `db`) lacks; a number
/// needs no entry.
fn known(who: Option<Who<'_>>, entries: &[DbEntry<'_>], what: &str, db: &Db) -> Result<()> {
    match who {
        Some(Who::Name(name)) if !entries.iter().any(|e| e.name == name) => {
            Err(Error::Usage(format!(
                "{what} {name:?} is not in {} (give a number, or the file with --{})",
                db.shown(),
                if what == "user" { "passwd" } else { "group" }
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_specs() {
        let u = UserSpec::parse("www-data").unwrap();
        assert_eq!((u.user.as_str(), u.group), ("www-data", None));
        let u = UserSpec::parse("1234:100").unwrap();
        assert_eq!(u.group.as_deref(), Some("100"));
        assert_eq!(u.to_string(), "1234:100");
        for bad in ["", ":1", "1:"] {
            assert!(UserSpec::parse(bad).is_err(), "{bad:?}");
        }
    }
}
