//! Grading: `POST /api/v1/grade` (one essay) and `POST /api/v1/grade/batch`
//! (up to `--batch-max-items` essays, results in order, one item's error does
//! not fail the others).
//!
//! A request names a registered prompt (`prompt_id`, prepared once and cached)
//! or carries the prompt inline (`prompt`: prepared per request, with a small
//! cache because a teacher pastes the same prompt again and again). The model
//! is taken from the [`ModelHandle`](super::ModelHandle) once per request, so a
//! request started before an activation finishes on the old model.
//!
//! Every piece of CPU work takes a grading slot first ([`GradingSlots`]): a
//! request that finds them all busy and the waiting room full is shed with
//! 503 and `Retry-After`. A single essay is graded on the async executor while
//! it holds its slot: it takes well under a millisecond, less than a hop to a
//! blocking thread would cost. A batch is CPU work of up to a second and goes
//! to blocking threads, one per slot it could take, and stops between chunks
//! once its request is abandoned (timed out or disconnected).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::active_model::ActiveModel;
use super::auth::GradingAccess;
use super::bounded_cache::BoundedCache;
use super::calibrations::{CalibrationNote, calibrate_grade};
use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use super::grading_slots::{GradingSlots, SlotUse};
use super::prompts::{chars_over, prompt_size_problems};
use crate::features::{PreparedPrompt, Prompt};
use crate::grader::{ByTarget, ConceptEffect, Explain, Grade, Warning};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/grade", post(grade_essay))
        .route("/api/v1/grade/batch", post(grade_batch))
}

/// A prompt given inline instead of by id.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InlinePrompt {
    /// Short title of the source text (may be empty).
    #[serde(default)]
    pub title: String,
    /// The question the students answer (may be empty).
    #[serde(default)]
    pub question: String,
    /// The source text the students read (may be empty, but then the
    /// comparison with the source is lost and a warning says so).
    #[serde(default)]
    pub text: String,
}

/// One essay to grade: `{"prompt_id", "essay"}` or `{"prompt": {...}, "essay"}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeRequest {
    /// A registered prompt's id. Give this or `prompt`, not both.
    pub prompt_id: Option<String>,
    /// The prompt itself. Give this or `prompt_id`, not both.
    pub prompt: Option<InlinePrompt>,
    /// The student's essay (must contain something besides white space).
    pub essay: String,
    /// Whether a registered prompt's calibration from its teacher's examples
    /// applies (default true); `false` gives the model's raw scores.
    #[serde(default = "calibrate_by_default")]
    pub calibrate: bool,
}

fn calibrate_by_default() -> bool {
    true
}

/// The model that graded.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelRef {
    /// Its id in the registry.
    pub id: String,
    /// Its version number.
    pub version: i64,
}

/// The grade of one essay.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GradeResponse {
    /// Predicted score per target, e.g. `{"content": 0.41, "wording": -0.12}`.
    #[schema(value_type = BTreeMap<String, f64>)]
    pub scores: ByTarget<f64>,
    /// Where each score stands among the training essays (0 to 100).
    #[schema(value_type = BTreeMap<String, f64>)]
    pub percentiles: ByTarget<f64>,
    /// The model that graded.
    pub model: ModelRef,
    /// Why the scores are what they are, by concept (length, coverage of the
    /// source, copying, ...), the strongest first: each concept's effect on
    /// every target, one plain sentence with the essay's figure against the
    /// training essays', and the per-feature values behind it. Empty when a
    /// batch asked for `"explain": false`.
    pub explanation: Vec<ConceptEffect>,
    /// Things a teacher should know, e.g. "mostly copied from the source".
    pub warnings: Vec<Warning>,
    /// Present when the scores were calibrated with the prompt's examples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationNote>,
    /// The model's own scores, present when `scores` are calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, f64>>)]
    pub uncalibrated_scores: Option<ByTarget<f64>>,
}

impl GradeResponse {
    fn new(
        grade: Grade,
        model: &ActiveModel,
        calibrated: Option<(CalibrationNote, ByTarget<f64>)>,
    ) -> Self {
        let (calibration, uncalibrated_scores) = calibrated.unzip();
        Self {
            scores: grade.scores,
            percentiles: grade.percentiles,
            model: ModelRef {
                id: model.id.clone(),
                version: model.version,
            },
            explanation: grade.explanation,
            warnings: grade.warnings,
            calibration,
            uncalibrated_scores,
        }
    }
}

