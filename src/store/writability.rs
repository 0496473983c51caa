//! Whether the database accepts writes: telling the errors of a database
//! that answers but refuses writes (a read-only file or server, a full disk,
//! failing storage) from all others ([`not_writable`]), the cheap write probe
//! `/ready` relies on ([`probe`], one upserted row of `write_probe`), and the
//! shared verdict of the last probe ([`WriteHealth`]).
//!
//! Such a fault is not a bug of ours and usually clears by itself (space
//! freed, the file or server made writable again), so callers answer 503 and
//! retry, rather than failing for good.

use std::sync::{Arc, RwLock};

use super::Db;

/// Why the database refuses writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotWritable {
    /// The file, its folder or the server is read-only (SQLITE_READONLY;
    /// PostgreSQL 25006 read_only_sql_transaction, e.g. a standby).
    ReadOnly,
    /// No space left: the disk, or the database's size limit (SQLITE_FULL;
    /// PostgreSQL class 53 insufficient resources, e.g. 53100 disk_full).
    Full,
    /// The storage fails to read or write (SQLITE_IOERR; PostgreSQL 58030).
    Io,
}

impl NotWritable {
    /// A few words for people: "read-only", "full", "failing to write".
    pub fn describe(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::Full => "full",
            Self::Io => "failing to write (an I/O error)",
        }
    }
}

/// Whether `err` says the database refuses writes, and why; `None` for every
/// other error (a constraint, a lost connection, a bug).
pub fn not_writable(err: &sqlx::Error) -> Option<NotWritable> {
    let sqlx::Error::Database(db_err) = err else {
        return None;
    };
    let code = db_err.code()?;
    // SQLite reports its extended result code as a number; the primary code
    // is its low byte (SQLITE_READONLY_DBMOVED = 1032 is a SQLITE_READONLY).
    // PostgreSQL's SQLSTATE can be all digits too (25006), so the engine is
    // told by the error's type, not by the code's look.
    if db_err
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        return match code.parse::<i32>().ok()? & 0xff {
            8 => Some(NotWritable::ReadOnly),
            13 => Some(NotWritable::Full),
            10 => Some(NotWritable::Io),
            _ => None,
        };
    }
    match code.as_ref() {
        "25006" => Some(NotWritable::ReadOnly),
        c if c.starts_with("53") => Some(NotWritable::Full),
        "58030" => Some(NotWritable::Io),
        _ => None,
    }
}

/// Whether an error anywhere in this chain (an `anyhow` error wrapping a
/// store call) is one of [`not_writable`]'s.
pub fn not_writable_in_chain(err: &anyhow::Error) -> Option<NotWritable> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<sqlx::Error>().and_then(not_writable))
}

/// The verdict of a probe that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeFailure {
    /// The database answers but refuses writes.
    NotWritable(NotWritable),
    /// Something else failed (unreachable, a timeout): the caller decides.
    Other(String),
}

/// Writes one row, committed, to find out whether the database takes writes
/// now; on SQLite also whether the file has reached its page limit with no
/// free page left (then the probe's own small row still fits in place, but
/// any insert that needs a page fails).
pub async fn probe(db: &Db) -> Result<(), ProbeFailure> {
    let classify = |err: sqlx::Error| match not_writable(&err) {
        Some(kind) => ProbeFailure::NotWritable(kind),
        None => ProbeFailure::Other(err.to_string()),
    };
    let mut conn = db.acquire().await.map_err(classify)?;
    sqlx::query(
        "INSERT INTO write_probe (id, probed_at) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at",
    )
    .bind(super::now())
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    if super::backend(db) == super::Backend::Sqlite {
        // On the same connection: `max_page_count` is a per-connection limit.
        let (pages, limit, free): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT page_count FROM pragma_page_count()), \
                    (SELECT max_page_count FROM pragma_max_page_count()), \
                    (SELECT freelist_count FROM pragma_freelist_count())",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(classify)?;
        if pages >= limit && free == 0 {
            return Err(ProbeFailure::NotWritable(NotWritable::Full));
        }
    }
    Ok(())
}

/// The last probe's verdict, shared by the prober and `/ready`. Cloning
/// shares it. Writable until a probe says otherwise.
#[derive(Debug, Clone, Default)]
pub struct WriteHealth {
    /// `None` while writable; else why not and since when (RFC 3339 UTC).
    refused: Arc<RwLock<Option<(NotWritable, String)>>>,
}

impl WriteHealth {
    /// Records a probe's verdict; returns true when it changed the state
    /// (so the caller logs transitions, not every probe).
    pub fn record(&self, verdict: Option<NotWritable>) -> bool {
        let mut refused = self.refused.write().unwrap_or_else(|e| e.into_inner());
        let changed = refused.as_ref().map(|(kind, _)| *kind) != verdict;
        if changed {
            *refused = verdict.map(|kind| (kind, super::now()));
        }
        metrics::gauge!("database_writable").set(if verdict.is_none() { 1.0 } else { 0.0 });
        changed
    }

    /// Why the database refused the last probe, and since when; `None` while
    /// it takes writes.
    pub fn refused(&self) -> Option<(NotWritable, String)> {
        self.refused
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_probe_passes_on_a_writable_database_and_fails_read_only_on_a_query_only_one() {
        // One connection, so the pragma below holds for every query.
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("probe.db").display());
        let db = super::super::open(&url, 1).await.unwrap();
        assert_eq!(probe(&db).await, Ok(()));

        sqlx::query("PRAGMA query_only = ON")
            .execute(&db)
            .await
            .unwrap();
        assert_eq!(
            probe(&db).await,
            Err(ProbeFailure::NotWritable(NotWritable::ReadOnly))
        );

        sqlx::query("PRAGMA query_only = OFF")
            .execute(&db)
            .await
            .unwrap();
        assert_eq!(probe(&db).await, Ok(()));
    }

    #[tokio::test]
    async fn a_database_at_its_page_limit_is_full_for_inserts_and_for_the_probe() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("full.db").display());
        let db = super::super::open(&url, 1).await.unwrap();
        sqlx::query("PRAGMA max_page_count = 1")
            .execute(&db)
            .await
            .unwrap();

        let insert = super::super::prompts::insert_prompt(&db, "p", "T", "Q", &"x".repeat(20_000))
            .await
            .unwrap_err();

        assert_eq!(not_writable(&insert), Some(NotWritable::Full), "{insert}");
        assert_eq!(
            probe(&db).await,
            Err(ProbeFailure::NotWritable(NotWritable::Full))
        );
    }

    #[test]
    fn the_health_reports_only_changes_and_keeps_the_time_of_the_first_refusal() {
        let health = WriteHealth::default();
        assert!(health.refused().is_none());
        assert!(health.record(Some(NotWritable::ReadOnly)));
        let since = health.refused().unwrap().1;
        assert!(!health.record(Some(NotWritable::ReadOnly)));
        assert_eq!(health.refused().unwrap(), (NotWritable::ReadOnly, since));
        assert!(health.record(None));
        assert!(!health.record(None));
        assert!(health.refused().is_none());
    }

    #[tokio::test]
    async fn errors_other_than_refused_writes_are_not_classed_as_such() {
        let (db, _dir) = super::super::test_db::fresh().await;
        let err = sqlx::query("SELECT * FROM no_such_table")
            .execute(&db)
            .await
            .unwrap_err();
        assert_eq!(not_writable(&err), None);
        let wrapped = anyhow::Error::new(err).context("listing");
        assert_eq!(not_writable_in_chain(&wrapped), None);
    }
}
