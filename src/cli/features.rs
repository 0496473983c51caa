//! The `features` subcommand. (Scaffold: replaced by its owner.)

/// Arguments of the `features` subcommand.
#[derive(Debug, clap::Args)]
pub struct FeaturesArgs {}

pub fn run(_args: FeaturesArgs) -> anyhow::Result<()> {
    anyhow::bail!("the features subcommand is not built yet")
}
