//! Admin credentials (bearer token, session cookie) and the optional API-key
//! mode for grading.

use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, assert_error, json_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn admin_routes_refuse_requests_without_credentials() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/models").await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn admin_routes_refuse_a_wrong_token() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/models"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn admin_routes_accept_the_token() {
    let app = spawn_app().await;
    let response = app.admin_get("/api/v1/models").await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_session_cookie_bought_with_the_token_opens_admin_routes() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/v1/session", &json!({"token": ADMIN_TOKEN}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();

    let listed = app
        .client
        .get(app.url("/api/v1/models"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status().as_u16(), 200);

    // Logging out ends the session.
    let out = app
        .client
        .delete(app.url("/api/v1/session"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    let after = app
        .client
        .get(app.url("/api/v1/models"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_error(after, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_session_is_refused_for_a_wrong_token() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/v1/session", &json!({"token": "guess"}))
        .await;
    assert!(response.headers().get("set-cookie").is_none());
    assert_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_forged_session_cookie_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/models"))
        .header("cookie", "essay_grader_session=00ff")
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn with_api_keys_set_prompts_need_a_key() {
    let app = spawn_app_with(|s| s.api_keys = vec!["key-1".to_owned(), "key-2".to_owned()]).await;
    assert_error(app.get("/api/v1/prompts").await, 401, "unauthorized").await;

    let with_header = app
        .client
        .get(app.url("/api/v1/prompts"))
        .header("x-api-key", "key-2")
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status().as_u16(), 200);
    let with_bearer = app
        .client
        .get(app.url("/api/v1/prompts"))
        .bearer_auth("key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(with_bearer.status().as_u16(), 200);
    let with_admin = app.admin_get("/api/v1/prompts").await;
    assert_eq!(with_admin.status().as_u16(), 200);
    let wrong = app
        .client
        .get(app.url("/api/v1/prompts"))
        .header("x-api-key", "key-3")
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
}

#[tokio::test]
async fn without_an_admin_token_one_is_generated_and_kept_across_restarts() {
    let app = spawn_app_with(|s| s.admin_token = None).await;
    // The generated token is printed, not returned; only its digest is stored.
    let (digest,): (String,) = sqlx::query_as("SELECT token_sha256 FROM admin_credentials")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(digest.len(), 64);
    assert_error(app.admin_get("/api/v1/models").await, 401, "unauthorized").await;
    let app = app.restart().await;
    let (again,): (String,) = sqlx::query_as("SELECT token_sha256 FROM admin_credentials")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(digest, again);
    let body = json_body(app.get("/health").await).await;
    assert_eq!(body["status"], "ok");
}
