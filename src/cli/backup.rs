//! The `backup` subcommand: a consistent copy of the service's SQLite
//! database, taken while the service runs (`VACUUM INTO`, see
//! `store::backup`), written beside the target under a temporary name and
//! renamed over it only once SQLite has checked the copy. A reader of the
//! target sees the previous backup or the new one, never half of one.

use std::path::PathBuf;

use anyhow::Context;

use super::atomic_file::{publish, temp_path_beside};
use crate::config::DatabaseUrl;
use crate::store::backup::vacuum_into;

/// Arguments of `essay-grader backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The database to copy: the same URL (and variable) as `serve`. Only
    /// SQLite: for PostgreSQL use pg_dump.
    #[arg(
        long,
        env = "ESSAY_GRADER_DATABASE",
        default_value = "sqlite://data/essay-grader.db"
    )]
    pub database: DatabaseUrl,
    /// Where to write the copy (replaced atomically if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Copies the database and prints what the copy holds as JSON.
pub fn run(args: BackupArgs) -> anyhow::Result<()> {
    let tmp = temp_path_beside(&args.out)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let copied = runtime.block_on(vacuum_into(&args.database, &tmp));
    let summary = match copied {
        Ok(summary) => summary,
        Err(err) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(err).context("backup failed; nothing was written");
        }
    };
    publish(&tmp, &args.out)?;
    let report = serde_json::json!({
        "out": args.out.display().to_string(),
        "bytes": summary.bytes,
        "models": summary.models,
        "prompts": summary.prompts,
        "datasets": summary.datasets,
        "integrity_check": "ok",
    });
    println!("{report}");
    Ok(())
}
