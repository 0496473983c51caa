//! GET /health, GET /ready, GET /metrics, the OpenAPI document and the first page.

use crate::helpers::{assert_error, json_body, spawn_app};

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(json_body(response).await["status"], "ok");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = spawn_app().await;
    app.get("/health").await;
    app.get("/api/v1/prompts/some-unknown-id").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/api/v1/prompts/{id}""#), "{text}");
    assert!(
        !text.contains("some-unknown-id"),
        "ids must not become labels"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_the_endpoints() {
    let app = spawn_app().await;
    let doc = json_body(app.get("/api/openapi.json").await).await;
    for path in ["/api/v1/prompts", "/api/v1/models/{id}/activate", "/health"] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    // The grade's explanation has a real schema, not a bare object.
    let schemas = &doc["components"]["schemas"];
    let explanation = &schemas["GradeResponse"]["properties"]["explanation"];
    assert_eq!(explanation["type"], "array", "{explanation}");
    assert_eq!(
        explanation["items"]["$ref"],
        "#/components/schemas/ConceptEffect"
    );
    let concept = &schemas["ConceptEffect"];
    for field in ["concept", "label", "effects", "sentence", "features"] {
        assert!(
            concept["required"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(field)),
            "{field} in {concept}"
        );
    }
    assert!(
        concept["properties"]["concept"]["enum"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("source_coverage")),
        "{concept}"
    );
    assert_eq!(
        schemas["FeatureValue"]["properties"]["feature"]["type"],
        "string"
    );
    let ui = app.get("/docs/").await;
    assert_eq!(ui.status().as_u16(), 200);
    assert!(ui.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn the_first_page_is_html() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    assert_error(app.get("/api/v1/nothing-here").await, 404, "no_route").await;
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/health")).send().await.unwrap();
    assert_error(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn the_app_stops_gracefully_and_restarts_on_the_same_database() {
    let app = spawn_app().await;
    let created = app
        .admin_post_json(
            "/api/v1/prompts",
            &serde_json::json!({"id": "kept", "text": "Source."}),
        )
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let app = app.restart().await;
    let response = app.get("/api/v1/prompts/kept").await;
    assert_eq!(response.status().as_u16(), 200);
}
