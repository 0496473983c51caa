//! Two ways of combining the grader's models that issue 10 asked to measure
//! under leave-one-prompt-out cross-validation, as [`FoldPredictor`]s:
//!
//! - [`Blend`]: a weighted mean of two predictors (the network ensemble and
//!   the gradient-boosted trees), one weight per target. The weight of a fold
//!   is fitted on out-of-fold predictions *inside* that fold's training
//!   prompts (leave one training prompt out, predict it), so the held-out
//!   prompt never takes part in choosing it.
//! - [`CentredByPrompt`]: the inner predictor learns targets centred on each
//!   training prompt's mean (only how essays differ within a prompt), and the
//!   held-out prompt's level is estimated separately, as the mean of the
//!   training prompts' means.

use std::collections::BTreeMap;

use ndarray::{Array2, Axis};

use crate::nn::Control;
use crate::training::{Dataset, FeaturedDataset, Fold, FoldPredictor, Progress, TrainingError};

/// The rows of `rows` grouped by prompt id, in prompt id order.
fn rows_by_prompt(dataset: &Dataset, rows: &[usize]) -> BTreeMap<String, Vec<usize>> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &r in rows {
        groups
            .entry(dataset.essays[r].prompt_id.clone())
            .or_default()
            .push(r);
    }
    groups
}

/// The weight `w` in [0, 1] that minimises the squared error of
/// `w·a + (1 − w)·b` against `y` (closed form, then clipped).
pub fn blend_weight(a: &[f64], b: &[f64], y: &[f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for ((&a, &b), &y) in a.iter().zip(b).zip(y) {
        num += (y - b) * (a - b);
        den += (a - b) * (a - b);
    }
    if den > 0.0 {
        (num / den).clamp(0.0, 1.0)
    } else {
        0.5
    }
}

/// A per-target weighted mean of two predictors, weights fitted inside each
/// fold's training prompts. Each model runs once over the outer and inner
/// folds together, so progress counts the inner folds as folds too, and
/// restarts for the second model.
pub struct Blend<'a> {
    /// The first model (weight `w`).
    pub first: Box<dyn FoldPredictor + 'a>,
    /// The second model (weight `1 − w`).
    pub second: Box<dyn FoldPredictor + 'a>,
    /// The name shown in reports.
    pub name: String,
}

impl Blend<'_> {
    /// The inner folds of `fold`: each of its training prompts held out in
    /// turn from its training rows. Empty when it has fewer than two.
    fn inner_folds(dataset: &Dataset, fold: &Fold) -> Vec<Fold> {
        let groups = rows_by_prompt(dataset, &fold.train);
        if groups.len() < 2 {
            return Vec::new();
        }
        groups
            .iter()
            .map(|(prompt, test)| Fold {
                held_out: format!("{} / {prompt}", fold.held_out),
                train: fold
                    .train
                    .iter()
                    .copied()
                    .filter(|r| dataset.essays[*r].prompt_id != *prompt)
                    .collect(),
                test: test.clone(),
            })
            .collect()
    }
}

impl FoldPredictor for Blend<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn predict_folds(
        &self,
        featured: &FeaturedDataset,
        folds: &[Fold],
        on_progress: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Vec<Array2<f64>>, TrainingError> {
        let dataset = featured.dataset;
        let targets = dataset.target_names.len();
        // Every inner fold of every outer fold, run in one batch per model.
        let inner: Vec<Vec<Fold>> = folds
            .iter()
            .map(|f| Self::inner_folds(dataset, f))
            .collect();
        let flat: Vec<Fold> = inner.iter().flatten().cloned().collect();
        let mut all = folds.to_vec();
        all.extend(flat.iter().cloned());
        let first = self.first.predict_folds(featured, &all, on_progress)?;
        let second = self.second.predict_folds(featured, &all, on_progress)?;

        let mut next_inner = folds.len();
        let mut out = Vec::with_capacity(folds.len());
        for (f, inner_folds) in inner.iter().enumerate() {
            let range = next_inner..next_inner + inner_folds.len();
            next_inner = range.end;
            let mut weights = vec![0.5; targets];
            for (t, weight) in weights.iter_mut().enumerate() {
                let (mut a, mut b, mut y) = (Vec::new(), Vec::new(), Vec::new());
                for (k, fold) in range.clone().zip(inner_folds) {
                    a.extend(first[k].column(t).iter().copied());
                    b.extend(second[k].column(t).iter().copied());
                    y.extend(fold.test.iter().map(|&r| dataset.essays[r].targets[t]));
                }
                if !y.is_empty() {
                    *weight = blend_weight(&a, &b, &y);
                }
            }
            let mut blended = first[f].clone();
            for (t, &w) in weights.iter().enumerate() {
                let mut column = blended.column_mut(t);
                column *= w;
                column.scaled_add(1.0 - w, &second[f].column(t));
            }
            tracing::info!(fold = %folds[f].held_out, ?weights, "blend weights of the first model");
            out.push(blended);
        }
        Ok(out)
    }
}

