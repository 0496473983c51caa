//! `bench http`'s comparison of grading a calibrated prompt with grading an
//! uncalibrated one (issue 9: at most 5 % dearer).
//!
//! Every workload prompt is registered a second time under `<id>-calibrated`
//! with the same text, and that copy gets `--calibration-examples` graded
//! examples. The same essays are then graded against both, in interleaved
//! rounds (so a change in the machine's load hits both sides alike): in
//! process on one thread (the time `calibrate_grade` adds to a grade), then
//! over HTTP: single essays over the bench's connections, and batches of
//! 1,000 without explanations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::http::{Summary, Workload, batches, single};
use crate::http::AppState;
use crate::http::grading::{GradeResponse, ModelRef};

/// Registers the calibrated copies, posts their examples, and returns the
/// workload pointed at the copies.
async fn calibrated_workload(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    workload: &Workload,
    examples: usize,
) -> anyhow::Result<Workload> {
    let mut prompts = Vec::new();
    for prompt in &workload.prompts {
        let id = prompt["id"]
            .as_str()
            .context("a workload prompt has an id")?;
        let copy_id = format!("{id}-calibrated");
        let mut copy = prompt.clone();
        copy["id"] = json!(copy_id);
        let response = client
            .post(format!("{base}/api/v1/prompts"))
            .bearer_auth(token)
            .json(&copy)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("registering {copy_id} failed: {}", response.text().await?);
        }
        let calibration: Value = client
            .get(format!("{base}/api/v1/prompts/{copy_id}/calibration"))
            .send()
            .await?
            .json()
            .await?;
        let targets = calibration["targets"]
            .as_object()
            .context("the calibration lists the model's targets")?;
        // Scores in the middle of each target's range; the cost of applying a
        // calibration does not depend on its values.
        let scores: serde_json::Map<String, Value> = targets
            .iter()
            .map(|(name, t)| {
                let pivot = t["pivot"].as_f64().unwrap_or(0.0);
                (name.clone(), json!(pivot + 0.3))
            })
            .collect();
        let items: Vec<Value> = workload
            .essays
            .iter()
            .filter(|(p, _)| p == id)
            .take(examples)
            .map(|(_, essay)| json!({"essay": essay, "scores": scores}))
            .collect();
        let response = client
            .post(format!("{base}/api/v1/prompts/{copy_id}/examples"))
            .bearer_auth(token)
            .json(&json!({ "examples": items }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "posting examples to {copy_id} failed: {}",
                response.text().await?
            );
        }
        prompts.push(copy);
    }
    let essays = workload
        .essays
        .iter()
        .map(|(p, e)| (format!("{p}-calibrated"), e.clone()))
        .collect();
    Ok(Workload { prompts, essays })
}

/// One thread, no HTTP: the cost of grading an essay as the single-essay
/// route does (with the explanation) against the cost of then applying its
/// prompt's calibration (`calibrate_grade`), each timed over `n` essays.
async fn in_process(state: &AppState, calibrated: &Workload, n: usize) -> anyhow::Result<()> {
    let model = state.model.current().context("no model is loaded")?;
    let mut items = Vec::with_capacity(n);
    for k in 0..n {
        let (prompt_id, essay) = &calibrated.essays[k % calibrated.essays.len()];
        let prompt = state
            .prompts
            .get(&state.db, prompt_id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .context("prompt not registered")?;
        items.push((prompt_id.clone(), prompt.prepared.clone(), essay.clone()));
    }
    let (grading, calibrating, calibrated_count, batch) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let grades: Vec<_> = items
            .iter()
            .map(|(_, p, e)| model.grader.grade(p, e))
            .collect();
        let grading = t.elapsed();
        let mut copies = grades.clone();
        let t = Instant::now();
        let mut calibrated = 0;
        for ((id, _, _), grade) in items.iter().zip(copies.iter_mut()) {
            let applied = crate::http::calibrations::calibrate_grade(&model, Some(id), grade);
            calibrated += usize::from(std::hint::black_box(applied).is_some());
        }
        let calibrating = t.elapsed();
        // The batch route without explanations, as the server does it:
        // grade the block, (calibrate,) build the answers, serialise them.
        let pairs: Vec<(&crate::features::PreparedPrompt, &str)> = items
            .iter()
            .map(|(_, p, e)| (p.as_ref(), e.as_str()))
            .collect();
        let serve = |calibrate: bool| {
            let t = Instant::now();
            let grades = model
                .grader
                .grade_batch_with(&pairs, crate::grader::Explain::No);
            let answers: Vec<GradeResponse> = grades
                .into_iter()
                .zip(&items)
                .map(|(mut grade, (id, _, _))| {
                    let applied = if calibrate {
                        crate::http::calibrations::calibrate_grade(&model, Some(id), &mut grade)
                    } else {
                        None
                    };
                    let (calibration, uncalibrated_scores) = applied.unzip();
                    GradeResponse {
                        scores: grade.scores,
                        percentiles: grade.percentiles,
                        model: ModelRef {
                            id: model.id.clone(),
                            version: model.version,
                        },
                        explanation: grade.explanation,
                        warnings: grade.warnings,
                        calibration,
                        uncalibrated_scores,
                    }
                })
                .collect();
            let bytes = serde_json::to_vec(&answers).expect("answers serialise");
            (t.elapsed(), bytes.len())
        };
        // Paired ABBA rounds; the median of the rounds' ratios, and of each side.
        let (mut plain, mut with, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=BATCH_ROUNDS {
            let mut pair = [(Duration::ZERO, 0); 2];
            for calibrated_side in order(round) {
                pair[usize::from(calibrated_side)] = serve(calibrated_side);
            }
            ratios.push(pair[1].0.as_secs_f64() / pair[0].0.as_secs_f64());
            plain.push(pair[0]);
            with.push(pair[1]);
        }
        plain.sort();
        with.sort();
        ratios.sort_by(f64::total_cmp);
        let mid = BATCH_ROUNDS / 2;
        (
            grading,
            calibrating,
            calibrated,
            (plain[mid], with[mid], ratios[mid]),
        )
    })
    .await?;
    if calibrated_count != n {
        bail!("only {calibrated_count} of {n} grades were calibrated");
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "in process, one thread, {n} essays: grading {:.1} µs/essay, then calibrating {:.3} µs/essay = {:.3} % of grading",
        per(grading),
        per(calibrating),
        calibrating.as_secs_f64() / grading.as_secs_f64() * 100.0
    );
    let ((plain, plain_bytes), (with, with_bytes), ratio) = batch;
    println!(
        "in process, one thread, the batch route's work without explanations (grade, answer, serialise; {BATCH_ROUNDS} ABBA rounds): median uncalibrated {:.1} µs/essay ({} bytes of JSON), calibrated {:.1} µs/essay ({} bytes); median of the rounds' calibrated / uncalibrated time = {ratio:.3}",
        per(plain),
        plain_bytes / n,
        per(with),
        with_bytes / n,
    );
    Ok(())
}

