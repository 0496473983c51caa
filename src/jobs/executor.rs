//! What a job does once a worker has claimed it: the [`Executor`] seam
//! between the queue (which knows about rows, heartbeats and cancellation)
//! and training (which knows about datasets and models). It always runs on a
//! training thread, never on the async executor.
//!
//! [`TrainingExecutor`] is the real one: it rebuilds a `training::Dataset`
//! from the stored rows and calls `grader::train`,
//! `experiments::cross_validate` and the sweep. The queue's own tests plug in small executors of their own to
//! make a job slow, fail or panic on purpose.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::experiments::sweep::{CvScores, Job as SweepJob, SweepGrid, SweepReport};
use crate::experiments::{self, ModelKind};
use crate::features::Prompt;
use crate::grader;
use crate::jobs::JobKind;
use crate::jobs::progress::EpochReport;
use crate::nn::Control;
use crate::store::datasets::{DatasetRow, EssayRow, PromptRow};
use crate::training::{
    CvReport, Dataset, EssayRecord, FoldSpec, Metrics, Progress, ScoreGrid, TrainConfig,
    TrainingError, ValidTrainConfig,
};

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
    pub model_kind: Option<ModelKind>,
    /// Train: also cross-validate the config (leave one prompt out) before
    /// training on every row, so the new model version carries honest
    /// figures, not only in-sample ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv: Option<bool>,
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
    /// The artifact, as `grader::GraderModel::to_json` wrote it.
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
        match input.kind {
            JobKind::Train => {
                let config = self.config(&input.spec)?;
                let cv = if input.spec.cv == Some(true) {
                    Some(cross_validate_before_training(&dataset, &config, on_epoch)?)
                } else {
                    None
                };
                let outcome = match &cv {
                    None => grader::train(&dataset, &config, &mut |p: &Progress| {
                        control(on_epoch(epoch_report(p)))
                    }),
                    Some((_, cv_total)) => {
                        // The last phase counts as one more fold of the same size.
                        let folds = dataset.prompts.len().max(1);
                        let unit = (cv_total / folds).max(1);
                        grader::train(&dataset, &config, &mut |p: &Progress| {
                            let mut report = epoch_report(p);
                            report.phase = Some("final");
                            report.progress.done = cv_total + p.done * unit / p.total.max(1);
                            report.progress.total = cv_total + unit;
                            control(on_epoch(report))
                        })
                    }
                }
                .map_err(training_error)?;
                let summary =
                    serde_json::to_value(&outcome.report).expect("a training summary serialises");
                let mut metrics = serde_json::json!({
                    "in_sample": summary.get("metrics").cloned().unwrap_or_default(),
                    "rows": outcome.report.rows,
                    "prompts": outcome.report.prompts,
                    "seconds": outcome.report.seconds,
                });
                let mut points = metric_points("in_sample", &outcome.report.metrics);
                if let Some((report, _)) = &cv {
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
            JobKind::Cv => {
                let config = self.config(&input.spec)?;
                let folds = match &input.spec.folds {
                    Some(text) => text.parse::<FoldSpec>().map_err(ExecuteError::Config)?,
                    None => FoldSpec::LeaveOnePromptOut,
                };
                let kind = input.spec.model_kind.unwrap_or(ModelKind::Mlp);
                let report = experiments::cross_validate(
                    &dataset,
                    &config,
                    folds,
                    kind,
                    &mut |p: &Progress| control(on_epoch(epoch_report(p))),
                )
                .map_err(training_error)?;
                let points = cv_points("", &report);
                Ok(JobOutput {
                    metrics: serde_json::to_value(&report).expect("a cv report serialises"),
                    points,
                    model: None,
                })
            }
            JobKind::Sweep => {
                let grid: SweepGrid =
                    serde_json::from_value(input.spec.grid.clone().unwrap_or_default())
                        .map_err(|e| ExecuteError::Config(format!("grid: {e}")))?;
                let report = self.sweep(&dataset, &grid, on_epoch)?;
                let points = report
                    .cells
                    .iter()
                    .filter_map(|run| {
                        Some((
                            format!("cell_{}/mcrmse", run.cell.as_ref()?.index),
                            0,
                            run.mcrmse?,
                        ))
                    })
                    .collect();
                Ok(JobOutput {
                    metrics: serde_json::to_value(&report).expect("a sweep report serialises"),
                    points,
                    model: None,
                })
            }
        }
    }
}

