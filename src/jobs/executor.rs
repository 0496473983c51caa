//! What a job does once a worker has claimed it: the [`Executor`] seam
//! between the queue (which knows about rows, heartbeats and cancellation)
//! and training (which knows about datasets and models). It always runs on a
//! training thread, never on the async executor.
//!
//! [`TrainingExecutor`] is the real one: it rebuilds a `training::Dataset`
//! from the stored rows and calls `training::{train, cross_validate,
//! sweep}`. The queue's own tests plug in small executors of their own to
//! make a job slow, fail or panic on purpose.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::jobs::JobKind;
use crate::jobs::progress::EpochReport;
use crate::store::datasets::{DatasetRow, EssayRow, PromptRow};

/// What a job was asked to do beyond its kind and dataset, as stored in the
/// job's row (checked by `http::jobs` before it was queued).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Train and cv: the partial train config, merged over the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// Sweep: the grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<serde_json::Value>,
    /// Cv: `"prompt"` or K (leave one prompt out when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folds: Option<String>,
    /// Cv: the model family (the network when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_kind: Option<crate::training::ModelKind>,
}

/// Everything a job needs, loaded before its training thread starts.
#[derive(Debug, Clone)]
pub struct JobInput {
    /// The job's id (for logs).
    pub job_id: String,
    /// Train, cross-validate or sweep.
    pub kind: JobKind,
    /// What it was asked to do.
    pub spec: JobSpec,
    /// The dataset's summary (targets, score grid).
    pub dataset: DatasetRow,
    /// The dataset's prompts.
    pub prompts: Vec<PromptRow>,
    /// The dataset's essays, in file order.
    pub essays: Vec<EssayRow>,
}

/// What a finished job leaves behind.
#[derive(Debug, Clone, Default)]
pub struct JobOutput {
    /// The run's final metrics, a JSON object (e.g. `{"mcrmse": …, "targets": {…}}`).
    pub metrics: serde_json::Value,
    /// Summary samples to add to the run's history besides the per-epoch
    /// losses, as (name, step, value), e.g. `("fold_2/mcrmse", 0, 0.51)`.
    pub points: Vec<(String, i64, f64)>,
    /// A train job's model, to register as a new version.
    pub model: Option<ModelOutput>,
}

/// A trained model ready to register.
#[derive(Debug, Clone)]
pub struct ModelOutput {
    /// The artifact, as `training::GraderModel::to_json` wrote it.
    pub artifact: Vec<u8>,
    /// The metrics registered with the version.
    pub metrics: serde_json::Value,
}

/// Why a job failed. The message is what the job's `error` shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecuteError {
    /// The config does not validate (all problems, joined).
    #[error("invalid config: {0}")]
    Config(String),
    /// The stored rows do not make a usable dataset.
    #[error("dataset {dataset_id} cannot be used: {message}")]
    Dataset {
        /// The dataset.
        dataset_id: String,
        /// What is wrong with it.
        message: String,
    },
    /// Training itself failed (a non-finite loss, too few rows, ...).
    #[error("training failed: {0}")]
    Training(String),
}

/// Runs one job to completion on the calling (blocking) thread.
pub trait Executor: Send + Sync + 'static {
    /// Runs `input`, calling `on_epoch` after every epoch of every fold. When
    /// `on_epoch` returns `Break`, training must stop within that epoch and
    /// return (what it returns then is discarded).
    fn execute(
        &self,
        input: &JobInput,
        on_epoch: &mut dyn FnMut(EpochReport) -> ControlFlow<()>,
    ) -> Result<JobOutput, ExecuteError>;
}

/// The real executor, backed by `training`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrainingExecutor;
