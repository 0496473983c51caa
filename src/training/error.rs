//! The error of training and cross-validation: one enum whose messages carry
//! the values that explain them (fold, member, model name). Models are named
//! by string here: which kinds of model exist is the business of the layers
//! above (`grader`, `experiments`).

use crate::nn::NnError;

use super::folds::FoldError;

/// Why training or cross-validation did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// The progress callback asked to stop.
    #[error("cancelled")]
    Cancelled,
    /// The dataset cannot be split as asked.
    #[error(transparent)]
    Folds(#[from] FoldError),
    /// The dataset has no target columns to learn.
    #[error("the dataset has no target columns")]
    NoTargets,
    /// Too few essays to train on.
    #[error("{what} has {rows} essay(s); training needs at least {min}")]
    TooFewRows {
        /// Which set ("the dataset", "the training rows of fold 39c16e").
        what: String,
        /// Rows present.
        rows: usize,
        /// Rows needed.
        min: usize,
    },
    /// A model failed to fit or predict.
    #[error("{model} failed on fold {fold}: {message}")]
    Model {
        /// The model's name ("mlp", "ridge", ...).
        model: String,
        /// The held-out fold ("all" when training on every row).
        fold: String,
        /// What went wrong.
        message: String,
    },
    /// A network failed to train (e.g. the loss became NaN: no model is produced).
    #[error("fold {fold}, ensemble member {member}: {source}")]
    Fit {
        /// The held-out fold ("all" when training on every row).
        fold: String,
        /// 1-based ensemble member.
        member: usize,
        /// The NN core's error.
        source: NnError,
    },
    /// The training rows could not be standardised (e.g. a non-finite value).
    #[error("fold {fold}: {source}")]
    Data {
        /// The held-out fold ("all" when training on every row).
        fold: String,
        /// The NN core's error.
        source: NnError,
    },
    /// The config fixes `network.output.units` to a number other than the targets'.
    #[error(
        "network.output.units is {configured} but the dataset has {targets} target(s); leave it out to use the number of targets"
    )]
    OutputUnits {
        /// Units in the config.
        configured: usize,
        /// Targets in the dataset.
        targets: usize,
    },
}
