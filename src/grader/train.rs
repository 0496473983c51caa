//! Training the grader model on a dataset: the config's network ensemble
//! fitted on every row (`ensemble.rs`), its in-sample metrics, each target's
//! score quantiles for percentiles, all packed into a checked artifact
//! (`artifact.rs`). The honest accuracy figure is cross-validation
//! (`training::cv`), not these in-sample metrics.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::nn::{Control, Network};
use crate::training::{
    Dataset, FeaturedDataset, Metrics, Progress, TrainingError, ValidTrainConfig, check_trainable,
};

use super::artifact::{GraderModel, MODEL_FORMAT_VERSION, ModelFile, QUANTILES};
use super::ensemble::{NETWORK, ScaledData, predict_scaled, train_members, unscale_targets};

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

/// Trains the config on every row of `dataset` and returns the model.
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
    let x = featured.select(&rows, idx);
    let y = featured.targets(&rows);
    let data = ScaledData::new("all", x, y.clone())?;
    let members = train_members(std::slice::from_ref(&data), config, on_progress)?
        .pop()
        .expect("one fold was trained");
    let summaries: Vec<MemberSummary> = members.iter().map(|m| member_summary(&m.report)).collect();
    let networks: Vec<Network<f32>> = members.into_iter().map(|m| m.network).collect();
    let fitted = unscale_targets(&data.y_scaler, &predict_scaled(&networks, data.x.view()));
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
    };
    let model = GraderModel::from_file(file).map_err(|e| TrainingError::Model {
        model: NETWORK.into(),
        fold: "all".into(),
        message: format!("the trained model does not load back: {e}"),
    })?;
    Ok(TrainOutcome {
        model,
        report: training,
    })
}
