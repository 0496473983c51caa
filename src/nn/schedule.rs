//! Learning-rate schedules, applied once per epoch to the optimizer's base rate.

use serde::{Deserialize, Serialize};

use super::FieldError;
use super::config::{UnknownFields, report_unknown, unknown_name};

/// A schedule as written in a config: `{"name":"constant"}`, `{"name":"cosine"}`,
/// `{"name":"cosine","min_lr":1e-5}` or `{"name":"step","step_size":30,"gamma":0.1}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    /// "constant" (default), "step" or "cosine".
    #[serde(default = "default_name")]
    pub name: String,
    /// Step schedule: epochs between decays (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_size: Option<usize>,
    /// Step schedule: factor applied at each decay (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// Cosine schedule: the rate reached at the last epoch (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_lr: Option<f64>,
    /// Keys this version does not know; validation reports each of them.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

fn default_name() -> String {
    "constant".to_owned()
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self::named("constant")
    }
}

impl ScheduleConfig {
    /// The named schedule with its defaults.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            step_size: None,
            gamma: None,
            min_lr: None,
            unknown: UnknownFields::new(),
        }
    }

    /// Checks every field; paths are relative (`gamma`), callers prefix them.
    pub fn validate(&self) -> Result<Schedule, Vec<FieldError>> {
        let mut errs = Vec::new();
        report_unknown("", &self.unknown, &mut errs);
        let allowed: &[&str] = match self.name.as_str() {
            "constant" => &[],
            "step" => &["step_size", "gamma"],
            "cosine" => &["min_lr"],
            other => {
                errs.push(unknown_name("name", other, &["constant", "step", "cosine"]));
                &["step_size", "gamma", "min_lr"]
            }
        };
        for (field, present) in [
            ("step_size", self.step_size.is_some()),
            ("gamma", self.gamma.is_some()),
            ("min_lr", self.min_lr.is_some()),
        ] {
            if present && !allowed.contains(&field) {
                errs.push(FieldError::new(
                    field,
                    format!("not a parameter of the {} schedule", self.name),
                ));
            }
        }
        let step_size = self.step_size.unwrap_or(10);
        if step_size == 0 {
            errs.push(FieldError::new("step_size", "must be at least 1 (got 0)"));
        }
        let gamma = self.gamma.unwrap_or(0.5);
        if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) {
            errs.push(FieldError::new(
                "gamma",
                format!("must be in (0, 1] (got {gamma})"),
            ));
        }
        let min_lr = self.min_lr.unwrap_or(0.0);
        if !(min_lr.is_finite() && min_lr >= 0.0) {
            errs.push(FieldError::new(
                "min_lr",
                format!("must be a finite number ≥ 0 (got {min_lr})"),
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(match self.name.as_str() {
            "constant" => Schedule::Constant,
            "step" => Schedule::Step { step_size, gamma },
            _ => Schedule::Cosine { min_lr },
        })
    }
}

/// A validated schedule: the learning rate for each epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// lr_e = lr.
    Constant,
    /// lr_e = lr · γ^⌊e / step_size⌋ (e counted from 0).
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// lr_e = min_lr + (lr − min_lr)·(1 + cos(π·e/E))/2 over E epochs (e from 0):
    /// the full rate at the first epoch, falling smoothly towards min_lr.
    Cosine {
        /// Floor of the rate.
        min_lr: f64,
    },
}

impl Schedule {
    /// The rate for 0-based `epoch` of `epochs`, from the base rate `lr`.
    pub fn learning_rate(&self, lr: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Schedule::Constant => lr,
            Schedule::Step { step_size, gamma } => {
                lr * gamma.powi(i32::try_from(epoch / step_size).unwrap_or(i32::MAX))
            }
            Schedule::Cosine { min_lr } => {
                let frac = epoch as f64 / epochs.max(1) as f64;
                min_lr + (lr - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Schedule, Vec<FieldError>> {
        serde_json::from_str::<ScheduleConfig>(json)
            .unwrap()
            .validate()
    }

    #[test]
    fn schedules_give_the_documented_rates() {
        let c = parse(r#"{"name":"constant"}"#).unwrap();
        assert_eq!(c.learning_rate(0.1, 7, 10), 0.1);
        let s = parse(r#"{"name":"step","step_size":2,"gamma":0.5}"#).unwrap();
        let rates: Vec<f64> = (0..5).map(|e| s.learning_rate(1.0, e, 5)).collect();
        assert_eq!(rates, [1.0, 1.0, 0.5, 0.5, 0.25]);
        let cos = parse(r#"{"name":"cosine"}"#).unwrap();
        assert_eq!(cos.learning_rate(1.0, 0, 4), 1.0);
        assert!((cos.learning_rate(1.0, 2, 4) - 0.5).abs() < 1e-15);
        assert!(cos.learning_rate(1.0, 3, 4) < 0.15);
    }

    #[test]
    fn bad_schedules_are_rejected_with_every_field() {
        let errs = parse(r#"{"name":"step","step_size":0,"gamma":2,"min_lr":0.1}"#).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["min_lr", "step_size", "gamma"]);
        assert_eq!(parse(r#"{"name":"linear"}"#).unwrap_err()[0].field, "name");
    }
}
