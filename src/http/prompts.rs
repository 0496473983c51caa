//! Registered prompts: `POST /api/v1/prompts`, `GET /api/v1/prompts`,
//! `GET /api/v1/prompts/{id}`, and the in-memory cache of their prepared
//! form (bounded by bytes, filled on first use), so that grading against a
//! registered prompt costs only the essay's time.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::AppState;
use super::auth::{GradingAccess, PromptWriteAccess};
use super::bounded_cache::BoundedCache;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::grading_slots::{GradingSlots, SlotUse};
use crate::features::{PreparedPrompt, Prompt};
use crate::store::{self, prompts::PromptInsert, prompts::PromptRecord};

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
    /// The estimated memory of this entry: the prepared form and the record.
    pub fn heap_bytes(&self) -> usize {
        let record = &self.record;
        std::mem::size_of::<Self>()
            + self.prepared.heap_bytes()
            + [
                &record.id,
                &record.title,
                &record.question,
                &record.text,
                &record.created_at,
            ]
            .iter()
            .map(|s| s.capacity())
            .sum::<usize>()
    }

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

/// Prepared prompts by id, at most `--prompt-cache-bytes` of them (by
/// [`PreparedPrompt::heap_bytes`]), the least recently graded against dropped
/// first. Filled on registration and on demand: a miss prepares the prompt
/// again from the database (it may have been dropped, or registered through
/// another replica), so the cache is only ever an accelerator and start-up
/// prepares nothing.
#[derive(Debug, Clone)]
pub struct PromptCache {
    /// Prompt id -> its prepared form.
    entries: Arc<BoundedCache<String, CachedPrompt>>,
    /// Preparing a prompt is CPU work: it takes a grading slot.
    slots: GradingSlots,
}

impl Default for PromptCache {
    fn default() -> Self {
        Self::new(
            crate::config::Settings::default().prompt_cache_bytes,
            GradingSlots::default(),
        )
    }
}

impl PromptCache {
    /// An empty cache holding at most `budget` bytes of prepared prompts,
    /// preparing them in `slots`.
    pub fn new(budget: usize, slots: GradingSlots) -> Self {
        Self {
            entries: Arc::new(BoundedCache::new("registered", budget)),
            slots,
        }
    }

    /// The cached prompt, without touching the database.
    pub fn cached(&self, id: &str) -> Option<Arc<CachedPrompt>> {
        self.entries.get(id)
    }

    /// Adds (or replaces) a prepared prompt, dropping the least recently used
    /// ones if the budget needs it.
    pub fn insert(&self, prompt: Arc<CachedPrompt>) {
        let bytes = prompt.heap_bytes();
        let id = prompt.record.id.clone();
        if !self.entries.insert(id, prompt, bytes) {
            tracing::warn!(
                bytes,
                budget = self.entries.budget(),
                "a prepared prompt is larger than the whole prompt cache; it is not cached"
            );
        }
    }

    /// The prompt by id: from the cache, else from the database (then
    /// cached); `None` when no such prompt is registered.
    pub async fn get(
        &self,
        pool: &crate::store::Db,
        id: &str,
    ) -> Result<Option<Arc<CachedPrompt>>, ApiError> {
        self.get_admitted(pool, id, Admission::Shed).await
    }

    /// Like [`get`](Self::get), but a preparation waits for a grading slot
    /// instead of being shed: for calibration refits, which run after their
    /// request has stored its examples (a 503 then would misreport a write
    /// that happened) and are serialised by the calibration lock.
    pub async fn get_patiently(
        &self,
        pool: &crate::store::Db,
        id: &str,
    ) -> Result<Option<Arc<CachedPrompt>>, ApiError> {
        self.get_admitted(pool, id, Admission::Wait).await
    }

    async fn get_admitted(
        &self,
        pool: &crate::store::Db,
        id: &str,
        admission: Admission,
    ) -> Result<Option<Arc<CachedPrompt>>, ApiError> {
        if let Some(hit) = self.cached(id) {
            return Ok(Some(hit));
        }
        let Some(record) = store::prompts::get_prompt(pool, id).await? else {
            return Ok(None);
        };
        let prepared = Arc::new(self.prepare(record, admission).await?);
        self.insert(prepared.clone());
        Ok(Some(prepared))
    }

