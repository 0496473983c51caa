//! Command-line flags shared by the subcommands that read a dataset (`train`,
//! `evaluate`, `cv`, `features`): the files and the column layout. It turns
//! them into a [`Dataset`]; it does not train or print.

use std::path::PathBuf;

use crate::training::dataset::{Dataset, DatasetLayout, ScoreGrid};

/// Where the essays and prompts are.
#[derive(Debug, Clone, clap::Args)]
pub struct DatasetArgs {
    /// CSV of essays (CommonLit layout by default; see --id-col etc.).
    #[arg(long, value_name = "FILE")]
    pub essays: PathBuf,
    /// CSV of prompts (prompt_id, prompt_question, prompt_title, prompt_text).
    /// Without it a prompt is known only by its id.
    #[arg(long, value_name = "FILE")]
    pub prompts: Option<PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
}

/// Which essay columns hold the id, the text and the prompt id.
#[derive(Debug, Clone, clap::Args)]
pub struct ColumnArgs {
    /// Column holding each essay's unique id.
    #[arg(long, value_name = "NAME", default_value = "student_id")]
    pub id_col: String,
    /// Column holding the essay text.
    #[arg(long, value_name = "NAME", default_value = "text")]
    pub text_col: String,
    /// Column holding the prompt id (joins the prompts file).
    #[arg(long, value_name = "NAME", default_value = "prompt_id")]
    pub prompt_col: String,
}

/// Which columns are targets, and their score grid.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Comma-separated numeric target columns.
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        default_value = "content,wording"
    )]
    pub targets: Vec<String>,
    /// Declares ordinal targets on a grid min:max:step (e.g. 1:5:0.5); adds
    /// quadratic weighted kappa to the metrics.
    #[arg(long, value_name = "MIN:MAX:STEP")]
    pub score_grid: Option<ScoreGrid>,
}

impl DatasetArgs {
    /// The layout these flags describe, with the given targets.
    pub fn layout(&self, targets: Option<&TargetArgs>) -> DatasetLayout {
        DatasetLayout {
            id_col: self.columns.id_col.clone(),
            text_col: self.columns.text_col.clone(),
            prompt_col: self.columns.prompt_col.clone(),
            targets: targets.map_or_else(Vec::new, |t| {
                t.targets
                    .iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            score_grid: targets.and_then(|t| t.score_grid),
        }
    }

    /// Reads and checks the dataset (errors name file, line and column).
    /// Asked for targets, it refuses a dataset that has none.
    pub fn load(&self, targets: Option<&TargetArgs>) -> anyhow::Result<Dataset> {
        let dataset =
            Dataset::from_paths(&self.essays, self.prompts.as_deref(), &self.layout(targets))?;
        if targets.is_some() && dataset.target_names.is_empty() {
            anyhow::bail!(
                "{}: the dataset has no target columns; name them with --targets",
                self.essays.display()
            );
        }
        Ok(dataset)
    }
}
