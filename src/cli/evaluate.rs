//! The `evaluate` subcommand. (Scaffold: replaced by its owner.)

/// Arguments of the `evaluate` subcommand.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {}

pub fn run(_args: EvaluateArgs) -> anyhow::Result<()> {
    anyhow::bail!("the evaluate subcommand is not built yet")
}
