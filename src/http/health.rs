//! Liveness and readiness: `GET /health` (the process answers) and
//! `GET /ready` (the database answers and a model is loaded; degraded when
//! the active model version did not load or the database refuses writes),
//! for load balancers and orchestrators.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::AppState;
use super::error::ApiError;
use super::extract::Json;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// Answer of `/health` and `/ready`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Status {
    /// `"ok"` (`/health`); on `/ready`, `"ready"`, or `"degraded"` when the
    /// service grades but something is wrong (see `problems`).
    pub status: String,
    /// The version grading now, on `/ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<i64>,
    /// On `/ready`: `"writable"`, or why the database refuses writes
    /// (`"read_only"`, `"full"`, `"io"`), by the last write probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// On `/ready`: what is wrong while the service still grades, one
    /// sentence each (the active model does not load, the database refuses
    /// writes). Empty when ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Alive", body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status {
        status: "ok".to_owned(),
        model_version: None,
        database: None,
        problems: Vec::new(),
    })
}

/// Whether grading will work: the database answers and a model is loaded
/// (503 otherwise, saying why). A service that grades but has a problem (the
/// active model version does not load and an earlier one grades; the
/// database refuses writes, so admin changes answer 503) answers 200
/// `"degraded"` with the problems listed: it still takes grading traffic,
/// which a 503 would send elsewhere.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready to grade (perhaps degraded: see `problems`)", body = Status),
        (status = 503, description = "Not ready, and why", body = super::error::ErrorBody),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    if let Err(err) = sqlx::query("SELECT 1").execute(&state.db).await {
        tracing::warn!(error = %err, "readiness: database unreachable");
        return Err(ApiError::Unavailable {
            message: "the database is not reachable".to_owned(),
        });
    }
    let refused = state.db_writes.refused();
    let database_problem = refused.as_ref().map(|(kind, since)| {
        format!(
            "the database refuses writes since {since} (it is {}): changes answer 503 until it \
             takes writes again",
            kind.describe()
        )
    });
    let Some(model) = state.model.current() else {
        let mut message = state.model.why_unavailable();
        if let Some(problem) = &database_problem {
            message = format!("{message}; {problem}");
        }
        return Err(ApiError::Unavailable { message });
    };
    let problems: Vec<String> = state
        .model
        .trouble()
        .map(|trouble| trouble.describe(Some(model.version)))
        .into_iter()
        .chain(database_problem)
        .collect();
    let database = match &refused {
        Some((kind, _)) => serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        None => "writable".to_owned(),
    };
    Ok(Json(Status {
        status: if problems.is_empty() {
            "ready"
        } else {
            "degraded"
        }
        .to_owned(),
        model_version: Some(model.version),
        database: Some(database),
        problems,
    }))
}
