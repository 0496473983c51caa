//! The blend of two models that the grader ships when its config has
//! `trees`: a weighted mean of the network ensemble and the gradient-boosted
//! trees (`trees.rs`), one weight per target.
//!
//! The weight is fitted on out-of-fold predictions made *inside* the rows it
//! is fitted for: each of their prompts held out in turn, both models trained
//! on the others and made to predict it ([`inner_folds`]). In
//! cross-validation those rows are a fold's training rows, so the held-out
//! prompt never takes part in choosing its weight; in training
//! (`train.rs`) they are every row, and the same rule picks the weights the
//! artifact stores. A dataset of one prompt has no prompt to hold out; its
//! rows are then split into three interleaved folds instead.
//!
//! - [`Blend`]: any two [`FoldPredictor`]s blended that way (the grader's
//!   pair, and the experiments' network + baseline trees).
//! - [`BoostedTrees`]: the grader's trees behind the harness's seam, trained
//!   and walked exactly as the artifact's.
//! - [`model_predictor`]: what cross-validating a config measures: the
//!   network ensemble alone, or blended with its trees.

use std::collections::BTreeMap;

use ndarray::{Array2, Axis};

use crate::nn::Control;
use crate::training::progress::{Message, Reporter, RunShape, run_tasks};
use crate::training::{
    Dataset, FeaturedDataset, Fold, FoldPredictor, Progress, TrainingError, TreesConfig,
    ValidTrainConfig,
};

use super::ensemble::{NETWORK, NetworkEnsemble};
use super::trees::{Trees, TreesFile, fit_boosters};

/// The name of the grader's blend in reports and errors.
pub const BLEND: &str = "mlp+trees";

/// Inner folds of a dataset with a single prompt: rows split this many ways.
const FOLDS_WITHOUT_PROMPTS: usize = 3;

/// The weight `w` in [0, 1] that minimises the squared error of
/// `w·a + (1 − w)·b` against `y` (closed form, then clipped); 0.5 when `a`
/// and `b` never differ.
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

/// The folds the blend weight of `fold`'s training rows is fitted on: each
/// of their prompts held out in turn, or, with one prompt, three interleaved
/// folds of the rows. Empty when there are too few rows to split.
pub fn inner_folds(dataset: &Dataset, fold: &Fold) -> Vec<Fold> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &r in &fold.train {
        groups
            .entry(dataset.essays[r].prompt_id.as_str())
            .or_default()
            .push(r);
    }
    if groups.len() >= 2 {
        return groups
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
            .collect();
    }
    if fold.train.len() < 2 * FOLDS_WITHOUT_PROMPTS {
        return Vec::new();
    }
    (0..FOLDS_WITHOUT_PROMPTS)
        .map(|k| {
            let (test, train): (Vec<(usize, usize)>, Vec<(usize, usize)>) = fold
                .train
                .iter()
                .copied()
                .enumerate()
                .partition(|(i, _)| i % FOLDS_WITHOUT_PROMPTS == k);
            Fold {
                held_out: format!(
                    "{} / part {} of {FOLDS_WITHOUT_PROMPTS}",
                    fold.held_out,
                    k + 1
                ),
                train: train.into_iter().map(|(_, r)| r).collect(),
                test: test.into_iter().map(|(_, r)| r).collect(),
            }
        })
        .collect()
}

/// The first model's weight per target, fitted on the inner folds'
/// predictions of both models (0.5 per target when there are none).
pub fn fit_weights(
    dataset: &Dataset,
    inner: &[Fold],
    first: &[Array2<f64>],
    second: &[Array2<f64>],
) -> Vec<f64> {
    let targets = dataset.target_names.len();
    (0..targets)
        .map(|t| {
            let (mut a, mut b, mut y) = (Vec::new(), Vec::new(), Vec::new());
            for ((fold, p), q) in inner.iter().zip(first).zip(second) {
                a.extend(p.column(t).iter().copied());
                b.extend(q.column(t).iter().copied());
                y.extend(fold.test.iter().map(|&r| dataset.essays[r].targets[t]));
            }
            if y.is_empty() {
                0.5
            } else {
                blend_weight(&a, &b, &y)
            }
        })
        .collect()
}

