//! A teacher's graded examples per prompt, over HTTP, and what is built from
//! them:
//!
//! - `POST /api/v1/prompts/{id}/examples`: add (or re-grade) up to 1,000
//!   examples; the prompt's calibration is refitted before the answer.
//! - `GET /api/v1/prompts/{id}/examples`: list them, newest first, paged.
//! - `DELETE /api/v1/prompts/{id}/examples[/{example_id}]`: remove one or all.
//! - `GET /api/v1/prompts/{id}/examples.csv`: the examples in the CSV layout
//!   dataset upload reads.
//! - `GET /api/v1/prompts/{id}/calibration`: the fitted calibration and its
//!   leave-one-out estimate.
//! - `POST /api/v1/datasets/from-examples` (admin): a training dataset from
//!   prompts' examples, optionally merged with uploaded datasets.
//!
//! Writing examples and reading the essays in them need a credential
//! ([`CredentialedAccess`]): they change everyone's grades for the prompt, and
//! they hold students' writing. The calibration itself is as open as grading.
//!
//! Each example's scores are checked against the active model: a finite score
//! for every one of its targets, inside [`GraderModel::calibration_scales`]'s
//! range (the score grid, or the training range widened by one training SD
//! on each side). Every bad item is named (`examples[3].scores.content`) and
//! nothing is stored when any is bad.
//!
//! [`GraderModel::calibration_scales`]: crate::grader::GraderModel::calibration_scales

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AppState;
use super::active_model::ActiveModel;
use super::auth::{AdminAuth, CredentialedAccess, GradingAccess};
use super::calibrations::{PromptCalibration, refit_prompt};
use super::datasets::{DatasetView, dataset_rows, remarks, view};
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query, from_value};
use super::grading::ModelRef;
use crate::calibration::{Estimate, TargetCalibration, ValidPrior};
use crate::features::Prompt;
use crate::grader::ByTarget;
use crate::store::{self, examples::ExampleRow};
use crate::training::{Dataset, DatasetLayout, EssayRecord, ScoreGrid};

/// Most examples in one request.
pub const MAX_EXAMPLES_PER_REQUEST: usize = 1000;

/// Problems named in one 422 at most; the rest are counted.
const MAX_PROBLEMS: usize = 100;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/prompts/{id}/examples",
            get(list_examples)
                .post(add_examples)
                .delete(delete_all_examples),
        )
        .route(
            "/api/v1/prompts/{id}/examples/{example_id}",
            delete(delete_example),
        )
        .route(
            "/api/v1/prompts/{id}/examples.csv",
            get(download_examples_csv),
        )
        .route("/api/v1/prompts/{id}/calibration", get(get_calibration))
        .route(
            "/api/v1/datasets/from-examples",
            post(create_dataset_from_examples),
        )
}

/// The OpenAPI entries of this module, merged into the service's document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        add_examples,
        list_examples,
        delete_example,
        delete_all_examples,
        download_examples_csv,
        get_calibration,
        create_dataset_from_examples
    ),
    tags((name = "examples", description = "A teacher's graded examples and the calibration fitted from them"))
)]
pub struct ExamplesApi;

/// One graded example as posted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExampleInput {
    /// The essay (must contain something besides white space). Posting the
    /// same essay again for the prompt replaces its scores.
    pub essay: String,
    /// The teacher's score for every target of the active model.
    pub scores: BTreeMap<String, f64>,
}

/// Body of `POST /api/v1/prompts/{id}/examples`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddExamples {
    /// 1 to 1,000 examples. Each is checked on its own, and every bad one is
    /// named in the 422.
    #[schema(value_type = Vec<ExampleInput>)]
    pub examples: Vec<serde_json::Value>,
}

