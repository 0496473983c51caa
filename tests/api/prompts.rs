//! POST /api/v1/prompts, GET /api/v1/prompts, GET /api/v1/prompts/{id}.

use essay_grader::config::Secret;
use serde_json::json;

use crate::helpers::{assert_error, json_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_registered_prompt_can_be_read_back_without_being_prepared() {
    let app = spawn_app().await;
    let response = app
        .admin_post_json(
            "/api/v1/prompts",
            &json!({"id": "tragedy", "title": "On Tragedy", "question": "Summarise.", "text": "A tragedy is..."}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let created = json_body(response).await;
    assert_eq!(created["id"], "tragedy");
    assert!(created["created_at"].is_string());

    let fetched = json_body(app.get("/api/v1/prompts/tragedy").await).await;
    assert_eq!(fetched, created);
    // Registering and reading cost no preparation: the first grade does it.
    assert!(app.state.prompts.cached("tragedy").is_none());
}

#[tokio::test]
async fn a_prompt_without_an_id_gets_a_generated_one() {
    let app = spawn_app().await;
    let created = json_body(
        app.admin_post_json("/api/v1/prompts", &json!({"text": "Source text."}))
            .await,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(created["title"], "");
}

#[tokio::test]
async fn prompts_are_listed_in_registration_order_with_paging() {
    let app = spawn_app().await;
    for id in ["a", "b", "c"] {
        let r = app
            .admin_post_json("/api/v1/prompts", &json!({"id": id, "text": "T"}))
            .await;
        assert_eq!(r.status().as_u16(), 201);
    }
    let all = json_body(app.get("/api/v1/prompts").await).await;
    let ids: Vec<_> = all["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, [json!("a"), json!("b"), json!("c")]);
    let page = json_body(app.get("/api/v1/prompts?limit=1&offset=1").await).await;
    assert_eq!(page["prompts"][0]["id"], "b");
    assert_eq!(page["prompts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn listing_rejects_bad_paging_with_422() {
    let app = spawn_app().await;
    let body = assert_error(
        app.get("/api/v1/prompts?limit=0&offset=-1").await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["error"]["fields"]["limit"].is_string());
    assert!(body["error"]["fields"]["offset"].is_string());
    assert_error(
        app.get("/api/v1/prompts?limit=many").await,
        422,
        "invalid_request",
    )
    .await;
    assert_error(
        app.get("/api/v1/prompts?colour=red").await,
        422,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_prompt_is_a_404() {
    let app = spawn_app().await;
    let body = assert_error(app.get("/api/v1/prompts/nope").await, 404, "not_found").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn a_duplicate_prompt_id_is_a_409() {
    let app = spawn_app().await;
    let body = json!({"id": "p", "text": "T"});
    assert_eq!(
        app.admin_post_json("/api/v1/prompts", &body)
            .await
            .status()
            .as_u16(),
        201
    );
    assert_error(
        app.admin_post_json("/api/v1/prompts", &body).await,
        409,
        "conflict",
    )
    .await;
}

#[tokio::test]
async fn a_prompt_with_empty_text_and_a_bad_id_lists_both_problems() {
    let app = spawn_app().await;
    let response = app
        .admin_post_json(
            "/api/v1/prompts",
            &json!({"id": "no spaces", "text": "  \n"}),
        )
        .await;
    let body = assert_error(response, 422, "invalid_request").await;
    assert!(body["error"]["fields"]["id"].is_string());
    assert!(body["error"]["fields"]["text"].is_string());
}

#[tokio::test]
async fn registering_a_prompt_needs_the_admin_or_an_api_key_even_where_grading_is_open() {
    let app = spawn_app().await;
    let body = json!({"id": "p", "text": "Source text."});
    let anonymous = assert_error(
        app.post_json("/api/v1/prompts", &body).await,
        401,
        "unauthorized",
    )
    .await;
    assert!(
        anonymous["error"]["message"]
            .as_str()
            .unwrap()
            .contains("admin token"),
        "{anonymous}"
    );
    assert_eq!(
        app.admin_post_json("/api/v1/prompts", &body)
            .await
            .status()
            .as_u16(),
        201
    );

    let with_keys = spawn_app_with(|s| s.api_keys = vec![Secret::new("teacher-key-0001")]).await;
    let by_key = with_keys
        .client
        .post(with_keys.url("/api/v1/prompts"))
        .header("x-api-key", "teacher-key-0001")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status().as_u16(), 201);
    assert_error(
        with_keys.post_json("/api/v1/prompts", &body).await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_registration_beyond_the_prompt_cap_is_refused_with_422() {
    let app = spawn_app_with(|s| s.max_prompts = 2).await;
    for id in ["a", "b"] {
        let r = app
            .admin_post_json("/api/v1/prompts", &json!({"id": id, "text": "T"}))
            .await;
        assert_eq!(r.status().as_u16(), 201);
    }
    let body = assert_error(
        app.admin_post_json("/api/v1/prompts", &json!({"id": "c", "text": "T"}))
            .await,
        422,
        "invalid_request",
    )
    .await;
    let problem = body["error"]["fields"]["body"].as_str().unwrap();
    assert!(problem.contains("2 prompts"), "{body}");
    assert!(problem.contains("ESSAY_GRADER_MAX_PROMPTS"), "{body}");
    // A taken id is still reported as such, not as the cap.
    assert_error(
        app.admin_post_json("/api/v1/prompts", &json!({"id": "a", "text": "T"}))
            .await,
        409,
        "conflict",
    )
    .await;
    assert_error(app.get("/api/v1/prompts/c").await, 404, "not_found").await;
}

#[tokio::test]
async fn prompt_parts_over_their_length_caps_are_refused_with_422_naming_each() {
    let app = spawn_app_with(|s| {
        s.prompt_title_max_chars = 5;
        s.prompt_question_max_chars = 8;
        s.prompt_text_max_chars = 10;
    })
    .await;
    let body = assert_error(
        app.admin_post_json(
            "/api/v1/prompts",
            &json!({"title": "Title!", "question": "ok", "text": "ééééééééééé"}),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    let fields = body["error"]["fields"].as_object().unwrap();
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        ["text", "title"],
        "{body}"
    );
    assert!(fields["text"].as_str().unwrap().contains("11 characters"));
    assert!(fields["text"].as_str().unwrap().contains("at most 10"));
    // Ten two-byte characters are ten characters: within the cap.
    let at_cap = app
        .admin_post_json("/api/v1/prompts", &json!({"text": "éééééééééé"}))
        .await;
    assert_eq!(at_cap.status().as_u16(), 201);
}

#[tokio::test]
async fn registered_prompts_are_not_prepared_at_start_up_but_on_first_use() {
    let app = spawn_app().await;
    crate::grading::register_bees(&app).await;
    let app = app.restart().await;
    assert!(app.state.prompts.is_empty(), "nothing prepared at start-up");
    let graded = app
        .post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": crate::grading::ESSAY}),
        )
        .await;
    assert_eq!(graded.status().as_u16(), 200);
    assert!(app.state.prompts.cached("bees").is_some());
    assert!(app.state.prompts.bytes() > 0);
}
