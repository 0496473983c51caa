//! The model that grades right now, and its hot swap.
//!
//! Grading takes a cheap `Arc` clone of the current model under a read lock
//! held for a few nanoseconds, then grades without any lock. Activation builds
//! the new model completely first and then replaces the `Arc` under the write
//! lock. A request that already holds the old `Arc` finishes on it; the old
//! model is freed when the last such request ends. So no request waits on a
//! swap and none fails because of one.
//!
//! The handle also carries the [`ModelTrouble`] of the moment: the registry
//! names an active version this process could not load (at start-up, or when
//! following an activation made elsewhere), so it grades with an earlier
//! version or with none. `/ready` and the 503 of grading report it; swapping
//! in a model clears it.

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
    /// Why the model grading here is not the one the registry names as
    /// active, if it is not.
    trouble: Arc<RwLock<Option<ModelTrouble>>>,
}

/// The registry's active version does not load here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTrouble {
    /// The id of the model the registry names as active.
    pub active_id: String,
    /// Its version number.
    pub active_version: i64,
    /// Why it does not load (the loader's message).
    pub reason: String,
}

impl ModelTrouble {
    /// One sentence for logs, `/ready` and 503 answers, naming what grades
    /// instead (`serving`: the version loaded here, if any).
    pub fn describe(&self, serving: Option<i64>) -> String {
        let instead = match serving {
            Some(version) => format!("grading uses version {version} instead"),
            None => "no model is loaded, so grading is unavailable; activate a version that \
                     loads with POST /api/v1/models/{id}/activate or train a new one"
                .to_owned(),
        };
        format!(
            "the active model version {} does not load ({}); {instead}",
            self.active_version, self.reason
        )
    }
}

impl ModelHandle {
    /// The model grading now, if any.
    pub fn current(&self) -> Option<Arc<ActiveModel>> {
        // A poisoned lock only means a thread panicked while holding it; the
        // slot itself (an Option<Arc>) is always in a valid state.
        self.slot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes `model` the one grading new requests; returns the one it
    /// replaced. Clears the trouble: callers swap in the model the registry
    /// names as active, except the start-up fallback, which reports its
    /// trouble again right after.
    pub fn swap(&self, model: impl Into<Arc<ActiveModel>>) -> Option<Arc<ActiveModel>> {
        let model = model.into();
        let version = model.version;
        let previous = self
            .slot
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .replace(model);
        *self.trouble.write().unwrap_or_else(|e| e.into_inner()) = None;
        metrics::gauge!("model_active_version").set(version as f64);
        previous
    }

    /// Records that the registry's active version does not load here; the
    /// model grading now (if any) stays.
    pub fn report_trouble(&self, trouble: ModelTrouble) {
        *self.trouble.write().unwrap_or_else(|e| e.into_inner()) = Some(trouble);
    }

    /// The trouble of the moment, if any.
    pub fn trouble(&self) -> Option<ModelTrouble> {
        self.trouble
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why grading has no model: the trouble when there is one, else that
    /// none was ever activated.
    pub fn why_unavailable(&self) -> String {
        match self.trouble() {
            Some(trouble) => trouble.describe(None),
            None => "no model is loaded yet; activate one with POST /api/v1/models/{id}/activate"
                .to_owned(),
        }
    }
}
