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
//! own layers and optimizer.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::experiments::ModelKind;
use crate::training::config::merge;

/// One optimizer axis entry: a name and the learning rates to try with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerAxis {
    /// Optimizer name as in a train config ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw", "lars").
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
    /// Hidden activations: identity, sigmoid, tanh, relu, leaky_relu, elu, or maxout (a maxout layer of 2 pieces).
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
    /// rows only (see `experiments/selection.rs`) are used; the held-out prompt never
    /// takes part in choosing them.
    #[serde(default)]
    pub feature_k: Vec<usize>,
    /// Worker threads for feature extraction and training (default: every core).
    #[serde(default)]
    pub threads: Option<usize>,
}

fn empty_object() -> Value {
    json!({})
}

fn default_units() -> Vec<usize> {
    vec![64, 32, 16, 16]
}

/// A grid that cannot be run, with every problem listed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid sweep grid: {}", .problems.join("; "))]
pub struct GridError {
    /// One message per bad field.
    pub problems: Vec<String>,
}

impl SweepGrid {
    /// Parses a grid from JSON text, then checks it.
    pub fn from_json(text: &str) -> Result<Self, GridError> {
        let grid: SweepGrid = serde_json::from_str(text).map_err(|e| GridError {
            problems: vec![format!("not a sweep grid: {e}")],
        })?;
        grid.validate()?;
        Ok(grid)
    }

    /// Checks every axis and reports all problems together.
    pub fn validate(&self) -> Result<(), GridError> {
        let mut problems = Vec::new();
        if !self.base.is_object() {
            problems.push("base: must be a JSON object (a partial train config)".to_string());
        }
        if self.depths.is_empty() {
            problems.push("depths: list at least one depth".to_string());
        }
        if let Some(d) = self.depths.iter().find(|&&d| d == 0 || d > 16) {
            problems.push(format!("depths: {d} is out of range 1..=16"));
        }
        if self.units.is_empty() || self.units.contains(&0) {
            problems.push(format!(
                "units: need at least one width, none 0 (got {:?})",
                self.units
            ));
        }
        const ACTIVATIONS: [&str; 7] = [
            "identity",
            "sigmoid",
            "tanh",
            "relu",
            "leaky_relu",
            "elu",
            "maxout",
        ];
        if self.activations.is_empty() {
            problems.push("activations: list at least one activation".to_string());
        }
        for a in &self.activations {
            if !ACTIVATIONS.contains(&a.as_str()) {
                problems.push(format!(
                    "activations: unknown \"{a}\" (expected one of {})",
                    ACTIVATIONS.join(", ")
                ));
            }
        }
        if self.optimizers.is_empty() {
            problems.push("optimizers: list at least one optimizer".to_string());
        }
        for (i, o) in self.optimizers.iter().enumerate() {
            if o.lrs.is_empty() {
                problems.push(format!(
                    "optimizers[{i}] ({}): list at least one learning rate",
                    o.name
                ));
            }
            for lr in &o.lrs {
                if !(lr.is_finite() && *lr > 0.0) {
                    problems.push(format!(
                        "optimizers[{i}] ({}): learning rate {lr} must be positive",
                        o.name
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(GridError { problems })
        }
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

/// The JSON of one hidden layer for an activation name.
fn hidden_layer(activation: &str, units: usize) -> Value {
    match activation {
        "maxout" => json!({"kind": "maxout", "units": units, "pieces": 2}),
        other => json!({"units": units, "activation": other}),
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
}
