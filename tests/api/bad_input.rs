//! Client mistakes in request bodies: every one is a 4xx with the JSON error
//! shape, never a 500 or a dropped connection.

use serde_json::json;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let body = assert_error(
        app.admin_post_raw("/api/v1/prompts", "{\"text\": ").await,
        400,
        "malformed_json",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1")
    );
}

#[tokio::test]
async fn invalid_utf8_is_a_400() {
    let app = spawn_app().await;
    let bytes: Vec<u8> = b"{\"text\": \"caf\xe9\"}".to_vec();
    assert_error(
        app.admin_post_raw("/api/v1/prompts", bytes).await,
        400,
        "invalid_utf8",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_type_names_the_field() {
    let app = spawn_app().await;
    let body = assert_error(
        app.admin_post_json("/api/v1/prompts", &json!({"text": 42}))
            .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(
        body["error"]["fields"]["text"]
            .as_str()
            .unwrap()
            .contains("invalid type")
    );
}

#[tokio::test]
async fn a_missing_field_names_the_field() {
    let app = spawn_app().await;
    let body = assert_error(
        app.admin_post_json("/api/v1/prompts", &json!({"title": "T"}))
            .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(
        body["error"]["fields"]["text"]
            .as_str()
            .unwrap()
            .contains("missing")
    );
}

#[tokio::test]
async fn an_unknown_field_names_the_field() {
    let app = spawn_app().await;
    let body = assert_error(
        app.admin_post_json("/api/v1/prompts", &json!({"text": "T", "colour": "red"}))
            .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["error"]["fields"]["colour"].is_string(), "{body}");
}

#[tokio::test]
async fn a_body_that_is_not_declared_as_json_is_a_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/prompts"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .header("content-type", "text/plain")
        .body("{\"text\": \"T\"}")
        .send()
        .await
        .unwrap();
    assert_error(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_before_it_is_read() {
    let app = spawn_app_with(|s| s.grade_body_limit = 1024).await;
    let text = "x".repeat(4096);
    let body = assert_error(
        app.admin_post_json("/api/v1/prompts", &json!({"text": text}))
            .await,
        413,
        "payload_too_large",
    )
    .await;
    assert!(body["error"]["message"].as_str().unwrap().contains("1024"));
}

#[tokio::test]
async fn an_oversized_chunked_body_is_cut_off_with_413() {
    let app = spawn_app_with(|s| s.grade_body_limit = 1024).await;
    // A stream has no Content-Length, so the limit must be applied while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 256])).collect();
    let stream = futures_util::stream::iter(chunks);
    let response = app
        .client
        .post(app.url("/api/v1/prompts"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_error(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn an_empty_body_is_a_400() {
    let app = spawn_app().await;
    assert_error(
        app.admin_post_raw("/api/v1/prompts", "").await,
        400,
        "malformed_json",
    )
    .await;
}
