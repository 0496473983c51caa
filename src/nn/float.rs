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
}

impl Float for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
}
