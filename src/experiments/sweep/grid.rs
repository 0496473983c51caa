//! A sweep's grid: its axes as plain JSON (depths, hidden widths,
//! activations, optimizers with learning rates, baselines, feature studies),
//! their validation with every problem listed, and the cells the axes span.
//!
//! A grid is plain JSON; every axis is listed explicitly:
//! ```json
//! {"base": {"epochs": 40, "ensemble": 1},
//!  "depths": [1, 2, 3, 4], "units": [64, 32, 16, 16],
//!  "activations": ["relu", "tanh"],
//!  "optimizers": [{"name": "adam", "lrs": [0.001, 0.003]}, {"name": "sgd", "lrs": [0.01]}],
//!  "baselines": ["mean", "ridge", "logistic", "gbdt"],
//!  "feature_sets": ["default", "all"], "feature_k": [20, 40], "threads": 2}
//! ```
//! `base` is a partial train config applied to every cell before the cell's
//! own layers and optimizer. Activation and optimizer names are nn's lists
//! (`Activation::NAMES`, `OptimizerKind::NAMES`), plus "maxout" for a maxout
//! layer.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::experiments::ModelKind;
use crate::nn::{Activation, LayerConfig, OptimizerKind};
use crate::training::TrainConfig;
use crate::training::config::{ConfigError, merge};

/// One optimizer axis entry: a name and the learning rates to try with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerAxis {
    /// Optimizer name as in a train config (`nn::OptimizerKind::NAMES`).
    pub name: String,
    /// Learning rates to try.
    pub lrs: Vec<f64>,
}

/// The axes of a sweep. Every combination of depth, activation and
/// (optimizer, learning rate) is one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepGrid {
    /// Partial train config merged over the default config for every cell.
    #[serde(default = "empty_object")]
    pub base: Value,
    /// Numbers of hidden layers to try.
    pub depths: Vec<usize>,
    /// Width of hidden layer i; depth d uses the first d entries, repeating the last.
    #[serde(default = "default_units")]
    pub units: Vec<usize>,
    /// Hidden activations (`nn::Activation::NAMES`), or "maxout" for a
    /// maxout layer of 2 pieces.
    pub activations: Vec<String>,
    /// Optimizers with their learning rates.
    pub optimizers: Vec<OptimizerAxis>,
    /// Other algorithms to run once with the base config (same features, same folds).
    #[serde(default)]
    pub baselines: Vec<ModelKind>,
    /// Feature sets to compare under the base config: values of a train
    /// config's `"features"` ("default", "all", or a list of names).
    #[serde(default)]
    pub feature_sets: Vec<Value>,
    /// Feature-subset sizes K to compare under the base config. For each K and
    /// each fold, the K features ranked first by mRMR on that fold's training
    /// rows only (see `experiments/selection.rs`) are used; the held-out
    /// prompt never takes part in choosing them.
    #[serde(default)]
    pub feature_k: Vec<usize>,
    /// Worker threads for feature extraction and training (the command line
    /// uses every core without it; a job always uses the server's setting).
    #[serde(default)]
    pub threads: Option<usize>,
}

fn empty_object() -> Value {
    json!({})
}

fn default_units() -> Vec<usize> {
    vec![64, 32, 16, 16]
}

/// One problem of a grid: the field it is in (a JSON path inside the grid,
/// such as `depths`, `optimizers[1].name` or `base.epochs`; empty for the
/// grid as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct GridProblem {
    /// JSON path inside the grid.
    pub field: String,
    /// What is wrong there.
    pub message: String,
}

impl GridProblem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> GridProblem {
        GridProblem {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for GridProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// A grid that cannot be run, with every problem listed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid sweep grid: {}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct GridError {
    /// One entry per problem.
    pub problems: Vec<GridProblem>,
}

impl SweepGrid {
    /// Parses a grid from JSON text, then checks it.
    pub fn from_json(text: &str) -> Result<Self, GridError> {
        let grid: SweepGrid = serde_json::from_str(text).map_err(|e| GridError {
            problems: vec![GridProblem::new("", format!("not a sweep grid: {e}"))],
        })?;
        grid.validate()?;
        Ok(grid)
    }

    /// Checks every axis, the base config, and the config of every cell and
    /// feature set, and reports all problems together: a grid that passes
    /// runs every cell (a cell can still fail on its own, by diverging).
    pub fn validate(&self) -> Result<(), GridError> {
        let mut problems = self.axis_problems();
        if problems.is_empty() {
            problems.extend(self.config_problems());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(GridError { problems })
        }
    }

