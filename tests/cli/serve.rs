//! `essay-grader serve` run as an operator runs it: the real binary with the
//! JSON log stream on stdout, driven over loopback. These tests read what the
//! process prints: the generated admin token goes to the terminal (stderr)
//! only, and a whole flow (sign in, register a prompt, grade, upload a
//! dataset, train, activate) logs no essay text, prompt text or secret.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::fixtures::{essay, write_essays, write_prompts};

/// A running `essay-grader serve` and everything it has printed so far.
struct Served {
    child: Child,
    url: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Served {
    /// Starts the binary with exactly these arguments (and no ESSAY_GRADER_*
    /// variables from the test's environment) and waits, at most 30 s, for
    /// the JSON line that says where it listens.
    fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_essay-grader"))
            .arg("serve")
            .args(["--addr", "127.0.0.1:0", "--log-json", "--log", "info"])
            .args(args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let lines = child.stdout.take().unwrap();
        let seen = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(lines).lines().map_while(Result::ok) {
                if line.contains("essay-grader is listening")
                    && let Ok(event) = serde_json::from_str::<Value>(&line)
                    && let Some(addr) = event["fields"]["addr"].as_str()
                {
                    let _ = addr_tx.send(addr.to_owned());
                }
                seen.lock().unwrap().push(line);
            }
        });
        let mut err_pipe = child.stderr.take().unwrap();
        let err_text = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err_text
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "the service did not log its address within 30 s; stderr: {}",
                    stderr.lock().unwrap()
                )
            });
        Served {
            child,
            url: format!("http://{addr}"),
            stdout,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Stops the service with SIGTERM (as `docker stop` does) and waits, at
    /// most 30 s, for it to exit; returns (stdout lines, stderr).
    fn stop(mut self) -> (Vec<String>, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.wait();
        // The reader threads end with the pipes; give them a moment to drain.
        std::thread::sleep(Duration::from_millis(200));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (out, err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("essay-grader.db").display())
}

#[test]
fn the_generated_admin_token_goes_to_stderr_and_never_into_the_log_stream() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&["--database", &sqlite_url(dir.path())]);
    let (stdout, stderr) = served.stop();

    let token = stderr
        .split_whitespace()
        .find(|word| word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no generated token on stderr: {stderr}"));
    assert!(!stdout.is_empty());
    for line in &stdout {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a line of the log stream is not JSON ({e}): {line}"));
        assert!(!line.contains(token), "the token is in the log: {line}");
        assert!(event["level"].is_string(), "{line}");
    }
    assert!(
        stdout
            .iter()
            .any(|l| l.contains("generated a new admin token")),
        "the log says a token was generated (without it): {stdout:?}"
    );

    // Printed once: the next start on the same database prints none.
    let again = Served::start(&["--database", &sqlite_url(dir.path())]);
    let (_, stderr) = again.stop();
    assert!(!stderr.contains(token), "printed a second time: {stderr}");
}

