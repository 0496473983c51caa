//! Faults the service must survive without a restart loop or lost work
//! (issue 12, "Faults"): an active model version that does not load, at
//! start-up and when activated by another replica; a database that refuses
//! writes. Every test runs on loopback with bounded waits.

use std::time::Duration;

use essay_grader::store::models::{NewModel, activate_model, register_model};
use serde_json::{Value, json};

use crate::grading::{ESSAY, register_bees};
use crate::helpers::{
    ADMIN_TOKEN, Backend, TestApp, assert_error, json_body, refuse_writes, spawn_app,
    spawn_app_with,
};

/// A model artifact as a broken upgrade or a damaged row would leave it.
const DAMAGED_ARTIFACT: &[u8] = b"{\"format_version\": 1, \"networks\": [[0.1, 0.2";

/// The built-in model claiming a format from the future.
fn future_format_artifact() -> Vec<u8> {
    let mut model: Value = serde_json::from_slice(essay_grader::startup::DEFAULT_MODEL).unwrap();
    model["format_version"] = json!(999);
    serde_json::to_vec(&model).unwrap()
}

/// Registers a new version with `artifact` straight in the registry (as a
/// replica of another build, or a hand edit, would) and returns its id.
async fn register_raw(app: &TestApp, artifact: &[u8]) -> String {
    register_model(
        &app.db,
        &NewModel {
            artifact,
            metrics: json!({}),
            run_id: None,
            dataset_id: None,
            source: "train",
        },
    )
    .await
    .expect("register a model version")
    .id
}

async fn grade(app: &TestApp) -> reqwest::Response {
    app.post_json(
        "/api/v1/grade",
        &json!({"prompt_id": "bees", "essay": ESSAY}),
    )
    .await
}

async fn activate_through_the_api(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/models/{id}/activate")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("POST activate")
}

#[tokio::test]
async fn a_damaged_active_model_falls_back_at_start_up_to_the_newest_earlier_version_that_loads() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let default = essay_grader::startup::DEFAULT_MODEL;
    let second = register_raw(&app, default).await;
    let third = register_raw(&app, DAMAGED_ARTIFACT).await;
    activate_model(&app.db, &third).await.unwrap();

    let app = app.restart().await;

    let ready = app.get("/ready").await;
    assert_eq!(ready.status().as_u16(), 200);
    let ready = json_body(ready).await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["model_version"], 2, "{ready}");
    let problem = ready["problems"][0].as_str().unwrap();
    assert!(
        problem.contains("version 3 does not load") && problem.contains("version 2 instead"),
        "{problem}"
    );
    let graded = grade(&app).await;
    assert_eq!(graded.status().as_u16(), 200);
    assert_eq!(json_body(graded).await["model"]["version"], 2);

    // The repair: activating a version that loads clears the trouble.
    assert_eq!(
        activate_through_the_api(&app, &second)
            .await
            .status()
            .as_u16(),
        200
    );
    let ready = json_body(app.get("/ready").await).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready.get("problems").is_none(), "{ready}");
}

#[tokio::test]
async fn with_no_version_that_loads_the_service_starts_without_a_model_and_the_admin_api_repairs_it()
 {
    let app = spawn_app().await;
    register_bees(&app).await;
    // The only version, rewritten in a future format (as a downgrade would find it).
    sqlx::query("UPDATE models SET artifact = $1")
        .bind(future_format_artifact())
        .execute(&app.db)
        .await
        .unwrap();

    let app = app.restart().await;

    let ready = assert_error(app.get("/ready").await, 503, "unavailable").await;
    let message = ready["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("version 1 does not load") && message.contains("format version 999"),
        "{message}"
    );
    let refused = assert_error(grade(&app).await, 503, "unavailable").await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not load"),
        "{refused}"
    );
    let listed = app.admin_get("/api/v1/models").await;
    assert_eq!(listed.status().as_u16(), 200, "the admin API stays up");

    let repaired = register_raw(&app, essay_grader::startup::DEFAULT_MODEL).await;
    assert_eq!(
        activate_through_the_api(&app, &repaired)
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(grade(&app).await.status().as_u16(), 200);
    let ready = json_body(app.get("/ready").await).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["model_version"], 2, "{ready}");
}

