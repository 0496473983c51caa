//! Two replicas of the built binary (`essay-grader serve`, real processes,
//! each on its own port) sharing one database: a PostgreSQL database in the
//! Postgres run, one SQLite file in the SQLite run. They share the job queue
//! (leases), the model registry (activations followed by polling), prompts
//! and admin credentials.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::datasets::{csv_part, essays_csv, prompts_csv};
use crate::helpers::{ADMIN_TOKEN, fresh_database_url, json_body};

/// Lease of the replicas' jobs: short, so a killed replica's job is rerun soon.
const LEASE_SECS: u64 = 3;

/// One `essay-grader serve` process.
struct Replica {
    base: String,
    child: Child,
    client: reqwest::Client,
}

impl Replica {
    /// Starts a replica on `database` and waits until it answers `/health`.
    async fn start(database: &str) -> Replica {
        // A free port: bind, read, release. Another process could take it in
        // between; on loopback in a test run that does not happen in practice.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_essay-grader"))
            .arg("serve")
            .env("ESSAY_GRADER_ADDR", format!("127.0.0.1:{port}"))
            .env("ESSAY_GRADER_DATABASE", database)
            .env("ESSAY_GRADER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("ESSAY_GRADER_WORKERS", "1")
            .env("ESSAY_GRADER_JOB_LEASE_SECS", LEASE_SECS.to_string())
            .env("ESSAY_GRADER_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start essay-grader serve");
        let replica = Replica {
            base: format!("http://127.0.0.1:{port}"),
            child,
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = replica.client.get(replica.url("/health")).send().await
                && response.status().is_success()
            {
                return replica;
            }
            assert!(
                Instant::now() < deadline,
                "replica on port {port} never came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// kill -9.
    fn kill(&mut self) {
        self.child.kill().expect("kill -9 the replica");
        let _ = self.child.wait();
    }

    async fn admin_get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        json_body(response).await
    }

    async fn admin_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn upload_fixture(&self) -> String {
        let form = Form::new()
            .part("essays", csv_part(essays_csv(), "essays.csv"))
            .part("prompts", csv_part(prompts_csv(), "prompts.csv"))
            .text("name", "fixture");
        let response = self
            .client
            .post(self.url("/api/v1/datasets"))
            .bearer_auth(ADMIN_TOKEN)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "upload");
        json_body(response).await["id"].as_str().unwrap().to_owned()
    }

    async fn queue(&self, kind: &str, dataset_id: &str, config: Value) -> String {
        let response = self
            .admin_post(
                "/api/v1/jobs",
                &json!({"kind": kind, "dataset_id": dataset_id, "config": config}),
            )
            .await;
        assert_eq!(response.status().as_u16(), 202, "queue a job");
        json_body(response).await["id"].as_str().unwrap().to_owned()
    }

    async fn wait_for_job(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let job = self.admin_get(&format!("/api/v1/jobs/{id}")).await;
            if done(&job) {
                return job;
            }
            assert!(Instant::now() < deadline, "job never got there: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn grade(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/grade"))
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two replicas on one fresh database, and a pool of the test's own on it.
struct Cluster {
    a: Replica,
    b: Replica,
    database: essay_grader::store::Db,
    /// Holds the SQLite file of the SQLite run.
    _dir: tempfile::TempDir,
}

async fn two_replicas() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let a = Replica::start(&url).await;
    let b = Replica::start(&url).await;
    let database = essay_grader::store::open(&url, 2).await.unwrap();
    Cluster {
        a,
        b,
        database,
        _dir: dir,
    }
}

fn ended(job: &Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

/// The process holding (or last holding) a job, from the store's
/// `claimed_by` ("host:pid:suffix"), read through the shared database.
async fn holder_pid(database: &essay_grader::store::Db, job_id: &str) -> Option<u32> {
    let job = essay_grader::store::jobs::get_job(database, job_id)
        .await
        .unwrap()?;
    job.claimed_by?.split(':').nth(1)?.parse().ok()
}

const ESSAY: &str = "The bee dances to show the others where the flowers are. The angle of \
                     the dance points the way compared with the sun, and the length of the \
                     waggle says how far the food is.";

#[tokio::test]
async fn six_jobs_queued_on_two_replicas_each_run_exactly_once_spread_over_both() {
    let Cluster { a, b, database, .. } = &two_replicas().await;
    let dataset_id = a.upload_fixture().await;

    let mut ids = Vec::new();
    for n in 0..6 {
        let replica = if n % 2 == 0 { a } else { b };
        let config = json!({"epochs": 60, "ensemble": 1, "early_stopping": null});
        ids.push(replica.queue("cv", &dataset_id, config).await);
    }
    let mut jobs = Vec::new();
    for id in &ids {
        jobs.push(b.wait_for_job(id, ended).await);
    }
    let mut holders = std::collections::BTreeSet::new();
    for id in &ids {
        holders.insert(holder_pid(database, id).await);
    }

    for job in &jobs {
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["attempts"], 1, "ran once: {job}");
    }
    let pids: std::collections::BTreeSet<_> = [Some(a.pid()), Some(b.pid())].into();
    assert_eq!(holders, pids, "both replicas trained some of the jobs");
}

#[tokio::test]
async fn a_job_of_a_replica_killed_mid_training_is_finished_by_the_other_after_its_lease() {
    let mut cluster = two_replicas().await;
    let Cluster { a, b, database, .. } = &mut cluster;
    let dataset_id = a.upload_fixture().await;
    // Long enough to be mid-training when killed, short enough to finish in
    // seconds when rerun.
    let config = json!({"epochs": 400, "ensemble": 1, "early_stopping": null});
    let id = a.queue("train", &dataset_id, config).await;
    let running = a
        .wait_for_job(&id, |job| {
            job["status"] == "running" && job["progress"]["epoch"].as_u64().is_some_and(|e| e >= 1)
        })
        .await;

    let holder = holder_pid(database, &id).await.expect("a holder");
    let (victim, survivor) = if holder == a.pid() {
        (a, &*b)
    } else {
        (b, &*a)
    };
    let killed_at = Instant::now();
    victim.kill();
    let job = survivor.wait_for_job(&id, ended).await;
    let rerun_after = killed_at.elapsed();

    assert_eq!(running["attempts"], 1);
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "the killed attempt counts: {job}");
    assert!(
        job["model_id"].is_string(),
        "its model is registered: {job}"
    );
    assert_eq!(holder_pid(database, &id).await, Some(survivor.pid()));
    assert!(
        rerun_after >= Duration::from_secs(LEASE_SECS) - Duration::from_millis(1500),
        "rerun only once the lease could have lapsed: {rerun_after:?}"
    );
    let run = survivor
        .admin_get(&format!("/api/v1/runs/{}", job["run_id"].as_str().unwrap()))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
}

#[tokio::test]
async fn kill_9_mid_training_then_a_restart_completes_the_job_and_loses_no_job_run_or_model() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let mut first = Replica::start(&url).await;
    let dataset_id = first.upload_fixture().await;
    let tiny = json!({"epochs": 4, "ensemble": 1, "early_stopping": null});
    let done_before = first.queue("train", &dataset_id, tiny).await;
    let done_before = first.wait_for_job(&done_before, ended).await;
    assert_eq!(done_before["status"], "succeeded", "{done_before}");
    let long = json!({"epochs": 400, "ensemble": 1, "early_stopping": null});
    let id = first.queue("train", &dataset_id, long).await;
    first
        .wait_for_job(&id, |job| {
            job["status"] == "running" && job["progress"]["epoch"].as_u64().is_some_and(|e| e >= 1)
        })
        .await;
    let models_before = first.admin_get("/api/v1/models").await["models"].clone();

