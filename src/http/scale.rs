//! `GET /api/v1/scale`: the scale the active model's scores are read on, so
//! that a page can show a score as a place among the training essays and not
//! only as a bare number.
//!
//! For each target it gives the training essays' scores at a few quantiles
//! (lowest, 10th, 25th, median, 75th, 90th, highest), how many essays the
//! model learned from, and the model's score grid when its targets are
//! ordinal (e.g. 1 to 5 in steps of 0.5). It is as open as grading is.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::auth::GradingAccess;
use super::error::ApiError;
use super::extract::Json;
use super::grading::ModelRef;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/scale", get(get_scale))
}

/// The training essays' scores of one target at a few quantiles.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TargetScale {
    /// The lowest training score.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// The median.
    pub median: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// The highest training score.
    pub max: f64,
}

/// An ordinal score grid: scores `min`, `min + step`, …, `max`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct GridView {
    /// Lowest score.
    pub min: f64,
    /// Highest score.
    pub max: f64,
    /// Distance between neighbouring scores.
    pub step: f64,
}

/// Answer of `GET /api/v1/scale`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Scale {
    /// The model these scales belong to (the active one).
    pub model: ModelRef,
    /// How many essays it was trained on.
    pub training_essays: usize,
    /// The score grid of its targets, when they are ordinal.
    pub score_grid: Option<GridView>,
    /// Each target's scale, by name.
    pub targets: BTreeMap<String, TargetScale>,
}

/// The scale of the active model's scores.
#[utoipa::path(
    get,
    path = "/api/v1/scale",
    tag = "grading",
    security((), ("api_key" = [])),
    responses(
        (status = 200, description = "The active model's score scales", body = Scale),
        (status = 503, description = "No model loaded", body = super::error::ErrorBody),
    )
)]
pub async fn get_scale(
    _access: GradingAccess,
    State(state): State<AppState>,
) -> Result<Json<Scale>, ApiError> {
    let model = state.model.current().ok_or_else(|| ApiError::Unavailable {
        message: "no model is loaded yet".to_owned(),
    })?;
    let grader = &model.grader;
    let targets = grader
        .target_names()
        .iter()
        .zip(grader.target_quantiles())
        .map(|(name, q)| (name.clone(), scale_of(q)))
        .collect();
    Ok(Json(Scale {
        model: ModelRef {
            id: model.id.clone(),
            version: model.version,
        },
        training_essays: grader.training().rows,
        score_grid: grader.score_grid().map(|g| GridView {
            min: g.min,
            max: g.max,
            step: g.step,
        }),
        targets,
    }))
}

/// Picks the shown quantiles out of a 0th..100th percentile table.
fn scale_of(quantiles: &[f64]) -> TargetScale {
    let at = |p: usize| quantiles[p * (quantiles.len() - 1) / 100];
    TargetScale {
        min: at(0),
        p10: at(10),
        p25: at(25),
        median: at(50),
        p75: at(75),
        p90: at(90),
        max: at(100),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_reads_its_quantiles_from_the_percentile_table() {
        let table: Vec<f64> = (0..=100).map(|p| f64::from(p) / 10.0).collect();

        let scale = scale_of(&table);

        assert_eq!(
            (scale.min, scale.p10, scale.p25, scale.median),
            (0.0, 1.0, 2.5, 5.0)
        );
        assert_eq!((scale.p75, scale.p90, scale.max), (7.5, 9.0, 10.0));
    }
}
