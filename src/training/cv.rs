//! The cross-validation harness: split the dataset into folds, have a
//! [`FoldPredictor`] predict each fold's held-out rows from its training rows
//! only, and report metrics per fold and pooled over every out-of-fold
//! prediction. Features are extracted once per dataset.
//!
//! The harness trains nothing itself. What predicts a fold is behind the
//! [`FoldPredictor`] seam: the grader's network ensemble
//! (`grader::NetworkEnsemble`) and the experiments' baselines implement it,
//! and `experiments` chooses one by model kind.

use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::nn::Control;

use super::config::ValidTrainConfig;
use super::dataset::{Dataset, ScoreGrid};
use super::error::TrainingError;
use super::featurize::FeaturedDataset;
use super::folds::{Fold, FoldSpec, make_folds};
use super::metrics::Metrics;
use super::progress::Progress;

/// How a predictor's outputs are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoring {
    /// Predictions are scores: RMSE, MCRMSE, kappa, ...
    Regression,
    /// Predictions are P(pass), the pass/fail cut being [`pass_cut`]:
    /// accuracy and AUC.
    PassFail,
}

/// Something the harness can cross-validate: given the folds, it fits on
/// each fold's training rows only (its scalers included) and predicts that
/// fold's held-out rows.
pub trait FoldPredictor {
    /// The name shown in reports and errors ("mlp", "ridge", ...).
    fn name(&self) -> &str;

    /// How its predictions are scored.
    fn scoring(&self) -> Scoring {
        Scoring::Regression
    }

