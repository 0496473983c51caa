//! Training the grader model on a dataset: the config's network ensemble
//! fitted on every row (`ensemble.rs`), blended with gradient-boosted trees
//! when the config has them (`blend.rs`, `trees.rs`), its in-sample metrics, each target's
//! score quantiles for percentiles, all packed into a checked artifact
//! (`artifact.rs`). The honest accuracy figure is cross-validation
//! (`training::cv`), not these in-sample metrics.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::nn::{Control, Network};
use crate::training::{
    Dataset, FeaturedDataset, Fold, FoldPredictor, Metrics, Progress, TrainingError,
    ValidTrainConfig, check_trainable,
};

use super::artifact::{GraderModel, MODEL_FORMAT_VERSION, ModelFile, QUANTILES};
use super::blend::{BoostedTrees, fit_weights, inner_folds, model_name, train_trees};
use super::ensemble::{
    ScaledData, predict_held_out, predict_scaled, train_members, unscale_targets,
};

/// One ensemble member's training, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberSummary {
    /// Epochs that ran.
    pub epochs_run: usize,
    /// Epoch whose weights were kept (early stopping), if any.
    pub best_epoch: Option<usize>,
    /// Its validation loss.
    pub best_val_loss: Option<f64>,
    /// Training loss of the last epoch.
    pub final_train_loss: f64,
}

/// How the model was trained: the "training metrics" of the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Essays trained on.
    pub rows: usize,
    /// Prompt ids trained on.
    pub prompts: Vec<String>,
    /// Metrics on the training rows themselves (in-sample: optimistic; the
    /// honest figure is leave-one-prompt-out `cv`).
    pub metrics: Metrics,
    /// Each ensemble member.
    pub members: Vec<MemberSummary>,
    /// Wall time of training, feature extraction included.
    pub seconds: f64,
}

/// What [`train`] returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The trained model.
    pub model: GraderModel,
    /// How training went (also inside the model).
    pub report: TrainingSummary,
}

/// 101 quantiles (0th..100th percentile) of `values`, linearly interpolated.
pub(super) fn quantiles(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let last = (v.len() - 1) as f64;
    (0..QUANTILES)
        .map(|k| {
            let pos = k as f64 / (QUANTILES - 1) as f64 * last;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        })
        .collect()
}

fn member_summary(report: &crate::nn::FitReport) -> MemberSummary {
    MemberSummary {
        epochs_run: report.history.len(),
        best_epoch: report.best_epoch,
        best_val_loss: report.best_val_loss,
        final_train_loss: report.history.last().map_or(f64::NAN, |e| e.train_loss),
    }
}

/// Trains the config on every row of `dataset` and returns the model. With
/// `trees` in the config, the blend's weights are fitted first on
/// out-of-fold predictions of both models inside the dataset (`blend.rs`),
/// whose networks train in the same run as the final ones; then the trees
/// are fitted on every row too.
pub fn train(
    dataset: &Dataset,
    config: &ValidTrainConfig,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TrainOutcome, TrainingError> {
    let start = Instant::now();
    let config = &config.for_dataset(dataset);
    check_trainable(dataset, config)?;
    let featured = FeaturedDataset::new(dataset, config.threads());
    let rows: Vec<usize> = (0..dataset.essays.len()).collect();
    let idx = config.feature_indices();
    let everything = Fold {
        held_out: "all".into(),
        train: rows.clone(),
        test: Vec::new(),
    };
    let inner = match &config.config().trees {
        Some(_) => inner_folds(dataset, &everything),
        None => Vec::new(),
    };
    let mut scaled = inner
        .iter()
        .map(|f| {
            ScaledData::new(
                &f.held_out,
                featured.select(&f.train, idx),
                featured.targets(&f.train),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let y = featured.targets(&rows);
    scaled.push(ScaledData::new(
        "all",
        featured.select(&rows, idx),
        y.clone(),
    )?);
    // The inner folds' networks (a blend's, for its weights) train in the
    // same run as the final ones, which run last. Their reports keep their
    // fold (`fold_<k>/` in a job's curves); the final networks report as
    // the one fold of a plain training run, so their curves keep the plain
    // names (`train_loss`) with or without a blend. `done`/`total` still
    // count the whole run.
    let inner_count = inner.len();
    let mut report = |p: &Progress| {
        let mut p = *p;
        if p.fold > inner_count {
            (p.fold, p.folds) = (1, 1);
        } else {
            p.folds = inner_count;
        }
        on_progress(&p)
    };
    let mut members = train_members(&scaled, config, &mut report)?;
    let members_all = members.pop().expect("the last run is on every row");
    let data = scaled.pop().expect("the last run is on every row");
    let summaries: Vec<MemberSummary> = members_all
        .iter()
        .map(|m| member_summary(&m.report))
        .collect();
    let networks: Vec<Network<f32>> = members_all.into_iter().map(|m| m.network).collect();
    let mut fitted = unscale_targets(&data.y_scaler, &predict_scaled(&networks, data.x.view()));
    let trees = match &config.config().trees {
        None => None,
        Some(trees_config) => {
            let by_networks = inner
                .iter()
                .zip(&scaled)
                .zip(members)
                .map(|((fold, data), members)| {
                    let nets: Vec<Network<f32>> = members.into_iter().map(|m| m.network).collect();
                    predict_held_out(&featured, fold, idx, data, &nets)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let by_trees = BoostedTrees::new(config)
                .expect("the config has trees")
                .predict_folds(&featured, &inner, &mut |_| Control::Continue)?;
            let weights = fit_weights(dataset, &inner, &by_networks, &by_trees);
            let (mut file, loaded) = train_trees(&featured, &rows, config, trees_config, "all")?;
            let own = loaded.predict(featured.features.view());
            for (t, &w) in weights.iter().enumerate() {
                let mut column = fitted.column_mut(t);
                column *= w;
                column.scaled_add(1.0 - w, &own.column(t));
            }
            file.network_weight = weights;
            Some(file)
        }
    };
    let t = dataset.target_names.len();
    let ycols: Vec<Vec<f64>> = (0..t).map(|j| y.column(j).to_vec()).collect();
    let pcols: Vec<Vec<f64>> = (0..t).map(|j| fitted.column(j).to_vec()).collect();
    let metrics = Metrics::regression(
        &dataset.target_names,
        &ycols,
        &pcols,
        dataset.score_grid.as_ref(),
    );
    let training = TrainingSummary {
        rows: rows.len(),
        prompts: dataset.prompt_ids(),
        metrics,
        members: summaries,
        seconds: start.elapsed().as_secs_f64(),
    };
    let file = ModelFile {
        format_version: MODEL_FORMAT_VERSION,
        feature_names: config.feature_names(),
        scaler: data.x_scaler.clone(),
        target_names: dataset.target_names.clone(),
        target_scaler: data.y_scaler.clone(),
        score_grid: dataset.score_grid,
        config: config.to_json_value(),
        members: networks.iter().map(|n| n.to_artifact(None)).collect(),
        training: training.clone(),
        target_quantiles: ycols.iter().map(|c| quantiles(c)).collect(),
        trees,
    };
    let model = GraderModel::from_file(file).map_err(|e| TrainingError::Model {
        model: model_name(config).into(),
        fold: "all".into(),
        message: format!("the trained model does not load back: {e}"),
    })?;
    Ok(TrainOutcome {
        model,
        report: training,
    })
}
