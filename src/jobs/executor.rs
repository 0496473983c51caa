//! What a job does once a worker has claimed it: the [`Executor`] seam
//! between the queue (which knows about rows, heartbeats and cancellation)
//! and training (which knows about datasets and models). It always runs on a
//! training thread, never on the async executor.
//!
//! [`TrainingExecutor`] is the real one: it rebuilds a `training::Dataset`
//! from the stored rows and runs the job's [`JobSpec`], checked at the HTTP
//! edge and trusted here: `grader::train`, `experiments::cross_validate`, or
//! `experiments::sweep::sweep` (the same sweep as `essay-grader sweep`). The
//! queue's own tests plug in small executors of their own to make a job
//! slow, fail or panic on purpose.

use std::ops::ControlFlow;

use crate::experiments::sweep::{self, SweepGrid, SweepReport};
use crate::experiments::{self, ModelKind};
use crate::features::Prompt;
use crate::grader;
use crate::jobs::progress::EpochReport;
use crate::jobs::spec::{CvSpec, JobSpec, TrainSpec};
use crate::nn::Control;
use crate::store::datasets::{DatasetRow, EssayRow, PromptRow};
use crate::training::{
    CvReport, Dataset, EssayRecord, FoldSpec, Metrics, Progress, ScoreGrid, Sequence,
    TrainingError, ValidTrainConfig,
};

/// Everything a job needs, loaded before its training thread starts.
#[derive(Debug, Clone)]
pub struct JobInput {
    /// The job's id (for logs).
    pub job_id: String,
    /// What it was asked to do, checked.
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
    /// The artifact, as `grader::GraderModel::to_json` wrote it.
    pub artifact: Vec<u8>,
    /// The metrics registered with the version.
    pub metrics: serde_json::Value,
}

/// Why a job did not finish. The message is what the job's `error` shows.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The queue asked it to stop (a cancel, or the server shutting down).
    #[error("cancelled")]
    Cancelled,
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
    Training(#[source] TrainingError),
}

impl From<TrainingError> for ExecuteError {
    fn from(err: TrainingError) -> Self {
        match err {
            TrainingError::Cancelled => ExecuteError::Cancelled,
            other => ExecuteError::Training(other),
        }
    }
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

/// The real executor, backed by `grader` and `experiments`.
#[derive(Debug, Clone, Copy)]
pub struct TrainingExecutor {
    /// Threads one job may train on (ensemble members and folds run side by
    /// side up to this many). One by default, so grading keeps the other cores.
    threads: usize,
}

impl TrainingExecutor {
    /// An executor whose jobs each train on at most `threads` threads.
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
        }
    }
}

impl Executor for TrainingExecutor {
    fn execute(
        &self,
        input: &JobInput,
        on_epoch: &mut dyn FnMut(EpochReport) -> ControlFlow<()>,
    ) -> Result<JobOutput, ExecuteError> {
        let dataset = dataset_from_rows(input)?;
        match &input.spec {
            JobSpec::Train(spec) => self.train(&dataset, spec, on_epoch),
            JobSpec::Cv(spec) => self.cross_validate(&dataset, spec, on_epoch),
            JobSpec::Sweep(spec) => self.sweep(&dataset, &spec.grid, on_epoch),
        }
    }
}

