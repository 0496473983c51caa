//! Calibrating one target: the model's training distribution of it
//! ([`TargetScale`]), the examples' sufficient statistics, and the fitted
//! offset and slope ([`TargetCalibration`]).
//!
//! The fit needs only six sums over the examples, so leaving one example out
//! (for the honest estimate) is a subtraction, not a refit over the rest.

use serde::{Deserialize, Serialize};

use super::prior::ValidPrior;

/// How the model saw a target in training, which sets the units of the prior
/// and the range a calibrated score must stay in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Mean of the training scores: the point the slope turns around.
    pub mean: f64,
    /// Standard deviation of the training scores (positive).
    pub sd: f64,
    /// Lowest score a calibrated grade may have.
    pub low: f64,
    /// Highest score a calibrated grade may have (above `low`).
    pub high: f64,
}

impl TargetScale {
    /// A scale, if the values make one: all finite, `sd > 0`, `low < high`.
    pub fn new(mean: f64, sd: f64, low: f64, high: f64) -> Result<TargetScale, String> {
        if ![mean, sd, low, high].iter().all(|v| v.is_finite()) {
            return Err(format!(
                "mean {mean}, sd {sd}, low {low} and high {high} must all be finite"
            ));
        }
        if sd <= 0.0 {
            return Err(format!("sd must be positive, got {sd}"));
        }
        if low >= high {
            return Err(format!("low {low} must be below high {high}"));
        }
        Ok(TargetScale {
            mean,
            sd,
            low,
            high,
        })
    }
}

/// Sums over examples of the standardised raw score `x = (raw − mean)/sd` and
/// residual `r = (teacher − raw)/sd`: all the fit needs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Stats {
    n: f64,
    sx: f64,
    sxx: f64,
    sr: f64,
    sxr: f64,
    srr: f64,
}

impl Stats {
    /// The standardised `(x, r)` of one example.
    pub(crate) fn point(scale: &TargetScale, raw: f64, teacher: f64) -> (f64, f64) {
        ((raw - scale.mean) / scale.sd, (teacher - raw) / scale.sd)
    }

    /// Adds one example.
    pub(crate) fn add(&mut self, (x, r): (f64, f64)) {
        self.n += 1.0;
        self.sx += x;
        self.sxx += x * x;
        self.sr += r;
        self.sxr += x * r;
        self.srr += r * r;
    }

    /// These sums without one example that was added.
    pub(crate) fn without(&self, (x, r): (f64, f64)) -> Stats {
        Stats {
            n: self.n - 1.0,
            sx: self.sx - x,
            sxx: self.sxx - x * x,
            sr: self.sr - r,
            sxr: self.sxr - x * r,
            srr: self.srr - r * r,
        }
    }
}

/// A target's fitted calibration: `calibrated = raw + offset + (slope − 1)·(raw − pivot)`,
/// clamped to `low..high`. With no example it is the identity (and no clamp).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetCalibration {
    /// Added to a score at the pivot, in score units.
    pub offset: f64,
    /// How much a score's distance from the pivot is stretched (1 = not at all).
    pub slope: f64,
    /// The model's training mean of this target, around which the slope turns.
    pub pivot: f64,
    /// Lowest calibrated score.
    pub low: f64,
    /// Highest calibrated score.
    pub high: f64,
    /// Examples that scored this target.
    pub examples: usize,
    /// The examples' mean of teacher minus model before shrinkage (score
    /// units); `null` without examples. Compare with `offset` to see the shrinkage.
    pub mean_residual: Option<f64>,
    /// The estimated standard deviation of one example's residual (score units).
    pub noise_sd: f64,
}

impl TargetCalibration {
    /// The calibration that changes nothing.
    pub fn identity(scale: &TargetScale, prior: &ValidPrior) -> TargetCalibration {
        TargetCalibration {
            offset: 0.0,
            slope: 1.0,
            pivot: scale.mean,
            low: scale.low,
            high: scale.high,
            examples: 0,
            mean_residual: None,
            noise_sd: prior.get().noise_sd * scale.sd,
        }
    }

    /// Fits the posterior mean of offset and slope to the examples' sums.
    pub(crate) fn fit(stats: &Stats, scale: &TargetScale, prior: &ValidPrior) -> TargetCalibration {
        let p = prior.get();
        if stats.n < 0.5 {
            return TargetCalibration::identity(scale, prior);
        }
        let n = stats.n;
        // The noise variance: the examples' spread around their mean residual,
        // pooled with the prior guess worth `noise_weight` examples.
        let spread = (stats.srr - stats.sr * stats.sr / n).max(0.0);
        let noise_var =
            (p.noise_weight * p.noise_sd * p.noise_sd + spread) / (p.noise_weight + n - 1.0);
        // Posterior precision (times the noise variance) of (a, c), and the
        // data term; a 1×1 system when the slope is fixed at 1.
        let p11 = n + noise_var / (p.offset_sd * p.offset_sd);
        let (a, c) = if p.slope_sd == 0.0 {
            (stats.sr / p11, 0.0)
        } else {
            let p12 = stats.sx;
            let p22 = stats.sxx + noise_var / (p.slope_sd * p.slope_sd);
            let det = p11 * p22 - p12 * p12;
            (
                (p22 * stats.sr - p12 * stats.sxr) / det,
                (p11 * stats.sxr - p12 * stats.sr) / det,
            )
        };
        TargetCalibration {
            offset: a * scale.sd,
            slope: 1.0 + c,
            pivot: scale.mean,
            low: scale.low,
            high: scale.high,
            examples: n.round() as usize,
            mean_residual: Some(stats.sr / n * scale.sd),
            noise_sd: noise_var.sqrt() * scale.sd,
        }
    }

