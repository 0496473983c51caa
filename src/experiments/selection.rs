//! Feature selection by mutual information, computed on the rows it is given
//! (callers pass training rows only; under cross-validation that means the
//! training prompts of each fold, never the held-out one).
//!
//! The method, so that a selection can be reproduced and argued about:
//! - Every feature and every target is discretised into `bins` equal-frequency
//!   (quantile) bins over the given rows; tied values always share a bin, so a
//!   binary feature keeps two bins.
//! - Relevance of a feature is its mutual information with each target, in
//!   bits, averaged over the targets: I(f; y) = Σ p(a,b) log₂ p(a,b)/(p(a)p(b)).
//! - `Method::Relevance` ranks by relevance alone. `Method::Mrmr` (minimum
//!   redundancy, maximum relevance; Peng, Long & Ding 2005, the "MID" form)
//!   picks greedily the feature maximising relevance − mean I(f; s) over the
//!   features s already chosen, so near-copies of a chosen feature (words and
//!   characters, say) fall down the list.
//!
//! Reading files and printing belong to the `features` CLI command.

use ndarray::{ArrayView1, ArrayView2};

use crate::training::FeaturedDataset;

/// How features are ranked.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Mutual information with the targets, highest first.
    Relevance,
    /// Greedy minimum-redundancy maximum-relevance order.
    Mrmr,
}

/// One ranked feature.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RankedFeature {
    /// Rank, 1 = chosen first.
    pub rank: usize,
    /// The feature's name.
    pub name: String,
    /// Its column in the input matrix.
    pub column: usize,
    /// Mean mutual information with the targets, in bits.
    pub relevance: f64,
    /// Mean mutual information with the features chosen before it (0 for the first, and under `Relevance`).
    pub redundancy: f64,
}

/// What can go wrong when ranking.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectionError {
    /// Inputs disagree in size.
    #[error("feature selection: {what} (expected {expected}, got {got})")]
    Shape {
        /// Which sizes disagree.
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// Too few rows to estimate anything.
    #[error("feature selection needs at least {needed} rows, got {got}")]
    TooFewRows {
        /// The minimum.
        needed: usize,
        /// Rows given.
        got: usize,
    },
    /// Fewer than two bins.
    #[error("feature selection needs at least 2 bins, got {0}")]
    Bins(usize),
}

/// Assigns each value an equal-frequency bin in `0..bins`. Values are ranked,
/// and a run of equal values takes the bin of its first member, so ties never
/// straddle two bins. Non-finite values (never expected from `features`) go
/// to bin 0 rather than poisoning the estimate.
pub fn quantile_bins(values: ArrayView1<f64>, bins: usize) -> Vec<usize> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    let key = |i: usize| {
        if values[i].is_finite() {
            values[i]
        } else {
            f64::NEG_INFINITY
        }
    };
    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
    let mut out = vec![0; n];
    let mut i = 0;
    while i < n {
        let bin = (i * bins / n.max(1)).min(bins - 1);
        let mut j = i;
        while j < n && key(order[j]) == key(order[i]) {
            out[order[j]] = bin;
            j += 1;
        }
        i = j;
    }
    out
}

/// Mutual information, in bits, between two discrete variables given as bin
/// indices below `bins_a` and `bins_b`.
pub fn mutual_information(a: &[usize], bins_a: usize, b: &[usize], bins_b: usize) -> f64 {
    let n = a.len();
    if n == 0 {
        return 0.0;
    }
    let mut joint = vec![0usize; bins_a * bins_b];
    let mut pa = vec![0usize; bins_a];
    let mut pb = vec![0usize; bins_b];
    for (&x, &y) in a.iter().zip(b) {
        joint[x * bins_b + y] += 1;
        pa[x] += 1;
        pb[y] += 1;
    }
    let n = n as f64;
    let mut mi = 0.0;
    for x in 0..bins_a {
        for y in 0..bins_b {
            let c = joint[x * bins_b + y];
            if c > 0 {
                let pxy = c as f64 / n;
                mi += pxy * (pxy / (pa[x] as f64 / n * pb[y] as f64 / n)).log2();
            }
        }
    }
    mi.max(0.0)
}