impl TrainingExecutor {
    /// Trains on every row; with `cv`, cross-validates the config (leave one
    /// prompt out) first, as one job in two phases.
    fn train(
        &self,
        dataset: &Dataset,
        spec: &TrainSpec,
        on_epoch: &mut dyn FnMut(EpochReport) -> ControlFlow<()>,
    ) -> Result<JobOutput, ExecuteError> {
        let config = spec.config.clone().with_threads(self.threads);
        // The final training weighs one fold of the cross-validation before it.
        let folds = dataset.prompts.len().max(1);
        let mut sequence = Sequence::new(if spec.cv { vec![folds, 1] } else { vec![1] });
        let cv = if spec.cv {
            let report = experiments::cross_validate(
                dataset,
                &config,
                FoldSpec::LeaveOnePromptOut,
                ModelKind::Mlp,
                &mut |p: &Progress| {
                    control(on_epoch(EpochReport {
                        progress: sequence.overall(p),
                        cell: None,
                        phase: Some("cv"),
                    }))
                },
            )?;
            sequence.next_run();
            Some(report)
        } else {
            None
        };
        let phase = spec.cv.then_some("final");
        let outcome = grader::train(dataset, &config, &mut |p: &Progress| {
            control(on_epoch(EpochReport {
                progress: sequence.overall(p),
                cell: None,
                phase,
            }))
        })?;
        let summary = serde_json::to_value(&outcome.report).expect("a training summary serialises");
        let mut metrics = serde_json::json!({
            "in_sample": summary.get("metrics").cloned().unwrap_or_default(),
            "rows": outcome.report.rows,
            "prompts": outcome.report.prompts,
            "seconds": outcome.report.seconds,
        });
        let mut points = metric_points("in_sample", &outcome.report.metrics);
        if let Some(report) = &cv {
            metrics["cv"] = serde_json::to_value(report).expect("a cv report serialises");
            points.extend(cv_points("cv/", report));
        }
        Ok(JobOutput {
            points,
            model: Some(ModelOutput {
                artifact: outcome.model.to_json(),
                metrics: metrics.clone(),
            }),
            metrics,
        })
    }

    /// Cross-validates one model kind.
    fn cross_validate(
        &self,
        dataset: &Dataset,
        spec: &CvSpec,
        on_epoch: &mut dyn FnMut(EpochReport) -> ControlFlow<()>,
    ) -> Result<JobOutput, ExecuteError> {
        let config: ValidTrainConfig = spec.config.clone().with_threads(self.threads);
        let report = experiments::cross_validate(
            dataset,
            &config,
            spec.folds,
            spec.model_kind,
            &mut |p: &Progress| {
                control(on_epoch(EpochReport {
                    progress: *p,
                    cell: None,
                    phase: None,
                }))
            },
        )?;
        Ok(JobOutput {
            points: cv_points("", &report),
            metrics: serde_json::to_value(&report).expect("a cv report serialises"),
            model: None,
        })
    }

    /// Runs the grid with the sweep `essay-grader sweep` runs, on this
    /// executor's threads. A run that fails on its own (a diverged network)
    /// is recorded and the sweep goes on; a cancel ends it.
    fn sweep(
        &self,
        dataset: &Dataset,
        grid: &SweepGrid,
        on_epoch: &mut dyn FnMut(EpochReport) -> ControlFlow<()>,
    ) -> Result<JobOutput, ExecuteError> {
        let report = sweep::sweep(dataset, grid, self.threads, &mut |s| {
            control(on_epoch(EpochReport {
                progress: s.progress,
                cell: Some(s.run),
                phase: None,
            }))
        })?;
        Ok(JobOutput {
            points: sweep_points(&report),
            metrics: serde_json::to_value(&report).expect("a sweep report serialises"),
            model: None,
        })
    }
}

fn control(flow: ControlFlow<()>) -> Control {
    match flow {
        ControlFlow::Continue(()) => Control::Continue,
        ControlFlow::Break(()) => Control::Stop,
    }
}

/// Summary samples of a cross-validation: pooled and per held-out fold.
fn cv_points(prefix: &str, report: &CvReport) -> Vec<(String, i64, f64)> {
    let mut points = metric_points(&format!("{prefix}pooled"), &report.pooled);
    for fold in &report.folds {
        points.extend(metric_points(
            &format!("{prefix}held_out_{}", fold.held_out),
            &fold.metrics,
        ));
    }
    points
}

/// Summary samples of a sweep: each grid cell's pooled MCRMSE, by cell
/// index, then each other run's, by its position in the sweep's order (the
/// same `cell_<i>` its per-epoch curves carry).
fn sweep_points(report: &SweepReport) -> Vec<(String, i64, f64)> {
    let cells = report.cells.len();
    let others = report
        .baselines
        .iter()
        .chain(&report.feature_sets)
        .chain(&report.feature_k)
        .enumerate()
        .map(|(i, run)| (cells + i, run));
    report
        .cells
        .iter()
        .filter_map(|run| Some((run.cell.as_ref()?.index, run)))
        .chain(others)
        .filter_map(|(index, run)| Some((format!("cell_{index}/mcrmse"), 0, run.mcrmse?)))
        .collect()
}

