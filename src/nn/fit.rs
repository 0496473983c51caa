//! The training loop: seeded shuffled mini-batches over epochs, a learning-rate
//! schedule, optional gradient-norm clipping, an optional validation split with
//! early stopping (restoring the best weights), and a per-epoch callback that
//! reports progress and can stop training.

use ndarray::{Array2, ArrayView2, Axis, s};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

use super::{FieldError, Float, Network, NnError, Optimizer, OptimizerConfig, OptimizerKind};
use super::{Schedule, ScheduleConfig};

/// How to train: `{"optimizer":{"name":"adam"},"schedule":{"name":"cosine"},"epochs":200,
/// "batch_size":64,"early_stopping":{"patience":20,"validation_fraction":0.1},
/// "clip_grad_norm":null,"seed":42}`. Every field is optional (see [`FitConfig::default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FitConfig {
    /// The optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule over epochs.
    pub schedule: ScheduleConfig,
    /// Maximum number of passes over the training rows (≥ 1).
    pub epochs: usize,
    /// Rows per mini-batch (≥ 1); the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// Hold out a validation split and stop when it stops improving; `None` trains every epoch.
    pub early_stopping: Option<EarlyStopping>,
    /// Rescale the whole gradient to at most this Euclidean norm; `None` never clips.
    pub clip_grad_norm: Option<f64>,
    /// Seed of the validation split and of the batch shuffling.
    pub seed: u64,
}

impl Default for FitConfig {
    /// Adam (defaults), constant rate, 100 epochs, batch 64, no early stopping,
    /// no clipping, seed 0.
    fn default() -> Self {
        Self {
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            epochs: 100,
            batch_size: 64,
            early_stopping: None,
            clip_grad_norm: None,
            seed: 0,
        }
    }
}

/// Early stopping on a validation split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EarlyStopping {
    /// Stop after this many epochs without a new best validation loss (≥ 1; default 10).
    pub patience: usize,
    /// Share of the rows held out, drawn with the fit seed (in (0, 1); default 0.1).
    pub validation_fraction: f64,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self {
            patience: 10,
            validation_fraction: 0.1,
        }
    }
}

/// A validated [`FitConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct FitSpec {
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Rate per epoch.
    pub schedule: Schedule,
    /// Maximum epochs.
    pub epochs: usize,
    /// Rows per batch.
    pub batch_size: usize,
    /// Early stopping, if any.
    pub early_stopping: Option<EarlyStopping>,
    /// Gradient-norm ceiling, if any.
    pub clip_grad_norm: Option<f64>,
    /// Shuffling and split seed.
    pub seed: u64,
}

impl FitConfig {
    /// Checks every field and reports every problem, with paths such as
    /// `optimizer.lr`, `schedule.gamma`, `batch_size`, `early_stopping.patience`.
    pub fn validate(&self) -> Result<FitSpec, Vec<FieldError>> {
        let mut errs = Vec::new();
        let optimizer = self
            .optimizer
            .validate()
            .map_err(|e| errs.extend(e.iter().map(|e| e.prefixed("optimizer"))))
            .ok();
        let schedule = self
            .schedule
            .validate()
            .map_err(|e| errs.extend(e.iter().map(|e| e.prefixed("schedule"))))
            .ok();
        if self.epochs == 0 {
            errs.push(FieldError::new("epochs", "must be at least 1 (got 0)"));
        }
        if self.batch_size == 0 {
            errs.push(FieldError::new("batch_size", "must be at least 1 (got 0)"));
        }
        if let Some(es) = &self.early_stopping {
            if es.patience == 0 {
                errs.push(FieldError::new(
                    "early_stopping.patience",
                    "must be at least 1 (got 0)",
                ));
            }
            let f = es.validation_fraction;
            if !(f.is_finite() && f > 0.0 && f < 1.0) {
                errs.push(FieldError::new(
                    "early_stopping.validation_fraction",
                    format!("must be strictly between 0 and 1 (got {f})"),
                ));
            }
        }
        if let Some(c) = self.clip_grad_norm
            && !(c.is_finite() && c > 0.0)
        {
            errs.push(FieldError::new(
                "clip_grad_norm",
                format!("must be a finite number > 0 (got {c})"),
            ));
        }
        match (optimizer, schedule) {
            (Some(optimizer), Some(schedule)) if errs.is_empty() => Ok(FitSpec {
                optimizer,
                schedule,
                epochs: self.epochs,
                batch_size: self.batch_size,
                early_stopping: self.early_stopping,
                clip_grad_norm: self.clip_grad_norm,
                seed: self.seed,
            }),
            _ => Err(errs),
        }
    }
}