/// A prompt's calibration, as `GET …/calibration` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalibrationView {
    /// The prompt.
    pub prompt_id: String,
    /// How many examples the prompt has.
    pub examples: usize,
    /// The model the calibration is fitted for (the active one).
    pub model: ModelRef,
    /// Per target, the fitted parameters: `calibrated = raw + offset +
    /// (slope − 1)·(raw − pivot)`, clamped to `low..high`.
    #[schema(value_type = BTreeMap<String, TargetCalibration>)]
    pub targets: ByTarget<TargetCalibration>,
    /// Leave-one-out over the examples: the MCRMSE of the raw and of the
    /// calibrated scores against the teacher's; `null` without examples.
    pub estimate: Option<Estimate>,
    /// When it was fitted; `null` without examples.
    pub fitted_at: Option<String>,
}

impl CalibrationView {
    fn new(prompt_id: &str, model: &ActiveModel, fitted: Option<&PromptCalibration>) -> Self {
        let names = model.grader.target_names();
        let targets = match fitted {
            Some(f) => names
                .iter()
                .cloned()
                .zip(f.calibration.targets.iter().copied())
                .collect(),
            None => {
                let prior = ValidPrior::default();
                names
                    .iter()
                    .cloned()
                    .zip(model.grader.calibration_scales())
                    .map(|(name, scale)| (name, TargetCalibration::identity(&scale, &prior)))
                    .collect()
            }
        };
        CalibrationView {
            prompt_id: prompt_id.to_owned(),
            examples: fitted.map_or(0, |f| f.examples),
            model: ModelRef {
                id: model.id.clone(),
                version: model.version,
            },
            targets: ByTarget(targets),
            estimate: fitted.and_then(|f| f.estimate),
            fitted_at: fitted.map(|f| f.fitted_at.clone()),
        }
    }
}

/// Answer of `POST /api/v1/prompts/{id}/examples`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExamplesAdded {
    /// Examples that are new.
    pub added: usize,
    /// Examples whose essay was already there: their scores were replaced.
    pub replaced: usize,
    /// The calibration refitted with them.
    pub calibration: CalibrationView,
}

/// Answer of the two deletes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExamplesDeleted {
    /// How many examples were removed.
    pub deleted: u64,
    /// The calibration refitted without them.
    pub calibration: CalibrationView,
}

/// An example as listed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExampleView {
    /// Its id (for `DELETE …/examples/{example_id}`).
    pub id: String,
    /// The essay.
    pub essay: String,
    /// The teacher's scores by target.
    pub scores: BTreeMap<String, f64>,
    /// When these scores were given (RFC 3339 UTC).
    pub created_at: String,
}

impl From<ExampleRow> for ExampleView {
    fn from(row: ExampleRow) -> Self {
        ExampleView {
            id: row.id,
            essay: row.essay,
            // Written only from checked numbers; a hand-edited row shows empty.
            scores: serde_json::from_str(&row.scores).unwrap_or_default(),
            created_at: row.created_at,
        }
    }
}

/// Answer of `GET /api/v1/prompts/{id}/examples`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExampleList {
    /// A page of examples, newest first.
    pub examples: Vec<ExampleView>,
    /// How many the prompt has in all.
    pub total: i64,
}

/// Paging of `GET /api/v1/prompts/{id}/examples`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExamplePage {
    /// At most this many examples (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000, nullable = false)]
    pub limit: Option<i64>,
    /// Skip this many first (default 0).
    #[param(minimum = 0, nullable = false)]
    pub offset: Option<i64>,
}

/// The active model, or 503.
fn current_model(state: &AppState) -> Result<Arc<ActiveModel>, ApiError> {
    state.model.current().ok_or_else(|| ApiError::Unavailable {
        message: "no model is loaded yet; examples are checked against the active model's targets"
            .to_owned(),
    })
}

/// 404 unless the prompt is registered.
async fn require_prompt(state: &AppState, id: &str) -> Result<(), ApiError> {
    // Checking that it exists does not prepare it (CPU work, and a grading slot).
    if state.prompts.cached(id).is_some() {
        return Ok(());
    }
    match crate::store::prompts::get_prompt(&state.db, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound {
            what: "prompt",
            id: id.to_owned(),
        }),
    }
}

