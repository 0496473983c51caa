//! Training jobs over HTTP (admin): queue one, list them, show one, follow
//! its progress live (server-sent events), cancel it. The request is checked
//! here, once, with every bad field reported together by its JSON path (the
//! train config via `training::TrainConfig::from_json_value`, a sweep's grid
//! via `SweepGrid::validate`, the dataset against what the job needs), into
//! a typed `jobs::JobSpec`; the queue stores it and the executor trusts it.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use super::auth::{self, AdminAuth};
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::paging::{Page, PageQuery};
use crate::experiments::ModelKind;
use crate::experiments::sweep::SweepGrid;
use crate::jobs::{
    CvSpec, JobKind, JobProgress, JobQueue, JobSnapshot, JobSpec, JobStatus, SweepSpec, TrainSpec,
};
use crate::store::datasets::DatasetRow;
use crate::store::{self, jobs::CancelOutcome, jobs::JobRow};
use crate::training::{FoldSpec, TrainConfig, ValidTrainConfig};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list_jobs).post(create_job))
        .route("/api/v1/jobs/{id}", get(get_job))
        .route("/api/v1/jobs/{id}/events", get(job_events))
        .route("/api/v1/jobs/{id}/cancel", post(cancel_job))
}

/// Body of `POST /api/v1/jobs`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// `train` (all rows, registers a model), `cv` or `sweep`.
    pub kind: JobKind,
    /// The dataset to train on.
    pub dataset_id: String,
    /// Train and cv: a partial train config merged over the default
    /// (`{"epochs": 30}` is a whole config).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Sweep only: the grid, as `essay-grader sweep` reads it (base config,
    /// depths, units, activations, optimizers, baselines, feature_sets,
    /// feature_k), except `threads`: a job uses the server's.
    #[schema(value_type = Option<Object>)]
    pub grid: Option<Value>,
    /// Cv only: `"prompt"` (leave one prompt out, the default) or a number K ≥ 2.
    #[schema(value_type = Option<String>)]
    pub folds: Option<Value>,
    /// Cv only: `mlp` (the default), `ridge`, `logistic`, `gbdt` or `mean`.
    #[schema(value_type = Option<String>)]
    pub model_kind: Option<ModelKind>,
    /// Train only: cross-validate the config (leave one prompt out) before
    /// training on every row, and register the model with those figures.
    pub cv: Option<bool>,
}

/// Answer of `POST /api/v1/jobs`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobCreated {
    /// The job's id.
    pub id: String,
    /// Always `queued`.
    pub status: JobStatus,
    /// The run the job will write.
    pub run_id: String,
    /// Where to follow it.
    pub links: JobLinks,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    /// The job's id.
    pub id: String,
    /// What it does.
    pub kind: JobKind,
    /// queued, running, succeeded, failed or cancelled.
    pub status: JobStatus,
    /// The dataset it trains on.
    pub dataset_id: String,
    /// What the job runs, as checked when it was queued: the resolved train
    /// config (`config`, every field present) and `cv` of a train job; the
    /// config, `folds` and `model_kind` of a cv job; the `grid` of a sweep.
    #[schema(value_type = Object)]
    pub request: Value,
    /// Latest progress (`{fold, folds, member, members, epoch, epochs, train_loss, val_loss, eta_s}`).
    pub progress: Option<JobProgress>,
    /// Why it failed.
    pub error: Option<String>,
    /// Claims by a worker so far (a crash counts; a graceful shutdown does not).
    pub attempts: i64,
    /// Whether a cancel was requested while it ran.
    pub cancel_requested: bool,
    /// The run it writes.
    pub run_id: String,
    /// The model a successful train job registered.
    pub model_id: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// When its last attempt started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Related resources.
    pub links: JobLinks,
}

/// Links from a job to what it relates to.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobLinks {
    /// The job itself.
    #[serde(rename = "self")]
    pub self_: String,
    /// Its live progress (server-sent events).
    pub events: String,
    /// Its run (config, metrics, timings).
    pub run: String,
    /// Its run's loss curves.
    pub curves: String,
    /// The dataset.
    pub dataset: String,
    /// The registered model, once a train job succeeded.
    pub model: Option<String>,
}

/// Answer of `GET /api/v1/jobs`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobList {
    /// The newest jobs first.
    pub jobs: Vec<JobView>,
}

