//! Calibrating every target of a prompt from its examples, and the honest
//! estimate of what that gains: leave-one-out over the examples.

use serde::{Deserialize, Serialize};

use super::prior::ValidPrior;
use super::target::{Stats, TargetCalibration, TargetScale};

/// One graded example as the fit sees it: the model's raw score and the
/// teacher's score of each target, in the model's target order. A teacher's
/// score is `None` when the example was posted for a model without that
/// target; it then only counts for the targets it has.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The model's uncalibrated score per target.
    pub raw: Vec<f64>,
    /// The teacher's score per target.
    pub teacher: Vec<Option<f64>>,
}

/// A prompt's calibration: one [`TargetCalibration`] per target, in the
/// model's target order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Per target, in the model's target order.
    pub targets: Vec<TargetCalibration>,
}

impl Calibration {
    /// Fits each target to the examples that score it.
    pub fn fit(prior: &ValidPrior, scales: &[TargetScale], examples: &[Example]) -> Calibration {
        let targets = scales
            .iter()
            .enumerate()
            .map(|(t, scale)| TargetCalibration::fit(&stats(examples, t, scale), scale, prior))
            .collect();
        Calibration { targets }
    }

    /// The calibrated scores of raw ones (same order and length).
    pub fn apply(&self, raw: &[f64]) -> Vec<f64> {
        raw.iter()
            .zip(&self.targets)
            .map(|(r, c)| c.apply(*r))
            .collect()
    }

    /// The largest number of examples behind any target.
    pub fn examples(&self) -> usize {
        self.targets.iter().map(|t| t.examples).max().unwrap_or(0)
    }
}

fn stats(examples: &[Example], t: usize, scale: &TargetScale) -> Stats {
    let mut s = Stats::default();
    for e in examples {
        if let Some(teacher) = e.teacher[t] {
            s.add(Stats::point(scale, e.raw[t], teacher));
        }
    }
    s
}

/// What calibration gains on the examples themselves, each example scored by
/// a calibration fitted without it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Estimate {
    /// MCRMSE of the model's raw scores against the teacher's.
    pub uncalibrated_mcrmse: f64,
    /// MCRMSE of the leave-one-out calibrated scores against the teacher's.
    pub calibrated_mcrmse: f64,
}

/// Leave-one-out over the examples: each example is scored by the calibration
/// of all the others, and both MCRMSEs average the targets that have examples.
/// `None` when no target has one. Linear in the number of examples.
pub fn leave_one_out(
    prior: &ValidPrior,
    scales: &[TargetScale],
    examples: &[Example],
) -> Option<Estimate> {
    let mut raw_rmse = Vec::new();
    let mut loo_rmse = Vec::new();
    for (t, scale) in scales.iter().enumerate() {
        let all = stats(examples, t, scale);
        let (mut raw_sq, mut loo_sq, mut n) = (0.0, 0.0, 0usize);
        for e in examples {
            let Some(teacher) = e.teacher[t] else {
                continue;
            };
            let raw = e.raw[t];
            let rest = all.without(Stats::point(scale, raw, teacher));
            let calibrated = TargetCalibration::fit(&rest, scale, prior).apply(raw);
            raw_sq += (raw - teacher).powi(2);
            loo_sq += (calibrated - teacher).powi(2);
            n += 1;
        }
        if n > 0 {
            raw_rmse.push((raw_sq / n as f64).sqrt());
            loo_rmse.push((loo_sq / n as f64).sqrt());
        }
    }
    if raw_rmse.is_empty() {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Some(Estimate {
        uncalibrated_mcrmse: mean(&raw_rmse),
        calibrated_mcrmse: mean(&loo_rmse),
    })
}

#[cfg(test)]
mod tests {
    use super::super::prior::Prior;
    use super::*;

    fn scales() -> Vec<TargetScale> {
        vec![
            TargetScale::new(0.0, 1.0, -4.0, 4.0).unwrap(),
            TargetScale::new(1.0, 2.0, -6.0, 8.0).unwrap(),
        ]
    }

    /// `k` examples whose teacher scores sit `shift` training SDs above the
    /// model's, with a deterministic spread of ±0.5 SD around that.
    fn shifted_examples(k: usize, shift: f64) -> Vec<Example> {
        (0..k)
            .map(|i| {
                let wobble = if i % 2 == 0 { 0.5 } else { -0.5 };
                let raw = vec![-1.0 + 0.1 * i as f64, 0.5 + 0.2 * i as f64];
                let teacher = vec![
                    Some(raw[0] + shift + wobble),
                    Some(raw[1] + 2.0 * (shift + wobble)),
                ];
                Example { raw, teacher }
            })
            .collect()
    }

    #[test]
    fn three_examples_barely_move_the_scores_and_fifty_move_them_most_of_the_way() {
        let prior = ValidPrior::default();
        let moved = |k| {
            let fit = Calibration::fit(&prior, &scales(), &shifted_examples(k, 1.0));
            fit.apply(&[0.0, 1.0])[0]
        };
        let (three, fifty) = (moved(3), moved(50));
        assert!(three < 0.3, "3 examples moved the score by {three} of 1");
        assert!(
            fifty > 0.75,
            "50 examples moved the score by only {fifty} of 1"
        );
    }

    #[test]
    fn a_target_without_teacher_scores_stays_raw() {
        let mut examples = shifted_examples(30, 1.0);
        for e in &mut examples {
            e.teacher[1] = None;
        }
        let fit = Calibration::fit(&ValidPrior::default(), &scales(), &examples);
        assert_eq!(fit.targets[1].examples, 0);
        assert_eq!(fit.examples(), 30);
        let out = fit.apply(&[0.0, 1.25]);
        assert!(out[0] > 0.5);
        assert_eq!(out[1], 1.25);
    }

    #[test]
    fn leave_one_out_matches_refitting_without_each_example() {
        let prior = Prior {
            slope_sd: 0.3,
            ..Prior::default()
        }
        .validate()
        .unwrap();
        let examples = shifted_examples(7, 0.6);
        let fast = leave_one_out(&prior, &scales(), &examples).unwrap();
        let mut rmse = [0.0; 2];
        let mut raw = [0.0; 2];
        for i in 0..examples.len() {
            let mut rest = examples.clone();
            let held = rest.remove(i);
            let fit = Calibration::fit(&prior, &scales(), &rest);
            let got = fit.apply(&held.raw);
            for t in 0..2 {
                let teacher = held.teacher[t].unwrap();
                rmse[t] += (got[t] - teacher).powi(2);
                raw[t] += (held.raw[t] - teacher).powi(2);
            }
        }
        let mcrmse = |sq: [f64; 2]| sq.iter().map(|s| (s / 7.0).sqrt()).sum::<f64>() / 2.0;
        assert!((fast.calibrated_mcrmse - mcrmse(rmse)).abs() < 1e-9);
        assert!((fast.uncalibrated_mcrmse - mcrmse(raw)).abs() < 1e-12);
        // The examples are shifted, so calibrating helps even held out.
        assert!(fast.calibrated_mcrmse < fast.uncalibrated_mcrmse);
    }

    #[test]
    fn without_examples_there_is_no_estimate_and_nothing_changes() {
        let prior = ValidPrior::default();
        assert_eq!(leave_one_out(&prior, &scales(), &[]), None);
        let fit = Calibration::fit(&prior, &scales(), &[]);
        assert_eq!(fit.examples(), 0);
        assert_eq!(fit.apply(&[9.0, -9.0]), vec![9.0, -9.0]);
    }
}