/// The texts the flow sends that must never reach the log: every sentence of
/// every prompt text, the prompt question, and every essay sentence.
fn texts_sent(prompts_csv: &str, essays: &[String]) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut reader = csv::Reader::from_reader(prompts_csv.as_bytes());
    for row in reader.records() {
        let row = row.unwrap();
        texts.push(row[1].to_owned());
        texts.extend(row[3].split(". ").map(|s| s.trim().to_owned()));
    }
    for essay in essays {
        texts.extend(essay.split(['.', '\n']).map(|s| s.trim().to_owned()));
    }
    texts.retain(|t| t.len() >= 20);
    texts.sort();
    texts.dedup();
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_flow_logs_no_essay_text_prompt_text_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let admin_token = "log-check-admin-token-5f0c2e";
    let api_key = "log-check-api-key-9a41d7b3";
    let token_file = dir.path().join("admin_token");
    std::fs::write(&token_file, format!("{admin_token}\n")).unwrap();
    let prompts_path = write_prompts(dir.path());
    let essays_path = write_essays(dir.path(), 12);
    let prompts_csv = std::fs::read_to_string(&prompts_path).unwrap();
    let essays_csv = std::fs::read_to_string(&essays_path).unwrap();

    let served = Served::start(&[
        "--database",
        &sqlite_url(dir.path()),
        "--admin-token-file",
        token_file.to_str().unwrap(),
        "--api-keys",
        api_key,
    ]);
    let client = reqwest::Client::new();

    // Sign in: the session cookie then carries the admin writes, as in the browser.
    let signed_in = client
        .post(served.url("/api/v1/session"))
        .json(&json!({"token": admin_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session_value = cookie.split_once('=').unwrap().1.to_owned();
    let as_admin = |request: reqwest::RequestBuilder| {
        request
            .header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
    };

    // Register a prompt with the API key.
    let mut reader = csv::Reader::from_reader(prompts_csv.as_bytes());
    let first = reader.records().next().unwrap().unwrap();
    let (prompt_id, question, title, text) = (&first[0], &first[1], &first[2], &first[3]);
    let registered = client
        .post(served.url("/api/v1/prompts"))
        .header("x-api-key", api_key)
        .json(&json!({"id": prompt_id, "title": title, "question": question, "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        registered.status().as_u16(),
        201,
        "{:?}",
        registered.text().await
    );

    // Grade: by prompt id, with the prompt inline, and as a batch.
    let essays: Vec<String> = (0..4).map(|i| essay(0, i).0).collect();
    let by_id = client
        .post(served.url("/api/v1/grade"))
        .bearer_auth(api_key)
        .json(&json!({"prompt_id": prompt_id, "essay": essays[0]}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.status().as_u16(), 200, "{:?}", by_id.text().await);
    let inline = client
        .post(served.url("/api/v1/grade"))
        .bearer_auth(api_key)
        .json(&json!({"prompt": {"title": title, "question": question, "text": text}, "essay": essays[1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(inline.status().as_u16(), 200, "{:?}", inline.text().await);
    let batch = client
        .post(served.url("/api/v1/grade/batch"))
        .bearer_auth(api_key)
        .json(&json!({"items": [
            {"prompt_id": prompt_id, "essay": essays[2]},
            {"prompt_id": prompt_id, "essay": essays[3]},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status().as_u16(), 200, "{:?}", batch.text().await);

    // Upload a dataset and train on it, then activate the new model.
    let csv_part = |text: String, name: &str| {
        Part::text(text)
            .file_name(name.to_owned())
            .mime_str("text/csv")
            .unwrap()
    };
    let form = Form::new()
        .part("essays", csv_part(essays_csv.clone(), "essays.csv"))
        .part("prompts", csv_part(prompts_csv.clone(), "prompts.csv"))
        .text("name", "log check");
    let uploaded = as_admin(client.post(served.url("/api/v1/datasets")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        uploaded.status().as_u16(),
        201,
        "{:?}",
        uploaded.text().await
    );
    let dataset: Value = uploaded.json().await.unwrap();
    let queued = as_admin(client.post(served.url("/api/v1/jobs")))
        .json(&json!({"kind": "train", "dataset_id": dataset["id"],
                      "config": {"epochs": 3, "ensemble": 1, "early_stopping": null}}))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status().as_u16(), 202, "{:?}", queued.text().await);
    let job_id = queued.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let job: Value = as_admin(client.get(served.url(&format!("/api/v1/jobs/{job_id}"))))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if matches!(
            job["status"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            break job;
        }
        assert!(Instant::now() < deadline, "the job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["status"], "succeeded", "{job}");
    let model_id = job["model_id"].as_str().unwrap();
    let activated =
        as_admin(client.post(served.url(&format!("/api/v1/models/{model_id}/activate"))))
            .send()
            .await
            .unwrap();
    assert!(
        activated.status().is_success(),
        "{:?}",
        activated.text().await
    );

    let (stdout, stderr) = served.stop();

    // The log stream is JSON at info level and above, and it says what happened.
    let log = stdout.join("\n");
    for line in &stdout {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a line of the log stream is not JSON ({e}): {line}"));
        assert!(
            matches!(event["level"].as_str(), Some("INFO" | "WARN" | "ERROR")),
            "{line}"
        );
    }
    for expected in ["essay-grader is listening", job_id.as_str(), "stopped"] {
        assert!(log.contains(expected), "the log lacks {expected:?}:\n{log}");
    }
    // ...and holds none of the texts or secrets.
    let mut essays_sent = essays.clone();
    essays_sent.extend((0..12).map(|i| essay(0, i).0));
    let texts = texts_sent(&prompts_csv, &essays_sent);
    assert!(texts.len() > 20, "{texts:?}");
    let secrets = [admin_token, api_key, session_value.as_str()];
    for (stream, name) in [(&log, "stdout"), (&stderr, "stderr")] {
        for text in &texts {
            assert!(
                !stream.contains(text.as_str()),
                "{name} holds the text {text:?}:\n{stream}"
            );
        }
        for secret in secrets {
            assert!(!stream.contains(secret), "{name} holds a secret:\n{stream}");
        }
    }
}

/// Runs `essay-grader backup` with these arguments.
fn backup(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_essay-grader"))
        .arg("backup")
        .args(args)
        .env_clear()
        .output()
        .expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_the_prompts_and_models() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let backups = dir.path().join("backups");
    let restored = dir.path().join("restored");
    for d in [&live, &backups, &restored] {
        std::fs::create_dir(d).unwrap();
    }
    let admin_token = "backup-check-admin-token";
    let served = Served::start(&[
        "--database",
        &sqlite_url(&live),
        "--admin-token",
        admin_token,
    ]);
    let client = reqwest::Client::new();
    let (text, _, _) = essay(1, 3);
    let registered = client
        .post(served.url("/api/v1/prompts"))
        .bearer_auth(admin_token)
        .json(&json!({"id": "kept", "title": "Kept", "question": "What is kept?", "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);

    // Twice while serving: the second replaces the first atomically.
    let target = backups.join("essay-grader.db");
    for _ in 0..2 {
        let out = backup(&[
            "--database",
            &sqlite_url(&live),
            "--out",
            target.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "backup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        assert_eq!(report["prompts"], 1, "{report}");
        assert_eq!(report["models"], 1, "{report}");
        assert_eq!(report["integrity_check"], "ok", "{report}");
    }
    let left: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        vec!["essay-grader.db".to_owned()],
        "temp files left behind"
    );
    drop(served.stop());

    // Restore: the copy becomes the database of a new service.
    std::fs::copy(&target, restored.join("essay-grader.db")).unwrap();
    let again = Served::start(&[
        "--database",
        &sqlite_url(&restored),
        "--admin-token",
        admin_token,
    ]);
    let prompt: Value = client
        .get(again.url("/api/v1/prompts/kept"))
        .bearer_auth(admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prompt["text"], text.as_str(), "{prompt}");
    let models: Value = client
        .get(again.url("/api/v1/models"))
        .bearer_auth(admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        models["models"].as_array().map(Vec::len),
        Some(1),
        "{models}"
    );
    assert_eq!(models["models"][0]["active"], true, "{models}");
    drop(again.stop());
}

#[test]
fn backup_refuses_a_postgres_url_and_points_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("b.db");
    let out = backup(&[
        "--database",
        "postgres://eg:pg-password-1@127.0.0.1:1/eg",
        "--out",
        target.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!err.contains("pg-password-1"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