/// Queues a job. The config (or a sweep's grid) is checked now, with every
/// bad field listed in one 422, so a queued job never fails on its input.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = "jobs",
    security(("admin" = [])),
    request_body = CreateJob,
    responses(
        (status = 202, description = "Queued", body = JobCreated),
        (status = 404, description = "No such dataset", body = super::error::ErrorBody),
        (status = 422, description = "Bad config or grid, or one over the training bounds (`GET /api/v1/train-options`); every field listed", body = super::error::ErrorBody),
        (status = 429, description = "The queue holds its cap of jobs (ESSAY_GRADER_MAX_QUEUED_JOBS), or over the rate limit; see Retry-After", body = super::error::ErrorBody),
    )
)]
pub async fn create_job(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Json(request): Json<CreateJob>,
) -> Result<(StatusCode, Json<JobCreated>), ApiError> {
    let spec = check_request(&request)?;
    let dataset = match store::datasets::get_dataset(&state.db, &request.dataset_id).await? {
        Some(dataset) if dataset.deleted_at.is_none() => dataset,
        _ => {
            return Err(ApiError::NotFound {
                what: "dataset",
                id: request.dataset_id,
            });
        }
    };
    check_dataset(&spec, &dataset)?;
    let mut problems = Problems::default();
    for (field, message) in state
        .settings
        .train_bounds()
        .check_spec(&spec, dataset.row_count)
    {
        problems.add(field, message);
    }
    problems.into_result()?;
    let new = store::jobs::NewJob {
        id: store::new_id(),
        run_id: store::new_id(),
        kind: spec.kind().as_str().to_owned(),
        dataset_id: request.dataset_id.clone(),
        config: spec.to_stored(),
        resolved_config: spec.run_config().to_string(),
        created_at: store::now(),
    };
    let max_queued = state.settings.max_queued_jobs;
    let row = state
        .jobs
        .enqueue_if_room(&new, max_queued)
        .await?
        .map_err(|queued| ApiError::TooManyRequests {
            code: "job_queue_full",
            message: format!(
                "{queued} jobs are queued, the cap (ESSAY_GRADER_MAX_QUEUED_JOBS = {max_queued}); \
                 wait for some to start, or cancel some"
            ),
            retry_after: QUEUE_FULL_RETRY_AFTER,
        })?;
    tracing::info!(job_id = %row.id, kind = %row.kind, dataset_id = %row.dataset_id, "job queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(JobCreated {
            links: links(&row),
            id: row.id,
            status: JobStatus::Queued,
            run_id: row.run_id,
        }),
    ))
}

/// When to try again after the queue was full: about one short job.
const QUEUE_FULL_RETRY_AFTER: Duration = Duration::from_secs(30);

/// When to try again after the event streams were all taken: a page that
/// closed its streams frees them at once.
const STREAMS_FULL_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Live job event streams, counted per holder (an admin session, or the
/// admin token), so that one holder cannot keep an unbounded number open.
#[derive(Clone, Default)]
pub struct EventStreamSlots(Arc<Mutex<HashMap<String, usize>>>);

impl EventStreamSlots {
    /// Takes one of `holder`'s `max` slots, or says how many it holds.
    fn take(&self, holder: String, max: usize) -> Result<EventStreamSlot, usize> {
        let mut held = self.0.lock().expect("the stream-slot lock is not poisoned");
        let count = held.entry(holder.clone()).or_insert(0);
        if *count >= max {
            return Err(*count);
        }
        *count += 1;
        Ok(EventStreamSlot {
            slots: self.clone(),
            holder,
        })
    }

    /// How many streams `holder` has open.
    pub fn held_by(&self, holder: &str) -> usize {
        let held = self.0.lock().expect("the stream-slot lock is not poisoned");
        held.get(holder).copied().unwrap_or(0)
    }
}

/// One open event stream; dropping it (the stream ended, or the client went
/// away) frees the slot.
struct EventStreamSlot {
    slots: EventStreamSlots,
    holder: String,
}

impl Drop for EventStreamSlot {
    fn drop(&mut self) {
        let mut held = self
            .slots
            .0
            .lock()
            .expect("the stream-slot lock is not poisoned");
        if let Some(count) = held.get_mut(&self.holder) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.holder);
            }
        }
    }
}

/// Who holds an admin event stream: the admin token, or a session (by its
/// cookie's digest, never the cookie itself).
fn stream_holder(headers: &HeaderMap, state: &AppState) -> String {
    match auth::presented_secret(headers) {
        Some(secret) if state.credentials.is_admin_token(secret) => "admin-token".to_owned(),
        _ => match auth::session_cookie(
            headers,
            auth::session_cookie_name(state.settings.behind_tls),
        ) {
            Some(cookie) => format!("session:{}", hex::encode(auth::digest(cookie))),
            None => "admin-token".to_owned(),
        },
    }
}

