//! The calibration method's hyperparameters: how far a prompt's scores are
//! expected to sit from the model's (the priors of the offset and the slope),
//! and how noisy one example is expected to be. All are in units of the
//! target's training standard deviation, so one prior fits every rubric.
//!
//! [`Prior::validate`] checks them once and returns a [`ValidPrior`], which
//! the fitting code trusts.

use serde::{Deserialize, Serialize};

/// The hyperparameters, as written (in a study's flags or a test).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    /// Prior standard deviation of a prompt's offset (in training SDs).
    /// Smaller means more examples are needed before the scores move.
    pub offset_sd: f64,
    /// Prior standard deviation of a prompt's slope around 1. Zero fits an
    /// offset only.
    pub slope_sd: f64,
    /// Prior guess of the standard deviation of one example's residual
    /// (teacher minus model, in training SDs), before the examples say more.
    pub noise_sd: f64,
    /// How many examples the noise guess is worth: the examples' own spread
    /// takes over as they outnumber it.
    pub noise_weight: f64,
}

impl Default for Prior {
    /// The defaults chosen by the leave-one-prompt-out study
    /// (docs/experiments.md, "Calibration from a teacher's examples").
    fn default() -> Self {
        Prior {
            offset_sd: 0.15,
            slope_sd: 0.1,
            noise_sd: 0.5,
            noise_weight: 10.0,
        }
    }
}

/// Why a prior was refused: every bad field, named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid calibration prior: {}", .problems.join("; "))]
pub struct PriorError {
    /// One line per bad field, e.g. `offset_sd must be positive, got 0`.
    pub problems: Vec<String>,
}

/// A checked [`Prior`]: every value finite, the standard deviations and the
/// noise weight positive (the slope's may be zero).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValidPrior(Prior);

impl ValidPrior {
    /// The checked values.
    pub fn get(&self) -> &Prior {
        &self.0
    }
}

impl Default for ValidPrior {
    fn default() -> Self {
        Prior::default()
            .validate()
            .expect("the default prior is valid")
    }
}

impl Prior {
    /// Checks every field, reporting all the bad ones together.
    pub fn validate(self) -> Result<ValidPrior, PriorError> {
        let mut problems = Vec::new();
        for (name, value, zero_ok) in [
            ("offset_sd", self.offset_sd, false),
            ("slope_sd", self.slope_sd, true),
            ("noise_sd", self.noise_sd, false),
            ("noise_weight", self.noise_weight, false),
        ] {
            if !value.is_finite() {
                problems.push(format!("{name} must be a finite number, got {value}"));
            } else if value < 0.0 || (value == 0.0 && !zero_ok) {
                let need = if zero_ok { "zero or more" } else { "positive" };
                problems.push(format!("{name} must be {need}, got {value}"));
            }
        }
        if problems.is_empty() {
            Ok(ValidPrior(self))
        } else {
            Err(PriorError { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_prior_is_valid() {
        assert_eq!(ValidPrior::default().get(), &Prior::default());
    }

    #[test]
    fn a_prior_with_bad_values_names_every_one() {
        let err = Prior {
            offset_sd: 0.0,
            slope_sd: -1.0,
            noise_sd: f64::NAN,
            noise_weight: 3.0,
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.problems,
            [
                "offset_sd must be positive, got 0",
                "slope_sd must be zero or more, got -1",
                "noise_sd must be a finite number, got NaN",
            ]
        );
    }

    #[test]
    fn a_zero_slope_prior_is_allowed_and_means_offset_only() {
        let prior = Prior {
            slope_sd: 0.0,
            ..Prior::default()
        };
        assert!(prior.validate().is_ok());
    }
}
