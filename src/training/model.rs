//! The grader model: the artifact `train` writes and the service loads, and
//! grading with it. The artifact holds its format version, the feature names
//! it uses, the input and target scalers, the target names, the train config,
//! every ensemble member's network, the training metrics, and what grading
//! needs besides: each target's training score distribution (101 quantiles,
//! for percentiles). The training mean of each feature, shown in
//! explanations, is the input scaler's mean.
//!
//! Loading checks everything once (version, feature names, every shape), and
//! precomputes what the hot path needs, so [`GraderModel::grade`] only
//! extracts features and runs the networks.
//!
//! Explanations use occlusion: for each feature the model uses, the essay's
//! value is replaced by the training mean (0 after standardisation) and the
//! score recomputed; the change is that feature's effect. The features with
//! the largest positive effects "raised" the score, the most negative
//! "lowered" it. Correlated features (word count and its logarithm) share an
//! effect between them, so each can look smaller than the pair is.

use std::fmt;
use std::time::Instant;

use ndarray::Array2;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::features::{self, PreparedPrompt};
use crate::nn::{Control, Network, NetworkArtifact, NnError, Standardizer};

use super::config::ValidTrainConfig;
use super::cv::check_trainable;
use super::dataset::{Dataset, ScoreGrid};
use super::ensemble::{ScaledData, predict_scaled, train_members, unscale_targets};
use super::error::TrainingError;
use super::featurize::FeaturedDataset;
use super::metrics::Metrics;
use super::progress::Progress;

/// The model format this build writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// Quantiles stored per target (0th to 100th percentile).
const QUANTILES: usize = 101;

/// Features named in each explanation direction.
const EXPLAIN_TOP: usize = 3;

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

/// Something a teacher should know about a grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// Stable code: "copied", "very_short", "off_topic", "no_source_text".
    pub code: String,
    /// The warning in plain words, with the figure behind it.
    pub message: String,
}

/// The grade of one essay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// Predicted score per target.
    pub scores: ByTarget<f64>,
    /// Percentile of each score among the training essays' scores (0–100).
    pub percentiles: ByTarget<f64>,
    /// The features that raised and lowered each score most.
    pub explanation: ByTarget<TargetExplanation>,
    /// Warnings drawn from the feature values.
    pub warnings: Vec<Warning>,
}

/// One ensemble member's training, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberSummary {
    /// Epochs that ran.
    pub epochs_run: usize,
    /// Epoch whose weights were kept (early stopping), if any.
    pub best_epoch: Option<usize>,
    /// Its validation loss.
    pub best_val_loss: Option<f64>,
    /// Training loss of the last epoch.
    pub final_train_loss: f64,
}

/// How the model was trained: the "training metrics" of the artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Essays trained on.
    pub rows: usize,
    /// Prompt ids trained on.
    pub prompts: Vec<String>,
    /// Metrics on the training rows themselves (in-sample: optimistic; the
    /// honest figure is leave-one-prompt-out `cv`).
    pub metrics: Metrics,
    /// Each ensemble member.
    pub members: Vec<MemberSummary>,
    /// Wall time of training, feature extraction included.
    pub seconds: f64,
}

/// The artifact as stored (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    format_version: u32,
    feature_names: Vec<String>,
    scaler: Standardizer,
    target_names: Vec<String>,
    target_scaler: Standardizer,
    score_grid: Option<ScoreGrid>,
    config: Value,
    members: Vec<NetworkArtifact>,
    training: TrainingSummary,
    target_quantiles: Vec<Vec<f64>>,
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
        /// Which parameter ("scaler.mean", "members[1].n_inputs", …).
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

/// Catalogue positions of the features warnings look at.
#[derive(Debug, Clone)]
struct WarningFeatures {
    word_count: usize,
    copied_8: usize,
    content_precision: usize,
}

/// Whether a grade includes its explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Explain {
    /// Scores, percentiles, warnings and the explanation.
    Yes,
    /// Scores, percentiles and warnings; `explanation` is left empty.
    No,
}

/// A loaded, checked model, ready to grade (`Send + Sync`; share it by `Arc`).
#[derive(Debug, Clone)]
pub struct GraderModel {
    file: ModelFile,
    networks: Vec<Network<f32>>,
    /// Catalogue positions of the model's inputs.
    feature_idx: Vec<usize>,
    x_mean: Vec<f32>,
    x_inv_std: Vec<f32>,
    warn: WarningFeatures,
}

/// What [`train`] returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The trained model.
    pub model: GraderModel,
    /// How training went (also inside the model).
    pub report: TrainingSummary,
}

/// 101 quantiles (0th..100th percentile) of `values`, linearly interpolated.
fn quantiles(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let last = (v.len() - 1) as f64;
    (0..QUANTILES)
        .map(|k| {
            let pos = k as f64 / (QUANTILES - 1) as f64 * last;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        })
        .collect()
}

