//! The `cv` subcommand: cross-validates a config (leave-one-prompt-out by
//! default) and reports every fold and the pooled out-of-fold metrics.

use std::path::PathBuf;

use super::dataset_args::{DatasetArgs, TargetArgs};
use super::report::{self, METRIC_HEADER, metric_rows, table};
use super::train::load_config;
use crate::experiments::{ModelKind, cross_validate};
use crate::nn::Control;
use crate::training::FoldSpec;

/// Arguments of `essay-grader cv`.
#[derive(Debug, clap::Args)]
pub struct CvArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Train config (train.json); fields left out take the default's values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// "prompt" for leave-one-prompt-out, or K for K-fold.
    #[arg(long, default_value = "prompt")]
    pub folds: FoldSpec,
    /// The model family to cross-validate.
    #[arg(long, value_enum, default_value = "mlp")]
    pub model_kind: ModelKind,
    /// Threads to train with (default: every core). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print JSON: {"folds": [{"held_out", "n", "mcrmse", "targets"}], "pooled", "seconds"}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub calibration: super::calibration_study::CalibrationArgs,
}

pub fn run(args: CvArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref(), args.threads)?;
    let dataset = args.data.load(Some(&args.targets))?;
    if args.calibration.requested() {
        if args.folds != FoldSpec::LeaveOnePromptOut || args.model_kind != ModelKind::Mlp {
            anyhow::bail!(
                "--calibration-examples studies the production model leave-one-prompt-out: \
                 drop --folds and --model-kind"
            );
        }
        return super::calibration_study::run(&args.calibration, &dataset, &config, args.json);
    }
    let bar = report::progress_bar(0, "cross-validating");
    let result = cross_validate(&dataset, &config, args.folds, args.model_kind, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        Control::Continue
    });
    bar.finish_and_clear();
    let cv = result?;
    if args.json {
        report::print_json(&cv)?;
        return Ok(());
    }
    let mut header = vec!["held out"];
    header.extend(METRIC_HEADER);
    header.push("mcrmse");
    let mut rows = Vec::new();
    let with_mcrmse = |mut r: Vec<Vec<String>>, m: Option<f64>| {
        for row in &mut r {
            row.push(report::num(m));
        }
        r
    };
    for fold in &cv.folds {
        rows.extend(with_mcrmse(
            metric_rows(std::slice::from_ref(&fold.held_out), &fold.metrics),
            fold.metrics.mcrmse,
        ));
    }
    rows.extend(with_mcrmse(
        metric_rows(&["pooled".to_string()], &cv.pooled),
        cv.pooled.mcrmse,
    ));
    println!(
        "{} cross-validation, {:?}, {} fold(s), {:.1} s",
        cv.model,
        args.folds,
        cv.folds.len(),
        cv.seconds
    );
    print!("{}", table(&header, &rows));
    if let Some(m) = cv.pooled.mcrmse {
        println!("pooled MCRMSE {m:.4}");
    }
    Ok(())
}
