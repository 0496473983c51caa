//! The seed's experiment as a grid search: network depth × hidden activation ×
//! optimizer × learning rate, every cell scored by cross-validation (leave one
//! prompt out by default) through `training::cross_validate`, plus the other
//! algorithms on the same features and folds. Produces a ranked report
//! (markdown and JSON) and SVG plots.
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
//! own layers and optimizer. Reading the grid file and writing the report
//! directory belong to `cli/sweep.rs` and [`write_report`].

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::config::{TrainConfig, ValidTrainConfig, merge};
use super::cv::{CvReport, FoldReport, cross_validate_featured};
use super::dataset::Dataset;
use super::error::TrainingError;
use super::featurize::FeaturedDataset;
use super::folds::{FoldSpec, make_folds};
use super::progress::Progress;
use super::regressor::ModelKind;
use super::selection::{Method, SELECTION_BINS, rank_features, top_k};
use crate::nn::Control;

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
    /// rows only (see `selection.rs`) are used; the held-out prompt never
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

/// The cross-validated score of one model: a sweep cell or a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRun {
    /// What was run, for rows that are not grid cells ("ridge", "features=all", "K=30").
    #[serde(default)]
    pub label: String,
    /// "mlp" for grid cells, else the baseline's kind.
    pub kind: ModelKind,
    /// The cell, for grid runs.
    pub cell: Option<SweepCell>,
    /// Pooled MCRMSE over all out-of-fold predictions; `None` if the run failed.
    pub mcrmse: Option<f64>,
    /// Pooled RMSE per target, in target order.
    pub target_rmse: Vec<(String, f64)>,
    /// MCRMSE of every fold, by held-out prompt.
    pub folds: Vec<(String, f64)>,
    /// Extra figures of pass/fail kinds: per target (accuracy, AUC).
    pub pass_fail: Vec<(String, f64, Option<f64>)>,
    /// Why the run failed (e.g. a non-finite loss), if it did.
    pub error: Option<String>,
    /// Mean validation loss per epoch over the folds (the early-stopping split).
    pub val_curve: Vec<(usize, f64)>,
    /// Wall time of the run.
    pub seconds: f64,
}

impl ScoredRun {
    /// The worst fold's MCRMSE, the figure that shows a diverging fold.
    pub fn worst_fold(&self) -> Option<f64> {
        self.folds
            .iter()
            .map(|f| f.1)
            .fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
    }
}

/// Everything a sweep produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The grid that was run.
    pub grid: SweepGrid,
    /// Grid cells, ranked best first (failed cells last).
    pub cells: Vec<ScoredRun>,
    /// The other algorithms, in the grid's order.
    pub baselines: Vec<ScoredRun>,
    /// The base config with each of the grid's feature sets.
    #[serde(default)]
    pub feature_sets: Vec<ScoredRun>,
    /// The base config with each feature-subset size K (chosen per fold).
    #[serde(default)]
    pub feature_k: Vec<ScoredRun>,
    /// Wall time of the whole sweep.
    pub seconds: f64,
}

/// Sorts runs by pooled MCRMSE, failed runs last, ties by grid order.
pub fn rank(runs: &mut [ScoredRun]) {
    runs.sort_by(|a, b| {
        let key = |r: &ScoredRun| r.mcrmse.filter(|m| m.is_finite()).unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b)).then_with(|| {
            a.cell
                .as_ref()
                .map(|c| c.index)
                .cmp(&b.cell.as_ref().map(|c| c.index))
        })
    });
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.4}"))
}

