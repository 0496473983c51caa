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
use crate::features::{self, FeatureGroup};
use crate::jobs::JobKind;
use crate::training::{FeatureSubset, FoldSpec, TrainConfig, ValidTrainConfig};

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

/// Upper bounds on what one job may ask to train, so that an admin cannot
/// queue a network that exhausts the server's memory (and that recovery
/// would then retry). Each comes from a setting (`Settings::train_bounds`);
/// `http::jobs` checks a request against them at the edge, before it is
/// queued, and the train options endpoint shows them to the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrainBounds {
    /// Most units in one hidden layer (a maxout layer's units × pieces).
    pub max_units_per_layer: usize,
    /// Most hidden layers.
    pub max_layers: usize,
    /// Most epochs.
    pub max_epochs: usize,
    /// Most ensemble members.
    pub max_ensemble: usize,
    /// Most feature-matrix cells: the dataset's rows × the config's features.
    pub max_training_cells: u64,
    /// Most runs of one sweep.
    pub max_sweep_runs: usize,
}

/// A bad field: its JSON path and what is wrong with it.
pub type FieldProblem = (String, String);

impl TrainBounds {
    /// The network, epochs and ensemble of `config` (found at JSON path
    /// `path`) against the bounds.
    pub fn check_config(&self, config: &ValidTrainConfig, path: &str) -> Vec<FieldProblem> {
        let config = config.config();
        let mut problems = self.check_schedule(config, path);
        let layers = &config.network.layers;
        if layers.len() > self.max_layers {
            problems.push((
                format!("{path}.network.layers"),
                format!(
                    "has {} hidden layers; at most {} are allowed",
                    layers.len(),
                    self.max_layers
                ),
            ));
        }
        for (i, layer) in layers.iter().enumerate() {
            let pieces = if layer.kind.as_deref() == Some("maxout") {
                layer.pieces.unwrap_or(2)
            } else {
                1
            };
            let width = layer.units.saturating_mul(pieces);
            if width > self.max_units_per_layer {
                let what = if pieces > 1 {
                    format!("{} units × {pieces} pieces", layer.units)
                } else {
                    format!("{} units", layer.units)
                };
                problems.push((
                    format!("{path}.network.layers[{i}].units"),
                    format!(
                        "{what} is over the bound of {} units per layer",
                        self.max_units_per_layer
                    ),
                ));
            }
        }
        problems
    }

    fn check_schedule(&self, config: &TrainConfig, path: &str) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        if config.epochs > self.max_epochs {
            problems.push((
                format!("{path}.epochs"),
                format!(
                    "is {}; at most {} are allowed",
                    config.epochs, self.max_epochs
                ),
            ));
        }
        if config.ensemble > self.max_ensemble {
            problems.push((
                format!("{path}.ensemble"),
                format!(
                    "is {}; at most {} members are allowed",
                    config.ensemble, self.max_ensemble
                ),
            ));
        }
        problems
    }

    /// A sweep's grid: its run count, depths and widths, and its base
    /// config's epochs and ensemble (the cells set the layers).
    pub fn check_grid(&self, grid: &SweepGrid) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        let runs = grid.run_count();
        if runs > self.max_sweep_runs {
            problems.push((
                "grid".to_owned(),
                format!(
                    "makes {runs} runs; at most {} are allowed per sweep",
                    self.max_sweep_runs
                ),
            ));
        }
        for (i, &depth) in grid.depths.iter().enumerate() {
            if depth > self.max_layers {
                problems.push((
                    format!("grid.depths[{i}]"),
                    format!(
                        "is {depth} hidden layers; at most {} are allowed",
                        self.max_layers
                    ),
                ));
            }
        }
        // "maxout" cells use 2 pieces per unit.
        let pieces = if grid.activations.iter().any(|a| a == "maxout") {
            2
        } else {
            1
        };
        for (i, &units) in grid.units.iter().enumerate() {
            if units.saturating_mul(pieces) > self.max_units_per_layer {
                problems.push((
                    format!("grid.units[{i}]"),
                    format!(
                        "is {units} units{}; the bound is {} units per layer",
                        if pieces > 1 {
                            " (× 2 pieces for maxout)"
                        } else {
                            ""
                        },
                        self.max_units_per_layer
                    ),
                ));
            }
        }
        if let Ok(base) = TrainConfig::from_json_value(grid.base.clone()) {
            problems.extend(self.check_schedule(base.config(), "grid.base"));
        }
        problems
    }

    /// The dataset's size against the bound on feature-matrix cells: each
    /// feature subset the job trains on (at JSON path `path`), times `rows`.
    pub fn check_training_cells(&self, spec: &JobSpec, rows: i64) -> Vec<FieldProblem> {
        let rows = rows.max(0) as u64;
        let subsets: Vec<(String, usize)> = match spec {
            JobSpec::Train(train) => {
                vec![("config.features".to_owned(), feature_count(&train.config))]
            }
            JobSpec::Cv(cv) => vec![("config.features".to_owned(), feature_count(&cv.config))],
            JobSpec::Sweep(sweep) => {
                let mut subsets = Vec::new();
                if let Ok(base) = TrainConfig::from_json_value(sweep.grid.base.clone()) {
                    subsets.push(("grid.base.features".to_owned(), feature_count(&base)));
                }
                for (i, set) in sweep.grid.feature_sets.iter().enumerate() {
                    let mut config = sweep.grid.base.clone();
                    crate::training::config::merge(
                        &mut config,
                        serde_json::json!({"features": set}),
                    );
                    if let Ok(config) = TrainConfig::from_json_value(config) {
                        subsets.push((format!("grid.feature_sets[{i}]"), feature_count(&config)));
                    }
                }
                subsets
            }
        };
        subsets
            .into_iter()
            .filter_map(|(path, features)| {
                let cells = rows.saturating_mul(features as u64);
                (cells > self.max_training_cells).then(|| {
                    (
                        path,
                        format!(
                            "the dataset's {rows} rows × {features} features make {cells} cells, over the bound of {}; \
                             choose fewer features or a smaller dataset",
                            self.max_training_cells
                        ),
                    )
                })
            })
            .collect()
    }

    /// Everything about `spec` that the bounds refuse, for a dataset of `rows`.
    pub fn check_spec(&self, spec: &JobSpec, rows: i64) -> Vec<FieldProblem> {
        let mut problems = match spec {
            JobSpec::Train(train) => self.check_config(&train.config, "config"),
            JobSpec::Cv(cv) => self.check_config(&cv.config, "config"),
            JobSpec::Sweep(sweep) => self.check_grid(&sweep.grid),
        };
        problems.extend(self.check_training_cells(spec, rows));
        problems
    }
}

