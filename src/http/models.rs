//! The model registry over HTTP: list, show, download and activate model
//! versions, and the activation history. All routes need admin credentials.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::AppState;
use super::active_model::ActiveModel;
use super::auth::AdminAuth;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::paging::{Page, PageQuery};
use crate::store::{
    self,
    models::{ActivationRecord, ModelRecord},
};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/models", get(list_models))
        .route("/api/v1/models/activations", get(list_activations))
        .route("/api/v1/models/{id}", get(get_model))
        .route("/api/v1/models/{id}/artifact", get(download_artifact))
        .route("/api/v1/models/{id}/activate", post(activate_model))
}

/// Answer of `GET /api/v1/models`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ModelList {
    /// Every model version, newest first.
    pub models: Vec<ModelRecord>,
}

/// Every model version, newest first, with which one is active.
#[utoipa::path(
    get,
    path = "/api/v1/models",
    tag = "models",
    security(("admin" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of the registry", body = ModelList),
        (status = 401, description = "No admin credentials", body = super::error::ErrorBody),
        (status = 422, description = "`limit` or `offset` out of range", body = super::error::ErrorBody),
        (status = 429, description = "Over the rate limit, or too many failed credentials; see Retry-After", body = super::error::ErrorBody),
    )
)]
pub async fn list_models(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<ModelList>, ApiError> {
    let page = Page::from_query(query)?;
    Ok(Json(ModelList {
        models: store::models::list_models(&state.db, page.limit, page.offset).await?,
    }))
}

/// One model version.
#[utoipa::path(
    get,
    path = "/api/v1/models/{id}",
    tag = "models",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The model id")),
    responses(
        (status = 200, description = "The model", body = ModelRecord),
        (status = 404, description = "No such model", body = super::error::ErrorBody),
    )
)]
pub async fn get_model(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ModelRecord>, ApiError> {
    store::models::get_model(&state.db, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound { what: "model", id })
}

/// The model's artifact, exactly as stored (JSON), as a download.
#[utoipa::path(
    get,
    path = "/api/v1/models/{id}/artifact",
    tag = "models",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The model id")),
    responses(
        (status = 200, description = "The artifact", content_type = "application/json"),
        (status = 404, description = "No such model", body = super::error::ErrorBody),
    )
)]
pub async fn download_artifact(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(record) = store::models::get_model(&state.db, &id).await? else {
        return Err(ApiError::NotFound { what: "model", id });
    };
    let artifact = store::models::model_artifact(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound { what: "model", id })?;
    let disposition = format!(
        "attachment; filename=\"essay-grader-model-v{}.json\"",
        record.version
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        artifact,
    )
        .into_response())
}

/// Answer of `POST /api/v1/models/{id}/activate`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Activation {
    /// The model now active.
    pub model: ModelRecord,
    /// The history entry this activation added (it names the model replaced).
    pub activation: ActivationRecord,
}

/// Makes a model version the one that grades, without dropping a request.
///
/// The artifact is loaded and checked before anything changes, so a broken
/// artifact is refused (422) and the current model stays. Then every prompt's
/// calibration is refitted for it from the stored examples, the activation is
/// recorded and the in-memory model (with its calibrations) swapped; requests already grading
/// finish on the old model. Activating the previous model is a rollback.
#[utoipa::path(
    post,
    path = "/api/v1/models/{id}/activate",
    tag = "models",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The model id")),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 200, description = "Activated", body = Activation),
        (status = 404, description = "No such model", body = super::error::ErrorBody),
        (status = 422, description = "The stored artifact cannot be loaded", body = super::error::ErrorBody),
    )
)]
pub async fn activate_model(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Activation>, ApiError> {
    // One activation at a time, so the database's order of activations and
    // the order of in-memory swaps cannot disagree.
    let _serial = state.activation_lock.lock().await;
    let Some(record) = store::models::get_model(&state.db, &id).await? else {
        return Err(ApiError::NotFound { what: "model", id });
    };
    let artifact = store::models::model_artifact(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "model",
            id: id.clone(),
        })?;
    let loaded = std::sync::Arc::new(load_off_executor(record, artifact).await?);
    // Every prompt's calibration is refitted for the new model before it
    // serves; grading goes on with the old model and its calibrations
    // meanwhile. Examples written during the refit wait for it (the lock).
    let _calibrating = state.calibration_lock.lock().await;
    super::calibrations::load_all(&state.db, &state.prompts, &loaded).await?;
    let activation = store::models::activate_model(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "model",
            id: id.clone(),
        })?;
    state.model.swap(loaded);
    tracing::info!(model_id = %id, previous = ?activation.previous_model_id, "model activated");
    let model = store::models::get_model(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound { what: "model", id })?;
    Ok(Json(Activation { model, activation }))
}

/// Parses an artifact on a blocking thread (artifacts can be megabytes of JSON).
pub async fn load_off_executor(
    record: ModelRecord,
    artifact: Vec<u8>,
) -> Result<ActiveModel, ApiError> {
    let id = record.id.clone();
    tokio::task::spawn_blocking(move || ActiveModel::load(&record, &artifact))
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("loading a model")))?
        .map_err(|e| ApiError::field("artifact", format!("model {id} cannot be loaded: {e}")))
}

/// Answer of `GET /api/v1/models/activations`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ActivationList {
    /// Every activation, newest first.
    pub activations: Vec<ActivationRecord>,
}

/// The activation history: which model replaced which, and when.
#[utoipa::path(
    get,
    path = "/api/v1/models/activations",
    tag = "models",
    security(("admin" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of the history, newest first", body = ActivationList),
        (status = 422, description = "`limit` or `offset` out of range", body = super::error::ErrorBody),
        (status = 429, description = "Over the rate limit, or too many failed credentials; see Retry-After", body = super::error::ErrorBody),
    )
)]
pub async fn list_activations(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<ActivationList>, ApiError> {
    let page = Page::from_query(query)?;
    Ok(Json(ActivationList {
        activations: store::models::activation_history(&state.db, page.limit, page.offset).await?,
    }))
}
