//! Admission control: the per-client rate limit (and who the client is
//! behind a trusted proxy), the throttles on failed sign-ins and unknown
//! bearer secrets, the caps on queued jobs and open event streams, the
//! training bounds, page sizes, and the metrics endpoint's closed labels and
//! optional token. Every server is on loopback, so the tests that limit
//! loopback clients say so in their settings.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, TestApp, assert_error, spawn_app_with};

/// Seconds in a response's `Retry-After`.
fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds")
}

async fn get_forwarded_for(app: &TestApp, path: &str, client: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after_in_the_json_shape() {
    let app = spawn_app_with(|s| {
        s.rate_limit_per_minute = 60;
        s.rate_limit_burst = 3;
        s.rate_limit_loopback = true;
    })
    .await;

    for _ in 0..3 {
        assert_eq!(app.get("/health").await.status().as_u16(), 200);
    }
    let refused = app.get("/health").await;

    let wait = retry_after(&refused);
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    let body = assert_error(refused, 429, "rate_limited").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Retry-After")
    );
}

#[tokio::test]
async fn loopback_clients_are_not_rate_limited_by_default() {
    let app = spawn_app_with(|s| {
        s.rate_limit_per_minute = 60;
        s.rate_limit_burst = 2;
    })
    .await;

    for _ in 0..10 {
        assert_eq!(app.get("/health").await.status().as_u16(), 200);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let app = spawn_app_with(|s| {
        s.rate_limit_per_minute = 60;
        s.rate_limit_burst = 1;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;

    assert_eq!(
        get_forwarded_for(&app, "/health", "198.51.100.1")
            .await
            .status()
            .as_u16(),
        200
    );
    let second = get_forwarded_for(&app, "/health", "198.51.100.1").await;
    assert_error(second, 429, "rate_limited").await;
    assert_eq!(
        get_forwarded_for(&app, "/health", "198.51.100.2")
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forwarded_header_does_not_change_the_client() {
    let app = spawn_app_with(|s| {
        s.rate_limit_per_minute = 60;
        s.rate_limit_burst = 1;
        s.rate_limit_loopback = true;
    })
    .await;

    assert_eq!(
        get_forwarded_for(&app, "/health", "198.51.100.1")
            .await
            .status()
            .as_u16(),
        200
    );
    let forged = get_forwarded_for(&app, "/health", "198.51.100.2").await;

    assert_error(forged, 429, "rate_limited").await;
}

#[tokio::test]
async fn unknown_bearer_secrets_are_throttled_and_the_right_token_works_after_the_wait() {
    let app = spawn_app_with(|s| {
        s.auth_failure_limit = 3;
        s.auth_failure_window_secs = 1;
    })
    .await;
    let with_token = |token: &'static str| {
        app.client
            .get(app.url("/api/v1/models"))
            .bearer_auth(token)
            .send()
    };

    for _ in 0..3 {
        assert_eq!(
            with_token("a-wrong-guess-0000")
                .await
                .unwrap()
                .status()
                .as_u16(),
            401
        );
    }
    let throttled = with_token("a-wrong-guess-0000").await.unwrap();
    let wait = retry_after(&throttled);
    assert_error(throttled, 429, "too_many_failed_attempts").await;
    // While blocked even the right token is refused: a guess made now cannot win.
    let blocked = with_token(ADMIN_TOKEN).await.unwrap();
    assert_error(blocked, 429, "too_many_failed_attempts").await;
    // Sign-ins are counted apart.
    let sign_in = app
        .post_json("/api/v1/session", &json!({"token": ADMIN_TOKEN}))
        .await;
    assert_eq!(sign_in.status().as_u16(), 200);

    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;

    assert_eq!(
        with_token(ADMIN_TOKEN).await.unwrap().status().as_u16(),
        200
    );
}

async fn sign_in(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/session", &json!({"token": token}))
        .await
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_apart_from_bearer_tokens() {
    let app = spawn_app_with(|s| {
        s.auth_failure_limit = 2;
        s.auth_failure_window_secs = 1;
    })
    .await;

    for _ in 0..2 {
        assert_error(
            sign_in(&app, "not-the-admin-token").await,
            401,
            "unauthorized",
        )
        .await;
    }
    let throttled = sign_in(&app, "not-the-admin-token").await;
    let wait = retry_after(&throttled);
    assert_error(throttled, 429, "too_many_failed_attempts").await;
    assert_error(
        sign_in(&app, ADMIN_TOKEN).await,
        429,
        "too_many_failed_attempts",
    )
    .await;
    assert_eq!(app.admin_get("/api/v1/models").await.status().as_u16(), 200);

    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;

    assert_eq!(sign_in(&app, ADMIN_TOKEN).await.status().as_u16(), 200);
}

#[tokio::test]
async fn requests_without_a_secret_are_not_throttled() {
    let app = spawn_app_with(|s| s.auth_failure_limit = 1).await;

    for _ in 0..5 {
        assert_error(app.get("/api/v1/models").await, 401, "unauthorized").await;
    }
}
