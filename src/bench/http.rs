//! `essay-grader bench http`: the service's speed over real HTTP on loopback.
//!
//! It starts the whole application in-process on 127.0.0.1:0 with a fresh
//! temporary database (so the built-in default model is registered and
//! active), registers the prompts, and drives it with a Rust HTTP client:
//!
//! 1. single-essay grading, `--requests` requests over `--connections`
//!    concurrent keep-alive connections: gradings/s, p50/p99/max latency;
//! 2. the batch endpoint, `--batches` requests of `--batch-size` essays: essays/s;
//! 3. with `--while-training` (needs `--commonlit`): single-essay grading
//!    again while a train job on the CommonLit data runs in the job queue;
//! 4. unless `--calibrated-rounds 0`: grading a calibrated prompt against an
//!    uncalibrated one (see `http_calibrated`).
//!
//! Everything is bounded by count, and the client shares the machine with the
//! server, so the figures are a floor for a server with the machine to itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::startup::Application;

/// Options of `bench http`.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpBenchArgs {
    /// bench http: single-essay grading requests to send (after 500 warm-up requests).
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// bench http: concurrent connections for single-essay grading.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// bench http: batch requests to send.
    #[arg(long, default_value_t = 20)]
    pub batches: usize,
    /// bench http: essays per batch request.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// bench http: the CommonLit folder (summaries.csv, prompts.csv); its essays
    /// and prompts are graded. Without it, essays are generated from a short
    /// built-in text.
    #[arg(long)]
    pub commonlit: Option<PathBuf>,
    /// bench http: also measure grading while a train job runs (needs --commonlit).
    #[arg(long)]
    pub while_training: bool,
    /// bench http: with --while-training, also compare idle and training
    /// latency at this fixed offered rate (requests/s, spread over the
    /// connections) instead of only at saturation.
    #[arg(long)]
    pub rate: Option<u32>,
    /// bench http and bench grade: the model artifact to serve (default: the
    /// built-in default model).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// bench http: interleaved rounds comparing grading a calibrated prompt
    /// with an uncalibrated one (each round sends --requests / 2 of each); 0 skips.
    #[arg(long, default_value_t = 3)]
    pub calibrated_rounds: usize,
    /// bench http: examples posted to each calibrated prompt.
    #[arg(long, default_value_t = 50)]
    pub calibration_examples: usize,
    /// bench http: instead of starting a server, drive these running
    /// replicas (base URLs, comma-separated), single-essay grading only: the
    /// prompts are registered through the first, and the connections and
    /// requests are split evenly over all of them at once. Compares one
    /// replica with several (docs/scaling.md).
    #[arg(long, value_delimiter = ',', value_name = "URL")]
    pub targets: Vec<String>,
    /// bench http --targets: the replicas' admin token or one of their API
    /// keys, with which the prompts are registered (registering needs one).
    #[arg(long, env = "ESSAY_GRADER_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// A prompt to register and the essays to grade against it.
pub(super) struct Workload {
    pub(super) prompts: Vec<Value>,
    /// (prompt id, essay text)
    pub(super) essays: Vec<(String, String)>,
}

