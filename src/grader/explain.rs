//! Explaining a grade by concept: for each [`Concept`] the model has
//! features of, all of those features are set to their training means
//! together (0 after standardisation) and the scores recomputed; the change
//! is that concept's effect on each target. Occluding a whole group, not one
//! feature at a time, keeps correlated features (word count and its
//! logarithm, the copied shares of 4- and 8-word runs) from splitting or
//! cancelling each other's credit, and costs one network row per concept
//! instead of one per feature.
//!
//! Each effect carries a sentence from `features::concepts` that puts the
//! essay's own figure against the training essays', and the per-feature
//! values behind it for integrators who want them.
//!
//! The occluded rows cost little: the networks' first layer is computed
//! once per essay and corrected per concept (`nn::Network::predict_occlusions`).
//! A blended model occludes each concept through its trees too, the same
//! way (features at their training means), and blends each row, so a
//! concept's effect is exactly the blended score's change; the trees walk
//! again only where the essay's path split on that concept (`trees.rs` says
//! why occlusion rather than path attribution).
//! Grading (`grade.rs`) gets each essay's scores from
//! [`GraderModel::scaled_scores`], with or without those rows, and the
//! explanation from [`GraderModel::explain`].

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use crate::features::{Concept, Feature};
use crate::nn::OcclusionScratch;

use super::artifact::GraderModel;
use super::grade::{ByTarget, Explain};

/// The model inputs that belong to one concept.
#[derive(Debug, Clone)]
pub(super) struct ConceptColumns {
    /// The concept.
    pub concept: Concept,
    /// Positions of its features among the model's inputs.
    pub columns: Vec<usize>,
}

impl AsRef<[usize]> for ConceptColumns {
    fn as_ref(&self) -> &[usize] {
        &self.columns
    }
}

/// The concepts a model has features of, in [`Concept::ALL`] order, with the
/// model inputs of each: every input is in exactly one.
pub(super) fn concept_columns(features: &[Feature]) -> Vec<ConceptColumns> {
    Concept::ALL
        .iter()
        .map(|&concept| ConceptColumns {
            concept,
            columns: (0..features.len())
                .filter(|&j| Concept::of(features[j]) == concept)
                .collect(),
        })
        .filter(|group| !group.columns.is_empty())
        .collect()
}

/// One concept's part in a grade.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConceptEffect {
    /// The concept's stable id.
    #[schema(schema_with = concept_id_schema)]
    pub concept: Concept,
    /// The concept in a teacher's words, e.g. "Copying from the source".
    #[schema(example = "Coverage of the source's ideas")]
    pub label: &'static str,
    /// Per target, the score minus the score with all of this concept's
    /// features at their training means: positive if the concept raised
    /// the score, negative if it lowered it.
    #[schema(value_type = std::collections::BTreeMap<String, f64>, example = json!({"content": 0.31, "wording": -0.04}))]
    pub effects: ByTarget<f64>,
    /// One plain sentence with the essay's figure against the training
    /// essays', e.g. "Draws on 42% of the source's sentences; the training
    /// essays average 10%."
    pub sentence: String,
    /// The concept's features that the model uses, with the essay's value
    /// and the training mean of each.
    pub features: Vec<FeatureValue>,
}

/// One feature of a concept, for integrators who want the raw figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeatureValue {
    /// Catalogue name (see `essay-grader features --list`).
    #[schema(value_type = String, example = "r_prompt_sentences_covered_share")]
    pub feature: Feature,
    /// The essay's value (features are computed in single precision).
    pub value: f32,
    /// The training essays' mean (as the model standardises with it).
    pub mean: f32,
}

/// The OpenAPI schema of a concept id: a string, one of the ids.
fn concept_id_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Concept::ALL.iter().map(|c| c.id())))
        .description(Some(
            Concept::ALL
                .iter()
                .map(|c| format!("`{}`: {}", c.id(), c.label()))
                .collect::<Vec<_>>()
                .join("; "),
        ))
        .build()
}

impl GraderModel {
    /// Input rows per essay: the essay itself, plus one per concept when
    /// explaining.
    pub(super) fn rows_per_essay(&self, explain: Explain) -> usize {
        match explain {
            Explain::Yes => self.concepts.len() + 1,
            Explain::No => 1,
        }
    }

