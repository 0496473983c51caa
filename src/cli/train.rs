//! The `train` subcommand: features, standardisation and training on every
//! row of a dataset, then the model artifact written atomically.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::atomic_file::write_atomic;
use super::dataset_args::{DatasetArgs, TargetArgs};
use super::report::{self, METRIC_HEADER, metric_rows, table};
use crate::grader::train;
use crate::nn::Control;
use crate::training::config::{TrainConfig, ValidTrainConfig};

/// Arguments of `essay-grader train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Train config (train.json); fields left out take the default's values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where to write the model artifact.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Threads to train with (default: every core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the training summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Reads a train.json merged over the default, or the default itself.
pub fn load_config(
    path: Option<&Path>,
    threads: Option<usize>,
) -> anyhow::Result<ValidTrainConfig> {
    let config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            TrainConfig::from_json_str(&text).with_context(|| path.display().to_string())?
        }
        None => TrainConfig::default_valid(),
    };
    Ok(match threads {
        Some(t) => config.with_threads(t),
        None => config,
    })
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref(), args.threads)?;
    let dataset = args.data.load(Some(&args.targets))?;
    let c = config.config();
    let bar = report::progress_bar((c.ensemble * c.epochs) as u64, "training");
    let outcome = train(&dataset, &config, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        Control::Continue
    });
    bar.finish_and_clear();
    let outcome = outcome?;
    write_atomic(&args.out, &outcome.model.to_json())?;
    let summary = &outcome.report;
    if args.json {
        report::print_json(summary)?;
    } else {
        println!(
            "trained on {} essays of {} prompt(s) in {:.1} s; wrote {}",
            summary.rows,
            summary.prompts.len(),
            summary.seconds,
            args.out.display()
        );
        let epochs: Vec<String> = summary
            .members
            .iter()
            .map(|m| m.epochs_run.to_string())
            .collect();
        println!(
            "ensemble of {} (epochs run: {})",
            summary.members.len(),
            epochs.join(", ")
        );
        println!("\nmetrics on the training rows (in-sample; use `cv` for the honest figure):");
        print!(
            "{}",
            table(&METRIC_HEADER, &metric_rows(&[], &summary.metrics))
        );
    }
    Ok(())
}