impl TrainingExecutor {
    /// Cross-validates every cell and baseline of a grid (leave one prompt
    /// out), one after the other. A cell that fails on its own (a diverged
    /// network) is recorded and the sweep goes on; a cancel ends it.
    fn sweep(
        &self,
        dataset: &Dataset,
        grid: &SweepGrid,
        on_epoch: &mut dyn FnMut(EpochReport) -> ControlFlow<()>,
    ) -> Result<SweepReport, ExecuteError> {
        let runs = grid.cells().len() + grid.baselines.len();
        let mut index = 0usize;
        experiments::sweep::sweep_with(grid, |job, seen| {
            let (config, kind, cell) = match job {
                SweepJob::Cell(cell) => (cell.config.clone(), ModelKind::Mlp, cell.index),
                SweepJob::Baseline(kind) => (grid.base.clone(), kind, grid.cells().len() + index),
            };
            index += 1;
            let config = match TrainConfig::from_json_value(config) {
                Ok(config) => config.with_threads(self.threads),
                Err(err) => return Ok(Err(err.to_string())),
            };
            let mut on_progress = |p: &Progress| {
                seen((p.fold - 1, p.epoch, p.val_loss));
                let mut report = epoch_report(p);
                // Progress over the whole sweep: this run's share added to the runs before it.
                report.cell = Some(cell);
                report.progress.done = (index - 1) * p.total.max(1) + p.done;
                report.progress.total = runs * p.total.max(1);
                control(on_epoch(report))
            };
            match experiments::cross_validate(
                dataset,
                &config,
                FoldSpec::LeaveOnePromptOut,
                kind,
                &mut on_progress,
            ) {
                Ok(report) => Ok(Ok(cv_scores(&report))),
                Err(TrainingError::Cancelled) => Err(ExecuteError::Training("cancelled".into())),
                Err(err) => Ok(Err(err.to_string())),
            }
        })
    }

    fn config(&self, spec: &JobSpec) -> Result<ValidTrainConfig, ExecuteError> {
        let value = spec.config.clone().unwrap_or_else(|| serde_json::json!({}));
        TrainConfig::from_json_value(value)
            .map(|c| c.with_threads(self.threads))
            .map_err(|e| ExecuteError::Config(e.to_string()))
    }
}

/// Cross-validates a train job's config (leave one prompt out) as the first
/// phase of the job. Returns the report and the member-epochs it counted.
fn cross_validate_before_training(
    dataset: &Dataset,
    config: &ValidTrainConfig,
    on_epoch: &mut dyn FnMut(EpochReport) -> ControlFlow<()>,
) -> Result<(CvReport, usize), ExecuteError> {
    let mut total = 0;
    let folds = dataset.prompts.len().max(1);
    let report = experiments::cross_validate(
        dataset,
        config,
        FoldSpec::LeaveOnePromptOut,
        ModelKind::Mlp,
        &mut |p: &Progress| {
            let mut report = epoch_report(p);
            report.phase = Some("cv");
            total = p.total;
            // Leave room for the final training, about one fold's worth.
            report.progress.total = p.total + p.total / folds;
            control(on_epoch(report))
        },
    )
    .map_err(training_error)?;
    Ok((report, total))
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

fn training_error(err: TrainingError) -> ExecuteError {
    ExecuteError::Training(err.to_string())
}

fn epoch_report(p: &Progress) -> EpochReport {
    EpochReport {
        progress: *p,
        cell: None,
        phase: None,
    }
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

/// What a sweep keeps of one cross-validation.
fn cv_scores(report: &CvReport) -> CvScores {
    let pooled = &report.pooled;
    CvScores {
        mcrmse: pooled.mcrmse,
        target_rmse: pooled
            .targets
            .0
            .iter()
            .filter_map(|(t, m)| Some((t.clone(), m.rmse?)))
            .collect(),
        folds: report
            .folds
            .iter()
            .filter_map(|f| Some((f.held_out.clone(), f.metrics.mcrmse?)))
            .collect(),
        pass_fail: pooled
            .targets
            .0
            .iter()
            .filter_map(|(t, m)| Some((t.clone(), m.accuracy?, m.auc)))
            .collect(),
    }
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
            kind: JobKind::Train,
            spec: JobSpec::default(),
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