    fn axis_problems(&self) -> Vec<GridProblem> {
        let mut problems = Vec::new();
        if !self.base.is_object() {
            problems.push(GridProblem::new(
                "base",
                "must be a JSON object (a partial train config)",
            ));
        }
        if self.depths.is_empty() {
            problems.push(GridProblem::new("depths", "list at least one depth"));
        }
        if let Some(d) = self.depths.iter().find(|&&d| d == 0 || d > 16) {
            problems.push(GridProblem::new(
                "depths",
                format!("{d} is out of range 1..=16"),
            ));
        }
        if self.units.is_empty() || self.units.contains(&0) {
            problems.push(GridProblem::new(
                "units",
                format!("need at least one width, none 0 (got {:?})", self.units),
            ));
        }
        if self.activations.is_empty() {
            problems.push(GridProblem::new(
                "activations",
                "list at least one activation",
            ));
        }
        for (i, a) in self.activations.iter().enumerate() {
            if !Activation::NAMES.contains(&a.as_str()) && a != LayerConfig::MAXOUT {
                problems.push(GridProblem::new(
                    format!("activations[{i}]"),
                    format!(
                        "unknown \"{a}\" (expected one of {}, {})",
                        Activation::NAMES.join(", "),
                        LayerConfig::MAXOUT
                    ),
                ));
            }
        }
        if self.optimizers.is_empty() {
            problems.push(GridProblem::new(
                "optimizers",
                "list at least one optimizer",
            ));
        }
        for (i, o) in self.optimizers.iter().enumerate() {
            if !OptimizerKind::NAMES.contains(&o.name.as_str()) {
                problems.push(GridProblem::new(
                    format!("optimizers[{i}].name"),
                    format!(
                        "unknown \"{}\" (expected one of {})",
                        o.name,
                        OptimizerKind::NAMES.join(", ")
                    ),
                ));
            }
            if o.lrs.is_empty() {
                problems.push(GridProblem::new(
                    format!("optimizers[{i}].lrs"),
                    format!("list at least one learning rate for {}", o.name),
                ));
            }
            for (j, lr) in o.lrs.iter().enumerate() {
                if !(lr.is_finite() && *lr > 0.0) {
                    problems.push(GridProblem::new(
                        format!("optimizers[{i}].lrs[{j}]"),
                        format!("learning rate {lr} must be positive"),
                    ));
                }
            }
        }
        if self.threads == Some(0) {
            problems.push(GridProblem::new("threads", "must be at least 1"));
        }
        problems
    }

    /// The base config, then (if it is valid) every cell's and every
    /// feature set's config, and the feature-subset sizes against the
    /// base config's features.
    fn config_problems(&self) -> Vec<GridProblem> {
        let base = match TrainConfig::from_json_value(self.base.clone()) {
            Ok(base) => base,
            Err(err) => {
                return err
                    .errors
                    .into_iter()
                    .map(|e| {
                        let field = if e.field.is_empty() {
                            "base".to_string()
                        } else {
                            format!("base.{}", e.field)
                        };
                        GridProblem::new(field, e.message)
                    })
                    .collect();
            }
        };
        let mut problems = Vec::new();
        for cell in self.cells() {
            if let Err(err) = TrainConfig::from_json_value(cell.config.clone()) {
                problems.push(GridProblem::new(
                    "",
                    format!(
                        "cell {} (depth {}, {}, {} lr {}) with the base config: {}",
                        cell.index,
                        cell.depth,
                        cell.activation,
                        cell.optimizer,
                        cell.lr,
                        field_errors(&err)
                    ),
                ));
            }
        }
        for (i, set) in self.feature_sets.iter().enumerate() {
            let mut value = self.base.clone();
            merge(&mut value, json!({ "features": set }));
            if let Err(err) = TrainConfig::from_json_value(value) {
                problems.push(GridProblem::new(
                    format!("feature_sets[{i}]"),
                    field_errors(&err),
                ));
            }
        }
        let candidates = base.feature_indices().len();
        for (i, &k) in self.feature_k.iter().enumerate() {
            if k == 0 || k > candidates {
                problems.push(GridProblem::new(
                    format!("feature_k[{i}]"),
                    format!(
                        "K = {k} must be from 1 to {candidates}, the number of the base config's features"
                    ),
                ));
            }
        }
        problems
    }

    /// How many runs a sweep of this grid makes: every cell, baseline,
    /// feature set and feature-subset size.
    pub fn run_count(&self) -> usize {
        let lrs: usize = self.optimizers.iter().map(|o| o.lrs.len()).sum();
        self.depths.len() * self.activations.len() * lrs
            + self.baselines.len()
            + self.feature_sets.len()
            + self.feature_k.len()
    }