/// SHA-256 (hex) of the essay without its surrounding white space: what "the
/// same essay" means (a pasted essay often gains a trailing newline).
fn essay_digest(essay: &str) -> String {
    hex::encode(Sha256::digest(essay.trim().as_bytes()))
}

/// Checks every posted item against the model; the stored rows, or a 422
/// naming each bad field.
fn check_examples(
    items: Vec<serde_json::Value>,
    model: &ActiveModel,
) -> Result<Vec<store::examples::NewExample>, ApiError> {
    let n = items.len();
    if n == 0 {
        return Err(ApiError::field(
            "examples",
            "must contain at least one example",
        ));
    }
    if n > MAX_EXAMPLES_PER_REQUEST {
        return Err(ApiError::field(
            "examples",
            format!("holds {n} examples; one request takes at most {MAX_EXAMPLES_PER_REQUEST}"),
        ));
    }
    let names = model.grader.target_names();
    let scales = model.grader.calibration_scales();
    let range_rule = if model.grader.score_grid().is_some() {
        "the model's score grid"
    } else {
        "the model's training scores, widened by one training SD on each side"
    };
    let mut problems = BTreeMap::new();
    let mut rows = Vec::with_capacity(n);
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("examples[{i}]");
        let input: ExampleInput = match from_value(item, &at) {
            Ok(input) => input,
            Err(ApiError::Validation { fields, .. }) => {
                problems.extend(fields);
                continue;
            }
            Err(other) => return Err(other),
        };
        if input.essay.trim().is_empty() {
            problems.insert(
                format!("{at}.essay"),
                "must not be empty or only white space".to_owned(),
            );
        }
        for (name, scale) in names.iter().zip(&scales) {
            match input.scores.get(name) {
                None => {
                    problems.insert(
                        format!("{at}.scores.{name}"),
                        format!(
                            "missing: every target of the active model ({}) needs a score",
                            names.join(", ")
                        ),
                    );
                }
                Some(&v) if !(scale.low..=scale.high).contains(&v) => {
                    problems.insert(
                        format!("{at}.scores.{name}"),
                        format!(
                            "{v} is outside {} to {}, the range of {range_rule}",
                            round3(scale.low),
                            round3(scale.high)
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        for key in input.scores.keys().filter(|k| !names.contains(k)) {
            problems.insert(
                format!("{at}.scores.{key}"),
                format!(
                    "not a target of the active model (its targets: {})",
                    names.join(", ")
                ),
            );
        }
        rows.push(store::examples::NewExample {
            essay_sha256: essay_digest(&input.essay),
            scores: serde_json::to_string(&input.scores).expect("finite numbers serialise"),
            essay: input.essay,
        });
    }
    if problems.is_empty() {
        return Ok(rows);
    }
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems = problems.into_iter().take(MAX_PROBLEMS).collect();
        problems.insert(
            "examples".to_owned(),
            format!("{more} more problem(s) not listed; nothing was stored"),
        );
    }
    Err(ApiError::fields(problems))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Adds examples to a prompt (or replaces the scores of essays it already
/// has) and refits its calibration.
#[utoipa::path(
    post,
    path = "/api/v1/prompts/{id}/examples",
    tag = "examples",
    request_body = AddExamples,
    params(("id" = String, Path, description = "The prompt id")),
    security(("api_key" = []), ("admin" = [])),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 201, description = "Stored; the refitted calibration", body = ExamplesAdded),
        (status = 401, description = "No API key or admin credentials", body = ErrorBody),
        (status = 404, description = "No such prompt", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 422, description = "Bad items, each named (`examples[i].scores.content`); nothing stored", body = ErrorBody),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub async fn add_examples(
    _access: CredentialedAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(request): Json<AddExamples>,
) -> Result<(StatusCode, Json<ExamplesAdded>), ApiError> {
    require_prompt(&state, &id).await?;
    // Held from the check to the refit: an activation cannot slip in between,
    // so the examples are checked against the model they are fitted for.
    let _calibrating = state.calibration_lock.lock().await;
    let model = current_model(&state)?;
    let rows = check_examples(request.examples, &model)?;
    let done = store::examples::upsert_examples(&state.db, &id, &rows, &store::now()).await?;
    let fitted = refit_prompt(&state.db, &state.prompts, &model, &id).await?;
    tracing::info!(prompt_id = %id, added = done.added, replaced = done.replaced, "examples stored");
    Ok((
        StatusCode::CREATED,
        Json(ExamplesAdded {
            added: done.added,
            replaced: done.replaced,
            calibration: CalibrationView::new(&id, &model, fitted.as_deref()),
        }),
    ))
}

/// Lists a prompt's examples, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/prompts/{id}/examples",
    tag = "examples",
    params(("id" = String, Path, description = "The prompt id"), ExamplePage),
    security(("api_key" = []), ("admin" = [])),
    responses(
        (status = 200, description = "A page of examples", body = ExampleList),
        (status = 401, description = "No API key or admin credentials", body = ErrorBody),
        (status = 404, description = "No such prompt", body = ErrorBody),
        (status = 422, description = "Invalid paging", body = ErrorBody),
    )
)]
pub async fn list_examples(
    _access: CredentialedAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<ExamplePage>,
) -> Result<Json<ExampleList>, ApiError> {
    let limit = page.limit.unwrap_or(100);
    let offset = page.offset.unwrap_or(0);
    let mut problems = BTreeMap::new();
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
    require_prompt(&state, &id).await?;
    let examples = store::examples::list_examples(&state.db, &id, limit, offset).await?;
    let total = store::examples::count_examples(&state.db, &id).await?;
    Ok(Json(ExampleList {
        examples: examples.into_iter().map(ExampleView::from).collect(),
        total,
    }))
}

/// Removes one example and refits the calibration without it.
#[utoipa::path(
    delete,
    path = "/api/v1/prompts/{id}/examples/{example_id}",
    tag = "examples",
    params(
        ("id" = String, Path, description = "The prompt id"),
        ("example_id" = String, Path, description = "The example id"),
    ),
    security(("api_key" = []), ("admin" = [])),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 200, description = "Removed; the refitted calibration", body = ExamplesDeleted),
        (status = 401, description = "No API key or admin credentials", body = ErrorBody),
        (status = 404, description = "No such prompt, or no such example of it", body = ErrorBody),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub async fn delete_example(
    _access: CredentialedAccess,
    State(state): State<AppState>,
    Path((id, example_id)): Path<(String, String)>,
) -> Result<Json<ExamplesDeleted>, ApiError> {
    require_prompt(&state, &id).await?;
    let _calibrating = state.calibration_lock.lock().await;
    let model = current_model(&state)?;
    if !store::examples::delete_example(&state.db, &id, &example_id).await? {
        return Err(ApiError::NotFound {
            what: "example",
            id: example_id,
        });
    }
    let fitted = refit_prompt(&state.db, &state.prompts, &model, &id).await?;
    Ok(Json(ExamplesDeleted {
        deleted: 1,
        calibration: CalibrationView::new(&id, &model, fitted.as_deref()),
    }))
}

/// Removes every example of a prompt: its grades are the model's own again.
#[utoipa::path(
    delete,
    path = "/api/v1/prompts/{id}/examples",
    tag = "examples",
    params(("id" = String, Path, description = "The prompt id")),
    security(("api_key" = []), ("admin" = [])),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 200, description = "Removed", body = ExamplesDeleted),
        (status = 401, description = "No API key or admin credentials", body = ErrorBody),
        (status = 404, description = "No such prompt", body = ErrorBody),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub async fn delete_all_examples(
    _access: CredentialedAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ExamplesDeleted>, ApiError> {
    require_prompt(&state, &id).await?;
    let _calibrating = state.calibration_lock.lock().await;
    let model = current_model(&state)?;
    let deleted = store::examples::delete_all_examples(&state.db, &id).await?;
    let fitted = refit_prompt(&state.db, &state.prompts, &model, &id).await?;
    Ok(Json(ExamplesDeleted {
        deleted,
        calibration: CalibrationView::new(&id, &model, fitted.as_deref()),
    }))
}

/// A prompt's calibration for the active model.
#[utoipa::path(
    get,
    path = "/api/v1/prompts/{id}/calibration",
    tag = "examples",
    params(("id" = String, Path, description = "The prompt id")),
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "The calibration (the identity without examples)", body = CalibrationView),
        (status = 404, description = "No such prompt", body = ErrorBody),
        (status = 503, description = "No model loaded", body = ErrorBody),
    )
)]
pub async fn get_calibration(
    _access: GradingAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CalibrationView>, ApiError> {
    require_prompt(&state, &id).await?;
    let model = current_model(&state)?;
    let fitted = model.calibrations.get(&id);
    Ok(Json(CalibrationView::new(&id, &model, fitted.as_deref())))
}

/// The target names of a set of examples: the scores' keys, which must be
/// the same for every example; sorted.
fn example_targets<'a>(
    rows: impl IntoIterator<Item = &'a BTreeMap<String, f64>>,
) -> Result<Vec<String>, String> {
    let mut first: Option<BTreeSet<&String>> = None;
    for scores in rows {
        let keys: BTreeSet<&String> = scores.keys().collect();
        match &first {
            None => first = Some(keys),
            Some(expected) if *expected != keys => {
                let show = |k: &BTreeSet<&String>| {
                    k.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                };
                return Err(format!(
                    "its examples score different targets ({} and {}): they were posted for models with different targets",
                    show(expected),
                    show(&keys)
                ));
            }
            Some(_) => {}
        }
    }
    Ok(first.unwrap_or_default().into_iter().cloned().collect())
}

