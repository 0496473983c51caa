//! Grading with a loaded [`GraderModel`]: the scores of an essay (or a
//! batch), each score's percentile among the training essays, the warnings a
//! teacher should see, and, when asked, the explanation (`explain.rs`).
//! The networks run one essay at a time through
//! `nn::Network::predict_occlusions`, with or without the explanation's
//! occluded rows, so a score does not depend on whether it was explained.

use ndarray::Array2;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::fmt;

use crate::features::{self, PreparedPrompt};
use crate::training::{Dataset, FeaturedDataset};

use super::artifact::{GraderModel, ModelError, catalogue_index};
use super::ensemble::{predict_scaled, unscale_targets};
use super::explain::ConceptEffect;
use crate::nn::OcclusionScratch;

/// Values keyed by target name, serialised as a JSON object in target order.
#[derive(Debug, Clone, PartialEq)]
pub struct ByTarget<T>(pub Vec<(String, T)>);

impl<T> ByTarget<T> {
    /// The value of the named target.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

impl<T: Serialize> Serialize for ByTarget<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ByTarget<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = ByTarget<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object keyed by target name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<ByTarget<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = a.next_entry::<String, T>()? {
                    out.push(entry);
                }
                Ok(ByTarget(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Something a teacher should know about a grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Warning {
    /// Stable code: "copied", "very_short", "off_topic", "no_source_text".
    #[schema(example = "copied")]
    pub code: String,
    /// The warning in plain words, with the figure behind it.
    pub message: String,
}

/// The grade of one essay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grade {
    /// Predicted score per target.
    pub scores: ByTarget<f64>,
    /// Percentile of each score among the training essays' scores (0–100).
    pub percentiles: ByTarget<f64>,
    /// Each concept's effect on the scores, strongest first (empty when
    /// not asked for).
    pub explanation: Vec<ConceptEffect>,
    /// Warnings drawn from the feature values.
    pub warnings: Vec<Warning>,
}

/// Catalogue positions of the features warnings look at.
#[derive(Debug, Clone)]
pub(super) struct WarningFeatures {
    word_count: usize,
    copied_8: usize,
    content_precision: usize,
}

impl WarningFeatures {
    /// Finds the features in this build's catalogue.
    pub(super) fn locate() -> Result<WarningFeatures, ModelError> {
        Ok(WarningFeatures {
            word_count: catalogue_index("e_word_count")?,
            copied_8: catalogue_index("r_copied_share_8")?,
            content_precision: catalogue_index("r_content_precision")?,
        })
    }
}

/// How far from the training mean, in standard deviations, a network input
/// may lie; inputs beyond are clamped. No real essay's feature lies ten
/// thousand deviations out, and the bound is what lets loading prove that a
/// model's networks cannot overflow (see `artifact.rs`).
pub(super) const MAX_STANDARDISED_INPUT: f32 = 1e4;

/// Whether a grade includes its explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Explain {
    /// Scores, percentiles, warnings and the explanation.
    Yes,
    /// Scores, percentiles and warnings; `explanation` is left empty.
    No,
}

thread_local! {
    /// The networks' buffers, kept per thread so that grading one essay
    /// does not allocate them again.
    static SCRATCH: RefCell<OcclusionScratch<f32>> = RefCell::new(OcclusionScratch::default());
}

/// Where `x` falls in the quantile table, as a percentile 0..100.
pub(super) fn percentile(q: &[f64], x: f64) -> f64 {
    let last = q.len() - 1;
    if x <= q[0] {
        return 0.0;
    }
    if x >= q[last] {
        return 100.0;
    }
    // First quantile above x; x lies in [q[k-1], q[k]).
    let k = q.partition_point(|v| *v <= x);
    let (lo, hi) = (q[k - 1], q[k]);
    let frac = if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
    ((k - 1) as f64 + frac) * 100.0 / last as f64
}

impl GraderModel {
    /// Scores on a labelled dataset (what `evaluate` reports).
    pub fn predict_dataset(&self, dataset: &Dataset, threads: usize) -> Array2<f64> {
        let featured = FeaturedDataset::new(dataset, threads);
        let rows: Vec<usize> = (0..dataset.essays.len()).collect();
        let x = self.standardise(featured.select(&rows, &self.feature_idx));
        unscale_targets(
            &self.file.target_scaler,
            &predict_scaled(&self.networks, x.view()),
        )
    }

