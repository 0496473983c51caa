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
    /// How likely it is, given the examples, that the model is off on this
    /// prompt (the prior's `shift_probability` without examples).
    pub shift_probability: f64,
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
            shift_probability: prior.get().shift_probability,
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
        let near = Component::fit(stats, noise_var, p.offset_sd, p.slope_sd);
        let shifted = Component::fit(stats, noise_var, p.shifted_offset_sd, p.slope_sd);
        // The posterior probability of the shifted component, from the prior
        // odds and the evidence ratio, as a logistic (no overflow).
        let shift_probability = match p.shift_probability {
            q if q <= 0.0 => 0.0,
            q if q >= 1.0 => 1.0,
            q => {
                let log_odds = (q / (1.0 - q)).ln() + shifted.log_evidence - near.log_evidence;
                1.0 / (1.0 + (-log_odds).exp())
            }
        };
        let mix = |a: f64, b: f64| (1.0 - shift_probability) * a + shift_probability * b;
        let (a, c) = (mix(near.a, shifted.a), mix(near.c, shifted.c));
        TargetCalibration {
            offset: a * scale.sd,
            slope: 1.0 + c,
            pivot: scale.mean,
            low: scale.low,
            high: scale.high,
            examples: n.round() as usize,
            mean_residual: Some(stats.sr / n * scale.sd),
            noise_sd: noise_var.sqrt() * scale.sd,
            shift_probability,
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

/// One normal component of the prior: the posterior mean of the
/// standardised offset `a` and slope change `c`, and the log evidence of the
/// examples under it (up to terms every component shares).
struct Component {
    a: f64,
    c: f64,
    log_evidence: f64,
}

impl Component {
    /// With `X = [1, x]` and `b = Xᵀr`: the posterior precision times the
    /// noise variance is `P = XᵀX + σ²·diag(1/offset_sd², 1/slope_sd²)`, the
    /// mean `P⁻¹b`, and the log evidence
    /// `−½·(log det Σ₀ + log det P − p·log σ²) + bᵀP⁻¹b / (2σ²)`.
    /// A zero `slope_sd` drops the slope (p = 1).
    fn fit(stats: &Stats, noise_var: f64, offset_sd: f64, slope_sd: f64) -> Component {
        let p11 = stats.n + noise_var / (offset_sd * offset_sd);
        if slope_sd == 0.0 {
            let a = stats.sr / p11;
            let log_evidence = -0.5 * ((offset_sd * offset_sd).ln() + p11.ln() - noise_var.ln())
                + stats.sr * a / (2.0 * noise_var);
            return Component {
                a,
                c: 0.0,
                log_evidence,
            };
        }
        let p12 = stats.sx;
        let p22 = stats.sxx + noise_var / (slope_sd * slope_sd);
        let det = p11 * p22 - p12 * p12;
        let a = (p22 * stats.sr - p12 * stats.sxr) / det;
        let c = (p11 * stats.sxr - p12 * stats.sr) / det;
        let log_prior_det = (offset_sd * offset_sd).ln() + (slope_sd * slope_sd).ln();
        let log_evidence = -0.5 * (log_prior_det + det.ln() - 2.0 * noise_var.ln())
            + (stats.sr * a + stats.sxr * c) / (2.0 * noise_var);
        Component { a, c, log_evidence }
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
            shift_probability: 0.0,
            slope_sd: 0.0,
            noise_sd: 1.0,
            noise_weight: 1e12,
            ..Prior::default()
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
            shift_probability: 0.0,
            slope_sd: 100.0,
            noise_sd: 0.1,
            noise_weight: 1.0,
            ..Prior::default()
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

    /// The exact log density of `r` under `N(0, σ²I + X·Σ₀·Xᵀ)`, by dense
    /// elimination: what the component's closed form must match, up to the
    /// terms every component shares.
    // Elimination reads clearest with indices.
    #[allow(clippy::needless_range_loop)]
    fn dense_log_evidence(x: &[f64], r: &[f64], noise_var: f64, prior: &[f64]) -> f64 {
        let n = r.len();
        let row = |i: usize| -> Vec<f64> { [1.0, x[i]][..prior.len()].to_vec() };
        let mut cov = vec![vec![0.0; n]; n];
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (row(i), row(j));
                cov[i][j] = (0..prior.len())
                    .map(|k| a[k] * b[k] * prior[k])
                    .sum::<f64>()
                    + if i == j { noise_var } else { 0.0 };
            }
        }
        // Gaussian elimination for the determinant and cov⁻¹·r.
        let mut m = cov;
        let mut v = r.to_vec();
        let mut log_det = 0.0;
        for k in 0..n {
            log_det += m[k][k].ln();
            for i in k + 1..n {
                let f = m[i][k] / m[k][k];
                for j in k..n {
                    m[i][j] -= f * m[k][j];
                }
                v[i] -= f * v[k];
            }
        }
        let mut sol = vec![0.0; n];
        for i in (0..n).rev() {
            sol[i] = (v[i] - (i + 1..n).map(|j| m[i][j] * sol[j]).sum::<f64>()) / m[i][i];
        }
        let quad: f64 = r.iter().zip(&sol).map(|(a, b)| a * b).sum();
        -0.5 * (log_det + quad)
    }

    #[test]
    fn the_evidence_ratio_of_two_components_matches_the_dense_computation() {
        let x = [0.3, -1.1, 0.8, 1.9];
        let r = [0.5, 0.1, 0.7, 0.2];
        let mut stats = Stats::default();
        for (xi, ri) in x.iter().zip(r) {
            stats.add((*xi, ri));
        }
        let noise_var = 0.3;
        for slope_sd in [0.0, 0.2] {
            let near = Component::fit(&stats, noise_var, 0.1, slope_sd);
            let far = Component::fit(&stats, noise_var, 0.6, slope_sd);
            let prior = |offset_sd: f64| {
                if slope_sd == 0.0 {
                    vec![offset_sd * offset_sd]
                } else {
                    vec![offset_sd * offset_sd, slope_sd * slope_sd]
                }
            };
            let exact = dense_log_evidence(&x, &r, noise_var, &prior(0.6))
                - dense_log_evidence(&x, &r, noise_var, &prior(0.1));
            let closed = far.log_evidence - near.log_evidence;
            assert!((exact - closed).abs() < 1e-9, "{exact} vs {closed}");
        }
    }

    #[test]
    fn a_clear_shift_is_followed_and_noise_around_zero_is_not() {
        let prior = ValidPrior::default();
        let with_shift = |shift: f64| {
            let mut s = Stats::default();
            for i in 0..20 {
                let wobble = if i % 2 == 0 { 0.4 } else { -0.4 };
                let raw = -1.0 + 0.1 * f64::from(i);
                s.add(Stats::point(&scale(), raw, raw + shift + wobble));
            }
            TargetCalibration::fit(&s, &scale(), &prior)
        };
        let off = with_shift(0.5);
        assert!(off.shift_probability > 0.9, "{off:?}");
        assert!(off.offset > 0.3, "{off:?}");
        let fine = with_shift(0.0);
        assert!(
            fine.shift_probability < prior.get().shift_probability,
            "{fine:?}"
        );
        assert!(fine.offset.abs() < 0.01, "{fine:?}");
    }

    #[test]
    fn no_example_is_the_identity_without_a_clamp() {
        let fit = TargetCalibration::fit(&Stats::default(), &scale(), &ValidPrior::default());
        assert_eq!(fit.examples, 0);
        assert_eq!(fit.apply(17.0), 17.0);
    }
}