/// The examples as CSV in the layout dataset upload reads by default:
/// `student_id` (the example id), `prompt_id`, `text`, then one column per
/// target (empty where an example has no score for it).
#[utoipa::path(
    get,
    path = "/api/v1/prompts/{id}/examples.csv",
    tag = "examples",
    params(("id" = String, Path, description = "The prompt id")),
    security(("api_key" = []), ("admin" = [])),
    responses(
        (status = 200, description = "The examples, oldest first", content_type = "text/csv"),
        (status = 401, description = "No API key or admin credentials", body = ErrorBody),
        (status = 404, description = "No such prompt", body = ErrorBody),
    )
)]
pub async fn download_examples_csv(
    _access: CredentialedAccess,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_prompt(&state, &id).await?;
    let rows: Vec<ExampleView> = store::examples::all_examples(&state.db, &id)
        .await?
        .into_iter()
        .map(ExampleView::from)
        .collect();
    let targets: BTreeSet<String> = rows.iter().flat_map(|r| r.scores.keys().cloned()).collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["student_id", "prompt_id", "text"];
    header.extend(targets.iter().map(String::as_str));
    let write_err =
        |e: csv::Error| ApiError::Internal(anyhow::Error::new(e).context("writing examples CSV"));
    writer.write_record(&header).map_err(write_err)?;
    for row in &rows {
        let mut record = vec![row.id.clone(), id.clone(), row.essay.clone()];
        record.extend(targets.iter().map(|t| {
            row.scores
                .get(t)
                .map_or_else(String::new, |v| v.to_string())
        }));
        writer.write_record(&record).map_err(write_err)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("finishing examples CSV: {e}")))?;
    let disposition = format!("attachment; filename=\"examples-{id}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Body of `POST /api/v1/datasets/from-examples`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetFromExamples {
    /// The new dataset's name.
    pub name: String,
    /// The registered prompts whose examples (and texts) go in; each must
    /// have examples.
    pub prompt_ids: Vec<String>,
    /// Uploaded datasets whose essays and prompts go in too (merging). Their
    /// targets must be the examples' targets, and a prompt id they share with
    /// a registered prompt must have the same text.
    #[serde(default)]
    pub merge_dataset_ids: Vec<String>,
}

