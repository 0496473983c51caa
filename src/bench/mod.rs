//! The `bench` subcommand: speed measurements printed with the machine they
//! ran on. Figures in the README come from here, never from timed tests. It
//! sits on top, beside `cli`, and may use every library module.

mod cv;
mod grade;
pub mod http;
mod http_calibrated;
mod nn;

/// Arguments of `essay-grader bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub what: BenchTarget,
    /// Essays CSV (CommonLit layout) for `bench features`, `bench grade` and `bench cv`.
    #[arg(long)]
    pub essays: Option<std::path::PathBuf>,
    /// Prompts CSV (CommonLit layout) to go with `--essays`.
    #[arg(long)]
    pub prompts: Option<std::path::PathBuf>,
    /// bench grade: use only the first N essays of `--essays`, e.g. to count
    /// instructions under `valgrind --tool=callgrind`. The thread CPU clock
    /// advances in scheduler ticks, so time a few thousand essays.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Options of `bench http`.
    #[command(flatten)]
    pub http: http::HttpBenchArgs,
}

/// The measurable parts of the system.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BenchTarget {
    /// Train an 80-input 64-32-2 network on 6,000 synthetic rows.
    Nn,
    /// Feature extraction, with the prompt prepared once.
    Features,
    /// Where one explained grading's CPU time goes, in process (needs --essays/--prompts).
    Grade,
    /// A full leave-one-prompt-out CV of the default config on --essays/--prompts, features included.
    Cv,
    /// The HTTP service on loopback: single-essay and batch grading, and grading while training.
    Http,
}

mod features;

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.limit.is_some() && !matches!(args.what, BenchTarget::Grade) {
        anyhow::bail!("--limit applies to `bench grade` only");
    }
    match args.what {
        BenchTarget::Features => features::run(args.essays.as_deref(), args.prompts.as_deref()),
        BenchTarget::Grade => grade::run(
            args.essays.as_deref(),
            args.prompts.as_deref(),
            args.http.model.as_deref(),
            args.limit,
        ),
        BenchTarget::Http => http::run(args.http),
        BenchTarget::Cv => cv::run(args.essays.as_deref(), args.prompts.as_deref()),
        BenchTarget::Nn => nn::run(),
    }
}

/// The CPU model, the cores available and the 1-minute load average, printed
/// with every figure: the machine is often shared, and the load says how
/// much other work may have slowed a run.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{model}, {cores} core(s) available, load average {load} at start")
}
