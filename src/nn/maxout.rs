//! The maxout layer: k linear pieces per unit, output max(w₁ᵀx + b₁, …, w_kᵀx + b_k).
//! It is a layer kind of its own (it has parameters), not an activation.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use super::{Dense, Float};

/// h_u = max_p (X·W + b)[u·k + p] for unit u and piece p in 0..k.
///
/// The pieces of unit u are the adjacent columns u·k .. u·k + k of one affine map,
/// so a single matrix product computes all of them. Backward routes dL/dh_u to the
/// winning piece only (the first one on a tie), and zero to the others.
#[derive(Debug, Clone, PartialEq)]
pub struct Maxout<F: Float = f32> {
    /// The affine map to units × pieces columns.
    pub affine: Dense<F>,
    /// Number of output units.
    pub units: usize,
    /// Number of linear pieces per unit (k ≥ 2).
    pub pieces: usize,
    /// Pre-max values of the last [`Maxout::forward`], kept for [`Maxout::backward`].
    z: Option<Array2<F>>,
}

impl<F: Float> Maxout<F> {
    /// A maxout layer over an affine map with `units * pieces` outputs.
    ///
    /// Panics if the affine map has a different number of outputs.
    pub fn new(affine: Dense<F>, units: usize, pieces: usize) -> Self {
        assert_eq!(
            affine.units(),
            units * pieces,
            "Maxout: affine map has {} outputs, expected {units}×{pieces}",
            affine.units()
        );
        Self {
            affine,
            units,
            pieces,
            z: None,
        }
    }

    /// H = max over pieces; keeps what backward needs.
    pub fn forward(&mut self, x: ArrayView2<F>) -> Array2<F> {
        // Dense::forward also keeps x for the parameter gradients.
        let z = self.affine.forward(x);
        let mut h = Array2::zeros((x.nrows(), self.units));
        self.max_into(z.view(), h.view_mut());
        self.z = Some(z);
        h
    }

    /// Takes dL/dH, stores the parameter gradients, returns dL/dX.
    ///
    /// Panics if [`Maxout::forward`] was not called first.
    pub fn backward(&mut self, dh: ArrayView2<F>) -> Array2<F> {
        let z = self
            .z
            .as_ref()
            .expect("Maxout::backward called before Maxout::forward");
        let mut dz = Array2::zeros(z.raw_dim());
        self.route_into(z.view(), dh, dz.view_mut());
        self.affine.backward(dz.view())
    }

    /// h[r, u] = max_p z[r, u·k + p].
    pub(crate) fn max_into(&self, z: ArrayView2<F>, mut h: ArrayViewMut2<F>) {
        let k = self.pieces;
        for (z_row, mut h_row) in z.outer_iter().zip(h.outer_iter_mut()) {
            for (u, out) in h_row.iter_mut().enumerate() {
                let mut best = z_row[u * k];
                for p in 1..k {
                    best = best.max(z_row[u * k + p]);
                }
                *out = best;
            }
        }
    }

    /// dL/dz: dL/dh at the winning piece of each unit, zero elsewhere.
    pub(crate) fn route_into(&self, z: ArrayView2<F>, dh: ArrayView2<F>, mut dz: ArrayViewMut2<F>) {
        let k = self.pieces;
        dz.fill(F::zero());
        for ((z_row, dh_row), mut dz_row) in
            z.outer_iter().zip(dh.outer_iter()).zip(dz.outer_iter_mut())
        {
            for (u, &g) in dh_row.iter().enumerate() {
                let mut arg = 0;
                for p in 1..k {
                    if z_row[u * k + p] > z_row[u * k + arg] {
                        arg = p;
                    }
                }
                dz_row[u * k + arg] = g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_close_grad, random_matrix};
    use ndarray::{Array1, array};

    fn layer(w: Array2<f64>, b: Array1<f64>) -> Maxout<f64> {
        Maxout::new(Dense::from_params(w, b), 2, 3)
    }

    #[test]
    fn maxout_takes_the_largest_piece_of_each_unit() {
        // One input, 2 units × 2 pieces: pieces are x·[1, -1] and x·[2, 3].
        let mut m = Maxout::new(
            Dense::from_params(array![[1.0, -1.0, 2.0, 3.0]], array![0.0, 0.5, 0.0, 0.0]),
            2,
            2,
        );
        let h = m.forward(array![[2.0], [-1.0]].view());
        assert_eq!(h, array![[2.0, 6.0], [1.5, -2.0]]);
    }

    #[test]
    fn maxout_passes_finite_difference_checks_for_input_weight_and_bias() {
        let x = random_matrix(5, 4, 21, 1.0);
        let w = random_matrix(4, 6, 22, 1.0);
        let b = Array1::from(vec![0.1, -0.2, 0.3, 0.0, 0.05, -0.1]);
        let c = random_matrix(5, 2, 23, 1.0);
        let mut m = layer(w.clone(), b.clone());
        m.forward(x.view());
        let dx = m.backward(c.view());
        let (gw, gb) = (m.affine.grad_weight.clone(), m.affine.grad_bias.clone());

        assert_close_grad("maxout dX", &x, &dx, |x| {
            (&layer(w.clone(), b.clone()).forward(x.view()) * &c).sum()
        });
        assert_close_grad("maxout dW", &w, &gw, |w| {
            (&layer(w.clone(), b.clone()).forward(x.view()) * &c).sum()
        });
        assert_close_grad("maxout db", &b, &gb, |b| {
            (&layer(w.clone(), b.clone()).forward(x.view()) * &c).sum()
        });
    }
}
