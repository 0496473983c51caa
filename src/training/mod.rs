//! Training: datasets read from CSV, train configs, metrics, folds and
//! cross-validation, the grader model artifact and its grading. It calls
//! `features` and `nn`; it knows nothing of HTTP or the database.
//!
//! - [`atomic_file`]: the one atomic file write (temp file, fsync, rename).
//! - [`calibration_study`]: the leave-one-prompt-out study of calibration from a teacher's examples.
//! - [`config`]: the train config (train.json), merged over the default and validated.
//! - [`cv`]: cross-validation by prompt or K folds, with per-fold and pooled metrics.
//! - [`dataset`]: CSV layouts, score grids, checked datasets with file/line/column errors.
//! - [`ensemble`]: the network ensemble as trained here (scaling, members, averaging).
//! - [`error`]: [`TrainingError`], the one error of training and cross-validation.
//! - [`featurize`]: features of a whole dataset, extracted once.
//! - [`folds`]: leave-one-prompt-out and K-fold splits.
//! - [`metrics`]: RMSE, MAE, R², Pearson, MCRMSE, kappa, accuracy, AUC and their report tables.
//! - [`model`]: the grader model artifact, [`train`], and grading with explanations.
//! - [`progress`]: [`Progress`] reports and the worker pool behind them.
//! - [`regressor`]: the [`Regressor`] trait the baselines implement, and [`ModelKind`].

pub mod atomic_file;
pub mod calibration_study;
pub mod config;
pub mod cv;
pub mod dataset;
mod ensemble;
pub mod error;
pub mod featurize;
pub mod folds;
pub mod metrics;
pub mod model;
pub mod progress;
pub mod regressor;
#[cfg(test)]
mod test_data;

pub use atomic_file::write_atomic;
pub use config::{ConfigError, FeatureSubset, TrainConfig, ValidTrainConfig};
pub use cv::{CvReport, FoldReport, cross_validate, cross_validate_featured};
pub use dataset::{Dataset, DatasetError, DatasetLayout, EssayRecord, Problem, ScoreGrid};
pub use error::TrainingError;
pub use featurize::FeaturedDataset;
pub use folds::{Fold, FoldSpec};
pub use metrics::{Metrics, TargetMetrics};
pub use model::{
    ByTarget, Explain, FeatureEffect, Grade, GraderModel, ModelError, TargetExplanation,
    TrainOutcome, TrainingSummary, Warning, train,
};
pub use progress::Progress;
pub use regressor::{ModelKind, Regressor};

// The experiments engineer's files: baselines, trees, plots.
/// Predict-the-mean, closed-form ridge with inner-CV alpha, pass/fail metrics.
pub mod baselines;
/// Gradient-boosted trees (forust-ml), one booster per target.
pub mod gbdt;
/// SVG charts: loss curves and scores by category.
pub mod plots;
/// Feature ranking by mutual information (relevance, or mRMR).
pub mod selection;
/// Depth × activation × optimizer × learning-rate sweeps and their reports.
pub mod sweep;
