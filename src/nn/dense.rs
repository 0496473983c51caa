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

    /// Z = X·W + b for a few rows given as row-major slices (`z` receives
    /// `rows × units` values, from the first `rows × inputs` of `x`). For one to a
    /// dozen rows this beats a general matrix product, which first packs its
    /// operands. Units in whole groups of 4 are summed in input order, as
    /// [`Dense::add_weight_rows`] sums them, four rows at a time so that
    /// each weight loaded serves four rows; the last few units (an output
    /// layer of one or two) are dot products in four interleaved partial
    /// sums, which keeps the adder busy where one running sum would wait on
    /// itself.
    #[inline(always)]
    pub(crate) fn forward_rows(&self, x: &[F], z: &mut [F]) {
        let (inputs, units) = (self.inputs(), self.units());
        let grouped = units - units % 4;
        let weight = self.weight.as_slice().expect("weights are contiguous");
        let bias = self.bias.as_slice().expect("biases are contiguous");
        let rows = z.len() / units;
        assert!(x.len() >= rows * inputs, "an input row per output row");
        for r in 0..rows {
            z[r * units..(r + 1) * units].copy_from_slice(bias);
        }
        if grouped > 0 {
            let mut r = 0;
            while r + 4 <= rows {
                add_rows::<F, 4>(
                    &x[r * inputs..(r + 4) * inputs],
                    &mut z[r * units..(r + 4) * units],
                    weight,
                    inputs,
                    units,
                    grouped,
                );
                r += 4;
            }
            while r < rows {
                add_rows::<F, 1>(
                    &x[r * inputs..(r + 1) * inputs],
                    &mut z[r * units..(r + 1) * units],
                    weight,
                    inputs,
                    units,
                    grouped,
                );
                r += 1;
            }
        }
        let (x, z) = (&x[..rows * inputs], &mut z[..rows * units]);
        if grouped == 0 {
            // Only narrow units: a layer of one to three, the output layer.
            match units {
                1 => return narrow_rows::<F, 1>(x, z, weight, inputs),
                2 => return narrow_rows::<F, 2>(x, z, weight, inputs),
                3 => return narrow_rows::<F, 3>(x, z, weight, inputs),
                _ => {}
            }
        }
        for (x_row, z_row) in x.chunks_exact(inputs).zip(z.chunks_exact_mut(units)) {
            for (u, out) in z_row.iter_mut().enumerate().skip(grouped) {
                let mut partial = [F::zero(); 4];
                let mut quads = x_row.chunks_exact(4);
                for (q, quad) in (&mut quads).enumerate() {
                    for l in 0..4 {
                        partial[l] = partial[l] + quad[l] * weight[(4 * q + l) * units + u];
                    }
                }
                let done = inputs - quads.remainder().len();
                let mut tail = F::zero();
                for (i, &v) in quads.remainder().iter().enumerate() {
                    tail = tail + v * weight[(done + i) * units + u];
                }
                *out = *out + (((partial[0] + partial[1]) + (partial[2] + partial[3])) + tail);
            }
        }
    }

    /// Adds Σ v·W[k, ·] over the `(k, v)` terms, in their order, to `out`
    /// (one value per unit). The units are taken 16, then 4, then 1 at a
    /// time into a fixed-size array that the compiler keeps in vector
    /// registers: independent lanes, no load and store of `out` per term.
    /// `out` may cover only the first units (`out.len() ≤ units`).
    #[inline(always)]
    pub(crate) fn add_weight_rows<I>(&self, out: &mut [F], terms: I)
    where
        I: Iterator<Item = (usize, F)> + Clone,
    {
        let stride = self.units();
        let units = out.len();
        let weight = self.weight.as_slice().expect("weights are contiguous");
        let mut start = 0;
        while start + 16 <= units {
            add_chunk::<F, 16>(out, weight, stride, start, terms.clone());
            start += 16;
        }
        while start + 4 <= units {
            add_chunk::<F, 4>(out, weight, stride, start, terms.clone());
            start += 4;
        }
        while start < units {
            add_chunk::<F, 1>(out, weight, stride, start, terms.clone());
            start += 1;
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

/// The narrow units' sums of [`Dense::forward_rows`] for a layer of only
/// `N` units (`N` < 4): per unit, four partial sums over the quads of
/// inputs, a tail over the last few, then `z + ((p0 + p1) + (p2 + p3)) +
/// tail`, the same operations in the same order. The partial sums of all
/// `N` units sit side by side, as the weights of four consecutive inputs
/// do, so one vector operation advances them all.
#[inline(always)]
fn narrow_rows<F: Float, const N: usize>(x: &[F], z: &mut [F], weight: &[F], inputs: usize) {
    assert_eq!(weight.len(), inputs * N, "a layer of N units");
    for (x_row, z_row) in x.chunks_exact(inputs).zip(z.chunks_exact_mut(N)) {
        // partial[l][u]: input 4q + l's terms of unit u.
        let mut partial = [[F::zero(); N]; 4];
        let mut quads = x_row.chunks_exact(4);
        for (quad, w) in (&mut quads).zip(weight.chunks_exact(4 * N)) {
            for l in 0..4 {
                for u in 0..N {
                    partial[l][u] = partial[l][u] + quad[l] * w[l * N + u];
                }
            }
        }
        let done = inputs - quads.remainder().len();
        let mut tail = [F::zero(); N];
        for (&v, w) in quads
            .remainder()
            .iter()
            .zip(weight[done * N..].chunks_exact(N))
        {
            for u in 0..N {
                tail[u] = tail[u] + v * w[u];
            }
        }
        for (u, out) in z_row.iter_mut().enumerate() {
            *out = *out
                + (((partial[0][u] + partial[1][u]) + (partial[2][u] + partial[3][u])) + tail[u]);
        }
    }
}

/// For `R` rows (`x`: `R × inputs`, `z`: `R × units`, row-major), adds
/// Σ_k x[r, k]·W[k, u] in input order to the first `grouped` units of each
/// row of `z`: 16, then 4 units at a time (`grouped` is a multiple of 4).
#[inline(always)]
fn add_rows<F: Float, const R: usize>(
    x: &[F],
    z: &mut [F],
    weight: &[F],
    inputs: usize,
    units: usize,
    grouped: usize,
) {
    let mut start = 0;
    while start + 16 <= grouped {
        add_rows_chunk::<F, 16, R>(x, z, weight, inputs, units, start);
        start += 16;
    }
    while start + 4 <= grouped {
        add_rows_chunk::<F, 4, R>(x, z, weight, inputs, units, start);
        start += 4;
    }
}

/// `z[r, start..start + W] += Σ_k x[r, k]·W[k, start..start + W]` for the
/// `R` rows, k in order: the sums [`add_chunk`] makes, with each weight
/// chunk loaded once for all the rows.
#[inline(always)]
fn add_rows_chunk<F: Float, const W: usize, const R: usize>(
    x: &[F],
    z: &mut [F],
    weight: &[F],
    inputs: usize,
    units: usize,
    start: usize,
) {
    assert!(start + W <= units && x.len() == R * inputs && z.len() == R * units);
    let mut acc = [[F::zero(); W]; R];
    for (r, acc) in acc.iter_mut().enumerate() {
        acc.copy_from_slice(&z[r * units + start..][..W]);
    }
    let rows: [&[F]; R] = std::array::from_fn(|r| &x[r * inputs..(r + 1) * inputs]);
    for (k, w_row) in weight.chunks_exact(units).take(inputs).enumerate() {
        let w: &[F; W] = w_row[start..start + W].try_into().expect("W values");
        for (acc, row) in acc.iter_mut().zip(&rows) {
            let v = row[k];
            for l in 0..W {
                acc[l] = acc[l] + v * w[l];
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        z[r * units + start..][..W].copy_from_slice(acc);
    }
}

/// `out[start..start + W] += Σ v·W[k, start..start + W]` over the terms,
/// for a weight matrix `stride` units wide.
#[inline(always)]
fn add_chunk<F: Float, const W: usize>(
    out: &mut [F],
    weight: &[F],
    stride: usize,
    start: usize,
    terms: impl Iterator<Item = (usize, F)>,
) {
    let chunk = &mut out[start..start + W];
    let mut acc: [F; W] = (&*chunk).try_into().expect("W values");
    for (k, v) in terms {
        let w: &[F; W] = weight[k * stride + start..][..W]
            .try_into()
            .expect("W values");
        for l in 0..W {
            acc[l] = acc[l] + v * w[l];
        }
    }
    chunk.copy_from_slice(&acc);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_close_grad, random_matrix};
    use ndarray::{Array1, array};

    #[test]
    fn forward_rows_equals_the_matrix_product_for_any_width() {
        for (inputs, units) in [(88, 16), (16, 2), (7, 1), (5, 12), (9, 19), (3, 4)] {
            let d = Dense::from_params(
                random_matrix(inputs, units, 3, 1.0),
                random_matrix(1, units, 4, 1.0).row(0).to_owned(),
            );
            let x = random_matrix(3, inputs, 5, 2.0);
            let mut want = Array2::zeros((3, units));
            d.forward_into(x.view(), want.view_mut());
            let mut got = vec![0.0; 3 * units];
            d.forward_rows(x.as_slice().unwrap(), &mut got);
            for (a, b) in got.iter().zip(want.iter()) {
                assert!((a - b).abs() < 1e-12, "{inputs}×{units}: {a} vs {b}");
            }
        }
    }

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
