//! Feature standardisation: per-column mean and standard deviation fitted on
//! training rows only, then applied to any rows (z = (x − mean) / std). It is
//! saved inside the model artifact so that prediction uses the training statistics.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use serde::{Deserialize, Serialize};

use super::{Float, NnError};

/// Per-column (mean, std), in f64 whatever the data's precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Column means of the training rows.
    pub mean: Vec<f64>,
    /// Column population standard deviations (divisor n) of the training rows; a
    /// constant column gets 1 so that it maps to 0 instead of dividing by zero.
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits on the rows of `x` (at least one row, every value finite). Two passes
    /// (mean, then squared deviations) avoid the cancellation of the one-pass formula.
    pub fn fit<F: Float>(x: ArrayView2<F>) -> Result<Self, NnError> {
        let n = x.nrows();
        if n == 0 {
            return Err(NnError::TooFewRows(
                "cannot fit a standardizer on zero rows".to_owned(),
            ));
        }
        if let Some(((row, column), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(NnError::NonFiniteInput {
                what: "x",
                row,
                column,
                value: v.as_f64(),
            });
        }
        let mut mean = Vec::with_capacity(x.ncols());
        let mut std = Vec::with_capacity(x.ncols());
        for col in x.axis_iter(Axis(1)) {
            let m = col.iter().map(|v| v.as_f64()).sum::<f64>() / n as f64;
            let var = col.iter().map(|v| (v.as_f64() - m).powi(2)).sum::<f64>() / n as f64;
            let s = var.sqrt();
            mean.push(m);
            // Anything this small relative to the mean is rounding noise of a constant column.
            std.push(if s > 1e-12 * m.abs().max(1.0) { s } else { 1.0 });
        }
        Ok(Self { mean, std })
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// (x − mean) / std, column by column, into a new array.
    pub fn transform<F: Float>(&self, x: ArrayView2<F>) -> Result<Array2<F>, NnError> {
        let mut out = x.to_owned();
        self.transform_in_place(out.view_mut())?;
        Ok(out)
    }

    /// (x − mean) / std in place.
    pub fn transform_in_place<F: Float>(&self, mut x: ArrayViewMut2<F>) -> Result<(), NnError> {
        self.check_width(x.ncols())?;
        for (mut col, (&m, &s)) in x
            .axis_iter_mut(Axis(1))
            .zip(self.mean.iter().zip(&self.std))
        {
            let (m, inv) = (F::of(m), F::of(1.0 / s));
            col.mapv_inplace(|v| (v - m) * inv);
        }
        Ok(())
    }

    /// x·std + mean: undoes [`Standardizer::transform`] (for standardised targets).
    pub fn inverse_transform<F: Float>(&self, x: ArrayView2<F>) -> Result<Array2<F>, NnError> {
        self.check_width(x.ncols())?;
        let mut out = x.to_owned();
        for (mut col, (&m, &s)) in out
            .axis_iter_mut(Axis(1))
            .zip(self.mean.iter().zip(&self.std))
        {
            let (m, s) = (F::of(m), F::of(s));
            col.mapv_inplace(|v| v * s + m);
        }
        Ok(out)
    }

    /// Checks a deserialised scaler: equal lengths, finite means, positive finite stds.
    pub fn validate(&self) -> Result<(), String> {
        if self.mean.len() != self.std.len() {
            return Err(format!(
                "{} means but {} standard deviations",
                self.mean.len(),
                self.std.len()
            ));
        }
        if let Some(i) = self.mean.iter().position(|m| !m.is_finite()) {
            return Err(format!("mean[{i}] is not finite"));
        }
        if let Some(i) = self.std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!(
                "std[{i}] = {} is not a positive finite number",
                self.std[i]
            ));
        }
        Ok(())
    }

    fn check_width(&self, got: usize) -> Result<(), NnError> {
        if got == self.n_features() {
            Ok(())
        } else {
            Err(NnError::ShapeMismatch {
                what: "standardizer columns".to_owned(),
                expected: self.n_features(),
                got,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn standardizer_uses_training_statistics_and_maps_constant_columns_to_zero() {
        let train = array![[1.0f64, 5.0], [3.0, 5.0]];
        let s = Standardizer::fit(train.view()).unwrap();
        assert_eq!(s.mean, [2.0, 5.0]);
        assert_eq!(s.std, [1.0, 1.0]);
        let test = array![[4.0f32, 6.0]];
        assert_eq!(s.transform(test.view()).unwrap(), array![[2.0f32, 1.0]]);
        let back = s.inverse_transform(array![[2.0f32, 1.0]].view()).unwrap();
        assert_eq!(back, test);
    }

    #[test]
    fn standardizer_refuses_a_wrong_width_and_non_finite_rows() {
        let s = Standardizer::fit(array![[1.0f64, 2.0], [2.0, 4.0]].view()).unwrap();
        let err = s.transform(array![[1.0f64]].view()).unwrap_err();
        assert!(err.to_string().contains("expected 2, got 1"), "{err}");
        let err = Standardizer::fit(array![[1.0f64, f64::NAN]].view()).unwrap_err();
        assert!(err.to_string().contains("row 0, column 1"), "{err}");
    }
}