    first.kill();
    let restarted = Replica::start(&url).await;
    let job = restarted.wait_for_job(&id, ended).await;

    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "the killed attempt counts: {job}");
    let models = restarted.admin_get("/api/v1/models").await["models"].clone();
    let versions: Vec<i64> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1], "every version kept, one new: {models}");
    for model in models_before.as_array().unwrap() {
        assert!(
            models
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == model["id"]),
            "{model} is still registered"
        );
    }
    assert_eq!(models[0]["id"], job["model_id"], "{models}");
    let jobs = restarted.admin_get("/api/v1/jobs").await["jobs"].clone();
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs}");
    for job in [&done_before, &job] {
        let run = restarted
            .admin_get(&format!("/api/v1/runs/{}", job["run_id"].as_str().unwrap()))
            .await;
        assert_eq!(run["status"], "succeeded", "{run}");
    }
}

#[tokio::test]
async fn a_model_activated_on_one_replica_grades_on_the_other_within_two_seconds() {
    let Cluster { a, b, .. } = &two_replicas().await;
    let dataset_id = a.upload_fixture().await;
    let tiny = json!({"epochs": 4, "ensemble": 1, "early_stopping": null});
    let job_id = a.queue("train", &dataset_id, tiny).await;
    let job = a.wait_for_job(&job_id, ended).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let model_id = job["model_id"].as_str().unwrap().to_owned();
    let request = json!({
        "prompt": {"title": "Bees", "question": "How do bees talk?", "text": "Bees dance to say where food is."},
        "essay": ESSAY
    });
    let before = json_body(b.grade(&request).await).await;
    assert_eq!(before["model"]["version"], 1, "{before}");

    let activated = a
        .admin_post(&format!("/api/v1/models/{model_id}/activate"), &json!({}))
        .await;
    assert_eq!(activated.status().as_u16(), 200);
    let activated_at = Instant::now();
    let mut answers = 0;
    let seen_after = loop {
        let response = b.grade(&request).await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "no request fails during the switch"
        );
        answers += 1;
        let body = json_body(response).await;
        if body["model"]["id"] == model_id.as_str() {
            break activated_at.elapsed();
        }
        assert!(
            activated_at.elapsed() < Duration::from_secs(2),
            "replica b still grades with {} after 2 s",
            body["model"]
        );
    };

    assert!(seen_after < Duration::from_secs(2), "{seen_after:?}");
    assert!(answers >= 1);
}

