//! Training jobs: POST /api/v1/jobs, GET list, GET one, GET events (SSE),
//! POST cancel; and the runs and models they leave behind. Every job trains
//! on the 36-essay fixture of datasets.rs with a tiny config, so a whole
//! train takes well under a second; the "long" jobs that tests cancel or
//! interrupt ask for so many epochs that they would run for minutes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::datasets::{
    csv_part, essays_csv_of, prompts_csv, upload, upload_essays, upload_fixture,
};
use crate::helpers::{
    ADMIN_TOKEN, TestApp, assert_error, json_body, refuse_writes, spawn_app, spawn_app_with,
};

/// A train config that finishes quickly on the fixture.
fn tiny_config() -> Value {
    json!({"epochs": 4, "ensemble": 1, "early_stopping": null})
}

/// A train config that would run for minutes on the fixture.
fn long_config() -> Value {
    json!({"epochs": 100_000, "ensemble": 1, "early_stopping": null})
}

async fn post_job(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin_post_json("/api/v1/jobs", &body).await
}

/// Queues a job and returns its id.
async fn queue_job(app: &TestApp, kind: &str, dataset_id: &str, config: Value) -> String {
    let response = post_job(
        app,
        json!({"kind": kind, "dataset_id": dataset_id, "config": config}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 202, "queue a {kind} job");
    let body = json_body(response).await;
    assert_eq!(body["status"], "queued");
    body["id"].as_str().unwrap().to_owned()
}

async fn get_job(app: &TestApp, id: &str) -> Value {
    json_body(app.admin_get(&format!("/api/v1/jobs/{id}")).await).await
}

/// Polls a job until `done` holds, failing after 60 s with the last state.
async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = get_job(app, id).await;
        if done(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "job never got there: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ended(job: &Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

fn training(job: &Value) -> bool {
    job["status"] == "running" && job["progress"]["epoch"].as_u64().is_some_and(|e| e >= 1)
}

async fn cancel(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/jobs/{id}/cancel")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

/// A session cookie (`name=value`) bought with the admin token.
async fn session_cookie(app: &TestApp) -> String {
    let response = app
        .post_json("/api/v1/session", &json!({"token": ADMIN_TOKEN}))
        .await;
    assert!(
        response.status().is_success(),
        "session: {}",
        response.status()
    );
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// Reads a job's event stream to its `end` event: (event name, data).
async fn read_events(app: &TestApp, id: &str, cookie: &str) -> Vec<(String, Value)> {
    let mut response = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{id}/events")))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut buffer = String::new();
    let mut events = Vec::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !data.is_empty() {
                    events.push((name.clone(), serde_json::from_str(&data).unwrap()));
                }
                if name == "end" {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the stream ends with the job");
    events
}

fn essay_request(text: &str) -> Value {
    json!({
        "prompt": {
            "title": "How Bees Talk",
            "question": "Summarise how honeybees tell each other where food is.",
            "text": "A honeybee that finds flowers returns to the hive and dances. The angle of the \
                     line shows the direction of the food compared with the sun."
        },
        "essay": text
    })
}

/// Trains a tiny model on the fixture, activates it and returns its id.
async fn train_and_activate(app: &TestApp, dataset_id: &str) -> String {
    let id = queue_job(app, "train", dataset_id, tiny_config()).await;
    let job = wait_for(app, &id, ended).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let model_id = job["model_id"].as_str().unwrap().to_owned();
    let response = app
        .client
        .post(app.url(&format!("/api/v1/models/{model_id}/activate")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "activate");
    model_id
}

#[tokio::test]
async fn a_train_job_reports_progress_registers_a_model_and_the_model_grades_once_activated() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let cookie = session_cookie(&app).await;

    let id = queue_job(&app, "train", &dataset_id, tiny_config()).await;
    let events = read_events(&app, &id, &cookie).await;
    let job = wait_for(&app, &id, ended).await;

    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["progress"]["epoch"], 4);
    assert_eq!(job["progress"]["epochs"], 4);
    assert!(job["progress"]["eta_s"].as_f64().is_some());
    let (last_name, last) = events.last().unwrap();
    assert_eq!(
        (last_name.as_str(), &last["status"]),
        ("end", &json!("succeeded"))
    );
    assert!(events.iter().all(|(_, e)| e["id"] == id.as_str()));
    // The run: its config is the default merged with the request, its
    // history has one training loss per epoch, its curves draw.
    let run = json_body(app.admin_get(job["links"]["run"].as_str().unwrap()).await).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["config"]["epochs"], 4);
    assert!(
        run["config"]["optimizer"]["name"].is_string(),
        "the full config: {run}"
    );
    assert!(run["timings"]["seconds"].as_f64().unwrap() > 0.0);
    let history = json_body(
        app.admin_get(run["links"]["metrics"].as_str().unwrap())
            .await,
    )
    .await;
    let steps: Vec<i64> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "train_loss")
        .map(|m| m["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, [1, 2, 3, 4]);
    let svg = app
        .admin_get(run["links"]["curves"].as_str().unwrap())
        .await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    // The model: registered with lineage, activated, grading.
    let model_id = job["model_id"].as_str().unwrap();
    let model = json_body(app.admin_get(&format!("/api/v1/models/{model_id}")).await).await;
    assert_eq!(model["run_id"], job["run_id"]);
    assert_eq!(model["dataset_id"], dataset_id.as_str());
    let activate = app
        .client
        .post(app.url(&format!("/api/v1/models/{model_id}/activate")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(activate.status().as_u16(), 200);
    let grade = app
        .post_json(
            "/api/v1/grade",
            &essay_request("Bees dance to show where the flowers are."),
        )
        .await;
    let status = grade.status().as_u16();
    let grade = json_body(grade).await;
    assert_eq!(status, 200, "{grade}");
    assert_eq!(grade["model"]["id"], model_id);
    assert_eq!(grade["model"]["version"], model["version"]);
    assert!(grade["scores"]["content"].as_f64().unwrap().is_finite());
}

#[tokio::test]
async fn a_cv_job_records_pooled_and_per_fold_metrics_in_its_run() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;

    let id = queue_job(&app, "cv", &dataset_id, json!({"epochs": 2, "ensemble": 1})).await;
    let job = wait_for(&app, &id, ended).await;

    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(job["model_id"].is_null(), "cv registers no model");
    let run = json_body(app.admin_get(job["links"]["run"].as_str().unwrap()).await).await;
    let folds = run["metrics"]["folds"].as_array().unwrap();
    let held_out: Vec<&str> = folds
        .iter()
        .map(|f| f["held_out"].as_str().unwrap())
        .collect();
    assert_eq!(held_out, ["bees", "bridge", "rivers"]);
    assert!(
        run["metrics"]["pooled"]["mcrmse"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    let history = json_body(
        app.admin_get(run["links"]["metrics"].as_str().unwrap())
            .await,
    )
    .await;
    let names: Vec<&str> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"pooled/mcrmse"), "{names:?}");
    assert!(names.contains(&"fold_3/train_loss"), "{names:?}");
}

#[tokio::test]
async fn a_train_job_asked_to_cross_validate_first_registers_its_model_with_the_cv_figures() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;

    let response = post_job(
        &app,
        json!({"kind": "train", "dataset_id": dataset_id, "config": tiny_config(), "cv": true}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json_body(response).await["id"].as_str().unwrap().to_owned();
    let job = wait_for(&app, &id, ended).await;

    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["progress"]["phase"], "final");
    let model = json_body(app.admin_get(job["links"]["model"].as_str().unwrap()).await).await;
    let folds = model["metrics"]["cv"]["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3, "one fold per prompt: {model}");
    assert!(
        model["metrics"]["cv"]["pooled"]["mcrmse"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    let run = json_body(app.admin_get(job["links"]["run"].as_str().unwrap()).await).await;
    let history = json_body(
        app.admin_get(run["links"]["metrics"].as_str().unwrap())
            .await,
    )
    .await;
    let names: Vec<&str> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for name in [
        "cv/fold_1/train_loss",
        "cv/pooled/mcrmse",
        "final/train_loss",
        "in_sample/mcrmse",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}

#[tokio::test]
async fn a_sweep_job_cross_validates_every_cell_and_baseline_and_ranks_them() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let grid = json!({
        "base": {"epochs": 2, "ensemble": 1},
        "depths": [1, 2], "units": [8, 4],
        "activations": ["relu"],
        "optimizers": [{"name": "adam", "lrs": [0.01]}],
        "baselines": ["mean"]
    });

    let response = post_job(
        &app,
        json!({"kind": "sweep", "dataset_id": dataset_id, "grid": grid}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json_body(response).await["id"].as_str().unwrap().to_owned();
    let job = wait_for(&app, &id, ended).await;

    assert_eq!(job["status"], "succeeded", "{job}");
    let run = json_body(app.admin_get(job["links"]["run"].as_str().unwrap()).await).await;
    assert_eq!(
        run["config"]["depths"],
        json!([1, 2]),
        "a sweep's run records its grid"
    );
    assert_eq!(run["metrics"]["cells"].as_array().unwrap().len(), 2);
    assert_eq!(run["metrics"]["baselines"].as_array().unwrap().len(), 1);
    let history = json_body(
        app.admin_get(run["links"]["metrics"].as_str().unwrap())
            .await,
    )
    .await;
    let names: Vec<&str> = history["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"cell_0/mcrmse") && names.contains(&"cell_1/mcrmse"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("cell_1/fold_2/")),
        "{names:?}"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("job_queue_depth"),
        "the queue's gauges are exported"
    );
}

/// The pooled MCRMSE of each run of a sweep report, by its label or cell.
fn scores_by_run(report: &Value) -> Vec<(String, Option<f64>)> {
    let mut out = Vec::new();
    for section in ["cells", "baselines", "feature_sets", "feature_k"] {
        for run in report[section].as_array().unwrap() {
            let name = match run["cell"]["index"].as_u64() {
                Some(index) => format!("cell {index}"),
                None => run["label"].as_str().unwrap().to_owned(),
            };
            out.push((format!("{section}: {name}"), run["mcrmse"].as_f64()));
        }
    }
    out
}

#[tokio::test]
async fn a_sweep_job_runs_its_feature_studies_and_scores_them_as_the_cli_does() {
    let app = spawn_app().await;
    // Feature selection needs 32 training rows in each fold: two prompts of 20.
    let dataset_id = upload_essays(&app, essays_csv_of(20)).await;
    let grid = json!({
        "base": {"epochs": 2, "ensemble": 1},
        "depths": [1], "units": [4],
        "activations": ["relu"],
        "optimizers": [{"name": "adam", "lrs": [0.01]}],
        "baselines": ["ridge"],
        "feature_sets": ["default", "all"],
        "feature_k": [3, 8]
    });

    let response = post_job(
        &app,
        json!({"kind": "sweep", "dataset_id": dataset_id, "grid": grid}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json_body(response).await["id"].as_str().unwrap().to_owned();
    let job = wait_for(&app, &id, ended).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let run = json_body(app.admin_get(job["links"]["run"].as_str().unwrap()).await).await;
    let from_job = scores_by_run(&run["metrics"]);

    // The CLI on the same files and grid.
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let essays = file("essays.csv", essays_csv_of(20));
    let prompts = file("prompts.csv", prompts_csv());
    let grid_file = file("grid.json", grid.to_string());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_essay-grader"))
        .arg("sweep")
        .arg("--essays")
        .arg(&essays)
        .arg("--prompts")
        .arg(&prompts)
        .arg("--grid")
        .arg(&grid_file)
        .arg("--report")
        .arg(dir.path().join("report"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_cli = scores_by_run(&serde_json::from_slice(&output.stdout).unwrap());

    let labels: Vec<&str> = from_job.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        labels,
        [
            "cells: cell 0",
            "baselines: ridge",
            "feature_sets: features=default",
            "feature_sets: features=all",
            "feature_k: K=3",
            "feature_k: K=8"
        ]
    );
    assert!(
        from_job
            .iter()
            .all(|(_, mcrmse)| mcrmse.is_some_and(f64::is_finite)),
        "every run scored: {from_job:?}"
    );
    assert_eq!(from_cli.len(), from_job.len(), "{from_cli:?}");
    for ((name, job), (cli_name, cli)) in from_job.iter().zip(&from_cli) {
        assert_eq!(name, cli_name);
        let (job, cli) = (job.unwrap(), cli.unwrap());
        assert!(
            (job - cli).abs() < 1e-9,
            "{name}: the job scored {job}, the CLI {cli}"
        );
    }
}

#[tokio::test]
async fn a_sweep_grid_is_checked_like_the_clis_with_each_field_by_its_path() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let axes = json!({"depths": [1], "activations": ["relu", "swish"],
                      "optimizers": [{"name": "warp", "lrs": [0.1]}], "threads": 2});
    let configs = json!({"base": {"epochs": -1}, "depths": [1], "activations": ["relu"],
                         "optimizers": [{"name": "adam", "lrs": [0.1]}]});
    let sizes = json!({"depths": [1], "activations": ["relu"],
                       "optimizers": [{"name": "adam", "lrs": [0.1]}],
                       "feature_sets": [["e_no_such_feature"]], "feature_k": [0]});

    for (grid, fields) in [
        (
            axes,
            vec![
                "grid.activations[1]",
                "grid.optimizers[0].name",
                "grid.threads",
            ],
        ),
        (configs, vec!["grid.base.epochs"]),
        (sizes, vec!["grid.feature_k[0]", "grid.feature_sets[0]"]),
    ] {
        let response = post_job(
            &app,
            json!({"kind": "sweep", "dataset_id": dataset_id, "grid": grid}),
        )
        .await;

        let error = assert_error(response, 422, "invalid_request").await;
        let named: Vec<&String> = error["error"]["fields"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(named, fields, "{error}");
    }
}

#[tokio::test]
async fn a_job_its_dataset_cannot_serve_is_422_before_it_is_queued() {
    let app = spawn_app().await;
    // One prompt, three essays.
    let essays = "student_id,prompt_id,text,content,wording\n\
                  a1,bees,\"The dance shows where the flowers are.\",0.5,0.1\n\
                  a2,bees,\"bees fly\",-1.0,-0.5\n\
                  a3,bees,\"They waggle to say how far the food is, using the sun.\",1.2,0.9\n";
    let form =
        reqwest::multipart::Form::new().part("essays", csv_part(essays.to_owned(), "one.csv"));
    let response = upload(&app, form).await;
    assert_eq!(response.status().as_u16(), 201);
    let dataset_id = json_body(response).await["id"].as_str().unwrap().to_owned();
    let grid = json!({"depths": [1], "activations": ["relu"],
                      "optimizers": [{"name": "adam", "lrs": [0.1]}]});

    for (body, field, words) in [
        (json!({"kind": "cv"}), "folds", "at least 2 prompts"),
        (
            json!({"kind": "train", "cv": true}),
            "cv",
            "at least 2 prompts",
        ),
        (
            json!({"kind": "sweep", "grid": grid}),
            "dataset_id",
            "at least 2 prompts",
        ),
        (
            json!({"kind": "cv", "folds": 5}),
            "folds",
            "5 folds need at least 5 essays",
        ),
        (
            json!({"kind": "train", "config": {"network": {"output": {"units": 3}}}}),
            "config.network.output.units",
            "has 2 target(s)",
        ),
    ] {
        let mut body = body;
        body["dataset_id"] = json!(dataset_id);
        let response = post_job(&app, body.clone()).await;

        let error = assert_error(response, 422, "invalid_request").await;
        let message = error["error"]["fields"][field].as_str().unwrap_or_default();
        assert!(
            message.contains(words),
            "{field}: {words} in {error} for {body}"
        );
    }
    let jobs = json_body(app.admin_get("/api/v1/jobs").await).await;
    assert_eq!(jobs["jobs"], json!([]), "nothing was queued");
}

#[tokio::test]
async fn a_job_shows_what_it_runs_with_its_config_resolved() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;

    let response = post_job(
        &app,
        json!({"kind": "cv", "dataset_id": dataset_id, "config": long_config(),
               "folds": 3, "model_kind": "ridge"}),
    )
    .await;
    let id = json_body(response).await["id"].as_str().unwrap().to_owned();
    let job = get_job(&app, &id).await;
    cancel(&app, &id).await;

    let request = &job["request"];
    assert_eq!(request["folds"], "3");
    assert_eq!(request["model_kind"], "ridge");
    assert_eq!(request["config"]["epochs"], 100_000);
    assert!(
        request["config"]["optimizer"]["name"].is_string(),
        "every field of the config is resolved: {request}"
    );
}

#[tokio::test]
async fn a_job_whose_training_diverges_fails_with_the_reason_and_the_next_job_still_runs() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    // Squared error without clipping at a huge step size: the loss overflows.
    let diverging = json!({"epochs": 50, "ensemble": 1, "early_stopping": null,
                           "network": {"loss": "mse"}, "clip_grad_norm": null,
                           "optimizer": {"name": "sgd", "lr": 1e12}});

    let failing = queue_job(&app, "train", &dataset_id, diverging).await;
    let failed = wait_for(&app, &failing, ended).await;
    let next = queue_job(&app, "cv", &dataset_id, json!({"epochs": 1, "ensemble": 1})).await;
    let next = wait_for(&app, &next, ended).await;

    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.starts_with("training failed: "), "{error}");
    assert!(failed["model_id"].is_null());
    assert_eq!(next["status"], "succeeded", "{next}");
}

#[tokio::test]
async fn a_bad_config_is_422_listing_every_bad_field() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;

    let response = post_job(
        &app,
        json!({"kind": "train", "dataset_id": dataset_id,
               "config": {"epochs": -3, "optimizer": {"name": "warp-drive"}, "colour": "blue"}}),
    )
    .await;

    let body = assert_error(response, 422, "invalid_request").await;
    let fields = body["error"]["fields"].as_object().unwrap();
    let names: Vec<&String> = fields.keys().collect();
    assert!(fields.contains_key("config.epochs"), "{names:?}");
    assert!(
        names.iter().any(|f| f.starts_with("config.optimizer")),
        "{names:?}"
    );
    assert!(fields.contains_key("config.colour"), "{names:?}");
    let jobs = json_body(app.admin_get("/api/v1/jobs").await).await;
    assert_eq!(jobs["jobs"], json!([]), "nothing was queued");
}

#[tokio::test]
async fn job_requests_of_the_wrong_shape_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let cases = [
        (
            json!({"kind": "train", "dataset_id": dataset_id, "grid": {}}),
            "grid",
        ),
        (json!({"kind": "sweep", "dataset_id": dataset_id}), "grid"),
        (
            json!({"kind": "sweep", "dataset_id": dataset_id, "grid": {"depths": []}}),
            "grid",
        ),
        (
            json!({"kind": "train", "dataset_id": dataset_id, "folds": 3}),
            "folds",
        ),
        (
            json!({"kind": "cv", "dataset_id": dataset_id, "folds": "sideways"}),
            "folds",
        ),
        (
            json!({"kind": "train", "dataset_id": dataset_id, "config": [1, 2]}),
            "config",
        ),
        (json!({"kind": "bake", "dataset_id": dataset_id}), "kind"),
        (json!({"kind": "train"}), "dataset_id"),
        (
            json!({"kind": "train", "dataset_id": dataset_id, "priority": 1}),
            "priority",
        ),
    ];
    for (body, field) in cases {
        let response = post_job(&app, body.clone()).await;
        let error = assert_error(response, 422, "invalid_request").await;
        assert!(
            error["error"]["fields"][field].is_string(),
            "{field} in {error} for {body}"
        );
    }
}

#[tokio::test]
async fn unknown_dataset_and_job_ids_are_404() {
    let app = spawn_app().await;
    let response = post_job(&app, json!({"kind": "train", "dataset_id": "nope"})).await;
    assert_error(response, 404, "not_found").await;
    for path in ["/api/v1/jobs/nope", "/api/v1/jobs/nope/events"] {
        assert_error(app.admin_get(path).await, 404, "not_found").await;
    }
    assert_error(cancel(&app, "nope").await, 404, "not_found").await;
}

#[tokio::test]
async fn job_routes_need_admin_credentials() {
    let app = spawn_app().await;
    for path in ["/api/v1/jobs", "/api/v1/jobs/x", "/api/v1/jobs/x/events"] {
        assert_error(app.get(path).await, 401, "unauthorized").await;
    }
    let body = json!({"kind": "train", "dataset_id": "x"});
    assert_error(
        app.post_json("/api/v1/jobs", &body).await,
        401,
        "unauthorized",
    )
    .await;
    let response = app
        .client
        .post(app.url("/api/v1/jobs/x/cancel"))
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn the_job_list_shows_the_newest_first_and_checks_its_limit() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let first = queue_job(&app, "cv", &dataset_id, json!({"epochs": 1, "ensemble": 1})).await;
    let second = queue_job(&app, "cv", &dataset_id, json!({"epochs": 1, "ensemble": 1})).await;

    let list = json_body(app.admin_get("/api/v1/jobs").await).await;
    let ids: Vec<&str> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    let one = json_body(app.admin_get("/api/v1/jobs?limit=1").await).await;
    assert_eq!(one["jobs"].as_array().unwrap().len(), 1);
    assert_error(
        app.admin_get("/api/v1/jobs?limit=0").await,
        422,
        "invalid_request",
    )
    .await;
    assert_error(
        app.admin_get("/api/v1/jobs?limit=ten").await,
        422,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn cancelling_stops_a_running_job_and_cancels_a_queued_one_at_once() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let running = queue_job(&app, "train", &dataset_id, long_config()).await;
    // One worker: the second job waits behind the first.
    let queued = queue_job(&app, "train", &dataset_id, tiny_config()).await;
    wait_for(&app, &running, training).await;

    let response = cancel(&app, &queued).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(json_body(response).await["status"], "cancelled");
    let response = cancel(&app, &running).await;
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(json_body(response).await["cancel_requested"], true);

    let job = wait_for(&app, &running, ended).await;
    assert_eq!(job["status"], "cancelled");
    assert!(job["model_id"].is_null());
    let run = json_body(app.admin_get(job["links"]["run"].as_str().unwrap()).await).await;
    assert_eq!(run["status"], "cancelled");
    assert_error(cancel(&app, &running).await, 409, "conflict").await;
    let models = json_body(app.admin_get("/api/v1/models").await).await;
    assert!(
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["run_id"] != job["run_id"])
    );
}

#[tokio::test]
async fn a_dataset_a_running_job_uses_cannot_be_deleted_until_the_job_ends() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let id = queue_job(&app, "train", &dataset_id, long_config()).await;
    wait_for(&app, &id, training).await;
    let delete = || {
        app.client
            .delete(app.url(&format!("/api/v1/datasets/{dataset_id}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };

    let body = assert_error(delete().await.unwrap(), 409, "conflict").await;
    assert!(body["error"]["message"].as_str().unwrap().contains(&id));

    cancel(&app, &id).await;
    wait_for(&app, &id, ended).await;
    assert_eq!(delete().await.unwrap().status().as_u16(), 204);
    // The job and its run still say what they trained on.
    let job = get_job(&app, &id).await;
    assert_eq!(job["dataset_id"], dataset_id.as_str());
    let response = post_job(&app, json!({"kind": "train", "dataset_id": dataset_id})).await;
    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn grading_keeps_answering_while_a_job_trains() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let model_id = train_and_activate(&app, &dataset_id).await;
    let id = queue_job(&app, "train", &dataset_id, long_config()).await;
    let before = wait_for(&app, &id, training).await;

    let requests = (0..32).map(|i| {
        let request = essay_request(&format!(
            "Essay {i}: the bees dance to point at the flowers and the sun."
        ));
        let app = &app;
        async move { app.post_json("/api/v1/grade", &request).await }
    });
    let responses = futures_util::future::join_all(requests).await;

    for response in responses {
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(json_body(response).await["model"]["id"], model_id.as_str());
    }
    let after = get_job(&app, &id).await;
    assert_eq!(after["status"], "running", "the job kept training: {after}");
    let epoch = |job: &Value| {
        job["progress"]["epoch"]
            .as_u64()
            .expect("a running job's epoch")
    };
    assert!(epoch(&after) >= epoch(&before), "{before} then {after}");
    cancel(&app, &id).await;
    wait_for(&app, &id, ended).await;
}

#[tokio::test]
async fn a_job_interrupted_by_a_restart_is_requeued_and_completes_on_the_next_start() {
    let app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let id = queue_job(
        &app,
        "train",
        &dataset_id,
        json!({"epochs": RESTART_EPOCHS, "ensemble": 1, "early_stopping": null}),
    )
    .await;
    let interrupted = wait_for(&app, &id, training).await;

    let app = app.restart().await;

    let job = wait_for(&app, &id, ended).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_ne!(
        job["started_at"], interrupted["started_at"],
        "the new app ran it again"
    );
    assert_eq!(
        job["attempts"], 1,
        "a graceful stop does not count as an attempt"
    );
    assert!(job["model_id"].is_string());
}

/// Epochs of the job the restart test interrupts: enough that it is still
/// training when the stop arrives, few enough that the rerun is quick.
const RESTART_EPOCHS: u64 = 500;

#[tokio::test]
async fn a_job_left_running_by_a_crash_is_requeued_when_its_lease_lapses_keeping_its_attempt_and_completes()
 {
    let mut app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    app.stop().await;
    // Another process queued a job, claimed it and died without a word (kill -9).
    let pool = essay_grader::store::open(&app.settings.database, 1)
        .await
        .unwrap();
    let job_id = essay_grader::store::new_id();
    let new = essay_grader::store::jobs::NewJob {
        id: job_id.clone(),
        run_id: essay_grader::store::new_id(),
        kind: "cv".into(),
        dataset_id,
        config: json!({"config": {"epochs": 1, "ensemble": 1}}).to_string(),
        resolved_config: "{}".into(),
        created_at: essay_grader::store::now(),
    };
    essay_grader::store::jobs::insert_job(&pool, &new)
        .await
        .unwrap();
    // Its lease of 3 s (the shortest allowed) was running when it died.
    let now = time::OffsetDateTime::now_utc();
    let (claimed_at, expires_at) = (
        essay_grader::store::format_time(now),
        essay_grader::store::format_time(now + Duration::from_secs(3)),
    );
    let terms = essay_grader::store::jobs::LeaseTerms {
        now: &claimed_at,
        expires_at: &expires_at,
    };
    essay_grader::store::jobs::claim_next_job(&pool, "a-dead-process", terms)
        .await
        .unwrap()
        .unwrap();
    pool.close().await;

    let mut settings = app.settings.clone();
    settings.job_lease_secs = 3;
    let app = crate::helpers::start(settings, app.dir.clone()).await;

    let job = wait_for(&app, &job_id, ended).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2);
}

#[tokio::test]
async fn a_server_stopping_ends_open_event_streams_instead_of_waiting_for_them() {
    let mut app = spawn_app().await;
    let dataset_id = upload_fixture(&app).await;
    let id = queue_job(&app, "train", &dataset_id, long_config()).await;
    wait_for(&app, &id, training).await;
    let mut stream = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{id}/events")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        stream.chunk().await.unwrap().is_some(),
        "a first event arrives"
    );

    tokio::time::timeout(Duration::from_secs(20), app.stop())
        .await
        .expect("the server stops although a client is still listening");

    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the stream was closed");
}

#[tokio::test]
async fn a_job_ending_while_the_database_refuses_writes_is_recorded_once_it_takes_them_and_not_rerun()
 {
    // One pooled connection, so `refuse_writes` holds for every query; the
    // shortest lease, so it lapses while the end is held.
    let app = spawn_app_with(|settings| {
        settings.db_max_connections = 1;
        settings.job_lease_secs = 3;
    })
    .await;
    let dataset_id = upload_fixture(&app).await;
    let id = queue_job(
        &app,
        "train",
        &dataset_id,
        json!({"epochs": 40, "ensemble": 1, "early_stopping": null}),
    )
    .await;
    wait_for(&app, &id, training).await;
    let mut live = app.state.jobs.watch(&id).expect("running here");

    refuse_writes(&app, true).await;
    live.wait_for(|snapshot| {
        snapshot
            .progress
            .as_ref()
            .is_some_and(|p| p.epoch == p.epochs && p.member == p.members)
    })
    .await
    .expect("training reaches its last epoch");
    // A whole lease and more, with the end held in memory.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let while_refused = get_job(&app, &id).await;
    let held = app.state.jobs.watch(&id).is_some();
    refuse_writes(&app, false).await;
    let job = wait_for(&app, &id, ended).await;

    assert_eq!(while_refused["status"], "running", "{while_refused}");
    assert!(held, "the worker still holds the finished job");
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 1, "not rerun: {job}");
    assert!(
        job["model_id"].is_string(),
        "its model is registered: {job}"
    );
}