/// Latency summary of a run.
pub(super) struct Summary {
    pub(super) requests: usize,
    errors: usize,
    pub(super) seconds: f64,
    pub(super) p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    pub(super) fn print(&self, label: &str, unit: &str, per_request: usize) {
        println!(
            "{label}: {} requests in {:.2} s = {:.0} {unit}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {}",
            self.requests,
            self.seconds,
            (self.requests * per_request) as f64 / self.seconds,
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            self.errors
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the HTTP benchmark.
pub fn run(args: HttpBenchArgs) -> anyhow::Result<()> {
    if args.while_training && args.commonlit.is_none() {
        bail!("--while-training needs --commonlit DIR (the train job's data)");
    }
    if args.connections == 0 || args.requests == 0 || args.batch_size == 0 {
        bail!("--requests, --connections and --batch-size must be at least 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "bench http: {cores} cores, {} {}; server and client in one process on 127.0.0.1",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if !args.targets.is_empty() {
        return runtime.block_on(bench_targets(args));
    }
    runtime.block_on(bench(args))
}

/// Single-essay grading through running replicas, side by side.
async fn bench_targets(args: HttpBenchArgs) -> anyhow::Result<()> {
    let workload = Arc::new(match &args.commonlit {
        Some(dir) => commonlit_workload(dir)?,
        None => generated_workload(),
    });
    let targets: Vec<String> = args
        .targets
        .iter()
        .map(|t| t.trim_end_matches('/').to_owned())
        .collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    for prompt in &workload.prompts {
        // A prompt already there (an earlier run) is fine: 409.
        let mut request = client
            .post(format!("{}/api/v1/prompts", targets[0]))
            .json(prompt);
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() && status != reqwest::StatusCode::CONFLICT {
            bail!("registering a prompt failed: {}", response.text().await?);
        }
    }
    let share = |n: usize| (n / targets.len()).max(1);
    let run = |requests: usize| {
        let client = client.clone();
        let workload = workload.clone();
        let targets = targets.clone();
        async move {
            let started = std::time::Instant::now();
            let runs = targets.iter().map(|base| {
                single(
                    &client,
                    base,
                    &workload,
                    share(requests),
                    share(args.connections),
                )
            });
            let summaries = futures_util::future::try_join_all(runs).await?;
            anyhow::Ok((summaries, started.elapsed().as_secs_f64()))
        }
    };
    run(500).await?;
    let (summaries, seconds) = run(args.requests).await?;
    let requests: usize = summaries.iter().map(|s| s.requests).sum();
    let errors: usize = summaries.iter().map(|s| s.errors).sum();
    for (base, summary) in targets.iter().zip(&summaries) {
        summary.print(&format!("  {base}"), "gradings", 1);
    }
    println!(
        "single essay through {} replica(s), {} connections in all: {requests} requests in {seconds:.2} s = {:.0} gradings/s; errors {errors}",
        targets.len(),
        share(args.connections) * targets.len(),
        requests as f64 / seconds,
    );
    Ok(())
}

async fn bench(args: HttpBenchArgs) -> anyhow::Result<()> {
    let workload = match &args.commonlit {
        Some(dir) => commonlit_workload(dir)?,
        None => generated_workload(),
    };
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let token = crate::http::auth::random_secret();
    let settings = Settings {
        addr: "127.0.0.1:0".parse()?,
        database: format!("sqlite://{}", dir.path().join("bench.db").display()).into(),
        admin_token: Some(crate::config::Secret::new(token.clone())),
        batch_max_items: args.batch_size.max(1000),
        default_model: args.model.clone(),
        ..Settings::default()
    };
    let app = Application::build(settings).await?;
    let app_state = app.state().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_handle();
    let server = tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    for prompt in &workload.prompts {
        let response = client
            .post(format!("{base}/api/v1/prompts"))
            .bearer_auth(&token)
            .json(prompt)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("registering a prompt failed: {}", response.text().await?);
        }
    }
    let ready: Value = client
        .get(format!("{base}/ready"))
        .send()
        .await?
        .json()
        .await?;
    println!(
        "model version {}, {} prompts, {} distinct essays",
        ready["model_version"],
        workload.prompts.len(),
        workload.essays.len()
    );
    let workload = Arc::new(workload);
    in_process(&app_state, &workload, args.batch_size).await?;

    // Warm-up: connections opened, caches and allocator settled.
    single(&client, &base, &workload, 500, args.connections).await?;
    let idle = single(&client, &base, &workload, args.requests, args.connections).await?;
    idle.print(
        &format!("single essay, {} connections", args.connections),
        "gradings",
        1,
    );

    let overhead = drive(
        &client,
        &base,
        &workload,
        args.requests,
        args.connections,
        true,
        None,
    )
    .await?;
    let paced_idle = match args.rate {
        Some(rate) if args.while_training => {
            let n = (rate as usize * 5).min(args.requests);
            let s = drive(
                &client,
                &base,
                &workload,
                n,
                args.connections,
                false,
                Some(rate),
            )
            .await?;
            s.print(
                &format!("single essay at {rate}/s offered, idle"),
                "gradings",
                1,
            );
            Some(s)
        }
        _ => None,
    };
    overhead.print(
        &format!(
            "POST /api/v1/grade refused with 422 (no grading), {} connections",
            args.connections
        ),
        "requests",
        1,
    );

    if args.calibrated_rounds > 0 {
        super::http_calibrated::compare(
            &app_state,
            &client,
            &base,
            &token,
            &workload,
            args.calibration_examples,
            args.calibrated_rounds,
            (args.requests / 2).max(1),
            args.connections,
        )
        .await?;
    }

    for explain in [true, false] {
        let batch = batches(
            &client,
            &base,
            &workload,
            args.batches,
            args.batch_size,
            explain,
        )
        .await?;
        batch.print(
            &format!("batch of {}, explain {explain}", args.batch_size),
            "essays",
            args.batch_size,
        );
    }

    if args.while_training {
        let dir = args.commonlit.as_ref().expect("checked above");
        let (busy, paced_busy) =
            while_training(&client, &base, &token, &workload, dir, &args).await?;
        busy.print(
            &format!(
                "single essay while training, {} connections",
                args.connections
            ),
            "gradings",
            1,
        );
        println!(
            "p99 while training / p99 idle = {:.2}",
            busy.p99.as_secs_f64() / idle.p99.as_secs_f64()
        );
        if let (Some(idle), Some(busy), Some(rate)) = (paced_idle, paced_busy, args.rate) {
            busy.print(
                &format!("single essay at {rate}/s offered, while training"),
                "gradings",
                1,
            );
            println!(
                "at {rate}/s offered: p99 while training / p99 idle = {:.2}",
                busy.p99.as_secs_f64() / idle.p99.as_secs_f64()
            );
        }
    }

    shutdown.trigger();
    server.await??;
    Ok(())
}

/// Grading cost without HTTP, on one thread: `grade` per essay, and
/// `grade_batch` over `size` essays, so the HTTP figures can be read against it.
async fn in_process(
    state: &crate::http::AppState,
    workload: &Arc<Workload>,
    size: usize,
) -> anyhow::Result<()> {
    let model = state.model.current().context("no model is loaded")?;
    let mut items = Vec::with_capacity(size);
    for k in 0..size {
        let (prompt_id, essay) = &workload.essays[k % workload.essays.len()];
        let prompt = state
            .prompts
            .get(&state.db, prompt_id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .context("prompt not registered")?;
        items.push((prompt.prepared.clone(), essay.clone()));
    }
    let (single, batch) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        for (p, e) in &items {
            std::hint::black_box(model.grader.grade(p, e));
        }
        let single = t.elapsed();
        let pairs: Vec<(&crate::features::PreparedPrompt, &str)> = items
            .iter()
            .map(|(p, e)| (p.as_ref(), e.as_str()))
            .collect();
        let t = Instant::now();
        std::hint::black_box(model.grader.grade_batch(&pairs));
        (single, t.elapsed())
    })
    .await?;
    println!(
        "in process, one thread, no HTTP: grade {:.0} essays/s ({:.0} µs each); grade_batch of {size} {:.0} essays/s",
        size as f64 / single.as_secs_f64(),
        single.as_secs_f64() * 1e6 / size as f64,
        size as f64 / batch.as_secs_f64()
    );
    Ok(())
}

/// `requests` single-essay gradings over `connections` concurrent tasks.
pub(super) async fn single(
    client: &reqwest::Client,
    base: &str,
    workload: &Arc<Workload>,
    requests: usize,
    connections: usize,
) -> anyhow::Result<Summary> {
    drive(client, base, workload, requests, connections, false, None).await
}

/// Drives `POST /api/v1/grade` from `connections` tasks. With `empty_essay`
/// every request is refused with 422 after parsing and validation, which
/// measures everything the service does except grading.
async fn drive(
    client: &reqwest::Client,
    base: &str,
    workload: &Arc<Workload>,
    requests: usize,
    connections: usize,
    empty_essay: bool,
    rate: Option<u32>,
) -> anyhow::Result<Summary> {
    // At a fixed rate each connection sends every `connections / rate`
    // seconds; a late answer delays that connection's next request (so the
    // figures understate the worst case a little).
    let period = rate.map(|r| Duration::from_secs_f64(connections as f64 / f64::from(r.max(1))));
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/api/v1/grade");
    // The bodies are serialised before the clock starts, so the client spends
    // its share of the shared cores on HTTP, not on building the same JSON
    // again and again.
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        workload
            .essays
            .iter()
            .map(|(prompt_id, essay)| {
                let essay = if empty_essay { " " } else { essay.as_str() };
                serde_json::to_vec(&json!({"prompt_id": prompt_id, "essay": essay}))
            })
            .collect::<Result<_, _>>()?,
    );
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (client, next, bodies, url) =
            (client.clone(), next.clone(), bodies.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut ticker = period.map(|p| {
                let mut t = tokio::time::interval(p);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            loop {
                if let Some(t) = ticker.as_mut() {
                    t.tick().await;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let body = bodies[i % bodies.len()].clone();
                let t = Instant::now();
                let request = client
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                let ok = match request.send().await {
                    Ok(response) => {
                        let expected = if empty_essay { 422 } else { 200 };
                        let ok = response.status().as_u16() == expected;
                        // Read the whole body: the latency includes the answer.
                        ok && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                latencies.push(t.elapsed());
                errors += usize::from(!ok);
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    Ok(summarise(latencies, errors, started.elapsed()))
}

/// `batches` batch requests of `size` essays, one after another, with or
/// without explanations.
pub(super) async fn batches(
    client: &reqwest::Client,
    base: &str,
    workload: &Workload,
    batches: usize,
    size: usize,
    explain: bool,
) -> anyhow::Result<Summary> {
    let url = format!("{base}/api/v1/grade/batch");
    let mut latencies = Vec::with_capacity(batches);
    let mut errors = 0;
    let started = Instant::now();
    for b in 0..batches {
        let items: Vec<Value> = (0..size)
            .map(|k| {
                let (prompt_id, essay) = &workload.essays[(b * size + k) % workload.essays.len()];
                json!({"prompt_id": prompt_id, "essay": essay})
            })
            .collect();
        let body = json!({ "items": items, "explain": explain });
        let t = Instant::now();
        let response = client.post(&url).json(&body).send().await?;
        let ok = response.status().is_success();
        let answer: Value = response.json().await?;
        latencies.push(t.elapsed());
        if !ok || answer["failed"] != 0 {
            errors += 1;
            eprintln!(
                "batch {b} failed: {}",
                &answer.to_string()[..answer.to_string().len().min(300)]
            );
        }
    }
    Ok(summarise(latencies, errors, started.elapsed()))
}

/// Uploads the CommonLit data, starts a train job, and grades while it runs.
async fn while_training(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    workload: &Arc<Workload>,
    dir: &std::path::Path,
    args: &HttpBenchArgs,
) -> anyhow::Result<(Summary, Option<Summary>)> {
    let essays = std::fs::read(dir.join("summaries.csv")).context("reading summaries.csv")?;
    let prompts = std::fs::read(dir.join("prompts.csv")).context("reading prompts.csv")?;
    let form = reqwest::multipart::Form::new()
        .part(
            "essays",
            reqwest::multipart::Part::bytes(essays).file_name("summaries.csv"),
        )
        .part(
            "prompts",
            reqwest::multipart::Part::bytes(prompts).file_name("prompts.csv"),
        )
        .text("name", "bench");
    let response = client
        .post(format!("{base}/api/v1/datasets"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("uploading the dataset failed: {}", response.text().await?);
    }
    let dataset: Value = response.json().await?;
    let response = client
        .post(format!("{base}/api/v1/jobs"))
        .bearer_auth(token)
        // Long enough to outlast the measurement (the default config trains
        // in seconds); the job is cancelled afterwards.
        .json(&json!({"kind": "train", "dataset_id": dataset["id"],
                      "config": {"epochs": 400, "early_stopping": null}}))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("starting the train job failed: {}", response.text().await?);
    }
    let job: Value = response.json().await?;
    let job_url = format!(
        "{base}/api/v1/jobs/{}",
        job["id"].as_str().unwrap_or_default()
    );
    // Wait until the job is really training before measuring.
    let waited = Instant::now();
    loop {
        let status: Value = client
            .get(&job_url)
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        match status["status"].as_str() {
            Some("running") => break,
            Some("queued") if waited.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => bail!("the train job did not start running (status {other:?}): {status}"),
        }
    }
    let summary = single(client, base, workload, args.requests, args.connections).await?;
    let paced = match args.rate {
        Some(rate) => {
            let n = (rate as usize * 5).min(args.requests);
            Some(
                drive(
                    client,
                    base,
                    workload,
                    n,
                    args.connections,
                    false,
                    Some(rate),
                )
                .await?,
            )
        }
        None => None,
    };
    let status: Value = client
        .get(&job_url)
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    println!(
        "train job status after the measurement: {} (progress {})",
        status["status"], status["progress"]
    );
    if status["status"] != "running" {
        println!("note: the job ended before the measurement did; part of it ran without training");
    }
    // Do not leave it running: the bench is bounded.
    let _ = client
        .post(format!("{job_url}/cancel"))
        .bearer_auth(token)
        .send()
        .await;
    Ok((summary, paced))
}

fn summarise(mut latencies: Vec<Duration>, errors: usize, wall: Duration) -> Summary {
    latencies.sort_unstable();
    let at = |q: f64| {
        if latencies.is_empty() {
            Duration::ZERO
        } else {
            latencies[((latencies.len() - 1) as f64 * q).round() as usize]
        }
    };
    Summary {
        requests: latencies.len(),
        errors,
        seconds: wall.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        max: at(1.0),
    }
}

/// The CommonLit essays and prompts, read with the training module's reader.
fn commonlit_workload(dir: &std::path::Path) -> anyhow::Result<Workload> {
    let dataset = crate::training::Dataset::from_paths(
        &dir.join("summaries.csv"),
        Some(&dir.join("prompts.csv")),
        &crate::training::DatasetLayout::default(),
    )?;
    let prompts = dataset
        .prompts
        .iter()
        .map(|(id, p)| json!({"id": id, "title": p.title, "question": p.question, "text": p.text}))
        .collect();
    let essays = dataset
        .essays
        .iter()
        .map(|e| (e.prompt_id.clone(), e.text.clone()))
        .collect();
    Ok(Workload { prompts, essays })
}

/// A prompt and 200 essays assembled from its sentences and some of our own,
/// for running without the data. Written for this benchmark.
fn generated_workload() -> Workload {
    const SOURCE: &[&str] = &[
        "Bees carry pollen from flower to flower, and in doing so they let plants make seeds.",
        "A single hive can visit millions of blossoms in one summer.",
        "Farmers who grow almonds, apples and berries rent hives each spring.",
        "When bee colonies collapse, harvests shrink and food prices rise.",
        "Scientists blame a mix of pesticides, parasites and the loss of wild meadows.",
        "Planting native flowers along fields gives bees food between crops.",
        "Some cities now keep hives on rooftops to study how bees adapt.",
        "Protecting bees, the author argues, is protecting the food on our tables.",
    ];
    const OWN: &[&str] = &[
        "I think the article shows that bees matter more than people know.",
        "The text says farmers need bees to grow fruit.",
        "one reason is pesticides and another is parasites",
        "In conclusion we should plant more flowers for them.",
        "This reminded me of my grandmothers garden wich had alot of bees.",
        "The author uses facts about almonds and apples to make the point clear.",
    ];
    let prompt = json!({
        "id": "bench-bees",
        "title": "Why Bees Matter",
        "question": "Summarise the main reasons the author gives for protecting bees.",
        "text": SOURCE.join(" "),
    });
    // A small linear congruential generator: reproducible, no dependency.
    let mut state: u64 = 42;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n
    };
    let essays = (0..200)
        .map(|_| {
            let sentences = 3 + next(10);
            let text: Vec<&str> = (0..sentences)
                .map(|_| {
                    if next(2) == 0 {
                        SOURCE[next(SOURCE.len())]
                    } else {
                        OWN[next(OWN.len())]
                    }
                })
                .collect();
            ("bench-bees".to_owned(), text.join(" "))
        })
        .collect();
    Workload {
        prompts: vec![prompt],
        essays,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_has_no_clashing_options() {
        crate::cli::Cli::command().debug_assert();
    }

    #[test]
    fn the_generated_workload_has_varied_essays() {
        let w = super::generated_workload();
        let distinct: std::collections::HashSet<_> = w.essays.iter().map(|(_, e)| e).collect();
        assert!(distinct.len() > 150);
    }
}
