//! Training: datasets read from CSV, train configs, metrics, folds and
//! cross-validation, the grader model artifact and its grading. It calls
//! `features` and `nn`; it knows nothing of HTTP or the database.
//!
//! - [`atomic_file`]: the one atomic file write (temp file, fsync, rename).
//! - [`dataset`]: CSV layouts, score grids, checked datasets with file/line/column errors.
//! - [`error`]: [`TrainingError`], the one error of training and cross-validation.
//! - [`folds`]: leave-one-prompt-out and K-fold splits.
//! - [`metrics`]: RMSE, MAE, R², Pearson, MCRMSE, kappa, accuracy, AUC and their report tables.
//! - [`regressor`]: the [`Regressor`] trait the baselines implement, and [`ModelKind`].

pub mod atomic_file;
pub mod dataset;
pub mod error;
pub mod folds;
pub mod metrics;
pub mod regressor;

pub use atomic_file::write_atomic;
pub use dataset::{Dataset, DatasetError, DatasetLayout, EssayRecord, Problem, ScoreGrid};
pub use error::TrainingError;
pub use folds::{Fold, FoldSpec};
pub use metrics::{Metrics, TargetMetrics};
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
