//! The `config` subcommand: prints the default train config in full, or
//! checks a train.json (merged over the default) and prints the result.

use std::path::PathBuf;

use anyhow::Context;

use crate::training::config::TrainConfig;

/// Arguments of `essay-grader config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Print the default train config, every field present.
    #[arg(long, conflicts_with = "check")]
    pub default: bool,
    /// Validate this train.json (merged over the default) and print the whole config.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}

pub fn run(args: ConfigArgs) -> anyhow::Result<()> {
    let valid = match &args.check {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            TrainConfig::from_json_str(&text).with_context(|| path.display().to_string())?
        }
        None if args.default => TrainConfig::default_valid(),
        None => anyhow::bail!("say --default to print the default config, or --check FILE"),
    };
    println!("{}", serde_json::to_string_pretty(&valid.to_json_value())?);
    Ok(())
}
