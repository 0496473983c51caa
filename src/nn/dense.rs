//! The dense (fully connected) layer, vectorised over a mini-batch whose rows
//! are examples: Z = X·W + b. It owns its parameters and their gradients; the
//! activation that follows it is applied by the network.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Zip, linalg::general_mat_mul};

use super::Float;

/// Z = X·W + b, with X of shape (batch, inputs), W (inputs, units), b (units).
///
/// Backward, given G = dL/dZ: dL/dW = Xᵀ·G, dL/db = Σ_rows G, dL/dX = G·Wᵀ.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense<F: Float = f32> {
    /// W, shape (inputs, units).
    pub weight: Array2<F>,
    /// b, shape (units).
    pub bias: Array1<F>,
    /// dL/dW from the last backward pass.
    pub grad_weight: Array2<F>,
    /// dL/db from the last backward pass.
    pub grad_bias: Array1<F>,
    /// The input of the last [`Dense::forward`], kept for [`Dense::backward`].
    input: Option<Array2<F>>,
}

impl<F: Float> Dense<F> {
    /// A layer with the given parameters; the gradients start at zero.
    ///
    /// Panics if the bias length differs from the weight's column count.
    pub fn from_params(weight: Array2<F>, bias: Array1<F>) -> Self {
        assert_eq!(
            weight.ncols(),
            bias.len(),
            "Dense: weight has {} columns but bias has {} entries",
            weight.ncols(),
            bias.len()
        );
        let grad_weight = Array2::zeros(weight.raw_dim());
        let grad_bias = Array1::zeros(bias.raw_dim());
        Self {
            weight,
            bias,
            grad_weight,
            grad_bias,
            input: None,
        }
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.weight.nrows()
    }

    /// Number of outputs (units).
    pub fn units(&self) -> usize {
        self.weight.ncols()
    }

    /// Z = X·W + b; keeps X for [`Dense::backward`].
    pub fn forward(&mut self, x: ArrayView2<F>) -> Array2<F> {
        let mut z = Array2::zeros((x.nrows(), self.units()));
        self.forward_into(x, z.view_mut());
        self.input = Some(x.to_owned());
        z
    }

    /// Takes dL/dZ, stores dL/dW and dL/db, and returns dL/dX.
    ///
    /// Panics if [`Dense::forward`] was not called first.
    pub fn backward(&mut self, dz: ArrayView2<F>) -> Array2<F> {
        let x = self
            .input
            .take()
            .expect("Dense::backward called before Dense::forward");
        let mut dx = Array2::zeros(x.raw_dim());
        self.backward_into(x.view(), dz, Some(dx.view_mut()));
        self.input = Some(x);
        dx
    }

    /// Z = X·W + b written into `z`, without allocating.
    pub(crate) fn forward_into(&self, x: ArrayView2<F>, mut z: ArrayViewMut2<F>) {
        z.assign(&self.bias);
        general_mat_mul(F::one(), &x, &self.weight, F::one(), &mut z);
    }

    /// Z = X·W + b for a few rows given as row-major slices (`x` holds
    /// `rows × inputs` values, `z` receives `rows × units`). Each output is
    /// the bias plus the inputs times the weights, summed in input order;
    /// eight units at a time are accumulated in a fixed-size array the
    /// compiler keeps in vector registers. For one to a dozen rows this
    /// beats a general matrix product, which first packs its operands.
    pub(crate) fn forward_rows(&self, x: &[F], z: &mut [F]) {
        const LANES: usize = 8;
        let (inputs, units) = (self.inputs(), self.units());
        let weight = self.weight.as_slice().expect("weights are contiguous");
        let bias = self.bias.as_slice().expect("biases are contiguous");
        for (x_row, z_row) in x.chunks_exact(inputs).zip(z.chunks_exact_mut(units)) {
            let mut start = 0;
            while start + LANES <= units {
                let mut acc: [F; LANES] =
                    bias[start..start + LANES].try_into().expect("LANES values");
                for (k, &v) in x_row.iter().enumerate() {
                    let w: &[F; LANES] = weight[k * units + start..][..LANES]
                        .try_into()
                        .expect("LANES values");
                    for l in 0..LANES {
                        acc[l] = acc[l] + v * w[l];
                    }
                }
                z_row[start..start + LANES].copy_from_slice(&acc);
                start += LANES;
            }
            for u in start..units {
                let mut acc = bias[u];
                for (k, &v) in x_row.iter().enumerate() {
                    acc = acc + v * weight[k * units + u];
                }
                z_row[u] = acc;
            }
        }
    }

    /// Stores dL/dW = Xᵀ·G and dL/db = Σ_rows G; writes dL/dX = G·Wᵀ into `dx`
    /// when asked (the first layer does not need it).
    pub(crate) fn backward_into(
        &mut self,
        x: ArrayView2<F>,
        dz: ArrayView2<F>,
        dx: Option<ArrayViewMut2<F>>,
    ) {
        general_mat_mul(F::one(), &x.t(), &dz, F::zero(), &mut self.grad_weight);
        self.grad_bias.fill(F::zero());
        for row in dz.rows() {
            Zip::from(&mut self.grad_bias)
                .and(&row)
                .for_each(|g, &d| *g += d);
        }
        if let Some(mut dx) = dx {
            general_mat_mul(F::one(), &dz, &self.weight.t(), F::zero(), &mut dx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_close_grad, random_matrix};
    use ndarray::{Array1, array};

    fn layer() -> Dense<f64> {
        Dense::from_params(
            random_matrix(4, 3, 1, 1.0),
            Array1::from(vec![0.1, -0.2, 0.3]),
        )
    }

    #[test]
    fn dense_computes_x_times_w_plus_b() {
        let mut d = Dense::from_params(array![[1.0, 2.0], [3.0, 4.0]], array![0.5, -1.0]);
        let z = d.forward(array![[1.0, 1.0], [0.0, 2.0]].view());
        assert_eq!(z, array![[4.5, 5.0], [6.5, 7.0]]);
    }

    #[test]
    fn dense_passes_finite_difference_checks_for_input_weight_and_bias() {
        let x = random_matrix(6, 4, 2, 1.0);
        let c = random_matrix(6, 3, 3, 1.0);
        // L = Σ c ⊙ Z, so dL/dZ = c.
        let mut d = layer();
        d.forward(x.view());
        let dx = d.backward(c.view());
        let (gw, gb) = (d.grad_weight.clone(), d.grad_bias.clone());

        let base = layer();
        assert_close_grad("dense dX", &x, &dx, |x| {
            (&base.clone().forward(x.view()) * &c).sum()
        });
        assert_close_grad("dense dW", &base.weight, &gw, |w| {
            (&Dense::from_params(w.clone(), base.bias.clone()).forward(x.view()) * &c).sum()
        });
        assert_close_grad("dense db", &base.bias, &gb, |b| {
            (&Dense::from_params(base.weight.clone(), b.clone()).forward(x.view()) * &c).sum()
        });
    }
}