/// A per-target weighted mean of two predictors, weights fitted inside each
/// fold's training rows ([`inner_folds`]). Each model runs once over the
/// outer and inner folds together, so progress counts the inner folds as
/// folds too, and restarts for the second model.
pub struct Blend<'a> {
    /// The first model (weight `w`).
    pub first: Box<dyn FoldPredictor + 'a>,
    /// The second model (weight `1 − w`).
    pub second: Box<dyn FoldPredictor + 'a>,
    /// The name shown in reports.
    pub name: String,
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
        // Every inner fold of every outer fold, run in one batch per model.
        let inner: Vec<Vec<Fold>> = folds.iter().map(|f| inner_folds(dataset, f)).collect();
        let mut all = folds.to_vec();
        all.extend(inner.iter().flatten().cloned());
        let first = self.first.predict_folds(featured, &all, on_progress)?;
        let second = self.second.predict_folds(featured, &all, on_progress)?;

        let mut next_inner = folds.len();
        let mut out = Vec::with_capacity(folds.len());
        for (f, inner_folds) in inner.iter().enumerate() {
            let range = next_inner..next_inner + inner_folds.len();
            next_inner = range.end;
            let weights = fit_weights(dataset, inner_folds, &first[range.clone()], &second[range]);
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

/// The config's trees, cross-validated: per fold, one booster per target
/// fitted on its training rows (seeded with the config's seed), flattened
/// and walked as the grader walks them.
#[derive(Debug, Clone, Copy)]
pub struct BoostedTrees<'a> {
    config: &'a ValidTrainConfig,
    trees: &'a TreesConfig,
}

impl<'a> BoostedTrees<'a> {
    /// The trees of `config`, if it has any.
    pub fn new(config: &'a ValidTrainConfig) -> Option<Self> {
        let trees = config.config().trees.as_ref()?;
        Some(Self { config, trees })
    }
}

/// Fits the trees on `rows` of `featured` and checks them as a model load
/// would; `label` names the fold in errors.
pub(super) fn train_trees(
    featured: &FeaturedDataset,
    rows: &[usize],
    config: &ValidTrainConfig,
    trees: &TreesConfig,
    label: &str,
) -> Result<(TreesFile, Trees), TrainingError> {
    let idx = config.feature_indices();
    let fail = |message: String| TrainingError::Model {
        model: "trees".into(),
        fold: label.to_string(),
        message,
    };
    let targets = featured.dataset.target_names.len();
    let boosters = fit_boosters(
        featured.select(rows, idx).view(),
        featured.targets(rows).view(),
        trees,
        config.config().seed,
    )
    .map_err(fail)?;
    let file = TreesFile {
        network_weight: vec![0.0; targets],
        boosters,
    };
    // Groups and means only matter for explanations.
    let loaded = Trees::load(
        &file,
        targets,
        idx,
        &vec![0; idx.len()],
        &vec![0.0; idx.len()],
    )
    .map_err(|e| fail(e.to_string()))?;
    Ok((file, loaded))
}

impl FoldPredictor for BoostedTrees<'_> {
    fn name(&self) -> &str {
        "trees"
    }

    fn predict_folds(
        &self,
        featured: &FeaturedDataset,
        folds: &[Fold],
        on_progress: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Vec<Array2<f64>>, TrainingError> {
        let shape = RunShape {
            folds: folds.len(),
            members: 1,
            epochs: 1,
            total: folds.len(),
        };
        let work = |f: usize, reporter: &Reporter| -> Result<Array2<f64>, TrainingError> {
            let fold = &folds[f];
            let (_, trees) = train_trees(
                featured,
                &fold.train,
                self.config,
                self.trees,
                &fold.held_out,
            )?;
            let p = trees.predict(featured.features.select(Axis(0), &fold.test).view());
            reporter.send(Message::Epoch {
                fold: f + 1,
                member: 1,
                epoch: 1,
                train_loss: f64::NAN,
                val_loss: None,
            });
            Ok(p)
        };
        let (results, cancelled) = run_tasks(
            folds.len(),
            self.config.threads(),
            shape,
            &work,
            on_progress,
        );
        if cancelled {
            return Err(TrainingError::Cancelled);
        }
        results.into_iter().collect()
    }
}

