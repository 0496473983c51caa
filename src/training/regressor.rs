//! The seam between the cross-validation harness and the models it compares:
//! the [`Regressor`] trait and the [`ModelKind`] names. The network (`Mlp`) is
//! built in `cv.rs`; the baselines (mean, ridge, logistic, gradient boosting)
//! implement [`Regressor`] in `baselines.rs` / `gbdt.rs` and are made by
//! `baselines::make_regressor` (see docs/architecture.md).

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::error::TrainingError;

/// Which model family a cross-validation run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// The feed-forward network of the train config (multi-output, seed ensemble).
    Mlp,
    /// Closed-form ridge regression, alpha chosen by inner cross-validation.
    Ridge,
    /// Logistic regression of a pass/fail cut per target; reports accuracy and AUC.
    Logistic,
    /// Gradient-boosted trees.
    Gbdt,
    /// Predict each target's training mean.
    Mean,
}

impl ModelKind {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Ridge => "ridge",
            ModelKind::Logistic => "logistic",
            ModelKind::Gbdt => "gbdt",
            ModelKind::Mean => "mean",
        }
    }

    /// True for the pass/fail classifier, whose targets are 0/1 labels of
    /// `score > cut` and whose predictions are probabilities.
    pub fn is_pass_fail(self) -> bool {
        self == ModelKind::Logistic
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A model the harness can fit on one fold's training rows and apply to its
/// held-out rows. Inputs are already standardised (the scaler is fitted on the
/// fold's training rows only), in `f64`, rows as essays.
pub trait Regressor: Send {
    /// Fits on `x` (n × features) and `y` (n × targets). For a pass/fail kind
    /// `y` holds 0.0/1.0 labels. `groups[i]` is row i's prompt id, for inner
    /// cross-validation by prompt (e.g. ridge's alpha).
    fn fit(
        &mut self,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        groups: &[String],
    ) -> Result<(), TrainingError>;

    /// Predicts n × targets: scores, or P(pass) for a pass/fail kind.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TrainingError>;
}
