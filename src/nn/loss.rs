//! Loss functions over a mini-batch. Each returns (mean loss, gradient with
//! respect to its input). Regression losses take the network's output a;
//! the two cross-entropies take the output layer's logits z, because their
//! combined sigmoid/softmax + log form is both simpler and numerically stable.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};

use super::Float;
use super::activation::sigmoid;

/// A loss J(input, y) averaged over the batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Mean squared error over all n·k entries: J = (1/nk) Σ (a − y)²; dJ/da = 2(a − y)/nk.
    Mse,
    /// Huber over all n·k entries, with r = a − y:
    /// ½r² for |r| ≤ δ, δ(|r| − ½δ) otherwise; dJ/da = clamp(r, −δ, δ)/nk.
    /// Quadratic near the target, linear far away, so outliers pull less than in MSE.
    Huber {
        /// Where the quadratic part turns linear (default 1.0).
        delta: f64,
    },
    /// Binary cross-entropy (log-loss) on a sigmoid output, computed from the logits z
    /// over all n·k entries: J = (1/nk) Σ [max(z, 0) − z·y + ln(1 + e^(−|z|))], which equals
    /// −[y ln σ(z) + (1 − y) ln(1 − σ(z))] without overflow or log(0).
    /// For sigmoid with BCE, dJ/dz = a − y (divided by nk for the mean), with a = σ(z).
    Bce,
    /// Softmax cross-entropy from the logits z, averaged over the n rows:
    /// J = (1/n) Σ_rows Σ_i y_i (lse(z) − z_i) with the log-sum-exp
    /// lse(z) = m + ln Σ_j e^(z_j − m), m = max_j z_j. For target rows that sum to 1
    /// (one-hot or a distribution), dJ/dz = (softmax(z) − y)/n.
    SoftmaxCrossEntropy,
}

