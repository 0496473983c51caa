//! Activation functions, applied element-wise (or row-wise for softmax) to a
//! mini-batch of pre-activations Z (rows are examples), with their backward
//! passes. Maxout is not here: it has parameters, so it is a layer ([`crate::nn::Maxout`]).

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, Zip};

use super::Float;

/// An activation a = f(z).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// f(z) = z; for a linear (regression) output.
    Identity,
    /// f(z) = 1 / (1 + e^(−z)), computed without overflow for large |z|; f' = a(1 − a).
    Sigmoid,
    /// f(z) = tanh z; f' = 1 − a².
    Tanh,
    /// f(z) = max(0, z); f'(z) = 1 for z > 0, else 0 (the subgradient at 0 is taken as 0).
    Relu,
    /// f(z) = max(slope·z, z) for 0 ≤ slope < 1, i.e. z for z > 0 and slope·z otherwise.
    /// The default slope is 0.1 ([`Activation::DEFAULT_LEAKY_SLOPE`]).
    LeakyRelu {
        /// Gradient for negative inputs.
        slope: f64,
    },
    /// f(z) = z for z > 0, α(e^z − 1) otherwise; f' = 1 or a + α. Default α = 1.
    Elu {
        /// Saturation value −α for very negative inputs.
        alpha: f64,
    },
    /// Row-wise softmax: a_i = e^(z_i − m) / Σ_j e^(z_j − m) with m = max_j z_j, which
    /// leaves the result unchanged and keeps every exponent ≤ 0 (no overflow).
    /// Backward: dL/dz_i = a_i (dL/da_i − Σ_j dL/da_j · a_j).
    Softmax,
}

impl Activation {
    /// Default leaky-ReLU slope, as in max(0.1x, x).
    pub const DEFAULT_LEAKY_SLOPE: f64 = 0.1;
    /// Default ELU alpha.
    pub const DEFAULT_ELU_ALPHA: f64 = 1.0;
    /// The names accepted in configs.
    pub const NAMES: &'static [&'static str] = &[
        "identity",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "softmax",
    ];

    /// The config name of this activation.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Softmax => "softmax",
        }
    }

    /// a = f(z), allocating the result.
    pub fn forward<F: Float>(&self, z: ArrayView2<F>) -> Array2<F> {
        let mut a = Array2::zeros(z.raw_dim());
        self.forward_into(z, a.view_mut());
        a
    }

    /// dL/dz from z, a = f(z) and dL/da, allocating the result.
    pub fn backward<F: Float>(
        &self,
        z: ArrayView2<F>,
        a: ArrayView2<F>,
        da: ArrayView2<F>,
    ) -> Array2<F> {
        let mut dz = Array2::zeros(z.raw_dim());
        self.backward_into(z, a, da, dz.view_mut());
        dz
    }

    /// a = f(z) written into `a` (same shape as `z`).
    pub fn forward_into<F: Float>(&self, z: ArrayView2<F>, mut a: ArrayViewMut2<F>) {
        let zero = F::zero();
        let one = F::one();
        match *self {
            Activation::Identity => a.assign(&z),
            Activation::Sigmoid => Zip::from(&mut a).and(&z).for_each(|a, &z| *a = sigmoid(z)),
            Activation::Tanh => Zip::from(&mut a).and(&z).for_each(|a, &z| *a = z.tanh()),
            Activation::Relu => Zip::from(&mut a)
                .and(&z)
                .for_each(|a, &z| *a = if z > zero { z } else { zero }),
            Activation::LeakyRelu { slope } => {
                let slope = F::of(slope);
                Zip::from(&mut a)
                    .and(&z)
                    .for_each(|a, &z| *a = if z > zero { z } else { slope * z })
            }
            Activation::Elu { alpha } => {
                let alpha = F::of(alpha);
                Zip::from(&mut a)
                    .and(&z)
                    .for_each(|a, &z| *a = if z > zero { z } else { alpha * (z.exp() - one) })
            }
            Activation::Softmax => {
                for (z_row, mut a_row) in z.outer_iter().zip(a.outer_iter_mut()) {
                    let max = z_row.iter().fold(F::neg_infinity(), |m, &v| m.max(v));
                    let mut sum = zero;
                    Zip::from(&mut a_row).and(&z_row).for_each(|a, &z| {
                        *a = (z - max).exp();
                        sum += *a;
                    });
                    a_row.mapv_inplace(|v| v / sum);
                }
            }
        }
    }

    /// a = f(z) for inference, over row-major slices of rows `width` wide:
    /// the functions of [`Activation::forward_into`], with ELU's exponential
    /// computed by [`Float::exp_nonpositive`], without branches, so that its
    /// loop vectorises (f32 results within a few ulp). Identity, ReLU and
    /// ELU, the activations of grading models, run on the slices directly;
    /// the others go through [`Activation::forward_into`].
    pub fn forward_inference<F: Float>(&self, z: &[F], a: &mut [F], width: usize) {
        let zero = F::zero();
        match *self {
            Activation::Identity => a.copy_from_slice(z),
            Activation::Relu => {
                for (a, &z) in a.iter_mut().zip(z) {
                    *a = if z > zero { z } else { zero };
                }
            }
            Activation::Elu { alpha } => {
                let alpha = F::of(alpha);
                for (a, &z) in a.iter_mut().zip(z) {
                    let negative = alpha * (z.exp_nonpositive() - F::one());
                    *a = if z > zero { z } else { negative };
                }
            }
            _ => {
                let rows = z.len() / width.max(1);
                let z = ArrayView2::from_shape((rows, width), z).expect("rows of `width` values");
                let a =
                    ArrayViewMut2::from_shape((rows, width), a).expect("rows of `width` values");
                self.forward_into(z, a);
            }
        }
    }

    /// dL/dz written into `dz`, from z, a = f(z) and dL/da (all the same shape).
    pub fn backward_into<F: Float>(
        &self,
        z: ArrayView2<F>,
        a: ArrayView2<F>,
        da: ArrayView2<F>,
        mut dz: ArrayViewMut2<F>,
    ) {
        let zero = F::zero();
        let one = F::one();
        match *self {
            Activation::Identity => dz.assign(&da),
            Activation::Sigmoid => Zip::from(&mut dz)
                .and(&a)
                .and(&da)
                .for_each(|dz, &a, &da| *dz = da * a * (one - a)),
            Activation::Tanh => Zip::from(&mut dz)
                .and(&a)
                .and(&da)
                .for_each(|dz, &a, &da| *dz = da * (one - a * a)),
            Activation::Relu => Zip::from(&mut dz)
                .and(&z)
                .and(&da)
                .for_each(|dz, &z, &da| *dz = if z > zero { da } else { zero }),
            Activation::LeakyRelu { slope } => {
                let slope = F::of(slope);
                Zip::from(&mut dz)
                    .and(&z)
                    .and(&da)
                    .for_each(|dz, &z, &da| *dz = if z > zero { da } else { slope * da })
            }
            Activation::Elu { alpha } => {
                let alpha = F::of(alpha);
                Zip::from(&mut dz)
                    .and(&z)
                    .and(&a)
                    .and(&da)
                    .for_each(|dz, &z, &a, &da| *dz = if z > zero { da } else { da * (a + alpha) })
            }
            Activation::Softmax => {
                for ((a_row, da_row), mut dz_row) in a
                    .outer_iter()
                    .zip(da.outer_iter())
                    .zip(dz.axis_iter_mut(Axis(0)))
                {
                    let dot = a_row.dot(&da_row);
                    Zip::from(&mut dz_row)
                        .and(&a_row)
                        .and(&da_row)
                        .for_each(|dz, &a, &da| *dz = a * (da - dot));
                }
            }
        }
    }
}

