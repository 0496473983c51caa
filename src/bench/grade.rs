//! `essay-grader bench grade`: where the CPU time of one explained grading
//! goes, in process on one thread, without HTTP. Each stage is timed over
//! every essay of `--essays`/`--prompts` (CommonLit layout), or the first
//! `--limit` of them, with the served model (`--model`, else the built-in
//! default model):
//!
//! 1. feature extraction alone;
//! 2. a grade without its explanation (features, one network row per
//!    member, percentiles, warnings);
//! 3. the explained grade the single-essay endpoint gives (plus the
//!    occlusion of every concept and the explanation's sentences);
//! 4. the explained grade serialised to JSON, as the response body is.
//!
//! The differences between stages are the cost of each part. Figures are
//! the best of a few rounds in thread CPU time, which on a shared machine
//! does not count waiting for a core.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::features::{Extractor, PreparedPrompt, Prompt};
use crate::grader::{Explain, GraderModel};
use crate::training::dataset::{Dataset, DatasetLayout};

use super::features::thread_cpu_time;

/// Timed rounds per stage; the least disturbed (the fastest) is reported.
const ROUNDS: usize = 3;

/// Runs the bench.
pub fn run(
    essays: Option<&Path>,
    prompts: Option<&Path>,
    model: Option<&Path>,
    limit: Option<u64>,
) -> anyhow::Result<()> {
    let (Some(essays), Some(prompts)) = (essays, prompts) else {
        bail!("bench grade needs --essays FILE.csv and --prompts FILE.csv (CommonLit layout)");
    };
    let model = match model {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            GraderModel::from_json(&bytes).with_context(|| path.display().to_string())?
        }
        None => GraderModel::from_json(crate::startup::DEFAULT_MODEL)
            .context("the built-in default model does not load")?,
    };
    let layout = DatasetLayout::default().without_targets();
    let dataset = Dataset::from_paths(essays, Some(prompts), &layout)
        .with_context(|| format!("reading {}", essays.display()))?;
    let prepared: std::collections::BTreeMap<&str, PreparedPrompt> = dataset
        .prompts
        .iter()
        .map(|(id, p)| {
            let prompt = Prompt {
                title: p.title.clone(),
                question: p.question.clone(),
                text: p.text.clone(),
            };
            (id.as_str(), PreparedPrompt::new(&prompt))
        })
        .collect();
    let limit = limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let pairs: Vec<(&PreparedPrompt, &str)> = dataset
        .essays
        .iter()
        .take(limit)
        .map(|e| (&prepared[e.prompt_id.as_str()], e.text.as_str()))
        .collect();

    println!("machine: {}", super::machine());
    println!(
        "model: {} features, {} concepts explained, {} members; {} essays, best of {ROUNDS} rounds, thread CPU time per essay:",
        model.feature_names().len(),
        model.grade(pairs[0].0, pairs[0].1).explanation.len(),
        model.members(),
        pairs.len(),
    );
    let mut extractor = Extractor::new();
    let features = best(&pairs, |p, e| {
        std::hint::black_box(extractor.extract(p, e));
    })?;
    let plain = best(&pairs, |p, e| {
        std::hint::black_box(model.grade_with(p, e, Explain::No));
    })?;
    let explained = best(&pairs, |p, e| {
        std::hint::black_box(model.grade(p, e));
    })?;
    let mut body = Vec::new();
    let serialised = best(&pairs, |p, e| {
        body.clear();
        serde_json::to_writer(&mut body, &model.grade(p, e)).expect("a grade serialises");
        std::hint::black_box(&body);
    })?;
    let us = |d: Duration| d.as_secs_f64() * 1e6 / pairs.len() as f64;
    let line = |label: &str, d: Duration, part: String| {
        println!(
            "  {label:<42} {:>7.1} µs  ({:>6.0} essays per CPU-second){part}",
            us(d),
            pairs.len() as f64 / d.as_secs_f64()
        );
    };
    line("features", features, String::new());
    line(
        "grade without explanation",
        plain,
        format!("  networks etc. {:.1} µs", us(plain) - us(features)),
    );
    line(
        "explained grade",
        explained,
        format!(
            "  occlusion + explanation {:.1} µs",
            us(explained) - us(plain)
        ),
    );
    line(
        "explained grade, serialised to JSON",
        serialised,
        format!(
            "  JSON {:.1} µs, {} bytes for the first essay",
            us(serialised) - us(explained),
            serde_json::to_vec(&model.grade(pairs[0].0, pairs[0].1))?.len()
        ),
    );
    Ok(())
}

/// The least thread CPU time of [`ROUNDS`] passes of `work` over every essay,
/// after one untimed pass to warm the caches.
fn best(
    pairs: &[(&PreparedPrompt, &str)],
    mut work: impl FnMut(&PreparedPrompt, &str),
) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for round in 0..=ROUNDS {
        let start = thread_cpu_time().context("no thread CPU time on this system")?;
        for &(p, e) in pairs {
            work(p, e);
        }
        let spent = thread_cpu_time()
            .context("no thread CPU time on this system")?
            .saturating_sub(start);
        if round > 0 {
            best = best.min(spent);
        }
    }
    Ok(best)
}
