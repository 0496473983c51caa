//! The `config_cmd` subcommand. (Scaffold: replaced by its owner.)

/// Arguments of the `config_cmd` subcommand.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {}

pub fn run(_args: ConfigArgs) -> anyhow::Result<()> {
    anyhow::bail!("the config_cmd subcommand is not built yet")
}
