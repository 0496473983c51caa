//! Every JSON request body of the HTTP API with arbitrary input, through
//! the real router in process (`tower::ServiceExt::oneshot`, no socket):
//! random bytes, arbitrary JSON values, and valid bodies of each route with
//! their fields replaced, removed or joined by unknown ones. For each: no
//! server error, and every rejection is the `{"error": {...}}` JSON shape
//! with a code and a message, a 422 naming at least one field.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use essay_grader::config::{Secret, Settings};
use essay_grader::http::error::ErrorBody;
use essay_grader::startup::Application;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::features::odd_text;
use crate::{fuzz_config, json_key, json_value};

const ADMIN_TOKEN: &str = "fuzz-admin-token-0123456789abcdef";

/// A source text written for these tests.
const SOURCE: &str = "The moon pulls on the oceans. Where the pull is strongest the water \
                      bulges, and as the earth turns each coast passes under two bulges a day.";

/// The service, built once for the binary on a fresh SQLite file, with the
/// runtime its router runs on. Its job workers are never started, so a job
/// a fuzz case queues stays queued.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _app: Application,
    _dir: tempfile::TempDir,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: format!("sqlite://{}", dir.path().join("fuzz.db").display()).into(),
        admin_token: Some(Secret::new(ADMIN_TOKEN)),
        ..Settings::default()
    };
    let app = runtime
        .block_on(Application::build(settings))
        .expect("build the app");
    let router = essay_grader::http::router(app.state().clone());
    let harness = Harness {
        runtime,
        router,
        _app: app,
        _dir: dir,
    };
    let (status, body) = harness.send(
        "/api/v1/prompts",
        Some(ADMIN_TOKEN),
        "application/json",
        json!({"id": "tides", "title": "Tides", "question": "What causes the tides?", "text": SOURCE})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(status, StatusCode::CREATED, "register the prompt: {body}");
    harness
});

impl Harness {
    /// POSTs `body` to `path` and returns the status and the body as text.
    fn send(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, content_type);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body)).expect("a request");
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible");
            let status = response.status();
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the body reads");
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if status.is_client_error() || status.is_server_error() {
                assert!(is_json, "{status} without a JSON content type: {text}");
            }
            (status, text)
        })
    }
}

/// Each route that takes a JSON body, with valid bodies to mutate.
fn routes() -> Vec<(&'static str, Vec<Value>)> {
    let essay = "The moon pulls the water into two bulges, so each coast has two tides a day.";
    vec![
        (
            "/api/v1/grade",
            vec![
                json!({"prompt_id": "tides", "essay": essay}),
                json!({"prompt": {"title": "Tides", "question": "Why?", "text": SOURCE},
                       "essay": essay, "calibrate": false}),
            ],
        ),
        (
            "/api/v1/grade/batch",
            vec![json!({"items": [{"prompt_id": "tides", "essay": essay},
                                  {"prompt": {"text": SOURCE}, "essay": essay}],
                        "explain": false})],
        ),
        (
            "/api/v1/prompts",
            vec![json!({"id": "moon", "title": "Moon", "question": "Why?", "text": SOURCE})],
        ),
        (
            "/api/v1/prompts/tides/examples",
            vec![json!({"examples": [
                {"essay": essay, "scores": {"content": 0.5, "wording": -0.25}},
                {"essay": "Tides come from the moon.", "scores": {"content": -1.0, "wording": -1.0}}
            ]})],
        ),
        (
            "/api/v1/datasets/from-examples",
            vec![
                json!({"name": "tides examples", "prompt_ids": ["tides"], "merge_dataset_ids": []}),
            ],
        ),
        (
            "/api/v1/jobs",
            vec![
                json!({"kind": "train", "dataset_id": "none-such", "cv": true,
                       "config": {"epochs": 3, "ensemble": 2,
                                  "network": {"layers": [{"units": 8, "activation": "relu"}]}}}),
                json!({"kind": "cv", "dataset_id": "none-such", "folds": "prompt",
                       "model_kind": "ridge"}),
                json!({"kind": "sweep", "dataset_id": "none-such",
                       "grid": {"epochs": [2, 3], "network.layers[0].units": [4, 8]}}),
            ],
        ),
        (
            "/api/v1/session",
            vec![json!({"token": ADMIN_TOKEN}), json!({"token": "wrong"})],
        ),
    ]
}

