//! The grader model's artifact: the JSON file `train` writes and the
//! service loads, and the checked, loaded [`GraderModel`]. The artifact
//! holds its format version, the feature names it uses, the input and target
//! scalers, the target names, the train config, every ensemble member's
//! network, the training metrics, and what grading needs besides: each
//! target's training score distribution (101 quantiles, for percentiles).
//! The training mean of each feature, shown in explanations, is the input
//! scaler's mean.
//!
//! Loading checks everything once (version, feature names, every shape), and
//! precomputes what the hot path needs, so grading (`grade.rs`) only extracts
//! features and runs the networks. Training the model is `train.rs`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::features::{self, Feature};
use crate::nn::{Network, NetworkArtifact, NnError, Standardizer};
use crate::training::ScoreGrid;

use super::explain::{ConceptColumns, concept_columns};
use super::grade::{MAX_STANDARDISED_INPUT, WarningFeatures};
use super::train::TrainingSummary;

/// The model format this build writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// The largest value a member network may be able to compute (its
/// magnitude bound) for inputs within ±MAX_STANDARDISED_INPUT: far below
/// f32's 3.4e38, so rounding in the bound cannot hide an overflow.
const MAX_NETWORK_MAGNITUDE: f64 = 1e30;

/// Quantiles stored per target (0th to 100th percentile).
pub(super) const QUANTILES: usize = 101;

/// The artifact as stored (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModelFile {
    pub(super) format_version: u32,
    pub(super) feature_names: Vec<String>,
    pub(super) scaler: Standardizer,
    pub(super) target_names: Vec<String>,
    pub(super) target_scaler: Standardizer,
    pub(super) score_grid: Option<ScoreGrid>,
    pub(super) config: Value,
    pub(super) members: Vec<NetworkArtifact>,
    pub(super) training: TrainingSummary,
    pub(super) target_quantiles: Vec<Vec<f64>>,
}

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not JSON, or JSON of another shape.
    #[error("the model file is not readable: {0}")]
    Unreadable(String),
    /// Written by an incompatible version.
    #[error("the model file has format version {found}; this build reads version {supported}")]
    Version {
        /// Version in the file.
        found: u64,
        /// Version this build reads.
        supported: u32,
    },
    /// It uses a feature this build does not compute.
    #[error("the model uses feature {name:?}, which is not in this build's catalogue")]
    UnknownFeature {
        /// The name.
        name: String,
    },
    /// A parameter has the wrong size.
    #[error("the model's {parameter} has {got} values; expected {expected}")]
    Shape {
        /// Which parameter ("scaler.mean", "members\[1\].n_inputs", …).
        parameter: String,
        /// The size required.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// A member network is broken (the message names the parameter).
    #[error("the model's members[{index}]: {source}")]
    Member {
        /// 0-based member.
        index: usize,
        /// The NN core's error.
        source: NnError,
    },
    /// Anything else inconsistent, named.
    #[error("the model's {parameter} is invalid: {message}")]
    Invalid {
        /// The field.
        parameter: String,
        /// What is wrong.
        message: String,
    },
}

/// A loaded, checked model, ready to grade (`Send + Sync`; share it by `Arc`).
#[derive(Debug, Clone)]
pub struct GraderModel {
    pub(super) file: ModelFile,
    pub(super) networks: Vec<Network<f32>>,
    /// Catalogue positions of the model's inputs.
    pub(super) feature_idx: Vec<usize>,
    /// The features grading must compute: the model's inputs' families.
    pub(super) selection: features::Selection,
    /// The model's inputs as catalogue features.
    pub(super) features: Vec<Feature>,
    /// For each catalogue feature, its position among the model's inputs.
    pub(super) column_of: Vec<Option<usize>>,
    /// The concepts the model has features of, with their inputs: the
    /// groups an explanation occludes.
    pub(super) concepts: Vec<ConceptColumns>,
    pub(super) x_mean: Vec<f32>,
    pub(super) x_inv_std: Vec<f32>,
    pub(super) warn: WarningFeatures,
}

fn shape(parameter: impl Into<String>, expected: usize, got: usize) -> Result<(), ModelError> {
    if expected == got {
        Ok(())
    } else {
        Err(ModelError::Shape {
            parameter: parameter.into(),
            expected,
            got,
        })
    }
}

