//! A prompt's examples and calibration: POST/GET/DELETE
//! /api/v1/prompts/{id}/examples, DELETE …/examples/{example_id},
//! GET …/examples.csv, GET …/calibration, calibrated grading, refits on
//! activation, and POST /api/v1/datasets/from-examples. The essays are
//! written for these tests from the sentences below.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use essay_grader::config::Secret;
use essay_grader::store::models::{NewModel, register_model};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::grading::{ESSAY, register_bees};
use crate::helpers::{ADMIN_TOKEN, TestApp, assert_error, json_body, spawn_app, spawn_app_with};

const SENTENCES: [&str; 10] = [
    "Bees move pollen between flowers so that plants can make seeds.",
    "Farmers rent hives every spring for almonds, apples and berries.",
    "One hive can visit millions of blossoms during a summer.",
    "When colonies collapse the harvests get smaller.",
    "Food prices go up when there are fewer bees.",
    "Pesticides and parasites are part of the problem.",
    "Wild meadows are disappearing, which leaves bees hungry.",
    "The author wants farmers to plant native flowers near their fields.",
    "i think bees are cool and also they make honey",
    "My uncle keeps bees in his garden.",
];

/// The i-th test essay: a different mix and order of the sentences for each i.
fn essay(i: usize) -> String {
    let count = 2 + i % 5;
    (0..count)
        .map(|k| SENTENCES[(i * 3 + k * (1 + i % 4)) % SENTENCES.len()])
        .collect::<Vec<_>>()
        .join(" ")
        + &format!(" That is summary number {i}.")
}

fn examples_path(prompt: &str) -> String {
    format!("/api/v1/prompts/{prompt}/examples")
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request")
}

async fn post_examples(app: &TestApp, prompt: &str, examples: Value) -> reqwest::Response {
    send(
        app,
        reqwest::Method::POST,
        &examples_path(prompt),
        Some(&json!({"examples": examples})),
    )
    .await
}

/// The model's grade of an essay against the bees prompt.
async fn grade(app: &TestApp, essay: &str, calibrate: bool) -> Value {
    let response = app
        .post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": essay, "calibrate": calibrate}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    json_body(response).await
}

fn score(grade: &Value, field: &str, target: &str) -> f64 {
    grade[field][target]
        .as_f64()
        .unwrap_or_else(|| panic!("{field}.{target} in {grade}"))
}

/// The same essay graded twice can differ in the 8th decimal (feature
/// extraction reuses per-thread buffers, and a float sum's order follows
/// their capacity), so scores are compared to 1e-6.
fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
}

fn assert_same_scores(a: &Value, b: &Value) {
    let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (target, value) in a {
        assert_close(value.as_f64().unwrap(), b[target].as_f64().unwrap());
    }
}

/// `k` examples whose teacher scores sit `shift` above the model's raw scores.
async fn offset_examples(app: &TestApp, k: usize, shift: f64) -> Value {
    let mut examples = Vec::new();
    for i in 0..k {
        let text = essay(i);
        let raw = grade(app, &text, false).await;
        examples.push(json!({"essay": text, "scores": {
            "content": score(&raw, "scores", "content") + shift,
            "wording": score(&raw, "scores", "wording") + shift,
        }}));
    }
    Value::Array(examples)
}

#[tokio::test]
async fn posting_examples_answers_201_with_the_refitted_calibration() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let examples = offset_examples(&app, 6, 0.5).await;

    let response = post_examples(&app, "bees", examples).await;

    assert_eq!(response.status().as_u16(), 201);
    let body = json_body(response).await;
    assert_eq!(body["added"], 6);
    assert_eq!(body["replaced"], 0);
    let calibration = &body["calibration"];
    assert_eq!(calibration["examples"], 6);
    assert_eq!(calibration["model"]["version"], 1);
    let content = &calibration["targets"]["content"];
    assert_eq!(content["examples"], 6);
    assert!((content["mean_residual"].as_f64().unwrap() - 0.5).abs() < 1e-6);
    // Shrunk: moved towards the examples, but not all the way with six.
    let offset = content["offset"].as_f64().unwrap();
    assert!(offset > 0.0 && offset < 0.5, "{offset}");
    let estimate = &calibration["estimate"];
    assert!(
        estimate["calibrated_mcrmse"].as_f64().unwrap()
            < estimate["uncalibrated_mcrmse"].as_f64().unwrap()
    );
    // GET …/calibration shows the same thing.
    let shown = json_body(app.get("/api/v1/prompts/bees/calibration").await).await;
    assert_eq!(&shown, calibration);
}