/// Where `x` falls in the quantile table, as a percentile 0..100.
fn percentile(q: &[f64], x: f64) -> f64 {
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

fn member_summary(report: &crate::nn::FitReport) -> MemberSummary {
    MemberSummary {
        epochs_run: report.history.len(),
        best_epoch: report.best_epoch,
        best_val_loss: report.best_val_loss,
        final_train_loss: report.history.last().map_or(f64::NAN, |e| e.train_loss),
    }
}

/// Trains the config on every row of `dataset` and returns the model.
pub fn train(
    dataset: &Dataset,
    config: &ValidTrainConfig,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TrainOutcome, TrainingError> {
    let start = Instant::now();
    check_trainable(dataset, config)?;
    let featured = FeaturedDataset::new(dataset, config.threads());
    let rows: Vec<usize> = (0..dataset.essays.len()).collect();
    let idx = config.feature_indices();
    let x = featured.select(&rows, idx);
    let y = featured.targets(&rows);
    let data = ScaledData::new("all", x, y.clone())?;
    let members = train_members(std::slice::from_ref(&data), config, on_progress)?
        .pop()
        .expect("one fold was trained");
    let summaries: Vec<MemberSummary> = members.iter().map(|m| member_summary(&m.report)).collect();
    let networks: Vec<Network<f32>> = members.into_iter().map(|m| m.network).collect();
    let fitted = unscale_targets(&data.y_scaler, &predict_scaled(&networks, data.x.view()));
    let t = dataset.target_names.len();
    let ycols: Vec<Vec<f64>> = (0..t).map(|j| y.column(j).to_vec()).collect();
    let pcols: Vec<Vec<f64>> = (0..t).map(|j| fitted.column(j).to_vec()).collect();
    let metrics = Metrics::regression(
        &dataset.target_names,
        &ycols,
        &pcols,
        dataset.score_grid.as_ref(),
    );
    let training = TrainingSummary {
        rows: rows.len(),
        prompts: dataset.prompt_ids(),
        metrics,
        members: summaries,
        seconds: start.elapsed().as_secs_f64(),
    };
    let file = ModelFile {
        format_version: MODEL_FORMAT_VERSION,
        feature_names: config.feature_names(),
        scaler: data.x_scaler.clone(),
        target_names: dataset.target_names.clone(),
        target_scaler: data.y_scaler.clone(),
        score_grid: dataset.score_grid,
        config: config.to_json_value(),
        members: networks.iter().map(|n| n.to_artifact(None)).collect(),
        training: training.clone(),
        target_quantiles: ycols.iter().map(|c| quantiles(c)).collect(),
    };
    let model = GraderModel::from_file(file).map_err(|e| TrainingError::Model {
        kind: super::regressor::ModelKind::Mlp,
        fold: "all".into(),
        message: format!("the trained model does not load back: {e}"),
    })?;
    Ok(TrainOutcome {
        model,
        report: training,
    })
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

fn catalogue_index(name: &str) -> Result<usize, ModelError> {
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

    fn from_file(file: ModelFile) -> Result<GraderModel, ModelError> {
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
        let warn = WarningFeatures {
            word_count: catalogue_index("e_word_count")?,
            copied_8: catalogue_index("r_copied_share_8")?,
            content_precision: catalogue_index("r_content_precision")?,
        };
        Ok(GraderModel {
            x_mean: file.scaler.mean.iter().map(|v| *v as f32).collect(),
            x_inv_std: file.scaler.std.iter().map(|v| (1.0 / v) as f32).collect(),
            networks,
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

    /// The training mean of each feature the model uses (the scaler's mean).
    pub fn feature_means(&self) -> &[f64] {
        &self.file.scaler.mean
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

    /// Number of ensemble members.
    pub fn members(&self) -> usize {
        self.networks.len()
    }

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
                *v = (*v - self.x_mean[j]) * self.x_inv_std[j];
            }
        }
        x
    }

    /// Grades one essay against a prepared prompt, with its explanation.
    pub fn grade(&self, prompt: &PreparedPrompt, essay: &str) -> Grade {
        self.grade_with(prompt, essay, Explain::Yes)
    }

    /// [`Self::grade`], choosing whether to explain. An explanation runs the
    /// networks on one extra row per feature (occlusion), several times the
    /// cost of the scores alone.
    pub fn grade_with(&self, prompt: &PreparedPrompt, essay: &str, explain: Explain) -> Grade {
        let fv = features::extract(prompt, essay);
        self.grade_vectors(&[(prompt.has_text(), fv.into_values())], explain)
            .pop()
            .expect("one essay in, one grade out")
    }

    /// Grades many essays, each against its prompt, with explanations.
    /// Results are in input order.
    pub fn grade_batch(&self, items: &[(&PreparedPrompt, &str)]) -> Vec<Grade> {
        self.grade_batch_with(items, Explain::Yes)
    }

    /// [`Self::grade_batch`], choosing whether to explain. The networks run
    /// over blocks of essays at once, which is cheaper than one at a time.
    pub fn grade_batch_with(
        &self,
        items: &[(&PreparedPrompt, &str)],
        explain: Explain,
    ) -> Vec<Grade> {
        let mut extractor = features::Extractor::new();
        let mut out = Vec::with_capacity(items.len());
        // Blocks keep the networks' intermediate matrices small enough for the cache.
        let per_block = if explain == Explain::Yes { 16 } else { 512 };
        for chunk in items.chunks(per_block) {
            let vectors: Vec<(bool, Vec<f32>)> = chunk
                .iter()
                .map(|(p, e)| (p.has_text(), extractor.extract(p, e).into_values()))
                .collect();
            out.extend(self.grade_vectors(&vectors, explain));
        }
        out
    }

    /// Grades catalogue feature vectors. Each essay takes one input row, plus,
    /// when explaining, one per feature with that feature at its training
    /// mean (occlusion).
    fn grade_vectors(&self, vectors: &[(bool, Vec<f32>)], explain: Explain) -> Vec<Grade> {
        let d = self.feature_idx.len();
        let block = if explain == Explain::Yes { d + 1 } else { 1 };
        let mut x = Array2::<f32>::zeros((vectors.len() * block, d));
        for (b, (_, values)) in vectors.iter().enumerate() {
            for j in 0..d {
                let v = (values[self.feature_idx[j]] - self.x_mean[j]) * self.x_inv_std[j];
                for r in 0..block {
                    // Row 0 is the essay; row 1 + j has feature j at its mean (0).
                    x[[b * block + r, j]] = if r == j + 1 { 0.0 } else { v };
                }
            }
        }
        let p = unscale_targets(
            &self.file.target_scaler,
            &predict_scaled(&self.networks, x.view()),
        );
        vectors
            .iter()
            .enumerate()
            .map(|(b, (has_text, values))| {
                let base = b * block;
                let names = &self.file.target_names;
                let mut scores = Vec::with_capacity(names.len());
                let mut percentiles = Vec::with_capacity(names.len());
                let mut explanation = Vec::with_capacity(names.len());
                for (t, name) in names.iter().enumerate() {
                    let score = p[[base, t]];
                    scores.push((name.clone(), score));
                    percentiles.push((
                        name.clone(),
                        percentile(&self.file.target_quantiles[t], score),
                    ));
                    if explain == Explain::Yes {
                        let effects: Vec<f64> =
                            (0..d).map(|j| score - p[[base + 1 + j, t]]).collect();
                        explanation.push((name.clone(), self.explain(values, &effects)));
                    }
                }
                Grade {
                    scores: ByTarget(scores),
                    percentiles: ByTarget(percentiles),
                    explanation: ByTarget(explanation),
                    warnings: self.warnings(*has_text, values),
                }
            })
            .collect()
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

/// What calibration from a teacher's examples needs of the model.
impl GraderModel {
    /// Each target's training distribution as calibration sees it: the
    /// training mean and standard deviation, and the range that calibrated
    /// scores, and the scores of a teacher's examples, must stay in. The range
    /// is the score grid's `min..max` when the model has a grid; otherwise the
    /// training scores' lowest to highest, widened on each side by one
    /// training standard deviation (a class may be better or worse than any
    /// in training, but not by a different rubric's scale).
    pub fn calibration_scales(&self) -> Vec<crate::calibration::TargetScale> {
        let scaler = &self.file.target_scaler;
        (0..self.file.target_names.len())
            .map(|t| {
                let (mean, sd) = (scaler.mean[t], scaler.std[t]);
                let q = &self.file.target_quantiles[t];
                let (low, high) = match &self.file.score_grid {
                    Some(grid) => (grid.min, grid.max),
                    None => (q[0] - sd, q[QUANTILES - 1] + sd),
                };
                crate::calibration::TargetScale::new(mean, sd, low, high)
                    .expect("a loaded model has finite, ascending quantiles and positive SDs")
            })
            .collect()
    }

    /// Where a score of target `t` stands among the training essays (0 to 100).
    pub fn percentile_of(&self, t: usize, score: f64) -> f64 {
        percentile(&self.file.target_quantiles[t], score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Prompt;

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

    use crate::training::config::TrainConfig;
    use crate::training::test_data::tiny_dataset;
    use serde_json::json;

    fn trained() -> (Dataset, GraderModel) {
        let ds = tiny_dataset(20);
        let config = TrainConfig::from_json_value(json!({
            "network": {"layers": [{"units": 8, "activation": "relu"}]},
            "epochs": 20, "ensemble": 2, "batch_size": 16
        }))
        .unwrap();
        let outcome = train(&ds, &config, &mut |_| Control::Continue).unwrap();
        (ds, outcome.model)
    }

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
        let ex = a.explanation.get("content").unwrap();
        assert!(ex.raised.len() + ex.lowered.len() > 0);
        assert!(ex.raised.iter().all(|e| e.effect > 0.0));
        assert!(ex.lowered.iter().all(|e| e.effect < 0.0));
        // The batch path gives the same grades as one at a time.
        let batch = loaded.grade_batch(&[
            (&prompt, essay.as_str()),
            (&prompt, ds.essays[5].text.as_str()),
        ]);
        assert_eq!(batch[0], a);
        assert_eq!(batch[1], loaded.grade(&prompt, &ds.essays[5].text));
        // Without the explanation the scores, percentiles and warnings are the same.
        let plain = loaded.grade_with(&prompt, essay, Explain::No);
        assert!(plain.explanation.0.is_empty());
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