impl SweepReport {
    /// The ranked table and the baselines as markdown.
    pub fn to_markdown(&self, command: &str) -> String {
        let mut md = String::new();
        md.push_str("# Sweep report\n\n");
        if !command.is_empty() {
            md.push_str(&format!("Produced by:\n\n```sh\n{command}\n```\n\n"));
        }
        md.push_str(&format!(
            "{} grid cells, {:.0} s in all. Scores are pooled MCRMSE over the out-of-fold predictions \
             (lower is better); a fold per held-out prompt.\n\n",
            self.cells.len(),
            self.seconds
        ));
        let target_names: Vec<String> = self
            .cells
            .iter()
            .chain(&self.baselines)
            .find(|r| !r.target_rmse.is_empty())
            .map(|r| r.target_rmse.iter().map(|t| t.0.clone()).collect())
            .unwrap_or_default();
        md.push_str("## Grid, ranked\n\n| rank | depth | activation | optimizer | lr | MCRMSE |");
        for t in &target_names {
            md.push_str(&format!(" {t} RMSE |"));
        }
        md.push_str(" worst fold | folds | s |\n|---:|---:|---|---|---:|---:|");
        md.push_str(&"---:|".repeat(target_names.len()));
        md.push_str("---:|---|---:|\n");
        for (i, r) in self.cells.iter().enumerate() {
            let c = r.cell.as_ref();
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |",
                i + 1,
                c.map_or(0, |c| c.depth),
                c.map_or("", |c| c.activation.as_str()),
                c.map_or("", |c| c.optimizer.as_str()),
                c.map_or(String::new(), |c| format!("{}", c.lr)),
                r.error.as_ref().map_or_else(
                    || fmt_opt(r.mcrmse),
                    |e| format!("failed: {}", e.replace('|', "/"))
                ),
            ));
            for t in &target_names {
                let v = r.target_rmse.iter().find(|x| &x.0 == t).map(|x| x.1);
                md.push_str(&format!(" {} |", fmt_opt(v)));
            }
            let folds: Vec<String> = r.folds.iter().map(|(p, m)| format!("{p} {m:.3}")).collect();
            md.push_str(&format!(
                " {} | {} | {:.1} |\n",
                fmt_opt(r.worst_fold()),
                folds.join(", "),
                r.seconds
            ));
        }
        if !self.baselines.is_empty() {
            md.push_str("\n## Other algorithms (same features, same folds)\n\n| model | MCRMSE |");
            for t in &target_names {
                md.push_str(&format!(" {t} |"));
            }
            md.push_str(" folds | s |\n|---|---:|");
            md.push_str(&"---:|".repeat(target_names.len()));
            md.push_str("---|---:|\n");
            for r in &self.baselines {
                md.push_str(&format!(
                    "| {} | {} |",
                    if r.label.is_empty() {
                        r.kind.to_string()
                    } else {
                        r.label.clone()
                    },
                    r.error.as_ref().map_or_else(
                        || fmt_opt(r.mcrmse),
                        |e| format!("failed: {}", e.replace('|', "/"))
                    )
                ));
                for t in &target_names {
                    let cell = if r.kind.is_pass_fail() {
                        r.pass_fail
                            .iter()
                            .find(|x| &x.0 == t)
                            .map_or("—".to_string(), |x| {
                                format!("acc {:.3}, AUC {}", x.1, fmt_opt(x.2))
                            })
                    } else {
                        fmt_opt(r.target_rmse.iter().find(|x| &x.0 == t).map(|x| x.1))
                    };
                    md.push_str(&format!(" {cell} |"));
                }
                let folds: Vec<String> =
                    r.folds.iter().map(|(p, m)| format!("{p} {m:.3}")).collect();
                md.push_str(&format!(" {} | {:.1} |\n", folds.join(", "), r.seconds));
            }
            md.push_str(
                "\nThe logistic row is a pass/fail classifier of each target > 0; its MCRMSE column is \
                 empty and its cells give accuracy and ROC AUC.\n",
            );
        }
        for (title, runs) in [
            ("Feature sets (base config)", &self.feature_sets),
            (
                "Feature-subset size K (base config; the K features chosen by mRMR on each fold's training rows)",
                &self.feature_k,
            ),
        ] {
            if runs.is_empty() {
                continue;
            }
            md.push_str(&format!("\n## {title}\n\n| run | MCRMSE |"));
            for t in &target_names {
                md.push_str(&format!(" {t} RMSE |"));
            }
            md.push_str(" worst fold | folds | s |\n|---|---:|");
            md.push_str(&"---:|".repeat(target_names.len()));
            md.push_str("---:|---|---:|\n");
            for r in runs {
                md.push_str(&format!(
                    "| {} | {} |",
                    r.label,
                    r.error.as_ref().map_or_else(
                        || fmt_opt(r.mcrmse),
                        |e| format!("failed: {}", e.replace('|', "/"))
                    )
                ));
                for t in &target_names {
                    md.push_str(&format!(
                        " {} |",
                        fmt_opt(r.target_rmse.iter().find(|x| &x.0 == t).map(|x| x.1))
                    ));
                }
                let folds: Vec<String> =
                    r.folds.iter().map(|(p, m)| format!("{p} {m:.3}")).collect();
                md.push_str(&format!(
                    " {} | {} | {:.1} |\n",
                    fmt_opt(r.worst_fold()),
                    folds.join(", "),
                    r.seconds
                ));
            }
        }
        md.push_str(
            "\n## Plots\n\n![validation loss per optimizer](loss_by_optimizer.svg)\n\n\
             ![MCRMSE by depth](mcrmse_by_depth.svg)\n\n![MCRMSE by activation](mcrmse_by_activation.svg)\n\n\
             ![MCRMSE by optimizer](mcrmse_by_optimizer.svg)\n",
        );
        md
    }

    /// The SVG plots, as (file name, document).
    pub fn plots(&self) -> Vec<(&'static str, String)> {
        use super::plots::{loss_curves_svg, score_by_category_svg};
        let score = |r: &ScoredRun| r.mcrmse.filter(|m| m.is_finite()).unwrap_or(f64::INFINITY);
        let by =
            |key: &dyn Fn(&SweepCell) -> String, order: Vec<String>| -> Vec<(String, Vec<f64>)> {
                order
                    .into_iter()
                    .map(|k| {
                        let vals = self
                            .cells
                            .iter()
                            .filter(|r| r.cell.as_ref().is_some_and(|c| key(c) == k))
                            .map(score)
                            .collect();
                        (k, vals)
                    })
                    .collect()
            };
        let depths = by(
            &|c| c.depth.to_string(),
            self.grid.depths.iter().map(|d| d.to_string()).collect(),
        );
        let acts = by(&|c| c.activation.clone(), self.grid.activations.clone());
        let opts = by(
            &|c| c.optimizer.clone(),
            self.grid
                .optimizers
                .iter()
                .map(|o| o.name.clone())
                .collect(),
        );
        // For each optimizer, the curve of its best cell (cells are ranked).
        let curves: Vec<(String, Vec<(usize, f64)>)> = self
            .grid
            .optimizers
            .iter()
            .filter_map(|o| {
                self.cells
                    .iter()
                    .find(|r| {
                        r.cell.as_ref().is_some_and(|c| c.optimizer == o.name)
                            && !r.val_curve.is_empty()
                    })
                    .map(|r| {
                        let c = r.cell.as_ref().expect("filtered on cell");
                        (
                            format!("{} lr={} ({}×{})", o.name, c.lr, c.depth, c.activation),
                            r.val_curve.clone(),
                        )
                    })
            })
            .collect();
        vec![
            (
                "loss_by_optimizer.svg",
                loss_curves_svg(
                    "Validation loss of each optimizer's best cell (mean over folds)",
                    &curves,
                ),
            ),
            (
                "mcrmse_by_depth.svg",
                score_by_category_svg(
                    "Pooled MCRMSE by number of hidden layers",
                    "hidden layers",
                    "MCRMSE",
                    &depths,
                ),
            ),
            (
                "mcrmse_by_activation.svg",
                score_by_category_svg(
                    "Pooled MCRMSE by hidden activation",
                    "activation",
                    "MCRMSE",
                    &acts,
                ),
            ),
            (
                "mcrmse_by_optimizer.svg",
                score_by_category_svg(
                    "Pooled MCRMSE by optimizer (all learning rates)",
                    "optimizer",
                    "MCRMSE",
                    &opts,
                ),
            ),
        ]
    }
}