/// What the per-epoch callback receives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// The epoch just finished, from 1.
    pub epoch: usize,
    /// The configured maximum number of epochs.
    pub epochs: usize,
    /// Mean training loss over the epoch's batches (each measured before its update).
    pub train_loss: f64,
    /// Loss on the validation split after the epoch, when early stopping is on.
    pub val_loss: Option<f64>,
    /// The learning rate used during the epoch.
    pub learning_rate: f64,
}

/// The callback's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop after this epoch (e.g. the job was cancelled).
    Stop,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every configured epoch ran.
    Completed,
    /// The validation loss did not improve for `patience` epochs.
    EarlyStopped,
    /// The callback returned [`Control::Stop`].
    Stopped,
}

/// The outcome of a successful [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Every epoch's report, in order.
    pub history: Vec<EpochReport>,
    /// Why training ended.
    pub stop: StopReason,
    /// The epoch whose weights the network now holds when early stopping is on (1-based).
    pub best_epoch: Option<usize>,
    /// That epoch's validation loss.
    pub best_val_loss: Option<f64>,
    /// Indices of the rows held out for validation (empty without early stopping).
    pub validation_rows: Vec<usize>,
}

impl FitReport {
    /// Number of epochs that ran.
    pub fn epochs_run(&self) -> usize {
        self.history.len()
    }
}

