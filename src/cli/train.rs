//! The `train` subcommand. (Scaffold: replaced by its owner.)

/// Arguments of the `train` subcommand.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {}

pub fn run(_args: TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("the train subcommand is not built yet")
}
