//! Runs over HTTP (admin), in the manner of MLflow: a run's config, final
//! metrics and timings; its metric history as (name, step, value,
//! timestamp); and its loss curves drawn as SVG by
//! `experiments::plots::loss_curves_svg`. Runs are written by the job queue;
//! this file only reads them.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use super::auth::AdminAuth;
use super::error::ApiError;
use super::extract::{Json, Path};
use crate::store::{
    self,
    runs::{MetricPoint, RunRow},
};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/runs/{id}", get(get_run))
        .route("/api/v1/runs/{id}/metrics", get(get_run_metrics))
        .route("/api/v1/runs/{id}/curves.svg", get(get_run_curves))
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunView {
    /// The run's id.
    pub id: String,
    /// The job that writes it.
    pub job_id: String,
    /// train, cv or sweep.
    pub kind: String,
    /// Mirrors the job's status.
    pub status: String,
    /// The dataset it used.
    pub dataset_id: String,
    /// The full config it used (the default merged with the request), or the sweep grid.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Final metrics once it succeeded (e.g. pooled CV MCRMSE and per target).
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    /// Timings once it ended (`seconds`, and when it was queued, started, finished).
    #[schema(value_type = Option<Object>)]
    pub timings: Option<Value>,
    /// When its job was queued.
    pub created_at: String,
    /// When its last attempt started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Related resources.
    pub links: RunLinks,
}

/// Links from a run.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunLinks {
    /// Its metric history.
    pub metrics: String,
    /// Its loss curves.
    pub curves: String,
    /// Its job.
    pub job: String,
}

/// Answer of `GET /api/v1/runs/{id}/metrics`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunMetrics {
    /// The run.
    pub run_id: String,
    /// Every sample, ordered by name then step.
    pub metrics: Vec<MetricSample>,
}

/// One metric sample.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricSample {
    /// E.g. `fold_1/val_loss` or `train_loss`.
    pub name: String,
    /// The epoch for losses; 0 for summaries.
    pub step: i64,
    /// The value.
    pub value: f64,
    /// When it was measured (RFC 3339 UTC).
    pub timestamp: String,
}

/// One run: config, final metrics, timings.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The run id")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 404, description = "No such run", body = super::error::ErrorBody),
    )
)]
pub async fn get_run(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = find_run(&state, id).await?;
    Ok(Json(view(run)))
}

/// The run's metric history: every (name, step, value, timestamp).
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/metrics",
    tag = "runs",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The run id")),
    responses(
        (status = 200, description = "The history", body = RunMetrics),
        (status = 404, description = "No such run", body = super::error::ErrorBody),
    )
)]
pub async fn get_run_metrics(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunMetrics>, ApiError> {
    let run = find_run(&state, id).await?;
    let metrics = store::runs::list_metrics(&state.db, &run.id)
        .await?
        .into_iter()
        .map(|p| MetricSample {
            name: p.name,
            step: p.step,
            value: p.value,
            timestamp: p.timestamp,
        })
        .collect();
    Ok(Json(RunMetrics {
        run_id: run.id,
        metrics,
    }))
}

/// The run's loss curves as an SVG image: one line per loss series
/// (`train_loss`, `fold_2/val_loss`, ...), epoch on x.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/curves.svg",
    tag = "runs",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The run id")),
    responses(
        (status = 200, description = "The curves", content_type = "image/svg+xml"),
        (status = 404, description = "No such run", body = super::error::ErrorBody),
    )
)]
pub async fn get_run_curves(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = find_run(&state, id).await?;
    let points = store::runs::list_metrics(&state.db, &run.id).await?;
    let series = loss_series(&points);
    let title = format!("{} run {} ({})", run.kind, short(&run.id), run.status);
    // Drawing thousands of points is CPU work: keep it off the async executor.
    let svg = tokio::task::spawn_blocking(move || {
        crate::experiments::plots::loss_curves_svg(&title, &series)
    })
    .await
    .map_err(|err| ApiError::Internal(anyhow::anyhow!("drawing the curves failed: {err}")))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg))
}

/// The loss series of a history: every metric whose name ends in `_loss`,
/// as (name, [(epoch, value)]) in name order.
fn loss_series(points: &[MetricPoint]) -> Vec<(String, Vec<(usize, f64)>)> {
    let mut series: BTreeMap<&str, Vec<(usize, f64)>> = BTreeMap::new();
    for point in points
        .iter()
        .filter(|p| p.name.ends_with("_loss") && p.step >= 0)
    {
        series
            .entry(&point.name)
            .or_default()
            .push((point.step as usize, point.value));
    }
    series
        .into_iter()
        .map(|(name, pts)| (name.to_owned(), pts))
        .collect()
}

async fn find_run(state: &AppState, id: String) -> Result<RunRow, ApiError> {
    store::runs::get_run(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound { what: "run", id })
}

fn view(run: RunRow) -> RunView {
    let parse =
        |text: &str| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    RunView {
        links: RunLinks {
            metrics: format!("/api/v1/runs/{}/metrics", run.id),
            curves: format!("/api/v1/runs/{}/curves.svg", run.id),
            job: format!("/api/v1/jobs/{}", run.job_id),
        },
        config: parse(&run.config),
        metrics: run.metrics.as_deref().map(parse),
        timings: run.timings.as_deref().map(parse),
        id: run.id,
        job_id: run.job_id,
        kind: run.kind,
        status: run.status,
        dataset_id: run.dataset_id,
        created_at: run.created_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_series_keep_only_losses_grouped_by_name_in_step_order() {
        let point = |name: &str, step, value| MetricPoint {
            name: name.to_owned(),
            step,
            value,
            timestamp: String::new(),
        };
        let points = [
            point("fold_1/mcrmse", 0, 0.5),
            point("fold_1/train_loss", 1, 0.9),
            point("fold_1/train_loss", 2, 0.7),
            point("fold_1/val_loss", 1, 1.0),
        ];

        let series = loss_series(&points);

        assert_eq!(
            series,
            vec![
                ("fold_1/train_loss".to_owned(), vec![(1, 0.9), (2, 0.7)]),
                ("fold_1/val_loss".to_owned(), vec![(1, 1.0)]),
            ]
        );
    }
}