/// Bad fields of a request, by JSON path; two problems of one field are
/// both kept.
#[derive(Default)]
struct Problems(BTreeMap<String, String>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let message = message.into();
        self.0
            .entry(field.into())
            .and_modify(|m| {
                m.push_str("; ");
                m.push_str(&message);
            })
            .or_insert(message);
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self.0))
        }
    }
}

/// Checks a job request into the spec the queue stores, every bad field
/// reported together.
fn check_request(request: &CreateJob) -> Result<JobSpec, ApiError> {
    let mut problems = Problems::default();
    let kind = request.kind;
    let only = |field: &str, kinds: &str| {
        format!("only {kinds} takes {field}, not a {} job", kind.as_str())
    };
    if kind == JobKind::Sweep && request.config.is_some() {
        problems.add(
            "config",
            "a sweep takes a grid, whose `base` is the partial config for every cell",
        );
    }
    if kind != JobKind::Sweep && request.grid.is_some() {
        problems.add("grid", only("grid", "a sweep"));
    }
    if kind != JobKind::Cv && request.folds.is_some() {
        problems.add("folds", only("folds", "a cv job"));
    }
    if kind != JobKind::Cv && request.model_kind.is_some() {
        problems.add("model_kind", only("a model kind", "a cv job"));
    }
    if kind != JobKind::Train && request.cv.is_some() {
        problems.add(
            "cv",
            "only a train job takes cv (a cv job cross-validates anyway)",
        );
    }
    let folds = match &request.folds {
        None => FoldSpec::LeaveOnePromptOut,
        Some(value) => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text.parse::<FoldSpec>().unwrap_or_else(|message| {
                problems.add("folds", message);
                FoldSpec::LeaveOnePromptOut
            })
        }
    };
    let spec = match kind {
        JobKind::Sweep => check_grid(request.grid.as_ref(), &mut problems)
            .map(|grid| JobSpec::Sweep(SweepSpec { grid })),
        JobKind::Train => check_config(request.config.as_ref(), &mut problems).map(|config| {
            JobSpec::Train(TrainSpec {
                config,
                cv: request.cv.unwrap_or(false),
            })
        }),
        JobKind::Cv => check_config(request.config.as_ref(), &mut problems).map(|config| {
            JobSpec::Cv(CvSpec {
                config,
                folds,
                model_kind: request.model_kind.unwrap_or(ModelKind::Mlp),
            })
        }),
    };
    problems.into_result()?;
    Ok(spec.expect("a request without problems has a spec"))
}

/// The train config of a train or cv job, merged over the default.
fn check_config(config: Option<&Value>, problems: &mut Problems) -> Option<ValidTrainConfig> {
    let value = config
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    match TrainConfig::from_json_value(value) {
        Ok(valid) => Some(valid),
        Err(err) => {
            for problem in err.errors {
                problems.add(json_path("config", &problem.field), problem.message);
            }
            None
        }
    }
}

/// A sweep's grid, checked as `essay-grader sweep` checks its grid file. A
/// job's threads are the server's, so the grid may not set them.
fn check_grid(grid: Option<&Value>, problems: &mut Problems) -> Option<SweepGrid> {
    let Some(grid) = grid else {
        problems.add("grid", "a sweep needs a grid");
        return None;
    };
    let parsed = match serde_json::from_value::<SweepGrid>(grid.clone()) {
        Ok(parsed) => parsed,
        Err(err) => {
            problems.add("grid", format!("not a sweep grid: {err}"));
            return None;
        }
    };
    if parsed.threads.is_some() {
        problems.add(
            "grid.threads",
            "a job trains on the server's job threads (one, so grading keeps the other cores); leave threads out",
        );
    }
    match parsed.validate() {
        Ok(()) => Some(parsed),
        Err(err) => {
            for problem in err.problems {
                problems.add(json_path("grid", &problem.field), problem.message);
            }
            None
        }
    }
}

