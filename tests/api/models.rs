//! The model registry: GET /api/v1/models, GET /api/v1/models/{id},
//! GET /api/v1/models/{id}/artifact, POST /api/v1/models/{id}/activate,
//! GET /api/v1/models/activations, and the hot swap under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use essay_grader::store::models::{NewModel, register_model};
use serde_json::{Value, json};

use crate::grading::{ESSAY, register_bees};
use crate::helpers::{ADMIN_TOKEN, TestApp, assert_error, json_body, spawn_app};

/// Registers a second version holding the same artifact as the active one
/// (the registry does not care where an artifact came from; training is
/// covered by the job tests).
async fn register_second_version(app: &TestApp) -> Value {
    let active = json_body(app.admin_get("/api/v1/models").await).await["models"][0].clone();
    let artifact = app
        .admin_get(&format!(
            "/api/v1/models/{}/artifact",
            active["id"].as_str().unwrap()
        ))
        .await
        .bytes()
        .await
        .unwrap();
    let record = register_model(
        &app.db,
        &NewModel {
            artifact: &artifact,
            metrics: json!({"note": "same weights, second version"}),
            run_id: Some("run-x"),
            dataset_id: Some("dataset-x"),
            source: "train",
        },
    )
    .await
    .unwrap();
    serde_json::to_value(record).unwrap()
}

async fn activate(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/models/{id}/activate")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_fresh_database_grades_at_once_with_the_default_model_as_version_1() {
    let app = spawn_app().await;
    let ready = json_body(app.get("/ready").await).await;
    assert_eq!(ready["model_version"], 1);
    let body = json_body(app.admin_get("/api/v1/models").await).await;
    let models = body["models"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0]["version"], 1);
    assert_eq!(models[0]["active"], true);
    assert_eq!(models[0]["source"], "default");
    assert!(models[0]["metrics"].is_object());
    assert!(models[0]["created_at"].is_string());
    assert!(models[0].get("run_id").is_some());
}

#[tokio::test]
async fn the_default_model_is_registered_only_once_across_restarts() {
    let app = spawn_app().await;
    let app = app.restart().await;
    let body = json_body(app.admin_get("/api/v1/models").await).await;
    assert_eq!(body["models"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_model_and_its_artifact_can_be_fetched() {
    let app = spawn_app().await;
    let second = register_second_version(&app).await;
    let id = second["id"].as_str().unwrap();
    let fetched = json_body(app.admin_get(&format!("/api/v1/models/{id}")).await).await;
    assert_eq!(fetched["version"], 2);
    assert_eq!(fetched["active"], false);
    assert_eq!(fetched["run_id"], "run-x");
    assert_eq!(fetched["dataset_id"], "dataset-x");
    let artifact = app
        .admin_get(&format!("/api/v1/models/{id}/artifact"))
        .await;
    assert_eq!(artifact.status().as_u16(), 200);
    assert!(
        artifact.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("v2")
    );
    let parsed: Value = artifact.json().await.unwrap();
    assert!(parsed["format_version"].is_number());
}

#[tokio::test]
async fn activation_switches_grading_and_rollback_is_one_call() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let first_id =
        json_body(app.admin_get("/api/v1/models").await).await["models"][0]["id"].clone();
    let second = register_second_version(&app).await;
    let second_id = second["id"].as_str().unwrap();

    let response = activate(&app, second_id).await;
    assert_eq!(response.status().as_u16(), 200);
    let activation = json_body(response).await;
    assert_eq!(activation["model"]["version"], 2);
    assert_eq!(activation["model"]["active"], true);
    assert_eq!(activation["activation"]["previous_model_id"], first_id);

    let grade = json_body(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": ESSAY}),
        )
        .await,
    )
    .await;
    assert_eq!(grade["model"]["version"], 2);

    // Rollback: activate the model it replaced.
    let previous = activation["activation"]["previous_model_id"]
        .as_str()
        .unwrap();
    assert_eq!(activate(&app, previous).await.status().as_u16(), 200);
    let grade = json_body(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": ESSAY}),
        )
        .await,
    )
    .await;
    assert_eq!(grade["model"]["version"], 1);

    let history = json_body(app.admin_get("/api/v1/models/activations").await).await;
    let seqs: Vec<i64> = history["activations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 2, 1]);
}

#[tokio::test]
async fn the_active_model_survives_a_restart() {
    let app = spawn_app().await;
    let second = register_second_version(&app).await;
    activate(&app, second["id"].as_str().unwrap()).await;
    let app = app.restart().await;
    assert_eq!(json_body(app.get("/ready").await).await["model_version"], 2);
}

#[tokio::test]
async fn a_broken_artifact_is_refused_and_the_current_model_stays() {
    let app = spawn_app().await;
    let broken = register_model(
        &app.db,
        &NewModel {
            artifact: b"{\"format_version\": 1}",
            metrics: json!({}),
            run_id: None,
            dataset_id: None,
            source: "train",
        },
    )
    .await
    .unwrap();
    let body = assert_error(activate(&app, &broken.id).await, 422, "invalid_request").await;
    assert!(body["error"]["fields"]["artifact"].is_string());
    assert_eq!(json_body(app.get("/ready").await).await["model_version"], 1);
    let history = json_body(app.admin_get("/api/v1/models/activations").await).await;
    assert_eq!(history["activations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn no_grading_request_fails_while_models_are_swapped() {
    let app = Arc::new(spawn_app().await);
    register_bees(&app).await;
    let first = json_body(app.admin_get("/api/v1/models").await).await["models"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = register_second_version(&app).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let mut graders = Vec::new();
    for _ in 0..8 {
        let (app, stop) = (app.clone(), stop.clone());
        graders.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let response = app
                    .post_json(
                        "/api/v1/grade",
                        &json!({"prompt_id": "bees", "essay": ESSAY}),
                    )
                    .await;
                assert_eq!(
                    response.status().as_u16(),
                    200,
                    "a grading request failed during a swap"
                );
                versions.push(
                    json_body(response).await["model"]["version"]
                        .as_i64()
                        .unwrap(),
                );
            }
            versions
        }));
    }
    for round in 0..10 {
        let id = if round % 2 == 0 { &second } else { &first };
        assert_eq!(activate(&app, id).await.status().as_u16(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0;
    for g in graders {
        let versions = g.await.expect("grader task");
        total += versions.len();
        seen.extend(versions);
    }
    assert!(total > 10, "only {total} requests ran");
    assert_eq!(
        seen,
        std::collections::BTreeSet::from([1, 2]),
        "both versions served"
    );
    // The last activation (round 9) was the first model.
    let grade = json_body(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": ESSAY}),
        )
        .await,
    )
    .await;
    assert_eq!(grade["model"]["version"], 1);
}

#[tokio::test]
async fn unknown_model_ids_are_404_on_every_model_route() {
    let app = spawn_app().await;
    assert_error(app.admin_get("/api/v1/models/nope").await, 404, "not_found").await;
    assert_error(
        app.admin_get("/api/v1/models/nope/artifact").await,
        404,
        "not_found",
    )
    .await;
    assert_error(activate(&app, "nope").await, 404, "not_found").await;
}

#[tokio::test]
async fn model_routes_need_admin_credentials() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/models",
        "/api/v1/models/x",
        "/api/v1/models/x/artifact",
        "/api/v1/models/activations",
    ] {
        assert_error(app.get(path).await, 401, "unauthorized").await;
    }
    let response = app
        .client
        .post(app.url("/api/v1/models/x/activate"))
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "unauthorized").await;
}