pub(super) fn catalogue_index(name: &str) -> Result<usize, ModelError> {
    features::feature_index(name).ok_or_else(|| ModelError::UnknownFeature {
        name: name.to_string(),
    })
}

impl GraderModel {
    /// Reads and checks a model artifact.
    pub fn from_json(bytes: &[u8]) -> Result<GraderModel, ModelError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ModelError::Unreadable(format!("not JSON: {e}")))?;
        let version = value
            .get("format_version")
            .ok_or_else(|| ModelError::Unreadable("no \"format_version\" field".into()))?;
        let found = version.as_u64().ok_or_else(|| {
            ModelError::Unreadable(format!(
                "\"format_version\" is {version}, not a whole number"
            ))
        })?;
        if found != u64::from(MODEL_FORMAT_VERSION) {
            return Err(ModelError::Version {
                found,
                supported: MODEL_FORMAT_VERSION,
            });
        }
        let file: ModelFile =
            serde_json::from_value(value).map_err(|e| ModelError::Unreadable(e.to_string()))?;
        GraderModel::from_file(file)
    }

    /// The artifact as JSON bytes (what `train --out` writes).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.file).expect("a model always serialises")
    }

    pub(super) fn from_file(file: ModelFile) -> Result<GraderModel, ModelError> {
        let d = file.feature_names.len();
        let t = file.target_names.len();
        if d == 0 {
            return Err(ModelError::Invalid {
                parameter: "feature_names".into(),
                message: "the model uses no feature".into(),
            });
        }
        if t == 0 {
            return Err(ModelError::Invalid {
                parameter: "target_names".into(),
                message: "the model has no target".into(),
            });
        }
        let mut feature_idx = Vec::with_capacity(d);
        for name in &file.feature_names {
            let i = catalogue_index(name)?;
            if feature_idx.contains(&i) {
                return Err(ModelError::Invalid {
                    parameter: "feature_names".into(),
                    message: format!("{name:?} is listed twice"),
                });
            }
            feature_idx.push(i);
        }
        for (param, scaler, width) in [
            ("scaler", &file.scaler, d),
            ("target_scaler", &file.target_scaler, t),
        ] {
            shape(format!("{param}.mean"), width, scaler.mean.len())?;
            shape(format!("{param}.std"), width, scaler.std.len())?;
            scaler.validate().map_err(|message| ModelError::Invalid {
                parameter: param.into(),
                message,
            })?;
        }
        if file.members.is_empty() {
            return Err(ModelError::Invalid {
                parameter: "members".into(),
                message: "the model has no network".into(),
            });
        }
        let mut networks = Vec::with_capacity(file.members.len());
        for (index, artifact) in file.members.iter().enumerate() {
            let net = Network::<f32>::from_artifact(artifact)
                .map_err(|source| ModelError::Member { index, source })?;
            shape(format!("members[{index}].n_inputs"), d, net.n_inputs())?;
            shape(format!("members[{index}] outputs"), t, net.n_outputs())?;
            networks.push(net);
        }
        // Scores must be finite for every essay: with inputs clamped to
        // ±MAX_STANDARDISED_INPUT, each network's values stay under its
        // magnitude bound, which must leave f32 (3.4e38) far behind, and the
        // unscaled scores must be finite too. A trained network is many
        // orders of magnitude below this; only a damaged file is refused.
        for (index, net) in networks.iter().enumerate() {
            let bound = net.magnitude_bound(f64::from(MAX_STANDARDISED_INPUT));
            let scores_finite = file
                .target_scaler
                .std
                .iter()
                .zip(&file.target_scaler.mean)
                .all(|(s, m)| (bound * s + m.abs()).is_finite());
            if !(bound <= MAX_NETWORK_MAGNITUDE && scores_finite) {
                return Err(ModelError::Invalid {
                    parameter: format!("members[{index}]"),
                    message: format!(
                        "its weights could produce values up to {bound:e} (at most \
                         {MAX_NETWORK_MAGNITUDE:e} are allowed) and so overflow"
                    ),
                });
            }
        }
        shape("target_quantiles", t, file.target_quantiles.len())?;
        for (j, q) in file.target_quantiles.iter().enumerate() {
            shape(format!("target_quantiles[{j}]"), QUANTILES, q.len())?;
            if q.iter().any(|v| !v.is_finite()) || q.windows(2).any(|w| w[0] > w[1]) {
                return Err(ModelError::Invalid {
                    parameter: format!("target_quantiles[{j}]"),
                    message: "quantiles must be finite and ascending".into(),
                });
            }
        }
        let warn = WarningFeatures::locate()?;
        let features: Vec<Feature> = feature_idx.iter().map(|&i| Feature::ALL[i]).collect();
        let mut column_of = vec![None; features::feature_count()];
        for (j, &i) in feature_idx.iter().enumerate() {
            column_of[i] = Some(j);
        }
        let x_mean: Vec<f32> = file.scaler.mean.iter().map(|v| *v as f32).collect();
        let x_inv_std: Vec<f32> = file.scaler.std.iter().map(|v| (1.0 / v) as f32).collect();
        if let Some(j) = (0..d).find(|&j| !(x_mean[j].is_finite() && x_inv_std[j].is_finite())) {
            return Err(ModelError::Invalid {
                parameter: format!("scaler[{j}]"),
                message: format!(
                    "mean {} and std {} do not fit in f32",
                    file.scaler.mean[j], file.scaler.std[j]
                ),
            });
        }
        Ok(GraderModel {
            concepts: concept_columns(&features),
            features,
            column_of,
            x_mean,
            x_inv_std,
            networks,
            selection: features::Selection::for_features(&feature_idx),
            feature_idx,
            warn,
            file,
        })
    }

    /// Target names, in score order.
    pub fn target_names(&self) -> &[String] {
        &self.file.target_names
    }

    /// The features the model uses, in input order.
    pub fn feature_names(&self) -> &[String] {
        &self.file.feature_names
    }

    /// The train config the model was trained with.
    pub fn config(&self) -> &Value {
        &self.file.config
    }

    /// How the model was trained, with its training metrics.
    pub fn training(&self) -> &TrainingSummary {
        &self.file.training
    }

    /// The score grid of ordinal targets, if any.
    pub fn score_grid(&self) -> Option<&ScoreGrid> {
        self.file.score_grid.as_ref()
    }

    /// Each target's training scores as 101 quantiles (0th to 100th
    /// percentile), in target order: the scale grades are read on.
    pub fn target_quantiles(&self) -> &[Vec<f64>] {
        &self.file.target_quantiles
    }

    /// Number of ensemble members.
    pub fn members(&self) -> usize {
        self.networks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::PreparedPrompt;
    use crate::grader::Explain;
    use crate::grader::test_model::trained;
    use serde_json::json;

    fn corrupt(model: &GraderModel, edit: impl FnOnce(&mut Value)) -> String {
        let mut v: Value = serde_json::from_slice(&model.to_json()).unwrap();
        edit(&mut v);
        GraderModel::from_json(&serde_json::to_vec(&v).unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_trained_model_saves_loads_and_grades_identically() {
        let (ds, model) = trained();
        let loaded = GraderModel::from_json(&model.to_json()).unwrap();
        assert_eq!(loaded.to_json(), model.to_json());
        assert_eq!(loaded.members(), 2);
        assert_eq!(loaded.target_names(), ["content", "wording"]);
        assert_eq!(loaded.training().rows, 60);
        let prompt = PreparedPrompt::new(&ds.prompts["rivers"]);
        let essay = &ds.essays[3].text;
        let a = model.grade(&prompt, essay);
        let b = loaded.grade(&prompt, essay);
        assert_eq!(a, b);
        for (_, s) in &a.scores.0 {
            assert!(s.is_finite() && (-4.0..4.0).contains(s), "{s}");
        }
        for (_, p) in &a.percentiles.0 {
            assert!((0.0..=100.0).contains(p));
        }
        assert!(!a.explanation.is_empty());
        assert!(
            a.explanation
                .iter()
                .all(|e| e.effects.get("content").is_some_and(|v| v.is_finite()))
        );
        // The batch path gives the same grades as one at a time.
        let batch = loaded.grade_batch(&[
            (&prompt, essay.as_str()),
            (&prompt, ds.essays[5].text.as_str()),
        ]);
        assert_eq!(batch[0], a);
        assert_eq!(batch[1], loaded.grade(&prompt, &ds.essays[5].text));
        // Without the explanation the scores, percentiles and warnings are the same.
        let plain = loaded.grade_with(&prompt, essay, Explain::No);
        assert!(plain.explanation.is_empty());
        assert_eq!(
            (&plain.scores, &plain.percentiles, &plain.warnings),
            (&a.scores, &a.percentiles, &a.warnings)
        );
        let many: Vec<(&PreparedPrompt, &str)> = ds
            .essays
            .iter()
            .take(40)
            .map(|e| (&prompt, e.text.as_str()))
            .collect();
        let plain_batch = loaded.grade_batch_with(&many, Explain::No);
        let full_batch = loaded.grade_batch(&many);
        assert_eq!(plain_batch.len(), 40);
        for (p, f) in plain_batch.iter().zip(&full_batch) {
            assert_eq!(p.scores, f.scores);
        }
    }

    /// Found by fuzzing (tests/fuzz, artifact): finite but huge weights
    /// overflowed f32 while grading, giving infinite scores, NaN effects, and
    /// a panic in the percentile lookup. Such a model is now refused at load.
    #[test]
    fn a_model_whose_networks_could_overflow_is_refused_naming_the_member() {
        let (_, model) = trained();
        let msg = corrupt(&model, |v| {
            v["members"][1]["params"][0]["values"][0] = json!(3.0e38)
        });
        assert!(
            msg.starts_with(
                "the model's members[1] is invalid: its weights could produce values up to"
            ),
            "{msg}"
        );
        let msg = corrupt(&model, |v| v["target_scaler"]["std"][0] = json!(1.5e308));
        assert!(
            msg.starts_with("the model's members[0] is invalid"),
            "{msg}"
        );
        let msg = corrupt(&model, |v| v["scaler"]["std"][2] = json!(1e-300));
        assert!(
            msg.starts_with("the model's scaler[2] is invalid: mean"),
            "{msg}"
        );
    }

    #[test]
    fn a_feature_far_outside_the_training_range_still_grades_finitely() {
        let (ds, model) = trained();
        let prompt = PreparedPrompt::new(&ds.prompts["rivers"]);
        let long = "word ".repeat(20_000);
        let grade = model.grade(&prompt, &long);
        for (_, s) in &grade.scores.0 {
            assert!(s.is_finite(), "{s}");
        }
        assert!(
            grade
                .explanation
                .iter()
                .all(|e| e.effects.0.iter().all(|(_, v)| v.is_finite()))
        );
    }

    #[test]
    fn broken_model_files_are_refused_with_named_errors() {
        let (_, model) = trained();
        assert!(
            GraderModel::from_json(b"{not json")
                .unwrap_err()
                .to_string()
                .starts_with("the model file is not readable: not JSON")
        );
        assert_eq!(
            corrupt(&model, |v| v["format_version"] = json!(99)),
            "the model file has format version 99; this build reads version 1"
        );
        assert_eq!(
            corrupt(&model, |v| v["feature_names"][0] =
                json!("e_no_such_feature")),
            "the model uses feature \"e_no_such_feature\", which is not in this build's catalogue"
        );
        let msg = corrupt(&model, |v| {
            v["scaler"]["mean"].as_array_mut().unwrap().pop();
        });
        assert!(msg.starts_with("the model's scaler.mean has"), "{msg}");
        let msg = corrupt(&model, |v| {
            v["members"][1]["params"][0]["values"]
                .as_array_mut()
                .unwrap()
                .pop();
        });
        assert!(
            msg.starts_with("the model's members[1]:") && msg.contains("layers.0.weight"),
            "{msg}"
        );
        let msg = corrupt(&model, |v| {
            v["target_quantiles"][1].as_array_mut().unwrap().truncate(3);
        });
        assert_eq!(
            msg,
            "the model's target_quantiles[1] has 3 values; expected 101"
        );
        let msg = corrupt(&model, |v| {
            v.as_object_mut().unwrap().remove("members");
        });
        assert!(msg.contains("missing field `members`"), "{msg}");
    }
}