/// Summary samples of a metrics table: `<scope>/mcrmse` and
/// `<scope>/<target>/rmse`, at step 0.
fn metric_points(scope: &str, metrics: &Metrics) -> Vec<(String, i64, f64)> {
    let mut points = Vec::new();
    if let Some(mcrmse) = metrics.mcrmse {
        points.push((format!("{scope}/mcrmse"), 0, mcrmse));
    }
    for (target, values) in &metrics.targets.0 {
        if let Some(rmse) = values.rmse {
            points.push((format!("{scope}/{target}/rmse"), 0, rmse));
        }
    }
    points
}

/// Rebuilds the checked dataset from its stored rows. The rows were checked
/// when uploaded; a failure here means the database was edited by hand.
fn dataset_from_rows(input: &JobInput) -> Result<Dataset, ExecuteError> {
    let bad = |message: String| ExecuteError::Dataset {
        dataset_id: input.dataset.id.clone(),
        message,
    };
    let target_names: Vec<String> = serde_json::from_str(&input.dataset.targets)
        .map_err(|e| bad(format!("target names: {e}")))?;
    let score_grid: Option<ScoreGrid> = match &input.dataset.score_grid {
        Some(text) => {
            Some(serde_json::from_str(text).map_err(|e| bad(format!("score grid: {e}")))?)
        }
        None => None,
    };
    let prompts = input
        .prompts
        .iter()
        .map(|p| {
            let prompt = Prompt {
                title: p.title.clone(),
                question: p.question.clone(),
                text: p.text.clone(),
            };
            (p.prompt_id.clone(), prompt)
        })
        .collect();
    let mut essays = Vec::with_capacity(input.essays.len());
    for row in &input.essays {
        let targets: Vec<f64> = serde_json::from_str(&row.targets)
            .map_err(|e| bad(format!("targets of essay {}: {e}", row.essay_id)))?;
        if targets.len() != target_names.len() {
            return Err(bad(format!(
                "essay {} has {} targets, the dataset names {}",
                row.essay_id,
                targets.len(),
                target_names.len()
            )));
        }
        essays.push(EssayRecord {
            id: row.essay_id.clone(),
            prompt_id: row.prompt_id.clone(),
            text: row.text.clone(),
            targets,
        });
    }
    Ok(Dataset {
        target_names,
        score_grid,
        prompts,
        essays,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::datasets::sample_dataset;

    fn input() -> JobInput {
        let sample = sample_dataset("d1", 3);
        JobInput {
            job_id: "j1".into(),
            spec: JobSpec::Train(TrainSpec {
                config: crate::training::TrainConfig::default_valid(),
                cv: false,
            }),
            dataset: DatasetRow {
                id: sample.id,
                name: sample.name,
                layout: sample.layout,
                targets: sample.targets,
                score_grid: Some("\"1:5:0.5\"".into()),
                row_count: 3,
                prompt_count: 1,
                problems: sample.problems,
                created_at: sample.created_at,
                deleted_at: None,
            },
            prompts: sample.prompts,
            essays: sample.essays,
        }
    }

    #[test]
    fn stored_rows_become_the_dataset_they_were_read_from() {
        let dataset = dataset_from_rows(&input()).unwrap();

        assert_eq!(dataset.target_names, ["content", "wording"]);
        assert_eq!(
            dataset.score_grid.map(|g| g.to_string()).as_deref(),
            Some("1:5:0.5")
        );
        assert_eq!(dataset.prompts["p1"].title, "Bees");
        assert_eq!(dataset.essays.len(), 3);
        assert_eq!(dataset.essays[2].targets, [2.0, 0.5]);
    }

    #[test]
    fn a_row_whose_targets_do_not_match_the_dataset_is_an_error_naming_the_essay() {
        let mut input = input();
        input.essays[1].targets = "[1.0]".into();

        let err = dataset_from_rows(&input).unwrap_err();

        assert_eq!(
            err.to_string(),
            "dataset d1 cannot be used: essay e1 has 1 targets, the dataset names 2"
        );
    }
}