#[tokio::test]
async fn grades_move_toward_deliberately_offset_examples_and_say_so() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let before = grade(&app, ESSAY, true).await;
    assert!(before.get("calibration").is_none(), "{before}");
    assert!(before.get("uncalibrated_scores").is_none());
    let examples = offset_examples(&app, 40, 1.0).await;
    assert_eq!(
        post_examples(&app, "bees", examples)
            .await
            .status()
            .as_u16(),
        201
    );

    let after = grade(&app, ESSAY, true).await;

    assert_eq!(after["calibration"], json!({"examples": 40}));
    for target in ["content", "wording"] {
        let raw = score(&before, "scores", target);
        assert_close(score(&after, "uncalibrated_scores", target), raw);
        let moved = score(&after, "scores", target) - raw;
        assert!(
            moved > 0.6 && moved <= 1.0,
            "{target} moved by {moved} of 1.0"
        );
        assert!(score(&after, "percentiles", target) > score(&before, "percentiles", target));
    }
    // Asking for raw scores, or grading against an inline prompt, is not calibrated.
    let raw = grade(&app, ESSAY, false).await;
    assert_same_scores(&raw["scores"], &before["scores"]);
    assert!(raw.get("calibration").is_none());
    let inline = json_body(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt": {"text": crate::grading::SOURCE}, "essay": ESSAY}),
        )
        .await,
    )
    .await;
    assert!(inline.get("calibration").is_none(), "{inline}");
    // The batch calibrates item by item.
    let batch = json_body(
        app.post_json(
            "/api/v1/grade/batch",
            &json!({"items": [
                {"prompt_id": "bees", "essay": ESSAY},
                {"prompt_id": "bees", "essay": ESSAY, "calibrate": false},
            ], "explain": false}),
        )
        .await,
    )
    .await;
    assert_same_scores(&batch["results"][0]["grade"]["scores"], &after["scores"]);
    assert_eq!(batch["results"][0]["grade"]["calibration"]["examples"], 40);
    assert_same_scores(&batch["results"][1]["grade"]["scores"], &before["scores"]);
    assert!(batch["results"][1]["grade"].get("calibration").is_none());
}

#[tokio::test]
async fn deleting_the_examples_restores_the_raw_scores() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let raw = grade(&app, ESSAY, true).await;
    post_examples(&app, "bees", offset_examples(&app, 20, 1.0).await).await;
    let listed =
        json_body(send(&app, reqwest::Method::GET, &examples_path("bees"), None).await).await;
    let first_id = listed["examples"][0]["id"].as_str().unwrap().to_owned();

    let one = send(
        &app,
        reqwest::Method::DELETE,
        &format!("{}/{first_id}", examples_path("bees")),
        None,
    )
    .await;
    assert_eq!(one.status().as_u16(), 200);
    let one = json_body(one).await;
    assert_eq!(one["deleted"], 1);
    assert_eq!(one["calibration"]["examples"], 19);
    let all =
        json_body(send(&app, reqwest::Method::DELETE, &examples_path("bees"), None).await).await;
    assert_eq!(all["deleted"], 19);
    assert_eq!(all["calibration"]["examples"], 0);
    assert_eq!(all["calibration"]["estimate"], Value::Null);
    assert_eq!(all["calibration"]["targets"]["content"]["offset"], 0.0);

    let after = grade(&app, ESSAY, true).await;
    assert_same_scores(&after["scores"], &raw["scores"]);
    assert_same_scores(&after["percentiles"], &raw["percentiles"]);
    assert!(after.get("calibration").is_none());
    let gone = send(
        &app,
        reqwest::Method::DELETE,
        &format!("{}/{first_id}", examples_path("bees")),
        None,
    )
    .await;
    assert_error(gone, 404, "not_found").await;
}

