//! A sweep run's comparison plots, drawn by the server as SVG (admin):
//! `GET /api/v1/runs/{id}/plots` lists them and
//! `GET /api/v1/runs/{id}/plots/{name}` draws one. They are the plots
//! `essay-grader sweep` writes beside its report (validation loss of each
//! optimizer's best cell, MCRMSE by depth, by activation and by optimizer),
//! drawn from the report the run stored. Other runs have none: their loss
//! curves are `GET /api/v1/runs/{id}/curves.svg`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::auth::AdminAuth;
use super::error::ApiError;
use super::extract::{Json, Path};
use crate::experiments::sweep::SweepReport;
use crate::store::{self, runs::RunRow};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/runs/{id}/plots", get(list_run_plots))
        .route("/api/v1/runs/{id}/plots/{name}", get(get_run_plot))
}

/// One plot of a run.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlotLink {
    /// Its file name, e.g. `mcrmse_by_depth.svg`.
    pub name: String,
    /// Where to get it.
    pub href: String,
}

/// Answer of `GET /api/v1/runs/{id}/plots`.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlotList {
    /// The run's plots; empty for a run that is not a finished sweep.
    pub plots: Vec<PlotLink>,
}

/// The comparison plots of a sweep run.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/plots",
    tag = "runs",
    security(("admin" = [])),
    params(("id" = String, Path, description = "The run id")),
    responses(
        (status = 200, description = "The plots (none unless a finished sweep)", body = PlotList),
        (status = 404, description = "No such run", body = super::error::ErrorBody),
    )
)]
pub async fn list_run_plots(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlotList>, ApiError> {
    let run = find_run(&state, id).await?;
    let plots = match sweep_report(&run)? {
        None => Vec::new(),
        Some(report) => draw(report)
            .await?
            .into_iter()
            .map(|(name, _)| PlotLink {
                href: format!("/api/v1/runs/{}/plots/{name}", run.id),
                name: name.to_owned(),
            })
            .collect(),
    };
    Ok(Json(PlotList { plots }))
}

/// One comparison plot of a sweep run, as SVG.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/plots/{name}",
    tag = "runs",
    security(("admin" = [])),
    params(
        ("id" = String, Path, description = "The run id"),
        ("name" = String, Path, description = "The plot's name, from the list"),
    ),
    responses(
        (status = 200, description = "The plot", content_type = "image/svg+xml"),
        (status = 404, description = "No such run, or no such plot of it", body = super::error::ErrorBody),
    )
)]
pub async fn get_run_plot(
    _admin: AdminAuth,
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let run = find_run(&state, id).await?;
    let missing = || ApiError::NotFound {
        what: "plot",
        id: name.clone(),
    };
    let report = sweep_report(&run)?.ok_or_else(missing)?;
    let svg = draw(report)
        .await?
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, svg)| svg)
        .ok_or_else(missing)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg))
}

async fn find_run(state: &AppState, id: String) -> Result<RunRow, ApiError> {
    store::runs::get_run(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound { what: "run", id })
}

/// The report of a finished sweep run; `None` for any other run.
fn sweep_report(run: &RunRow) -> Result<Option<SweepReport>, ApiError> {
    let Some(metrics) = run.metrics.as_deref().filter(|_| run.kind == "sweep") else {
        return Ok(None);
    };
    serde_json::from_str(metrics).map(Some).map_err(|err| {
        ApiError::Internal(anyhow::anyhow!(
            "run {} stored a sweep report that does not read: {err}",
            run.id
        ))
    })
}

/// Draws the report's plots off the async executor (plotting is CPU work).
async fn draw(report: SweepReport) -> Result<Vec<(&'static str, String)>, ApiError> {
    tokio::task::spawn_blocking(move || report.plots())
        .await
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("drawing a sweep's plots failed: {err}")))
}
