//! The HTTP layer: the shared application state, the router composition, and
//! one module per resource, each exposing `router()`.
//!
//! Cross-cutting behaviour is applied here, once, for every route (outermost
//! first): request tracing, the security headers, request metrics, the
//! client's address and its rate limit, compression, the JSON shape for bare
//! and plain-text error responses, the catch-panic layer (a panicking handler
//! answers a JSON 500 and the connection lives on), the timeout, and the
//! per-route body-size limit. Handlers parse requests with [`extract::Json`],
//! [`extract::Path`] and [`extract::Query`] and fail with
//! [`error::ApiError`]; admin routes take an [`auth::AdminAuth`] argument.
//!
//! It sits on top: it may use every library module (`jobs`, `store`,
//! `experiments`, `grader`, `training`, `features`, `nn`), and none of them
//! uses it.

use std::sync::Arc;

use crate::store::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Settings;

pub mod activation_follower;
pub mod active_model;
pub mod auth;
pub mod bounded_cache;
pub mod calibrations;
pub mod client;
pub mod datasets;
pub mod error;
pub mod examples;
pub mod extract;
pub mod grading;
pub mod grading_slots;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod models;
pub mod openapi;
pub mod pages;
pub mod paging;
pub mod prompts;
pub mod rate_limit;
pub mod run_plots;
pub mod runs;
pub mod scale;
pub mod security_headers;
pub mod throttle;
pub mod train_options;

pub use active_model::{ActiveModel, ModelHandle};
pub use auth::{AdminAuth, GradingAccess};
pub use error::ApiError;
pub use prompts::PromptCache;

/// What every handler can reach. Cloning is cheap: every field is a handle
/// onto shared state.
#[derive(Clone)]
pub struct AppState {
    /// The SQLite pool: every durable read and write goes through `store` with it.
    pub db: Db,
    /// The model grading right now, swapped atomically on activation.
    pub model: ModelHandle,
    /// Whether the database takes writes, by the last write probe (see
    /// `startup::probe_writes`), for `/ready`.
    pub db_writes: crate::store::writability::WriteHealth,
    /// Registered prompts, prepared once for fast grading.
    pub prompts: PromptCache,
    /// Prompts sent inline with grading requests, prepared once per distinct text.
    pub inline_prompts: grading::InlinePromptCache,
    /// The grading CPU's slots and waiting room: every CPU-heavy piece of
    /// request work takes a slot, and a request finding them all busy and
    /// the waiting room full is shed with 503.
    pub grading_slots: grading_slots::GradingSlots,
    /// The service's settings (limits, timeouts, ...), fixed at start-up.
    pub settings: Arc<Settings>,
    /// Digests of the admin token and the API keys.
    pub credentials: Arc<auth::Credentials>,
    /// Renders `/metrics`; the recorder behind it is process-wide.
    pub metrics: PrometheusHandle,
    /// Serialises model activations so that the recorded order and the
    /// in-memory swaps agree.
    pub activation_lock: Arc<tokio::sync::Mutex<()>>,
    /// Serialises calibration refits (examples written, a model activated),
    /// so an older refit never overwrites a newer one. Grading never takes it.
    pub calibration_lock: Arc<tokio::sync::Mutex<()>>,
    /// The training-job queue: handlers enqueue and cancel jobs and follow
    /// their live progress through it; its workers run in the background.
    pub jobs: crate::jobs::JobQueue,
    /// Requests per client over time (429 past the limit).
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
    /// Failed sign-ins and unknown bearer / API-key secrets per address.
    pub throttle: Arc<throttle::AuthThrottle>,
    /// SHA-256 of `ESSAY_GRADER_METRICS_TOKEN`; when set, `/metrics` needs it.
    pub metrics_token: Option<[u8; 32]>,
    /// Live job event streams per admin session, to cap them.
    pub event_streams: jobs::EventStreamSlots,
}

/// The whole application: every resource's routes and the shared layers.
pub fn router(state: AppState) -> Router {
    with_shared_layers(routes(&state.settings), state)
}

/// Every resource's routes, without the shared layers.
fn routes(settings: &Settings) -> Router<AppState> {
    Router::new()
        .merge(pages::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router(settings))
        .merge(auth::router())
        .merge(grading::router())
        .merge(prompts::router())
        .merge(examples::router())
        .merge(models::router())
        .merge(datasets::router())
        .merge(jobs::router())
        .merge(runs::router())
        .merge(run_plots::router())
        .merge(scale::router())
        .merge(train_options::router())
}

/// Wraps `routes` in the layers every route of the service shares, with the
/// JSON 404 for unknown paths. Public so that tests can put routes that exist
/// only for them (one that panics, one that is slow) behind the same layers.
pub fn with_shared_layers(routes: Router<AppState>, state: AppState) -> Router {
    let timeout = state.settings.request_timeout();
    routes
        .fallback(no_route)
        // Innermost first: the limit must wrap the handlers' body reads.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            extract::limit_body,
        ))
        // Our limit_body replaces axum's fixed 2 MB default with per-route limits.
        .layer(DefaultBodyLimit::disable())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(error::panic_response))
        // Inside compression, so that it reads error texts before they are
        // compressed.
        .layer(middleware::map_response(error::shape_bare_errors))
        .layer(CompressionLayer::new())
        // Admission: who the client is, then whether it is over its rate.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_rate,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            client::identify_client,
        ))
        .layer(middleware::from_fn(metrics::track_requests))
        // Outside the error shaping, so that every answer (404s, 405s,
        // timeouts) carries them.
        .layer(middleware::from_fn(security_headers::add_security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
