//! Admission control: the per-client rate limit (and who the client is
//! behind a trusted proxy), the throttles on failed sign-ins and unknown
//! bearer secrets, the caps on queued jobs and open event streams, the
//! training bounds, page sizes, and the metrics endpoint's closed labels and
//! optional token. Every server is on loopback, so the tests that limit
//! loopback clients say so in their settings.

use std::time::Duration;

use serde_json::{Value, json};

use crate::datasets::upload_fixture;
use crate::helpers::{ADMIN_TOKEN, TestApp, assert_error, json_body, spawn_app, spawn_app_with};

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

/// A train config that would run for minutes on the fixture.
fn long_config() -> Value {
    json!({"epochs": 100_000, "ensemble": 1, "early_stopping": null})
}

async fn post_job(app: &TestApp, dataset_id: &str, config: Value) -> reqwest::Response {
    app.admin_post_json(
        "/api/v1/jobs",
        &json!({"kind": "train", "dataset_id": dataset_id, "config": config}),
    )
    .await
}

/// Queues a long train job and waits until a worker runs it.
async fn running_job(app: &TestApp, dataset_id: &str) -> String {
    let response = post_job(app, dataset_id, long_config()).await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json_body(response).await["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = json_body(app.admin_get(&format!("/api/v1/jobs/{id}")).await).await;
        if job["status"] == "running" {
            return id;
        }
        assert!(std::time::Instant::now() < deadline, "never ran: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn cancel(app: &TestApp, id: &str) {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/jobs/{id}/cancel")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test]
async fn a_job_past_the_queue_cap_is_refused_with_429_naming_the_cap() {
    let app = spawn_app_with(|s| s.max_queued_jobs = 1).await;
    let dataset_id = upload_fixture(&app).await;
    let running = running_job(&app, &dataset_id).await;
    let queued = post_job(&app, &dataset_id, long_config()).await;
    assert_eq!(queued.status().as_u16(), 202, "one job may wait");
    let queued = json_body(queued).await["id"].as_str().unwrap().to_owned();

    let refused = post_job(&app, &dataset_id, long_config()).await;

    assert_eq!(retry_after(&refused), 30);
    let body = assert_error(refused, 429, "job_queue_full").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ESSAY_GRADER_MAX_QUEUED_JOBS = 1"),
        "{body}"
    );
    let jobs = json_body(app.admin_get("/api/v1/jobs").await).await;
    assert_eq!(
        jobs["jobs"].as_array().unwrap().len(),
        2,
        "nothing was written"
    );
    cancel(&app, &queued).await;
    assert_eq!(
        post_job(&app, &dataset_id, long_config())
            .await
            .status()
            .as_u16(),
        202
    );
    cancel(&app, &running).await;
}

async fn open_events(app: &TestApp, id: &str, credential: (&str, String)) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/jobs/{id}/events")))
        .header(credential.0, credential.1)
        .send()
        .await
        .unwrap()
}