    /// Predicts, for every fold in order, its `test` rows (rows × targets,
    /// in the order of `fold.test`). Progress goes to `on_progress`, whose
    /// `Stop` must end the work with [`TrainingError::Cancelled`].
    fn predict_folds(
        &self,
        featured: &FeaturedDataset,
        folds: &[Fold],
        on_progress: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Vec<Array2<f64>>, TrainingError>;
}

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
    /// The model that was cross-validated (its [`FoldPredictor::name`]).
    pub model: String,
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

/// Cross-validates `predictor` with `config` on `dataset`, extracting features first.
pub fn cross_validate(
    dataset: &Dataset,
    config: &ValidTrainConfig,
    spec: FoldSpec,
    predictor: &dyn FoldPredictor,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvReport, TrainingError> {
    let start = Instant::now();
    let featured = FeaturedDataset::new(dataset, config.threads());
    let mut report = cross_validate_featured(&featured, config, spec, predictor, on_progress)?;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// [`cross_validate`] on features already extracted (a sweep extracts once
/// and cross-validates many configs). `seconds` excludes the extraction.
/// The config gives the folds' seed and is checked against the dataset.
pub fn cross_validate_featured(
    featured: &FeaturedDataset,
    config: &ValidTrainConfig,
    spec: FoldSpec,
    predictor: &dyn FoldPredictor,
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
    let predictions = predictor.predict_folds(featured, &folds, on_progress)?;
    if predictions.len() != folds.len() {
        return Err(TrainingError::Model {
            model: predictor.name().to_string(),
            fold: "all".into(),
            message: format!("predicted {} folds of {}", predictions.len(), folds.len()),
        });
    }
    for (fold, p) in folds.iter().zip(&predictions) {
        if p.dim() != (fold.test.len(), t) {
            return Err(TrainingError::Model {
                model: predictor.name().to_string(),
                fold: fold.held_out.clone(),
                message: format!(
                    "predicted a {:?} matrix for {} rows and {} targets",
                    p.dim(),
                    fold.test.len(),
                    t
                ),
            });
        }
        for (k, &row) in fold.test.iter().enumerate() {
            oof.row_mut(row).assign(&p.row(k));
        }
    }

    let all = featured.targets(&(0..n).collect::<Vec<_>>());
    let cuts: Vec<f64> = vec![pass_cut(ds.score_grid.as_ref()); t];
    let scoring = predictor.scoring();
    let metrics_of = |rows: &[usize]| {
        let y: Vec<Vec<f64>> = (0..t)
            .map(|j| rows.iter().map(|&i| all[[i, j]]).collect())
            .collect();
        let p: Vec<Vec<f64>> = (0..t)
            .map(|j| rows.iter().map(|&i| oof[[i, j]]).collect())
            .collect();
        match scoring {
            Scoring::PassFail => Metrics::pass_fail(&ds.target_names, &y, &p, &cuts),
            Scoring::Regression => {
                Metrics::regression(&ds.target_names, &y, &p, ds.score_grid.as_ref())
            }
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
        model: predictor.name().to_string(),
        folds: fold_reports,
        pooled: metrics_of(&tested),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Refuses a dataset the config cannot be trained on.
pub fn check_trainable(ds: &Dataset, config: &ValidTrainConfig) -> Result<(), TrainingError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::TrainConfig;
    use crate::training::test_data::tiny_dataset;

    /// Predicts each fold's held-out rows as the mean of its training rows'
    /// targets, reporting one progress step per fold; counts its calls.
    struct TrainingMean {
        scoring: Scoring,
    }

    impl FoldPredictor for TrainingMean {
        fn name(&self) -> &str {
            "training-mean"
        }

        fn scoring(&self) -> Scoring {
            self.scoring
        }

        fn predict_folds(
            &self,
            featured: &FeaturedDataset,
            folds: &[Fold],
            on_progress: &mut dyn FnMut(&Progress) -> Control,
        ) -> Result<Vec<Array2<f64>>, TrainingError> {
            let mut out = Vec::new();
            for (f, fold) in folds.iter().enumerate() {
                let y = featured.targets(&fold.train);
                let mean = y.mean_axis(ndarray::Axis(0)).unwrap();
                let mut p = Array2::zeros((fold.test.len(), y.ncols()));
                p.rows_mut().into_iter().for_each(|mut r| r.assign(&mean));
                out.push(p);
                let progress = Progress {
                    fold: f + 1,
                    folds: folds.len(),
                    member: 1,
                    members: 1,
                    epoch: 1,
                    epochs: 1,
                    train_loss: f64::NAN,
                    val_loss: None,
                    done: f + 1,
                    total: folds.len(),
                };
                if on_progress(&progress) == Control::Stop {
                    return Err(TrainingError::Cancelled);
                }
            }
            Ok(out)
        }
    }

    const MEAN: TrainingMean = TrainingMean {
        scoring: Scoring::Regression,
    };

    fn config() -> ValidTrainConfig {
        TrainConfig::default_valid().with_threads(1)
    }

    #[test]
    fn every_fold_is_reported_and_the_pooled_metrics_cover_every_row() {
        let ds = tiny_dataset(10);

        let cv = cross_validate(
            &ds,
            &config(),
            FoldSpec::LeaveOnePromptOut,
            &MEAN,
            &mut |_| Control::Continue,
        )
        .unwrap();

        assert_eq!(cv.model, "training-mean");
        let held: Vec<_> = cv.folds.iter().map(|f| f.held_out.as_str()).collect();
        assert_eq!(held, ["bees", "rivers", "tides"]);
        assert!(cv.folds.iter().all(|f| f.metrics.n == 10));
        assert_eq!(cv.pooled.n, 30);
        assert!(cv.pooled.mcrmse.unwrap() > 0.0);
    }

    #[test]
    fn the_pooled_rmse_is_computed_from_the_out_of_fold_predictions() {
        let ds = tiny_dataset(6);
        let cv = cross_validate(
            &ds,
            &config(),
            FoldSpec::LeaveOnePromptOut,
            &MEAN,
            &mut |_| Control::Continue,
        )
        .unwrap();

        // Each held-out essay is predicted by the mean of the other prompts' essays.
        let content = ds.target_names.iter().position(|t| t == "content").unwrap();
        let mut sse = 0.0;
        for essay in &ds.essays {
            let others: Vec<f64> = ds
                .essays
                .iter()
                .filter(|e| e.prompt_id != essay.prompt_id)
                .map(|e| e.targets[content])
                .collect();
            let mean = others.iter().sum::<f64>() / others.len() as f64;
            sse += (essay.targets[content] - mean).powi(2);
        }
        let expected = (sse / ds.essays.len() as f64).sqrt();
        let got = cv.pooled.targets.get("content").unwrap().rmse.unwrap();
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
    }

    #[test]
    fn a_pass_fail_predictor_is_scored_by_accuracy_not_rmse() {
        let ds = tiny_dataset(6);
        let pass_fail = TrainingMean {
            scoring: Scoring::PassFail,
        };

        let cv = cross_validate(&ds, &config(), FoldSpec::KFold(2), &pass_fail, &mut |_| {
            Control::Continue
        })
        .unwrap();

        assert_eq!(cv.pooled.mcrmse, None);
        let content = cv.pooled.targets.get("content").unwrap();
        assert_eq!(content.cut, Some(0.0));
        assert!(content.accuracy.is_some() && content.rmse.is_none());
    }

    #[test]
    fn the_predictors_cancellation_ends_the_run() {
        let err = cross_validate(
            &tiny_dataset(4),
            &config(),
            FoldSpec::LeaveOnePromptOut,
            &MEAN,
            &mut |_| Control::Stop,
        )
        .unwrap_err();

        assert!(matches!(err, TrainingError::Cancelled), "{err}");
    }

    #[test]
    fn a_prediction_of_the_wrong_shape_is_an_error_naming_the_model_and_fold() {
        struct OneColumn;
        impl FoldPredictor for OneColumn {
            fn name(&self) -> &str {
                "one-column"
            }
            fn predict_folds(
                &self,
                _: &FeaturedDataset,
                folds: &[Fold],
                _: &mut dyn FnMut(&Progress) -> Control,
            ) -> Result<Vec<Array2<f64>>, TrainingError> {
                Ok(folds
                    .iter()
                    .map(|f| Array2::zeros((f.test.len(), 1)))
                    .collect())
            }
        }

        let err = cross_validate(
            &tiny_dataset(4),
            &config(),
            FoldSpec::LeaveOnePromptOut,
            &OneColumn,
            &mut |_| Control::Continue,
        )
        .unwrap_err();

        assert_eq!(
            err.to_string(),
            "one-column failed on fold bees: predicted a (4, 1) matrix for 4 rows and 2 targets"
        );
    }

    #[test]
    fn a_dataset_without_targets_is_refused_before_any_prediction() {
        let mut ds = tiny_dataset(4);
        ds.target_names.clear();

        let err = cross_validate(&ds, &config(), FoldSpec::KFold(2), &MEAN, &mut |_| {
            panic!("nothing may be predicted")
        })
        .unwrap_err();

        assert!(matches!(err, TrainingError::NoTargets), "{err}");
    }
}
