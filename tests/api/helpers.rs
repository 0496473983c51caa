//! Test harness for the API tests: `spawn_app()` starts the real service (the
//! same `Application` as `main`) on 127.0.0.1:0 with a fresh database, and
//! `TestApp` offers small request helpers.
//!
//! The suite is written once and compiled twice: `tests/api/main.rs` sets
//! `crate::BACKEND` to SQLite (a fresh file in a temporary folder per test),
//! `tests/api_postgres/main.rs` to PostgreSQL (a fresh database per test on
//! the server `ESSAY_GRADER_TEST_POSTGRES` names; `.ci/run` starts one).
//!
//! Set `TEST_LOG=1` to see the service's logs while a test runs.

use std::sync::{Arc, Once};

use essay_grader::config::{Secret, Settings};
use essay_grader::startup::{Application, ShutdownHandle};
use serde_json::Value;
use tokio::task::JoinHandle;

/// Which database engine a test binary runs the suite on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // each binary uses one variant
pub enum Backend {
    /// A fresh SQLite file per test.
    Sqlite,
    /// A fresh database per test on the server of `ESSAY_GRADER_TEST_POSTGRES`.
    Postgres,
}

/// The variable naming the PostgreSQL server the Postgres run uses, as a URL
/// whose user may create databases.
pub const POSTGRES_URL_VAR: &str = "ESSAY_GRADER_TEST_POSTGRES";

/// A URL for a new, empty database of `crate::BACKEND`: a file in `dir`, or a
/// database created on the test server for this test alone.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match crate::BACKEND {
        Backend::Sqlite => format!("sqlite://{}", dir.join("essay-grader.db").display()),
        Backend::Postgres => fresh_postgres_database().await,
    }
}

async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let server = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_VAR} is not set: point it at a PostgreSQL server \
             (postgres://user@host:port/db, a user that may CREATE DATABASE), or run .ci/run, \
             which starts a throwaway one"
        )
    });
    let name = format!("eg_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::postgres::PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_URL_VAR}: {e}"));
    // The name is ours (a UUID), never input: it cannot be bound as a parameter.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    admin.close().await.ok();
    let mut url = url::Url::parse(&server).expect("the server URL parses");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The admin token every test app is started with.
pub const ADMIN_TOKEN: &str = "test-admin-token";

static TRACING: Once = Once::new();

fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info,sqlx=warn")
                .with_test_writer()
                .try_init();
        }
    });
}

/// A running service and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// A client without cookies (each test adds what it needs).
    pub client: reqwest::Client,
    /// The settings it was started with (reuse them to restart on the same file).
    pub settings: Settings,
    /// The pool of the running app, to arrange or inspect rows directly.
    pub db: essay_grader::store::Db,
    /// The app's shared state (model handle, prompt cache, ...).
    pub state: essay_grader::http::AppState,
    /// The folder holding the database file (SQLite) or other files of the
    /// test; deleted when the last clone drops.
    pub dir: Arc<tempfile::TempDir>,
    shutdown: ShutdownHandle,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts a service with default settings, a fresh database and the admin
/// token [`ADMIN_TOKEN`].
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], letting the test change settings first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("create a temp dir"));
    let mut settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: fresh_database_url(dir.path()).await.into(),
        admin_token: Some(Secret::new(ADMIN_TOKEN)),
        ..Settings::default()
    };
    configure(&mut settings);
    start(settings, dir).await
}

/// Starts a service with exactly these settings, keeping `dir` alive.
pub async fn start(settings: Settings, dir: Arc<tempfile::TempDir>) -> TestApp {
    init_tracing();
    let app = Application::build(settings.clone())
        .await
        .expect("build the app");
    let port = app.port();
    let db = app.state().db.clone();
    let state = app.state().clone();
    let shutdown = app.shutdown_handle();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        settings,
        db,
        state,
        dir,
        shutdown,
        server: Some(server),
    }
}

impl TestApp {
    /// Stops the service gracefully and waits until it has stopped.
    pub async fn stop(&mut self) {
        self.shutdown.trigger();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// Stops this service and starts a new one on the same database file
    /// (with a new port).
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let mut settings = self.settings.clone();
        settings.addr = "127.0.0.1:0".parse().unwrap();
        start(settings, self.dir.clone()).await
    }

    /// `address + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// GET without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GET with the admin token.
    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("GET")
    }

    /// POST a JSON body without credentials.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// POST a JSON body with the admin token.
    pub async fn admin_post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// POST raw bytes declared as JSON (for malformed bodies).
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST")
    }
}

impl TestApp {
    /// POST raw bytes declared as JSON, with the admin token.
    pub async fn admin_post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop serving when a test ends without calling stop().
        self.shutdown.trigger();
    }
}

/// Reads a response as JSON, failing with the body text when it is not JSON.
pub async fn json_body(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("read body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts the error shape and code of a response, returning its body.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let body = json_body(response).await;
    assert_eq!(body["error"]["code"], code, "error code in {body}");
    assert!(body["error"]["message"].is_string(), "message in {body}");
    assert!(body["error"]["fields"].is_object(), "fields in {body}");
    body
}

/// Makes the service's database refuse writes, or take them again, without
/// touching file permissions (CI runs as root, which they do not stop): the
/// app runs with one pooled connection, and that session is switched to
/// read-only (`PRAGMA query_only` on SQLite, `default_transaction_read_only`
/// on PostgreSQL). Writes then fail as on a read-only file or a read-only
/// server: SQLITE_READONLY, SQLSTATE 25006.
pub async fn refuse_writes(app: &TestApp, refuse: bool) {
    let sql = match (crate::BACKEND, refuse) {
        (Backend::Sqlite, true) => "PRAGMA query_only = ON",
        (Backend::Sqlite, false) => "PRAGMA query_only = OFF",
        (Backend::Postgres, true) => "SET default_transaction_read_only = on",
        (Backend::Postgres, false) => "SET default_transaction_read_only = off",
    };
    sqlx::query(sql).execute(&app.db).await.unwrap();
}
