//! Admin credentials (bearer token, session cookie) and the optional API-key
//! mode for grading.

use essay_grader::config::Secret;
use serde_json::json;

use essay_grader::config::Settings;
use essay_grader::startup::Application;

use crate::helpers::{
    ADMIN_TOKEN, TestApp, assert_error, fresh_database_url, json_body, spawn_app, spawn_app_with,
    start,
};

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

    // Logging out ends the session (a write, so it shows it comes from our page).
    let out = app
        .client
        .delete(app.url("/api/v1/session"))
        .header("cookie", &pair)
        .header("sec-fetch-site", "same-origin")
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
    let app = spawn_app_with(|s| {
        s.api_keys = vec![
            Secret::new("grading-key-0000001"),
            Secret::new("grading-key-0000002"),
        ]
    })
    .await;
    assert_error(app.get("/api/v1/prompts").await, 401, "unauthorized").await;

    let with_header = app
        .client
        .get(app.url("/api/v1/prompts"))
        .header("x-api-key", "grading-key-0000002")
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status().as_u16(), 200);
    let with_bearer = app
        .client
        .get(app.url("/api/v1/prompts"))
        .bearer_auth("grading-key-0000001")
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

/// Signs in with the admin token and returns the `name=value` cookie pair.
async fn sign_in(app: &TestApp) -> String {
    let response = app
        .post_json("/api/v1/session", &json!({"token": ADMIN_TOKEN}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// Deletes a dataset that does not exist: 404 when the credentials are
/// accepted, so the status tells whether the write got through.
async fn delete_missing_dataset(app: &TestApp, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .client
        .delete(app.url("/api/v1/datasets/00000000-0000-4000-8000-000000000000"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_write_with_the_session_cookie_from_another_site_is_refused_with_403() {
    let app = spawn_app().await;
    let cookie = sign_in(&app).await;
    let host = app.address.trim_start_matches("http://").to_owned();

    let cross_site = delete_missing_dataset(
        &app,
        &[("cookie", &cookie), ("sec-fetch-site", "cross-site")],
    )
    .await;
    let body = assert_error(cross_site, 403, "forbidden").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Sec-Fetch-Site"),
        "{body}"
    );
    let same_site = delete_missing_dataset(
        &app,
        &[("cookie", &cookie), ("sec-fetch-site", "same-site")],
    )
    .await;
    assert_error(same_site, 403, "forbidden").await;
    let other_origin = delete_missing_dataset(
        &app,
        &[("cookie", &cookie), ("origin", "http://evil.example")],
    )
    .await;
    assert_error(other_origin, 403, "forbidden").await;
    let no_origin_at_all = delete_missing_dataset(&app, &[("cookie", &cookie)]).await;
    assert_error(no_origin_at_all, 403, "forbidden").await;

    // From our own pages the same write goes through (and finds nothing).
    let ours = delete_missing_dataset(
        &app,
        &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_error(ours, 404, "not_found").await;
    let our_origin = format!("http://{host}");
    let by_origin =
        delete_missing_dataset(&app, &[("cookie", &cookie), ("origin", &our_origin)]).await;
    assert_error(by_origin, 404, "not_found").await;
    // Reads with the cookie need no proof of origin.
    let read = app
        .client
        .get(app.url("/api/v1/datasets"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
}

#[tokio::test]
async fn the_bearer_token_works_from_anywhere_even_beside_a_cookie() {
    let app = spawn_app().await;
    let cookie = sign_in(&app).await;
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let response = delete_missing_dataset(
        &app,
        &[
            ("cookie", &cookie),
            ("sec-fetch-site", "cross-site"),
            ("authorization", &bearer),
        ],
    )
    .await;
    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn a_new_admin_token_ends_every_session() {
    let app = spawn_app().await;
    let cookie = sign_in(&app).await;
    let listed = |app: &TestApp| {
        app.client
            .get(app.url("/api/v1/models"))
            .header("cookie", &cookie)
            .send()
    };
    assert_eq!(listed(&app).await.unwrap().status().as_u16(), 200);

    // Same database, restarted with another token.
    let mut app = app;
    app.stop().await;
    let mut settings = app.settings.clone();
    settings.addr = "127.0.0.1:0".parse().unwrap();
    settings.admin_token = Some(Secret::new("a-brand-new-admin-token"));
    let app = start(settings, app.dir.clone()).await;
    assert_error(listed(&app).await.unwrap(), 401, "unauthorized").await;
    let status = json_body(
        app.client
            .get(app.url("/api/v1/session"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status["admin"], false);
}

#[tokio::test]
async fn behind_tls_the_session_cookie_is_secure_and_host_prefixed() {
    let app = spawn_app_with(|s| s.behind_tls = true).await;
    let response = app
        .post_json("/api/v1/session", &json!({"token": ADMIN_TOKEN}))
        .await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("__Host-essay_grader_session="),
        "{cookie}"
    );
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let listed = app
        .client
        .get(app.url("/api/v1/models"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status().as_u16(), 200);
    // The unprefixed name (settable over plain HTTP) is not honoured.
    let plain = pair.trim_start_matches("__Host-");
    let refused = app
        .client
        .get(app.url("/api/v1/models"))
        .header("cookie", plain)
        .send()
        .await
        .unwrap();
    assert_error(refused, 401, "unauthorized").await;
}

#[tokio::test]
async fn secrets_are_read_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin_token");
    std::fs::write(&token_file, "a-token-from-a-docker-secret\n").unwrap();
    let keys_file = dir.path().join("api_keys");
    std::fs::write(
        &keys_file,
        "first-key-from-a-file\nsecond-key-from-a-file\n",
    )
    .unwrap();
    let app = spawn_app_with(|s| {
        s.admin_token = None;
        s.admin_token_file = Some(token_file);
        s.api_keys_file = Some(keys_file);
    })
    .await;
    let admin = app
        .client
        .get(app.url("/api/v1/models"))
        .bearer_auth("a-token-from-a-docker-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 200);
    assert_error(app.get("/api/v1/prompts").await, 401, "unauthorized").await;
    let keyed = app
        .client
        .get(app.url("/api/v1/prompts"))
        .header("x-api-key", "second-key-from-a-file")
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status().as_u16(), 200);
}

#[tokio::test]
async fn a_short_api_key_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: fresh_database_url(dir.path()).await.into(),
        admin_token: Some(Secret::new(ADMIN_TOKEN)),
        api_keys: vec![Secret::new("short")],
        ..Settings::default()
    };
    let err = match Application::build(settings).await {
        Ok(_) => panic!("a 5-character API key was accepted"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("key 1 is 5 characters long"), "{err}");
    assert!(err.contains("at least 16"), "{err}");
}
