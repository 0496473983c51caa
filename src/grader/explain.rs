//! Explaining a grade by occlusion: for each feature the model uses, the
//! essay's value is replaced by the training mean (0 after standardisation)
//! and the score recomputed; the change is that feature's effect. The
//! features with the largest positive effects "raised" the score, the most
//! negative "lowered" it. Correlated features (word count and its logarithm)
//! share an effect between them, so each can look smaller than the pair is.
//!
//! Grading (`grade.rs`) runs the networks on the rows written here, in one
//! block per essay, and reads each target's explanation back from them.

use ndarray::{ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use super::artifact::GraderModel;
use super::grade::Explain;

/// Features named in each explanation direction.
const EXPLAIN_TOP: usize = 3;

/// One feature's part in a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureEffect {
    /// Catalogue name.
    pub feature: String,
    /// The essay's value.
    pub value: f64,
    /// The training mean.
    pub mean: f64,
    /// Score minus the score with this feature at its training mean.
    pub effect: f64,
}

/// The features that moved one target's score most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetExplanation {
    /// Largest positive effects first.
    pub raised: Vec<FeatureEffect>,
    /// Largest negative effects first.
    pub lowered: Vec<FeatureEffect>,
}

impl GraderModel {
    /// Input rows per essay: the essay itself, plus one per feature when
    /// explaining.
    pub(super) fn rows_per_essay(&self, explain: Explain) -> usize {
        match explain {
            Explain::Yes => self.feature_idx.len() + 1,
            Explain::No => 1,
        }
    }

    /// Writes one essay's block of standardised input rows from its catalogue
    /// vector: row 0 is the essay; row 1 + j, if the block has it, has
    /// feature j at its training mean (0).
    pub(super) fn write_rows(&self, values: &[f32], mut rows: ArrayViewMut2<f32>) {
        for j in 0..self.feature_idx.len() {
            let v = (values[self.feature_idx[j]] - self.x_mean[j]) * self.x_inv_std[j];
            for r in 0..rows.nrows() {
                rows[[r, j]] = if r == j + 1 { 0.0 } else { v };
            }
        }
    }

    /// The explanation of target `t` from the scores of one essay's block of
    /// rows (as written by [`Self::write_rows`] with [`Explain::Yes`]).
    pub(super) fn explain_target(
        &self,
        values: &[f32],
        scores: ArrayView2<f64>,
        t: usize,
    ) -> TargetExplanation {
        let score = scores[[0, t]];
        let effects: Vec<f64> = (1..scores.nrows())
            .map(|r| score - scores[[r, t]])
            .collect();
        self.explain(values, &effects)
    }

    /// The largest positive and negative effects of one target.
    fn explain(&self, values: &[f32], effects: &[f64]) -> TargetExplanation {
        let mut order: Vec<usize> = (0..effects.len()).collect();
        order.sort_by(|&a, &b| effects[b].total_cmp(&effects[a]));
        let effect = |j: usize| FeatureEffect {
            feature: self.file.feature_names[j].clone(),
            value: f64::from(values[self.feature_idx[j]]),
            mean: self.file.scaler.mean[j],
            effect: effects[j],
        };
        TargetExplanation {
            raised: order
                .iter()
                .copied()
                .filter(|&j| effects[j] > 0.0)
                .take(EXPLAIN_TOP)
                .map(effect)
                .collect(),
            lowered: order
                .iter()
                .rev()
                .copied()
                .filter(|&j| effects[j] < 0.0)
                .take(EXPLAIN_TOP)
                .map(effect)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{self, PreparedPrompt};
    use crate::grader::ensemble::{predict_scaled, unscale_targets};
    use crate::grader::train;
    use crate::nn::Control;
    use crate::training::TrainConfig;
    use crate::training::test_data::tiny_dataset;
    use ndarray::Array2;
    use serde_json::json;

    #[test]
    fn occlusion_effects_add_up_to_the_score_of_a_linear_model() {
        // With no hidden layer the network is linear, so each feature's
        // effect is exactly its term and the effects sum to score − score(mean).
        let ds = tiny_dataset(20);
        let config = TrainConfig::from_json_value(json!({
            "network": {"layers": []}, "epochs": 5, "ensemble": 1, "early_stopping": null
        }))
        .unwrap();
        let model = train(&ds, &config, &mut |_| Control::Continue)
            .unwrap()
            .model;
        let prompt = PreparedPrompt::new(&ds.prompts["bees"]);
        let essay = &ds.essays[25].text;
        let fv = features::extract(&prompt, essay).into_values();
        let grades = model.grade_vectors(&[(true, fv.clone())], Explain::Yes);
        // The score of the all-means essay.
        let mut mean_fv = fv.clone();
        for (j, &i) in model.feature_idx.iter().enumerate() {
            mean_fv[i] = model.x_mean[j];
        }
        let at_mean = model.grade_vectors(&[(true, mean_fv)], Explain::No);
        let score = grades[0].scores.0[0].1;
        let base = at_mean[0].scores.0[0].1;
        let d = model.feature_idx.len();
        let block = d + 1;
        let mut x = Array2::<f32>::zeros((block, d));
        for j in 0..d {
            let v = (fv[model.feature_idx[j]] - model.x_mean[j]) * model.x_inv_std[j];
            for r in 0..block {
                x[[r, j]] = if r == j + 1 { 0.0 } else { v };
            }
        }
        let p = unscale_targets(
            &model.file.target_scaler,
            &predict_scaled(&model.networks, x.view()),
        );
        let total: f64 = (0..d).map(|j| p[[0, 0]] - p[[1 + j, 0]]).sum();
        assert!(
            (total - (score - base)).abs() < 1e-3,
            "{total} vs {}",
            score - base
        );
    }
}