/// Builds a training dataset from prompts' examples, optionally merged with
/// uploaded datasets. It is a normal dataset: listed, trained on, deleted.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/from-examples",
    tag = "datasets",
    request_body = DatasetFromExamples,
    security(("admin" = [])),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 201, description = "Stored", body = DatasetView),
        (status = 401, description = "No admin credentials", body = ErrorBody),
        (status = 422, description = "Unknown prompts or datasets, prompts without examples, targets that do not match", body = ErrorBody),
    )
)]
pub async fn create_dataset_from_examples(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Json(request): Json<DatasetFromExamples>,
) -> Result<(StatusCode, Json<DatasetView>), ApiError> {
    let mut problems = BTreeMap::new();
    let name = request.name.trim().to_owned();
    if name.is_empty() {
        problems.insert("name".to_owned(), "must not be empty".to_owned());
    }
    if request.prompt_ids.is_empty() {
        problems.insert(
            "prompt_ids".to_owned(),
            "must name at least one registered prompt".to_owned(),
        );
    }
    // Each prompt's text and examples.
    let mut prompts = BTreeMap::new();
    let mut essays: Vec<(String, String, String, BTreeMap<String, f64>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, id) in request.prompt_ids.iter().enumerate() {
        let at = format!("prompt_ids[{i}]");
        if !seen.insert(id.clone()) {
            problems.insert(at, format!("{id:?} is listed twice"));
            continue;
        }
        let Some(prompt) = state.prompts.get(&state.db, id).await? else {
            problems.insert(at, format!("no prompt with id {id:?}"));
            continue;
        };
        let rows = store::examples::all_examples(&state.db, id).await?;
        if rows.is_empty() {
            problems.insert(at, format!("prompt {id:?} has no examples"));
            continue;
        }
        let record = &prompt.record;
        prompts.insert(
            id.clone(),
            Prompt {
                title: record.title.clone(),
                question: record.question.clone(),
                text: record.text.clone(),
            },
        );
        essays.extend(rows.into_iter().map(|r| {
            let view = ExampleView::from(r);
            (view.id, id.clone(), view.essay, view.scores)
        }));
    }
    let targets = match example_targets(essays.iter().map(|e| &e.3)) {
        Ok(t) => t,
        Err(message) => {
            problems.insert("prompt_ids".to_owned(), message);
            Vec::new()
        }
    };
    let mut records: Vec<EssayRecord> = essays
        .into_iter()
        .map(|(id, prompt_id, text, scores)| EssayRecord {
            id,
            prompt_id,
            text,
            targets: targets
                .iter()
                .filter_map(|t| scores.get(t).copied())
                .collect(),
        })
        .collect();
    let mut grid: Option<ScoreGrid> = None;
    for (i, dataset_id) in request.merge_dataset_ids.iter().enumerate() {
        let at = format!("merge_dataset_ids[{i}]");
        match merge_rows(&state, dataset_id, &targets, &mut prompts, &mut grid).await? {
            Ok(rows) => records.extend(rows),
            Err(problem) => {
                problems.insert(at, problem);
            }
        }
    }
    let mut ids = BTreeSet::new();
    if let Some(dup) = records.iter().find(|r| !ids.insert(r.id.as_str())) {
        problems.insert(
            "merge_dataset_ids".to_owned(),
            format!(
                "essay id {:?} occurs twice; merged datasets must not share essay ids",
                dup.id
            ),
        );
    }
    if let Some(grid) = grid
        && let Some(out) = records
            .iter()
            .find(|r| r.targets.iter().any(|v| *v < grid.min || *v > grid.max))
    {
        problems.insert(
            "merge_dataset_ids".to_owned(),
            format!(
                "the essay {:?} has a score outside the merged datasets' grid {grid}",
                out.id
            ),
        );
    }
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    let dataset = Dataset {
        target_names: targets.clone(),
        score_grid: grid,
        prompts,
        essays: records,
    };
    let layout = DatasetLayout {
        targets,
        score_grid: grid,
        ..DatasetLayout::default()
    };
    let new = dataset_rows(name, &layout, &dataset, &remarks(&dataset, &[]));
    let row = store::datasets::insert_dataset(&state.db, &new).await?;
    tracing::info!(dataset_id = %row.id, rows = row.row_count, "dataset built from examples");
    Ok((StatusCode::CREATED, Json(view(&state.db, row).await?)))
}

