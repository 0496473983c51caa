//! The `features` subcommand: lists the feature catalogue, or extracts every
//! feature of every essay of a CSV into another CSV (written atomically).

use std::path::PathBuf;

use super::dataset_args::{ColumnArgs, DatasetArgs};
use super::report::{self, table};
use crate::features::catalogue;
use crate::training::{FeaturedDataset, write_atomic};

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
    /// Print JSON instead of a table (with --list).
    #[arg(long)]
    pub json: bool,
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