/// Ranks every column of `x` (rows × features, named by `names`) against the
/// targets `y` (rows × targets) and returns all features in chosen order.
pub fn rank_features(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    names: &[String],
    method: Method,
    bins: usize,
) -> Result<Vec<RankedFeature>, SelectionError> {
    if bins < 2 {
        return Err(SelectionError::Bins(bins));
    }
    if names.len() != x.ncols() {
        return Err(SelectionError::Shape {
            what: "one name per feature column",
            expected: x.ncols(),
            got: names.len(),
        });
    }
    if y.nrows() != x.nrows() {
        return Err(SelectionError::Shape {
            what: "target rows must match feature rows",
            expected: x.nrows(),
            got: y.nrows(),
        });
    }
    let needed = 2 * bins;
    if x.nrows() < needed {
        return Err(SelectionError::TooFewRows {
            needed,
            got: x.nrows(),
        });
    }
    let fb: Vec<Vec<usize>> = x
        .columns()
        .into_iter()
        .map(|c| quantile_bins(c, bins))
        .collect();
    let tb: Vec<Vec<usize>> = y
        .columns()
        .into_iter()
        .map(|c| quantile_bins(c, bins))
        .collect();
    let relevance: Vec<f64> = fb
        .iter()
        .map(|f| {
            tb.iter()
                .map(|t| mutual_information(f, bins, t, bins))
                .sum::<f64>()
                / tb.len().max(1) as f64
        })
        .collect();
    let p = x.ncols();
    let mut chosen: Vec<RankedFeature> = Vec::with_capacity(p);
    match method {
        Method::Relevance => {
            let mut order: Vec<usize> = (0..p).collect();
            // Stable on ties: the catalogue order decides.
            order.sort_by(|&a, &b| relevance[b].total_cmp(&relevance[a]));
            for (r, c) in order.into_iter().enumerate() {
                chosen.push(RankedFeature {
                    rank: r + 1,
                    name: names[c].clone(),
                    column: c,
                    relevance: relevance[c],
                    redundancy: 0.0,
                });
            }
        }
        Method::Mrmr => {
            let mut left: Vec<usize> = (0..p).collect();
            // Running sum of I(f; s) over the chosen s, per feature.
            let mut redundancy_sum = vec![0.0; p];
            while !left.is_empty() {
                let k = chosen.len() as f64;
                let score =
                    |c: usize| relevance[c] - if k > 0.0 { redundancy_sum[c] / k } else { 0.0 };
                let (pos, &best) = left
                    .iter()
                    .enumerate()
                    .fold(None::<(usize, &usize)>, |acc, (i, c)| match acc {
                        Some((_, b)) if score(*b) >= score(*c) => acc,
                        _ => Some((i, c)),
                    })
                    .expect("left is not empty");
                chosen.push(RankedFeature {
                    rank: chosen.len() + 1,
                    name: names[best].clone(),
                    column: best,
                    relevance: relevance[best],
                    redundancy: if k > 0.0 {
                        redundancy_sum[best] / k
                    } else {
                        0.0
                    },
                });
                left.remove(pos);
                for &c in &left {
                    redundancy_sum[c] += mutual_information(&fb[c], bins, &fb[best], bins);
                }
            }
        }
    }
    Ok(chosen)
}

/// The names of the first `k` features of a ranking (all of them if `k` is larger).
pub fn top_k(ranking: &[RankedFeature], k: usize) -> Vec<String> {
    ranking.iter().take(k).map(|r| r.name.clone()).collect()
}

/// Quantile bins per feature and target used by the CLI and the sweep.
pub const SELECTION_BINS: usize = 16;

