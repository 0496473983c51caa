//! Occlusion inference: a network's outputs for one input row and for
//! copies of it with groups of inputs set to zero, the work behind an
//! explanation by occlusion (with standardised inputs, zero is the training
//! mean).
//!
//! Two things make it cheap. The first layer's affine map is linear, so it
//! is computed once for the row and each copy only subtracts the terms of
//! its zeroed inputs: with disjoint groups the first layer, the widest,
//! costs two rows' work however many copies there are. And the handful of
//! rows goes through [`Dense::forward_rows`](super::Dense) into buffers the
//! caller keeps ([`OcclusionScratch`]), so nothing is packed or allocated
//! per call.
//!
//! Activations are computed as for inference
//! ([`Activation::forward_inference`](super::Activation)): in f32 an
//! ELU's outputs are within a few ulp of [`Network::predict`]'s.
//!
//! With no groups this is plain one-row prediction; a caller that predicts
//! rows both with and without occlusions through this path gets the very
//! same number for the row either way.

use ndarray::{ArrayView1, ArrayView2};

use super::network::check_width;
use super::{Float, Network, NnError};

/// Buffers reused across [`Network::predict_occlusions`] calls (one per
/// thread; it grows to the largest network and group count it has seen).
#[derive(Debug, Clone, Default)]
pub struct OcclusionScratch<F: Float> {
    /// The input row, contiguous.
    input: Vec<F>,
    /// Pre-activations of the current layer.
    z: Vec<F>,
    /// Activations of the previous layer, then of the current one.
    a: Vec<F>,
    /// Activations of the current layer while `a` is still its input.
    next: Vec<F>,
}

impl<F: Float> Network<F> {
    /// The outputs for the input row `x` (row 0) and for copies of it with
    /// the inputs `groups[g]` set to zero (row 1 + g): equal to
    /// [`Network::predict`] on those rows, up to rounding. The result is a
    /// view into `scratch`.
    ///
    /// Errors if `x` does not have [`Network::n_inputs`] values or a group
    /// names an input beyond them.
    pub fn predict_occlusions<'s, G: AsRef<[usize]>>(
        &self,
        x: ArrayView1<F>,
        groups: &[G],
        scratch: &'s mut OcclusionScratch<F>,
    ) -> Result<ArrayView2<'s, F>, NnError> {
        check_width("x columns", self.n_inputs(), x.len())?;
        for group in groups {
            if let Some(&j) = group.as_ref().iter().find(|&&j| j >= self.n_inputs()) {
                return Err(NnError::ShapeMismatch {
                    what: "occluded input index (must be below the input count)".to_owned(),
                    expected: self.n_inputs(),
                    got: j,
                });
            }
        }
        scratch.input.clear();
        match x.as_slice() {
            Some(row) => scratch.input.extend_from_slice(row),
            None => scratch.input.extend(x.iter().copied()),
        }
        self.occlusion_rows_fastest(groups, scratch);
        let len = (groups.len() + 1) * self.n_outputs();
        Ok(
            ArrayView2::from_shape((groups.len() + 1, self.n_outputs()), &scratch.a[..len])
                .expect("the last layer has n_outputs units"),
        )
    }

    /// [`Self::occlusion_rows`] compiled for AVX2 when the CPU has it (eight
    /// lanes per instruction instead of SSE2's four), else as built. Both
    /// do the same operations in the same order (no fused multiply-add), so
    /// they give the same numbers.
    fn occlusion_rows_fastest<G: AsRef<[usize]>>(
        &self,
        groups: &[G],
        scratch: &mut OcclusionScratch<F>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `occlusion_rows_avx2` requires only that the CPU has
            // AVX2, which the line above checked.
            unsafe { self.occlusion_rows_avx2(groups, scratch) };
            return;
        }
        self.occlusion_rows(groups, scratch);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn occlusion_rows_avx2<G: AsRef<[usize]>>(
        &self,
        groups: &[G],
        scratch: &mut OcclusionScratch<F>,
    ) {
        self.occlusion_rows(groups, scratch);
    }

    /// The work of [`Network::predict_occlusions`] on checked inputs: reads
    /// the row from `scratch.input`, leaves the outputs at the start of
    /// `scratch.a` (`(groups + 1) × n_outputs` values).
    /// Always inlined, together with the kernels it calls, so that it is
    /// compiled for the instruction set of its caller.
    #[inline(always)]
    fn occlusion_rows<G: AsRef<[usize]>>(&self, groups: &[G], scratch: &mut OcclusionScratch<F>) {
        let rows = groups.len() + 1;
        let OcclusionScratch {
            input,
            z: z_buffer,
            a: a_buffer,
            next: next_buffer,
        } = scratch;
        let (first, rest) = self
            .layers()
            .split_first()
            .expect("a network has an output layer");
        let dense = first.affine();
        let units = dense.units();
        // Every value of a buffer's first `rows × units` is written before
        // it is read, so the buffers only grow, never refilled with zeros.
        let z = at_least(z_buffer, rows * units);
        let (base, copies) = z.split_at_mut(units);
        dense.forward_rows(input, base);
        for (group, copy) in groups.iter().zip(copies.chunks_exact_mut(units)) {
            copy.copy_from_slice(base);
            // Adding −v·w is subtracting v·w exactly.
            dense.add_weight_rows(copy, group.as_ref().iter().map(|&j| (j, -input[j])));
        }
        first.activate_for_inference(z, at_least(a_buffer, rows * first.units()), rows);

        for layer in rest {
            let affine = layer.affine();
            let z = at_least(z_buffer, rows * affine.units());
            affine.forward_rows(&a_buffer[..rows * affine.inputs()], z);
            layer.activate_for_inference(z, at_least(next_buffer, rows * layer.units()), rows);
            std::mem::swap(a_buffer, next_buffer);
        }
    }
}

