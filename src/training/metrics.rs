//! Scoring predictions against targets: RMSE, MAE, R², Pearson, MCRMSE,
//! quadratic weighted kappa on a score grid, and accuracy and AUC for a
//! pass/fail cut. Also the serialisable metric tables that `evaluate`, `cv`
//! and the model artifact report. It does not produce predictions.
//!
//! Degenerate inputs give finite, documented values so reports stay valid
//! JSON: R² is 1 for a perfect fit of a constant target and 0 otherwise
//! (scikit-learn's `force_finite`), Pearson is 0 when either side is constant,
//! and kappa is 1 when both raters agree perfectly on a single level.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::dataset::ScoreGrid;

/// Root mean squared error: sqrt(mean((y − p)²)). 0 for empty input.
pub fn rmse(y: &[f64], p: &[f64]) -> f64 {
    assert_eq!(y.len(), p.len(), "rmse: length mismatch");
    if y.is_empty() {
        return 0.0;
    }
    let sse: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
    (sse / y.len() as f64).sqrt()
}

/// Mean absolute error: mean(|y − p|). 0 for empty input.
pub fn mae(y: &[f64], p: &[f64]) -> f64 {
    assert_eq!(y.len(), p.len(), "mae: length mismatch");
    if y.is_empty() {
        return 0.0;
    }
    y.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// Coefficient of determination: 1 − SS_res / SS_tot with SS_tot around the
/// mean of `y`. Negative when worse than predicting that mean. For a constant
/// `y`: 1 if the predictions are exact, else 0.
pub fn r2(y: &[f64], p: &[f64]) -> f64 {
    assert_eq!(y.len(), p.len(), "r2: length mismatch");
    let m = mean(y);
    let ss_tot: f64 = y.iter().map(|a| (a - m) * (a - m)).sum();
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

/// Pearson correlation: cov(y, p) / (sd(y)·sd(p)); 0 when either is constant.
pub fn pearson(y: &[f64], p: &[f64]) -> f64 {
    assert_eq!(y.len(), p.len(), "pearson: length mismatch");
    let (my, mp) = (mean(y), mean(p));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in y.iter().zip(p) {
        let (da, db) = (a - my, b - mp);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Mean columnwise RMSE: the RMSE of each target, averaged (CommonLit's score).
/// `y[t]` and `p[t]` are the values of target `t`.
pub fn mcrmse(y: &[Vec<f64>], p: &[Vec<f64>]) -> f64 {
    assert_eq!(y.len(), p.len(), "mcrmse: target count mismatch");
    if y.is_empty() {
        return 0.0;
    }
    y.iter().zip(p).map(|(a, b)| rmse(a, b)).sum::<f64>() / y.len() as f64
}

/// Quadratic weighted kappa (Cohen's kappa with weights (i−j)²/(L−1)²) after
/// rounding both `y` and `p` to the levels of `grid`:
/// κ = 1 − Σ w·O / Σ w·E, where O is the observed level-pair histogram and E
/// the outer product of the two marginal histograms scaled to the same total.
pub fn quadratic_weighted_kappa(y: &[f64], p: &[f64], grid: &ScoreGrid) -> f64 {
    assert_eq!(y.len(), p.len(), "qwk: length mismatch");
    let levels = grid.levels();
    if y.is_empty() || levels < 2 {
        return 0.0;
    }
    let n = y.len() as f64;
    let mut observed = vec![0.0; levels * levels];
    let mut hist_y = vec![0.0; levels];
    let mut hist_p = vec![0.0; levels];
    for (a, b) in y.iter().zip(p) {
        let (i, j) = (grid.level(*a), grid.level(*b));
        observed[i * levels + j] += 1.0;
        hist_y[i] += 1.0;
        hist_p[j] += 1.0;
    }
    let denom_w = ((levels - 1) * (levels - 1)) as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..levels {
        for j in 0..levels {
            let w = ((i as f64) - (j as f64)).powi(2) / denom_w;
            num += w * observed[i * levels + j];
            den += w * hist_y[i] * hist_p[j] / n;
        }
    }
    if den == 0.0 {
        // Both raters used one and the same level: perfect agreement.
        return if num == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - num / den
}

/// Share of cases where `prob ≥ 0.5` agrees with the label.
pub fn accuracy(labels: &[bool], prob: &[f64]) -> f64 {
    assert_eq!(labels.len(), prob.len(), "accuracy: length mismatch");
    if labels.is_empty() {
        return 0.0;
    }
    let hits = labels
        .iter()
        .zip(prob)
        .filter(|(l, p)| **l == (**p >= 0.5))
        .count();
    hits as f64 / labels.len() as f64
}

/// Area under the ROC curve by the Mann–Whitney rank statistic: the
/// probability that a random positive scores above a random negative, ties
/// counting one half. `None` when one class is absent (AUC is undefined).
pub fn auc(labels: &[bool], score: &[f64]) -> Option<f64> {
    assert_eq!(labels.len(), score.len(), "auc: length mismatch");
    let n_pos = labels.iter().filter(|l| **l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    // Average 1-based ranks over runs of tied scores.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// The metrics of one target. Regression models fill `rmse`, `mae`, `r2`,
/// `pearson` (and `qwk` on a score grid); the pass/fail baseline fills `cut`,
/// `accuracy` and `auc`. Absent fields are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetMetrics {
    /// Root mean squared error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// Mean absolute error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Coefficient of determination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
    /// Pearson correlation of prediction and target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pearson: Option<f64>,
    /// Quadratic weighted kappa on the score grid (ordinal targets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qwk: Option<f64>,
    /// Pass/fail: the score above which an essay passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<f64>,
    /// Pass/fail: share of essays classified correctly at probability 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Pass/fail: area under the ROC curve (absent if one class is missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
}

impl TargetMetrics {
    /// Regression metrics of one target, with kappa when a grid is given.
    pub fn regression(y: &[f64], p: &[f64], grid: Option<&ScoreGrid>) -> TargetMetrics {
        TargetMetrics {
            rmse: Some(rmse(y, p)),
            mae: Some(mae(y, p)),
            r2: Some(r2(y, p)),
            pearson: Some(pearson(y, p)),
            qwk: grid.map(|g| quadratic_weighted_kappa(y, p, g)),
            ..TargetMetrics::default()
        }
    }

    /// Pass/fail metrics: labels are `y > cut`, `prob` the predicted P(pass).
    pub fn pass_fail(y: &[f64], prob: &[f64], cut: f64) -> TargetMetrics {
        let labels: Vec<bool> = y.iter().map(|v| *v > cut).collect();
        TargetMetrics {
            cut: Some(cut),
            accuracy: Some(accuracy(&labels, prob)),
            auc: auc(&labels, prob),
            ..TargetMetrics::default()
        }
    }
}

/// Per-target metrics keyed by target name, serialised as a JSON object whose
/// keys keep the dataset's target order (content before wording).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetTable(pub Vec<(String, TargetMetrics)>);

impl TargetTable {
    /// The metrics of the named target.
    pub fn get(&self, name: &str) -> Option<&TargetMetrics> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }
}

impl Serialize for TargetTable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, m) in &self.0 {
            map.serialize_entry(name, m)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TargetTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TableVisitor;
        impl<'de> Visitor<'de> for TableVisitor {
            type Value = TargetTable;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of per-target metrics")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TargetTable, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = access.next_entry::<String, TargetMetrics>()? {
                    out.push((k, v));
                }
                Ok(TargetTable(out))
            }
        }
        d.deserialize_map(TableVisitor)
    }
}

/// Metrics of a set of predictions: `{"n", "mcrmse", "targets": {…}}`, the
/// JSON of `evaluate`, of each CV fold and of the pooled CV result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Number of essays scored.
    pub n: usize,
    /// Mean columnwise RMSE over targets (absent for the pass/fail baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcrmse: Option<f64>,
    /// Per-target metrics in target order.
    pub targets: TargetTable,
}

impl Metrics {
    /// Regression metrics. `y[t]`, `p[t]` hold target `t` for every essay.
    pub fn regression(
        names: &[String],
        y: &[Vec<f64>],
        p: &[Vec<f64>],
        grid: Option<&ScoreGrid>,
    ) -> Metrics {
        let targets = names
            .iter()
            .zip(y.iter().zip(p))
            .map(|(name, (yt, pt))| (name.clone(), TargetMetrics::regression(yt, pt, grid)))
            .collect();
        Metrics {
            n: y.first().map_or(0, Vec::len),
            mcrmse: Some(mcrmse(y, p)),
            targets: TargetTable(targets),
        }
    }

    /// Pass/fail metrics: `prob[t]` is P(target t > cuts[t]).
    pub fn pass_fail(names: &[String], y: &[Vec<f64>], prob: &[Vec<f64>], cuts: &[f64]) -> Metrics {
        let targets = names
            .iter()
            .enumerate()
            .map(|(t, name)| {
                (
                    name.clone(),
                    TargetMetrics::pass_fail(&y[t], &prob[t], cuts[t]),
                )
            })
            .collect();
        Metrics {
            n: y.first().map_or(0, Vec::len),
            mcrmse: None,
            targets: TargetTable(targets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    // y = [1, 2, 3, 4], p = [1.5, 2, 2, 5]: errors -0.5, 0, 1, -1.
    const Y: [f64; 4] = [1.0, 2.0, 3.0, 4.0];
    const P: [f64; 4] = [1.5, 2.0, 2.0, 5.0];

    #[test]
    fn rmse_and_mae_match_hand_computed_values() {
        // squared errors 0.25 + 0 + 1 + 1 = 2.25; /4 = 0.5625; sqrt = 0.75
        close(rmse(&Y, &P), 0.75);
        // |errors| 0.5 + 0 + 1 + 1 = 2.5; /4 = 0.625
        close(mae(&Y, &P), 0.625);
    }

    #[test]
    fn r2_matches_a_hand_computed_value_and_handles_constant_targets() {
        // mean 2.5; SS_tot = 2.25+0.25+0.25+2.25 = 5; SS_res = 2.25; R² = 1 - 0.45 = 0.55
        close(r2(&Y, &P), 0.55);
        close(r2(&[2.0, 2.0], &[2.0, 2.0]), 1.0);
        close(r2(&[2.0, 2.0], &[1.0, 2.0]), 0.0);
        // Predicting the mean scores exactly 0.
        close(r2(&Y, &[2.5; 4]), 0.0);
    }

    #[test]
    fn pearson_matches_a_hand_computed_value() {
        // dy = [-1.5,-0.5,0.5,1.5]; mean p = 2.625, dp = [-1.125,-0.625,-0.625,2.375]
        // sxy = 1.6875+0.3125-0.3125+3.5625 = 5.25; sxx = 5;
        // syy = 1.265625+0.390625+0.390625+5.640625 = 7.6875
        let expected = 5.25 / (5.0f64.sqrt() * 7.6875f64.sqrt());
        close(pearson(&Y, &P), expected);
        close(pearson(&Y, &[3.0; 4]), 0.0);
        close(pearson(&Y, &[2.0, 4.0, 6.0, 8.0]), 1.0);
    }

    #[test]
    fn mcrmse_averages_the_rmse_of_each_target() {
        let y = vec![Y.to_vec(), vec![0.0, 0.0]];
        let p = vec![P.to_vec(), vec![1.0, -1.0]];
        // (0.75 + 1) / 2
        close(mcrmse(&y, &p), 0.875);
    }

    #[test]
    fn quadratic_weighted_kappa_matches_a_hand_computed_value() {
        // Grid 1:3:1 (levels 1,2,3; weights 0, 1/4, 1).
        // y = [1,2,3,3], p = [1,3,3,2] -> O pairs (0,0),(1,2),(2,2),(2,1)
        // num = w(1,2)+w(2,1) = 0.25+0.25 = 0.5
        // hist_y = [1,1,2], hist_p = [1,1,2], n = 4; E_ij = hy_i*hp_j/4
        // den = Σ w_ij E_ij = (0.25*(1*1 + 1*1) + 1*(1*2 + 2*1) + 0.25*(1*2 + 2*1)) / 4
        //     = (0.5 + 4 + 1) / 4 = 1.375
        // κ = 1 - 0.5/1.375 = 0.636363…
        let g: ScoreGrid = "1:3:1".parse().unwrap();
        close(
            quadratic_weighted_kappa(&[1.0, 2.0, 3.0, 3.0], &[1.0, 3.0, 3.0, 2.0], &g),
            1.0 - 0.5 / 1.375,
        );
        // Predictions are rounded to the grid first: 1.2 -> 1, 2.6 -> 3.
        close(quadratic_weighted_kappa(&[1.0, 3.0], &[1.2, 2.6], &g), 1.0);
    }

    #[test]
    fn accuracy_and_auc_match_hand_computed_values() {
        let labels = [true, false, true, false];
        let prob = [0.9, 0.4, 0.3, 0.6];
        // predictions at 0.5: T F F T -> hits at 0 and 1 -> 0.5
        close(accuracy(&labels, &prob), 0.5);
        // positive scores {0.9, 0.3}, negatives {0.4, 0.6}: pairs won:
        // 0.9>0.4, 0.9>0.6, 0.3<0.4, 0.3<0.6 -> 2/4
        close(auc(&labels, &prob).unwrap(), 0.5);
        // A tie counts one half: pos {0.5}, neg {0.5, 0.1} -> (0.5 + 1)/2
        close(auc(&[true, false, false], &[0.5, 0.5, 0.1]).unwrap(), 0.75);
        assert_eq!(auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn metrics_serialise_with_targets_in_dataset_order() {
        let names = vec!["wording".to_string(), "content".to_string()];
        let y = vec![vec![1.0, 2.0], vec![0.0, 1.0]];
        let m = Metrics::regression(&names, &y, &y, None);
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            json.starts_with(r#"{"n":2,"mcrmse":0.0,"targets":{"wording":{"rmse":0.0"#),
            "{json}"
        );
        assert!(!json.contains("qwk"));
        let back: Metrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
