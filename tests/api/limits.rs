//! The grading CPU's admission (slots and a bounded waiting room, 503 with
//! `Retry-After` beyond), batches that stop once abandoned, and 1,000
//! concurrent grading connections against a separate server process whose
//! memory is read from /proc.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::grading::{ESSAY, register_bees};
use crate::helpers::{ADMIN_TOKEN, TestApp, assert_error, spawn_app_with};

/// A batch of `n` distinct essays against the registered prompt `bees`.
/// Essays in the batches that must still be grading when their request ends:
/// more than a debug build grades within the 1 s those tests allow, even on
/// an idle machine (1,000 once finished in time there).
const LONG_BATCH: usize = 10_000;

fn bees_batch(n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"prompt_id": "bees", "essay": format!("{ESSAY} This is essay {i}.")}))
        .collect();
    json!({"items": items})
}

/// Waits (at most 30 s) until no batch holds a grading slot, then checks that
/// the count of graded batch essays no longer moves; returns it.
async fn batch_essays_once_stopped(app: &TestApp) -> u64 {
    let slots = &app.state.grading_slots;
    let deadline = Instant::now() + Duration::from_secs(30);
    while slots.free() < slots.slots() {
        assert!(
            Instant::now() < deadline,
            "the abandoned batch still holds its slots after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped_at = slots.batch_essays_graded();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slots.batch_essays_graded(), stopped_at, "it kept grading");
    stopped_at
}

#[tokio::test]
async fn a_request_finding_every_slot_busy_and_no_waiting_room_is_shed_with_503() {
    let app = spawn_app_with(|s| {
        s.grading_slots = 1;
        s.grading_queue = 0;
    })
    .await;
    register_bees(&app).await;
    let body = json!({"prompt_id": "bees", "essay": ESSAY});
    // The first grade prepares the prompt; then the test holds the only slot.
    assert_eq!(
        app.post_json("/api/v1/grade", &body)
            .await
            .status()
            .as_u16(),
        200
    );
    let held = app
        .state
        .grading_slots
        .acquire(essay_grader::http::grading_slots::SlotUse::Single)
        .await
        .unwrap();

    let response = app.post_json("/api/v1/grade", &body).await;
    assert_eq!(response.headers()["retry-after"], "1");
    let shed = assert_error(response, 503, "overloaded").await;
    assert!(
        shed["error"]["message"].as_str().unwrap().contains("retry"),
        "{shed}"
    );
    let batch = app.post_json("/api/v1/grade/batch", &bees_batch(2)).await;
    assert_eq!(batch.headers()["retry-after"], "1");
    assert_error(batch, 503, "overloaded").await;
    let inline = app
        .post_json(
            "/api/v1/grade",
            &json!({"prompt": {"text": "A text never prepared before."}, "essay": ESSAY}),
        )
        .await;
    assert_error(inline, 503, "overloaded").await;
    assert_eq!(app.state.grading_slots.shed(), 3);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("grading_shed_total"), "{metrics}");

    drop(held);
    assert_eq!(
        app.post_json("/api/v1/grade", &body)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_batch_whose_request_timed_out_stops_grading() {
    let app = spawn_app_with(|s| {
        s.request_timeout_secs = 1;
        s.batch_max_items = LONG_BATCH;
    })
    .await;
    register_bees(&app).await;
    let started = Instant::now();
    let response = app
        .post_json("/api/v1/grade/batch", &bees_batch(LONG_BATCH))
        .await;
    assert_error(response, 408, "timeout").await;
    let graded = batch_essays_once_stopped(&app).await;
    eprintln!(
        "timed-out batch: {graded} of {LONG_BATCH} essays graded; stopped {:?} after the request began",
        started.elapsed()
    );
    assert!(
        graded < LONG_BATCH as u64,
        "the whole batch was graded: {graded}"
    );
}

#[tokio::test]
async fn a_batch_whose_client_went_away_stops_grading() {
    let app = spawn_app_with(|s| s.batch_max_items = LONG_BATCH).await;
    register_bees(&app).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let sent = impatient
        .post(app.url("/api/v1/grade/batch"))
        .json(&bees_batch(LONG_BATCH))
        .send()
        .await;
    assert!(sent.as_ref().is_err_and(|e| e.is_timeout()), "{sent:?}");
    let graded = batch_essays_once_stopped(&app).await;
    eprintln!("abandoned batch: {graded} of {LONG_BATCH} essays graded");
    assert!(
        graded < LONG_BATCH as u64,
        "the whole batch was graded: {graded}"
    );
}

/// `essay-grader serve` as a child process on a fresh database, so that its
/// memory is its own; killed when dropped.
struct ServerProcess {
    child: tokio::process::Child,
    address: String,
}

impl ServerProcess {
    async fn start(dir: &std::path::Path) -> Self {
        use tokio::io::AsyncBufReadExt;
        let database = crate::helpers::fresh_database_url(dir).await;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_essay-grader"))
            .args(["serve", "--addr", "127.0.0.1:0", "--database", &database])
            .args(["--admin-token", ADMIN_TOKEN, "--log-json"])
            .args(["--log", "info,sqlx=warn,tower_http=warn"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start essay-grader serve");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read the server's log") {
                let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(addr) = entry["fields"]["addr"].as_str() {
                    return format!("http://{addr}");
                }
            }
            panic!("the server exited before listening");
        })
        .await
        .expect("the server listens within 60 s");
        // Keep reading its log, so that a full pipe never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, address }
    }

    /// A line of /proc/<pid>/status in bytes, e.g. `VmHWM` (peak resident
    /// memory) or `VmRSS`.
    fn memory(&self, field: &str) -> u64 {
        let pid = self.child.id().expect("the server is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
        kib * 1024
    }
}

/// The bound docs/security.md states for the server's peak resident memory
/// through 1,000 concurrent grading connections.
const PEAK_RSS_BOUND: u64 = 256 * 1024 * 1024;

// The server runs with the default settings. The client runs on two
// threads, so that the 1,000 connections open and send as nearly at once as
// the machine allows; half of them paste a prompt of their own, so that the
// server has more work than its slots and waiting room take, and sheds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_grading_connections_get_only_grades_or_clean_sheddings() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path()).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.address);
    let registered = client
        .post(url("/api/v1/prompts"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "bees", "text": crate::grading::SOURCE}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    let body = json!({"prompt_id": "bees", "essay": ESSAY});
    let first = client.post(url("/api/v1/grade")).json(&body).send().await;
    assert_eq!(first.unwrap().status().as_u16(), 200);
    let rss_before = server.memory("VmRSS");

    let outcome = tokio::time::timeout(Duration::from_secs(180), async {
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..1000 {
            // A client each: 1,000 connections, not a shared pool. Every
            // other request pastes a prompt of its own, which the server must
            // prepare (the costly case, and the one that fills the inline
            // prompt cache).
            let client = reqwest::Client::new();
            let body = if i % 2 == 0 {
                body.clone()
            } else {
                let text = format!("{} Version {i}.", crate::grading::SOURCE.repeat(8));
                json!({"prompt": {"title": format!("Bees {i}"), "text": text}, "essay": ESSAY})
            };
            let url = url("/api/v1/grade");
            requests.spawn(async move {
                let response = client.post(url).json(&body).send().await?;
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").cloned();
                let body: Value = response.json().await?;
                Ok::<_, reqwest::Error>((status, retry_after, body))
            });
        }
        requests.join_all().await
    })
    .await
    .expect("1,000 requests finish within 180 s");

    let (mut graded, mut shed, mut limited) = (0, 0, 0);
    for result in outcome {
        let (status, retry_after, body) = result.expect("every connection gets an answer");
        match status {
            200 => {
                assert!(body["scores"].is_object(), "{body}");
                graded += 1;
            }
            503 | 429 => {
                assert!(
                    retry_after.is_some(),
                    "{status} without Retry-After: {body}"
                );
                assert!(body["error"]["message"].is_string(), "{body}");
                if status == 503 {
                    assert_eq!(body["error"]["code"], "overloaded", "{body}");
                    shed += 1;
                } else {
                    limited += 1;
                }
            }
            other => panic!("status {other}: {body}"),
        }
    }
    let peak = server.memory("VmHWM");
    eprintln!(
        "1,000 connections: {graded} graded, {shed} shed (503), {limited} limited (429); \
         server RSS {} MiB before, peak {} MiB",
        rss_before >> 20,
        peak >> 20
    );
    assert!(graded > 0);
    assert!(
        peak < PEAK_RSS_BOUND,
        "peak RSS {} MiB over the stated bound",
        peak >> 20
    );
    let metrics = client.get(url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let counted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("grading_shed_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted as u64, shed, "the shed metric counts every 503");
}