/// `prefix.field`, or `prefix` for a problem of the whole object.
fn json_path(prefix: &str, field: &str) -> String {
    if field.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// Checks the dataset against what the job needs (targets, essays, prompts
/// to leave out, the config's output width), so that a queued job does not
/// fail on its input.
fn check_dataset(spec: &JobSpec, dataset: &DatasetRow) -> Result<(), ApiError> {
    let mut problems = Problems::default();
    let targets = serde_json::from_str::<Vec<String>>(&dataset.targets)
        .map_err(|e| {
            ApiError::Internal(anyhow::anyhow!(
                "dataset {} has unreadable target names: {e}",
                dataset.id
            ))
        })?
        .len();
    let id = &dataset.id;
    if targets == 0 {
        problems.add(
            "dataset_id",
            format!(
                "dataset {id} has no target columns to learn; upload it with a mapping whose `targets` name them"
            ),
        );
    }
    if dataset.row_count < 2 {
        problems.add(
            "dataset_id",
            format!(
                "dataset {id} has {} essay(s); training needs at least 2",
                dataset.row_count
            ),
        );
    }
    let (config, folds, folds_field) = match spec {
        JobSpec::Train(train) => (
            Some((&train.config, "config")),
            train.cv.then_some(FoldSpec::LeaveOnePromptOut),
            "cv",
        ),
        JobSpec::Cv(cv) => (Some((&cv.config, "config")), Some(cv.folds), "folds"),
        JobSpec::Sweep(_) => (None, Some(FoldSpec::LeaveOnePromptOut), "dataset_id"),
    };
    match folds {
        Some(FoldSpec::LeaveOnePromptOut) if dataset.prompt_count < 2 => problems.add(
            folds_field,
            format!(
                "leaving one prompt out needs at least 2 prompts; dataset {id} has {}",
                dataset.prompt_count
            ),
        ),
        Some(FoldSpec::KFold(k)) if k as i64 > dataset.row_count => problems.add(
            folds_field,
            format!(
                "{k} folds need at least {k} essays; dataset {id} has {}",
                dataset.row_count
            ),
        ),
        _ => {}
    }
    let base;
    let config = match (config, spec) {
        (Some(found), _) => Some(found),
        (None, JobSpec::Sweep(sweep)) => {
            base = TrainConfig::from_json_value(sweep.grid.base.clone()).ok();
            base.as_ref().map(|c| (c, "grid.base"))
        }
        (None, _) => None,
    };
    if let Some((config, path)) = config {
        let units = config.config().network.output.units;
        if units != 0 && units != targets {
            problems.add(
                format!("{path}.network.output.units"),
                format!(
                    "is {units} but dataset {id} has {targets} target(s); leave it out to use the number of targets"
                ),
            );
        }
    }
    problems.into_result()
}

/// The newest jobs first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    security(("admin" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of the jobs, newest first", body = JobList),
        (status = 422, description = "`limit` or `offset` out of range", body = super::error::ErrorBody),
        (status = 429, description = "Over the rate limit, or too many failed credentials; see Retry-After", body = super::error::ErrorBody),
    )
)]
pub async fn list_jobs(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<JobList>, ApiError> {
    let page = Page::from_query(query)?;
    let jobs = store::jobs::list_jobs(&state.db, page.limit, page.offset)
        .await?
        .iter()
        .map(view)
        .collect();
    Ok(Json(JobList { jobs }))
}

/// One job: status, progress, error, and links to its run and model.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = super::error::ErrorBody),
    )
)]
pub async fn get_job(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let row = store::jobs::get_job(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound { what: "job", id })?;
    Ok(Json(view(&row)))
}

/// Asks a job to stop: a queued job is cancelled at once (200), a running one
/// stops at its next epoch boundary (202). 409 when it has already ended.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    tag = "jobs",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Cancelled (it was queued)", body = JobView),
        (status = 202, description = "Cancel requested (it is running)", body = JobView),
        (status = 404, description = "No such job", body = super::error::ErrorBody),
        (status = 409, description = "It has already ended", body = super::error::ErrorBody),
    )
)]
pub async fn cancel_job(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let status = match state.jobs.cancel(&id).await? {
        CancelOutcome::NotFound => return Err(ApiError::NotFound { what: "job", id }),
        CancelOutcome::AlreadyFinished(status) => {
            return Err(ApiError::Conflict {
                message: format!(
                    "job {id} has already ended ({status}); there is nothing to cancel"
                ),
            });
        }
        CancelOutcome::Cancelled => StatusCode::OK,
        CancelOutcome::Requested => StatusCode::ACCEPTED,
    };
    let row = store::jobs::get_job(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound { what: "job", id })?;
    Ok((status, Json(view(&row))))
}

