//! Running a sweep: every cell, baseline, feature set and feature-subset
//! size of a grid cross-validated (leave one prompt out) on features
//! extracted once, with progress reported as one long run. A run that fails
//! on its own (a diverged network) is recorded and the sweep goes on;
//! cancellation or unusable data ends it.

use serde_json::{Value, json};

use crate::experiments::ModelKind;
use crate::experiments::model_kind::cross_validate_featured;
use crate::experiments::selection::{Method, SELECTION_BINS, rank_features, top_k};
use crate::grader::NETWORK;
use crate::nn::Control;
use crate::training::config::merge;
use crate::training::folds::make_folds;
use crate::training::{
    CvReport, Dataset, FeaturedDataset, FoldReport, FoldSpec, Progress, Sequence, TrainConfig,
    TrainingError, ValidTrainConfig,
};

use super::grid::{SweepCell, SweepGrid};
use super::report::{ScoredRun, SweepReport, rank};

/// The scores one cross-validation run yields, before the sweep adds its cell,
/// curve and timing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CvScores {
    /// Pooled MCRMSE (`None` for pass/fail kinds).
    pub mcrmse: Option<f64>,
    /// Pooled RMSE per target.
    pub target_rmse: Vec<(String, f64)>,
    /// MCRMSE per held-out fold.
    pub folds: Vec<(String, f64)>,
    /// Per target (accuracy, AUC) for pass/fail kinds.
    pub pass_fail: Vec<(String, f64, Option<f64>)>,
}

/// One epoch seen by the sweep: (0-based fold, 1-based epoch, validation loss).
pub type EpochSeen = (usize, usize, Option<f64>);

/// Every kind of run a sweep makes, in the order it makes them: the grid's
/// cells, the baselines, the feature sets, the feature-subset sizes.
#[derive(Debug, Clone, Copy)]
pub enum Run<'a> {
    /// A grid cell (an MLP config).
    Cell(&'a SweepCell),
    /// A baseline with the grid's base config.
    Baseline(ModelKind),
    /// The base config with another `"features"` value.
    FeatureSet(&'a Value),
    /// The base config with the top K features chosen on each fold's training rows.
    FeatureK(usize),
}

impl Run<'_> {
    fn label(&self) -> String {
        match self {
            Run::Cell(_) => String::new(),
            Run::Baseline(kind) => kind.to_string(),
            Run::FeatureSet(v) => match v {
                Value::String(s) => format!("features={s}"),
                Value::Array(a) => format!("features=[{} names]", a.len()),
                other => format!("features={other}"),
            },
            Run::FeatureK(k) => format!("K={k}"),
        }
    }

    fn kind(&self) -> ModelKind {
        match self {
            Run::Baseline(kind) => *kind,
            Run::Cell(_) | Run::FeatureSet(_) | Run::FeatureK(_) => ModelKind::Mlp,
        }
    }
}

/// Where a sweep stands after one epoch of one of its runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepProgress {
    /// The run, by its position in the sweep's order (the grid's cells by
    /// index, then the baselines, the feature sets and the feature-subset
    /// sizes; see [`SweepGrid::run_count`]).
    pub run: usize,
    /// The run's own report (its fold, member, epoch and losses), with
    /// `done`/`total` counted over the whole sweep.
    pub progress: Progress,
}

