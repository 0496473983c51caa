//! Prometheus metrics: the process-wide recorder, the request-counting
//! middleware, and `GET /metrics`.
//!
//! Metric names (other modules record theirs with the `metrics` macros):
//! - `http_requests_total{method, route, status}` and
//!   `http_request_duration_seconds{method, route}`: every request. Each label
//!   takes a closed set of values, so no client can grow the label set: the
//!   method is one of [`KNOWN_METHODS`] or `OTHER`; the route is the matched
//!   route *template* (`/api/v1/models/{id}`), or `unmatched`.
//! - `http_rate_limited_total`, `auth_throttled_total{kind}`: refusals of
//!   admission control (`rate_limit.rs`, `throttle.rs`).
//! - `grading_duration_seconds{kind="single"|"batch"}`: time to grade, in the handler.
//! - `graded_essays_total`: essays graded (a batch counts each item).
//! - `model_active_version`: the version of the model grading now.
//! - `jobs{status}` and `job_queue_depth`: recorded by the job queue.
//!
//! When `ESSAY_GRADER_METRICS_TOKEN` is set, `GET /metrics` needs it as a
//! bearer token (compared as digests, in constant time); an unknown secret
//! counts toward the credential throttle like any other.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::auth;
use super::client::ClientIp;
use super::error::ApiError;

/// The methods counted by name; any other is counted as `OTHER`.
pub const KNOWN_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// The `method` label of a request: a known method's name, else `OTHER`
/// (an extension method such as `FOOBAR` would otherwise be a new series).
pub fn method_label(method: &Method) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|known| *known == method)
        .map_or("OTHER", Method::as_str)
}

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
    // A matched path is one of our route templates, never the request's path.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
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
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "ESSAY_GRADER_METRICS_TOKEN is set and the request does not carry it", body = super::error::ErrorBody),
        (status = 429, description = "Over the rate limit, or too many failed credentials; see Retry-After", body = super::error::ErrorBody),
    )
)]
pub async fn render_metrics(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(expected) = &state.metrics_token {
        let presented = auth::presented_secret(&headers);
        state.throttle.before_secret(client, presented)?;
        let matches = presented.is_some_and(|secret| {
            subtle::ConstantTimeEq::ct_eq(&auth::digest(secret)[..], &expected[..]).into()
        });
        if !matches {
            let refusal = ApiError::Unauthorized {
                message: "/metrics needs the metrics token: send `Authorization: Bearer <token>`"
                    .to_owned(),
            };
            return Err(state.throttle.after_refusal(
                client,
                presented,
                &state.credentials,
                refusal,
            ));
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_methods_are_labelled_by_name() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        let invented = Method::from_bytes(b"FOOBAR").unwrap();
        assert_eq!(method_label(&invented), "OTHER");
        assert_eq!(method_label(&Method::TRACE), "OTHER");
    }
}
