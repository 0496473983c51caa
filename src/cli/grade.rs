//! The `grade` subcommand: grades one essay with a saved model against a
//! prompt from a prompts file, or one given on the command line.

use std::path::PathBuf;

use anyhow::Context;

use super::evaluate::load_model;
use super::report::{self, table};
use crate::features::{PreparedPrompt, Prompt};
use crate::training::dataset::read_prompts;

/// Arguments of `essay-grader grade`.
#[derive(Debug, clap::Args)]
pub struct GradeArgs {
    /// The model artifact.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// A prompts CSV holding the prompt (with --prompt-id).
    #[arg(
        long,
        value_name = "FILE",
        requires = "prompt_id",
        conflicts_with = "prompt_text"
    )]
    pub prompts: Option<PathBuf>,
    /// The prompt's id in --prompts.
    #[arg(long, value_name = "ID", requires = "prompts")]
    pub prompt_id: Option<String>,
    /// A file holding the prompt's source text (instead of --prompts).
    #[arg(long, value_name = "FILE")]
    pub prompt_text: Option<PathBuf>,
    /// The question the student answered (with --prompt-text).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub question: String,
    /// The source's title (with --prompt-text).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub title: String,
    /// A file holding the essay.
    #[arg(long, value_name = "FILE")]
    pub essay: PathBuf,
    /// Print the grade as JSON (scores, percentiles, explanation, warnings).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: GradeArgs) -> anyhow::Result<()> {
    let model = load_model(&args.model)?;
    let prompt = match (&args.prompts, &args.prompt_id, &args.prompt_text) {
        (Some(path), Some(id), None) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let prompts = read_prompts(std::io::BufReader::new(file), &path.display().to_string())?;
            prompts.get(id).cloned().with_context(|| {
                format!(
                    "{}: no prompt with id {id:?} (it has {})",
                    path.display(),
                    prompts.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?
        }
        (None, None, Some(path)) => Prompt {
            title: args.title.clone(),
            question: args.question.clone(),
            text: std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        },
        _ => anyhow::bail!(
            "give the prompt as --prompts FILE --prompt-id ID, or --prompt-text FILE [--question TEXT]"
        ),
    };
    let essay = std::fs::read_to_string(&args.essay)
        .with_context(|| format!("cannot read {}", args.essay.display()))?;
    if essay.trim().is_empty() {
        anyhow::bail!("{}: the essay is empty", args.essay.display());
    }
    let grade = model.grade(&PreparedPrompt::new(&prompt), &essay);
    if args.json {
        return report::print_json(&grade);
    }
    let rows: Vec<Vec<String>> = grade
        .scores
        .0
        .iter()
        .map(|(name, score)| {
            let pct = grade.percentiles.get(name).copied().unwrap_or(f64::NAN);
            vec![name.clone(), format!("{score:.3}"), format!("{pct:.0}")]
        })
        .collect();
    print!("{}", table(&["target", "score", "percentile"], &rows));
    if !grade.explanation.is_empty() {
        println!("\nwhy these scores, strongest first:");
    }
    for effect in &grade.explanation {
        let effects: Vec<String> = effect
            .effects
            .0
            .iter()
            .map(|(target, v)| format!("{target} {v:+.3}"))
            .collect();
        println!("  {} ({})", effect.label, effects.join(", "));
        println!("    {}", effect.sentence);
    }
    if !grade.warnings.is_empty() {
        println!("\nwarnings:");
        for w in &grade.warnings {
            println!("  - {}", w.message);
        }
    }
    Ok(())
}
