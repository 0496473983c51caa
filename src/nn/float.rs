//! The scalar type the NN core computes in. Implemented for f32 (training and
//! grading, for speed) and f64 (gradient checks and reference computations).

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{LinalgScalar, ScalarOperand};

/// A floating-point scalar usable in every layer, loss and optimizer.
pub trait Float:
    num_traits::Float
    + LinalgScalar
    + ScalarOperand
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + 'static
{
    /// Converts from f64, rounding to nearest for f32.
    fn of(x: f64) -> Self;
    /// Widens (or keeps) the value as f64; exact for both implementations.
    fn as_f64(self) -> f64;
    /// e^x for x ≤ 0 (larger x is treated as 0), for inference. Without
    /// branches or calls for f32, so a loop over it vectorises; f64 keeps
    /// the library `exp`.
    fn exp_nonpositive(self) -> Self;
}

/// e^x for x ≤ 0 in f32 by Cody-Waite range reduction and a degree-6
/// polynomial (the coefficients of Cephes' `expf`, S. Moshier): x = n·ln 2
/// + r with |r| ≤ ln 2 / 2, e^r from the polynomial, 2^n put into the
/// exponent bits. Within 2 ulp of the library's `expf` for x ≥ −87; below,
/// where e^x is under f32's smallest normal, it returns about 1.2e-38.
fn exp_nonpositive_f32(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n·LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 0.0);
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let e_r = p * r * r + r + 1.0;
    // `shifted`'s bits are those of 1.5·2^23 plus n (a bit cast, where
    // `n as i32` would add saturation checks that stop the vectorising).
    // n is in −126..=0, so the biased exponent n + 127 is a normal one.
    let two_n = f32::from_bits(shifted.to_bits().wrapping_sub(ROUND.to_bits() - 127) << 23);
    e_r * two_n
}

impl Float for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
    fn exp_nonpositive(self) -> Self {
        exp_nonpositive_f32(self)
    }
}

impl Float for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn exp_nonpositive(self) -> Self {
        self.min(0.0).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f32_exponential_is_within_2_ulp_of_the_library_one() {
        let mut worst = 0.0f64;
        for i in 0..=870_000 {
            let x = -(i as f32) * 1e-4;
            let (got, want) = (exp_nonpositive_f32(x), x.exp());
            let ulp = f64::from(want) * f64::from(f32::EPSILON);
            worst = worst.max((f64::from(got) - f64::from(want)).abs() / ulp);
        }
        assert!(worst <= 2.0, "{worst} ulp");
        assert_eq!(exp_nonpositive_f32(0.0), 1.0);
        assert_eq!(exp_nonpositive_f32(3.0), 1.0);
        assert!(exp_nonpositive_f32(-200.0) < 2e-38);
        assert!(exp_nonpositive_f32(f32::NEG_INFINITY) < 2e-38);
        assert!(exp_nonpositive_f32(f32::NAN).is_nan());
    }
}