/// Ranks the candidate features (catalogue positions) of a featured dataset
/// against all of its targets, using every row given: pass the training rows
/// only. Errors if the dataset has no targets.
pub fn rank_dataset(
    featured: &FeaturedDataset,
    candidates: &[usize],
    method: Method,
    bins: usize,
) -> Result<Vec<RankedFeature>, SelectionError> {
    let rows: Vec<usize> = (0..featured.dataset.essays.len()).collect();
    if featured.dataset.target_names.is_empty() {
        return Err(SelectionError::Shape {
            what: "the dataset needs at least one target column to rank features against",
            expected: 1,
            got: 0,
        });
    }
    let x = featured.select(&rows, candidates).mapv(f64::from);
    let y = featured.targets(&rows);
    let cat = crate::features::catalogue();
    let names: Vec<String> = candidates
        .iter()
        .map(|&i| cat[i].name.to_string())
        .collect();
    rank_features(x.view(), y.view(), &names, method, bins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};

    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn quantile_bins_are_equal_frequency_and_keep_ties_together() {
        let v = Array1::from(vec![5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 8.0, 7.0]);
        assert_eq!(quantile_bins(v.view(), 4), vec![2, 0, 1, 0, 1, 2, 3, 3]);
        let ties = Array1::from(vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        let b = quantile_bins(ties.view(), 3);
        assert!(b[..5].iter().all(|&x| x == 0));
        assert_eq!(b[5], 2);
    }

    #[test]
    fn mutual_information_is_one_bit_for_a_copied_fair_coin_and_zero_for_independence() {
        let a = vec![0, 1, 0, 1, 1, 0, 1, 0];
        assert!((mutual_information(&a, 2, &a, 2) - 1.0).abs() < 1e-12);
        // Every combination of (a, b) equally often: independent.
        let a = vec![0, 0, 1, 1];
        let b = vec![0, 1, 0, 1];
        assert!(mutual_information(&a, 2, &b, 2).abs() < 1e-12);
    }

    #[test]
    fn relevance_ranks_the_informative_feature_above_noise() {
        let mut r = lcg(7);
        let n = 400;
        let x = Array2::from_shape_fn((n, 3), |_| r());
        let y = Array2::from_shape_fn((n, 2), |(i, t)| x[[i, 1]] * (t + 1) as f64 + 0.05 * r());
        let names: Vec<String> = ["noise_a", "signal", "noise_b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ranked = rank_features(x.view(), y.view(), &names, Method::Relevance, 8).unwrap();
        assert_eq!(ranked[0].name, "signal");
        assert_eq!(ranked[0].rank, 1);
        assert!(ranked[0].relevance > 1.0, "{}", ranked[0].relevance);
        assert!(ranked[1].relevance < 0.2);
    }

    #[test]
    fn mrmr_prefers_a_new_signal_to_a_copy_of_a_chosen_one() {
        let mut r = lcg(11);
        let n = 600;
        let s1: Vec<f64> = (0..n).map(|_| r()).collect();
        let s2: Vec<f64> = (0..n).map(|_| r()).collect();
        // Columns: s1, an exact monotone copy of s1, and s2. The target
        // leans on s1 more, so by relevance alone the copy comes second.
        let x = Array2::from_shape_fn((n, 3), |(i, j)| match j {
            0 => s1[i],
            1 => 2.0 * s1[i] + 1.0,
            _ => s2[i],
        });
        let y = Array2::from_shape_fn((n, 1), |(i, _)| 2.0 * s1[i] + s2[i]);
        let names: Vec<String> = ["s1", "s1_copy", "s2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let by_rel = rank_features(x.view(), y.view(), &names, Method::Relevance, 8).unwrap();
        assert_eq!(top_k(&by_rel, 2), vec!["s1", "s1_copy"]);
        let by_mrmr = rank_features(x.view(), y.view(), &names, Method::Mrmr, 8).unwrap();
        assert_eq!(top_k(&by_mrmr, 2), vec!["s1", "s2"]);
        assert!(by_mrmr[2].redundancy > 1.0);
    }

    #[test]
    fn rank_features_rejects_mismatched_names_rows_and_bins() {
        let x = Array2::<f64>::zeros((40, 2));
        let y = Array2::<f64>::zeros((40, 1));
        let one = vec!["a".to_string()];
        assert!(matches!(
            rank_features(x.view(), y.view(), &one, Method::Mrmr, 8),
            Err(SelectionError::Shape {
                expected: 2,
                got: 1,
                ..
            })
        ));
        let two = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            rank_features(x.view(), y.view(), &two, Method::Mrmr, 1),
            Err(SelectionError::Bins(1))
        );
        assert_eq!(
            rank_features(x.view(), y.view(), &two, Method::Mrmr, 32),
            Err(SelectionError::TooFewRows {
                needed: 64,
                got: 40
            })
        );
    }
}
