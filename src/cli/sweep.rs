//! The `sweep` subcommand: reads a grid file, runs `experiments::sweep` on a
//! dataset (leave one prompt out per run) and writes the report directory
//! (report.md, results.json, SVG plots), every file atomically.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::atomic_file::{WriteError, write_atomic};
use super::dataset_args::{DatasetArgs, TargetArgs};
use super::report;
use crate::experiments::sweep::{SweepGrid, SweepReport, sweep};
use crate::nn::Control;

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
    // The grid's every cell and feature set were checked as it was read.
    let threads = grid
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let dataset = args.data.load(Some(&args.targets))?;
    let bar = report::progress_bar(0, "sweeping");
    let result = sweep(&dataset, &grid, threads, &mut |s| {
        bar.set_length(s.progress.total as u64);
        bar.set_position(s.progress.done as u64);
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

/// Writes DIR/report.md, DIR/results.json and the SVGs, each file atomically
/// (temp file in DIR, then rename). Creates DIR if needed.
pub fn write_report(dir: &Path, report: &SweepReport, command: &str) -> Result<(), std::io::Error> {
    std::fs::create_dir_all(dir)?;
    let io = |e: WriteError| std::io::Error::other(e.to_string());
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    write_atomic(&dir.join("results.json"), &json).map_err(io)?;
    for (name, svg) in report.plots() {
        write_atomic(&dir.join(name), svg.as_bytes()).map_err(io)?;
    }
    write_atomic(
        &dir.join("report.md"),
        report.to_markdown(command).as_bytes(),
    )
    .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::ModelKind;
    use crate::experiments::sweep::rank;
    use crate::experiments::sweep::test_runs::{example_grid as grid, scored_run as run};

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
}