/// The inner predictor on targets centred per prompt, plus a level for the
/// held-out prompt: the mean of its training prompts' means.
pub struct CentredByPrompt<'a> {
    /// The model that learns the centred targets.
    pub inner: Box<dyn FoldPredictor + 'a>,
    /// The name shown in reports.
    pub name: String,
}

/// The mean of each target over `rows`.
fn mean_targets(dataset: &Dataset, rows: &[usize]) -> Vec<f64> {
    let mut mean = vec![0.0; dataset.target_names.len()];
    for &r in rows {
        for (m, &y) in mean.iter_mut().zip(&dataset.essays[r].targets) {
            *m += y / rows.len() as f64;
        }
    }
    mean
}

impl FoldPredictor for CentredByPrompt<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn predict_folds(
        &self,
        featured: &FeaturedDataset,
        folds: &[Fold],
        on_progress: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Vec<Array2<f64>>, TrainingError> {
        let dataset = featured.dataset;
        let mut out = Vec::with_capacity(folds.len());
        for fold in folds {
            // Means from the fold's training rows only.
            let means: BTreeMap<String, Vec<f64>> = rows_by_prompt(dataset, &fold.train)
                .into_iter()
                .map(|(prompt, rows)| {
                    let mean = mean_targets(dataset, &rows);
                    (prompt, mean)
                })
                .collect();
            let t = dataset.target_names.len();
            let mut level = vec![0.0; t];
            for mean in means.values() {
                for (l, m) in level.iter_mut().zip(mean) {
                    *l += m / means.len() as f64;
                }
            }
            let mut centred = dataset.clone();
            for &r in &fold.train {
                let essay = &mut centred.essays[r];
                for (y, m) in essay.targets.iter_mut().zip(&means[&essay.prompt_id]) {
                    *y -= m;
                }
            }
            let centred_featured = FeaturedDataset {
                dataset: &centred,
                features: featured.features.clone(),
            };
            let mut p = self
                .inner
                .predict_folds(&centred_featured, std::slice::from_ref(fold), on_progress)?
                .remove(0);
            // A held-out row of a training prompt (k-fold) takes its
            // prompt's level; a row of an unseen prompt the mean level.
            for (mut row, &r) in p.axis_iter_mut(Axis(0)).zip(&fold.test) {
                let own = means.get(&dataset.essays[r].prompt_id).unwrap_or(&level);
                for (v, l) in row.iter_mut().zip(own) {
                    *v += l;
                }
            }
            out.push(p);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blend_weight_minimises_the_squared_error() {
        let y = [1.0, 2.0, 3.0];
        assert_eq!(blend_weight(&y, &[0.0, 0.0, 0.0], &y), 1.0);
        assert_eq!(blend_weight(&[0.0, 0.0, 0.0], &y, &y), 0.0);
        // a is 1 too high, b is 1 too low: the midpoint is exact.
        let a = [2.0, 3.0, 4.0];
        let b = [0.0, 1.0, 2.0];
        assert!((blend_weight(&a, &b, &y) - 0.5).abs() < 1e-12);
        // Equal predictions carry no information about the weight.
        assert_eq!(blend_weight(&y, &y, &y), 0.5);
    }
}
