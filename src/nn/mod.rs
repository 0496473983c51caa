//! The neural-network core: a small, exact feed-forward library on ndarray.
//!
//! It owns layers ([`Dense`], [`Maxout`]), [`Activation`]s, [`Loss`]es,
//! [`Optimizer`]s, weight initialisation, the training loop ([`fit`]), the
//! feature [`Standardizer`], [`LogisticRegression`] and the saved model format
//! ([`NetworkArtifact`]). It is pure: no files, no printing, no async. It reads
//! and writes JSON strings; writing them to disk belongs to the caller.
//!
//! Everything numeric is generic over [`Float`] (f32 and f64): production
//! trains in f32 for speed, and the finite-difference gradient checks run the
//! very same code in f64.

mod activation;
mod artifact;
mod config;
mod dense;
mod error;
mod fit;
mod float;
mod init;
mod logistic;
mod loss;
mod maxout;
mod network;
mod optimizer;
mod schedule;
mod standardizer;

#[cfg(test)]
mod gradcheck;

pub use activation::Activation;
pub use artifact::{ARTIFACT_FORMAT_VERSION, NamedParam, NetworkArtifact};
pub use config::{LayerConfig, LayerSpec, LossConfig, NetworkConfig, NetworkSpec, OutputConfig};
pub use dense::Dense;
pub use error::{FieldError, NnError};
pub use fit::{
    Control, EarlyStopping, EpochReport, FitConfig, FitReport, FitSpec, StopReason, fit,
};
pub use float::Float;
pub use init::Init;
pub use logistic::LogisticRegression;
pub use loss::Loss;
pub use maxout::Maxout;
pub use network::{Layer, Network};
pub use optimizer::{Optimizer, OptimizerConfig, OptimizerKind};
pub use schedule::{Schedule, ScheduleConfig};
pub use standardizer::Standardizer;
