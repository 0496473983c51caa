//! Cross-validation: split the dataset into folds, train on each fold's
//! training rows only (the scaler included), predict its held-out rows, and
//! report metrics per fold and pooled over every out-of-fold prediction.
//! Features are extracted once per dataset; the network's ensemble members
//! of all folds share the worker pool. The baselines plug in through
//! [`Regressor`](super::regressor::Regressor).

use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::nn::{Control, Standardizer};

use super::baselines::make_regressor;
use super::config::ValidTrainConfig;
use super::dataset::{Dataset, ScoreGrid};
use super::ensemble::{ScaledData, predict_scaled, train_members, unscale_targets};
use super::error::TrainingError;
use super::featurize::FeaturedDataset;
use super::folds::{Fold, FoldSpec, make_folds};
use super::metrics::Metrics;
use super::progress::{Message, Progress, Reporter, RunShape, run_tasks};
use super::regressor::ModelKind;

/// The metrics of one fold: `{"held_out": "39c16e", "n", "mcrmse", "targets"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldReport {
    /// The held-out prompt id, or "fold k of K".
    pub held_out: String,
    /// Metrics of the held-out rows.
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// The result of a cross-validation run (the JSON of `essay-grader cv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    /// The model family that was cross-validated.
    pub model: ModelKind,
    /// Every fold, in order.
    pub folds: Vec<FoldReport>,
    /// Metrics over all out-of-fold predictions together.
    pub pooled: Metrics,
    /// Wall time of the run, feature extraction included.
    pub seconds: f64,
}

/// The score above which an essay passes, for the pass/fail baseline: the
/// middle of the score grid, or 0 (CommonLit's scores are centred on 0).
pub fn pass_cut(grid: Option<&ScoreGrid>) -> f64 {
    grid.map_or(0.0, |g| (g.min + g.max) / 2.0)
}

