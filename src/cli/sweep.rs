//! The `sweep` subcommand: reads a grid file, runs `training::sweep` on a
//! dataset (leave one prompt out per run) and writes the report directory
//! (report.md, results.json, SVG plots), every file atomically.

use std::path::PathBuf;

use anyhow::Context;

use super::dataset_args::{DatasetArgs, TargetArgs};
use super::report;
use crate::nn::Control;
use crate::training::sweep::{Run, SweepGrid, job_config, sweep, write_report};

/// Arguments of `essay-grader sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// The grid (JSON): depths, units, activations, optimizers with learning
    /// rates, and optionally base, baselines, feature_sets, feature_k, threads.
    #[arg(long, value_name = "FILE")]
    pub grid: PathBuf,
    /// Directory to write report.md, results.json and the SVG plots into.
    #[arg(long, value_name = "DIR")]
    pub report: PathBuf,
    /// Print the results as JSON on stdout as well.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.grid)
        .with_context(|| format!("cannot read the grid file {}", args.grid.display()))?;
    let grid =
        SweepGrid::from_json(&text).with_context(|| format!("in {}", args.grid.display()))?;
    // Refuse a grid with any invalid cell before spending time on the others.
    let threads = grid.threads.unwrap_or(1);
    let mut bad = Vec::new();
    for cell in grid.cells() {
        if let Err(e) = job_config(&grid, Run::Cell(&cell), threads) {
            bad.push(format!(
                "cell {} (depth {}, {}, {} lr {}): {e}",
                cell.index, cell.depth, cell.activation, cell.optimizer, cell.lr
            ));
        }
    }
    for set in &grid.feature_sets {
        if let Err(e) = job_config(&grid, Run::FeatureSet(set), threads) {
            bad.push(format!("feature set {set}: {e}"));
        }
    }
    if !bad.is_empty() {
        anyhow::bail!("{}: {}", args.grid.display(), bad.join("; "));
    }
    let dataset = args.data.load(Some(&args.targets))?;
    let bar = report::progress_bar(0, "sweeping");
    let result = sweep(&dataset, &grid, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        Control::Continue
    });
    bar.finish_and_clear();
    let report = result?;
    let command: Vec<String> = std::env::args().collect();
    write_report(&args.report, &report, &command.join(" "))
        .with_context(|| format!("cannot write the report into {}", args.report.display()))?;
    if args.json {
        report::print_json(&report)?;
    } else {
        println!(
            "{} runs in {:.0} s; report in {}",
            report.cells.len()
                + report.baselines.len()
                + report.feature_sets.len()
                + report.feature_k.len(),
            report.seconds,
            args.report.join("report.md").display()
        );
        for (i, r) in report.cells.iter().take(10).enumerate() {
            if let Some(c) = &r.cell {
                println!(
                    "{:>3}. depth {} {:<10} {:<8} lr {:<7} MCRMSE {}",
                    i + 1,
                    c.depth,
                    c.activation,
                    c.optimizer,
                    c.lr,
                    r.mcrmse.map_or("failed".to_string(), |m| format!("{m:.4}"))
                );
            }
        }
    }
    Ok(())
}