/// Runs every [`Run`] of `grid` through `run`, in order, and ranks the cells.
/// `run` cross-validates one run; it reports each epoch through the callback
/// it is given (the sweep keeps the validation losses for the curves) and
/// returns `Ok(Ok(scores))`, `Ok(Err(message))` for a run that failed on its
/// own (a diverged network: recorded, the sweep goes on), or `Err(e)` to end
/// the sweep (cancelled, unusable data).
fn sweep_runs<E>(
    grid: &SweepGrid,
    mut run: impl FnMut(Run<'_>, &mut dyn FnMut(EpochSeen)) -> Result<Result<CvScores, String>, E>,
) -> Result<SweepReport, E> {
    let started = std::time::Instant::now();
    let mut scored = |job: Run<'_>| -> Result<ScoredRun, E> {
        let label = job.label();
        let t0 = std::time::Instant::now();
        // (fold, epoch) → validation loss, averaged over folds afterwards.
        let mut seen: Vec<EpochSeen> = Vec::new();
        let outcome = run(job, &mut |e| seen.push(e))?;
        let cell = match job {
            Run::Cell(c) => Some(c.clone()),
            _ => None,
        };
        let (scores, error) = match outcome {
            Ok(s) => (s, None),
            Err(message) => (CvScores::default(), Some(message)),
        };
        Ok(ScoredRun {
            label,
            kind: job.kind(),
            cell,
            mcrmse: scores.mcrmse,
            target_rmse: scores.target_rmse,
            folds: scores.folds,
            pass_fail: scores.pass_fail,
            error,
            val_curve: mean_curve(&seen),
            seconds: t0.elapsed().as_secs_f64(),
        })
    };
    let mut cells = Vec::new();
    for cell in grid.cells() {
        cells.push(scored(Run::Cell(&cell))?);
    }
    rank(&mut cells);
    let mut baselines = Vec::new();
    for &kind in &grid.baselines {
        baselines.push(scored(Run::Baseline(kind))?);
    }
    let mut feature_sets = Vec::new();
    for set in &grid.feature_sets {
        feature_sets.push(scored(Run::FeatureSet(set))?);
    }
    let mut feature_k = Vec::new();
    for &k in &grid.feature_k {
        feature_k.push(scored(Run::FeatureK(k))?);
    }
    Ok(SweepReport {
        grid: grid.clone(),
        cells,
        baselines,
        feature_sets,
        feature_k,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Mean validation loss per epoch over the folds that reached that epoch
/// (early stopping ends folds at different epochs).
fn mean_curve(seen: &[EpochSeen]) -> Vec<(usize, f64)> {
    let mut by_epoch: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
    for &(_, epoch, val) in seen {
        if let Some(v) = val.filter(|v| v.is_finite()) {
            let e = by_epoch.entry(epoch).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    by_epoch
        .into_iter()
        .map(|(e, (sum, n))| (e, sum / n as f64))
        .collect()
}

/// Runs a sweep on `dataset` with `threads` worker threads: features are
/// extracted once, then every cell, baseline, feature set and feature-subset
/// size is cross-validated (leave one prompt out) on them. This is the one
/// sweep: `essay-grader sweep` and a sweep job both run it.
///
/// Progress reaches `on_progress` after every epoch, naming the run, with
/// `done`/`total` counted over the whole sweep ([`Sequence`]). A callback
/// answering `Stop` cancels with [`TrainingError::Cancelled`]; a run that
/// fails on its own (a diverged network) is recorded in the report and the
/// sweep goes on; data no run can use ends it.
pub fn sweep(
    dataset: &Dataset,
    grid: &SweepGrid,
    threads: usize,
    on_progress: &mut dyn FnMut(&SweepProgress) -> Control,
) -> Result<SweepReport, TrainingError> {
    let featured = FeaturedDataset::new(dataset, threads);
    let mut sequence = Sequence::even(grid.run_count());
    sweep_runs(grid, |job, on_epoch| {
        let run = sequence.run();
        let mut relay = |p: &Progress| {
            on_epoch((p.fold.saturating_sub(1), p.epoch, p.val_loss));
            let progress = sequence.overall(p);
            on_progress(&SweepProgress { run, progress })
        };
        let result = run_job(&featured, grid, threads, job, &mut relay);
        sequence.next_run();
        match result {
            Ok(scores) => Ok(Ok(scores)),
            Err(e) if is_fatal(&e) => Err(e),
            Err(e) => Ok(Err(e.to_string())),
        }
    })
}

/// Errors that end a sweep: cancellation and data that no run can use.
/// Anything else (a network that diverged) belongs to its run.
fn is_fatal(e: &TrainingError) -> bool {
    matches!(
        e,
        TrainingError::Cancelled
            | TrainingError::Folds(_)
            | TrainingError::NoTargets
            | TrainingError::TooFewRows { .. }
    )
}

/// The validated train config of a run: the default config, the grid's base,
/// then the run's own changes. Fails only for a grid that was not validated.
fn job_config(grid: &SweepGrid, job: Run<'_>, threads: usize) -> Result<ValidTrainConfig, String> {
    let mut value = grid.base.clone();
    match job {
        Run::Cell(cell) => value = cell.config.clone(),
        Run::FeatureSet(set) => merge(&mut value, json!({ "features": set })),
        Run::Baseline(_) | Run::FeatureK(_) => {}
    }
    TrainConfig::from_json_value(value)
        .map(|c| c.with_threads(threads))
        .map_err(|e| format!("invalid config: {e}"))
}

fn run_job(
    featured: &FeaturedDataset,
    grid: &SweepGrid,
    threads: usize,
    job: Run<'_>,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvScores, TrainingError> {
    let config = job_config(grid, job, threads).map_err(|message| TrainingError::Model {
        model: job.kind().to_string(),
        fold: "all".into(),
        message,
    })?;
    if let Run::FeatureK(k) = job {
        return nested_feature_k(featured, grid, &config, k, on_progress);
    }
    let report = cross_validate_featured(
        featured,
        &config,
        FoldSpec::LeaveOnePromptOut,
        job.kind(),
        on_progress,
    )?;
    Ok(scores_of(&report))
}

/// The scores of a cross-validation report.
pub fn scores_of(report: &CvReport) -> CvScores {
    let pooled = &report.pooled;
    CvScores {
        mcrmse: pooled.mcrmse,
        target_rmse: pooled
            .targets
            .0
            .iter()
            .filter_map(|(name, m)| m.rmse.map(|r| (name.clone(), r)))
            .collect(),
        folds: report
            .folds
            .iter()
            .filter_map(|f| f.metrics.mcrmse.map(|m| (f.held_out.clone(), m)))
            .collect(),
        pass_fail: pooled
            .targets
            .0
            .iter()
            .filter_map(|(name, m)| m.accuracy.map(|a| (name.clone(), a, m.auc)))
            .collect(),
    }
}

/// Cross-validates the base config with, in each fold, the `k` features that
/// mRMR ranks first on that fold's training rows (the candidates are the base
/// config's features). Each fold needs its own feature list, so each fold is
/// one full cross-validation whose other folds are discarded; the pooled RMSE
/// of each target is recombined exactly from the folds' RMSEs and sizes.
fn nested_feature_k(
    featured: &FeaturedDataset,
    grid: &SweepGrid,
    config: &ValidTrainConfig,
    k: usize,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvScores, TrainingError> {
    let ds = featured.dataset;
    let folds = make_folds(ds, FoldSpec::LeaveOnePromptOut, config.config().seed)?;
    let candidates = config.feature_indices().to_vec();
    let names = config.feature_names();
    let mut per_fold = Vec::new();
    for fold in &folds {
        let x = featured.select(&fold.train, &candidates).mapv(f64::from);
        let y = featured.targets(&fold.train);
        let ranking = rank_features(x.view(), y.view(), &names, Method::Mrmr, SELECTION_BINS)
            .map_err(|e| TrainingError::Model {
                model: NETWORK.into(),
                fold: fold.held_out.clone(),
                message: e.to_string(),
            })?;
        let mut value = grid.base.clone();
        merge(&mut value, json!({ "features": top_k(&ranking, k) }));
        let fold_config = TrainConfig::from_json_value(value)
            .map_err(|e| TrainingError::Model {
                model: NETWORK.into(),
                fold: fold.held_out.clone(),
                message: format!("invalid config: {e}"),
            })?
            .with_threads(config.threads());
        let report = cross_validate_featured(
            featured,
            &fold_config,
            FoldSpec::LeaveOnePromptOut,
            ModelKind::Mlp,
            on_progress,
        )?;
        let fr = report
            .folds
            .into_iter()
            .find(|f| f.held_out == fold.held_out)
            .ok_or_else(|| TrainingError::Model {
                model: NETWORK.into(),
                fold: fold.held_out.clone(),
                message: "the fold is missing from its own cross-validation".into(),
            })?;
        per_fold.push(fr);
    }
    Ok(pool_folds(&ds.target_names, &per_fold))
}

/// Pooled scores from per-fold metrics: the pooled RMSE of a target is
/// sqrt(Σ n_f·rmse_f² / Σ n_f), exactly what pooling the predictions gives.
pub fn pool_folds(targets: &[String], folds: &[FoldReport]) -> CvScores {
    let n: usize = folds.iter().map(|f| f.metrics.n).sum();
    let target_rmse: Vec<(String, f64)> = targets
        .iter()
        .map(|t| {
            let sse: f64 = folds
                .iter()
                .map(|f| {
                    let r = f
                        .metrics
                        .targets
                        .get(t)
                        .and_then(|m| m.rmse)
                        .unwrap_or(f64::NAN);
                    f.metrics.n as f64 * r * r
                })
                .sum();
            (t.clone(), (sse / n.max(1) as f64).sqrt())
        })
        .collect();
    let mcrmse = target_rmse.iter().map(|t| t.1).sum::<f64>() / target_rmse.len().max(1) as f64;
    CvScores {
        mcrmse: Some(mcrmse),
        target_rmse,
        folds: folds
            .iter()
            .filter_map(|f| f.metrics.mcrmse.map(|m| (f.held_out.clone(), m)))
            .collect(),
        pass_fail: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::sweep::test_runs::example_grid as grid;

    #[test]
    fn every_run_is_made_in_order_failures_are_recorded_and_cells_ranked() {
        let mut g = grid();
        g.feature_sets = vec![json!("all")];
        g.feature_k = vec![3];
        let mut calls = 0;
        let report = sweep_runs::<String>(&g, |job, on_epoch| {
            calls += 1;
            match job {
                Run::Cell(c) => {
                    for fold in 0..2 {
                        for epoch in 1..=3 {
                            on_epoch((fold, epoch, Some(1.0 / epoch as f64 + fold as f64)));
                        }
                    }
                    if c.activation == "maxout" && c.optimizer == "sgd" {
                        return Ok(Err("non-finite loss".into()));
                    }
                    // Deeper and faster is better in this fake world.
                    let m = 1.0 - 0.1 * c.depth as f64 - c.lr;
                    Ok(Ok(CvScores {
                        mcrmse: Some(m),
                        folds: vec![("a".into(), m - 0.01), ("b".into(), m + 0.01)],
                        ..Default::default()
                    }))
                }
                Run::Baseline(kind) => Ok(Ok(CvScores {
                    mcrmse: Some(if kind == ModelKind::Mean { 1.0 } else { 0.7 }),
                    ..Default::default()
                })),
                Run::FeatureSet(_) => Ok(Ok(CvScores {
                    mcrmse: Some(0.6),
                    ..Default::default()
                })),
                Run::FeatureK(_) => Ok(Err("mRMR failed".into())),
            }
        })
        .unwrap();
        assert_eq!(calls, 12 + 2 + 1 + 1);
        assert_eq!(g.run_count(), calls);
        assert_eq!(report.cells.len(), 12);
        let best = report.cells[0].cell.as_ref().unwrap();
        assert_eq!((best.depth, best.lr), (3, 0.1));
        let failed: Vec<_> = report.cells.iter().filter(|r| r.error.is_some()).collect();
        assert_eq!(failed.len(), 2);
        assert!(report.cells[10].error.is_some() && report.cells[11].error.is_some());
        assert_eq!(
            report.cells[0].val_curve,
            vec![(1, 1.5), (2, 1.0), (3, 0.5 + 1.0 / 3.0)]
        );
        assert_eq!(
            report.baselines.iter().map(|b| b.kind).collect::<Vec<_>>(),
            vec![ModelKind::Mean, ModelKind::Ridge]
        );
        assert_eq!(report.feature_sets[0].label, "features=all");
        assert_eq!(report.feature_sets[0].mcrmse, Some(0.6));
        assert_eq!(report.feature_k[0].label, "K=3");
        assert_eq!(report.feature_k[0].error.as_deref(), Some("mRMR failed"));
    }

    #[test]
    fn a_fatal_error_ends_the_sweep() {
        let mut calls = 0;
        let err = sweep_runs::<&str>(&grid(), |_, _| {
            calls += 1;
            if calls == 3 {
                Err("cancelled")
            } else {
                Ok(Ok(CvScores::default()))
            }
        })
        .unwrap_err();
        assert_eq!(err, "cancelled");
        assert_eq!(calls, 3);
    }

    #[test]
    fn pool_folds_recombines_the_pooled_rmse_from_fold_sizes() {
        use crate::training::metrics::{Metrics, TargetMetrics, TargetTable};
        let fold = |name: &str, n: usize, c: f64, w: f64| FoldReport {
            held_out: name.into(),
            metrics: Metrics {
                n,
                mcrmse: Some((c + w) / 2.0),
                targets: TargetTable(vec![
                    (
                        "content".into(),
                        TargetMetrics {
                            rmse: Some(c),
                            ..Default::default()
                        },
                    ),
                    (
                        "wording".into(),
                        TargetMetrics {
                            rmse: Some(w),
                            ..Default::default()
                        },
                    ),
                ]),
            },
        };
        // 1 row with squared error 1 and 3 rows with squared error 0.25 each:
        // pooled MSE (1 + 0.75) / 4, for content; wording is 0.5 everywhere.
        let scores = pool_folds(
            &["content".to_string(), "wording".to_string()],
            &[fold("a", 1, 1.0, 0.5), fold("b", 3, 0.5, 0.5)],
        );
        let content = (1.75f64 / 4.0).sqrt();
        assert!((scores.target_rmse[0].1 - content).abs() < 1e-12);
        assert!((scores.target_rmse[1].1 - 0.5).abs() < 1e-12);
        assert!((scores.mcrmse.unwrap() - (content + 0.5) / 2.0).abs() < 1e-12);
        assert_eq!(
            scores.folds,
            vec![("a".to_string(), 0.75), ("b".to_string(), 0.5)]
        );
    }

    #[test]
    fn sweep_cross_validates_cells_baselines_and_feature_studies_on_a_tiny_dataset() {
        let dataset = crate::training::test_data::tiny_dataset(20);
        let grid = SweepGrid::from_json(
            r#"{"base": {"epochs": 3, "ensemble": 1, "early_stopping": {"patience": 10, "validation_fraction": 0.2}},
                "depths": [1], "units": [4], "activations": ["elu", "tanh"],
                "optimizers": [{"name": "adam", "lrs": [0.01]}],
                "baselines": ["mean", "ridge"],
                "feature_sets": ["default"], "feature_k": [5], "threads": 1}"#,
        )
        .unwrap();
        let mut last_done = 0;
        let mut runs_seen = Vec::new();
        let report = sweep(&dataset, &grid, 1, &mut |s| {
            let p = &s.progress;
            assert!(
                p.done >= last_done,
                "progress went back: {} after {}",
                p.done,
                last_done
            );
            assert!(p.done <= p.total, "{} of {}", p.done, p.total);
            last_done = p.done;
            if runs_seen.last() != Some(&s.run) {
                runs_seen.push(s.run);
            }
            Control::Continue
        })
        .unwrap();
        // 2 cells, 2 baselines, 1 feature set, 1 K: every run reported, in order.
        assert_eq!(runs_seen, [0, 1, 2, 3, 4, 5]);
        assert_eq!(report.cells.len(), 2);
        assert!(
            report
                .cells
                .iter()
                .all(|r| r.error.is_none() && r.mcrmse.is_some()),
            "{:?}",
            report.cells
        );
        assert!(
            report
                .cells
                .iter()
                .all(|r| r.folds.len() == 3 && !r.val_curve.is_empty())
        );
        assert_eq!(report.baselines.len(), 2);
        assert!(
            report.baselines.iter().all(|r| r.mcrmse.is_some()),
            "{:?}",
            report.baselines
        );
        assert_eq!(report.feature_sets[0].label, "features=default");
        assert_eq!(report.feature_k[0].label, "K=5");
        assert!(
            report.feature_k[0].mcrmse.is_some(),
            "{:?}",
            report.feature_k[0]
        );
    }

    #[test]
    fn sweep_stops_with_cancelled_when_the_callback_says_stop() {
        let dataset = crate::training::test_data::tiny_dataset(8);
        let grid = SweepGrid::from_json(
            r#"{"base": {"epochs": 3, "ensemble": 1}, "depths": [1, 2], "units": [4],
                "activations": ["elu"], "optimizers": [{"name": "adam", "lrs": [0.01]}], "threads": 1}"#,
        )
        .unwrap();
        let err = sweep(&dataset, &grid, 1, &mut |_| Control::Stop).unwrap_err();
        assert!(matches!(err, TrainingError::Cancelled), "{err}");
    }
}
