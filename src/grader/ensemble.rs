//! The network ensemble as the grader trains it: inputs and targets
//! standardised on the training rows, one multi-output network per ensemble
//! member (so the targets share hidden layers), members seeded `seed + m`,
//! predictions averaged. Members of every fold train in parallel on the
//! worker pool.
//!
//! Targets are standardised too, so a loss such as Huber's sees errors in
//! standard deviations whatever the score scale (-2..4 or 1..5).
//!
//! [`NetworkEnsemble`] is the ensemble behind the cross-validation harness's
//! [`FoldPredictor`] seam: every fold's members train together on the pool.

use ndarray::{Array2, ArrayView2};

use crate::nn::{Control, FitReport, Network, NnError, Standardizer, StopReason, fit};
use crate::training::progress::{Message, Reporter, RunShape, run_tasks};
use crate::training::{
    FeaturedDataset, Fold, FoldPredictor, Progress, TrainingError, ValidTrainConfig,
};

/// The name of the network ensemble in reports and errors (the model kind
/// `mlp` of the command line and the API).
pub const NETWORK: &str = "mlp";

/// One fold's training data, standardised.
pub(super) struct ScaledData {
    /// Label used in errors: the held-out prompt, or "all".
    pub label: String,
    /// Standardised training inputs.
    pub x: Array2<f32>,
    /// Standardised training targets.
    pub y: Array2<f32>,
    /// The input scaler (fitted on these rows).
    pub x_scaler: Standardizer,
    /// The target scaler (fitted on these rows).
    pub y_scaler: Standardizer,
}

impl ScaledData {
    /// Fits both scalers on the training rows and applies them.
    pub(super) fn new(
        label: &str,
        x: Array2<f32>,
        y: Array2<f64>,
    ) -> Result<ScaledData, TrainingError> {
        let nn = |source: NnError| TrainingError::Data {
            fold: label.to_string(),
            source,
        };
        let x_scaler = Standardizer::fit(x.view()).map_err(nn)?;
        let y_scaler = Standardizer::fit(y.view()).map_err(nn)?;
        let x = x_scaler.transform(x.view()).map_err(nn)?;
        let y = y_scaler.transform(y.view()).map_err(nn)?.mapv(|v| v as f32);
        Ok(ScaledData {
            label: label.to_string(),
            x,
            y,
            x_scaler,
            y_scaler,
        })
    }
}

/// A trained member.
pub(super) struct Member {
    /// The network.
    pub network: Network<f32>,
    /// Its training history.
    pub report: FitReport,
}

/// Trains `config.ensemble` members on each fold's data, in parallel.
/// Returns, per fold, its members in seed order.
pub(super) fn train_members(
    folds: &[ScaledData],
    config: &ValidTrainConfig,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Vec<Vec<Member>>, TrainingError> {
    let members = config.config().ensemble;
    let epochs = config.config().epochs;
    let tasks = folds.len() * members;
    let shape = RunShape {
        folds: folds.len(),
        members,
        epochs,
        total: tasks * epochs,
    };
    let work = |task: usize, reporter: &Reporter| {
        let (f, m) = (task / members, task % members);
        let data = &folds[f];
        let fail = |source: NnError| TrainingError::Fit {
            fold: data.label.clone(),
            member: m + 1,
            source,
        };
        let mut network =
            Network::<f32>::new(&config.network_for(data.y.ncols(), m), data.x.ncols())
                .map_err(fail)?;
        let mut on_epoch = |e: &crate::nn::EpochReport| {
            reporter.send(Message::Epoch {
                fold: f + 1,
                member: m + 1,
                epoch: e.epoch,
                train_loss: e.train_loss,
                val_loss: e.val_loss,
            })
        };
        let report = fit(
            &mut network,
            data.x.view(),
            data.y.view(),
            &config.fit_for(m),
            &mut on_epoch,
        )
        .map_err(fail)?;
        if report.stop == StopReason::Stopped || reporter.stopped() {
            return Err(TrainingError::Cancelled);
        }
        reporter.send(Message::Skipped(
            epochs.saturating_sub(report.history.len()),
        ));
        Ok(Member { network, report })
    };
    let (results, cancelled) = run_tasks(tasks, config.threads(), shape, &work, on_progress);
    if cancelled {
        return Err(TrainingError::Cancelled);
    }
    let mut out: Vec<Vec<Member>> = (0..folds.len()).map(|_| Vec::new()).collect();
    for (task, result) in results.into_iter().enumerate() {
        out[task / members].push(result?);
    }
    Ok(out)
}

/// The ensemble's prediction on standardised inputs, in standardised target
/// units: the mean of the members' outputs.
pub(super) fn predict_scaled(networks: &[Network<f32>], x: ArrayView2<f32>) -> Array2<f32> {
    let mut sum = networks[0].predict(x);
    for net in &networks[1..] {
        sum += &net.predict(x);
    }
    sum / networks.len() as f32
}

/// Maps standardised predictions back to the target scale.
pub(super) fn unscale_targets(y_scaler: &Standardizer, p: &Array2<f32>) -> Array2<f64> {
    let mut out = p.mapv(f64::from);
    for (j, mut col) in out.columns_mut().into_iter().enumerate() {
        col.mapv_inplace(|v| v * y_scaler.std[j] + y_scaler.mean[j]);
    }
    out
}

/// The config's network ensemble, cross-validated: for each fold, inputs and
/// targets are standardised on its training rows, `ensemble` members are
/// trained, and their mean prediction on the held-out rows is mapped back to
/// the target scale.
#[derive(Debug, Clone, Copy)]
pub struct NetworkEnsemble<'a> {
    config: &'a ValidTrainConfig,
}

impl<'a> NetworkEnsemble<'a> {
    /// The ensemble `config` describes.
    pub fn new(config: &'a ValidTrainConfig) -> Self {
        Self { config }
    }
}

impl FoldPredictor for NetworkEnsemble<'_> {
    fn name(&self) -> &str {
        NETWORK
    }

    fn predict_folds(
        &self,
        featured: &FeaturedDataset,
        folds: &[Fold],
        on_progress: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Vec<Array2<f64>>, TrainingError> {
        let idx = self.config.feature_indices();
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
        let members = train_members(&scaled, self.config, on_progress)?;
        folds
            .iter()
            .zip(&scaled)
            .zip(members)
            .map(|((fold, data), members)| {
                let networks: Vec<_> = members.into_iter().map(|m| m.network).collect();
                predict_held_out(featured, fold, idx, data, &networks)
            })
            .collect()
    }
}

/// The networks' predictions of `fold`'s test rows (target scale), with the
/// scalers of its training data.
pub(super) fn predict_held_out(
    featured: &FeaturedDataset,
    fold: &Fold,
    idx: &[usize],
    data: &ScaledData,
    networks: &[Network<f32>],
) -> Result<Array2<f64>, TrainingError> {
    let x_test = data
        .x_scaler
        .transform(featured.select(&fold.test, idx).view())
        .map_err(|source| TrainingError::Data {
            fold: fold.held_out.clone(),
            source,
        })?;
    Ok(unscale_targets(
        &data.y_scaler,
        &predict_scaled(networks, x_test.view()),
    ))
}