/// Grades one essay.
#[utoipa::path(
    post,
    path = "/api/v1/grade",
    tag = "grading",
    request_body = GradeRequest,
    security((), ("api_key" = [])),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 200, description = "The grade", body = GradeResponse),
        (status = 404, description = "Unknown prompt_id", body = ErrorBody),
        (status = 413, description = "Body over the single-essay limit", body = ErrorBody),
        (status = 422, description = "Invalid fields (empty essay, an essay or inline prompt over its \
            length cap, both or neither prompt forms)", body = ErrorBody),
        (status = 503, description = "No model loaded, or the grading CPU is saturated (code \
            `overloaded`, with `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn grade_essay(
    _access: GradingAccess,
    State(state): State<AppState>,
    Json(request): Json<GradeRequest>,
) -> Result<Json<GradeResponse>, ApiError> {
    let started = Instant::now();
    let model = current_model(&state)?;
    let essay = check_essay(&state, &request.essay, "essay")?;
    let calibrate_for = request.prompt_id.clone().filter(|_| request.calibrate);
    let prompt = resolve_prompt(&state, request.prompt_id, request.prompt, "").await?;
    // Held while the essay is graded here, on the executor.
    let _slot = state.grading_slots.acquire(SlotUse::Single).await?;
    let mut grade = model.grader.grade(&prompt, essay);
    let calibrated = calibrate_grade(&model, calibrate_for.as_deref(), &mut grade);
    metrics::histogram!("grading_duration_seconds", "kind" => "single")
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("graded_essays_total").increment(1);
    Ok(Json(GradeResponse::new(grade, &model, calibrated)))
}

/// Body of `POST /api/v1/grade/batch`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The essays, each shaped like a `POST /api/v1/grade` body. Items are
    /// checked one by one, so a malformed item fails only itself.
    #[schema(value_type = Vec<GradeRequest>)]
    pub items: Vec<serde_json::Value>,
    /// Whether each grade carries its `explanation` (default true). The
    /// explanation re-runs the model once per concept, so a system that only
    /// stores scores grades faster with `false`.
    #[serde(default = "explain_by_default")]
    pub explain: bool,
}

fn explain_by_default() -> bool {
    true
}

/// One item's outcome: `grade` or `error`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchItem {
    /// The item's position in the request (0-based).
    pub index: usize,
    /// The grade, when the item could be graded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grade: Option<GradeResponse>,
    /// Why not, in the same shape as an error response's `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::error::ErrorDetail>)]
    pub error: Option<super::error::ErrorDetail>,
}

/// Answer of `POST /api/v1/grade/batch`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    /// One entry per item, in request order.
    pub results: Vec<BatchItem>,
    /// The model that graded every item of this batch.
    pub model: ModelRef,
    /// How many items were graded, and how many failed.
    pub graded: usize,
    /// How many items failed (see their `error`).
    pub failed: usize,
}

/// Grades up to `--batch-max-items` essays in one request.
#[utoipa::path(
    post,
    path = "/api/v1/grade/batch",
    tag = "grading",
    request_body = BatchRequest,
    security((), ("api_key" = [])),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 200, description = "One result per item, in order", body = BatchResponse),
        (status = 413, description = "Body over the batch limit", body = ErrorBody),
        (status = 422, description = "No items, or more than the maximum", body = ErrorBody),
        (status = 503, description = "No model loaded, or the grading CPU is saturated (code \
            `overloaded`, with `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn grade_batch(
    _access: GradingAccess,
    State(state): State<AppState>,
    Json(request): Json<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    let started = Instant::now();
    let max = state.settings.batch_max_items;
    let n = request.items.len();
    if n == 0 {
        return Err(ApiError::field("items", "must contain at least one essay"));
    }
    if n > max {
        return Err(ApiError::field(
            "items",
            format!("holds {n} essays; a batch takes at most {max}"),
        ));
    }
    let model = current_model(&state)?;
    let explain_requested = request.explain;

    // Parse and resolve every item first (cheap, may touch the database for
    // uncached prompts); only the valid ones go on to be graded.
    let mut errors: Vec<Option<ApiError>> = Vec::with_capacity(n);
    let mut work: Vec<(usize, Arc<PreparedPrompt>, String)> = Vec::with_capacity(n);
    // Per item, the registered prompt whose calibration applies, if any.
    let mut calibrate_for: Vec<Option<String>> = Vec::with_capacity(n);
    for (index, item) in request.items.into_iter().enumerate() {
        let path = format!("items[{index}]");
        match resolve_item(&state, item, &path).await {
            Ok((prompt, essay, calibrate)) => {
                work.push((index, prompt, essay));
                errors.push(None);
                calibrate_for.push(calibrate);
            }
            Err(err) => {
                errors.push(Some(err));
                calibrate_for.push(None);
            }
        }
    }

    let grader = model.clone();
    let explain = if explain_requested {
        Explain::Yes
    } else {
        Explain::No
    };
    // Set when this handler's future is dropped (the 408 timeout, or the
    // client went away): the grading threads stop at their next chunk.
    let abandoned = Arc::new(AtomicBool::new(false));
    let _abandon_on_drop = AbandonOnDrop(abandoned.clone());
    let graded: Vec<(usize, Grade)> = if work.is_empty() {
        Vec::new()
    } else {
        let slots = state.grading_slots.clone();
        let mut slot = slots.acquire(SlotUse::Batch).await?;
        // Below a few dozen essays a thread costs more than it saves.
        let useful_threads = work.len().div_ceil(MIN_ESSAYS_PER_THREAD);
        let threads = slots.take_idle(&mut slot, useful_threads.saturating_sub(1));
        tokio::task::spawn_blocking(move || {
            // The slots stay taken until the CPU work ends, even when the
            // request has been abandoned.
            let _slot = slot;
            grade_in_parallel(&grader, &work, explain, threads, &abandoned, &slots)
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("grading a batch")))?
    };

    let mut grades: Vec<Option<Grade>> = (0..n).map(|_| None).collect();
    for (index, grade) in graded {
        grades[index] = Some(grade);
    }
    let mut failed = 0;
    let results = grades
        .into_iter()
        .zip(errors)
        .enumerate()
        .map(|(index, (grade, error))| {
            let error = error.map(|e| e.body().error);
            failed += usize::from(error.is_some());
            BatchItem {
                index,
                grade: grade.map(|mut g| {
                    let calibrated =
                        calibrate_grade(&model, calibrate_for[index].as_deref(), &mut g);
                    GradeResponse::new(g, &model, calibrated)
                }),
                error,
            }
        })
        .collect();
    metrics::histogram!("grading_duration_seconds", "kind" => "batch")
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("graded_essays_total").increment((n - failed) as u64);
    Ok(Json(BatchResponse {
        results,
        model: ModelRef {
            id: model.id.clone(),
            version: model.version,
        },
        graded: n - failed,
        failed,
    }))
}

