//! A way of training the grader's models that issue 10 asked to measure
//! under leave-one-prompt-out cross-validation, as a [`FoldPredictor`]. (The
//! blend of two predictors it measured too is now the grader's:
//! `grader::blend`.)
//!
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