/// The scores one cross-validation run yields, before the sweep adds its cell,
/// curve and timing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CvScores {
    /// Pooled MCRMSE (`None` for pass/fail kinds).
    pub mcrmse: Option<f64>,
    /// Pooled RMSE per target.
    pub target_rmse: Vec<(String, f64)>,
    /// MCRMSE per held-out fold.
    pub folds: Vec<(String, f64)>,
    /// Per target (accuracy, AUC) for pass/fail kinds.
    pub pass_fail: Vec<(String, f64, Option<f64>)>,
}

/// One epoch seen by the sweep: (0-based fold, 1-based epoch, validation loss).
pub type EpochSeen = (usize, usize, Option<f64>);

/// What a sweep asks its runner to cross-validate (the grid and the other
/// algorithms; see [`Run`] for the feature studies too).
#[derive(Debug, Clone, Copy)]
pub enum Job<'a> {
    /// A grid cell (an MLP config).
    Cell(&'a SweepCell),
    /// A baseline with the grid's base config.
    Baseline(ModelKind),
}

/// Every kind of run a full [`sweep`] makes: a [`Job`], or a feature study.
#[derive(Debug, Clone, Copy)]
pub enum Run<'a> {
    /// A grid cell (an MLP config).
    Cell(&'a SweepCell),
    /// A baseline with the grid's base config.
    Baseline(ModelKind),
    /// The base config with another `"features"` value.
    FeatureSet(&'a Value),
    /// The base config with the top K features chosen on each fold's training rows.
    FeatureK(usize),
}

impl Run<'_> {
    fn label(&self) -> String {
        match self {
            Run::Cell(_) => String::new(),
            Run::Baseline(kind) => kind.to_string(),
            Run::FeatureSet(v) => match v {
                Value::String(s) => format!("features={s}"),
                Value::Array(a) => format!("features=[{} names]", a.len()),
                other => format!("features={other}"),
            },
            Run::FeatureK(k) => format!("K={k}"),
        }
    }
}

