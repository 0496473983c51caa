//! The `grade` subcommand. (Scaffold: replaced by its owner.)

/// Arguments of the `grade` subcommand.
#[derive(Debug, clap::Args)]
pub struct GradeArgs {}

pub fn run(_args: GradeArgs) -> anyhow::Result<()> {
    anyhow::bail!("the grade subcommand is not built yet")
}