    /// Every cell of the grid, in a fixed order (depth, then activation, then
    /// optimizer, then learning rate).
    pub fn cells(&self) -> Vec<SweepCell> {
        let mut out = Vec::new();
        for &depth in &self.depths {
            for activation in &self.activations {
                for opt in &self.optimizers {
                    for &lr in &opt.lrs {
                        let layers: Vec<Value> = (0..depth)
                            .map(|i| {
                                let units = self.units[i.min(self.units.len() - 1)];
                                hidden_layer(activation, units)
                            })
                            .collect();
                        let patch = json!({
                            "network": {"layers": layers},
                            "optimizer": {"name": opt.name, "lr": lr},
                        });
                        let mut config = self.base.clone();
                        merge(&mut config, patch);
                        out.push(SweepCell {
                            index: out.len(),
                            depth,
                            activation: activation.clone(),
                            optimizer: opt.name.clone(),
                            lr,
                            config,
                        });
                    }
                }
            }
        }
        out
    }
}

/// A config's problems on one line: `field: message; field: message`.
fn field_errors(err: &ConfigError) -> String {
    err.errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The JSON of one hidden layer for an activation name.
fn hidden_layer(activation: &str, units: usize) -> Value {
    if activation == LayerConfig::MAXOUT {
        json!({"kind": LayerConfig::MAXOUT, "units": units, "pieces": 2})
    } else {
        json!({"units": units, "activation": activation})
    }
}

/// One point of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepCell {
    /// Position in the grid's cell order.
    pub index: usize,
    /// Hidden layers.
    pub depth: usize,
    /// Hidden activation.
    pub activation: String,
    /// Optimizer name.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// The partial train config of this cell (base + layers + optimizer).
    pub config: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::sweep::test_runs::example_grid as grid;

    #[test]
    fn cells_cover_every_combination_in_a_fixed_order() {
        let cells = grid().cells();
        // 2 depths × 2 activations × 3 (optimizer, lr) pairs.
        assert_eq!(cells.len(), 12);
        assert_eq!(
            cells.iter().map(|c| c.index).collect::<Vec<_>>(),
            (0..12).collect::<Vec<_>>()
        );
        let c = &cells[0];
        assert_eq!(
            (c.depth, c.activation.as_str(), c.optimizer.as_str(), c.lr),
            (1, "relu", "adam", 0.001)
        );
        let last = &cells[11];
        assert_eq!(
            (
                last.depth,
                last.activation.as_str(),
                last.optimizer.as_str()
            ),
            (3, "maxout", "sgd")
        );
    }

    #[test]
    fn a_cell_config_keeps_the_base_and_sets_layers_and_optimizer() {
        let cells = grid().cells();
        let deep_maxout = cells
            .iter()
            .find(|c| c.depth == 3 && c.activation == "maxout")
            .unwrap();
        assert_eq!(
            deep_maxout.config,
            json!({
                "epochs": 5,
                "network": {"loss": "huber", "layers": [
                    {"kind": "maxout", "units": 8, "pieces": 2},
                    {"kind": "maxout", "units": 4, "pieces": 2},
                    {"kind": "maxout", "units": 4, "pieces": 2}]},
                "optimizer": {"name": "adam", "lr": 0.001}
            })
        );
    }

    #[test]
    fn grid_validation_lists_every_problem() {
        let err = SweepGrid::from_json(
            r#"{"depths": [0], "activations": ["swish"], "optimizers": [{"name": "adam", "lrs": [-1.0]}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        let text = err.to_string();
        assert!(text.contains("depths: 0"), "{text}");
        assert!(text.contains("unknown \"swish\""), "{text}");
        assert!(text.contains("learning rate -1"), "{text}");
        let err = SweepGrid::from_json(r#"{"depths": [1], "bogus": 1}"#).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    fn fields_of(err: &GridError) -> Vec<&str> {
        err.problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn activation_and_optimizer_names_come_from_the_network_core() {
        let err = SweepGrid::from_json(
            r#"{"depths": [1], "activations": ["relu", "softmax", "maxout", "swish"],
                "optimizers": [{"name": "adam", "lrs": [0.1]}, {"name": "warp", "lrs": [0.1]}]}"#,
        )
        .unwrap_err();

        assert_eq!(
            fields_of(&err),
            ["activations[3]", "optimizers[1].name"],
            "{err}"
        );
        assert!(err.problems[1].message.contains("adamw"), "{err}");
    }

    #[test]
    fn the_base_config_is_checked_with_its_field_paths() {
        let err = SweepGrid::from_json(
            r#"{"base": {"epochs": -1, "colour": "blue"}, "depths": [1],
                "activations": ["relu"], "optimizers": [{"name": "adam", "lrs": [0.1]}]}"#,
        )
        .unwrap_err();

        let fields = fields_of(&err);
        assert!(fields.contains(&"base.epochs"), "{err}");
        assert!(fields.contains(&"base.colour"), "{err}");
    }

    #[test]
    fn feature_sets_and_sizes_are_checked_before_anything_runs() {
        let err = SweepGrid::from_json(
            r#"{"depths": [1], "activations": ["relu"], "optimizers": [{"name": "adam", "lrs": [0.1]}],
                "feature_sets": ["all", ["e_no_such_feature"]], "feature_k": [5, 0, 100000]}"#,
        )
        .unwrap_err();

        assert_eq!(
            fields_of(&err),
            ["feature_sets[1]", "feature_k[1]", "feature_k[2]"],
            "{err}"
        );
    }

    #[test]
    fn a_cell_whose_optimizer_clashes_with_the_base_is_named() {
        // The base sets Adam's beta1 without naming an optimizer; the SGD cells inherit it.
        let err = SweepGrid::from_json(
            r#"{"base": {"optimizer": {"beta1": 0.8}}, "depths": [1], "activations": ["relu"],
                "optimizers": [{"name": "adam", "lrs": [0.1]}, {"name": "sgd", "lrs": [0.1]}]}"#,
        )
        .unwrap_err();

        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(
            err.problems[0]
                .message
                .starts_with("cell 1 (depth 1, relu, sgd lr 0.1)"),
            "{err}"
        );
    }
}