/// Runs every cell and baseline of `grid` through `run`, in order, and ranks
/// the results. `run` cross-validates one job; it reports each epoch through
/// the callback it is given (the sweep keeps the validation losses for the
/// curves) and returns `Ok(Ok(scores))`, `Ok(Err(message))` for a run that
/// failed on its own (a diverged network: recorded, the sweep goes on), or
/// `Err(e)` to end the sweep (cancelled, unreadable data).
pub fn sweep_with<E>(
    grid: &SweepGrid,
    mut run: impl FnMut(Job<'_>, &mut dyn FnMut(EpochSeen)) -> Result<Result<CvScores, String>, E>,
) -> Result<SweepReport, E> {
    sweep_runs(grid, false, |r, on_epoch| match r {
        Run::Cell(c) => run(Job::Cell(c), on_epoch),
        Run::Baseline(k) => run(Job::Baseline(k), on_epoch),
        Run::FeatureSet(_) | Run::FeatureK(_) => Ok(Err(
            "feature studies run only in training::sweep::sweep".into(),
        )),
    })
}

/// [`sweep_with`] over every [`Run`]: with `studies`, the grid's feature sets
/// and feature-subset sizes are run after the cells and baselines.
fn sweep_runs<E>(
    grid: &SweepGrid,
    studies: bool,
    mut run: impl FnMut(Run<'_>, &mut dyn FnMut(EpochSeen)) -> Result<Result<CvScores, String>, E>,
) -> Result<SweepReport, E> {
    let started = std::time::Instant::now();
    let mut scored = |kind: ModelKind, job: Run<'_>| -> Result<ScoredRun, E> {
        let label = job.label();
        let t0 = std::time::Instant::now();
        // (fold, epoch) → validation loss, averaged over folds afterwards.
        let mut seen: Vec<EpochSeen> = Vec::new();
        let outcome = run(job, &mut |e| seen.push(e))?;
        let cell = match job {
            Run::Cell(c) => Some(c.clone()),
            _ => None,
        };
        let (scores, error) = match outcome {
            Ok(s) => (s, None),
            Err(message) => (CvScores::default(), Some(message)),
        };
        Ok(ScoredRun {
            label,
            kind,
            cell,
            mcrmse: scores.mcrmse,
            target_rmse: scores.target_rmse,
            folds: scores.folds,
            pass_fail: scores.pass_fail,
            error,
            val_curve: mean_curve(&seen),
            seconds: t0.elapsed().as_secs_f64(),
        })
    };
    let mut cells = Vec::new();
    for cell in grid.cells() {
        cells.push(scored(ModelKind::Mlp, Run::Cell(&cell))?);
    }
    rank(&mut cells);
    let mut baselines = Vec::new();
    for &kind in &grid.baselines {
        baselines.push(scored(kind, Run::Baseline(kind))?);
    }
    let mut feature_sets = Vec::new();
    let mut feature_k = Vec::new();
    if studies {
        for set in &grid.feature_sets {
            feature_sets.push(scored(ModelKind::Mlp, Run::FeatureSet(set))?);
        }
        for &k in &grid.feature_k {
            feature_k.push(scored(ModelKind::Mlp, Run::FeatureK(k))?);
        }
    }
    Ok(SweepReport {
        grid: grid.clone(),
        cells,
        baselines,
        feature_sets,
        feature_k,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Mean validation loss per epoch over the folds that reached that epoch
/// (early stopping ends folds at different epochs).
fn mean_curve(seen: &[EpochSeen]) -> Vec<(usize, f64)> {
    let mut by_epoch: std::collections::BTreeMap<usize, (f64, usize)> = Default::default();
    for &(_, epoch, val) in seen {
        if let Some(v) = val.filter(|v| v.is_finite()) {
            let e = by_epoch.entry(epoch).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    by_epoch
        .into_iter()
        .map(|(e, (sum, n))| (e, sum / n as f64))
        .collect()
}

/// Runs a sweep on `dataset`: features are extracted once, then every cell,
/// baseline, feature set and feature-subset size is cross-validated (leave one
/// prompt out) through [`cross_validate_featured`]. Progress is reported as
/// one long run: `fold`/`folds` count folds over all runs, and `done`/`total`
/// member-epochs (the total is re-estimated as runs finish). A callback
/// answering `Stop` cancels with [`TrainingError::Cancelled`]; a run that
/// fails on its own (a diverged network) is recorded in the report and the
/// sweep goes on.
pub fn sweep(
    dataset: &Dataset,
    grid: &SweepGrid,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<SweepReport, TrainingError> {
    let threads = grid
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let featured = FeaturedDataset::new(dataset, threads);
    let jobs =
        grid.cells().len() + grid.baselines.len() + grid.feature_sets.len() + grid.feature_k.len();
    let mut job_index = 0usize;
    // Member-epochs of the runs already finished, so `done` only grows.
    let mut offset = 0usize;
    sweep_runs(grid, true, |job, on_epoch| {
        // A feature-K run is several cross-validations in a row, each
        // counting from 0: `inner_base` carries the finished ones.
        let (mut last_done, mut last_total, mut inner_base) = (0usize, 0usize, 0usize);
        let mut relay = |p: &Progress| {
            on_epoch((p.fold.saturating_sub(1), p.epoch, p.val_loss));
            if p.done < last_done {
                inner_base += last_total;
            }
            last_done = p.done;
            last_total = p.total;
            let outer = Progress {
                fold: job_index * p.folds + p.fold,
                folds: jobs * p.folds,
                done: offset + inner_base + p.done,
                total: offset + inner_base + p.total * (jobs - job_index),
                ..*p
            };
            on_progress(&outer)
        };
        let result = run_job(&featured, grid, threads, job, &mut relay);
        offset += inner_base + last_total;
        job_index += 1;
        match result {
            Ok(scores) => Ok(Ok(scores)),
            Err(e) if is_fatal(&e) => Err(e),
            Err(e) => Ok(Err(e.to_string())),
        }
    })
}

/// Errors that end a sweep: cancellation and data that no run can use.
/// Anything else (a network that diverged, a config one cell made invalid)
/// belongs to its run.
fn is_fatal(e: &TrainingError) -> bool {
    matches!(
        e,
        TrainingError::Cancelled
            | TrainingError::Folds(_)
            | TrainingError::NoTargets
            | TrainingError::TooFewRows { .. }
    )
}

/// The validated train config of a job: the default config, the grid's base,
/// then the job's own changes.
pub fn job_config(
    grid: &SweepGrid,
    job: Run<'_>,
    threads: usize,
) -> Result<ValidTrainConfig, String> {
    let mut value = grid.base.clone();
    match job {
        Run::Cell(cell) => value = cell.config.clone(),
        Run::FeatureSet(set) => merge(&mut value, json!({ "features": set })),
        Run::Baseline(_) | Run::FeatureK(_) => {}
    }
    TrainConfig::from_json_value(value)
        .map(|c| c.with_threads(threads))
        .map_err(|e| format!("invalid config: {e}"))
}

fn run_job(
    featured: &FeaturedDataset,
    grid: &SweepGrid,
    threads: usize,
    job: Run<'_>,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvScores, TrainingError> {
    let config = job_config(grid, job, threads).map_err(|message| TrainingError::Model {
        kind: ModelKind::Mlp,
        fold: "all".into(),
        message,
    })?;
    let kind = match job {
        Run::Baseline(kind) => kind,
        _ => ModelKind::Mlp,
    };
    if let Run::FeatureK(k) = job {
        return nested_feature_k(featured, grid, &config, k, on_progress);
    }
    let report = cross_validate_featured(
        featured,
        &config,
        FoldSpec::LeaveOnePromptOut,
        kind,
        on_progress,
    )?;
    Ok(scores_of(&report))
}

/// The scores of a cross-validation report.
pub fn scores_of(report: &CvReport) -> CvScores {
    let pooled = &report.pooled;
    CvScores {
        mcrmse: pooled.mcrmse,
        target_rmse: pooled
            .targets
            .0
            .iter()
            .filter_map(|(name, m)| m.rmse.map(|r| (name.clone(), r)))
            .collect(),
        folds: report
            .folds
            .iter()
            .filter_map(|f| f.metrics.mcrmse.map(|m| (f.held_out.clone(), m)))
            .collect(),
        pass_fail: pooled
            .targets
            .0
            .iter()
            .filter_map(|(name, m)| m.accuracy.map(|a| (name.clone(), a, m.auc)))
            .collect(),
    }
}

/// Cross-validates the base config with, in each fold, the `k` features that
/// mRMR ranks first on that fold's training rows (the candidates are the base
/// config's features). Each fold needs its own feature list, so each fold is
/// one full cross-validation whose other folds are discarded; the pooled RMSE
/// of each target is recombined exactly from the folds' RMSEs and sizes.
fn nested_feature_k(
    featured: &FeaturedDataset,
    grid: &SweepGrid,
    config: &ValidTrainConfig,
    k: usize,
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<CvScores, TrainingError> {
    let ds = featured.dataset;
    let folds = make_folds(ds, FoldSpec::LeaveOnePromptOut, config.config().seed)?;
    let candidates = config.feature_indices().to_vec();
    let names = config.feature_names();
    let mut per_fold = Vec::new();
    for fold in &folds {
        let x = featured.select(&fold.train, &candidates).mapv(f64::from);
        let y = featured.targets(&fold.train);
        let ranking = rank_features(x.view(), y.view(), &names, Method::Mrmr, SELECTION_BINS)
            .map_err(|e| TrainingError::Model {
                kind: ModelKind::Mlp,
                fold: fold.held_out.clone(),
                message: e.to_string(),
            })?;
        let mut value = grid.base.clone();
        merge(&mut value, json!({ "features": top_k(&ranking, k) }));
        let fold_config = TrainConfig::from_json_value(value)
            .map_err(|e| TrainingError::Model {
                kind: ModelKind::Mlp,
                fold: fold.held_out.clone(),
                message: format!("invalid config: {e}"),
            })?
            .with_threads(config.threads());
        let report = cross_validate_featured(
            featured,
            &fold_config,
            FoldSpec::LeaveOnePromptOut,
            ModelKind::Mlp,
            on_progress,
        )?;
        let fr = report
            .folds
            .into_iter()
            .find(|f| f.held_out == fold.held_out)
            .ok_or_else(|| TrainingError::Model {
                kind: ModelKind::Mlp,
                fold: fold.held_out.clone(),
                message: "the fold is missing from its own cross-validation".into(),
            })?;
        per_fold.push(fr);
    }
    Ok(pool_folds(&ds.target_names, &per_fold))
}

/// Pooled scores from per-fold metrics: the pooled RMSE of a target is
/// sqrt(Σ n_f·rmse_f² / Σ n_f), exactly what pooling the predictions gives.
pub fn pool_folds(targets: &[String], folds: &[FoldReport]) -> CvScores {
    let n: usize = folds.iter().map(|f| f.metrics.n).sum();
    let target_rmse: Vec<(String, f64)> = targets
        .iter()
        .map(|t| {
            let sse: f64 = folds
                .iter()
                .map(|f| {
                    let r = f
                        .metrics
                        .targets
                        .get(t)
                        .and_then(|m| m.rmse)
                        .unwrap_or(f64::NAN);
                    f.metrics.n as f64 * r * r
                })
                .sum();
            (t.clone(), (sse / n.max(1) as f64).sqrt())
        })
        .collect();
    let mcrmse = target_rmse.iter().map(|t| t.1).sum::<f64>() / target_rmse.len().max(1) as f64;
    CvScores {
        mcrmse: Some(mcrmse),
        target_rmse,
        folds: folds
            .iter()
            .filter_map(|f| f.metrics.mcrmse.map(|m| (f.held_out.clone(), m)))
            .collect(),
        pass_fail: Vec::new(),
    }
}

/// Writes DIR/report.md, DIR/results.json and the SVGs, each file atomically
/// (temp file in DIR, then rename). Creates DIR if needed.
pub fn write_report(dir: &Path, report: &SweepReport, command: &str) -> Result<(), std::io::Error> {
    std::fs::create_dir_all(dir)?;
    let io = |e: super::atomic_file::WriteError| std::io::Error::other(e.to_string());
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    super::write_atomic(&dir.join("results.json"), &json).map_err(io)?;
    for (name, svg) in report.plots() {
        super::write_atomic(&dir.join(name), svg.as_bytes()).map_err(io)?;
    }
    super::write_atomic(
        &dir.join("report.md"),
        report.to_markdown(command).as_bytes(),
    )
    .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> SweepGrid {
        SweepGrid::from_json(
            r#"{"base": {"epochs": 5, "network": {"loss": "huber"}},
                "depths": [1, 3], "units": [8, 4],
                "activations": ["relu", "maxout"],
                "optimizers": [{"name": "adam", "lrs": [0.001, 0.01]}, {"name": "sgd", "lrs": [0.1]}],
                "baselines": ["mean", "ridge"]}"#,
        )
        .unwrap()
    }

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

    fn run(index: usize, mcrmse: Option<f64>) -> ScoredRun {
        let mut cell = grid().cells()[index].clone();
        cell.index = index;
        ScoredRun {
            label: String::new(),
            kind: ModelKind::Mlp,
            cell: Some(cell),
            mcrmse,
            target_rmse: vec![("content".into(), 0.4), ("wording".into(), 0.6)],
            folds: vec![("aaa".into(), 0.45), ("bbb".into(), 0.55)],
            pass_fail: vec![],
            error: mcrmse
                .is_none()
                .then(|| "non-finite loss at epoch 3".to_string()),
            val_curve: vec![(1, 0.9), (2, 0.7)],
            seconds: 1.0,
        }
    }

    #[test]
    fn rank_puts_the_lowest_mcrmse_first_and_failures_last() {
        let mut runs = vec![run(0, Some(0.6)), run(1, None), run(2, Some(0.5))];
        rank(&mut runs);
        let order: Vec<usize> = runs
            .iter()
            .map(|r| r.cell.as_ref().unwrap().index)
            .collect();
        assert_eq!(order, vec![2, 0, 1]);
        assert_eq!(runs[0].worst_fold(), Some(0.55));
    }

    #[test]
    fn write_report_writes_markdown_json_and_plots() {
        let mut cells = vec![run(0, Some(0.6)), run(5, None), run(2, Some(0.5))];
        rank(&mut cells);
        let mut mean = run(0, Some(1.0));
        mean.kind = ModelKind::Mean;
        mean.cell = None;
        let report = SweepReport {
            grid: grid(),
            cells,
            baselines: vec![mean],
            feature_sets: vec![],
            feature_k: vec![],
            seconds: 3.0,
        };
        let dir = tempfile::tempdir().unwrap();
        write_report(dir.path(), &report, "essay-grader sweep --grid g.json").unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("essay-grader sweep --grid g.json"));
        assert!(md.contains("| 1 | 1 | relu | sgd | 0.1 | 0.5000 |"), "{md}");
        assert!(md.contains("failed: non-finite loss at epoch 3"));
        assert!(md.contains("| mean | 1.0000 |"));
        let back: SweepReport =
            serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap())
                .unwrap();
        assert_eq!(back, report);
        for f in [
            "loss_by_optimizer.svg",
            "mcrmse_by_depth.svg",
            "mcrmse_by_activation.svg",
            "mcrmse_by_optimizer.svg",
        ] {
            let svg = std::fs::read_to_string(dir.path().join(f)).unwrap();
            assert!(svg.starts_with("<svg"), "{f}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.ends_with(".svg") && n != "report.md" && n != "results.json")
            .collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    }

    #[test]
    fn sweep_with_runs_every_cell_and_baseline_records_failures_and_ranks() {
        let g = grid();
        let mut calls = 0;
        let report = sweep_with::<String>(&g, |job, on_epoch| {
            calls += 1;
            match job {
                Job::Cell(c) => {
                    for fold in 0..2 {
                        for epoch in 1..=3 {
                            on_epoch((fold, epoch, Some(1.0 / epoch as f64 + fold as f64)));
                        }
                    }
                    if c.activation == "maxout" && c.optimizer == "sgd" {
                        return Ok(Err("non-finite loss".into()));
                    }
                    // Deeper and faster is better in this fake world.
                    let m = 1.0 - 0.1 * c.depth as f64 - c.lr;
                    Ok(Ok(CvScores {
                        mcrmse: Some(m),
                        folds: vec![("a".into(), m - 0.01), ("b".into(), m + 0.01)],
                        ..Default::default()
                    }))
                }
                Job::Baseline(kind) => Ok(Ok(CvScores {
                    mcrmse: Some(if kind == ModelKind::Mean { 1.0 } else { 0.7 }),
                    ..Default::default()
                })),
            }
        })
        .unwrap();
        assert_eq!(calls, 12 + 2);
        assert_eq!(report.cells.len(), 12);
        let best = report.cells[0].cell.as_ref().unwrap();
        assert_eq!((best.depth, best.lr), (3, 0.1));
        let failed: Vec<_> = report.cells.iter().filter(|r| r.error.is_some()).collect();
        assert_eq!(failed.len(), 2);
        assert!(report.cells[10].error.is_some() && report.cells[11].error.is_some());
        assert_eq!(
            report.cells[0].val_curve,
            vec![(1, 1.5), (2, 1.0), (3, 0.5 + 1.0 / 3.0)]
        );
        assert_eq!(
            report.baselines.iter().map(|b| b.kind).collect::<Vec<_>>(),
            vec![ModelKind::Mean, ModelKind::Ridge]
        );
    }

    #[test]
    fn sweep_with_stops_at_a_fatal_error() {
        let mut calls = 0;
        let err = sweep_with::<&str>(&grid(), |_, _| {
            calls += 1;
            if calls == 3 {
                Err("cancelled")
            } else {
                Ok(Ok(CvScores::default()))
            }
        })
        .unwrap_err();
        assert_eq!(err, "cancelled");
        assert_eq!(calls, 3);
    }

    #[test]
    fn pool_folds_recombines_the_pooled_rmse_from_fold_sizes() {
        use crate::training::metrics::{Metrics, TargetMetrics, TargetTable};
        let fold = |name: &str, n: usize, c: f64, w: f64| FoldReport {
            held_out: name.into(),
            metrics: Metrics {
                n,
                mcrmse: Some((c + w) / 2.0),
                targets: TargetTable(vec![
                    (
                        "content".into(),
                        TargetMetrics {
                            rmse: Some(c),
                            ..Default::default()
                        },
                    ),
                    (
                        "wording".into(),
                        TargetMetrics {
                            rmse: Some(w),
                            ..Default::default()
                        },
                    ),
                ]),
            },
        };
        // 1 row with squared error 1 and 3 rows with squared error 0.25 each:
        // pooled MSE (1 + 0.75) / 4, for content; wording is 0.5 everywhere.
        let scores = pool_folds(
            &["content".to_string(), "wording".to_string()],
            &[fold("a", 1, 1.0, 0.5), fold("b", 3, 0.5, 0.5)],
        );
        let content = (1.75f64 / 4.0).sqrt();
        assert!((scores.target_rmse[0].1 - content).abs() < 1e-12);
        assert!((scores.target_rmse[1].1 - 0.5).abs() < 1e-12);
        assert!((scores.mcrmse.unwrap() - (content + 0.5) / 2.0).abs() < 1e-12);
        assert_eq!(
            scores.folds,
            vec![("a".to_string(), 0.75), ("b".to_string(), 0.5)]
        );
    }

    #[test]
    fn sweep_cross_validates_cells_baselines_and_feature_studies_on_a_tiny_dataset() {
        let dataset = crate::training::test_data::tiny_dataset(20);
        let grid = SweepGrid::from_json(
            r#"{"base": {"epochs": 3, "ensemble": 1, "early_stopping": {"patience": 10, "validation_fraction": 0.2}},
                "depths": [1], "units": [4], "activations": ["elu", "tanh"],
                "optimizers": [{"name": "adam", "lrs": [0.01]}],
                "baselines": ["mean", "ridge"],
                "feature_sets": ["default"], "feature_k": [5], "threads": 1}"#,
        )
        .unwrap();
        let mut last_done = 0;
        let mut calls = 0;
        let report = sweep(&dataset, &grid, &mut |p| {
            assert!(
                p.done >= last_done,
                "progress went back: {} after {}",
                p.done,
                last_done
            );
            assert!(p.done <= p.total, "{} of {}", p.done, p.total);
            last_done = p.done;
            calls += 1;
            Control::Continue
        })
        .unwrap();
        assert!(calls > 0);
        assert_eq!(report.cells.len(), 2);
        assert!(
            report
                .cells
                .iter()
                .all(|r| r.error.is_none() && r.mcrmse.is_some()),
            "{:?}",
            report.cells
        );
        assert!(
            report
                .cells
                .iter()
                .all(|r| r.folds.len() == 3 && !r.val_curve.is_empty())
        );
        assert_eq!(report.baselines.len(), 2);
        assert!(
            report.baselines.iter().all(|r| r.mcrmse.is_some()),
            "{:?}",
            report.baselines
        );
        assert_eq!(report.feature_sets[0].label, "features=default");
        assert_eq!(report.feature_k[0].label, "K=5");
        assert!(
            report.feature_k[0].mcrmse.is_some(),
            "{:?}",
            report.feature_k[0]
        );
    }

    #[test]
    fn sweep_stops_with_cancelled_when_the_callback_says_stop() {
        let dataset = crate::training::test_data::tiny_dataset(8);
        let grid = SweepGrid::from_json(
            r#"{"base": {"epochs": 3, "ensemble": 1}, "depths": [1, 2], "units": [4],
                "activations": ["elu"], "optimizers": [{"name": "adam", "lrs": [0.01]}], "threads": 1}"#,
        )
        .unwrap();
        let err = sweep(&dataset, &grid, &mut |_| Control::Stop).unwrap_err();
        assert!(matches!(err, TrainingError::Cancelled), "{err}");
    }
}