    /// The calibrated score of a raw one.
    pub fn apply(&self, raw: f64) -> f64 {
        if self.examples == 0 {
            return raw;
        }
        (raw + self.offset + (self.slope - 1.0) * (raw - self.pivot)).clamp(self.low, self.high)
    }
}

#[cfg(test)]
mod tests {
    use super::super::prior::Prior;
    use super::*;

    fn scale() -> TargetScale {
        TargetScale::new(0.0, 1.0, -4.0, 4.0).unwrap()
    }

    fn stats_of(points: &[(f64, f64)]) -> Stats {
        let mut s = Stats::default();
        for &(raw, teacher) in points {
            s.add(Stats::point(&scale(), raw, teacher));
        }
        s
    }

    #[test]
    fn a_scale_refuses_a_zero_sd_and_an_empty_range() {
        assert!(TargetScale::new(0.0, 0.0, -1.0, 1.0).is_err());
        assert!(TargetScale::new(0.0, 1.0, 1.0, 1.0).is_err());
        assert!(TargetScale::new(f64::NAN, 1.0, -1.0, 1.0).is_err());
    }

    #[test]
    fn the_offset_is_the_mean_residual_shrunk_by_the_prior() {
        // Offset only, noise fixed by a huge noise weight: the textbook
        // normal-normal posterior mean n·r̄ / (n + σ²/τ²).
        let prior = Prior {
            offset_sd: 0.5,
            slope_sd: 0.0,
            noise_sd: 1.0,
            noise_weight: 1e12,
        }
        .validate()
        .unwrap();
        let fit = TargetCalibration::fit(
            &stats_of(&[(0.0, 1.0), (1.0, 1.5), (-1.0, 0.5), (0.5, 1.5)]),
            &scale(),
            &prior,
        );
        let mean_residual = (1.0 + 0.5 + 1.5 + 1.0) / 4.0;
        let expected = 4.0 * mean_residual / (4.0 + 1.0 / 0.25);
        assert!((fit.offset - expected).abs() < 1e-9, "{}", fit.offset);
        assert_eq!(fit.slope, 1.0);
        assert_eq!(fit.mean_residual, Some(mean_residual));
        assert!((fit.apply(0.2) - (0.2 + expected)).abs() < 1e-9);
    }

    #[test]
    fn with_a_wide_prior_and_many_examples_the_fit_recovers_a_line() {
        let prior = Prior {
            offset_sd: 100.0,
            slope_sd: 100.0,
            noise_sd: 0.1,
            noise_weight: 1.0,
        }
        .validate()
        .unwrap();
        // teacher = 0.3 + 1.4·raw exactly.
        let points: Vec<(f64, f64)> = (0..40)
            .map(|i| {
                let raw = -2.0 + 0.1 * f64::from(i);
                (raw, 0.3 + 1.4 * raw)
            })
            .collect();
        let fit = TargetCalibration::fit(&stats_of(&points), &scale(), &prior);
        assert!((fit.offset - 0.3).abs() < 1e-3, "{}", fit.offset);
        assert!((fit.slope - 1.4).abs() < 1e-3, "{}", fit.slope);
        assert!(fit.noise_sd < 1.0);
    }

    #[test]
    fn calibrated_scores_stay_inside_the_range() {
        let prior = ValidPrior::default();
        let range = TargetScale::new(0.0, 1.0, -1.0, 1.0).unwrap();
        let mut s = Stats::default();
        for _ in 0..200 {
            s.add(Stats::point(&range, 0.9, 3.0));
        }
        let fit = TargetCalibration::fit(&s, &range, &prior);
        assert!(fit.offset > 1.0);
        assert_eq!(fit.apply(0.9), 1.0);
        assert_eq!(fit.apply(-50.0), -1.0);
    }

    #[test]
    fn removing_an_example_gives_the_sums_without_it() {
        let all = stats_of(&[(0.1, 0.4), (0.7, 0.2), (-0.3, 0.0)]);
        let rest = stats_of(&[(0.1, 0.4), (-0.3, 0.0)]);
        let removed = all.without(Stats::point(&scale(), 0.7, 0.2));
        for (a, b) in [
            (removed.n, rest.n),
            (removed.sx, rest.sx),
            (removed.sxx, rest.sxx),
            (removed.sr, rest.sr),
            (removed.sxr, rest.sxr),
            (removed.srr, rest.srr),
        ] {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn no_example_is_the_identity_without_a_clamp() {
        let fit = TargetCalibration::fit(&Stats::default(), &scale(), &ValidPrior::default());
        assert_eq!(fit.examples, 0);
        assert_eq!(fit.apply(17.0), 17.0);
    }
}
