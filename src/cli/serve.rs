//! The `serve` subcommand: set up logging, build the application from the
//! settings (flags or environment) and run it until SIGINT or SIGTERM.

use crate::config::Settings;
use crate::startup::Application;

/// Arguments of the `serve` subcommand: every setting of the service.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    settings: Settings,
}

/// Runs the service on a multi-threaded Tokio runtime.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(&args.settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = Application::build(args.settings).await?;
        app.run_until_stopped().await
    })
}

/// Human-readable logs by default, JSON lines with `--log-json`; the filter
/// comes from `--log` / ESSAY_GRADER_LOG.
fn init_tracing(settings: &Settings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .map_err(|e| anyhow::anyhow!("--log {:?} is not a valid filter: {e}", settings.log))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if settings.log_json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
