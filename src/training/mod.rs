//! Training's groundwork, shared by the grader and the experiments: labelled
//! datasets and their CSV layouts, score grids, features of a whole dataset,
//! folds, the cross-validation harness, metrics, the train config and the
//! worker pool that reports progress.
//!
//! It may use `features` and `nn`, and nothing else of ours: it knows no
//! model kind, no grader artifact, no HTTP, database or report file. What a
//! cross-validation trains comes in through the [`FoldPredictor`] seam,
//! implemented above (`grader`: the network ensemble; `experiments`: the
//! baselines).
//!
//! - [`config`]: the train config (train.json), merged over the default and validated.
//! - [`cv`]: the cross-validation harness (by prompt or K folds), with per-fold and pooled metrics.
//! - [`dataset`]: CSV layouts, score grids, checked datasets with file/line/column errors.
//! - [`error`]: [`TrainingError`], the one error of training and cross-validation.
//! - [`featurize`]: features of a whole dataset, extracted once.
//! - [`folds`]: leave-one-prompt-out and K-fold splits.
//! - [`metrics`]: RMSE, MAE, R², Pearson, MCRMSE, kappa, accuracy, AUC and their report tables.
//! - [`progress`]: [`Progress`] reports and the worker pool behind them.

pub mod config;
pub mod cv;
pub mod dataset;
pub mod error;
pub mod featurize;
pub mod folds;
pub mod metrics;
pub mod progress;
#[cfg(test)]
pub(crate) mod test_data;

pub use config::{ConfigError, FeatureSubset, TrainConfig, TreesConfig, ValidTrainConfig};
pub use cv::{
    CvReport, FoldPredictor, FoldReport, Scoring, check_trainable, cross_validate,
    cross_validate_featured, pass_cut,
};
pub use dataset::{Dataset, DatasetError, DatasetLayout, EssayRecord, Problem, ScoreGrid};
pub use error::TrainingError;
pub use featurize::FeaturedDataset;
pub use folds::{Fold, FoldSpec};
pub use metrics::{Metrics, TargetMetrics};
pub use progress::{Progress, Sequence};
