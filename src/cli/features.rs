//! The `features` subcommand: lists the feature catalogue, or extracts every
//! feature of every essay of a CSV into another CSV (written atomically).

use std::path::PathBuf;

use super::atomic_file::write_atomic;
use super::dataset_args::{ColumnArgs, DatasetArgs};
use super::report::{self, table};
use crate::features::catalogue;
use crate::training::FeaturedDataset;

/// Arguments of `essay-grader features`.
#[derive(Debug, clap::Args)]
pub struct FeaturesArgs {
    /// Print the catalogue: every feature's name, group and definition.
    #[arg(long, conflicts_with = "out")]
    pub list: bool,
    /// CSV of essays to featurise (CommonLit layout by default; see --id-col etc.).
    #[arg(long, value_name = "FILE")]
    pub essays: Option<PathBuf>,
    /// CSV of prompts; without it a prompt is known only by its id, and the
    /// prompt and relation features degrade to what that allows.
    #[arg(long, value_name = "FILE")]
    pub prompts: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Where to write the features: id columns, then every feature in catalogue order.
    #[arg(long, value_name = "FILE", requires = "essays")]
    pub out: Option<PathBuf>,
    /// Print JSON instead of a table (with --list or --select).
    #[arg(long)]
    pub json: bool,
    /// Rank the essay and relation features on the given (training) rows by
    /// mutual information with the targets and print the K chosen
    /// (see experiments/selection.rs for the method).
    #[arg(long, value_name = "K", requires = "essays", conflicts_with_all = ["out", "list"])]
    pub select: Option<usize>,
    /// Ranking for --select: mrmr (relevance minus redundancy) or relevance.
    #[arg(long, value_enum, default_value = "mrmr")]
    pub method: crate::experiments::selection::Method,
    #[command(flatten)]
    pub targets: super::dataset_args::TargetArgs,
}

pub fn run(args: FeaturesArgs) -> anyhow::Result<()> {
    if args.list {
        if args.json {
            return report::print_json(&catalogue());
        }
        let rows: Vec<Vec<String>> = catalogue()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                vec![
                    (i + 1).to_string(),
                    f.name.to_string(),
                    f.group.name().to_string(),
                    f.definition.to_string(),
                ]
            })
            .collect();
        print!("{}", table(&["#", "name", "group", "definition"], &rows));
        println!("{} features", rows.len());
        return Ok(());
    }
    if let Some(k) = args.select {
        return select(&args, k);
    }
    let (Some(essays), Some(out)) = (&args.essays, &args.out) else {
        anyhow::bail!("say --list, or --essays FILE [--prompts FILE] --out FILE.csv");
    };
    let data = DatasetArgs {
        essays: essays.clone(),
        prompts: args.prompts.clone(),
        columns: args.columns.clone(),
    };
    let dataset = data.load(None)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let featured = FeaturedDataset::new(&dataset, threads);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![data.columns.id_col.clone(), data.columns.prompt_col.clone()];
    header.extend(catalogue().iter().map(|f| f.name.to_string()));
    writer.write_record(&header)?;
    for (essay, row) in dataset.essays.iter().zip(featured.features.rows()) {
        let mut record = vec![essay.id.clone(), essay.prompt_id.clone()];
        // Shortest text that reads back as the same f32.
        record.extend(row.iter().map(|v| v.to_string()));
        writer.write_record(&record)?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_atomic(out, &bytes)?;
    eprintln!(
        "wrote {} rows × {} features to {}",
        dataset.essays.len(),
        catalogue().len(),
        out.display()
    );
    Ok(())
}

/// `features --select K`: the experiments' selection (experiments/selection.rs).
fn select(args: &FeaturesArgs, k: usize) -> anyhow::Result<()> {
    use crate::experiments::selection::{SELECTION_BINS, rank_dataset};
    let Some(essays) = &args.essays else {
        anyhow::bail!("--select needs --essays FILE (with target columns)");
    };
    let data = DatasetArgs {
        essays: essays.clone(),
        prompts: args.prompts.clone(),
        columns: args.columns.clone(),
    };
    let dataset = data.load(Some(&args.targets))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let featured = FeaturedDataset::new(&dataset, threads);
    let candidates = crate::training::TrainConfig::default_valid()
        .feature_indices()
        .to_vec();
    let ranking = rank_dataset(&featured, &candidates, args.method, SELECTION_BINS)?;
    let chosen: Vec<_> = ranking.into_iter().take(k).collect();
    if args.json {
        return report::print_json(&chosen);
    }
    let rows: Vec<Vec<String>> = chosen
        .iter()
        .map(|r| {
            vec![
                r.rank.to_string(),
                r.name.clone(),
                format!("{:.4}", r.relevance),
                format!("{:.4}", r.redundancy),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["rank", "feature", "relevance (bits)", "redundancy (bits)"],
            &rows
        )
    );
    println!(
        "{} of {} essay and relation features chosen by {:?} on {} rows",
        chosen.len(),
        candidates.len(),
        args.method,
        dataset.essays.len()
    );
    Ok(())
}
