//! The command line: one clap subcommand per task, each defined and run by its
//! own file under `cli/`, and what only the CLI does: writing report and
//! model files (atomically, `cli/atomic_file.rs`). This file only parses and
//! dispatches. The CLI may use every library module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod atomic_file;
mod backup;
mod calibration_study;
mod config_cmd;
mod cv;
mod dataset_args;
mod evaluate;
mod features;
mod grade;
mod report;
mod serve;
mod sweep;
mod train;

/// Grades student essays against their source text, and retrains itself.
#[derive(Debug, Parser)]
#[command(name = "essay-grader", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (grading API, admin API, web pages).
    Serve(serve::ServeArgs),
    /// Train a model on all rows of a dataset and write its artifact.
    Train(train::TrainArgs),
    /// Score a saved model on a labelled dataset.
    Evaluate(evaluate::EvaluateArgs),
    /// Cross-validate a config, leaving one prompt out per fold by default.
    Cv(cv::CvArgs),
    /// Compare depths, activations, optimizers and learning rates by cross-validation.
    Sweep(sweep::SweepArgs),
    /// Grade one essay with a saved model.
    Grade(grade::GradeArgs),
    /// List, extract or select the text features.
    Features(features::FeaturesArgs),
    /// Print the training config.
    Config(config_cmd::ConfigArgs),
    /// Copy the live SQLite database consistently (VACUUM INTO), atomically.
    Backup(backup::BackupArgs),
    /// Measure the speed of the NN core, the features or cross-validation.
    Bench(crate::bench::BenchArgs),
}

/// Parses the process arguments, runs the subcommand, and turns an error into
/// a message on stderr and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Train(args) => train::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Cv(args) => cv::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Grade(args) => grade::run(args),
        Command::Features(args) => features::run(args),
        Command::Config(args) => config_cmd::run(args),
        Command::Bench(args) => crate::bench::run(args),
        Command::Backup(args) => backup::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
