//! Prometheus metrics: the process-wide recorder, the request-counting
//! middleware, and `GET /metrics`.
//!
//! Metric names (other modules record theirs with the `metrics` macros):
//! - `http_requests_total{method, route, status}` and
//!   `http_request_duration_seconds{method, route}`: every request, by the
//!   route *pattern* (`/api/v1/models/{id}`), so ids do not explode the label set.
//! - `grading_duration_seconds{kind="single"|"batch"}`: time to grade, in the handler.
//! - `graded_essays_total`: essays graded (a batch counts each item).
//! - `model_active_version`: the version of the model grading now.
//! - `jobs{status}` and `job_queue_depth`: recorded by the job queue.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// Latency buckets in seconds: fine below 20 ms, where grading should sit,
/// coarse above.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use.
///
/// A process can install only one global recorder, and the tests start many
/// apps in one process, so the handle is created once and shared. A
/// background thread drains histogram samples every few seconds; without it
/// they would pile up in memory between scrapes.
pub fn prometheus_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .expect("the bucket list is not empty");
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Someone else installed a global recorder first (only possible
                // if an embedding program did); keep ours private then, so
                // /metrics still renders, though the macros record elsewhere.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            };
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .expect("spawn the metrics upkeep thread");
            handle
        })
        .clone()
}

/// Middleware: counts each request by method, route pattern and status, and
/// times it.
pub async fn track_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render_metrics))
}

/// Prometheus text exposition of every metric.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
pub async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
