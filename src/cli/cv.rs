//! The `cv` subcommand. (Scaffold: replaced by its owner.)

/// Arguments of the `cv` subcommand.
#[derive(Debug, clap::Args)]
pub struct CvArgs {}

pub fn run(_args: CvArgs) -> anyhow::Result<()> {
    anyhow::bail!("the cv subcommand is not built yet")
}
