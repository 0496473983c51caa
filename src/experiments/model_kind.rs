//! The model families an experiment compares, by name ([`ModelKind`]), the
//! [`Regressor`] trait the baselines implement, and the one dispatch from a
//! kind to what the cross-validation harness runs: the grader's network
//! ensemble for `mlp`, a [`BaselinePredictor`] for the others
//! (docs/architecture.md).

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::grader::{Blend, NetworkEnsemble, model_predictor};
use crate::nn::Control;
use crate::training::{
    self, CvReport, Dataset, FeaturedDataset, FoldPredictor, FoldSpec, Progress, TrainingError,
    ValidTrainConfig,
};

use super::baselines::BaselinePredictor;
use super::blend::CentredByPrompt;

/// Which model family a cross-validation run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// The grader's model as the train config describes it: the
    /// feed-forward network (multi-output, seed ensemble), blended with
    /// gradient-boosted trees when the config has `trees`.
    Mlp,
    /// Closed-form ridge regression, alpha chosen by inner cross-validation.
    Ridge,
    /// Logistic regression of a pass/fail cut per target; reports accuracy and AUC.
    Logistic,
    /// Gradient-boosted trees.
    Gbdt,
    /// Predict each target's training mean.
    Mean,
    /// The network ensemble and the baseline gradient-boosted trees (the
    /// `gbdt` kind, 300 trees of depth 4), averaged with a per-target weight
    /// fitted on out-of-fold predictions inside each fold's training
    /// prompts: the experiment of issue 10. The grader's own blend is `mlp`
    /// with `trees` in the config.
    Blend,
    /// The network ensemble trained on targets centred per prompt, plus the
    /// mean level of the training prompts.
    MlpCentred,
    /// [`ModelKind::Blend`] of the centred network and centred trees.
    BlendCentred,
}

impl ModelKind {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Ridge => "ridge",
            ModelKind::Logistic => "logistic",
            ModelKind::Gbdt => "gbdt",
            ModelKind::Mean => "mean",
            ModelKind::Blend => "blend",
            ModelKind::MlpCentred => "mlp-centred",
            ModelKind::BlendCentred => "blend-centred",
        }
    }

    /// True for the pass/fail classifier, whose targets are 0/1 labels of
    /// `score > cut` and whose predictions are probabilities.
    pub fn is_pass_fail(self) -> bool {
        self == ModelKind::Logistic
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A model the harness can fit on one fold's training rows and apply to its
/// held-out rows. Inputs are already standardised (the scaler is fitted on the
/// fold's training rows only), in `f64`, rows as essays.
pub trait Regressor: Send {
    /// Fits on `x` (n × features) and `y` (n × targets). For a pass/fail kind
    /// `y` holds 0.0/1.0 labels. `groups[i]` is row i's prompt id, for inner
    /// cross-validation by prompt (e.g. ridge's alpha).
    fn fit(
        &mut self,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        groups: &[String],
    ) -> Result<(), TrainingError>;

    /// Predicts n × targets: scores, or P(pass) for a pass/fail kind.
    fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TrainingError>;
}

/// Cross-validates `kind` with `config` on `dataset`, extracting features first.
pub fn cross_validate(
    dataset: &Dataset,
    config: &ValidTrainConfig,
    spec: FoldSpec,
    kind: ModelKind,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvReport, TrainingError> {
    let config = &config.for_dataset(dataset);
    training::cross_validate(
        dataset,
        config,
        spec,
        fold_predictor(kind, config).as_ref(),
        on_progress,
    )
}

/// [`cross_validate`] on features already extracted (a sweep extracts once
/// and cross-validates many configs).
pub fn cross_validate_featured(
    featured: &FeaturedDataset,
    config: &ValidTrainConfig,
    spec: FoldSpec,
    kind: ModelKind,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvReport, TrainingError> {
    let config = &config.for_dataset(featured.dataset);
    training::cross_validate_featured(
        featured,
        config,
        spec,
        fold_predictor(kind, config).as_ref(),
        on_progress,
    )
}

/// What the harness runs for `kind`: the grader's network ensemble, or a
/// baseline.
pub fn fold_predictor(kind: ModelKind, config: &ValidTrainConfig) -> Box<dyn FoldPredictor + '_> {
    match kind {
        ModelKind::Mlp => model_predictor(config),
        ModelKind::Ridge | ModelKind::Logistic | ModelKind::Gbdt | ModelKind::Mean => {
            Box::new(BaselinePredictor::new(kind, config))
        }
        ModelKind::Blend => Box::new(Blend {
            first: Box::new(NetworkEnsemble::new(config)),
            second: Box::new(BaselinePredictor::new(ModelKind::Gbdt, config)),
            name: kind.name().into(),
        }),
        ModelKind::MlpCentred => Box::new(CentredByPrompt {
            inner: Box::new(NetworkEnsemble::new(config)),
            name: kind.name().into(),
        }),
        ModelKind::BlendCentred => Box::new(Blend {
            first: fold_predictor(ModelKind::MlpCentred, config),
            second: Box::new(CentredByPrompt {
                inner: Box::new(BaselinePredictor::new(ModelKind::Gbdt, config)),
                name: "gbdt-centred".into(),
            }),
            name: kind.name().into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::TrainConfig;
    use crate::training::test_data::tiny_dataset;
    use serde_json::json;

    fn quick_config() -> ValidTrainConfig {
        TrainConfig::from_json_value(json!({
            "network": {"layers": [{"units": 8, "activation": "relu"}]},
            "epochs": 15, "ensemble": 2, "early_stopping": null, "batch_size": 16,
            "trees": null
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