    /// The ensemble's scores, in standardised target units, for one essay's
    /// standardised input row `x` (row 0) and, with [`Explain::Yes`], for
    /// `x` with each concept's features at their training means, 0 (row
    /// 1 + g for concept g), written into `out` (one row each). Scores with
    /// and without the explanation come from the same arithmetic, so they
    /// are equal to the last bit.
    pub(super) fn scaled_scores(
        &self,
        x: ArrayView1<f32>,
        explain: Explain,
        scratch: &mut OcclusionScratch<f32>,
        mut out: ArrayViewMut2<f32>,
    ) {
        let groups: &[ConceptColumns] = match explain {
            Explain::Yes => &self.concepts,
            Explain::No => &[],
        };
        let out = out
            .as_slice_mut()
            .expect("an essay's block is whole rows of the score matrix");
        out.fill(0.0);
        for net in &self.networks {
            let rows = net
                .predict_occlusions(x, groups, scratch)
                .expect("input widths and concept columns are checked when the model loads");
            for (sum, &v) in out.iter_mut().zip(rows) {
                *sum += v;
            }
        }
        let members = self.networks.len() as f32;
        for v in out.iter_mut() {
            *v /= members;
        }
    }

    /// The explanation from the scores of one essay's block of rows (as
    /// [`Self::scaled_scores`] gives them, on the target scale): one
    /// effect per concept, the strongest (largest effect on any target) first.
    pub(super) fn explain(&self, values: &[f32], scores: ArrayView2<f64>) -> Vec<ConceptEffect> {
        let typical = |f: Feature| self.column_of[f as usize].map(|j| self.file.scaler.mean[j]);
        let names = &self.file.target_names;
        let mut effects: Vec<ConceptEffect> = self
            .concepts
            .iter()
            .enumerate()
            .map(|(g, group)| ConceptEffect {
                concept: group.concept,
                label: group.concept.label(),
                effects: ByTarget(
                    names
                        .iter()
                        .enumerate()
                        .map(|(t, name)| (name.clone(), scores[[0, t]] - scores[[g + 1, t]]))
                        .collect(),
                ),
                sentence: group
                    .concept
                    .sentence(values, &typical)
                    .expect("a concept in the model has a feature with a training mean"),
                features: group
                    .columns
                    .iter()
                    .map(|&j| FeatureValue {
                        feature: self.features[j],
                        value: values[self.feature_idx[j]],
                        mean: self.x_mean[j],
                    })
                    .collect(),
            })
            .collect();
        let strength =
            |e: &ConceptEffect| e.effects.0.iter().map(|(_, v)| v.abs()).fold(0.0, f64::max);
        // Stable: ties keep the concepts' order.
        effects.sort_by(|a, b| strength(b).total_cmp(&strength(a)));
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{self, PreparedPrompt};
    use crate::grader::ensemble::{predict_scaled, unscale_targets};
    use crate::grader::test_model::{trained, trained_blend};
    use crate::grader::train;
    use crate::nn::Control;
    use crate::training::TrainConfig;
    use crate::training::test_data::tiny_dataset;
    use ndarray::Array2;
    use serde_json::json;

    /// The model's scores for catalogue vector `fv` with the features of
    /// `concept` replaced by their training means, computed from the
    /// networks directly.
    fn scores_with_concept_at_mean(
        model: &GraderModel,
        fv: &[f32],
        concept: Option<Concept>,
    ) -> Vec<f64> {
        let d = model.feature_idx.len();
        let mut x = Array2::<f32>::zeros((1, d));
        for (j, &i) in model.feature_idx.iter().enumerate() {
            let value = if Some(Concept::of(features::Feature::ALL[i])) == concept {
                model.file.scaler.mean[j] as f32
            } else {
                fv[i]
            };
            x[[0, j]] = (value - model.x_mean[j]) * model.x_inv_std[j];
        }
        let mut p = unscale_targets(
            &model.file.target_scaler,
            &predict_scaled(&model.networks, x.view()),
        );
        if let Some(trees) = &model.trees {
            let mut values = fv.to_vec();
            for (j, &i) in model.feature_idx.iter().enumerate() {
                if Some(Concept::of(features::Feature::ALL[i])) == concept {
                    values[i] = model.x_mean[j];
                }
            }
            trees.blend_into(&values, p.view_mut());
        }
        p.row(0).to_vec()
    }

    #[test]
    fn each_concepts_effect_is_the_score_change_with_its_features_at_their_means() {
        for (ds, model) in [trained(), trained_blend()] {
            effects_are_score_changes(&ds, &model);
        }
    }

    fn effects_are_score_changes(ds: &crate::training::Dataset, model: &GraderModel) {
        for row in [7, 25, 48] {
            effects_of_one_essay_are_score_changes(ds, model, row);
        }
    }

    fn effects_of_one_essay_are_score_changes(
        ds: &crate::training::Dataset,
        model: &GraderModel,
        row: usize,
    ) {
        let model = model.clone();
        let prompt = PreparedPrompt::new(&ds.prompts[&ds.essays[row].prompt_id]);
        let essay = &ds.essays[row].text;
        let fv = features::extract(&prompt, essay).into_values();
        let grade = model.grade(&prompt, essay);
        let base = scores_with_concept_at_mean(&model, &fv, None);
        assert_eq!(grade.explanation.len(), model.concepts.len());
        for effect in &grade.explanation {
            let occluded = scores_with_concept_at_mean(&model, &fv, Some(effect.concept));
            for (t, name) in model.target_names().iter().enumerate() {
                let by_hand = base[t] - occluded[t];
                let got = *effect.effects.get(name).unwrap();
                assert!(
                    (got - by_hand).abs() < 1e-5,
                    "{} on {name}: {got} vs {by_hand}",
                    effect.concept.id()
                );
            }
        }
    }

    #[test]
    fn the_explanation_lists_each_concept_once_strongest_first_with_its_features() {
        let (ds, model) = trained();
        let prompt = PreparedPrompt::new(&ds.prompts["bees"]);
        let grade = model.grade(&prompt, &ds.essays[30].text);
        let ex = &grade.explanation;
        let strength =
            |e: &ConceptEffect| e.effects.0.iter().map(|(_, v)| v.abs()).fold(0.0, f64::max);
        assert!(ex.windows(2).all(|w| strength(&w[0]) >= strength(&w[1])));
        let mut listed: Vec<Feature> = ex
            .iter()
            .flat_map(|e| e.features.iter().map(|f| f.feature))
            .collect();
        listed.sort_by_key(|f| *f as usize);
        let mut used: Vec<Feature> = model.features.clone();
        used.sort_by_key(|f| *f as usize);
        assert_eq!(
            listed, used,
            "every model feature under exactly one concept"
        );
        for e in ex {
            assert_eq!(e.label, e.concept.label());
            assert!(
                e.features
                    .iter()
                    .all(|f| Concept::of(f.feature) == e.concept)
            );
            assert!(!e.sentence.is_empty());
        }
    }

    #[test]
    fn occlusion_effects_of_a_linear_model_add_up_to_the_score_minus_the_all_means_score() {
        // With no hidden layer the network is linear, so the concepts'
        // effects sum to score − score(every feature at its mean).
        let ds = tiny_dataset(20);
        let config = TrainConfig::from_json_value(json!({
            "network": {"layers": []}, "epochs": 5, "ensemble": 1, "early_stopping": null
        }))
        .unwrap();
        let model = train(&ds, &config, &mut |_| Control::Continue)
            .unwrap()
            .model;
        let prompt = PreparedPrompt::new(&ds.prompts["bees"]);
        let fv = features::extract(&prompt, &ds.essays[25].text).into_values();
        let grade = model.grade_vectors(&[(true, fv.clone())], Explain::Yes);
        let mut mean_fv = fv.clone();
        for (j, &i) in model.feature_idx.iter().enumerate() {
            mean_fv[i] = model.x_mean[j];
        }
        let at_mean = model.grade_vectors(&[(true, mean_fv)], Explain::No);
        let score = grade[0].scores.0[0].1;
        let base = at_mean[0].scores.0[0].1;
        let target = &model.target_names()[0];
        let total: f64 = grade[0]
            .explanation
            .iter()
            .map(|e| e.effects.get(target).unwrap())
            .sum();
        assert!(
            (total - (score - base)).abs() < 1e-3,
            "{total} vs {}",
            score - base
        );
    }
}
