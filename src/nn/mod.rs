//! The neural-network core: a small, exact feed-forward library on ndarray.
//!
//! It owns layers ([`Dense`], [`Maxout`]), [`Activation`]s, [`Loss`]es,
//! [`Optimizer`]s, weight initialisation, the training loop ([`fit`]), the
//! feature [`Standardizer`], [`LogisticRegression`], the saved model format
//! ([`NetworkArtifact`]) and occlusion inference for explanations
//! ([`Network::predict_occlusions`]). It is pure: no files, no printing, no
//! async. It reads and writes JSON strings; writing them to disk belongs to
//! the caller. It may use nothing else of ours.
//!
//! Everything numeric is generic over [`Float`] (f32 and f64): production
//! trains in f32 for speed, and the finite-difference gradient checks run the
//! very same code in f64.
//!
//! ```
//! use essay_grader::nn::{fit, Control, FitConfig, Network, NetworkArtifact, NetworkConfig};
//! use ndarray::array;
//!
//! let config: NetworkConfig = serde_json::from_str(
//!     r#"{"layers":[{"units":8,"activation":"tanh"}],"output":{"units":1},"loss":"mse","seed":1}"#,
//! ).unwrap();
//! let mut network = Network::<f32>::new(&config, 2).unwrap();
//! let x = array![[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]];
//! let y = array![[1.0f32], [1.0], [2.0], [0.0]];
//! let fit_config: FitConfig = serde_json::from_str(r#"{"epochs":50,"batch_size":2}"#).unwrap();
//! let report = fit(&mut network, x.view(), y.view(), &fit_config, &mut |epoch| {
//!     // Progress goes to the caller; returning Stop cancels training.
//!     assert!(epoch.train_loss.is_finite());
//!     Control::Continue
//! }).unwrap();
//! assert_eq!(report.epochs_run(), 50);
//!
//! // Save and load: the JSON text is the caller's to write (atomically).
//! let json = network.to_artifact(None).to_json_string();
//! let loaded = Network::<f32>::from_artifact(&NetworkArtifact::from_json_str(&json).unwrap()).unwrap();
//! assert_eq!(loaded.predict(x.view()), network.predict(x.view()));
//! ```

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
mod occlusion;
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
pub use occlusion::OcclusionScratch;
pub use optimizer::{Optimizer, OptimizerConfig, OptimizerKind};
pub use schedule::{Schedule, ScheduleConfig};
pub use standardizer::Standardizer;
