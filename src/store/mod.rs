//! The database: opening the pool (SQLite with WAL, foreign keys and a busy
//! timeout, or PostgreSQL, chosen by the URL's scheme), running the embedded
//! migrations of that engine, and one file per table with one function per
//! query. All SQL of the crate lives under this folder; callers see plain
//! Rust types. It knows nothing of training, grading or HTTP.
//!
//! Queries are runtime-checked (`sqlx::query_as` with bound parameters, never
//! string-built SQL) and tested against a temporary database with the
//! migrations applied. Writes that touch more than one row or table run in one
//! transaction.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Executor};

pub mod admin;
pub mod backup;
pub mod calibrations;
pub mod datasets;
pub mod example_model_scores;
pub mod examples;
pub mod jobs;
pub mod models;
pub mod prompts;
pub mod runs;
pub mod writability;

/// The database handle every store function takes: a pool of sqlx's `Any`
/// driver, which speaks SQLite or PostgreSQL depending on the URL it was
/// opened with. Queries are written once, with `$1, $2, …` placeholders
/// (both drivers read them), where the two dialects agree; where they differ
/// a function picks its SQL by [`backend`].
pub type Db = sqlx::AnyPool;

/// One connection (or transaction, through deref) of a [`Db`].
pub type DbConnection = sqlx::AnyConnection;

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file, one writer at a time.
    Sqlite,
    /// A server that several replicas share.
    Postgres,
}

impl Backend {
    /// Reads the engine from a database URL, or says why it is not one we
    /// serve. Only the scheme decides: a `postgres://` URL never becomes a
    /// SQLite file.
    pub fn of_url(url: &str) -> Result<Self, OpenError> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme);
        match scheme {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => Err(OpenError::UnknownScheme { url: redact(url) }),
        }
    }

    /// The embedded migrations of this engine.
    pub fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATOR,
            Self::Postgres => &POSTGRES_MIGRATOR,
        }
    }
}

/// The engine behind an open [`Db`].
pub fn backend(db: &Db) -> Backend {
    match db.connect_options().database_url.scheme() {
        "postgres" | "postgresql" => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// The SQLite migrations (migrations/sqlite/), compiled into the binary so
/// that a fresh install needs no files beside it.
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The PostgreSQL migrations (migrations/postgres/): the same tables with
/// the same meaning, in PostgreSQL's types.
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Errors while opening or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no engine we serve.
    #[error(
        "unsupported database URL {url:?}: it must start with sqlite:// (a file, created if \
         missing) or postgres:// (a PostgreSQL server)"
    )]
    UnknownScheme { url: String },
    /// The URL is not a valid URL of its engine.
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

/// Opens the database at `url` (SQLite: creating the file and its folder if
/// needed) and applies its engine's migrations.
///
/// SQLite: WAL lets readers (grading, listing) proceed while a job writes
/// progress; `synchronous = NORMAL` is the setting SQLite recommends with WAL
/// (durable across application crashes, may lose the last commit on power
/// loss); the busy timeout turns momentary writer contention (another
/// connection, or another process on the same file) into a short wait
/// instead of an error; foreign keys are off by default in SQLite and must be
/// asked for. The file is created and put in WAL mode (which persists) with
/// the native driver; every pooled connection sets the per-connection
/// pragmas as it opens.
pub async fn open(url: &str, max_connections: u32) -> Result<Db, OpenError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url)?;
    let shown = redact(url);
    if backend == Backend::Sqlite {
        prepare_sqlite_file(url).await?;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        // How long start-up retries an unreachable server, and how long a
        // request waits for a free connection before it fails.
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                         PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|source| OpenError::Connect {
            url: shown.clone(),
            source,
        })?;
    backend
        .migrator()
        .run(&pool)
        .await
        .map_err(|source| OpenError::Migrate { url: shown, source })?;
    Ok(pool)
}

/// Creates the SQLite file (and its folder) if missing and switches it to WAL.
async fn prepare_sqlite_file(url: &str) -> Result<(), OpenError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| OpenError::BadUrl {
            url: url.to_owned(),
            source,
        })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
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
    let conn = options
        .connect()
        .await
        .map_err(|source| OpenError::Connect {
            url: url.to_owned(),
            source,
        })?;
    conn.close().await.map_err(|source| OpenError::Connect {
        url: url.to_owned(),
        source,
    })
}

