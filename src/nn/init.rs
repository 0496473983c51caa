//! Weight initialisation from a seeded RNG, so that the same config and seed
//! give the same starting weights (and, the loop being deterministic, the same
//! trained model) on the same machine.

use ndarray::Array2;
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Normal};

use super::Float;

/// How the weights of a layer with `fan_in` inputs and `fan_out` outputs are drawn.
/// Biases always start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Xavier/Glorot uniform: W ~ U(−r, r) with r = √(6 / (fan_in + fan_out)),
    /// which keeps the activation variance constant for tanh/sigmoid layers.
    Xavier,
    /// He (Kaiming) normal: W ~ N(0, 2 / fan_in), which compensates for ReLU
    /// zeroing half of its inputs.
    He,
}

impl Init {
    /// The names accepted in configs ("glorot" is an alias of "xavier").
    pub const NAMES: &'static [&'static str] = &["xavier", "glorot", "he"];

    /// Parses a config name.
    pub fn from_name(name: &str) -> Option<Init> {
        match name {
            "xavier" | "glorot" => Some(Init::Xavier),
            "he" | "kaiming" => Some(Init::He),
            _ => None,
        }
    }

    /// A fan_in × fan_out weight matrix drawn from `rng`.
    pub fn weights<F: Float, R: Rng + ?Sized>(
        &self,
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Array2<F> {
        match self {
            Init::Xavier => {
                let r = (6.0 / (fan_in + fan_out) as f64).sqrt();
                Array2::from_shape_simple_fn((fan_in, fan_out), || F::of(rng.random_range(-r..r)))
            }
            Init::He => {
                let std = (2.0 / fan_in as f64).sqrt();
                let normal = Normal::new(0.0, std).expect("std is positive and finite");
                Array2::from_shape_simple_fn((fan_in, fan_out), || F::of(normal.sample(rng)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn the_same_seed_draws_the_same_weights() {
        let a: Array2<f32> = Init::He.weights(10, 5, &mut StdRng::seed_from_u64(3));
        let b: Array2<f32> = Init::He.weights(10, 5, &mut StdRng::seed_from_u64(3));
        let c: Array2<f32> = Init::He.weights(10, 5, &mut StdRng::seed_from_u64(4));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn xavier_stays_in_its_range_and_he_has_its_variance() {
        let r = (6.0f64 / 300.0).sqrt();
        let x: Array2<f64> = Init::Xavier.weights(100, 200, &mut StdRng::seed_from_u64(1));
        assert!(x.iter().all(|v| v.abs() <= r));
        let h: Array2<f64> = Init::He.weights(200, 200, &mut StdRng::seed_from_u64(1));
        let var = h.mapv(|v| v * v).mean().unwrap();
        // 40,000 draws: the sample variance is within a few percent of 2/200.
        assert!((var - 0.01).abs() < 0.0005, "variance {var}");
    }
}
