//! A consistent copy of a live SQLite database: `VACUUM INTO` a new file,
//! which reads one snapshot of the database (a read transaction: the service
//! keeps writing meanwhile, in WAL mode) and writes a compact, self-contained
//! file with no `-wal` beside it. A plain copy of the file is not a backup of
//! a WAL database: committed pages may still sit in the `-wal` file.
//!
//! PostgreSQL has its own tool for this (`pg_dump`); this file is SQLite only.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The URL does not name a SQLite database file.
    #[error(
        "backup copies a SQLite database; {url} is PostgreSQL: back it up with pg_dump \
         (e.g. `pg_dump --format=custom --file=essay-grader.dump \"$URL\"`, see docs/deploy.md)"
    )]
    NotSqlite {
        /// The URL, without its password.
        url: String,
    },
    /// The database file does not exist (a backup never creates one).
    #[error("there is no database at {0}")]
    Missing(String),
    /// SQLite refused.
    #[error("{what}: {source}")]
    Sqlite {
        /// What was being done.
        what: String,
        /// SQLite's error.
        source: sqlx::Error,
    },
    /// The copy does not pass SQLite's integrity check.
    #[error("the backup {path} fails SQLite's integrity check: {report}")]
    Corrupt {
        /// The copy.
        path: String,
        /// What `PRAGMA integrity_check` said.
        report: String,
    },
}

/// What a finished copy holds, read back from the copy itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupSummary {
    /// Its size in bytes.
    pub bytes: u64,
    /// Model versions in its registry.
    pub models: i64,
    /// Registered prompts.
    pub prompts: i64,
    /// Training datasets.
    pub datasets: i64,
}

/// Writes a consistent copy of the SQLite database at `url` to `target`, a
/// path that must not exist yet (or be an empty file), and checks the copy.
/// The source is opened, never created or migrated.
pub async fn vacuum_into(url: &str, target: &Path) -> Result<BackupSummary, BackupError> {
    if super::Backend::of_url(url).ok() == Some(super::Backend::Postgres) {
        return Err(BackupError::NotSqlite {
            url: super::redact(url),
        });
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| sqlite(format!("reading the URL {url}"), source))?
        .create_if_missing(false)
        // The service may be mid-write: wait for it rather than fail.
        .busy_timeout(Duration::from_secs(30));
    if !options.get_filename().exists() {
        return Err(BackupError::Missing(
            options.get_filename().display().to_string(),
        ));
    }
    let mut source = options
        .connect()
        .await
        .map_err(|e| sqlite(format!("opening {url}"), e))?;
    let target_text = target.to_string_lossy().into_owned();
    // The target is a bound parameter: VACUUM INTO takes any expression.
    sqlx::query("VACUUM INTO $1")
        .bind(&target_text)
        .execute(&mut source)
        .await
        .map_err(|e| sqlite(format!("copying into {target_text}"), e))?;
    source.close().await.ok();
    check(target).await
}

/// Opens a copy and checks it: SQLite's integrity check, then what it holds.
async fn check(path: &Path) -> Result<BackupSummary, BackupError> {
    let shown = path.display().to_string();
    let mut copy = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| sqlite(format!("opening the copy {shown}"), e))?;
    let (report,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut copy)
        .await
        .map_err(|e| sqlite(format!("checking {shown}"), e))?;
    if report != "ok" {
        return Err(BackupError::Corrupt {
            path: shown,
            report,
        });
    }
    let mut count = async |sql: &'static str| -> Result<i64, BackupError> {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(&mut copy)
            .await
            .map_err(|e| sqlite(format!("reading {shown}"), e))?;
        Ok(n)
    };
    let models = count("SELECT COUNT(*) FROM models").await?;
    let prompts = count("SELECT COUNT(*) FROM prompts").await?;
    let datasets = count("SELECT COUNT(*) FROM datasets").await?;
    copy.close().await.ok();
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(BackupSummary {
        bytes,
        models,
        prompts,
        datasets,
    })
}

fn sqlite(what: String, source: sqlx::Error) -> BackupError {
    BackupError::Sqlite { what, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_copy_holds_what_the_database_holds_and_passes_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("live.db").display());
        let db = crate::store::open(&url, 2).await.unwrap();
        crate::store::prompts::insert_prompt(
            &db,
            "rivers",
            "Rivers",
            "What do rivers do?",
            "Rivers carry silt to the sea.",
        )
        .await
        .unwrap()
        .expect("a new prompt");
        let target = dir.path().join("copy.db");
        // The live pool stays open, as the service's would.
        let summary = vacuum_into(&url, &target).await.unwrap();
        assert_eq!(summary.prompts, 1);
        assert_eq!(summary.models, 0);
        assert!(summary.bytes > 0);
        assert!(!dir.path().join("copy.db-wal").exists());
        db.close().await;
    }

    #[tokio::test]
    async fn a_postgres_url_is_refused_with_a_pointer_to_pg_dump() {
        let err = vacuum_into("postgres://eg:pw-secret@db/eg", Path::new("x.db"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!err.contains("pw-secret"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_database_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("none.db");
        let url = format!("sqlite://{}", source.display());
        let err = vacuum_into(&url, &dir.path().join("copy.db"))
            .await
            .unwrap_err();
        assert!(matches!(err, BackupError::Missing(_)), "{err}");
        assert!(!source.exists());
    }
}