impl Loss {
    /// Default Huber delta.
    pub const DEFAULT_HUBER_DELTA: f64 = 1.0;
    /// The names accepted in configs.
    pub const NAMES: &'static [&'static str] = &["mse", "huber", "bce", "softmax_cross_entropy"];

    /// The config name of this loss.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::Huber { .. } => "huber",
            Loss::Bce => "bce",
            Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
        }
    }

    /// True when the loss takes the output layer's logits rather than its activation.
    pub fn takes_logits(&self) -> bool {
        matches!(self, Loss::Bce | Loss::SoftmaxCrossEntropy)
    }

    /// (mean loss, dJ/dinput), allocating the gradient. `input` is the output
    /// activation for MSE and Huber, the logits for the cross-entropies.
    ///
    /// Panics if `input` and `y` differ in shape (a caller bug: [`crate::nn::fit`]
    /// and [`crate::nn::Network::loss`] check shapes and return errors first).
    pub fn evaluate<F: Float>(&self, input: ArrayView2<F>, y: ArrayView2<F>) -> (f64, Array2<F>) {
        let mut grad = Array2::zeros(input.raw_dim());
        let loss = self.evaluate_into(input, y, grad.view_mut());
        (loss, grad)
    }

    /// The mean loss only.
    pub fn value<F: Float>(&self, input: ArrayView2<F>, y: ArrayView2<F>) -> f64 {
        self.evaluate(input, y).0
    }

    /// The mean loss, with dJ/dinput written into `grad`. Sums run in f64 so that
    /// an f32 batch loss is not degraded by accumulation.
    pub(crate) fn evaluate_into<F: Float>(
        &self,
        input: ArrayView2<F>,
        y: ArrayView2<F>,
        mut grad: ArrayViewMut2<F>,
    ) -> f64 {
        assert_eq!(
            input.shape(),
            y.shape(),
            "loss: prediction and target shapes differ"
        );
        let n = input.nrows().max(1);
        let count = input.len().max(1);
        let mut total = 0.0f64;
        match *self {
            Loss::Mse => {
                let scale = F::of(2.0 / count as f64);
                Zip::from(&mut grad)
                    .and(&input)
                    .and(&y)
                    .for_each(|g, &a, &y| {
                        let r = a - y;
                        total += (r * r).as_f64();
                        *g = scale * r;
                    });
                total / count as f64
            }
            Loss::Huber { delta } => {
                let scale = F::of(1.0 / count as f64);
                let d = F::of(delta);
                Zip::from(&mut grad)
                    .and(&input)
                    .and(&y)
                    .for_each(|g, &a, &y| {
                        let r = a - y;
                        let abs = r.abs().as_f64();
                        if abs <= delta {
                            total += 0.5 * abs * abs;
                            *g = scale * r;
                        } else {
                            total += delta * (abs - 0.5 * delta);
                            *g = scale * d * r.signum();
                        }
                    });
                total / count as f64
            }
            Loss::Bce => {
                let scale = F::of(1.0 / count as f64);
                Zip::from(&mut grad)
                    .and(&input)
                    .and(&y)
                    .for_each(|g, &z, &y| {
                        let (z64, y64) = (z.as_f64(), y.as_f64());
                        total += z64.max(0.0) - z64 * y64 + (-z64.abs()).exp().ln_1p();
                        *g = scale * (sigmoid(z) - y);
                    });
                total / count as f64
            }
            Loss::SoftmaxCrossEntropy => {
                let scale = F::of(1.0 / n as f64);
                for ((z_row, y_row), mut g_row) in input
                    .outer_iter()
                    .zip(y.outer_iter())
                    .zip(grad.outer_iter_mut())
                {
                    let max = z_row
                        .iter()
                        .fold(f64::NEG_INFINITY, |m, &v| m.max(v.as_f64()));
                    let sum_exp: f64 = z_row.iter().map(|&v| (v.as_f64() - max).exp()).sum();
                    let lse = max + sum_exp.ln();
                    let y_sum: f64 = y_row.iter().map(|&v| v.as_f64()).sum();
                    Zip::from(&mut g_row)
                        .and(&z_row)
                        .and(&y_row)
                        .for_each(|g, &z, &y| {
                            let (z64, y64) = (z.as_f64(), y.as_f64());
                            total += y64 * (lse - z64);
                            let p = (z64 - lse).exp();
                            *g = scale * F::of(p * y_sum - y64);
                        });
                }
                total / n as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_close_grad, random_matrix};
    use ndarray::array;

    #[test]
    fn every_loss_passes_a_finite_difference_gradient_check() {
        let input = random_matrix(6, 3, 31, 2.0);
        let regression_y = random_matrix(6, 3, 32, 2.0);
        let binary_y = random_matrix(6, 3, 33, 1.0).mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let mut one_hot = Array2::zeros((6, 3));
        for r in 0..6 {
            one_hot[[r, r % 3]] = 1.0;
        }
        let cases = [
            (Loss::Mse, regression_y.clone()),
            // δ = 0.8 puts some residuals in each branch.
            (Loss::Huber { delta: 0.8 }, regression_y),
            (Loss::Bce, binary_y),
            (Loss::SoftmaxCrossEntropy, one_hot),
        ];
        for (loss, y) in cases {
            let (_, grad) = loss.evaluate(input.view(), y.view());
            assert_close_grad(loss.name(), &input, &grad, |x| {
                loss.value(x.view(), y.view())
            });
        }
    }

    #[test]
    fn losses_give_hand_computed_values() {
        let a = array![[1.0f64, 2.0], [0.0, -1.0]];
        let y = array![[0.0f64, 2.0], [3.0, -1.0]];
        // Residuals 1, 0, −3, 0: MSE = (1 + 9)/4; Huber δ=1: (0.5 + 0 + 2.5 + 0)/4.
        assert_eq!(Loss::Mse.value(a.view(), y.view()), 2.5);
        assert_eq!(Loss::Huber { delta: 1.0 }.value(a.view(), y.view()), 0.75);
        // BCE at z = 0 is ln 2 whatever the label.
        let z = array![[0.0f64, 0.0]];
        let t = array![[1.0f64, 0.0]];
        assert!((Loss::Bce.value(z.view(), t.view()) - 2f64.ln()).abs() < 1e-15);
        // Softmax CE with equal logits over 4 classes is ln 4.
        let z = array![[5.0f64, 5.0, 5.0, 5.0]];
        let t = array![[0.0f64, 1.0, 0.0, 0.0]];
        assert!((Loss::SoftmaxCrossEntropy.value(z.view(), t.view()) - 4f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn cross_entropies_stay_finite_for_extreme_logits() {
        let z = array![[800.0f32, -800.0]];
        let t = array![[0.0f32, 1.0]];
        let (bce, g) = Loss::Bce.evaluate(z.view(), t.view());
        assert!((bce - 800.0).abs() < 1e-9, "{bce}");
        assert_eq!(g, array![[0.5, -0.5]]);
        let (sce, g) = Loss::SoftmaxCrossEntropy.evaluate(z.view(), t.view());
        assert!((sce - 1600.0).abs() < 1e-9, "{sce}");
        assert_eq!(g, array![[1.0, -1.0]]);
    }

    proptest::proptest! {
        #[test]
        fn cross_entropies_and_their_gradients_are_finite_for_any_finite_logits(
            z in proptest::collection::vec(-1e30f64..1e30, 3),
            class in 0usize..3,
        ) {
            let z = Array2::from_shape_vec((1, 3), z).unwrap();
            let mut t = Array2::zeros((1, 3));
            t[[0, class]] = 1.0;
            for loss in [Loss::Bce, Loss::SoftmaxCrossEntropy] {
                let (value, grad) = loss.evaluate(z.view(), t.view());
                proptest::prop_assert!(value.is_finite() && value >= 0.0, "{} = {value}", loss.name());
                proptest::prop_assert!(grad.iter().all(|g| g.is_finite()));
            }
        }
    }

    #[test]
    fn bce_gradient_is_sigmoid_minus_label() {
        let z = array![[0.3f64, -1.2]];
        let t = array![[1.0f64, 0.0]];
        let (_, g) = Loss::Bce.evaluate(z.view(), t.view());
        for (i, (&zi, &ti)) in z.iter().zip(t.iter()).enumerate() {
            let a = 1.0 / (1.0 + (-zi).exp());
            assert!((g[[0, i]] - (a - ti) / 2.0).abs() < 1e-15);
        }
    }
}
