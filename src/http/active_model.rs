//! The model that grades right now, and its hot swap.
//!
//! Grading takes a cheap `Arc` clone of the current model under a read lock
//! held for a few nanoseconds, then grades without any lock. Activation builds
//! the new model completely first and then replaces the `Arc` under the write
//! lock. A request that already holds the old `Arc` finishes on it; the old
//! model is freed when the last such request ends. So no request waits on a
//! swap and none fails because of one.

use std::sync::{Arc, RwLock};

use crate::grader::{GraderModel, ModelError};

/// A loaded model version, ready to grade.
#[derive(Debug)]
pub struct ActiveModel {
    /// The model's id in the registry.
    pub id: String,
    /// Its version number.
    pub version: i64,
    /// The checked, loaded model (networks, scalers, feature list).
    pub grader: GraderModel,
    /// Each prompt's calibration fitted for this model (see
    /// `http::calibrations`): it lives and is swapped with the model, so a
    /// request never pairs a model with another model's calibration.
    pub calibrations: super::calibrations::CalibrationSet,
}

impl ActiveModel {
    /// Builds a ready-to-grade model from a registry record and its artifact
    /// (checked: format version, feature names, every shape). CPU work for a
    /// large artifact: call it off the async executor.
    pub fn load(
        record: &crate::store::models::ModelRecord,
        artifact: &[u8],
    ) -> Result<Self, ModelError> {
        Ok(Self {
            id: record.id.clone(),
            version: record.version,
            grader: GraderModel::from_json(artifact)?,
            calibrations: Default::default(),
        })
    }
}

/// The shared, swappable handle on the active model. Cloning the handle
/// shares the same slot.
#[derive(Debug, Clone, Default)]
pub struct ModelHandle {
    /// `None` until a model is loaded (a fresh database without the default model).
    slot: Arc<RwLock<Option<Arc<ActiveModel>>>>,
}

impl ModelHandle {
    /// The model grading now, if any.
    pub fn current(&self) -> Option<Arc<ActiveModel>> {
        // A poisoned lock only means a thread panicked while holding it; the
        // slot itself (an Option<Arc>) is always in a valid state.
        self.slot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes `model` the one grading new requests; returns the one it replaced.
    pub fn swap(&self, model: impl Into<Arc<ActiveModel>>) -> Option<Arc<ActiveModel>> {
        let model = model.into();
        let version = model.version;
        let previous = self
            .slot
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .replace(model);
        metrics::gauge!("model_active_version").set(version as f64);
        previous
    }
}