/// The logistic function, split by sign so that e^(−z) never overflows.
pub(crate) fn sigmoid<F: Float>(z: F) -> F {
    let one = F::one();
    if z >= F::zero() {
        one / (one + (-z).exp())
    } else {
        let e = z.exp();
        e / (one + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_close_grad, random_matrix};
    use ndarray::array;

    const ALL: [Activation; 7] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.1 },
        Activation::Elu { alpha: 1.3 },
        Activation::Softmax,
    ];

    #[test]
    fn every_activation_passes_a_finite_difference_gradient_check() {
        for act in ALL {
            // A loss L = Σ c ⊙ f(z) with fixed random weights c makes dL/da = c.
            let z = random_matrix(5, 4, 11, 2.0);
            // Keep kinks of ReLU-like functions away from the probe points.
            let z = z.mapv(|v: f64| if v.abs() < 1e-3 { v + 0.01 } else { v });
            let c = random_matrix(5, 4, 12, 1.0);
            let a = act.forward(z.view());
            let dz = act.backward(z.view(), a.view(), c.view());
            let loss = |z: &Array2<f64>| (&act.forward(z.view()) * &c).sum();
            assert_close_grad(act.name(), &z, &dz, loss);
        }
    }

    #[test]
    fn activations_give_their_textbook_values() {
        let z = array![[-2.0f64, 0.0, 3.0]];
        assert_eq!(Activation::Relu.forward(z.view()), array![[0.0, 0.0, 3.0]]);
        assert_eq!(
            Activation::LeakyRelu {
                slope: Activation::DEFAULT_LEAKY_SLOPE
            }
            .forward(z.view()),
            array![[-0.2, 0.0, 3.0]]
        );
        let elu = Activation::Elu { alpha: 1.0 }.forward(z.view());
        assert!((elu[[0, 0]] - ((-2.0f64).exp() - 1.0)).abs() < 1e-15);
        let s = Activation::Sigmoid.forward(z.view());
        assert!((s[[0, 1]] - 0.5).abs() < 1e-15);
        let soft = Activation::Softmax.forward(array![[1.0f64, 2.0, 3.0]].view());
        let denom = 1f64.exp() + 2f64.exp() + 3f64.exp();
        assert!((soft[[0, 2]] - 3f64.exp() / denom).abs() < 1e-15);
    }

    proptest::proptest! {
        #[test]
        fn every_activation_is_finite_in_f32_for_any_finite_input(
            z in proptest::collection::vec(-3e38f32..3e38, 4),
        ) {
            let z = Array2::from_shape_vec((1, 4), z).unwrap();
            for act in ALL {
                let a = act.forward(z.view());
                let dz = act.backward(z.view(), a.view(), Array2::ones((1, 4)).view());
                proptest::prop_assert!(a.iter().all(|v| v.is_finite()), "{} gave {a}", act.name());
                proptest::prop_assert!(dz.iter().all(|v| v.is_finite()), "{} gave {dz}", act.name());
            }
        }
    }

    #[test]
    fn sigmoid_and_softmax_stay_finite_for_huge_inputs() {
        let z = array![[1000.0f32, -1000.0, 0.0]];
        let s = Activation::Sigmoid.forward(z.view());
        assert_eq!(s, array![[1.0, 0.0, 0.5]]);
        let soft = Activation::Softmax.forward(z.view());
        assert!(soft.iter().all(|v| v.is_finite()));
        assert!((soft.sum() - 1.0).abs() < 1e-6);
    }
}
