//! Logistic regression as a model of its own: z = w·x + b, p = σ(z), trained on
//! log-loss; it predicts probabilities, and classes at a threshold.
//!
//! It is exactly a network with no hidden layer, one sigmoid output and BCE,
//! so it reuses that machinery (optimizers, schedules, early stopping, the
//! callback, the artifact) rather than a second training loop.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};

use super::{
    Control, EpochReport, FitConfig, FitReport, LossConfig, Network, NetworkArtifact,
    NetworkConfig, NnError, OutputConfig, fit,
};

/// Binary logistic regression in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    /// The linear map and sigmoid, as a network without hidden layers.
    network: Network<f64>,
}

impl LogisticRegression {
    /// The network config of a logistic regression (Xavier init from `seed`).
    pub fn network_config(seed: u64) -> NetworkConfig {
        NetworkConfig {
            output: OutputConfig::new(1, "sigmoid"),
            loss: LossConfig::Name("bce".to_owned()),
            init: "xavier".to_owned(),
            seed: Some(seed),
            ..NetworkConfig::default()
        }
    }

    /// A model with the given weights and bias.
    pub fn from_params(weights: ArrayView1<f64>, bias: f64) -> Result<Self, NnError> {
        let mut network = Network::new(&Self::network_config(0), weights.len())?;
        let d = network.layers_mut()[0].affine_mut();
        d.weight.column_mut(0).assign(&weights);
        d.bias[0] = bias;
        Ok(Self { network })
    }

    /// Trains on rows of `x` with labels `y` in [0, 1] (usually 0 or 1), starting from
    /// weights drawn with `config.seed`.
    pub fn fit(
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        config: &FitConfig,
        on_epoch: &mut dyn FnMut(&EpochReport) -> Control,
    ) -> Result<(Self, FitReport), NnError> {
        if let Some((row, &value)) = y
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            return Err(NnError::InvalidLabel { row, value });
        }
        let mut network = Network::new(&Self::network_config(config.seed), x.ncols())?;
        let y = y.insert_axis(Axis(1));
        let report = fit(&mut network, x, y, config, on_epoch)?;
        Ok((Self { network }, report))
    }

    /// w.
    pub fn weights(&self) -> ArrayView1<'_, f64> {
        self.network.layers()[0].affine().weight.column(0)
    }

    /// b.
    pub fn bias(&self) -> f64 {
        self.network.layers()[0].affine().bias[0]
    }

    /// P(y = 1 | x) = σ(w·x + b) for each row.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array1<f64>, NnError> {
        Ok(self.network.try_predict(x)?.column(0).to_owned())
    }

    /// The class of each row: true when P(y = 1 | x) ≥ `threshold`.
    pub fn predict(&self, x: ArrayView2<f64>, threshold: f64) -> Result<Vec<bool>, NnError> {
        Ok(self
            .predict_proba(x)?
            .iter()
            .map(|&p| p >= threshold)
            .collect())
    }

    /// Mean log-loss −[y ln p + (1 − y) ln(1 − p)] over the rows, computed from the logits.
    pub fn log_loss(&self, x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<f64, NnError> {
        self.network.loss(x, y.insert_axis(Axis(1)))
    }

    /// The saved form (a network artifact).
    pub fn to_artifact(&self) -> NetworkArtifact {
        self.network.to_artifact(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{OptimizerConfig, ScheduleConfig};
    use ndarray::{Array2, array};

    /// A small fixed set that is not linearly separable, so the log-loss minimum is finite.
    fn fixed_set() -> (Array2<f64>, Array1<f64>) {
        let x = array![
            [0.5, 1.0],
            [1.5, -0.5],
            [-1.0, 0.3],
            [2.0, 1.2],
            [-0.7, -1.1],
            [0.2, 0.8],
            [1.1, 0.1],
            [-1.5, 0.9],
            [0.3, -0.4],
            [-0.2, -0.9]
        ];
        let y = array![1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        (x, y)
    }

    fn full_batch(optimizer: OptimizerConfig, epochs: usize, n: usize) -> FitConfig {
        FitConfig {
            optimizer,
            schedule: ScheduleConfig::named("cosine"),
            epochs,
            batch_size: n,
            ..FitConfig::default()
        }
    }

    // Reference numbers for `fixed_set`, computed independently of this crate with
    // Python 3 + NumPy 2.4.6 in a scratch directory: the mean log-loss written as
    // mean(max(z,0) − z·y + log1p(exp(−|z|))), and its minimum found by 100 Newton
    // steps on the exact Hessian (final gradient 4e-17).
    const LOSS_AT_FIXED_WEIGHTS: f64 = 0.6340495215032999; // w = [0.5, −0.25], b = 0.1
    const MIN_LOSS: f64 = 0.5628947363693338;
    const MIN_THETA: [f64; 3] = [0.87816676, 0.64084258, 0.26099518]; // w₁, w₂, b

    #[test]
    fn log_loss_matches_the_reference_at_fixed_weights() {
        let (x, y) = fixed_set();
        let model = LogisticRegression::from_params(array![0.5, -0.25].view(), 0.1).unwrap();
        let loss = model.log_loss(x.view(), y.view()).unwrap();
        assert!((loss - LOSS_AT_FIXED_WEIGHTS).abs() < 1e-14, "{loss}");
    }

    #[test]
    fn training_reaches_the_reference_minimum_log_loss() {
        let (x, y) = fixed_set();
        let config = full_batch(OptimizerConfig::named("adam").with_lr(0.1), 2000, 10);
        let (model, _) =
            LogisticRegression::fit(x.view(), y.view(), &config, &mut |_| Control::Continue)
                .unwrap();
        let loss = model.log_loss(x.view(), y.view()).unwrap();
        assert!(
            (loss - MIN_LOSS).abs() < 1e-8,
            "loss {loss} vs reference {MIN_LOSS}"
        );
        let got = [model.weights()[0], model.weights()[1], model.bias()];
        for (g, r) in got.iter().zip(MIN_THETA) {
            assert!(
                (g - r).abs() < 1e-3,
                "parameters {got:?} vs reference {MIN_THETA:?}"
            );
        }
    }

    #[test]
    fn logistic_regression_separates_a_linearly_separable_set() {
        // Class 1 exactly when x₁ + 2x₂ > 1, with a margin around the boundary.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..60 {
            let a = (i as f64 * 0.37).sin() * 2.0;
            let b = (i as f64 * 0.91).cos() * 2.0;
            let s = a + 2.0 * b - 1.0;
            if s.abs() < 0.2 {
                continue;
            }
            rows.extend([a, b]);
            labels.push(f64::from(s > 0.0));
        }
        let x = Array2::from_shape_vec((labels.len(), 2), rows).unwrap();
        let y = Array1::from(labels);
        let config = full_batch(OptimizerConfig::named("sgd").with_lr(0.5), 500, 8);
        let (model, _) =
            LogisticRegression::fit(x.view(), y.view(), &config, &mut |_| Control::Continue)
                .unwrap();
        let predicted = model.predict(x.view(), 0.5).unwrap();
        let wrong = predicted
            .iter()
            .zip(&y)
            .filter(|(p, t)| **p != (**t == 1.0))
            .count();
        assert_eq!(wrong, 0, "{wrong} of {} rows misclassified", y.len());
    }

    #[test]
    fn labels_outside_zero_one_are_refused() {
        let (x, mut y) = fixed_set();
        y[3] = 2.0;
        let err = LogisticRegression::fit(x.view(), y.view(), &FitConfig::default(), &mut |_| {
            Control::Continue
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "label 2 at row 3 is outside [0, 1]");
    }
}
