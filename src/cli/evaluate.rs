//! The `evaluate` subcommand: scores a saved model on a labelled dataset.

use std::path::PathBuf;

use anyhow::Context;

use super::dataset_args::{DatasetArgs, TargetArgs};
use super::report::{self, METRIC_HEADER, metric_rows, table};
use crate::grader::GraderModel;
use crate::training::metrics::Metrics;

/// Arguments of `essay-grader evaluate`.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The model artifact.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DatasetArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print JSON: {"n", "mcrmse", "targets": {name: {rmse, mae, r2, pearson[, qwk]}}}.
    #[arg(long)]
    pub json: bool,
}

/// Reads and checks a model artifact, naming the file in errors.
pub fn load_model(path: &std::path::Path) -> anyhow::Result<GraderModel> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    GraderModel::from_json(&bytes).with_context(|| path.display().to_string())
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let model = load_model(&args.model)?;
    let mut targets = args.targets.clone();
    // Unless told otherwise, evaluate the targets the model predicts.
    if targets.targets == ["content", "wording"] {
        targets.targets = model.target_names().to_vec();
    }
    if targets.targets != model.target_names() {
        anyhow::bail!(
            "the model predicts {} but --targets names {}",
            model.target_names().join(","),
            targets.targets.join(",")
        );
    }
    let grid = targets.score_grid.or(model.score_grid().copied());
    let dataset = args.data.load(Some(&targets))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let p = model.predict_dataset(&dataset, threads);
    let t = model.target_names().len();
    let y: Vec<Vec<f64>> = (0..t)
        .map(|j| dataset.essays.iter().map(|e| e.targets[j]).collect())
        .collect();
    let pc: Vec<Vec<f64>> = (0..t).map(|j| p.column(j).to_vec()).collect();
    let metrics = Metrics::regression(model.target_names(), &y, &pc, grid.as_ref());
    if args.json {
        report::print_json(&metrics)?;
    } else {
        println!(
            "{} essays, MCRMSE {:.4}",
            metrics.n,
            metrics.mcrmse.unwrap_or(f64::NAN)
        );
        print!("{}", table(&METRIC_HEADER, &metric_rows(&[], &metrics)));
    }
    Ok(())
}
