//! Training datasets over HTTP (admin): upload (multipart CSV), list, show,
//! delete. Parsing and checking the CSVs is `training::Dataset`'s job; this
//! file maps the form fields onto it, turns its file/line/column problems
//! into a 422, and stores the rows through `store::datasets`.
//!
//! Deleting a dataset: refused with 409 while a queued or running job needs
//! it. Otherwise a dataset no job ever used is removed entirely, and one that
//! jobs used keeps a tombstone (name, row count, targets; no essays) so the
//! runs and models trained on it still say what they came from. A deleted
//! dataset answers 404 and cannot be used by new jobs.

use std::collections::{BTreeMap, BTreeSet};

use crate::store::Db;
use axum::Router;
use axum::extract::State;
use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::auth::AdminAuth;
use super::error::ApiError;
use super::extract::{Json, Path, is_body_limit_error};
use crate::store::{self, datasets::DatasetRow};
use crate::training::{Dataset, DatasetError, DatasetLayout};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/datasets", get(list_datasets).post(create_dataset))
        .route(
            "/api/v1/datasets/{id}",
            get(get_dataset).delete(delete_dataset),
        )
}

/// A dataset as the API shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DatasetView {
    /// The dataset's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Number of essays.
    pub rows: i64,
    /// Target names, in column order.
    pub targets: Vec<String>,
    /// The score grid of ordinal targets (`"1:5:0.5"`), if declared.
    pub score_grid: Option<String>,
    /// Its prompts with their essay counts.
    pub prompts: Vec<PromptSummary>,
    /// Non-fatal remarks about the data (e.g. too few prompts for
    /// leave-one-prompt-out cross-validation).
    pub problems: Vec<String>,
    /// The column mapping the files were read with.
    #[schema(value_type = Object)]
    pub mapping: serde_json::Value,
    /// When it was uploaded (RFC 3339 UTC).
    pub created_at: String,
}

/// One prompt of a dataset.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PromptSummary {
    /// The prompt id as the dataset names it.
    pub id: String,
    /// Its title ("" when unknown).
    pub title: String,
    /// How many essays answer it.
    pub essays: i64,
}

/// Answer of `GET /api/v1/datasets`.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DatasetList {
    /// Every live dataset, newest first.
    pub datasets: Vec<DatasetView>,
}

/// The upload's fields, read before anything is parsed.
#[derive(Default)]
struct Upload {
    essays: Option<(String, Vec<u8>)>,
    prompts: Option<(String, Vec<u8>)>,
    mapping: Option<Vec<u8>>,
    name: Option<String>,
}

/// Uploads a dataset: multipart with `essays` (CSV, required), `prompts`
/// (CSV, optional), `mapping` (JSON column mapping, optional; CommonLit by
/// default) and `name` (optional). The rows are checked, then stored in one
/// transaction. A file with missing columns or bad values is refused with
/// 422, each problem named by file, line and column in `fields`.
#[utoipa::path(
    post,
    path = "/api/v1/datasets",
    tag = "datasets",
    security(("admin" = [])),
    request_body(content_type = "multipart/form-data", description = "essays (CSV), prompts (CSV), mapping (JSON), name"),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 201, description = "Stored", body = DatasetView),
        (status = 413, description = "Over the upload limit", body = super::error::ErrorBody),
        (status = 422, description = "A missing field, a bad mapping, or bad rows (file, line, column)", body = super::error::ErrorBody),
    )
)]
pub async fn create_dataset(
    _admin: AdminAuth,
    State(state): State<AppState>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<DatasetView>), ApiError> {
    let mut multipart = multipart.map_err(|rejection| ApiError::UnsupportedMediaType {
        message: format!(
            "the upload must be multipart/form-data: {}",
            rejection.body_text()
        ),
    })?;
    let upload = read_upload(&mut multipart, state.settings.upload_body_limit).await?;
    let Some((essays_name, essays)) = upload.essays else {
        return Err(ApiError::field("essays", "the essays CSV file is required"));
    };
    let layout: DatasetLayout = match &upload.mapping {
        Some(bytes) => serde_json::from_slice(bytes).map_err(|err| {
            ApiError::field("mapping", format!("not a valid column mapping: {err}"))
        })?,
        None => DatasetLayout::default(),
    };
    if layout.targets.is_empty() {
        return Err(ApiError::field(
            "mapping.targets",
            "a training dataset needs at least one target column",
        ));
    }
    let name = upload
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| essays_name.clone());

    let parse_layout = layout.clone();
    let prompts = upload.prompts;
    let parsed = tokio::task::spawn_blocking(move || {
        let prompts_reader = prompts
            .as_ref()
            .map(|(name, bytes)| (bytes.as_slice(), name.as_str()));
        let dataset = Dataset::from_readers(
            essays.as_slice(),
            &essays_name,
            prompts_reader,
            &parse_layout,
        )?;
        let unused = unused_prompts(&dataset, prompts.as_ref());
        Ok::<_, DatasetError>((dataset, unused))
    })
    .await
    .map_err(|err| ApiError::Internal(anyhow::anyhow!("parsing the upload panicked: {err}")))?;
    let (dataset, unused) = parsed.map_err(dataset_error)?;

    let problems = remarks(&dataset, &unused);
    let new = dataset_rows(name, &layout, &dataset, &problems);
    let row = store::datasets::insert_dataset(&state.db, &new).await?;
    tracing::info!(dataset_id = %row.id, rows = row.row_count, prompts = row.prompt_count, "dataset stored");
    Ok((StatusCode::CREATED, Json(view(&state.db, row).await?)))
}