/// Trains `network` on rows of `x` (inputs) and `y` (targets).
///
/// Calls `on_epoch` after every epoch; returning [`Control::Stop`] ends training
/// there. With early stopping the network ends holding the weights of its best
/// validation epoch. A NaN or infinite loss ends training with
/// [`NnError::NonFiniteLoss`]; the network is then put back as it was before the
/// call, so no diverged model escapes.
pub fn fit<F: Float>(
    network: &mut Network<F>,
    x: ArrayView2<F>,
    y: ArrayView2<F>,
    config: &FitConfig,
    on_epoch: &mut dyn FnMut(&EpochReport) -> Control,
) -> Result<FitReport, NnError> {
    let spec = config.validate().map_err(NnError::invalid)?;
    check_data(network, x, y)?;

    let n = x.nrows();
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut train_rows: Vec<usize> = (0..n).collect();
    let mut validation_rows = Vec::new();
    if let Some(es) = spec.early_stopping {
        train_rows.shuffle(&mut rng);
        let n_val = ((n as f64 * es.validation_fraction).round() as usize).max(1);
        if n_val >= n {
            return Err(NnError::TooFewRows(format!(
                "{n} row(s) cannot be split into training and validation rows (validation_fraction {})",
                es.validation_fraction
            )));
        }
        validation_rows = train_rows.split_off(n - n_val);
        // Sorted so that the training order depends only on the seed, not on the split's order.
        train_rows.sort_unstable();
    }
    let x_val = x.select(Axis(0), &validation_rows);
    let y_val = y.select(Axis(0), &validation_rows);

    let batch = spec.batch_size.min(train_rows.len());
    let mut ws = network.workspace(batch);
    let mut x_batch = Array2::zeros((batch, x.ncols()));
    let mut y_batch = Array2::zeros((batch, y.ncols()));
    let mut optimizer = Optimizer::<F>::new(spec.optimizer);
    let initial = network.layers().to_vec();

    let mut history = Vec::with_capacity(spec.epochs);
    let mut best: Option<(usize, f64, Vec<_>)> = None;
    let mut since_best = 0;
    let mut stop = StopReason::Completed;
    for epoch in 0..spec.epochs {
        let lr = spec
            .schedule
            .learning_rate(spec.optimizer.lr(), epoch, spec.epochs);
        optimizer.set_learning_rate(lr);
        train_rows.shuffle(&mut rng);

        let mut loss_sum = 0.0;
        for (b, chunk) in train_rows.chunks(batch).enumerate() {
            let m = chunk.len();
            for (r, &row) in chunk.iter().enumerate() {
                x_batch.row_mut(r).assign(&x.row(row));
                y_batch.row_mut(r).assign(&y.row(row));
            }
            let loss = network.forward_backward(
                &mut ws,
                x_batch.slice(s![..m, ..]),
                y_batch.slice(s![..m, ..]),
            );
            if !loss.is_finite() {
                network.set_layers(initial);
                return Err(NnError::NonFiniteLoss {
                    epoch: epoch + 1,
                    batch: b + 1,
                    loss,
                });
            }
            loss_sum += loss * m as f64;
            if let Some(max) = spec.clip_grad_norm {
                let norm = network.grad_norm();
                if norm > max {
                    network.scale_grads(F::of(max / norm));
                }
            }
            optimizer.step(&mut network.params_and_grads());
        }
        let train_loss = loss_sum / train_rows.len() as f64;
        // The last update of an epoch can overflow without any loss having seen it yet.
        if let Some(name) = network.first_non_finite_param() {
            network.set_layers(initial);
            return Err(NnError::NonFiniteWeights {
                epoch: epoch + 1,
                name,
            });
        }

        let val_loss = if spec.early_stopping.is_some() {
            let v = network.loss(x_val.view(), y_val.view())?;
            if !v.is_finite() {
                network.set_layers(initial);
                return Err(NnError::NonFiniteLoss {
                    epoch: epoch + 1,
                    batch: 0,
                    loss: v,
                });
            }
            Some(v)
        } else {
            None
        };
        let report = EpochReport {
            epoch: epoch + 1,
            epochs: spec.epochs,
            train_loss,
            val_loss,
            learning_rate: lr,
        };
        history.push(report);

        if let Some(v) = val_loss {
            if best.as_ref().is_none_or(|(_, b, _)| v < *b) {
                best = Some((epoch + 1, v, network.layers().to_vec()));
                since_best = 0;
            } else {
                since_best += 1;
            }
        }
        if on_epoch(&report) == Control::Stop {
            stop = StopReason::Stopped;
            break;
        }
        if let Some(es) = spec.early_stopping
            && since_best >= es.patience
        {
            stop = StopReason::EarlyStopped;
            break;
        }
    }

    let (best_epoch, best_val_loss) = match best {
        Some((epoch, loss, layers)) => {
            network.set_layers(layers);
            (Some(epoch), Some(loss))
        }
        None => (None, None),
    };
    Ok(FitReport {
        history,
        stop,
        best_epoch,
        best_val_loss,
        validation_rows,
    })
}

