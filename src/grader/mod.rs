//! The production model: the grader. Its artifact (load, save, version
//! checks), how it is trained on a dataset, how it grades, how it explains a
//! grade, and the network ensemble inside it.
//!
//! It may use `training`, `calibration`, `features` and `nn`; nothing here knows of the
//! experiments (sweeps, baselines), HTTP, the database or files on disk
//! (callers read and write the artifact's bytes).
//!
//! - [`artifact`]: [`GraderModel`], the checked artifact, and [`ModelError`].
//! - [`train`](mod@train): [`train()`] on every row of a dataset, and its [`TrainingSummary`].
//! - [`grade`]: [`Grade`]s with percentiles and warnings, one essay or a batch.
//! - [`explain`]: the explanation of a grade by concept (group occlusion).
//! - [`ensemble`]: the network ensemble, and [`NetworkEnsemble`], its
//!   cross-validation `FoldPredictor`.
//! - [`blend`]: the blend of the network ensemble and gradient-boosted
//!   trees (weights fitted out of fold), and [`model_predictor`], what
//!   cross-validating a config measures.
//! - `trees`: the trees: fitted with `forust-ml`, flattened into the
//!   artifact's arrays, walked when grading and explaining.
//! - [`calibration`]: what calibration from a teacher's examples needs of a
//!   model (target scales and ranges, percentiles of calibrated scores).

pub mod artifact;
pub mod blend;
pub mod calibration;
pub mod ensemble;
pub mod explain;
pub mod grade;
#[cfg(test)]
mod test_model;
pub mod train;
mod trees;

pub use artifact::{GraderModel, MODEL_FORMAT_VERSION, ModelError, OLDEST_MODEL_FORMAT_VERSION};
pub use blend::{BLEND, Blend, BoostedTrees, model_predictor};
pub use ensemble::{NETWORK, NetworkEnsemble};
pub use explain::{ConceptEffect, FeatureValue};
pub use grade::{ByTarget, Explain, Grade, Warning};
pub use train::{MemberSummary, TrainOutcome, TrainingSummary, train};
pub(crate) use trees::row_sampling;
