//! What a job runs, as a type: the [`JobSpec`] that `http::jobs` builds
//! once, at the edge, from a checked request, that the queue stores in the
//! job's row, and that the executor trusts. A train or cv job carries its
//! resolved train config (the default merged with the request), a cv job its
//! folds and model kind, a sweep its checked grid.
//!
//! The stored form is the JSON of the kind's own spec (`{"config": {...},
//! "cv": true}`), read back by the row's kind; it is also the `request` the
//! API shows. Reading it back validates the config again (there is no other
//! way to build a [`ValidTrainConfig`]), which only a hand-edited row fails.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::experiments::ModelKind;
use crate::experiments::sweep::SweepGrid;
use crate::jobs::JobKind;
use crate::training::{FoldSpec, TrainConfig, ValidTrainConfig};

/// A checked job request.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    /// Train on every row and register the model.
    Train(TrainSpec),
    /// Cross-validate one model kind.
    Cv(CvSpec),
    /// Cross-validate every run of a grid.
    Sweep(SweepSpec),
}

/// A train job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// The resolved train config.
    #[serde(default = "TrainConfig::default_valid")]
    pub config: ValidTrainConfig,
    /// Cross-validate the config (leave one prompt out) before training on
    /// every row, so the new model version carries honest figures, not only
    /// in-sample ones.
    #[serde(default)]
    pub cv: bool,
}

/// A cross-validation job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CvSpec {
    /// The resolved train config (its seed and features serve every kind).
    #[serde(default = "TrainConfig::default_valid")]
    pub config: ValidTrainConfig,
    /// Leave one prompt out (`"prompt"`) or K folds.
    #[serde(
        default = "leave_one_prompt_out",
        serialize_with = "folds_as_text",
        deserialize_with = "folds_from_text"
    )]
    pub folds: FoldSpec,
    /// The model family.
    #[serde(default = "network")]
    pub model_kind: ModelKind,
}

/// A sweep job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The grid, checked (axes, base config, every cell and feature set).
    pub grid: SweepGrid,
}

fn leave_one_prompt_out() -> FoldSpec {
    FoldSpec::LeaveOnePromptOut
}

fn network() -> ModelKind {
    ModelKind::Mlp
}

fn folds_as_text<S: Serializer>(folds: &FoldSpec, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(folds)
}

/// `"prompt"`, or K as a number or a string.
fn folds_from_text<'de, D: Deserializer<'de>>(d: D) -> Result<FoldSpec, D::Error> {
    let text = match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    text.parse().map_err(serde::de::Error::custom)
}

impl JobSpec {
    /// The kind of job it is.
    pub fn kind(&self) -> JobKind {
        match self {
            JobSpec::Train(_) => JobKind::Train,
            JobSpec::Cv(_) => JobKind::Cv,
            JobSpec::Sweep(_) => JobKind::Sweep,
        }
    }

    /// The JSON stored in the job's row.
    pub fn to_stored(&self) -> String {
        match self {
            JobSpec::Train(spec) => serde_json::to_string(spec),
            JobSpec::Cv(spec) => serde_json::to_string(spec),
            JobSpec::Sweep(spec) => serde_json::to_string(spec),
        }
        .expect("a job spec serialises")
    }

    /// Reads a stored spec back, by the row's kind.
    pub fn from_stored(kind: JobKind, text: &str) -> Result<JobSpec, serde_json::Error> {
        Ok(match kind {
            JobKind::Train => JobSpec::Train(serde_json::from_str(text)?),
            JobKind::Cv => JobSpec::Cv(serde_json::from_str(text)?),
            JobKind::Sweep => JobSpec::Sweep(serde_json::from_str(text)?),
        })
    }

    /// The whole config the job's run records: the resolved train config,
    /// or the sweep's grid.
    pub fn run_config(&self) -> Value {
        match self {
            JobSpec::Train(spec) => spec.config.to_json_value(),
            JobSpec::Cv(spec) => spec.config.to_json_value(),
            JobSpec::Sweep(spec) => {
                serde_json::to_value(&spec.grid).expect("a sweep grid serialises")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_of_spec_reads_back_what_it_stores() {
        let config = TrainConfig::from_json_value(json!({"epochs": 3})).unwrap();
        let grid = SweepGrid::from_json(
            r#"{"depths": [1], "activations": ["relu"], "optimizers": [{"name": "adam", "lrs": [0.01]}],
                "feature_k": [4]}"#,
        )
        .unwrap();
        let specs = [
            JobSpec::Train(TrainSpec {
                config: config.clone(),
                cv: true,
            }),
            JobSpec::Cv(CvSpec {
                config,
                folds: FoldSpec::KFold(4),
                model_kind: ModelKind::Ridge,
            }),
            JobSpec::Sweep(SweepSpec { grid }),
        ];

        for spec in specs {
            let back = JobSpec::from_stored(spec.kind(), &spec.to_stored()).unwrap();
            assert_eq!(back, spec);
        }
    }

    #[test]
    fn a_cv_spec_stores_its_folds_as_the_request_gives_them() {
        let spec = CvSpec {
            config: TrainConfig::default_valid(),
            folds: FoldSpec::KFold(5),
            model_kind: ModelKind::Mlp,
        };

        let stored: Value = serde_json::from_str(&JobSpec::Cv(spec).to_stored()).unwrap();

        assert_eq!(stored["folds"], "5");
        assert_eq!(stored["model_kind"], "mlp");
        let default_epochs = TrainConfig::default_valid().config().epochs;
        assert_eq!(stored["config"]["epochs"], json!(default_epochs));
    }

    #[test]
    fn a_spec_stored_before_configs_were_resolved_still_reads() {
        // Rows queued by earlier versions held the partial config as submitted.
        let spec = JobSpec::from_stored(
            JobKind::Cv,
            r#"{"config": {"epochs": 2}, "folds": "prompt"}"#,
        )
        .unwrap();

        let JobSpec::Cv(cv) = spec else {
            panic!("a cv spec")
        };
        assert_eq!(cv.config.config().epochs, 2);
        assert_eq!(cv.folds, FoldSpec::LeaveOnePromptOut);
        assert_eq!(cv.model_kind, ModelKind::Mlp);
    }

    #[test]
    fn a_hand_edited_row_with_a_bad_config_is_refused() {
        let err =
            JobSpec::from_stored(JobKind::Train, r#"{"config": {"epochs": -1}}"#).unwrap_err();

        assert!(err.to_string().contains("epochs"), "{err}");
    }
}