/// The first `len` values of `buffer`, grown (with zeros) if it is shorter.
#[inline(always)]
fn at_least<F: Float>(buffer: &mut Vec<F>, len: usize) -> &mut [F] {
    if buffer.len() < len {
        buffer.resize(len, F::zero());
    }
    &mut buffer[..len]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::random_matrix;
    use crate::nn::{LayerConfig, LossConfig, NetworkConfig, OutputConfig};
    use ndarray::Array2;

    fn config(layers: Vec<LayerConfig>, output: OutputConfig) -> NetworkConfig {
        NetworkConfig {
            layers,
            output,
            loss: LossConfig::Name("mse".into()),
            init: "xavier".into(),
            seed: Some(7),
            ..NetworkConfig::default()
        }
    }

    #[test]
    fn occluded_rows_equal_predictions_on_the_rows_with_their_groups_zeroed() {
        let mut scratch = OcclusionScratch::default();
        for config in [
            config(
                vec![LayerConfig::dense(5, "tanh"), LayerConfig::maxout(4, 3)],
                OutputConfig::new(2, "identity"),
            ),
            config(
                vec![LayerConfig::maxout(4, 2), LayerConfig::dense(3, "elu")],
                OutputConfig::new(1, "sigmoid"),
            ),
        ] {
            let net = Network::<f64>::new(&config, 6).unwrap();
            let x = random_matrix(1, 6, 5, 1.5);
            let groups: Vec<Vec<usize>> = vec![vec![0, 3], vec![1], vec![2, 4, 5], vec![]];
            let mut rows = Array2::zeros((groups.len() + 1, 6));
            for r in 0..rows.nrows() {
                rows.row_mut(r).assign(&x.row(0));
            }
            for (g, group) in groups.iter().enumerate() {
                for &j in group {
                    rows[[g + 1, j]] = 0.0;
                }
            }
            let want = net.predict(rows.view());
            let got = net
                .predict_occlusions(x.row(0), &groups, &mut scratch)
                .unwrap()
                .to_owned();
            assert_eq!(got.dim(), want.dim());
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
            // Without groups, the row alone: the same number as row 0.
            let alone = net
                .predict_occlusions(x.row(0), &[] as &[Vec<usize>], &mut scratch)
                .unwrap();
            assert_eq!(alone.row(0), got.row(0));
        }
    }

    #[test]
    fn in_f32_with_elu_occluded_rows_agree_with_predict_to_rounding() {
        let config = config(
            vec![LayerConfig::dense(16, "elu"), LayerConfig::dense(16, "elu")],
            OutputConfig::new(2, "identity"),
        );
        let net = Network::<f32>::new(&config, 20).unwrap();
        let x = random_matrix(1, 20, 9, 2.0).mapv(|v| v as f32);
        let groups = vec![vec![0, 1, 2], vec![5, 19]];
        let mut scratch = OcclusionScratch::default();
        let got = net
            .predict_occlusions(x.row(0), &groups, &mut scratch)
            .unwrap()
            .to_owned();
        let mut rows = Array2::zeros((3, 20));
        for r in 0..3 {
            rows.row_mut(r).assign(&x.row(0));
        }
        for (g, group) in groups.iter().enumerate() {
            for &j in group {
                rows[[g + 1, j]] = 0.0;
            }
        }
        let want = net.predict(rows.view());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn the_avx2_build_and_the_baseline_build_give_the_same_numbers() {
        let net = Network::<f32>::new(
            &config(
                vec![LayerConfig::dense(16, "elu"), LayerConfig::dense(16, "elu")],
                OutputConfig::new(2, "identity"),
            ),
            30,
        )
        .unwrap();
        let groups = vec![vec![0, 1, 2, 29], vec![5, 19], vec![7]];
        let mut scratch = OcclusionScratch::default();
        scratch
            .input
            .extend(random_matrix(1, 30, 11, 2.0).iter().map(|&v| v as f32));
        net.occlusion_rows(&groups, &mut scratch);
        let outputs = (groups.len() + 1) * 2;
        let baseline = scratch.a[..outputs].to_vec();
        net.occlusion_rows_fastest(&groups, &mut scratch);
        assert_eq!(scratch.a[..outputs], baseline);
    }

    #[test]
    fn a_wrong_width_or_an_index_beyond_the_inputs_is_an_error() {
        let net = Network::<f32>::new(
            &config(
                vec![LayerConfig::dense(5, "relu")],
                OutputConfig::new(2, "identity"),
            ),
            3,
        )
        .unwrap();
        let mut scratch = OcclusionScratch::default();
        let x = ndarray::Array1::<f32>::zeros(3);
        let err = net
            .predict_occlusions(x.view(), &[vec![3]], &mut scratch)
            .unwrap_err();
        assert!(err.to_string().contains("occluded input index"), "{err}");
        let x = ndarray::Array1::<f32>::zeros(4);
        let err = net
            .predict_occlusions(x.view(), &[vec![0]], &mut scratch)
            .unwrap_err();
        assert!(err.to_string().contains("x columns"), "{err}");
    }
}
