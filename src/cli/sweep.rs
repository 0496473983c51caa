//! The `sweep` subcommand. (Scaffold: replaced by its owner.)

/// Arguments of the `sweep` subcommand.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {}

pub fn run(_args: SweepArgs) -> anyhow::Result<()> {
    anyhow::bail!("the sweep subcommand is not built yet")
}