/// The rows that store a checked dataset (a new id, the time now).
pub(super) fn dataset_rows(
    name: String,
    layout: &DatasetLayout,
    dataset: &Dataset,
    problems: &[String],
) -> store::datasets::NewDataset {
    store::datasets::NewDataset {
        id: store::new_id(),
        name,
        layout: serde_json::to_string(layout).expect("a layout always serialises"),
        targets: serde_json::to_string(&dataset.target_names).expect("names serialise"),
        score_grid: dataset
            .score_grid
            .map(|g| serde_json::to_string(&g).expect("a grid serialises")),
        problems: serde_json::to_string(problems).expect("strings serialise"),
        created_at: store::now(),
        prompts: dataset
            .prompts
            .iter()
            .map(|(id, p)| store::datasets::PromptRow {
                prompt_id: id.clone(),
                title: p.title.clone(),
                question: p.question.clone(),
                text: p.text.clone(),
            })
            .collect(),
        essays: dataset
            .essays
            .iter()
            .map(|e| store::datasets::EssayRow {
                essay_id: e.id.clone(),
                prompt_id: e.prompt_id.clone(),
                text: e.text.clone(),
                targets: serde_json::to_string(&e.targets).expect("finite numbers serialise"),
            })
            .collect(),
    }
}

/// Every live dataset, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/datasets",
    tag = "datasets",
    security(("admin" = [])),
    params(super::paging::PageQuery),
    responses(
        (status = 200, description = "A page of the datasets, newest first", body = DatasetList),
        (status = 401, description = "No admin credentials", body = super::error::ErrorBody),
        (status = 422, description = "`limit` or `offset` out of range", body = super::error::ErrorBody),
        (status = 429, description = "Over the rate limit, or too many failed credentials; see Retry-After", body = super::error::ErrorBody),
    )
)]
pub async fn list_datasets(
    _admin: AdminAuth,
    State(state): State<AppState>,
    super::extract::Query(query): super::extract::Query<super::paging::PageQuery>,
) -> Result<Json<DatasetList>, ApiError> {
    let page = super::paging::Page::from_query(query)?;
    let mut datasets = Vec::new();
    for row in store::datasets::list_datasets(&state.db, page.limit, page.offset).await? {
        datasets.push(view(&state.db, row).await?);
    }
    Ok(Json(DatasetList { datasets }))
}

/// One dataset (not its essays).
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{id}",
    tag = "datasets",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The dataset id")),
    responses(
        (status = 200, description = "The dataset", body = DatasetView),
        (status = 404, description = "No such dataset, or deleted", body = super::error::ErrorBody),
    )
)]
pub async fn get_dataset(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DatasetView>, ApiError> {
    match store::datasets::get_dataset(&state.db, &id).await? {
        Some(row) if row.deleted_at.is_none() => Ok(Json(view(&state.db, row).await?)),
        _ => Err(ApiError::NotFound {
            what: "dataset",
            id,
        }),
    }
}

/// Deletes a dataset; 409 while a queued or running job needs it (see the
/// module documentation for what is kept for lineage).
#[utoipa::path(
    delete,
    path = "/api/v1/datasets/{id}",
    tag = "datasets",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The dataset id")),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such dataset", body = super::error::ErrorBody),
        (status = 409, description = "Queued or running jobs use it", body = super::error::ErrorBody),
    )
)]
pub async fn delete_dataset(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    use store::datasets::DeleteOutcome;
    match store::datasets::delete_dataset(&state.db, &id, &store::now()).await? {
        DeleteOutcome::NotFound => Err(ApiError::NotFound {
            what: "dataset",
            id,
        }),
        DeleteOutcome::InUse { job_ids } => Err(ApiError::Conflict {
            message: format!(
                "dataset {id} is used by queued or running job(s) {}; cancel them or wait for them to finish",
                job_ids.join(", ")
            ),
        }),
        DeleteOutcome::Deleted | DeleteOutcome::Tombstoned => Ok(StatusCode::NO_CONTENT),
    }
}