#[tokio::test]
async fn the_same_essay_posted_again_replaces_its_scores() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let first = json!([{"essay": essay(1), "scores": {"content": 0.5, "wording": 0.5}}]);
    post_examples(&app, "bees", first).await;
    let again =
        json!([{"essay": format!("{}\n", essay(1)), "scores": {"content": 1.5, "wording": -0.5}}]);

    let body = json_body(post_examples(&app, "bees", again).await).await;

    assert_eq!(
        (body["added"].clone(), body["replaced"].clone()),
        (json!(0), json!(1))
    );
    let listed =
        json_body(send(&app, reqwest::Method::GET, &examples_path("bees"), None).await).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(
        listed["examples"][0]["scores"],
        json!({"content": 1.5, "wording": -0.5})
    );
}

#[tokio::test]
async fn examples_are_listed_newest_first_and_paged() {
    let app = spawn_app().await;
    register_bees(&app).await;
    for i in 0..3 {
        post_examples(
            &app,
            "bees",
            json!([{"essay": essay(i), "scores": {"content": 0.0, "wording": 0.0}}]),
        )
        .await;
    }
    let page = json_body(
        send(
            &app,
            reqwest::Method::GET,
            &format!("{}?limit=2&offset=1", examples_path("bees")),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(page["total"], 3);
    let essays: Vec<&str> = page["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["essay"].as_str().unwrap())
        .collect();
    assert_eq!(essays, [essay(1), essay(0)]);
    let first = &page["examples"][0];
    assert!(first["id"].is_string() && first["created_at"].is_string());
    let bad = send(
        &app,
        reqwest::Method::GET,
        &format!("{}?limit=0&offset=-1", examples_path("bees")),
        None,
    )
    .await;
    let body = assert_error(bad, 422, "invalid_request").await;
    assert!(
        body["error"]["fields"]["limit"].is_string()
            && body["error"]["fields"]["offset"].is_string()
    );
}

#[tokio::test]
async fn bad_examples_are_each_named_and_nothing_is_stored() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let examples = json!([
        {"essay": essay(0), "scores": {"content": 0.1, "wording": 0.2}},
        {"essay": "   ", "scores": {"content": 0.1, "wording": 0.2}},
        {"essay": essay(2), "scores": {"content": 0.1}},
        {"essay": essay(3), "scores": {"content": 40.0, "wording": 0.0, "style": 1.0}},
        {"essay": essay(4), "scores": {"content": "high", "wording": 0.0}},
        {"essay": essay(5), "scores": {"content": 0.0, "wording": 0.0}, "grade": 3},
    ]);

    let response = post_examples(&app, "bees", examples).await;

    let body = assert_error(response, 422, "invalid_request").await;
    let fields = body["error"]["fields"].as_object().unwrap();
    let named: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        named,
        [
            "examples[1].essay",
            "examples[2].scores.wording",
            "examples[3].scores.content",
            "examples[3].scores.style",
            "examples[4].scores.content",
            "examples[5].grade",
        ]
    );
    assert!(
        fields["examples[3].scores.content"]
            .as_str()
            .unwrap()
            .contains("outside")
    );
    let listed =
        json_body(send(&app, reqwest::Method::GET, &examples_path("bees"), None).await).await;
    assert_eq!(listed["total"], 0);
}

#[tokio::test]
async fn empty_oversized_and_misaddressed_example_requests_are_refused() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let empty = assert_error(
        post_examples(&app, "bees", json!([])).await,
        422,
        "invalid_request",
    )
    .await;
    assert!(empty["error"]["fields"]["examples"].is_string());
    let one = json!({"essay": "x", "scores": {"content": 0.0, "wording": 0.0}});
    let many = Value::Array(vec![one; 1001]);
    let too_many = assert_error(
        post_examples(&app, "bees", many).await,
        422,
        "invalid_request",
    )
    .await;
    assert!(
        too_many["error"]["fields"]["examples"]
            .as_str()
            .unwrap()
            .contains("1001")
    );
    assert_error(
        post_examples(&app, "nope", json!([])).await,
        404,
        "not_found",
    )
    .await;
    for path in [
        "/api/v1/prompts/nope/calibration",
        "/api/v1/prompts/nope/examples.csv",
    ] {
        assert_error(
            send(&app, reqwest::Method::GET, path, None).await,
            404,
            "not_found",
        )
        .await;
    }
    let no_body = app
        .client
        .post(app.url(&examples_path("bees")))
        .bearer_auth(ADMIN_TOKEN)
        .body("examples")
        .send()
        .await
        .unwrap();
    assert_error(no_body, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_request_of_many_examples_may_be_larger_than_one_essay_request() {
    let app = spawn_app().await;
    register_bees(&app).await;
    // About 200 KB, twice the single-essay limit; the last item is bad, so
    // the request is checked (422), which shows it was read, not refused (413).
    let mut examples: Vec<Value> = (0..700)
        .map(|i| json!({"essay": format!("{} {}", essay(i), "word ".repeat(40)), "scores": {"content": 0.0, "wording": 0.0}}))
        .collect();
    examples.push(json!({"essay": essay(0)}));
    let body = json!({ "examples": examples });
    assert!(serde_json::to_vec(&body).unwrap().len() > 2 * app.settings.grade_body_limit);

    let response = post_examples(&app, "bees", body["examples"].clone()).await;

    let error = assert_error(response, 422, "invalid_request").await;
    assert!(
        error["error"]["fields"]["examples[700].scores"].is_string(),
        "{error}"
    );
}

#[tokio::test]
async fn writing_examples_needs_the_admin_token_when_there_are_no_api_keys() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let body =
        json!({"examples": [{"essay": essay(0), "scores": {"content": 0.0, "wording": 0.0}}]});
    let path = examples_path("bees");
    assert_error(app.post_json(&path, &body).await, 401, "unauthorized").await;
    assert_error(
        app.client.delete(app.url(&path)).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert_error(app.get(&path).await, 401, "unauthorized").await;
    assert_error(
        app.get("/api/v1/prompts/bees/examples.csv").await,
        401,
        "unauthorized",
    )
    .await;
    let with_key = app
        .client
        .post(app.url(&path))
        .bearer_auth("some-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(with_key, 401, "unauthorized").await;
    // Grading and the calibration stay open.
    assert_eq!(
        app.get("/api/v1/prompts/bees/calibration")
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        app.admin_post_json(&path, &body).await.status().as_u16(),
        201
    );
}

#[tokio::test]
async fn with_api_keys_a_key_may_write_examples_and_read_the_calibration() {
    let app = spawn_app_with(|s| s.api_keys = vec![Secret::new("teacher-key-0123456789")]).await;
    let prompt = json!({"id": "bees", "title": "Why Bees Matter", "text": crate::grading::SOURCE});
    let registered = app
        .client
        .post(app.url("/api/v1/prompts"))
        .bearer_auth("teacher-key-0123456789")
        .json(&prompt)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    let body =
        json!({"examples": [{"essay": essay(0), "scores": {"content": 0.0, "wording": 0.0}}]});
    let path = examples_path("bees");

    let by_key = app
        .client
        .post(app.url(&path))
        .header("x-api-key", "teacher-key-0123456789")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status().as_u16(), 201);
    let wrong = app
        .client
        .post(app.url(&path))
        .bearer_auth("wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
    assert_error(
        app.get("/api/v1/prompts/bees/calibration").await,
        401,
        "unauthorized",
    )
    .await;
    let shown = app
        .client
        .get(app.url("/api/v1/prompts/bees/calibration"))
        .bearer_auth("teacher-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(json_body(shown).await["examples"], 1);
}

/// Registers a second model version whose content scores are its first's
/// plus 0.5 (the target scaler's mean moved), so its raw scores differ.
async fn register_shifted_version(app: &TestApp) -> String {
    let models = json_body(app.admin_get("/api/v1/models").await).await;
    let id = models["models"][0]["id"].as_str().unwrap();
    let artifact = app
        .admin_get(&format!("/api/v1/models/{id}/artifact"))
        .await
        .bytes()
        .await
        .unwrap();
    let mut model: Value = serde_json::from_slice(&artifact).unwrap();
    // With trees (a blend), both parts move content by 0.5, so the blend
    // does too.
    let mean = model["target_scaler"]["mean"][0].as_f64().unwrap();
    model["target_scaler"]["mean"][0] = json!(mean + 0.5);
    let first_booster = model
        .get_mut("trees")
        .and_then(|trees| trees.get_mut("boosters"))
        .and_then(|boosters| boosters.get_mut(0));
    if let Some(booster) = first_booster {
        let base = booster["base_score"].as_f64().unwrap();
        booster["base_score"] = json!(base + 0.5);
    }
    let record = register_model(
        &app.db,
        &NewModel {
            artifact: &serde_json::to_vec(&model).unwrap(),
            metrics: json!({"note": "content shifted by 0.5"}),
            run_id: None,
            dataset_id: None,
            source: "train",
        },
    )
    .await
    .unwrap();
    record.id
}

#[tokio::test]
async fn activating_a_new_model_refits_every_calibration_before_it_serves() {
    let app = spawn_app().await;
    register_bees(&app).await;
    post_examples(&app, "bees", offset_examples(&app, 20, 0.0).await).await;
    let before = json_body(app.get("/api/v1/prompts/bees/calibration").await).await;
    assert!(
        before["targets"]["content"]["offset"]
            .as_f64()
            .unwrap()
            .abs()
            < 1e-6
    );
    let second = register_shifted_version(&app).await;

    let activated = send(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/models/{second}/activate"),
        None,
    )
    .await;

    assert_eq!(activated.status().as_u16(), 200);
    let after = json_body(app.get("/api/v1/prompts/bees/calibration").await).await;
    assert_eq!(after["model"]["version"], 2);
    assert_eq!(after["examples"], 20);
    // The new model scores content 0.5 higher than the teacher did: the
    // refit pulls it back down.
    let residual = after["targets"]["content"]["mean_residual"]
        .as_f64()
        .unwrap();
    assert!((residual + 0.5).abs() < 1e-6, "{residual}");
    assert!(after["targets"]["content"]["offset"].as_f64().unwrap() < -0.2);
    let graded = grade(&app, ESSAY, true).await;
    assert_eq!(graded["model"]["version"], 2);
    assert!(score(&graded, "scores", "content") < score(&graded, "uncalibrated_scores", "content"));
    // The refit stored the new model's raw scores, so a restart refits nothing new.
    let app = app.restart().await;
    let restarted = json_body(app.get("/api/v1/prompts/bees/calibration").await).await;
    assert_eq!(restarted, after);
}

#[tokio::test]
async fn grading_under_load_sees_no_error_while_examples_are_posted_and_a_model_activated() {
    let app = Arc::new(spawn_app().await);
    register_bees(&app).await;
    let stop = Arc::new(AtomicBool::new(false));
    let graded = Arc::new(AtomicUsize::new(0));
    let mut graders = Vec::new();
    for _ in 0..4 {
        let (app, stop, graded) = (app.clone(), stop.clone(), graded.clone());
        graders.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let response = app
                    .post_json(
                        "/api/v1/grade",
                        &json!({"prompt_id": "bees", "essay": ESSAY}),
                    )
                    .await;
                if response.status().as_u16() != 200 {
                    failures.push(response.text().await.unwrap_or_default());
                }
                graded.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }
    for round in 0..6 {
        let examples: Vec<Value> = (0..8)
            .map(|i| json!({"essay": essay(round * 8 + i), "scores": {"content": 1.0, "wording": 0.5}}))
            .collect();
        let response = post_examples(&app, "bees", Value::Array(examples)).await;
        assert_eq!(response.status().as_u16(), 201);
    }
    // An activation refits the prompt's calibration while grading goes on.
    let second = register_shifted_version(&app).await;
    let activated = send(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/models/{second}/activate"),
        None,
    )
    .await;
    assert_eq!(activated.status().as_u16(), 200);
    stop.store(true, Ordering::Relaxed);
    for grader in graders {
        let failures = grader.await.unwrap();
        assert!(failures.is_empty(), "grading failed: {failures:?}");
    }
    assert!(graded.load(Ordering::Relaxed) > 0);
    let last = grade(&app, ESSAY, true).await;
    assert_eq!(last["calibration"]["examples"], 48);
    assert_eq!(last["model"]["version"], 2);
}

#[tokio::test]
async fn the_examples_download_as_csv_that_dataset_upload_reads_back() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let examples: Vec<Value> = (0..5)
        .map(|i| json!({"essay": format!("{} She said \"yes\", twice.", essay(i)), "scores": {"content": i as f64 * 0.5, "wording": -0.25}}))
        .collect();
    post_examples(&app, "bees", Value::Array(examples)).await;

    let response = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/prompts/bees/examples.csv",
        None,
    )
    .await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    assert!(
        csv.starts_with("student_id,prompt_id,text,content,wording\n"),
        "{csv}"
    );
    let part = Part::text(csv)
        .file_name("examples.csv")
        .mime_str("text/csv")
        .unwrap();
    let uploaded = crate::datasets::upload(&app, Form::new().part("essays", part)).await;
    assert_eq!(uploaded.status().as_u16(), 201);
    let dataset = json_body(uploaded).await;
    assert_eq!(dataset["rows"], 5);
    assert_eq!(dataset["prompts"][0]["id"], "bees");
}

/// Registers the bees source text again under another id (the upload
/// fixture has a prompt "bees" of its own, with another text).
async fn register_pollination(app: &TestApp) {
    let prompt =
        json!({"id": "pollination", "title": "Why Bees Matter", "text": crate::grading::SOURCE});
    assert_eq!(
        app.admin_post_json("/api/v1/prompts", &prompt)
            .await
            .status()
            .as_u16(),
        201
    );
}

fn constant_examples(k: usize) -> Value {
    (0..k)
        .map(|i| json!({"essay": essay(i), "scores": {"content": 0.5, "wording": -0.2}}))
        .collect()
}

#[tokio::test]
async fn a_dataset_built_from_examples_merges_with_an_upload_and_can_be_trained_on() {
    let app = spawn_app().await;
    register_pollination(&app).await;
    post_examples(&app, "pollination", constant_examples(6)).await;
    let uploaded = crate::datasets::upload_fixture(&app).await;

    let response = app
        .admin_post_json(
            "/api/v1/datasets/from-examples",
            &json!({"name": "bee corrections", "prompt_ids": ["pollination"], "merge_dataset_ids": [uploaded]}),
        )
        .await;

    assert_eq!(response.status().as_u16(), 201);
    let dataset = json_body(response).await;
    assert_eq!(dataset["name"], "bee corrections");
    assert_eq!(dataset["rows"], 6 + 36);
    assert_eq!(dataset["targets"], json!(["content", "wording"]));
    let ours = dataset["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "pollination")
        .unwrap();
    assert_eq!(
        (ours["title"].clone(), ours["essays"].clone()),
        (json!("Why Bees Matter"), json!(6))
    );
    let listed = json_body(app.admin_get("/api/v1/datasets").await).await;
    assert!(
        listed["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == dataset["id"])
    );
    let job = app
        .admin_post_json(
            "/api/v1/jobs",
            &json!({"kind": "train", "dataset_id": dataset["id"], "config": {"epochs": 2, "ensemble": 1, "early_stopping": null}}),
        )
        .await;
    assert_eq!(job.status().as_u16(), 202, "the job is queued");
}

#[tokio::test]
async fn merging_a_dataset_whose_prompt_has_another_text_under_the_same_id_is_refused() {
    let app = spawn_app().await;
    register_bees(&app).await;
    post_examples(&app, "bees", constant_examples(3)).await;
    let uploaded = crate::datasets::upload_fixture(&app).await;

    let response = app
        .admin_post_json(
            "/api/v1/datasets/from-examples",
            &json!({"name": "clash", "prompt_ids": ["bees"], "merge_dataset_ids": [uploaded]}),
        )
        .await;

    let error = assert_error(response, 422, "invalid_request").await;
    let problem = error["error"]["fields"]["merge_dataset_ids[0]"]
        .as_str()
        .unwrap();
    assert!(
        problem.contains("\"bees\" has a different source text"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_dataset_from_examples_refuses_unknown_or_empty_prompts_and_datasets() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let other = json!({"id": "quiet", "title": "Quiet", "text": "Nothing graded here yet."});
    assert_eq!(
        app.admin_post_json("/api/v1/prompts", &other)
            .await
            .status()
            .as_u16(),
        201
    );
    let body = json!({"name": " ", "prompt_ids": ["bees", "quiet", "nope", "bees"], "merge_dataset_ids": ["gone"]});

    let response = app
        .admin_post_json("/api/v1/datasets/from-examples", &body)
        .await;

    let error = assert_error(response, 422, "invalid_request").await;
    let fields = error["error"]["fields"].as_object().unwrap();
    for field in [
        "name",
        "prompt_ids[0]",
        "prompt_ids[1]",
        "prompt_ids[2]",
        "prompt_ids[3]",
        "merge_dataset_ids[0]",
    ] {
        assert!(fields.contains_key(field), "{field} in {fields:?}");
    }
    assert!(
        fields["prompt_ids[1]"]
            .as_str()
            .unwrap()
            .contains("no examples")
    );
    let anonymous = app
        .post_json(
            "/api/v1/datasets/from-examples",
            &json!({"name": "x", "prompt_ids": ["bees"]}),
        )
        .await;
    assert_error(anonymous, 401, "unauthorized").await;
}

#[tokio::test]
async fn calibrations_survive_a_restart() {
    let app = spawn_app().await;
    register_bees(&app).await;
    post_examples(&app, "bees", offset_examples(&app, 10, 1.0).await).await;
    let before = grade(&app, ESSAY, true).await;

    let app = app.restart().await;

    let after = grade(&app, ESSAY, true).await;
    assert_same_scores(&after["scores"], &before["scores"]);
    assert_eq!(after["calibration"], json!({"examples": 10}));
}

#[tokio::test]
async fn the_openapi_document_lists_the_example_routes_and_the_grade_fields() {
    let app = spawn_app().await;
    let doc = json_body(app.get("/api/openapi.json").await).await;
    for (path, method) in [
        ("/api/v1/prompts/{id}/examples", "post"),
        ("/api/v1/prompts/{id}/examples", "get"),
        ("/api/v1/prompts/{id}/examples", "delete"),
        ("/api/v1/prompts/{id}/examples/{example_id}", "delete"),
        ("/api/v1/prompts/{id}/examples.csv", "get"),
        ("/api/v1/prompts/{id}/calibration", "get"),
        ("/api/v1/datasets/from-examples", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "missing {method} {path}"
        );
    }
    let grade = &doc["components"]["schemas"]["GradeResponse"]["properties"];
    assert!(grade["calibration"].is_object() && grade["uncalibrated_scores"].is_object());
    let request = &doc["components"]["schemas"]["GradeRequest"]["properties"];
    assert!(request["calibrate"].is_object(), "{request}");
}
