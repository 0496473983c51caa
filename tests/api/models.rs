//! The model registry: GET /api/v1/models, GET /api/v1/models/{id},
//! GET /api/v1/models/{id}/artifact, POST /api/v1/models/{id}/activate.

use crate::helpers::{assert_error, json_body, spawn_app};

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
    let response = app
        .client
        .post(app.url("/api/v1/models/nope/activate"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "not_found").await;
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

#[tokio::test]
async fn the_activation_history_starts_empty_on_a_database_without_models() {
    let app = spawn_app().await;
    let body = json_body(app.admin_get("/api/v1/models/activations").await).await;
    assert!(body["activations"].is_array());
}
