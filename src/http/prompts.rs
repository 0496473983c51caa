//! Registered prompts: `POST /api/v1/prompts`, `GET /api/v1/prompts`,
//! `GET /api/v1/prompts/{id}`, and the in-memory cache of their prepared
//! form, so that grading against a registered prompt costs only the essay's
//! time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::AppState;
use super::auth::GradingAccess;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use crate::features::{PreparedPrompt, Prompt};
use crate::store::{self, prompts::PromptRecord};

/// A registered prompt with everything grading needs, computed once.
pub struct CachedPrompt {
    /// The stored prompt.
    pub record: PromptRecord,
    /// Its tokens, n-grams and TF-IDF vectors, shared with the requests
    /// grading against it.
    pub prepared: Arc<PreparedPrompt>,
}

impl std::fmt::Debug for CachedPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The prepared form is large and says nothing a reader needs.
        f.debug_struct("CachedPrompt")
            .field("id", &self.record.id)
            .finish_non_exhaustive()
    }
}

impl CachedPrompt {
    /// Prepares a stored prompt for grading (CPU work proportional to the
    /// prompt's length: call it off the async executor).
    pub fn new(record: PromptRecord) -> Self {
        let prepared = Arc::new(PreparedPrompt::new(&Prompt {
            title: record.title.clone(),
            question: record.question.clone(),
            text: record.text.clone(),
        }));
        Self { record, prepared }
    }
}

/// Prepared prompts by id. Filled at start-up from the database and on each
/// registration; a miss falls back to the database (another replica may have
/// registered the prompt), so the cache is only ever an accelerator.
#[derive(Debug, Clone, Default)]
pub struct PromptCache {
    /// Prompt id -> its prepared form. Entries are never removed: prompts
    /// cannot be deleted, and they are few.
    entries: Arc<RwLock<HashMap<String, Arc<CachedPrompt>>>>,
}

impl PromptCache {
    /// The cached prompt, without touching the database.
    pub fn cached(&self, id: &str) -> Option<Arc<CachedPrompt>> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Adds (or replaces) a prepared prompt.
    pub fn insert(&self, prompt: Arc<CachedPrompt>) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(prompt.record.id.clone(), prompt);
    }

    /// The prompt by id: from the cache, else from the database (then
    /// cached); `None` when no such prompt is registered.
    pub async fn get(
        &self,
        pool: &crate::store::Db,
        id: &str,
    ) -> Result<Option<Arc<CachedPrompt>>, ApiError> {
        if let Some(hit) = self.cached(id) {
            return Ok(Some(hit));
        }
        let Some(record) = store::prompts::get_prompt(pool, id).await? else {
            return Ok(None);
        };
        let prepared = Arc::new(prepare(record).await?);
        self.insert(prepared.clone());
        Ok(Some(prepared))
    }

    /// Loads and prepares every stored prompt (at start-up).
    pub async fn warm(&self, pool: &crate::store::Db) -> Result<usize, ApiError> {
        let records = store::prompts::all_prompts(pool).await?;
        let n = records.len();
        for record in records {
            self.insert(Arc::new(prepare(record).await?));
        }
        Ok(n)
    }

    /// How many prompts are cached.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no prompt is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Prepares a prompt off the async executor: the prompt text can run to
/// thousands of words.
async fn prepare(record: PromptRecord) -> Result<CachedPrompt, ApiError> {
    tokio::task::spawn_blocking(move || CachedPrompt::new(record))
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("preparing a prompt")))
}

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/prompts", get(list_prompts).post(create_prompt))
        .route("/api/v1/prompts/{id}", get(get_prompt))
}

/// Body of `POST /api/v1/prompts`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePrompt {
    /// The id to register it under: 1 to 64 letters, digits, `-` or `_`.
    /// A UUID is generated when absent.
    pub id: Option<String>,
    /// Short title of the source text (may be empty).
    #[serde(default)]
    pub title: String,
    /// The question the students answer (may be empty).
    #[serde(default)]
    pub question: String,
    /// The full source text the students read (required).
    pub text: String,
}