/// How many features a config trains on, at most: with `"default"`, a
/// dataset without source texts swaps the relation features for every essay
/// feature (`ValidTrainConfig::for_dataset`), so the larger of the two.
fn feature_count(config: &ValidTrainConfig) -> usize {
    let chosen = config.feature_indices().len();
    if config.config().features != FeatureSubset::Default {
        return chosen;
    }
    let essay = features::catalogue()
        .iter()
        .filter(|d| d.group == FeatureGroup::Essay)
        .count();
    chosen.max(essay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bounds() -> TrainBounds {
        TrainBounds {
            max_units_per_layer: 64,
            max_layers: 4,
            max_epochs: 100,
            max_ensemble: 8,
            max_training_cells: 10_000,
            max_sweep_runs: 10,
        }
    }

    #[test]
    fn a_config_over_the_bounds_is_refused_field_by_field() {
        let config = TrainConfig::from_json_value(json!({
            "epochs": 101,
            "ensemble": 9,
            "network": {"layers": [
                {"units": 64, "activation": "relu"},
                {"kind": "maxout", "units": 40, "pieces": 2},
                {"units": 8, "activation": "relu"},
                {"units": 8, "activation": "relu"},
                {"units": 8, "activation": "relu"}
            ]}
        }))
        .unwrap();

        let fields: Vec<String> = bounds()
            .check_config(&config, "config")
            .into_iter()
            .map(|(field, _)| field)
            .collect();

        assert_eq!(
            fields,
            [
                "config.epochs",
                "config.ensemble",
                "config.network.layers",
                "config.network.layers[1].units"
            ]
        );
    }

    #[test]
    fn a_config_within_the_bounds_passes() {
        let config = TrainConfig::from_json_value(json!({"epochs": 100, "ensemble": 8})).unwrap();

        assert!(bounds().check_config(&config, "config").is_empty());
    }

    #[test]
    fn a_dataset_too_large_for_the_features_is_refused_naming_the_features() {
        let config =
            TrainConfig::from_json_value(json!({"features": "all", "ensemble": 1})).unwrap();
        let features = config.feature_indices().len() as i64;
        let spec = JobSpec::Train(TrainSpec { config, cv: false });

        assert!(
            bounds()
                .check_training_cells(&spec, 10_000 / features)
                .is_empty()
        );
        let problems = bounds().check_training_cells(&spec, 10_000 / features + 1);

        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "config.features");
        assert!(problems[0].1.contains("10000"), "{}", problems[0].1);
    }

    #[test]
    fn a_sweep_over_the_bounds_names_the_grid_fields() {
        let grid = SweepGrid::from_json(
            r#"{"base": {"epochs": 500, "ensemble": 2}, "depths": [1, 5], "units": [128, 8],
                "activations": ["relu", "elu"], "optimizers": [{"name": "adam", "lrs": [0.1, 0.01, 0.001]}]}"#,
        )
        .unwrap();

        let fields: Vec<String> = bounds()
            .check_grid(&grid)
            .into_iter()
            .map(|(field, _)| field)
            .collect();

        assert_eq!(
            fields,
            [
                "grid",
                "grid.depths[1]",
                "grid.units[0]",
                "grid.base.epochs"
            ]
        );
    }

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
