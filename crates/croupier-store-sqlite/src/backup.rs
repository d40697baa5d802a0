//! Online backup and restore of the embedded store.
//!
//! A backup is SQLite's backup API copying every page in one step: one read
//! transaction, so the copy is a consistent snapshot of the last commit, while
//! `serve` (another process) keeps writing — in WAL mode the reader blocks no
//! writer. A restore checks a backup file whole before it becomes the store,
//! and never replaces an existing one.

use crate::migrate;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a backup or restore did not happen; nothing was left behind.
#[derive(Debug)]
pub enum BackupError {
    /// There is no database to copy at this path.
    Missing(PathBuf),
    /// The destination exists: neither backups nor restores overwrite.
    Exists(PathBuf),
    /// SQLite refused, or the copy failed its checks.
    Sqlite(String),
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(p) => write!(f, "no database at {}", p.display()),
            Self::Exists(p) => write!(f, "{} exists and is never overwritten", p.display()),
            Self::Sqlite(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for BackupError {}

type Result<T> = std::result::Result<T, BackupError>;

fn sqlite(e: impl std::fmt::Display) -> BackupError {
    BackupError::Sqlite(e.to_string())
}

/// What a backup or restore wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub bytes: u64,
    pub schema_version: u32,
}

/// Copies the live database at `src` into the new file `dst` (which must not
/// exist) and checks the copy. A failed backup leaves no file at `dst`.
pub fn backup(src: &Path, dst: &Path) -> Result<Snapshot> {
    if !src.exists() {
        return Err(BackupError::Missing(src.to_owned()));
    }
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    from.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
    write_checked(dst, |to| copy_all(&from, to))
}

/// Makes the backup file `src` the store at `dst`: checks it, migrates it to
/// this binary's schema, then moves it into place. Refuses when `dst` (or its
/// WAL) already exists: a restore never overwrites a store.
pub fn restore(src: &Path, dst: &Path) -> Result<Snapshot> {
    for existing in [dst.to_owned(), wal_of(dst)] {
        if existing.exists() {
            return Err(BackupError::Exists(existing));
        }
    }
    if !src.is_file() {
        return Err(BackupError::Missing(src.to_owned()));
    }
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite(format!("cannot open {}: {e}", src.display())))?;
    let partial = with_suffix(dst, ".restoring");
    let _ = std::fs::remove_file(&partial);
    let snapshot = write_checked(&partial, |to| {
        copy_all(&from, to)?;
        migrate::run(to).map_err(sqlite)
    })?;
    std::fs::rename(&partial, dst).map_err(sqlite)?;
    Ok(snapshot)
}

/// SQLite's own consistency checks on the database at `path`: the b-trees and
/// indexes (`integrity_check`) and every foreign key. Empty when all hold.
pub fn integrity_problems(path: &Path) -> Result<Vec<String>> {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    check(&c)
}

fn check(c: &Connection) -> Result<Vec<String>> {
    // Each row's columns as text, space-separated.
    let rows = |sql: &str| -> Result<Vec<String>> {
        let mut s = c.prepare(sql).map_err(sqlite)?;
        let n = s.column_count();
        let rows = s
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i).map(text))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map(|v| v.join(" "))
            })
            .map_err(sqlite)?;
        rows.map(|r| r.map_err(sqlite)).collect()
    };
    let mut problems: Vec<String> = rows("PRAGMA integrity_check")?
        .into_iter()
        .filter(|r| r != "ok")
        .collect();
    problems.extend(
        rows("PRAGMA foreign_key_check")?
            .into_iter()
            .map(|r| format!("foreign key (table rowid parent fk): {r}")),
    );
    Ok(problems)
}

fn text(v: rusqlite::types::Value) -> String {
    use rusqlite::types::Value;
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => t,
        Value::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

/// Creates `dst` (which must not exist), fills it with `fill`, checks it, and
/// returns its size and schema version; removes it on any failure.
fn write_checked(
    dst: &Path,
    fill: impl FnOnce(&mut Connection) -> Result<u32>,
) -> Result<Snapshot> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    if dst.exists() {
        return Err(BackupError::Exists(dst.to_owned()));
    }
    let result = (|| {
        let mut to = Connection::open_with_flags(dst, flags).map_err(sqlite)?;
        let schema_version = fill(&mut to)?;
        let problems = check(&to)?;
        if !problems.is_empty() {
            return Err(sqlite(format!(
                "the copy fails SQLite's checks: {}",
                problems.join("; ")
            )));
        }
        // One self-contained file: no WAL beside it.
        to.pragma_update(None, "journal_mode", "DELETE")
            .map_err(sqlite)?;
        drop(to);
        let bytes = std::fs::metadata(dst).map_err(sqlite)?.len();
        Ok(Snapshot {
            bytes,
            schema_version,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(dst);
        let _ = std::fs::remove_file(wal_of(dst));
    }
    result
}

/// Every page of `from` into `to` in one step (one read transaction), then the
/// copied schema version.
fn copy_all(from: &Connection, to: &mut Connection) -> Result<u32> {
    {
        let backup = Backup::new(from, to).map_err(sqlite)?;
        loop {
            match backup.step(-1).map_err(sqlite)? {
                StepResult::Done => break,
                // Busy or locked: another connection holds a lock it will release.
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    to.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite)
}

fn wal_of(db: &Path) -> PathBuf {
    with_suffix(db, "-wal")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