/// The job's progress, live, as server-sent events: a `progress` event with
/// the job's snapshot (`{id, status, progress, error, model_id}`) whenever
/// it changes, and a last `end` event when it reaches a final status. Admin
/// credentials may come from the session cookie, since browsers'
/// EventSource cannot send an Authorization header.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/events",
    tag = "jobs",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "An event stream of JobSnapshot", content_type = "text/event-stream"),
        (status = 404, description = "No such job", body = super::error::ErrorBody),
        (status = 429, description = "This session holds its cap of open streams (ESSAY_GRADER_MAX_EVENT_STREAMS), or over the rate limit; see Retry-After", body = super::error::ErrorBody),
    )
)]
pub async fn job_events(
    _admin: AdminAuth,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let row = store::jobs::get_job(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound { what: "job", id })?;
    let max = state.settings.max_event_streams;
    let slot = state
        .event_streams
        .take(stream_holder(&headers, &state), max)
        .map_err(|open| ApiError::TooManyRequests {
            code: "too_many_event_streams",
            message: format!(
                "this session has {open} job event streams open, the cap (ESSAY_GRADER_MAX_EVENT_STREAMS = {max}); \
                 close one first"
            ),
            retry_after: STREAMS_FULL_RETRY_AFTER,
        })?;
    let follower = Follower {
        _slot: slot,
        queue: state.jobs.clone(),
        db: state.db.clone(),
        id: row.id.clone(),
        live: None,
        last: None,
        ended: false,
    };
    let stream = futures_util::stream::unfold(follower, |mut follower| async move {
        let event = follower.next_event().await?;
        Some((Ok(event), follower))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Follows one job for an event stream: from the worker's live snapshot
/// while the job runs in this process, otherwise from its row (queued, or
/// running in another process), re-read every half second. It ends after the
/// job's final status, or when the server begins to shut down.
struct Follower {
    /// Held while the stream lives; counts against the session's cap.
    _slot: EventStreamSlot,
    queue: JobQueue,
    db: crate::store::Db,
    id: String,
    live: Option<tokio::sync::watch::Receiver<JobSnapshot>>,
    last: Option<JobSnapshot>,
    ended: bool,
}

impl Follower {
    async fn next_event(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            let snapshot = self.current().await?;
            if self.last.as_ref() != Some(&snapshot) {
                self.ended = snapshot.status.is_final();
                let name = if self.ended { "end" } else { "progress" };
                let event = Event::default()
                    .event(name)
                    .json_data(&snapshot)
                    .expect("a snapshot serialises");
                self.last = Some(snapshot);
                return Some(event);
            }
            // A stream ends when the server stops, so it does not hold up
            // the graceful shutdown; the client's EventSource reconnects.
            let queue = self.queue.clone();
            tokio::select! {
                () = self.wait() => {}
                () = queue.stopping() => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// The newest snapshot: the live one if the job runs here, else the row.
    async fn current(&mut self) -> Option<JobSnapshot> {
        if self.live.is_none() {
            self.live = self.queue.watch(&self.id);
        }
        if let Some(live) = &mut self.live {
            let snapshot = live.borrow_and_update().clone();
            // A closed channel means the worker is done with the job; its
            // final state is in the row.
            if live.has_changed().is_ok() {
                return Some(snapshot);
            }
            self.live = None;
        }
        match store::jobs::get_job(&self.db, &self.id).await {
            Ok(Some(row)) => Some(JobSnapshot::from_row(&row)),
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(job_id = %self.id, error = %err, "event stream could not read the job");
                self.last.clone()
            }
        }
    }

    async fn wait(&mut self) {
        match &mut self.live {
            Some(live) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), live.changed()).await;
            }
            None => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// A stored job as the API shows it.
pub fn view(row: &JobRow) -> JobView {
    JobView {
        id: row.id.clone(),
        kind: JobKind::parse(&row.kind).unwrap_or(JobKind::Train),
        status: JobStatus::parse(&row.status).unwrap_or(JobStatus::Failed),
        dataset_id: row.dataset_id.clone(),
        request: serde_json::from_str(&row.config).unwrap_or(Value::Null),
        progress: row
            .progress
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok()),
        error: row.error.clone(),
        attempts: row.attempts,
        cancel_requested: row.cancel_requested(),
        run_id: row.run_id.clone(),
        model_id: row.model_id.clone(),
        created_at: row.created_at.clone(),
        started_at: row.started_at.clone(),
        finished_at: row.finished_at.clone(),
        links: links(row),
    }
}

fn links(row: &JobRow) -> JobLinks {
    JobLinks {
        self_: format!("/api/v1/jobs/{}", row.id),
        events: format!("/api/v1/jobs/{}/events", row.id),
        run: format!("/api/v1/runs/{}", row.run_id),
        curves: format!("/api/v1/runs/{}/curves.svg", row.run_id),
        dataset: format!("/api/v1/datasets/{}", row.dataset_id),
        model: row
            .model_id
            .as_ref()
            .map(|id| format!("/api/v1/models/{id}")),
    }
}
