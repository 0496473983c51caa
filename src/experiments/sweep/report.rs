//! A sweep's results: every run's cross-validated scores ([`ScoredRun`]),
//! their ranking, and the report as markdown and SVG plots. Writing them to
//! files is the CLI's business (`cli::sweep`).

use serde::{Deserialize, Serialize};

use crate::experiments::ModelKind;

use super::grid::{SweepCell, SweepGrid};

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
        use crate::experiments::plots::{loss_curves_svg, score_by_category_svg};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::sweep::test_runs::scored_run as run;

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
}