/// Checks a client-chosen id; returns the problem, if any.
pub fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() || id.len() > 64 {
        Some("must be 1 to 64 characters long")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Some("may contain only letters, digits, `-` and `_`")
    } else {
        None
    }
}

/// Registers a prompt, prepares it, and caches it.
#[utoipa::path(
    post,
    path = "/api/v1/prompts",
    tag = "prompts",
    security((), ("api_key" = [])),
    request_body = CreatePrompt,
    responses(
        (status = 201, description = "Registered", body = PromptRecord),
        (status = 409, description = "The id is taken", body = super::error::ErrorBody),
        (status = 422, description = "Invalid fields", body = super::error::ErrorBody),
    )
)]
pub async fn create_prompt(
    _access: GradingAccess,
    State(state): State<AppState>,
    Json(request): Json<CreatePrompt>,
) -> Result<(StatusCode, Json<PromptRecord>), ApiError> {
    let mut problems = std::collections::BTreeMap::new();
    if let Some(id) = &request.id
        && let Some(problem) = id_problem(id)
    {
        problems.insert("id".to_owned(), problem.to_owned());
    }
    if request.text.trim().is_empty() {
        problems.insert("text".to_owned(), "must not be empty".to_owned());
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let id = request.id.unwrap_or_else(store::new_id);
    let Some(record) = store::prompts::insert_prompt(
        &state.db,
        &id,
        &request.title,
        &request.question,
        &request.text,
    )
    .await?
    else {
        return Err(ApiError::Conflict {
            message: format!("a prompt with id {id:?} is already registered"),
        });
    };
    state
        .prompts
        .insert(Arc::new(prepare(record.clone()).await?));
    Ok((StatusCode::CREATED, Json(record)))
}

/// Paging of `GET /api/v1/prompts`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// At most this many prompts (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000, nullable = false)]
    pub limit: Option<i64>,
    /// Skip this many first (default 0).
    #[param(minimum = 0, nullable = false)]
    pub offset: Option<i64>,
}

/// Answer of `GET /api/v1/prompts`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PromptList {
    /// The prompts, in registration order.
    pub prompts: Vec<PromptRecord>,
}

/// Lists registered prompts, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/prompts",
    tag = "prompts",
    security((), ("api_key" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of prompts", body = PromptList),
        (status = 422, description = "Invalid paging", body = super::error::ErrorBody),
    )
)]
pub async fn list_prompts(
    _access: GradingAccess,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<PromptList>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    let offset = params.offset.unwrap_or(0);
    let mut problems = std::collections::BTreeMap::new();
    if !(1..=1000).contains(&limit) {
        problems.insert(
            "limit".to_owned(),
            format!("must be between 1 and 1000, got {limit}"),
        );
    }
    if offset < 0 {
        problems.insert(
            "offset".to_owned(),
            format!("must not be negative, got {offset}"),
        );
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let prompts = store::prompts::list_prompts(&state.db, limit, offset).await?;
    Ok(Json(PromptList { prompts }))
}

/// One registered prompt.
#[utoipa::path(
    get,
    path = "/api/v1/prompts/{id}",
    tag = "prompts",
    security((), ("api_key" = [])),
    params(("id" = String, Path, description = "The prompt id")),
    responses(
        (status = 200, description = "The prompt", body = PromptRecord),
        (status = 404, description = "No such prompt", body = super::error::ErrorBody),
    )
)]
pub async fn get_prompt(
    _access: GradingAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PromptRecord>, ApiError> {
    match state.prompts.get(&state.db, &id).await? {
        Some(prompt) => Ok(Json(prompt.record.clone())),
        None => Err(ApiError::NotFound { what: "prompt", id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_ids_are_short_and_url_safe() {
        assert_eq!(id_problem("39c16e"), None);
        assert_eq!(id_problem("a_b-C"), None);
        assert!(id_problem("").is_some());
        assert!(id_problem("has space").is_some());
        assert!(id_problem("../x").is_some());
        assert!(id_problem(&"x".repeat(65)).is_some());
    }
}
