//! The calibration method's hyperparameters: how far a prompt's scores are
//! expected to sit from the model's (the priors of the offset and the slope),
//! and how noisy one example is expected to be. All are in units of the
//! target's training standard deviation, so one prior fits every rubric.
//!
//! The offset's prior is a mixture of two normals: most prompts sit close to
//! the model (`offset_sd`), a few are off by much more (`shifted_offset_sd`,
//! with prior probability `shift_probability`). A single normal cannot do
//! both: narrow, it takes hundreds of examples to follow a prompt that is
//! really off; wide, it chases the noise of a few examples on a prompt that
//! is not (docs/experiments.md measures both).
//!
//! [`Prior::validate`] checks them once and returns a [`ValidPrior`], which
//! the fitting code trusts.

use serde::{Deserialize, Serialize};

/// The hyperparameters, as written (in a study's flags or a test).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    /// Prior standard deviation of the offset of a prompt the model fits
    /// (in training SDs). Smaller means more examples are needed before the
    /// scores move.
    pub offset_sd: f64,
    /// Prior standard deviation of the offset of a prompt the model is off on.
    pub shifted_offset_sd: f64,
    /// Prior probability that a prompt is one the model is off on; 0 makes
    /// the offset's prior a single normal with `offset_sd`.
    pub shift_probability: f64,
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
            offset_sd: 0.05,
            shifted_offset_sd: 0.15,
            shift_probability: 0.2,
            slope_sd: 0.05,
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
/// noise weight positive (the slope's may be zero), the probability in 0..1.
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
    /// The fields by name, in declaration order (the study's command line
    /// names them so).
    pub const FIELDS: [&'static str; 6] = [
        "offset_sd",
        "shifted_offset_sd",
        "shift_probability",
        "slope_sd",
        "noise_sd",
        "noise_weight",
    ];

    /// The value of a field by name.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut f64> {
        Some(match name {
            "offset_sd" => &mut self.offset_sd,
            "shifted_offset_sd" => &mut self.shifted_offset_sd,
            "shift_probability" => &mut self.shift_probability,
            "slope_sd" => &mut self.slope_sd,
            "noise_sd" => &mut self.noise_sd,
            "noise_weight" => &mut self.noise_weight,
            _ => return None,
        })
    }

    /// Checks every field, reporting all the bad ones together.
    pub fn validate(self) -> Result<ValidPrior, PriorError> {
        let mut problems = Vec::new();
        for (name, value, zero_ok) in [
            ("offset_sd", self.offset_sd, false),
            ("shifted_offset_sd", self.shifted_offset_sd, false),
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
        if !(0.0..=1.0).contains(&self.shift_probability) {
            problems.push(format!(
                "shift_probability must be between 0 and 1, got {}",
                self.shift_probability
            ));
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
            shift_probability: 1.5,
            ..Prior::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.problems,
            [
                "offset_sd must be positive, got 0",
                "slope_sd must be zero or more, got -1",
                "noise_sd must be a finite number, got NaN",
                "shift_probability must be between 0 and 1, got 1.5",
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

    #[test]
    fn every_field_can_be_set_by_its_name() {
        let mut prior = Prior::default();
        for (i, name) in Prior::FIELDS.iter().enumerate() {
            *prior.field_mut(name).unwrap() = i as f64 / 10.0;
        }
        assert_eq!(prior.noise_weight, 0.5);
        assert_eq!(prior.shifted_offset_sd, 0.1);
        assert!(prior.field_mut("colour").is_none());
    }
}
