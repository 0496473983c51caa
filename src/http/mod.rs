//! The HTTP layer: the shared application state, the router composition, and
//! one module per resource, each exposing `router()`.
//!
//! Cross-cutting behaviour is applied here, once, for every route (outermost
//! first): request tracing, the JSON shape for bare error responses, request
//! metrics, compression, the timeout, and the per-route body-size limit.
//! Handlers parse bodies with [`extract::Json`] and fail with
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
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Settings;

pub mod activation_follower;
pub mod active_model;
pub mod auth;
pub mod bounded_cache;
pub mod calibrations;
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
pub mod prompts;
pub mod run_plots;
pub mod runs;
pub mod scale;
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
}

/// The whole application: every resource's routes and the shared layers.
pub fn router(state: AppState) -> Router {
    let timeout = state.settings.request_timeout();
    Router::new()
        .merge(pages::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
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
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(metrics::track_requests))
        .layer(middleware::map_response(error::shape_bare_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
