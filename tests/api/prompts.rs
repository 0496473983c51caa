//! POST /api/v1/prompts, GET /api/v1/prompts, GET /api/v1/prompts/{id}.

use serde_json::json;

use crate::helpers::{assert_error, json_body, spawn_app};

#[tokio::test]
async fn a_registered_prompt_can_be_read_back_and_is_cached() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/prompts",
            &json!({"id": "tragedy", "title": "On Tragedy", "question": "Summarise.", "text": "A tragedy is..."}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let created = json_body(response).await;
    assert_eq!(created["id"], "tragedy");
    assert!(created["created_at"].is_string());
    assert!(app.state.prompts.cached("tragedy").is_some());

    let fetched = json_body(app.get("/api/v1/prompts/tragedy").await).await;
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn a_prompt_without_an_id_gets_a_generated_one() {
    let app = spawn_app().await;
    let created = json_body(
        app.post_json("/api/v1/prompts", &json!({"text": "Source text."}))
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
            .post_json("/api/v1/prompts", &json!({"id": id, "text": "T"}))
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
        app.post_json("/api/v1/prompts", &body)
            .await
            .status()
            .as_u16(),
        201
    );
    assert_error(
        app.post_json("/api/v1/prompts", &body).await,
        409,
        "conflict",
    )
    .await;
}

#[tokio::test]
async fn a_prompt_with_empty_text_and_a_bad_id_lists_both_problems() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/prompts",
            &json!({"id": "no spaces", "text": "  \n"}),
        )
        .await;
    let body = assert_error(response, 422, "invalid_request").await;
    assert!(body["error"]["fields"]["id"].is_string());
    assert!(body["error"]["fields"]["text"].is_string());
}
