//! The `bench` subcommand: speed measurements printed with the machine they
//! ran on. Figures in the README come from here, never from timed tests.

mod nn;

/// Arguments of `essay-grader bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub what: BenchTarget,
}

/// The measurable parts of the system.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BenchTarget {
    /// Train an 80-input 64-32-2 network on 6,000 synthetic rows.
    Nn,
    /// Feature extraction, with the prompt prepared once.
    Features,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchTarget::Nn => nn::run(),
        BenchTarget::Features => {
            anyhow::bail!("bench {:?} is not built yet", args.what)
        }
    }
}
