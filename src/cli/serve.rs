//! The `serve` subcommand. (Scaffold: replaced by its owner.)

/// Arguments of the `serve` subcommand.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("the serve subcommand is not built yet")
}