    fn standardise(&self, mut x: Array2<f32>) -> Array2<f32> {
        for mut row in x.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = ((*v - self.x_mean[j]) * self.x_inv_std[j])
                    .clamp(-MAX_STANDARDISED_INPUT, MAX_STANDARDISED_INPUT);
            }
        }
        x
    }

    /// Grades one essay against a prepared prompt, with its explanation.
    pub fn grade(&self, prompt: &PreparedPrompt, essay: &str) -> Grade {
        self.grade_with(prompt, essay, Explain::Yes)
    }

    /// [`Self::grade`], choosing whether to explain. An explanation runs the
    /// networks on one extra row per concept (occlusion).
    pub fn grade_with(&self, prompt: &PreparedPrompt, essay: &str, explain: Explain) -> Grade {
        let fv = features::extract_selected(prompt, essay, self.selection);
        self.grade_vectors(&[(prompt.has_text(), fv.into_values())], explain)
            .pop()
            .expect("one essay in, one grade out")
    }

    /// Grades many essays, each against its prompt, with explanations.
    /// Results are in input order.
    pub fn grade_batch(&self, items: &[(&PreparedPrompt, &str)]) -> Vec<Grade> {
        self.grade_batch_with(items, Explain::Yes)
    }

    /// [`Self::grade_batch`], choosing whether to explain; one extractor
    /// serves the whole batch.
    pub fn grade_batch_with(
        &self,
        items: &[(&PreparedPrompt, &str)],
        explain: Explain,
    ) -> Vec<Grade> {
        let mut extractor = features::Extractor::with_selection(self.selection);
        let mut out = Vec::with_capacity(items.len());
        // The networks run one essay at a time (their rows fit in registers
        // and the first level cache); blocks only bound the feature vectors
        // held at once.
        for chunk in items.chunks(256) {
            let vectors: Vec<(bool, Vec<f32>)> = chunk
                .iter()
                .map(|(p, e)| (p.has_text(), extractor.extract(p, e).into_values()))
                .collect();
            out.extend(self.grade_vectors(&vectors, explain));
        }
        out
    }

    /// Grades catalogue feature vectors. Each essay takes one input row, plus,
    /// when explaining, one per concept with that concept's features at their
    /// training means (occlusion).
    pub(super) fn grade_vectors(
        &self,
        vectors: &[(bool, Vec<f32>)],
        explain: Explain,
    ) -> Vec<Grade> {
        let d = self.feature_idx.len();
        let block = self.rows_per_essay(explain);
        let mut x = Array2::<f32>::zeros((vectors.len(), d));
        for (mut row, (_, values)) in x.rows_mut().into_iter().zip(vectors) {
            for (j, &i) in self.feature_idx.iter().enumerate() {
                row[j] = ((values[i] - self.x_mean[j]) * self.x_inv_std[j])
                    .clamp(-MAX_STANDARDISED_INPUT, MAX_STANDARDISED_INPUT);
            }
        }
        let mut scaled = Array2::zeros((vectors.len() * block, self.file.target_names.len()));
        SCRATCH.with(|cell| {
            let mut fresh = OcclusionScratch::default();
            // Only a re-entrant call would find it borrowed, and none is.
            let mut kept = cell.try_borrow_mut();
            let scratch = kept.as_deref_mut().unwrap_or(&mut fresh);
            for (b, row) in x.rows().into_iter().enumerate() {
                self.scaled_scores(
                    row,
                    explain,
                    scratch,
                    scaled.slice_mut(ndarray::s![b * block..(b + 1) * block, ..]),
                );
            }
        });
        let p = unscale_targets(&self.file.target_scaler, &scaled);
        vectors
            .iter()
            .enumerate()
            .map(|(b, (has_text, values))| {
                let base = b * block;
                let names = &self.file.target_names;
                let mut scores = Vec::with_capacity(names.len());
                let mut percentiles = Vec::with_capacity(names.len());
                for (t, name) in names.iter().enumerate() {
                    let score = p[[base, t]];
                    scores.push((name.clone(), score));
                    percentiles.push((
                        name.clone(),
                        percentile(&self.file.target_quantiles[t], score),
                    ));
                }
                let explanation = match explain {
                    Explain::Yes => {
                        self.explain(values, p.slice(ndarray::s![base..base + block, ..]))
                    }
                    Explain::No => Vec::new(),
                };
                Grade {
                    scores: ByTarget(scores),
                    percentiles: ByTarget(percentiles),
                    explanation,
                    warnings: self.warnings(*has_text, values),
                }
            })
            .collect()
    }

    /// Warnings from the essay's features. Thresholds (and how many of the
    /// 6,062 CommonLit training summaries trip them): under 20 words is very
    /// short (none; the shortest has 25); half the words or more inside copied
    /// runs of ≥ 8 words is mostly copied (17%: students copy); under 20% of
    /// the essay's distinct content words found in the source, with at least
    /// 10 words, is little overlap (0.6%).
    fn warnings(&self, has_text: bool, values: &[f32]) -> Vec<Warning> {
        let w = &self.warn;
        let mut out = Vec::new();
        let words = values[w.word_count];
        if words < 20.0 {
            out.push(Warning {
                code: "very_short".into(),
                message: format!("very short: {words} words"),
            });
        }
        if !has_text {
            out.push(Warning {
                code: "no_source_text".into(),
                message: "the prompt has no source text, so overlap and copying were not measured"
                    .into(),
            });
            return out;
        }
        let c8 = values[w.copied_8];
        if c8 >= 0.5 {
            out.push(Warning {
                code: "copied".into(),
                message: format!(
                    "mostly copied from the source: {:.0}% of the words are in runs of 8 or more words taken from it",
                    c8 * 100.0
                ),
            });
        }
        let precision = values[w.content_precision];
        if words >= 10.0 && precision < 0.2 {
            out.push(Warning {
                code: "off_topic".into(),
                message: format!(
                    "little overlap with the source: off topic? ({:.0}% of its content words occur in the source)",
                    precision * 100.0
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Prompt;
    use crate::grader::test_model::trained;
    use crate::grader::train::quantiles;

    #[test]
    fn quantiles_and_percentiles_agree_with_hand_computed_values() {
        let values: Vec<f64> = (0..=100).map(f64::from).collect();
        let q = quantiles(&values);
        assert_eq!(q[0], 0.0);
        assert_eq!(q[50], 50.0);
        assert_eq!(q[100], 100.0);
        assert_eq!(percentile(&q, 25.5), 25.5);
        assert_eq!(percentile(&q, -3.0), 0.0);
        assert_eq!(percentile(&q, 300.0), 100.0);
        // Two values: the 50th percentile is their midpoint.
        let q2 = quantiles(&[1.0, 3.0]);
        assert_eq!(q2[50], 2.0);
        assert_eq!(percentile(&q2, 2.0), 50.0);
    }

    #[test]
    fn warnings_flag_short_copied_and_off_topic_essays() {
        let (ds, model) = trained();
        let rivers = PreparedPrompt::new(&ds.prompts["rivers"]);
        let codes = |g: &Grade| {
            g.warnings
                .iter()
                .map(|w| w.code.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            codes(&model.grade(&rivers, "Rivers carry silt.")),
            vec!["very_short"]
        );
        let copied = ds.prompts["rivers"].text.clone();
        assert!(codes(&model.grade(&rivers, &copied)).contains(&"copied".to_string()));
        let off = "My favourite football team won every single match last season, \
                   scoring goals with speed, skill and excellent passing through midfield.";
        assert!(codes(&model.grade(&rivers, off)).contains(&"off_topic".to_string()));
        let no_text = PreparedPrompt::new(&Prompt {
            title: "Rivers".into(),
            ..Prompt::default()
        });
        assert!(codes(&model.grade(&no_text, off)).contains(&"no_source_text".to_string()));
    }
}