#[tokio::test]
async fn a_prompt_registered_on_one_replica_grades_on_the_other() {
    let Cluster { a, b, .. } = &two_replicas().await;
    let registered = a
        .admin_post(
            "/api/v1/prompts",
            &json!({"id": "bees", "title": "Bees", "question": "How do bees talk?",
                    "text": "Bees dance to say where food is. The angle shows the way."}),
        )
        .await;
    assert_eq!(registered.status().as_u16(), 201);

    let response = b.grade(&json!({"prompt_id": "bees", "essay": ESSAY})).await;

    assert_eq!(response.status().as_u16(), 200);
    let body = json_body(response).await;
    assert!(body["scores"].is_object(), "{body}");
}

/// Polls `replica`'s grade of `essay` for the bees prompt until `settled`
/// holds; fails if that takes 2 s or any grade is not a 200. Returns the
/// last grade.
async fn grade_until_within_two_seconds(
    replica: &Replica,
    essay: &str,
    settled: impl Fn(&Value) -> bool,
) -> Value {
    let since = Instant::now();
    loop {
        let response = replica
            .grade(&json!({"prompt_id": "bees", "essay": essay}))
            .await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "no grade fails during a refit"
        );
        let body = json_body(response).await;
        if settled(&body) {
            return body;
        }
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "not there after 2 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn examples_posted_and_deleted_on_one_replica_calibrate_and_uncalibrate_the_other_within_two_seconds()
 {
    let Cluster { a, b, .. } = &two_replicas().await;
    let registered = a
        .admin_post(
            "/api/v1/prompts",
            &json!({"id": "bees", "title": "Bees", "question": "How do bees talk?",
                    "text": "Bees dance to say where food is. The angle shows the way."}),
        )
        .await;
    assert_eq!(registered.status().as_u16(), 201);
    let raw = json_body(b.grade(&json!({"prompt_id": "bees", "essay": ESSAY})).await).await;
    assert!(raw.get("calibration").is_none(), "raw before: {raw}");
    let examples: Vec<Value> = (0..4)
        .map(|i| {
            json!({"essay": format!("{ESSAY} Example number {i} adds a sentence of its own."),
                   "scores": {"content": 1.5 + 0.1 * f64::from(i), "wording": 1.0}})
        })
        .collect();

    let posted = a
        .admin_post(
            "/api/v1/prompts/bees/examples",
            &json!({"examples": examples}),
        )
        .await;
    assert_eq!(posted.status().as_u16(), 201);
    let calibrated =
        grade_until_within_two_seconds(b, ESSAY, |grade| grade["calibration"]["examples"] == 4)
            .await;
    let deleted = a
        .client
        .delete(a.url("/api/v1/prompts/bees/examples"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    let raw_again =
        grade_until_within_two_seconds(b, ESSAY, |grade| grade.get("calibration").is_none()).await;

    assert_ne!(
        calibrated["scores"]["content"], raw["scores"]["content"],
        "the calibration moved the score: {calibrated}"
    );
    let (before, after) = (
        raw["scores"]["content"].as_f64().unwrap(),
        raw_again["scores"]["content"].as_f64().unwrap(),
    );
    assert!(
        (before - after).abs() < 1e-6,
        "raw again: {before} vs {after}"
    );
}

#[tokio::test]
async fn a_session_from_one_replica_follows_and_cancels_a_job_the_other_trains() {
    let Cluster { a, b, database, .. } = &two_replicas().await;
    let dataset_id = a.upload_fixture().await;
    let long = json!({"epochs": 100_000, "ensemble": 1, "early_stopping": null});
    let id = a.queue("train", &dataset_id, long).await;
    a.wait_for_job(&id, |job| {
        job["status"] == "running" && job["progress"]["epoch"].as_u64().is_some_and(|e| e >= 1)
    })
    .await;
    let holder = holder_pid(database, &id).await.expect("a holder");
    let (trainer, other) = if holder == a.pid() { (a, b) } else { (b, a) };
    // Signed in on the trainer, the browser's requests land on the other.
    let signed_in = trainer
        .client
        .post(trainer.url("/api/v1/session"))
        .json(&json!({"token": ADMIN_TOKEN}))
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_success());
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut stream = other
        .client
        .get(other.url(&format!("/api/v1/jobs/{id}/events")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream.status().as_u16(),
        200,
        "the session holds on the other replica"
    );

    let mut text = String::new();
    // Progress written by the trainer arrives through the other replica.
    let progress = tokio::time::timeout(Duration::from_secs(30), async {
        while !text.contains("event: progress") || !text.contains("\"epoch\"") {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await;
    assert!(progress.is_ok(), "no progress event: {text}");
    let cancelled = other
        .client
        .post(other.url(&format!("/api/v1/jobs/{id}/cancel")))
        .header("cookie", &cookie)
        // What the browser adds to a write from our own page.
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert!(
        cancelled.status().is_success(),
        "cancel: {}",
        cancelled.status()
    );
    let ended_stream = tokio::time::timeout(Duration::from_secs(30), async {
        while !text.contains("event: end") {
            match stream.chunk().await.unwrap() {
                Some(chunk) => text.push_str(std::str::from_utf8(&chunk).unwrap()),
                None => break,
            }
        }
    })
    .await;
    let job = other.wait_for_job(&id, ended).await;

    assert!(ended_stream.is_ok(), "the stream did not end: {text}");
    assert!(text.contains("event: end"), "{text}");
    assert_eq!(job["status"], "cancelled", "the trainer stopped it: {job}");
    assert_eq!(job["attempts"], 1);
}