/// Shapes agree with the network, there is at least one row, and every value is finite.
fn check_data<F: Float>(
    network: &Network<F>,
    x: ArrayView2<F>,
    y: ArrayView2<F>,
) -> Result<(), NnError> {
    let checks = [
        ("x columns", network.n_inputs(), x.ncols()),
        ("y columns", network.n_outputs(), y.ncols()),
        ("y rows", x.nrows(), y.nrows()),
    ];
    for (what, expected, got) in checks {
        if expected != got {
            return Err(NnError::ShapeMismatch {
                what: what.to_owned(),
                expected,
                got,
            });
        }
    }
    if x.nrows() == 0 {
        return Err(NnError::TooFewRows("there are no training rows".to_owned()));
    }
    for (what, data) in [("x", x), ("y", y)] {
        if let Some(((row, column), v)) = data.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(NnError::NonFiniteInput {
                what,
                row,
                column,
                value: v.as_f64(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::random_matrix;
    use crate::nn::{LayerConfig, LogisticRegression, LossConfig, NetworkConfig, OutputConfig};
    use ndarray::array;

    fn regression_data(rows: usize, seed: u64) -> (Array2<f32>, Array2<f32>) {
        let x = random_matrix(rows, 3, seed, 1.0).mapv(|v| v as f32);
        let y = Array2::from_shape_fn((rows, 1), |(r, _)| {
            (x[[r, 0]] * 2.0 - x[[r, 1]]).sin() + 0.5 * x[[r, 2]]
        });
        (x, y)
    }

    fn small_net(seed: u64) -> Network<f32> {
        let config = NetworkConfig {
            layers: vec![
                LayerConfig::dense(16, "tanh"),
                LayerConfig::dense(8, "relu"),
            ],
            output: OutputConfig::new(1, "identity"),
            seed: Some(seed),
            ..NetworkConfig::default()
        };
        Network::new(&config, 3).unwrap()
    }

    fn keep_going(_: &EpochReport) -> Control {
        Control::Continue
    }

    #[test]
    fn training_lowers_the_loss_and_reports_every_epoch() {
        let (x, y) = regression_data(200, 1);
        let mut net = small_net(1);
        let before = net.loss(x.view(), y.view()).unwrap();
        let config = FitConfig {
            epochs: 30,
            batch_size: 16,
            optimizer: OptimizerConfig::named("adam").with_lr(0.01),
            schedule: ScheduleConfig::named("cosine"),
            ..FitConfig::default()
        };
        let mut seen = Vec::new();
        let report = fit(&mut net, x.view(), y.view(), &config, &mut |r| {
            seen.push((r.epoch, r.epochs, r.learning_rate));
            Control::Continue
        })
        .unwrap();
        let after = net.loss(x.view(), y.view()).unwrap();
        assert!(after < before / 5.0, "loss went from {before} to {after}");
        assert_eq!(report.stop, StopReason::Completed);
        assert_eq!(seen.len(), 30);
        assert_eq!((seen[0].0, seen[0].1, seen[0].2), (1, 30, 0.01));
        assert!(
            seen[29].2 < 0.001,
            "cosine schedule should be near 0 at the end"
        );
    }

    #[test]
    fn the_same_config_and_seed_train_bit_identically() {
        let (x, y) = regression_data(100, 2);
        let config = FitConfig {
            epochs: 5,
            batch_size: 7,
            seed: 9,
            early_stopping: Some(EarlyStopping::default()),
            ..FitConfig::default()
        };
        let mut a = small_net(3);
        let mut b = small_net(3);
        let ra = fit(&mut a, x.view(), y.view(), &config, &mut keep_going).unwrap();
        let rb = fit(&mut b, x.view(), y.view(), &config, &mut keep_going).unwrap();
        assert_eq!(a, b);
        assert_eq!(ra, rb);
        let mut c = small_net(3);
        let other_seed = FitConfig { seed: 10, ..config };
        fit(&mut c, x.view(), y.view(), &other_seed, &mut keep_going).unwrap();
        assert_ne!(
            a, c,
            "a different shuffling seed should give different weights"
        );
    }

    #[test]
    fn a_non_finite_loss_stops_training_with_an_error_and_no_model() {
        let (x, y) = regression_data(50, 3);
        let y = y.mapv(|v| v * 1e18);
        let mut net = small_net(4);
        let untouched = net.clone();
        let config = FitConfig {
            optimizer: OptimizerConfig::named("sgd").with_lr(10.0),
            epochs: 50,
            ..FitConfig::default()
        };
        let err = fit(&mut net, x.view(), y.view(), &config, &mut keep_going).unwrap_err();
        assert!(matches!(err, NnError::NonFiniteLoss { .. }), "{err}");
        assert!(err.to_string().contains("no model was produced"), "{err}");
        assert_eq!(net, untouched, "the diverged weights must not be kept");
    }

    #[test]
    fn weights_that_overflow_in_the_last_update_are_an_error_too() {
        // One epoch of one batch: the loss is finite when measured, and only the update
        // that follows overflows f32.
        let (x, y) = regression_data(8, 4);
        let y = y.mapv(|v| v * 1e6);
        let mut net = small_net(4);
        let untouched = net.clone();
        let config = FitConfig {
            optimizer: OptimizerConfig::named("sgd").with_lr(1e38),
            epochs: 1,
            batch_size: 8,
            ..FitConfig::default()
        };
        let err = fit(&mut net, x.view(), y.view(), &config, &mut keep_going).unwrap_err();
        assert!(
            matches!(err, NnError::NonFiniteWeights { epoch: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("layers.0.weight"), "{err}");
        assert_eq!(net, untouched);
    }

    #[test]
    fn a_softmax_classifier_learns_three_classes() {
        // Three well-separated blobs around the vertices of a triangle.
        let centres = [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]];
        let noise = random_matrix(90, 2, 12, 0.6);
        let x = Array2::from_shape_fn((90, 2), |(r, c)| centres[r % 3][c] + noise[[r, c]]);
        let y = Array2::from_shape_fn((90, 3), |(r, c)| f64::from(r % 3 == c));
        let config = NetworkConfig {
            layers: vec![LayerConfig::dense(8, "leaky_relu")],
            output: OutputConfig::new(3, "softmax"),
            loss: LossConfig::Name("softmax_cross_entropy".into()),
            seed: Some(2),
            ..NetworkConfig::default()
        };
        let mut net = Network::<f64>::new(&config, 2).unwrap();
        let fit_config = FitConfig {
            optimizer: OptimizerConfig::named("rmsprop").with_lr(0.01),
            epochs: 60,
            batch_size: 16,
            ..FitConfig::default()
        };
        fit(&mut net, x.view(), y.view(), &fit_config, &mut keep_going).unwrap();
        let p = net.predict(x.view());
        for row in p.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12, "softmax rows sum to 1");
        }
        let right = p
            .rows()
            .into_iter()
            .enumerate()
            .filter(|(r, row)| {
                let best = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
                best == r % 3
            })
            .count();
        assert!(right >= 88, "{right} of 90 classified right");
    }

    #[test]
    fn early_stopping_restores_the_best_weights() {
        // Pure-noise targets: the network can only memorise, so the validation loss
        // rises once it starts to, and early stopping must roll back to the best epoch.
        let x = random_matrix(60, 3, 5, 1.0).mapv(|v| v as f32);
        let y = random_matrix(60, 1, 6, 1.0).mapv(|v| v as f32);
        let mut net = small_net(5);
        let config = FitConfig {
            optimizer: OptimizerConfig::named("adam").with_lr(0.05),
            epochs: 300,
            batch_size: 8,
            early_stopping: Some(EarlyStopping {
                patience: 5,
                validation_fraction: 0.25,
            }),
            ..FitConfig::default()
        };
        let report = fit(&mut net, x.view(), y.view(), &config, &mut keep_going).unwrap();
        assert_eq!(report.stop, StopReason::EarlyStopped);
        let best_epoch = report.best_epoch.unwrap();
        assert_eq!(report.epochs_run(), best_epoch + 5);
        let vals: Vec<f64> = report.history.iter().map(|r| r.val_loss.unwrap()).collect();
        let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(report.best_val_loss, Some(min));
        assert!(*vals.last().unwrap() > min);
        // The network now scores the best epoch's validation loss, bit for bit.
        let rows = &report.validation_rows;
        assert_eq!(rows.len(), 15);
        let (xv, yv) = (x.select(Axis(0), rows), y.select(Axis(0), rows));
        assert_eq!(net.loss(xv.view(), yv.view()).unwrap(), min);
    }

    #[test]
    fn the_callback_can_stop_training() {
        let (x, y) = regression_data(40, 7);
        let mut net = small_net(6);
        let config = FitConfig {
            epochs: 100,
            ..FitConfig::default()
        };
        let report = fit(&mut net, x.view(), y.view(), &config, &mut |r| {
            if r.epoch == 3 {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .unwrap();
        assert_eq!(report.epochs_run(), 3);
        assert_eq!(report.stop, StopReason::Stopped);
    }

    #[test]
    fn gradient_clipping_bounds_the_step() {
        let (x, y) = regression_data(32, 8);
        let mut net = small_net(7);
        let before = net.to_artifact(None);
        // One SGD step with lr 1 over one batch: the parameters move by exactly the
        // clipped gradient, so by at most 0.01 in norm.
        let config = FitConfig {
            optimizer: OptimizerConfig::named("sgd").with_lr(1.0),
            epochs: 1,
            batch_size: 32,
            clip_grad_norm: Some(0.01),
            ..FitConfig::default()
        };
        fit(&mut net, x.view(), y.view(), &config, &mut keep_going).unwrap();
        let after = net.to_artifact(None);
        let moved: f64 = before
            .params
            .iter()
            .zip(&after.params)
            .flat_map(|(a, b)| a.values.iter().zip(&b.values).map(|(u, v)| (u - v).powi(2)))
            .sum::<f64>()
            .sqrt();
        assert!(moved > 0.0099 && moved < 0.0101, "moved {moved}");
    }

    #[test]
    fn bad_fit_configs_are_rejected_with_every_field_listed() {
        let json = r#"{"optimizer":{"name":"adamax","lr":-0.1},"schedule":{"name":"step","gamma":0},
                       "epochs":0,"batch_size":0,"clip_grad_norm":-1,
                       "early_stopping":{"patience":0,"validation_fraction":1.5}}"#;
        let config: FitConfig = serde_json::from_str(json).unwrap();
        let errs = config.validate().unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "optimizer.lr",
                "optimizer.name",
                "schedule.gamma",
                "epochs",
                "batch_size",
                "early_stopping.patience",
                "early_stopping.validation_fraction",
                "clip_grad_norm"
            ]
        );
        let mut nan = FitConfig::default();
        nan.optimizer.lr = Some(f64::NAN);
        let (x, y) = regression_data(4, 1);
        let err = fit(&mut small_net(1), x.view(), y.view(), &nan, &mut keep_going).unwrap_err();
        assert!(
            err.to_string()
                .contains("optimizer.lr: must be a finite number > 0 (got NaN)"),
            "{err}"
        );
    }

    #[test]
    fn mismatched_or_non_finite_data_is_refused_before_training() {
        let (x, y) = regression_data(10, 1);
        let mut net = small_net(1);
        let err = fit(
            &mut net,
            x.view(),
            y.slice(s![..9, ..]),
            &FitConfig::default(),
            &mut keep_going,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape mismatch in y rows: expected 10, got 9"
        );
        let mut bad = x.clone();
        bad[[4, 2]] = f32::NAN;
        let err = fit(
            &mut net,
            bad.view(),
            y.view(),
            &FitConfig::default(),
            &mut keep_going,
        )
        .unwrap_err();
        assert!(err.to_string().contains("row 4, column 2"), "{err}");
    }

    #[test]
    fn one_hidden_layer_fits_xor_which_logistic_regression_cannot() {
        let x = array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
        let y = array![0.0, 1.0, 1.0, 0.0];
        let config = FitConfig {
            optimizer: OptimizerConfig::named("adam").with_lr(0.05),
            epochs: 500,
            batch_size: 4,
            ..FitConfig::default()
        };
        let net_config = NetworkConfig {
            layers: vec![LayerConfig::dense(8, "tanh")],
            output: OutputConfig::new(1, "sigmoid"),
            loss: LossConfig::Name("bce".into()),
            init: "xavier".into(),
            seed: Some(1),
            ..NetworkConfig::default()
        };
        let mut net = Network::<f64>::new(&net_config, 2).unwrap();
        let y2 = y.clone().insert_axis(Axis(1));
        fit(&mut net, x.view(), y2.view(), &config, &mut keep_going).unwrap();
        let p = net.predict(x.view()).column(0).to_owned();
        let classes: Vec<bool> = p.iter().map(|&v| v >= 0.5).collect();
        assert_eq!(
            classes,
            [false, true, true, false],
            "network probabilities {p}"
        );
        assert!(net.loss(x.view(), y2.view()).unwrap() < 0.05);

        let (logistic, _) =
            LogisticRegression::fit(x.view(), y.view(), &config, &mut keep_going).unwrap();
        let right = logistic
            .predict(x.view(), 0.5)
            .unwrap()
            .iter()
            .zip([false, true, true, false])
            .filter(|(a, b)| **a == *b)
            .count();
        // No line separates XOR: at most 3 of 4 points, and the best log-loss is ln 2.
        assert!(right <= 3);
        assert!(logistic.log_loss(x.view(), y.view()).unwrap() > 0.69);
    }
}