async fn read_upload(multipart: &mut Multipart, limit: usize) -> Result<Upload, ApiError> {
    let mut upload = Upload::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "essays" | "prompts" => {
                let file_name = field
                    .file_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{name}.csv"));
                let bytes = field_bytes(field, limit).await?;
                let slot = if name == "essays" {
                    &mut upload.essays
                } else {
                    &mut upload.prompts
                };
                if slot.replace((file_name, bytes)).is_some() {
                    return Err(ApiError::field(name, "given more than once"));
                }
            }
            "mapping" => upload.mapping = Some(field_bytes(field, limit).await?),
            "name" => {
                let bytes = field_bytes(field, limit).await?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| ApiError::field("name", "is not valid UTF-8"))?;
                upload.name = Some(text);
            }
            other => {
                return Err(ApiError::field(
                    if other.is_empty() { "form" } else { other },
                    "unknown field; the upload takes essays, prompts, mapping and name",
                ));
            }
        }
    }
    Ok(upload)
}

async fn field_bytes(field: Field<'_>, limit: usize) -> Result<Vec<u8>, ApiError> {
    field
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| multipart_error(e, limit))
}

fn multipart_error(err: MultipartError, limit: usize) -> ApiError {
    if is_body_limit_error(&err) || err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge { limit };
    }
    ApiError::BadRequest {
        code: "malformed_multipart",
        message: format!(
            "the multipart upload could not be read: {}",
            err.body_text()
        ),
    }
}

/// A CSV that does not read as a dataset: 422, one entry per problem keyed by
/// where it is ("essays.csv, line 4, column 5 (content)").
fn dataset_error(err: DatasetError) -> ApiError {
    let message = err.to_string();
    let mut fields = BTreeMap::new();
    for problem in err.problems() {
        let mut place = problem.file.clone();
        if problem.line > 0 {
            place.push_str(&format!(", line {}", problem.line));
        }
        if let Some((index, name)) = &problem.column {
            place.push_str(&format!(", column {index} ({name})"));
        }
        fields.insert(place, problem.message);
    }
    ApiError::Validation { message, fields }
}

/// Prompts the prompts file lists but no essay answers (the dataset keeps
/// only the prompts its essays refer to).
fn unused_prompts(dataset: &Dataset, prompts: Option<&(String, Vec<u8>)>) -> Vec<String> {
    let Some((name, bytes)) = prompts else {
        return Vec::new();
    };
    match crate::training::dataset::read_prompts(bytes.as_slice(), name) {
        Ok(all) => all
            .into_keys()
            .filter(|id| !dataset.prompts.contains_key(id))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Non-fatal remarks worth knowing before training on the data.
pub(super) fn remarks(dataset: &Dataset, unused: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if dataset.prompts.len() < 2 {
        out.push(format!(
            "the essays answer {} prompt(s): leave-one-prompt-out cross-validation needs at least 2 (cv jobs can use \"folds\": K instead)",
            dataset.prompts.len()
        ));
    }
    if !unused.is_empty() {
        out.push(format!(
            "the prompts file lists prompt(s) no essay answers: {}",
            unused.join(", ")
        ));
    }
    let textless: BTreeSet<&str> = dataset
        .prompts
        .iter()
        .filter(|(_, p)| p.text.trim().is_empty())
        .map(|(id, _)| id.as_str())
        .collect();
    if !textless.is_empty() {
        out.push(format!(
            "prompt(s) without a source text: {}; features comparing the essay with its source will be uninformative",
            textless.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    out
}

pub(super) async fn view(pool: &Db, row: DatasetRow) -> Result<DatasetView, ApiError> {
    let prompts = store::datasets::prompt_summaries(pool, &row.id)
        .await?
        .into_iter()
        .map(|(id, title, essays)| PromptSummary { id, title, essays })
        .collect();
    let parse = |what: &str, text: &str| -> Result<serde_json::Value, ApiError> {
        serde_json::from_str(text).map_err(|err| {
            ApiError::Internal(anyhow::anyhow!(
                "dataset {} has a corrupt {what}: {err}",
                row.id
            ))
        })
    };
    let targets = serde_json::from_value(parse("target list", &row.targets)?)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("dataset {} targets: {err}", row.id)))?;
    let problems = serde_json::from_value(parse("problem list", &row.problems)?)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("dataset {} problems: {err}", row.id)))?;
    let score_grid = match &row.score_grid {
        Some(text) => parse("score grid", text)?.as_str().map(str::to_owned),
        None => None,
    };
    Ok(DatasetView {
        mapping: parse("mapping", &row.layout)?,
        id: row.id,
        name: row.name,
        rows: row.row_count,
        targets,
        score_grid,
        prompts,
        problems,
        created_at: row.created_at,
    })
}
