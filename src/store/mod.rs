//! The database: opening the SQLite pool (WAL, foreign keys, busy timeout),
//! running the embedded migrations, and one file per table with one function
//! per query. All SQL of the crate lives under this folder; callers see plain
//! Rust types. It knows nothing of training, grading or HTTP.
//!
//! Queries are runtime-checked (`sqlx::query_as` with bound parameters, never
//! string-built SQL) and tested against a temporary database with the
//! migrations applied. Writes that touch more than one row or table run in one
//! transaction.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub mod admin;
pub mod calibrations;
pub mod datasets;
pub mod example_model_scores;
pub mod examples;
pub mod jobs;
pub mod models;
pub mod prompts;
pub mod runs;

/// The migrations of migrations/, compiled into the binary so that a fresh
/// install needs no files beside it.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Errors while opening or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is not a valid SQLite URL.
    #[error("invalid database URL {url:?}: {source}")]
    BadUrl { url: String, source: sqlx::Error },
    /// The folder that should hold the database file could not be created.
    #[error("cannot create the database folder {path:?}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open the database {url:?}: {source}")]
    Connect { url: String, source: sqlx::Error },
    /// A migration failed.
    #[error("cannot migrate the database {url:?}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
}

/// Opens (creating if needed) the SQLite database at `url` and applies the
/// migrations.
///
/// WAL lets readers (grading, listing) proceed while a job writes progress;
/// `synchronous = NORMAL` is the setting SQLite recommends with WAL (durable
/// across application crashes, may lose the last commit on power loss); the
/// busy timeout turns momentary writer contention into a short wait instead
/// of an error; foreign keys are off by default in SQLite and must be asked for.
pub async fn open(url: &str, max_connections: u32) -> Result<SqlitePool, OpenError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| OpenError::BadUrl {
            url: url.to_owned(),
            source,
        })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    // SQLite creates the file but not its folder (the default is data/...).
    if let Some(parent) = options.get_filename().parent()
        && !parent.as_os_str().is_empty()
        && !parent.exists()
    {
        std::fs::create_dir_all(parent).map_err(|source| OpenError::Folder {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections.max(1))
        .connect_with(options)
        .await
        .map_err(|source| OpenError::Connect {
            url: url.to_owned(),
            source,
        })?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|source| OpenError::Migrate {
            url: url.to_owned(),
            source,
        })?;
    Ok(pool)
}

/// The current time as stored in the database: RFC 3339 in UTC with
/// milliseconds, so that string order is time order.
pub fn now() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// Formats a time the way the database stores it (see [`now`]).
pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&format).expect("a UTC time always formats")
}

/// A new random id for a row (UUID v4 as text; see the migration for why
/// ids are text).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
pub(crate) mod test_db {
    //! A fresh migrated database in a temporary folder, for the store's unit tests.

    use sqlx::SqlitePool;

    /// Opens a new database; keep the returned folder alive while using the pool.
    pub async fn fresh() -> (SqlitePool, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let pool = super::open(&url, 4).await.expect("open test database");
        (pool, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_creates_the_folder_and_enables_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("nested/more/x.db").display());
        let pool = open(&url, 2).await.unwrap();
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn stored_times_sort_as_strings() {
        let a = format_time(time::macros::datetime!(2026-01-02 03:04:05.006 UTC));
        assert_eq!(a, "2026-01-02T03:04:05.006Z");
        let b = format_time(time::macros::datetime!(2026-01-02 13:04:05 UTC));
        assert!(a < b);
    }
}