/// Cross-validates `kind` with `config` on `dataset`, extracting features first.
pub fn cross_validate(
    dataset: &Dataset,
    config: &ValidTrainConfig,
    spec: FoldSpec,
    kind: ModelKind,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvReport, TrainingError> {
    let start = Instant::now();
    let featured = FeaturedDataset::new(dataset, config.threads());
    let mut report = cross_validate_featured(&featured, config, spec, kind, on_progress)?;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// [`cross_validate`] on features already extracted (a sweep extracts once
/// and cross-validates many configs). `seconds` excludes the extraction.
pub fn cross_validate_featured(
    featured: &FeaturedDataset,
    config: &ValidTrainConfig,
    spec: FoldSpec,
    kind: ModelKind,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvReport, TrainingError> {
    let start = Instant::now();
    let ds = featured.dataset;
    check_trainable(ds, config)?;
    let folds = make_folds(ds, spec, config.config().seed)?;
    for fold in &folds {
        if fold.train.len() < 2 {
            return Err(TrainingError::TooFewRows {
                what: format!("the training rows of fold {}", fold.held_out),
                rows: fold.train.len(),
                min: 2,
            });
        }
    }
    let n = ds.essays.len();
    let t = ds.target_names.len();
    let mut oof = Array2::<f64>::zeros((n, t));
    match kind {
        ModelKind::Mlp => predict_mlp(featured, config, &folds, &mut oof, on_progress)?,
        other => predict_baseline(featured, config, &folds, other, &mut oof, on_progress)?,
    }

    let all = featured.targets(&(0..n).collect::<Vec<_>>());
    let cuts: Vec<f64> = vec![pass_cut(ds.score_grid.as_ref()); t];
    let metrics_of = |rows: &[usize]| {
        let y: Vec<Vec<f64>> = (0..t)
            .map(|j| rows.iter().map(|&i| all[[i, j]]).collect())
            .collect();
        let p: Vec<Vec<f64>> = (0..t)
            .map(|j| rows.iter().map(|&i| oof[[i, j]]).collect())
            .collect();
        if kind.is_pass_fail() {
            Metrics::pass_fail(&ds.target_names, &y, &p, &cuts)
        } else {
            Metrics::regression(&ds.target_names, &y, &p, ds.score_grid.as_ref())
        }
    };
    let fold_reports: Vec<FoldReport> = folds
        .iter()
        .map(|f| FoldReport {
            held_out: f.held_out.clone(),
            metrics: metrics_of(&f.test),
        })
        .collect();
    let mut tested: Vec<usize> = folds.iter().flat_map(|f| f.test.iter().copied()).collect();
    tested.sort_unstable();
    Ok(CvReport {
        model: kind,
        folds: fold_reports,
        pooled: metrics_of(&tested),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Refuses a dataset the config cannot be trained on.
pub(crate) fn check_trainable(
    ds: &Dataset,
    config: &ValidTrainConfig,
) -> Result<(), TrainingError> {
    if ds.target_names.is_empty() {
        return Err(TrainingError::NoTargets);
    }
    if ds.essays.len() < 2 {
        return Err(TrainingError::TooFewRows {
            what: "the dataset".into(),
            rows: ds.essays.len(),
            min: 2,
        });
    }
    let configured = config.config().network.output.units;
    if configured != 0 && configured != ds.target_names.len() {
        return Err(TrainingError::OutputUnits {
            configured,
            targets: ds.target_names.len(),
        });
    }
    Ok(())
}

fn predict_mlp(
    featured: &FeaturedDataset,
    config: &ValidTrainConfig,
    folds: &[Fold],
    oof: &mut Array2<f64>,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<(), TrainingError> {
    let idx = config.feature_indices();
    let scaled = folds
        .iter()
        .map(|f| {
            ScaledData::new(
                &f.held_out,
                featured.select(&f.train, idx),
                featured.targets(&f.train),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let members = train_members(&scaled, config, on_progress)?;
    for ((fold, data), members) in folds.iter().zip(&scaled).zip(members) {
        let x_test = data
            .x_scaler
            .transform(featured.select(&fold.test, idx).view())
            .map_err(|source| TrainingError::Data {
                fold: fold.held_out.clone(),
                source,
            })?;
        let networks: Vec<_> = members.into_iter().map(|m| m.network).collect();
        let p = unscale_targets(&data.y_scaler, &predict_scaled(&networks, x_test.view()));
        for (k, &row) in fold.test.iter().enumerate() {
            oof.row_mut(row).assign(&p.row(k));
        }
    }
    Ok(())
}

fn predict_baseline(
    featured: &FeaturedDataset,
    config: &ValidTrainConfig,
    folds: &[Fold],
    kind: ModelKind,
    oof: &mut Array2<f64>,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<(), TrainingError> {
    // Fail before any work if the kind cannot be made.
    make_regressor(kind, config)?;
    let ds = featured.dataset;
    let idx = config.feature_indices();
    let cut = pass_cut(ds.score_grid.as_ref());
    let shape = RunShape {
        folds: folds.len(),
        members: 1,
        epochs: 1,
        total: folds.len(),
    };
    let work = |f: usize, reporter: &Reporter| -> Result<Array2<f64>, TrainingError> {
        let fold = &folds[f];
        let model_err = |message: String| TrainingError::Model {
            kind,
            fold: fold.held_out.clone(),
            message,
        };
        let data_err = |source| TrainingError::Data {
            fold: fold.held_out.clone(),
            source,
        };
        let x_train = featured.select(&fold.train, idx).mapv(f64::from);
        let x_test = featured.select(&fold.test, idx).mapv(f64::from);
        let scaler = Standardizer::fit(x_train.view()).map_err(data_err)?;
        let x_train = scaler.transform(x_train.view()).map_err(data_err)?;
        let x_test = scaler.transform(x_test.view()).map_err(data_err)?;
        let mut y = featured.targets(&fold.train);
        if kind.is_pass_fail() {
            y.mapv_inplace(|v| if v > cut { 1.0 } else { 0.0 });
        }
        let groups: Vec<String> = fold
            .train
            .iter()
            .map(|&i| ds.essays[i].prompt_id.clone())
            .collect();
        let mut model = make_regressor(kind, config)?;
        model.fit(x_train.view(), y.view(), &groups)?;
        let p = model.predict(x_test.view())?;
        if p.dim() != (fold.test.len(), ds.target_names.len()) {
            return Err(model_err(format!(
                "predicted a {:?} matrix for {} rows and {} targets",
                p.dim(),
                fold.test.len(),
                ds.target_names.len()
            )));
        }
        if p.iter().any(|v| !v.is_finite()) {
            return Err(model_err("predicted a non-finite value".into()));
        }
        reporter.send(Message::Epoch {
            fold: f + 1,
            member: 1,
            epoch: 1,
            train_loss: f64::NAN,
            val_loss: None,
        });
        Ok(p)
    };
    let (results, cancelled) = run_tasks(folds.len(), config.threads(), shape, &work, on_progress);
    if cancelled {
        return Err(TrainingError::Cancelled);
    }
    for (fold, result) in folds.iter().zip(results) {
        let p = result?;
        for (k, &row) in fold.test.iter().enumerate() {
            oof.row_mut(row).assign(&p.row(k));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::config::TrainConfig;
    use crate::training::test_data::tiny_dataset;
    use serde_json::json;

    fn quick_config() -> ValidTrainConfig {
        TrainConfig::from_json_value(json!({
            "network": {"layers": [{"units": 8, "activation": "relu"}]},
            "epochs": 15, "ensemble": 2, "early_stopping": null, "batch_size": 16
        }))
        .unwrap()
    }

    #[test]
    fn leave_one_prompt_out_reports_every_fold_and_pools_all_rows() {
        let ds = tiny_dataset(24);
        let mut reports = 0;
        let cv = cross_validate(
            &ds,
            &quick_config(),
            FoldSpec::LeaveOnePromptOut,
            ModelKind::Mlp,
            &mut |p| {
                reports += 1;
                assert!(p.done <= p.total && p.fold <= p.folds);
                Control::Continue
            },
        )
        .unwrap();
        let held: Vec<_> = cv.folds.iter().map(|f| f.held_out.as_str()).collect();
        assert_eq!(held, vec!["bees", "rivers", "tides"]);
        assert!(cv.folds.iter().all(|f| f.metrics.n == 24));
        assert_eq!(cv.pooled.n, 72);
        // 3 folds × 2 members × 15 epochs, no early stopping.
        assert_eq!(reports, 90);
        let m = cv.pooled.mcrmse.unwrap();
        assert!(m.is_finite() && m > 0.0, "{m}");
        let json = serde_json::to_value(&cv).unwrap();
        assert_eq!(json["folds"][0]["held_out"], "bees");
        assert!(json["folds"][0]["targets"]["content"]["pearson"].is_f64());
        assert!(json["pooled"]["mcrmse"].is_f64());
        assert!(json["seconds"].is_f64());
    }

    #[test]
    fn cross_validation_is_the_same_for_one_and_two_threads() {
        let ds = tiny_dataset(12);
        let run = |threads| {
            let mut cv = cross_validate(
                &ds,
                &quick_config().with_threads(threads),
                FoldSpec::KFold(3),
                ModelKind::Mlp,
                &mut |_| Control::Continue,
            )
            .unwrap();
            cv.seconds = 0.0;
            cv
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn stopping_from_the_progress_callback_cancels_the_run() {
        let ds = tiny_dataset(12);
        let err = cross_validate(
            &ds,
            &quick_config(),
            FoldSpec::LeaveOnePromptOut,
            ModelKind::Mlp,
            &mut |p| {
                if p.done >= 3 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
        )
        .unwrap_err();
        assert!(matches!(err, TrainingError::Cancelled), "{err}");
    }

    #[test]
    fn a_dataset_without_targets_or_with_one_prompt_is_refused() {
        let mut ds = tiny_dataset(4);
        ds.essays.retain(|e| e.prompt_id == "bees");
        ds.prompts.retain(|id, _| id == "bees");
        let err = cross_validate(
            &ds,
            &quick_config(),
            FoldSpec::LeaveOnePromptOut,
            ModelKind::Mlp,
            &mut |_| Control::Continue,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "leave-one-prompt-out needs at least 2 prompts, the dataset has 1"
        );
        ds.target_names.clear();
        let err = cross_validate(
            &ds,
            &quick_config(),
            FoldSpec::KFold(2),
            ModelKind::Mlp,
            &mut |_| Control::Continue,
        )
        .unwrap_err();
        assert!(matches!(err, TrainingError::NoTargets));
    }

    #[test]
    fn baselines_run_in_the_same_harness_and_logistic_reports_pass_fail_metrics() {
        let ds = tiny_dataset(12);
        let run = |kind| {
            cross_validate(
                &ds,
                &quick_config(),
                FoldSpec::LeaveOnePromptOut,
                kind,
                &mut |_| Control::Continue,
            )
            .unwrap()
        };
        let mean = run(ModelKind::Mean);
        let ridge = run(ModelKind::Ridge);
        assert_eq!(mean.folds.len(), 3);
        // The fixture's scores follow its features: ridge beats the mean.
        assert!(ridge.pooled.mcrmse.unwrap() < mean.pooled.mcrmse.unwrap());
        let logistic = run(ModelKind::Logistic);
        assert_eq!(logistic.pooled.mcrmse, None);
        let content = logistic.pooled.targets.get("content").unwrap();
        assert_eq!(content.cut, Some(0.0));
        assert!((0.0..=1.0).contains(&content.accuracy.unwrap()));
        assert!(content.rmse.is_none());
    }

    #[test]
    fn a_config_with_the_wrong_output_width_is_refused() {
        let config =
            TrainConfig::from_json_value(json!({"network": {"output": {"units": 3}}})).unwrap();
        let err = cross_validate(
            &tiny_dataset(4),
            &config,
            FoldSpec::KFold(2),
            ModelKind::Mlp,
            &mut |_| Control::Continue,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("network.output.units is 3 but the dataset has 2 target(s)"),
            "{err}"
        );
    }
}
