//! Liveness and readiness: `GET /health` (the process answers) and
//! `GET /ready` (the database answers and a model is loaded), for load
//! balancers and orchestrators.

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
    /// `"ok"` or `"ready"`.
    pub status: String,
    /// The active model's version, on `/ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<i64>,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Alive", body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status {
        status: "ok".to_owned(),
        model_version: None,
    })
}

/// The database answers and a model is loaded, so grading will work.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready to grade", body = Status),
        (status = 503, description = "Not ready, and why", body = super::error::ErrorBody),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    if let Err(err) = sqlx::query("SELECT 1").execute(&state.db).await {
        tracing::warn!(error = %err, "readiness: database unreachable");
        return Err(ApiError::Unavailable {
            message: "the database is not reachable".to_owned(),
        });
    }
    let Some(model) = state.model.current() else {
        return Err(ApiError::Unavailable {
            message: "no model is loaded yet".to_owned(),
        });
    };
    Ok(Json(Status {
        status: "ready".to_owned(),
        model_version: Some(model.version),
    }))
}
