//! Every error keeps the JSON shape, whoever produces it: our extractors for
//! path and query parameters, axum's own extractors and its 405, the timeout,
//! a panicking handler (whose connection must survive), and compression.
//!
//! Routes that exist only for a test (one that panics, one that is slow) are
//! served behind the service's real layers with `http::with_shared_layers`.

use std::io::Read;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use essay_grader::http::{AppState, with_shared_layers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{ADMIN_TOKEN, assert_error, spawn_app, spawn_app_with};

/// Serves `routes` behind the service's shared layers on a loopback port
/// until the test ends; returns `http://127.0.0.1:<port>`.
async fn serve_test_routes(routes: Router<AppState>, state: AppState) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let app = with_shared_layers(routes, state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// Sends one HTTP/1.1 request on `stream` and reads one response (the head
/// and a `Content-Length` body): (status, body).
async fn exchange(stream: &mut TcpStream, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = stream
            .read(&mut byte)
            .await
            .expect("read the response head");
        assert_eq!(n, 1, "the connection closed mid-response: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn a_path_parameter_that_is_not_utf8_is_a_json_400_naming_it() {
    let app = spawn_app().await;

    let response = app.admin_get("/api/v1/models/%00%ff").await;

    let body = assert_error(response, 400, "invalid_path").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("`id`"),
        "{body}"
    );
}

#[tokio::test]
async fn a_query_parameter_of_the_wrong_type_is_a_422_naming_it() {
    let app = spawn_app().await;

    let response = app.admin_get("/api/v1/jobs?limit=many").await;

    let body = assert_error(response, 422, "invalid_request").await;
    assert!(body["error"]["fields"]["limit"].is_string(), "{body}");
}

#[tokio::test]
async fn a_panicking_handler_answers_a_json_500_and_the_connection_serves_the_next_request() {
    let app = spawn_app().await;
    let routes = Router::new()
        .route(
            "/test/panic",
            get(|| async {
                panic!("a test handler panicked on purpose");
                #[allow(unreachable_code)]
                ""
            }),
        )
        .route("/test/fine", get(|| async { "fine" }));
    let address = serve_test_routes(routes, app.state.clone()).await;
    let mut stream = TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .unwrap();

    let (status, body) = exchange(&mut stream, "/test/panic").await;
    let (next_status, next_body) = exchange(&mut stream, "/test/fine").await;

    assert_eq!(status, 500);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "internal");
    assert!(
        !body.to_string().contains("on purpose"),
        "the panic message stays in the log: {body}"
    );
    assert_eq!((next_status, next_body.as_str()), (200, "fine"));
}

#[tokio::test]
async fn a_request_over_the_timeout_is_a_json_408() {
    let app = spawn_app_with(|settings| settings.request_timeout_secs = 1).await;
    let routes = Router::new().route(
        "/test/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "too late"
        }),
    );
    let address = serve_test_routes(routes, app.state.clone()).await;

    let response = app
        .client
        .get(format!("{address}/test/slow"))
        .send()
        .await
        .unwrap();

    assert_error(response, 408, "timeout").await;
}

#[tokio::test]
async fn a_plain_text_rejection_of_an_axum_extractor_is_reshaped_as_json_with_its_text() {
    let app = spawn_app().await;
    let routes = Router::new().route(
        "/test/number/{n}",
        get(|axum::extract::Path(n): axum::extract::Path<u32>| async move { n.to_string() }),
    );
    let address = serve_test_routes(routes, app.state.clone()).await;

    let response = app
        .client
        .get(format!("{address}/test/number/seven"))
        .send()
        .await
        .unwrap();

    let body = assert_error(response, 400, "bad_request").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("seven"),
        "{body}"
    );
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_that_lists_the_allowed_methods() {
    let app = spawn_app().await;

    let response = app
        .client
        .put(app.url("/api/v1/prompts"))
        .send()
        .await
        .unwrap();

    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert_error(response, 405, "method_not_allowed").await;
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "allow: {allow}"
    );
}

#[tokio::test]
async fn an_unknown_static_file_and_an_unknown_route_are_json_404s() {
    let app = spawn_app().await;

    assert_error(app.get("/static/nothing.js").await, 404, "not_found").await;
    assert_error(app.get("/no/such/page").await, 404, "no_route").await;
    let head = app
        .client
        .head(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 404);
}

#[tokio::test]
async fn a_compressed_error_is_compressed_json() {
    let app = spawn_app().await;
    let routes = Router::new().route(
        "/test/number/{n}",
        get(|axum::extract::Path(n): axum::extract::Path<u32>| async move { n.to_string() }),
    );
    let address = serve_test_routes(routes, app.state.clone()).await;

    let response = app
        .client
        .get(format!(
            "{address}/test/number/{}",
            "a-long-value-so-that-the-body-is-worth-compressing".repeat(4)
        ))
        .header("accept-encoding", "gzip")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .expect("a gzip body");
    let body: serde_json::Value = serde_json::from_str(&text).expect("JSON inside the gzip");
    assert_eq!(body["error"]["code"], "bad_request");
}