/// Every place in a body (JSON pointer), the root included. (The seeds'
/// keys hold no `/` or `~`, so they need no escaping.)
fn places(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                places(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                places(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// One edit of a body.
#[derive(Debug, Clone)]
enum Edit {
    /// Put this value there.
    Replace(Value),
    /// Remove the member or element.
    Remove,
    /// Add a member no route knows (where the place is an object).
    AddUnknown(String, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => json_value().prop_map(Edit::Replace),
        3 => odd_text(8).prop_map(|s| Edit::Replace(Value::String(s))),
        1 => Just(Edit::Remove),
        1 => (json_key(), json_value()).prop_map(|(k, v)| Edit::AddUnknown(format!("{k}_extra"), v)),
    ]
}

/// A valid body with one to three edits.
fn mutated(seed: Value) -> impl Strategy<Value = Value> {
    let mut at = Vec::new();
    places(&seed, String::new(), &mut at);
    proptest::collection::vec((proptest::sample::select(at), edit()), 1..4).prop_map(move |edits| {
        let mut body = seed.clone();
        for (place, edit) in edits {
            match edit {
                Edit::Replace(v) => {
                    if let Some(slot) = body.pointer_mut(&place) {
                        *slot = v;
                    }
                }
                Edit::AddUnknown(key, v) => {
                    if let Some(Value::Object(map)) = body.pointer_mut(&place) {
                        map.insert(key, v);
                    }
                }
                Edit::Remove => {
                    let Some((parent, last)) = place.rsplit_once('/') else {
                        continue;
                    };
                    match body.pointer_mut(parent) {
                        Some(Value::Object(map)) => {
                            map.remove(last);
                        }
                        Some(Value::Array(items)) => {
                            if let Some(i) = last.parse::<usize>().ok().filter(|&i| i < items.len())
                            {
                                items.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        body
    })
}

/// A route and a body for it: bytes, any JSON, or a mutated valid body.
fn request() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    let routes = routes();
    let by_route: Vec<_> = routes
        .into_iter()
        .map(|(path, seeds)| {
            let seeds = proptest::sample::select(seeds).prop_flat_map(mutated);
            prop_oneof![
                1 => proptest::collection::vec(any::<u8>(), 0..300),
                2 => json_value().prop_map(|v| v.to_string().into_bytes()),
                5 => seeds.prop_map(|v| v.to_string().into_bytes()),
            ]
            .prop_map(move |body| (path, body))
            .boxed()
        })
        .collect();
    proptest::strategy::Union::new(by_route)
}

/// What every answer must be: not a server error; a rejection in the JSON
/// error shape, a 422 naming its fields.
fn assert_answer_is_shaped(
    path: &str,
    status: StatusCode,
    text: &str,
) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "{path}: {status}: {text}");
    if status.is_client_error() {
        let body: ErrorBody = serde_json::from_str(text).map_err(|e| {
            TestCaseError::fail(format!(
                "{path}: {status} not the error shape ({e}): {text}"
            ))
        })?;
        prop_assert!(
            !body.error.code.is_empty() && !body.error.message.is_empty(),
            "{text}"
        );
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            prop_assert!(
                !body.error.fields.is_empty(),
                "{path}: a 422 that names no field: {text}"
            );
        }
    } else {
        prop_assert!(status.is_success(), "{path}: {status}: {text}");
        prop_assert!(
            serde_json::from_str::<Value>(text).is_ok(),
            "{path}: {status}: {text}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(fuzz_config(64))]

    #[test]
    fn every_json_body_is_answered_or_refused_in_the_error_shape((path, body) in request()) {
        let (status, text) = HARNESS.send(path, Some(ADMIN_TOKEN), "application/json", body);
        assert_answer_is_shaped(path, status, &text)?;
    }

    #[test]
    fn a_body_without_credentials_or_json_type_is_refused_in_the_error_shape(
        (path, body) in request(),
        content_type in proptest::sample::select(&["text/plain", "application/x-www-form-urlencoded", "application/json"][..]),
    ) {
        let (status, text) = HARNESS.send(path, None, content_type, body);
        assert_answer_is_shaped(path, status, &text)?;
    }
}
