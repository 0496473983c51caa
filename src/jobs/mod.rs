//! The durable training-job queue and its worker pool.
//!
//! Jobs are rows in SQLite (`store::jobs`); nothing about a job lives only in
//! memory, so a crash loses at most the epochs in flight. This module owns
//! what happens around a job:
//!
//! - [`queue`]: the [`JobQueue`] handle the HTTP layer holds (enqueue, cancel,
//!   live progress for server-sent events) and the pool of workers that claim
//!   jobs, supervise their training thread, heartbeat, persist progress and
//!   metrics, and requeue on shutdown.
//! - [`spec`]: what a job runs, as a type ([`JobSpec`]): checked once by
//!   `http::jobs`, stored in the job's row, trusted by the executor.
//! - [`executor`]: what a job *does*: rebuilds the dataset from its rows and
//!   runs its spec (`grader::train`, `experiments::cross_validate`, the sweep
//!   `essay-grader sweep` runs), off the async executor.
//! - [`progress`]: the progress the API shows, its ETA, and the once-a-second
//!   throttle.
//! - [`unsaved_points`]: the bounded buffer of run metrics not written yet
//!   (between heartbeats, and while the database refuses writes).
//!
//! It does not parse HTTP (that is `http::jobs`) nor hold SQL (`store`). It
//! may use `store`, `experiments`, `grader`, `training`, `features` and `nn`.

pub mod executor;
pub mod progress;
pub mod queue;
pub mod spec;
pub mod unsaved_points;

pub use executor::{ExecuteError, Executor, JobInput, JobOutput, TrainingExecutor};
pub use progress::{EpochReport, JobProgress};
pub use queue::{JobQueue, JobSnapshot, QueueSettings, WorkerPool};
pub use spec::{CvSpec, JobSpec, SweepSpec, TrainBounds, TrainSpec};

use serde::{Deserialize, Serialize};

/// After this many attempts that died with the server (a crash, kill -9), a
/// job is failed instead of being requeued again: it is probably what kills it.
pub const MAX_ATTEMPTS: i64 = 3;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Train on all rows and register a new model version.
    Train,
    /// Cross-validate a config (leave one prompt out) and record the metrics.
    Cv,
    /// Cross-validate every config of a grid and record the ranking.
    Sweep,
}

impl JobKind {
    /// The name stored in the database and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Cv => "cv",
            Self::Sweep => "sweep",
        }
    }

    /// Reads a stored name back.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "train" => Some(Self::Train),
            "cv" => Some(Self::Cv),
            "sweep" => Some(Self::Sweep),
            _ => None,
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is training it.
    Running,
    /// Finished; its run holds the metrics (and a train job's model is registered).
    Succeeded,
    /// Stopped by an error, given in the job's `error`.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobStatus {
    /// Every status, in the order the metrics list them.
    pub const ALL: [JobStatus; 5] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The name stored in the database and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name back.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job will never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_kinds_read_back_what_they_store() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        for kind in [JobKind::Train, JobKind::Cv, JobKind::Sweep] {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobStatus::parse("paused"), None);
    }
}
