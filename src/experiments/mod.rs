//! Experiments: comparing the grader's network with other models and
//! settings. The sweep (its grid, its runs and its report), the baselines
//! (mean, ridge, the pass/fail logistic model), the gradient-boosted trees
//! adapter, feature selection, the plots, and [`ModelKind`], the one place
//! that maps a model family to what cross-validation runs.
//!
//! It may use `grader`, `training`, `calibration`, `features` and `nn`. It writes no file
//! and knows no HTTP or database: the CLI writes reports, the job queue
//! stores results.
//!
//! - [`model_kind`]: [`ModelKind`], the [`Regressor`] trait, and
//!   [`cross_validate`] of any kind.
//! - [`baselines`]: mean, ridge and logistic models, and [`BaselinePredictor`].
//! - [`gbdt`]: gradient-boosted trees (forust-ml), one booster per target.
//! - [`blend`]: a blend of two models weighted by inner out-of-fold
//!   predictions, and a model on targets centred per prompt.
//! - [`selection`]: feature ranking by mutual information (relevance, or mRMR).
//! - [`plots`]: SVG charts: loss curves and scores by category.
//! - [`sweep`]: depth × activation × optimizer × learning-rate sweeps and
//!   their reports.
//! - [`calibration_study`]: how much a teacher's examples improve a prompt the
//!   model has never seen, leave-one-prompt-out (`cv --calibration-examples`).

pub mod baselines;
pub mod blend;
pub mod calibration_study;
pub mod gbdt;
pub mod model_kind;
pub mod plots;
pub mod selection;
pub mod sweep;

pub use baselines::BaselinePredictor;
pub use model_kind::{
    ModelKind, Regressor, cross_validate, cross_validate_featured, fold_predictor,
};