/// Essays per `grade_batch` call. The model builds a block of occlusion rows
/// per essay, so a call's matrices grow with the chunk; measured in process
/// on one core of the loaded 2-core machine (`bench http`, 1,000 CommonLit
/// essays), the default model graded 2,110-2,230 essays/s at 4 per call,
/// 2,340-2,490 at 128 and 2,425-2,445 at 1,000, while a provisional model
/// with a wider network was fastest at 4 (1,740 vs 1,100 at 1,000). 128 is
/// near the best for both and bounds the memory of one call.
const GRADE_CHUNK: usize = 128;

/// Fewest essays worth a thread of their own.
const MIN_ESSAYS_PER_THREAD: usize = 32;

/// Sets its flag when dropped: owned by the batch handler's future, so the
/// flag says that nobody waits for the batch's answer any more.
struct AbandonOnDrop(Arc<AtomicBool>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Grades the items on `threads` threads (one per slot held), each taking a
/// contiguous share and running the model over it a chunk at a time. Before
/// each chunk a thread checks `abandoned` and stops when it is set, so an
/// abandoned batch stops within one chunk per thread.
fn grade_in_parallel(
    model: &ActiveModel,
    work: &[(usize, Arc<PreparedPrompt>, String)],
    explain: Explain,
    threads: usize,
    abandoned: &AtomicBool,
    slots: &GradingSlots,
) -> Vec<(usize, Grade)> {
    let share = work.len().div_ceil(threads.max(1)).max(1);
    let grade_share = |items: &[(usize, Arc<PreparedPrompt>, String)]| {
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(GRADE_CHUNK) {
            if abandoned.load(Ordering::Relaxed) {
                break;
            }
            let pairs: Vec<(&PreparedPrompt, &str)> = chunk
                .iter()
                .map(|(_, p, e)| (p.as_ref(), e.as_str()))
                .collect();
            let grades = model.grader.grade_batch_with(&pairs, explain);
            slots.count_batch_essays(grades.len());
            out.extend(chunk.iter().map(|(i, _, _)| *i).zip(grades));
        }
        out
    };
    if work.len() <= share {
        return grade_share(work);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .chunks(share)
            .map(|c| scope.spawn(move || grade_share(c)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("grading does not panic"))
            .collect()
    })
}

/// An item's prepared prompt, its essay, and the registered prompt whose
/// calibration applies to it (none for an inline prompt or `calibrate: false`).
async fn resolve_item(
    state: &AppState,
    item: serde_json::Value,
    path: &str,
) -> Result<(Arc<PreparedPrompt>, String, Option<String>), ApiError> {
    let request: GradeRequest = super::extract::from_value(item, path)?;
    check_essay(state, &request.essay, &format!("{path}.essay"))?;
    let calibrate_for = request.prompt_id.clone().filter(|_| request.calibrate);
    let prompt = resolve_prompt(state, request.prompt_id, request.prompt, path).await?;
    Ok((prompt, request.essay, calibrate_for))
}

fn current_model(state: &AppState) -> Result<Arc<ActiveModel>, ApiError> {
    state.model.current().ok_or_else(|| ApiError::Unavailable {
        message: state.model.why_unavailable(),
    })
}

/// The essay, if it has something besides white space and is at most
/// `--essay-max-chars` characters long.
fn check_essay<'a>(state: &AppState, essay: &'a str, field: &str) -> Result<&'a str, ApiError> {
    if essay.trim().is_empty() {
        return Err(ApiError::field(
            field,
            "must not be empty or only white space",
        ));
    }
    let max = state.settings.essay_max_chars;
    if let Some(n) = chars_over(essay, max) {
        return Err(ApiError::field(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    Ok(essay)
}

/// The prepared prompt named by exactly one of `prompt_id` and `prompt`.
async fn resolve_prompt(
    state: &AppState,
    prompt_id: Option<String>,
    inline: Option<InlinePrompt>,
    path: &str,
) -> Result<Arc<PreparedPrompt>, ApiError> {
    let at = |field: &str| {
        if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    match (prompt_id, inline) {
        (Some(id), None) => match state.prompts.get(&state.db, &id).await? {
            Some(cached) => Ok(cached.prepared.clone()),
            None => Err(ApiError::NotFound { what: "prompt", id }),
        },
        (None, Some(prompt)) => {
            let problems = prompt_size_problems(
                &state.settings,
                &at("prompt"),
                &prompt.title,
                &prompt.question,
                &prompt.text,
            );
            if !problems.is_empty() {
                return Err(ApiError::fields(problems));
            }
            Ok(state.inline_prompts.prepare(prompt).await?)
        }
        (Some(_), Some(_)) => Err(ApiError::fields(BTreeMap::from([
            (
                at("prompt_id"),
                "give either prompt_id or prompt, not both".to_owned(),
            ),
            (
                at("prompt"),
                "give either prompt_id or prompt, not both".to_owned(),
            ),
        ]))),
        (None, None) => Err(ApiError::field(
            at("prompt_id"),
            "missing: give prompt_id (a registered prompt) or prompt ({title, question, text})",
        )),
    }
}

/// Prepared inline prompts, keyed by a digest of their text, at most
/// `--inline-prompt-cache-bytes` of them (least recently used dropped first):
/// a teacher pastes the same prompt again and again, and a dropped one is
/// simply prepared again.
#[derive(Debug, Clone)]
pub struct InlinePromptCache {
    /// SHA-256 of (title, question, text) -> the prepared prompt.
    entries: Arc<BoundedCache<[u8; 32], PreparedPrompt>>,
    /// Preparing a prompt is CPU work: it takes a grading slot.
    slots: GradingSlots,
}

impl Default for InlinePromptCache {
    fn default() -> Self {
        Self::new(
            crate::config::Settings::default().inline_prompt_cache_bytes,
            GradingSlots::default(),
        )
    }
}

impl InlinePromptCache {
    /// An empty cache holding at most `budget` bytes of prepared prompts,
    /// preparing them in `slots`.
    pub fn new(budget: usize, slots: GradingSlots) -> Self {
        Self {
            entries: Arc::new(BoundedCache::new("inline", budget)),
            slots,
        }
    }

    /// The estimated memory of the cached prompts, in bytes.
    pub fn bytes(&self) -> usize {
        self.entries.bytes()
    }

    /// The prepared form of an inline prompt, from the cache or computed on a
    /// blocking thread holding a grading slot (the source text can run to
    /// thousands of words); 503 when the grading CPU is saturated.
    pub async fn prepare(&self, prompt: InlinePrompt) -> Result<Arc<PreparedPrompt>, ApiError> {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in [&prompt.title, &prompt.question, &prompt.text] {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&hasher.finalize());
        if let Some(hit) = self.entries.get(&key) {
            return Ok(hit);
        }
        let slot = self.slots.acquire(SlotUse::Prompt).await?;
        let prepared = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            Arc::new(PreparedPrompt::new(&Prompt {
                title: prompt.title,
                question: prompt.question,
                text: prompt.text,
            }))
        })
        .await
        .map_err(|e| {
            ApiError::Internal(anyhow::Error::new(e).context("preparing an inline prompt"))
        })?;
        let bytes = prepared.heap_bytes();
        self.entries.insert(key, prepared.clone(), bytes);
        Ok(prepared)
    }
}