/// What the grader trains from `config`, behind the cross-validation seam:
/// the network ensemble, blended with the config's trees if it has any.
pub fn model_predictor(config: &ValidTrainConfig) -> Box<dyn FoldPredictor + '_> {
    match BoostedTrees::new(config) {
        None => Box::new(NetworkEnsemble::new(config)),
        Some(trees) => Box::new(Blend {
            first: Box::new(NetworkEnsemble::new(config)),
            second: Box::new(trees),
            name: BLEND.into(),
        }),
    }
}

/// The model's name in reports: [`NETWORK`] or [`BLEND`].
pub fn model_name(config: &ValidTrainConfig) -> &'static str {
    if config.config().trees.is_some() {
        BLEND
    } else {
        NETWORK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::test_data::tiny_dataset;

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

    #[test]
    fn inner_folds_hold_out_each_training_prompt_and_never_the_outer_one() {
        let ds = tiny_dataset(6);
        let outer = Fold {
            held_out: "tides".into(),
            train: (0..ds.essays.len())
                .filter(|&r| ds.essays[r].prompt_id != "tides")
                .collect(),
            test: Vec::new(),
        };
        let inner = inner_folds(&ds, &outer);
        assert_eq!(inner.len(), 2);
        for fold in &inner {
            let held: Vec<&str> = fold
                .test
                .iter()
                .map(|&r| ds.essays[r].prompt_id.as_str())
                .collect();
            assert!(held.iter().all(|p| *p == held[0] && *p != "tides"));
            assert!(
                fold.train
                    .iter()
                    .all(|&r| ds.essays[r].prompt_id != held[0])
            );
            assert_eq!(fold.train.len() + fold.test.len(), outer.train.len());
        }
    }

    #[test]
    fn a_config_with_trees_cross_validates_as_the_blend() {
        use crate::training::{FoldSpec, TrainConfig, cross_validate};
        let ds = tiny_dataset(12);
        let config = TrainConfig::from_json_value(serde_json::json!({
            "network": {"layers": [{"units": 8, "activation": "relu"}]},
            "epochs": 10, "ensemble": 2, "batch_size": 16,
            "trees": {"iterations": 10, "max_depth": 2, "min_leaf_weight": 3.0}
        }))
        .unwrap()
        .with_threads(1);
        assert_eq!(model_name(&config), BLEND);
        let predictor = model_predictor(&config);
        assert_eq!(predictor.name(), BLEND);
        let cv = cross_validate(
            &ds,
            &config,
            FoldSpec::LeaveOnePromptOut,
            predictor.as_ref(),
            &mut |_| Control::Continue,
        )
        .unwrap();
        assert_eq!(cv.folds.len(), 3);
        assert!(cv.pooled.mcrmse.is_some_and(f64::is_finite));
    }

    #[test]
    fn one_prompts_rows_are_split_three_ways_for_the_weights() {
        let ds = tiny_dataset(6);
        let rivers: Vec<usize> = (0..ds.essays.len())
            .filter(|&r| ds.essays[r].prompt_id == "rivers")
            .collect();
        let outer = Fold {
            held_out: "all".into(),
            train: rivers.clone(),
            test: Vec::new(),
        };
        let inner = inner_folds(&ds, &outer);
        assert_eq!(inner.len(), 3);
        let mut tested: Vec<usize> = inner.iter().flat_map(|f| f.test.clone()).collect();
        tested.sort_unstable();
        assert_eq!(tested, rivers, "every row is predicted once, out of fold");
        for f in &inner {
            assert!(f.test.iter().all(|r| !f.train.contains(r)));
        }
    }
}
