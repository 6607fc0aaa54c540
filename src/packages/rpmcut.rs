//! The root's rpm database cut to some packages, for a bundle's scanners:
//! the same SQLite file, opened in memory as `rpm` opens it, with the other
//! packages' rows deleted from every table keyed by `hnum` (`Packages` and
//! rpm's index tables), triggers and views dropped first so that nothing the
//! file declares runs, then VACUUMed and serialised. Headers are left whole
//! (rpm checks their digests), and so is the schema: rpm, syft and trivy
//! read the copy as they read the original.

use std::path::PathBuf;

use rusqlite::{Connection, MAIN_DB};

use super::rpm::{damaged, database, open};
use crate::error::Result;
use crate::root::Root;

/// The root's rpmdb.sqlite holding only the packages whose records are
/// `keep`: its path inside the root and its bytes. Every table keyed by
/// `hnum` (`Packages` and rpm's indexes) loses the rows of the other
/// packages; the schema stays rpm's, so rpm, syft and trivy read the copy
/// as they read the original. None when the root has no such database.
pub(super) fn cut(root: &Root, keep: &[i64]) -> Result<Option<(PathBuf, Vec<u8>)>> {
    let Some((path, bytes)) = database(root, &mut Vec::new())? else {
        return Ok(None);
    };
    let mut db = open(&path, &bytes, false)?;
    drop(bytes);
    let sqlite = |e: rusqlite::Error| damaged(&path, e);
    let mut declared: Vec<(String, String)> = Vec::new();
    {
        let mut stmt = db
            .prepare(
                "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view', 'table')",
            )
            .map_err(sqlite)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sqlite)?;
        for row in rows {
            declared.push(row.map_err(sqlite)?);
        }
    }
    let tx = db.transaction().map_err(sqlite)?;
    tx.execute_batch("CREATE TEMP TABLE keep (hnum INTEGER PRIMARY KEY)")
        .map_err(sqlite)?;
    for hnum in keep {
        tx.execute("INSERT OR IGNORE INTO temp.keep VALUES (?1)", [hnum])
            .map_err(sqlite)?;
    }
    for (kind, name) in &declared {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let sql = match kind.as_str() {
            "trigger" => format!("DROP TRIGGER IF EXISTS main.{quoted}"),
            "view" => format!("DROP VIEW IF EXISTS main.{quoted}"),
            _ if name.starts_with("sqlite_") || !has_hnum(&tx, name) => continue,
            _ => {
                format!("DELETE FROM main.{quoted} WHERE hnum NOT IN (SELECT hnum FROM temp.keep)")
            }
        };
        tx.execute_batch(&sql).map_err(sqlite)?;
    }
    tx.execute_batch("DROP TABLE temp.keep").map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    db.execute_batch("VACUUM").map_err(sqlite)?;
    let data = db.serialize(MAIN_DB).map_err(sqlite)?;
    Ok(Some((path, data.to_vec())))
}

/// True when table `name` has a column `hnum`.
fn has_hnum(db: &Connection, name: &str) -> bool {
    db.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = 'hnum'")
        .and_then(|mut s| s.exists([name]))
        .unwrap_or(false)
}
