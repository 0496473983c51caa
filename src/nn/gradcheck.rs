//! Test support: finite-difference gradient checks in f64.
//!
//! The check compares an analytic gradient g with central differences
//! n_i = (L(x + h e_i) − L(x − h e_i)) / 2h and requires the relative error
//! ‖g − n‖ / (‖g‖ + ‖n‖) < 1e-6 over the whole gradient. With h = 1e-5 the
//! truncation error is O(h²) ≈ 1e-10 and the rounding error ≈ 1e-16/h ≈ 1e-11,
//! both far below the tolerance, while a wrong formula is off by O(1).

use ndarray::{Array, Array2, Dimension};
use rand::{RngExt, SeedableRng, rngs::StdRng};

/// Maximum accepted relative error of an analytic gradient.
pub const TOLERANCE: f64 = 1e-6;

/// A rows × cols matrix of uniform values in [−scale, scale], seeded.
pub fn random_matrix(rows: usize, cols: usize, seed: u64, scale: f64) -> Array2<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.random_range(-scale..scale))
}

/// The relative error between an analytic gradient and central differences of `loss` at `x`.
pub fn relative_error<D: Dimension>(
    x: &Array<f64, D>,
    analytic: &Array<f64, D>,
    mut loss: impl FnMut(&Array<f64, D>) -> f64,
) -> f64 {
    let h = 1e-5;
    let mut probe = x.clone();
    let mut diff2 = 0.0;
    let mut norm_a2 = 0.0;
    let mut norm_n2 = 0.0;
    for i in 0..x.len() {
        let orig = probe.as_slice_mut().expect("contiguous")[i];
        probe.as_slice_mut().expect("contiguous")[i] = orig + h;
        let up = loss(&probe);
        probe.as_slice_mut().expect("contiguous")[i] = orig - h;
        let down = loss(&probe);
        probe.as_slice_mut().expect("contiguous")[i] = orig;
        let numeric = (up - down) / (2.0 * h);
        let a = analytic.as_slice().expect("contiguous")[i];
        diff2 += (a - numeric).powi(2);
        norm_a2 += a * a;
        norm_n2 += numeric * numeric;
    }
    let denom = norm_a2.sqrt() + norm_n2.sqrt();
    if denom == 0.0 {
        0.0
    } else {
        diff2.sqrt() / denom
    }
}

/// Panics with the relative error if the analytic gradient is off by more than [`TOLERANCE`].
pub fn assert_close_grad<D: Dimension>(
    what: &str,
    x: &Array<f64, D>,
    analytic: &Array<f64, D>,
    loss: impl FnMut(&Array<f64, D>) -> f64,
) {
    assert!(
        analytic.iter().any(|v| *v != 0.0),
        "{what}: the analytic gradient is all zero, so the check would prove nothing"
    );
    let err = relative_error(x, analytic, loss);
    assert!(
        err < TOLERANCE,
        "{what}: relative gradient error {err:e} exceeds {TOLERANCE:e}"
    );
}
