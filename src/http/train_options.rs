//! `GET /api/v1/train-options` (admin): what a job form needs to offer, so
//! the admin page neither hard-codes a default nor a list of names: the
//! default train config in full, the names the config and a cv job
//! accept (hidden activations, optimizers, model kinds), read from the
//! types that validate them, and the server's upper bounds on a job
//! (`jobs::TrainBounds`, from the settings).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use clap::ValueEnum;
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use super::auth::AdminAuth;
use super::error::ApiError;
use super::extract::Json;
use crate::experiments::ModelKind;
use crate::jobs::TrainBounds;
use crate::nn::{Activation, OptimizerKind};
use crate::training::TrainConfig;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/train-options", get(get_train_options))
}

/// Answer of `GET /api/v1/train-options`.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TrainOptions {
    /// The default train config, in full: a job's `config` is merged over it.
    #[schema(value_type = Object)]
    pub default_config: Value,
    /// Activations a hidden layer may use (`maxout` is a layer kind of its own).
    pub activations: Vec<String>,
    /// Optimizer names.
    pub optimizers: Vec<String>,
    /// Model kinds a cv job may cross-validate.
    pub model_kinds: Vec<String>,
    /// The server's upper bounds on a job: a config or grid over one is
    /// refused with 422 naming the field.
    pub bounds: TrainBounds,
    /// Most jobs waiting in the queue at once.
    pub max_queued_jobs: i64,
}

/// The default train config and the names it accepts.
#[utoipa::path(
    get,
    path = "/api/v1/train-options",
    tag = "jobs",
    security(("admin" = [])),
    responses(
        (status = 200, description = "The default config and the accepted names", body = TrainOptions),
        (status = 401, description = "No admin credentials", body = super::error::ErrorBody),
    )
)]
pub async fn get_train_options(
    _admin: AdminAuth,
    State(state): State<AppState>,
) -> Result<Json<TrainOptions>, ApiError> {
    Ok(Json(train_options(&state.settings)))
}

fn train_options(settings: &crate::config::Settings) -> TrainOptions {
    TrainOptions {
        bounds: settings.train_bounds(),
        max_queued_jobs: settings.max_queued_jobs,
        default_config: TrainConfig::default_valid().to_json_value(),
        // softmax normalises a layer's outputs to sum to one: an output
        // activation, never a hidden one.
        activations: Activation::NAMES
            .iter()
            .filter(|name| **name != "softmax")
            .map(|name| (*name).to_owned())
            .collect(),
        optimizers: OptimizerKind::NAMES
            .iter()
            .map(|name| (*name).to_owned())
            .collect(),
        model_kinds: ModelKind::value_variants()
            .iter()
            .map(|kind| kind.name().to_owned())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_offer_the_default_config_and_every_accepted_name() {
        let options = train_options(&crate::config::Settings::default());

        assert!(TrainConfig::from_json_value(options.default_config.clone()).is_ok());
        assert!(options.activations.contains(&"relu".to_owned()));
        assert!(!options.activations.contains(&"softmax".to_owned()));
        assert!(options.optimizers.contains(&"adamw".to_owned()));
        assert_eq!(options.model_kinds.len(), ModelKind::value_variants().len());
        assert_eq!(
            options.bounds,
            crate::config::Settings::default().train_bounds()
        );
    }
}