    /// Prepares a prompt on a blocking thread, holding a grading slot (the
    /// prompt text can run to thousands of words); 503 when the grading CPU
    /// is saturated.
    async fn prepare(
        &self,
        record: PromptRecord,
        admission: Admission,
    ) -> Result<CachedPrompt, ApiError> {
        let slot = match admission {
            Admission::Shed => self.slots.acquire(SlotUse::Prompt).await?,
            Admission::Wait => self.slots.acquire_patiently().await?,
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            CachedPrompt::new(record)
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("preparing a prompt")))
    }

    /// How many prompts are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no prompt is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The estimated memory of the cached prompts, in bytes.
    pub fn bytes(&self) -> usize {
        self.entries.bytes()
    }
}

/// How a preparation gets its grading slot.
#[derive(Debug, Clone, Copy)]
enum Admission {
    /// Through the waiting room; 503 when it is full.
    Shed,
    /// Waiting as long as it takes.
    Wait,
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

/// The size caps of a prompt's parts: the problems of `title`, `question`
/// and `text` (under `path`, e.g. `items[3].prompt`), by JSON path. The same
/// caps apply to registered and inline prompts.
pub fn prompt_size_problems(
    settings: &crate::config::Settings,
    path: &str,
    title: &str,
    question: &str,
    text: &str,
) -> BTreeMap<String, String> {
    let at = |field: &str| {
        if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    [
        ("title", title, settings.prompt_title_max_chars),
        ("question", question, settings.prompt_question_max_chars),
        ("text", text, settings.prompt_text_max_chars),
    ]
    .into_iter()
    .filter_map(|(field, value, max)| {
        chars_over(value, max).map(|n| {
            (
                at(field),
                format!("is {n} characters long; at most {max} are allowed"),
            )
        })
    })
    .collect()
}

/// The length of `value` in characters when it is over `max`.
pub fn chars_over(value: &str, max: usize) -> Option<usize> {
    // A string has at least as many bytes as characters: most values are
    // decided without counting.
    if value.len() <= max {
        return None;
    }
    let n = value.chars().count();
    (n > max).then_some(n)
}

/// Registers a prompt (prepared when first graded against). Needs the admin token or
/// an API key: every prompt costs memory and a row, so anonymous clients may
/// not add them.
#[utoipa::path(
    post,
    path = "/api/v1/prompts",
    tag = "prompts",
    security((), ("api_key" = [])),
    request_body = CreatePrompt,
    security(("api_key" = []), ("admin" = [])),
    responses(
        (status = 403, description = "The session cookie came with a write that did not come from this service's pages (no `Sec-Fetch-Site: same-origin` or matching `Origin`)", body = super::error::ErrorBody),
        (status = 201, description = "Registered", body = PromptRecord),
        (status = 401, description = "No API key or admin credentials", body = super::error::ErrorBody),
        (status = 409, description = "The id is taken", body = super::error::ErrorBody),
        (status = 413, description = "Body over the single-essay limit", body = super::error::ErrorBody),
        (status = 422, description = "Invalid fields: a bad id, an empty text, a part over its \
            length cap, or the service already holds `--max-prompts` prompts", body = super::error::ErrorBody),
    )
)]
pub async fn create_prompt(
    _access: PromptWriteAccess,
    State(state): State<AppState>,
    Json(request): Json<CreatePrompt>,
) -> Result<(StatusCode, Json<PromptRecord>), ApiError> {
    let mut problems = prompt_size_problems(
        &state.settings,
        "",
        &request.title,
        &request.question,
        &request.text,
    );
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
    let max = state.settings.max_prompts;
    let record = match store::prompts::insert_prompt_within(
        &state.db,
        &id,
        &request.title,
        &request.question,
        &request.text,
        i64::try_from(max).unwrap_or(i64::MAX),
    )
    .await?
    {
        PromptInsert::Inserted(record) => record,
        PromptInsert::IdTaken => {
            return Err(ApiError::Conflict {
                message: format!("a prompt with id {id:?} is already registered"),
            });
        }
        PromptInsert::Full => {
            return Err(ApiError::field(
                "body",
                format!(
                    "the service already holds {max} prompts, the most it takes \
                     (ESSAY_GRADER_MAX_PROMPTS)"
                ),
            ));
        }
    };
    // Not prepared here: the first grade against it prepares it, so a
    // registration never waits for (or is shed by) the grading CPU.
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
    // Reading a prompt does not prepare it.
    if let Some(cached) = state.prompts.cached(&id) {
        return Ok(Json(cached.record.clone()));
    }
    match store::prompts::get_prompt(&state.db, &id).await? {
        Some(record) => Ok(Json(record)),
        None => Err(ApiError::NotFound { what: "prompt", id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text of exactly `chars` characters in sentences of made-up words,
    /// nearly all distinct, which makes the prepared tables as large as text
    /// of that length can make them.
    fn varied_text(chars: usize) -> String {
        const SYLLABLES: [&str; 16] = [
            "ka", "lo", "mi", "ne", "su", "ta", "ri", "vo", "pe", "da", "go", "hu", "ba", "ze",
            "fi", "wu",
        ];
        let mut text = String::new();
        let mut n: u32 = 1;
        while text.len() < chars {
            let mut k = n;
            for _ in 0..4 {
                text.push_str(SYLLABLES[(k % 16) as usize]);
                k /= 16;
            }
            text.push_str(if n % 12 == 0 { ". " } else { " " });
            n += 1;
        }
        text.truncate(chars);
        text
    }

    #[test]
    fn the_largest_prompt_allowed_by_default_fits_in_the_smallest_cache_allowed() {
        let settings = crate::config::Settings::default();
        let record = PromptRecord {
            id: "p".to_owned(),
            title: "t".repeat(settings.prompt_title_max_chars),
            question: varied_text(settings.prompt_question_max_chars),
            text: varied_text(settings.prompt_text_max_chars),
            created_at: "2026-12-02T00:00:00Z".to_owned(),
        };
        let bytes = CachedPrompt::new(record).heap_bytes();
        eprintln!("largest default prompt: {bytes} bytes prepared");
        assert!(bytes < crate::config::MIN_PROMPT_CACHE_BYTES, "{bytes}");
    }

    #[test]
    fn a_prompt_over_its_caps_is_refused_part_by_part_with_its_path() {
        let settings = crate::config::Settings {
            prompt_title_max_chars: 3,
            prompt_text_max_chars: 5,
            ..crate::config::Settings::default()
        };
        let problems = prompt_size_problems(&settings, "items[2].prompt", "éééé", "q", "12345");
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            ["items[2].prompt.title"]
        );
        assert!(problems["items[2].prompt.title"].contains("4 characters"));
        let problems = prompt_size_problems(&settings, "", "abc", "q", "123456");
        assert_eq!(problems.keys().collect::<Vec<_>>(), ["text"]);
    }

    #[test]
    fn length_caps_count_characters_not_bytes() {
        assert_eq!(chars_over("ééé", 3), None);
        assert_eq!(chars_over("éééé", 3), Some(4));
        assert_eq!(chars_over("abc", 3), None);
    }

    #[test]
    fn a_registered_prompt_evicted_from_a_small_cache_is_prepared_again_from_the_database() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (pool, _dir) = crate::store::test_db::fresh().await;
            let text = varied_text(4_000);
            for id in ["a", "b", "c"] {
                store::prompts::insert_prompt(&pool, id, "T", "Q", &text)
                    .await
                    .unwrap();
            }
            let one = CachedPrompt::new(
                store::prompts::get_prompt(&pool, "a")
                    .await
                    .unwrap()
                    .unwrap(),
            )
            .heap_bytes();
            // Room for two prompts, not three.
            let cache = PromptCache::new(one * 5 / 2, GradingSlots::new(1, 0));
            for id in ["a", "b", "c"] {
                assert!(cache.get(&pool, id).await.unwrap().is_some());
            }
            assert_eq!(cache.len(), 2);
            assert!(cache.bytes() <= one * 5 / 2);
            assert!(cache.cached("a").is_none(), "the least recently used went");
            let again = cache.get(&pool, "a").await.unwrap().unwrap();
            assert_eq!(again.record.text, text);
            assert!(cache.cached("a").is_some());
            assert!(cache.get(&pool, "nope").await.unwrap().is_none());
        });
    }

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