async fn session_cookie(app: &TestApp) -> String {
    let response = app
        .post_json("/api/v1/session", &json!({"token": ADMIN_TOKEN}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_session_past_its_cap_of_event_streams_gets_429_until_it_closes_one() {
    let app = spawn_app_with(|s| s.max_event_streams = 1).await;
    let dataset_id = upload_fixture(&app).await;
    let job = running_job(&app, &dataset_id).await;
    let session = ("cookie", session_cookie(&app).await);
    let other_session = ("cookie", session_cookie(&app).await);

    let first = open_events(&app, &job, session.clone()).await;
    assert_eq!(first.status().as_u16(), 200);
    let second = open_events(&app, &job, session.clone()).await;

    assert_eq!(retry_after(&second), 5);
    assert_error(second, 429, "too_many_event_streams").await;
    // The cap is per session: another session still may.
    let other = open_events(&app, &job, other_session).await;
    assert_eq!(other.status().as_u16(), 200);
    // Closing the stream frees its slot (the server notices at its next event).
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let again = open_events(&app, &job, session.clone()).await;
        if again.status().as_u16() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cancel(&app, &job).await;
}

#[tokio::test]
async fn a_config_over_the_training_bounds_is_422_naming_each_field() {
    let app = spawn_app_with(|s| {
        s.max_units_per_layer = 64;
        s.max_layers = 3;
        s.max_ensemble = 10;
        s.max_epochs = 50;
        s.max_training_cells = 1000;
    })
    .await;
    let dataset_id = upload_fixture(&app).await;
    let huge = json!({
        "epochs": 51,
        "ensemble": 11,
        "network": {"layers": [
            {"units": 65, "activation": "relu"},
            {"units": 8, "activation": "relu"},
            {"units": 8, "activation": "relu"},
            {"units": 8, "activation": "relu"}
        ]}
    });

    let refused = post_job(&app, &dataset_id, huge).await;

    let body = assert_error(refused, 422, "invalid_request").await;
    let fields = body["error"]["fields"].as_object().unwrap();
    for field in [
        "config.epochs",
        "config.ensemble",
        "config.network.layers",
        "config.network.layers[0].units",
        "config.features",
    ] {
        assert!(fields.contains_key(field), "{field} in {body}");
    }
    let jobs = json_body(app.admin_get("/api/v1/jobs").await).await;
    assert!(jobs["jobs"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_sweep_over_the_run_bound_is_422_naming_the_grid() {
    let app = spawn_app_with(|s| s.max_sweep_runs = 2).await;
    let dataset_id = upload_fixture(&app).await;
    let grid = json!({
        "base": {"epochs": 2, "ensemble": 1},
        "depths": [1, 2],
        "activations": ["relu"],
        "optimizers": [{"name": "adam", "lrs": [0.01, 0.001]}]
    });

    let refused = app
        .admin_post_json(
            "/api/v1/jobs",
            &json!({"kind": "sweep", "dataset_id": dataset_id, "grid": grid}),
        )
        .await;

    let body = assert_error(refused, 422, "invalid_request").await;
    assert!(
        body["error"]["fields"]["grid"]
            .as_str()
            .unwrap()
            .contains("4 runs"),
        "{body}"
    );
}

#[tokio::test]
async fn the_train_options_tell_the_pages_the_bounds() {
    let app = spawn_app_with(|s| {
        s.max_layers = 5;
        s.max_queued_jobs = 7;
    })
    .await;

    let options = json_body(app.admin_get("/api/v1/train-options").await).await;

    assert_eq!(options["bounds"]["max_layers"], 5);
    assert_eq!(options["bounds"]["max_units_per_layer"], 512);
    assert_eq!(options["max_queued_jobs"], 7);
}

#[tokio::test]
async fn every_admin_list_refuses_a_page_size_out_of_range_naming_the_parameter() {
    let app = spawn_app().await;

    for list in [
        "/api/v1/jobs",
        "/api/v1/models",
        "/api/v1/models/activations",
        "/api/v1/datasets",
        "/api/v1/prompts",
    ] {
        for query in ["limit=0", "limit=1001", "offset=-1"] {
            let body = assert_error(
                app.admin_get(&format!("{list}?{query}")).await,
                422,
                "invalid_request",
            )
            .await;
            let parameter = query.split('=').next().unwrap();
            assert!(
                body["error"]["fields"].get(parameter).is_some(),
                "{list}?{query}: {body}"
            );
        }
        let page = app.admin_get(&format!("{list}?limit=1&offset=0")).await;
        assert_eq!(page.status().as_u16(), 200, "{list}");
    }
}

#[tokio::test]
async fn a_page_of_models_holds_at_most_limit_items_from_offset() {
    let app = spawn_app().await;

    let first = json_body(app.admin_get("/api/v1/models?limit=1").await).await;
    let beyond = json_body(app.admin_get("/api/v1/models?limit=1&offset=1").await).await;

    assert_eq!(
        first["models"].as_array().unwrap().len(),
        1,
        "the default model"
    );
    assert!(beyond["models"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn metrics_labels_take_only_known_methods_and_route_templates() {
    let app = spawn_app().await;
    let id = "label-probe-7f3a9c";
    let foobar = reqwest::Method::from_bytes(b"FOOBAR").unwrap();
    app.client
        .request(foobar, app.url("/health"))
        .send()
        .await
        .unwrap();
    app.admin_get(&format!("/api/v1/models/{id}")).await;
    app.get(&format!("/no-such-route-{id}")).await;

    let text = app.get("/metrics").await.text().await.unwrap();

    assert!(!text.contains("FOOBAR"));
    assert!(!text.contains(id), "a request's own path became a label");
    assert!(text.contains(r#"method="OTHER""#));
    assert!(text.contains(r#"route="/api/v1/models/{id}""#));
    assert!(text.contains(r#"route="unmatched""#));
}

#[tokio::test]
async fn with_a_metrics_token_metrics_need_it() {
    let token = "metrics-scraper-token-0001";
    let app =
        spawn_app_with(|s| s.metrics_token = Some(essay_grader::config::Secret::new(token))).await;

    assert_error(app.get("/metrics").await, 401, "unauthorized").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-scraper-token-0002")
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, "unauthorized").await;
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();

    assert_eq!(right.status().as_u16(), 200);
    assert!(right.text().await.unwrap().contains("http_requests_total"));
}

#[tokio::test]
async fn a_short_metrics_token_stops_the_start() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let settings = essay_grader::config::Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: crate::helpers::fresh_database_url(dir.path()).await.into(),
        admin_token: Some(essay_grader::config::Secret::new(ADMIN_TOKEN)),
        metrics_token: Some(essay_grader::config::Secret::new("short")),
        ..Default::default()
    };

    let Err(err) = essay_grader::startup::Application::build(settings).await else {
        panic!("a 5-character metrics token was accepted");
    };

    assert!(
        err.to_string().contains("ESSAY_GRADER_METRICS_TOKEN"),
        "{err}"
    );
}