/// A database URL fit for logs and error messages: without its password.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// What [`serialize_numbering`] serialises: each kind of number handed out
/// as `MAX(…) + 1` inside a transaction has its own lock.
#[derive(Debug, Clone, Copy)]
pub enum Numbering {
    /// `models.version`.
    ModelVersions = 1,
    /// `model_activations.seq`.
    Activations = 2,
    /// The count of queued jobs checked against the queue's cap.
    QueuedJobs = 3,
}

/// Makes the rest of the caller's transaction the only one handing out this
/// kind of number, until it ends. SQLite needs nothing: the numbering
/// statement is a write and SQLite runs one writer at a time. PostgreSQL runs
/// writers concurrently, so two replicas computing `MAX(version) + 1` at once
/// would take the same number and one would fail on the UNIQUE key; a
/// transaction-scoped advisory lock makes the second wait for the first to
/// commit (its next statement then sees the new row).
pub async fn serialize_numbering(
    conn: &mut DbConnection,
    numbering: Numbering,
) -> Result<(), sqlx::Error> {
    if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(NUMBERING_LOCK_SPACE)
            .bind(numbering as i32)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The first key of the crate's advisory locks ("EG" in ASCII), so they do
/// not collide with another application's on a shared server.
const NUMBERING_LOCK_SPACE: i32 = 0x4547;

/// Begins a transaction that writes and must not interleave with another
/// writer's read-then-write: on SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so two processes on one file queue up instead of
/// failing to upgrade a read lock; on PostgreSQL a plain transaction, whose
/// callers lock the rows they read with `FOR UPDATE`.
pub async fn begin_write(db: &Db) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match backend(db) {
        Backend::Sqlite => db.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => db.begin().await,
    }
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

    use super::Db;

    /// Opens a new database; keep the returned folder alive while using the pool.
    pub async fn fresh() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let pool = super::open(&url, 4).await.expect("open test database");
        (pool, dir)
    }

    /// A fresh database with prompt `p` registered and a first model version,
    /// for the tables that hang off both (examples' scores, calibrations).
    pub async fn with_prompt_and_model() -> (Db, tempfile::TempDir, super::models::ModelRecord) {
        let (pool, dir) = fresh().await;
        super::prompts::insert_prompt(&pool, "p", "T", "Q", "Text")
            .await
            .expect("insert prompt");
        let new = super::models::NewModel {
            artifact: b"{}",
            metrics: serde_json::json!({}),
            run_id: None,
            dataset_id: None,
            source: "default",
        };
        let model = super::models::register_first_model(&pool, &new)
            .await
            .expect("register model")
            .expect("the database had no model");
        (pool, dir, model)
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
    fn the_url_scheme_alone_picks_the_engine() {
        assert_eq!(
            Backend::of_url("sqlite://data/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgres://u:p@db:5432/eg").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of_url("postgresql://db/eg").unwrap(),
            Backend::Postgres
        );
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_with_the_schemes_we_serve_and_no_password() {
        for url in [
            "mysql://u:secret@db/eg",
            "postgress://u:secret@db/eg",
            "data/x.db",
            "",
        ] {
            let err = open(url, 1).await.unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, OpenError::UnknownScheme { .. }),
                "{url}: {err}"
            );
            assert!(message.contains("sqlite://") && message.contains("postgres://"));
            assert!(!message.contains("secret"), "{message}");
        }
    }

    #[tokio::test]
    async fn a_postgres_url_never_becomes_a_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eg.db");
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let url = format!("postgres://u:secret@127.0.0.1:1/{}", path.display());

        let err = open(&url, 1).await.unwrap_err();

        assert!(matches!(err, OpenError::Connect { .. }), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn stored_times_sort_as_strings() {
        let a = format_time(time::macros::datetime!(2026-01-02 03:04:05.006 UTC));
        assert_eq!(a, "2026-01-02T03:04:05.006Z");
        let b = format_time(time::macros::datetime!(2026-01-02 13:04:05 UTC));
        assert!(a < b);
    }
}