#[tokio::test]
async fn a_replica_keeps_grading_with_its_model_when_a_version_activated_elsewhere_does_not_load() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let broken = register_raw(&app, DAMAGED_ARTIFACT).await;

    // Another replica (or a hand edit) activates it behind this one's back.
    activate_model(&app.db, &broken).await.unwrap();

    let ready = wait_for_ready(&app, |ready| ready["status"] == "degraded").await;
    assert_eq!(ready["model_version"], 1, "{ready}");
    let problem = ready["problems"][0].as_str().unwrap();
    assert!(problem.contains("version 2 does not load"), "{problem}");
    let graded = grade(&app).await;
    assert_eq!(graded.status().as_u16(), 200);
    assert_eq!(json_body(graded).await["model"]["version"], 1);
}

/// Polls `/ready` (200 or 503 alike) until `done` holds, for at most ten
/// seconds; returns the last body.
async fn wait_for_ready(app: &TestApp, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = json_body(app.get("/ready").await).await;
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/ready never got there: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_prompt(app: &TestApp, id: &str, text: &str) -> reqwest::Response {
    app.admin_post_json(
        "/api/v1/prompts",
        &json!({"id": id, "title": "Tides", "question": "Why are there two tides a day?",
                "text": text}),
    )
    .await
}

const TIDES: &str = "The moon pulls the ocean toward it, and the earth is pulled away from \
the water on the far side, so two bulges of water circle the planet every day.";

#[tokio::test]
async fn while_the_database_is_read_only_grading_goes_on_writes_answer_503_and_all_recovers() {
    let app = spawn_app_with(|settings| settings.db_max_connections = 1).await;
    register_bees(&app).await;

    refuse_writes(&app, true).await;

    let ready = wait_for_ready(&app, |ready| ready["database"] == "read_only").await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert!(
        ready["problems"][0]
            .as_str()
            .unwrap()
            .contains("refuses writes"),
        "{ready}"
    );
    assert_eq!(
        grade(&app).await.status().as_u16(),
        200,
        "grades from memory"
    );
    let refused = create_prompt(&app, "tides", TIDES).await;
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("5")
    );
    let body = assert_error(refused, 503, "database_not_writable").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{body}"
    );

    refuse_writes(&app, false).await;

    let ready = wait_for_ready(&app, |ready| ready["database"] == "writable").await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(
        create_prompt(&app, "tides", TIDES).await.status().as_u16(),
        201
    );
}

#[tokio::test]
async fn a_full_database_refuses_inserts_with_503_and_takes_them_again_once_it_has_room() {
    // SQLite only, by design: its per-connection page limit
    // (`PRAGMA max_page_count`) makes a full database without a small
    // filesystem (mounting one needs privileges CI lacks). PostgreSQL has no
    // such limit to lower from a session.
    if crate::BACKEND != Backend::Sqlite {
        return;
    }
    let app = spawn_app_with(|settings| settings.db_max_connections = 1).await;
    register_bees(&app).await;
    // No room beyond the pages the file has now.
    sqlx::query("PRAGMA max_page_count = 1")
        .execute(&app.db)
        .await
        .unwrap();
    let long_text = TIDES.repeat(200);

    let refused = create_prompt(&app, "tides", &long_text).await;
    let body = assert_error(refused, 503, "database_not_writable").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("full"),
        "{body}"
    );
    let ready = wait_for_ready(&app, |ready| ready["database"] == "full").await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(
        grade(&app).await.status().as_u16(),
        200,
        "grades from memory"
    );

    sqlx::query("PRAGMA max_page_count = 1073741823")
        .execute(&app.db)
        .await
        .unwrap();

    wait_for_ready(&app, |ready| ready["database"] == "writable").await;
    assert_eq!(
        create_prompt(&app, "tides", &long_text)
            .await
            .status()
            .as_u16(),
        201
    );
}

#[tokio::test]
async fn the_openapi_document_lists_the_503_of_refused_writes_on_every_writing_route() {
    let app = spawn_app().await;
    let doc = json_body(app.get("/api/openapi.json").await).await;

    let mut writing_routes = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else {
                continue;
            };
            // Grading is a POST that never writes to the database: its 503
            // is "no model" or "overloaded".
            if path.starts_with("/api/v1/grade") {
                continue;
            }
            writing_routes += 1;
            // Inline, or shared under `components/responses` by a `$ref`.
            let mut refused_response = &operation["responses"]["503"];
            if let Some(name) = refused_response["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/responses/"))
            {
                refused_response = &doc["components"]["responses"][name];
            }
            let refused = &refused_response["description"];
            assert!(
                refused
                    .as_str()
                    .is_some_and(|d| d.contains("refuses writes")),
                "{method} {path}: {refused}"
            );
        }
    }
    assert!(writing_routes > 5, "{writing_routes}");
}