/// Paired rounds of the in-process batch comparison.
const BATCH_ROUNDS: usize = 21;

/// Which side runs first in a round: uncalibrated in odd rounds, calibrated
/// in even ones (`true` is the calibrated side).
fn order(round: usize) -> [bool; 2] {
    if round % 2 == 1 {
        [false, true]
    } else {
        [true, false]
    }
}

/// Runs the comparison: in process, then over HTTP.
#[allow(clippy::too_many_arguments)]
pub(super) async fn compare(
    state: &AppState,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    workload: &Arc<Workload>,
    examples: usize,
    rounds: usize,
    requests: usize,
    connections: usize,
) -> anyhow::Result<()> {
    let calibrated = Arc::new(calibrated_workload(client, base, token, workload, examples).await?);
    let probe: Value = client
        .post(format!("{base}/api/v1/grade"))
        .json(&json!({"prompt_id": calibrated.essays[0].0, "essay": calibrated.essays[0].1}))
        .send()
        .await?
        .json()
        .await?;
    if probe["calibration"]["examples"].as_u64().unwrap_or(0) == 0 {
        bail!("the calibrated copy does not grade calibrated: {probe}");
    }
    println!(
        "calibrated copies of {} prompt(s), {} examples each (the response carries \"calibration\": {})",
        calibrated.prompts.len(),
        examples,
        probe["calibration"]
    );
    in_process(state, &calibrated, 1000).await?;
    let (mut plain, mut with): (Vec<Summary>, Vec<Summary>) = (Vec::new(), Vec::new());
    // Rounds alternate which side goes first (ABBA), so a drift in the
    // machine's load over the run does not favour either.
    for round in 1..=rounds {
        for calibrated_side in order(round) {
            let (side, label) = if calibrated_side {
                (&calibrated, "calibrated")
            } else {
                (workload, "uncalibrated")
            };
            let summary = single(client, base, side, requests, connections).await?;
            summary.print(&format!("round {round}, {label} prompt"), "gradings", 1);
            if calibrated_side {
                with.push(summary);
            } else {
                plain.push(summary);
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let rate = |s: &Summary| s.requests as f64 / s.seconds;
    let p50 = |v: &[Summary]| median(v.iter().map(|s| s.p50.as_secs_f64()).collect());
    // Per round, calibrated time over uncalibrated time for the same work:
    // paired, so the machine's load at that moment cancels.
    let paired = |plain: &[Summary], with: &[Summary]| {
        median(
            plain
                .iter()
                .zip(with)
                .map(|(a, b)| b.seconds / b.requests as f64 / (a.seconds / a.requests as f64))
                .collect(),
        )
    };
    println!(
        "over HTTP, single essays, {rounds} interleaved rounds: median uncalibrated {:.0} gradings/s, calibrated {:.0} gradings/s; p50 {:.2} ms vs {:.2} ms; median of the rounds' calibrated / uncalibrated time = {:.3}",
        median(plain.iter().map(rate).collect()),
        median(with.iter().map(rate).collect()),
        p50(&plain) * 1000.0,
        p50(&with) * 1000.0,
        paired(&plain, &with)
    );
    // Batches without explanations: grading is cheapest there, so the
    // calibration's share is largest.
    let (mut plain, mut with) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        for calibrated_side in order(round) {
            if calibrated_side {
                with.push(batches(client, base, &calibrated, 5, 1000, false).await?);
            } else {
                plain.push(batches(client, base, workload, 5, 1000, false).await?);
            }
        }
    }
    let essays_per_s = |s: &Summary| s.requests as f64 * 1000.0 / s.seconds;
    println!(
        "over HTTP, batches of 1000 without explanations, {rounds} interleaved rounds of 5: median uncalibrated {:.0} essays/s, calibrated {:.0} essays/s; median of the rounds' calibrated / uncalibrated time = {:.3}",
        median(plain.iter().map(essays_per_s).collect()),
        median(with.iter().map(essays_per_s).collect()),
        paired(&plain, &with)
    );
    Ok(())
}