/// A merged dataset's essays with their targets in `targets`' order, adding
/// its prompts to `prompts`; the inner `Err` says why it cannot be merged.
async fn merge_rows(
    state: &AppState,
    dataset_id: &str,
    targets: &[String],
    prompts: &mut BTreeMap<String, Prompt>,
    grid: &mut Option<ScoreGrid>,
) -> Result<Result<Vec<EssayRecord>, String>, ApiError> {
    let Some(row) = store::datasets::get_dataset(&state.db, dataset_id)
        .await?
        .filter(|d| d.deleted_at.is_none())
    else {
        return Ok(Err(format!("no dataset with id {dataset_id:?}")));
    };
    let names: Vec<String> = serde_json::from_str(&row.targets).unwrap_or_default();
    let order: Option<Vec<usize>> = targets
        .iter()
        .map(|t| names.iter().position(|n| n == t))
        .collect();
    let Some(order) = order.filter(|_| names.len() == targets.len()) else {
        return Ok(Err(format!(
            "its targets ({}) are not the examples' ({})",
            names.join(", "),
            targets.join(", ")
        )));
    };
    let own_grid: Option<ScoreGrid> = row
        .score_grid
        .as_deref()
        .and_then(|g| serde_json::from_str(g).ok());
    match (&grid, own_grid) {
        (None, Some(g)) => *grid = Some(g),
        (Some(a), Some(b)) if *a != b => {
            return Ok(Err(format!(
                "its score grid {b} differs from another merged dataset's {a}"
            )));
        }
        _ => {}
    }
    let (prompt_rows, essay_rows) =
        store::datasets::load_dataset_rows(&state.db, dataset_id).await?;
    for p in prompt_rows {
        let prompt = Prompt {
            title: p.title,
            question: p.question,
            text: p.text,
        };
        match prompts.get(&p.prompt_id) {
            Some(existing) if existing.text != prompt.text => {
                return Ok(Err(format!(
                    "its prompt {:?} has a different source text from the prompt of that id already in the dataset",
                    p.prompt_id
                )));
            }
            Some(_) => {}
            None => {
                prompts.insert(p.prompt_id, prompt);
            }
        }
    }
    let mut out = Vec::with_capacity(essay_rows.len());
    for e in essay_rows {
        let values: Vec<f64> = serde_json::from_str(&e.targets).unwrap_or_default();
        if values.len() != names.len() {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "dataset {dataset_id}: essay {} has {} targets, the dataset names {}",
                e.essay_id,
                values.len(),
                names.len()
            )));
        }
        out.push(EssayRecord {
            id: e.essay_id,
            prompt_id: e.prompt_id,
            text: e.text,
            targets: order.iter().map(|&j| values[j]).collect(),
        });
    }
    Ok(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_essay_with_other_surrounding_white_space_has_the_same_digest() {
        assert_eq!(essay_digest("An essay.\n"), essay_digest("  An essay."));
        assert_ne!(essay_digest("An essay."), essay_digest("An essay!"));
    }

    #[test]
    fn examples_must_all_score_the_same_targets() {
        let a = BTreeMap::from([("content".to_owned(), 1.0), ("wording".to_owned(), 0.0)]);
        let b = BTreeMap::from([("overall".to_owned(), 3.0)]);
        assert_eq!(
            example_targets([&a, &a]).unwrap(),
            ["content".to_owned(), "wording".to_owned()]
        );
        let err = example_targets([&a, &b]).unwrap_err();
        assert!(err.contains("content, wording and overall"), "{err}");
    }
}
