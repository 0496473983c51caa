//! POST /api/v1/grade and POST /api/v1/grade/batch with the built-in default
//! model. The prompt and essays here were written for these tests.

use essay_grader::config::Secret;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_body, spawn_app, spawn_app_with};

pub const SOURCE: &str = "Bees carry pollen from flower to flower, and in doing so they let plants \
make seeds. A single hive can visit millions of blossoms in one summer. Farmers who grow almonds, \
apples and berries rent hives each spring. When bee colonies collapse, harvests shrink and food \
prices rise. Scientists blame a mix of pesticides, parasites and the loss of wild meadows. \
Planting native flowers along fields gives bees food between crops.";

pub const ESSAY: &str = "The article explains that bees are needed to pollinate crops like almonds \
and apples, so farmers rent hives. Bee colonies are collapsing because of pesticides, parasites and \
lost meadows, and that makes harvests smaller and food more expensive. The author suggests planting \
native flowers so bees have food between crops.";

pub async fn register_bees(app: &TestApp) {
    let response = app
        .admin_post_json(
            "/api/v1/prompts",
            &json!({"id": "bees", "title": "Why Bees Matter",
                    "question": "Summarise the reasons the author gives for protecting bees.",
                    "text": SOURCE}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
}

fn assert_is_grade(grade: &Value, version: i64) {
    let scores = grade["scores"].as_object().expect("scores object");
    assert!(!scores.is_empty());
    for (target, score) in scores {
        let score = score.as_f64().expect("numeric score");
        assert!(
            score.is_finite() && (-5.0..=6.0).contains(&score),
            "{target}: {score}"
        );
        let pct = grade["percentiles"][target]
            .as_f64()
            .expect("percentile per target");
        assert!((0.0..=100.0).contains(&pct), "{target}: {pct}");
        let explanation = grade["explanation"].as_array().expect("explanation list");
        assert!(!explanation.is_empty());
        for concept in explanation {
            assert!(
                concept["effects"][target].as_f64().is_some(),
                "{target} in {concept}"
            );
        }
    }
    assert_eq!(grade["model"]["version"], version);
    assert!(grade["model"]["id"].is_string());
    assert!(grade["warnings"].is_array());
}

#[tokio::test]
async fn grade_scores_an_essay_against_a_registered_prompt() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let response = app
        .post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": ESSAY}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_is_grade(&json_body(response).await, 1);
}

#[tokio::test]
async fn grade_accepts_an_inline_prompt_and_gives_the_same_scores() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let by_id = json_body(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": ESSAY}),
        )
        .await,
    )
    .await;
    let inline = json!({"prompt": {"title": "Why Bees Matter",
        "question": "Summarise the reasons the author gives for protecting bees.", "text": SOURCE},
        "essay": ESSAY});
    let response = app.post_json("/api/v1/grade", &inline).await;
    assert_eq!(response.status().as_u16(), 200);
    let inline = json_body(response).await;
    assert_is_grade(&inline, 1);
    assert_eq!(inline["scores"], by_id["scores"]);
}

#[tokio::test]
async fn grade_warns_about_an_essay_copied_from_the_source() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let response = app
        .post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": SOURCE}),
        )
        .await;
    let grade = json_body(response).await;
    let codes: Vec<&str> = grade["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["code"].as_str())
        .collect();
    assert!(codes.contains(&"copied"), "{grade}");
}

#[tokio::test]
async fn grade_rejects_an_empty_essay_with_422() {
    let app = spawn_app().await;
    register_bees(&app).await;
    for essay in ["", "   \n\t  "] {
        let response = app
            .post_json(
                "/api/v1/grade",
                &json!({"prompt_id": "bees", "essay": essay}),
            )
            .await;
        let body = assert_error(response, 422, "invalid_request").await;
        assert!(body["error"]["fields"]["essay"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn grade_rejects_both_or_neither_prompt_forms_with_422() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let both = json!({"prompt_id": "bees", "prompt": {"text": SOURCE}, "essay": ESSAY});
    let body = assert_error(
        app.post_json("/api/v1/grade", &both).await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["error"]["fields"]["prompt"].is_string());
    let neither = json!({"essay": ESSAY});
    let body = assert_error(
        app.post_json("/api/v1/grade", &neither).await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["error"]["fields"]["prompt_id"].is_string());
}

#[tokio::test]
async fn grade_answers_404_for_an_unknown_prompt() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "nope", "essay": ESSAY}),
        )
        .await;
    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn grade_rejects_unknown_fields_and_wrong_types_naming_them() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let body = assert_error(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": ESSAY, "grade_level": 7}),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["error"]["fields"]["grade_level"].is_string(), "{body}");
    let body = assert_error(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": ["a", "b"]}),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["error"]["fields"]["essay"].is_string(), "{body}");
    let body = assert_error(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt": {"text": SOURCE, "author": "x"}, "essay": ESSAY}),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(
        body["error"]["fields"]["prompt.author"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn grade_refuses_a_body_over_100_kb_with_413() {
    let app = spawn_app().await;
    let essay = "word ".repeat(30_000);
    let response = app
        .post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": essay}),
        )
        .await;
    assert_error(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn grade_refuses_invalid_utf8_with_400() {
    let app = spawn_app().await;
    let body = b"{\"prompt_id\": \"bees\", \"essay\": \"Bees \xc3\x28 matter\"}".to_vec();
    assert_error(
        app.post_raw("/api/v1/grade", body).await,
        400,
        "invalid_utf8",
    )
    .await;
}

#[tokio::test]
async fn grade_needs_an_api_key_when_keys_are_configured() {
    let app = spawn_app_with(|s| s.api_keys = vec![Secret::new("teacher-key-0123456789")]).await;
    let request = json!({"prompt": {"text": SOURCE}, "essay": ESSAY});
    assert_error(
        app.post_json("/api/v1/grade", &request).await,
        401,
        "unauthorized",
    )
    .await;
    let response = app
        .client
        .post(app.url("/api/v1/grade"))
        .header("x-api-key", "teacher-key-0123456789")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn batch_grades_in_order_and_a_bad_item_fails_alone() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let items = json!([
        {"prompt_id": "bees", "essay": ESSAY},
        {"prompt_id": "bees", "essay": "  "},
        {"prompt_id": "missing", "essay": ESSAY},
        {"prompt_id": "bees", "essay": 12},
        "not an object",
        {"prompt": {"text": SOURCE}, "essay": "Bees pollinate almonds."},
    ]);
    let response = app
        .post_json("/api/v1/grade/batch", &json!({"items": items}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body = json_body(response).await;
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_is_grade(&results[0]["grade"], 1);
    assert!(
        results[1]["error"]["fields"]["items[1].essay"].is_string(),
        "{}",
        results[1]
    );
    assert_eq!(results[2]["error"]["code"], "not_found");
    assert!(
        results[3]["error"]["fields"]["items[3].essay"].is_string(),
        "{}",
        results[3]
    );
    assert!(
        results[4]["error"]["fields"]["items[4]"].is_string(),
        "{}",
        results[4]
    );
    assert_is_grade(&results[5]["grade"], 1);
    assert_eq!(
        (body["graded"].as_u64(), body["failed"].as_u64()),
        (Some(2), Some(4))
    );
}

#[tokio::test]
async fn batch_results_match_single_grading() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let essays = [
        "Bees pollinate crops.",
        ESSAY,
        "Farmers rent hives in spring because bees matter.",
    ];
    let items: Vec<Value> = essays
        .iter()
        .map(|e| json!({"prompt_id": "bees", "essay": e}))
        .collect();
    let batch = json_body(
        app.post_json("/api/v1/grade/batch", &json!({"items": items}))
            .await,
    )
    .await;
    for (i, essay) in essays.iter().enumerate() {
        let single = json_body(
            app.post_json(
                "/api/v1/grade",
                &json!({"prompt_id": "bees", "essay": essay}),
            )
            .await,
        )
        .await;
        let (a, b) = (&batch["results"][i]["grade"]["scores"], &single["scores"]);
        for (target, score) in a.as_object().unwrap() {
            let diff = (score.as_f64().unwrap() - b[target].as_f64().unwrap()).abs();
            assert!(diff < 1e-5, "item {i} {target}: {score} vs {}", b[target]);
        }
    }
}

#[tokio::test]
async fn batch_without_explanations_gives_the_same_scores_and_no_explanation() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let items = json!([{"prompt_id": "bees", "essay": ESSAY}]);
    let explained = json_body(
        app.post_json("/api/v1/grade/batch", &json!({"items": items}))
            .await,
    )
    .await;
    let bare = json_body(
        app.post_json(
            "/api/v1/grade/batch",
            &json!({"items": items, "explain": false}),
        )
        .await,
    )
    .await;

    let (with, without) = (
        &explained["results"][0]["grade"],
        &bare["results"][0]["grade"],
    );
    assert_eq!(with["scores"], without["scores"]);
    assert!(!with["explanation"].as_array().unwrap().is_empty());
    assert_eq!(
        without["explanation"],
        json!([]),
        "explanation was {}",
        without["explanation"]
    );
}

/// The concept ids the API documents.
const CONCEPTS: [&str; 12] = [
    "length",
    "source_coverage",
    "copying",
    "own_words",
    "relevance",
    "quoting",
    "vocabulary",
    "sentence_structure",
    "readability",
    "mechanics",
    "voice",
    "prompt",
];

#[tokio::test]
async fn grade_explains_by_concept_strongest_first_with_sentences_from_the_essays_figures() {
    let app = spawn_app().await;
    register_bees(&app).await;
    let grade = json_body(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": ESSAY}),
        )
        .await,
    )
    .await;

    let explanation = grade["explanation"].as_array().unwrap();
    let strength = |c: &Value| {
        c["effects"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap().abs())
            .fold(0.0, f64::max)
    };
    assert!(
        explanation
            .windows(2)
            .all(|w| strength(&w[0]) >= strength(&w[1])),
        "not strongest first: {explanation:?}"
    );
    let mut ids: Vec<&str> = explanation
        .iter()
        .map(|c| c["concept"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| CONCEPTS.contains(id)), "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), explanation.len(), "a concept listed twice");
    assert!(
        (8..=12).contains(&ids.len()),
        "the default model explains {} concepts",
        ids.len()
    );
    let mut features = Vec::new();
    for concept in explanation {
        assert!(!concept["label"].as_str().unwrap().is_empty());
        let sentence = concept["sentence"].as_str().unwrap();
        assert!(sentence.ends_with('.'), "{sentence}");
        for f in concept["features"].as_array().unwrap() {
            assert!(f["value"].is_number() && f["mean"].is_number(), "{f}");
            features.push(f["feature"].as_str().unwrap().to_owned());
        }
    }
    let listed = features.len();
    features.sort();
    features.dedup();
    assert_eq!(features.len(), listed, "a feature under two concepts");

    // The length sentence states the essay's own word count.
    let length = explanation
        .iter()
        .find(|c| c["concept"] == "length")
        .expect("the default model explains length");
    let words = length["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "e_word_count")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert_eq!(words, ESSAY.split_whitespace().count() as f64);
    let sentence = length["sentence"].as_str().unwrap();
    assert!(
        sentence.starts_with(&format!("Has {words} words; the training essays average ")),
        "{sentence}"
    );
}

#[tokio::test]
async fn batch_rejects_more_than_1000_items_with_422() {
    let app = spawn_app().await;
    let items: Vec<Value> = (0..1001)
        .map(|_| json!({"prompt_id": "bees", "essay": "x"}))
        .collect();
    let body = assert_error(
        app.post_json("/api/v1/grade/batch", &json!({"items": items}))
            .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(
        body["error"]["fields"]["items"]
            .as_str()
            .unwrap()
            .contains("1000")
    );
}

#[tokio::test]
async fn batch_rejects_an_empty_list_with_422() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/v1/grade/batch", &json!({"items": []}))
        .await;
    assert_error(response, 422, "invalid_request").await;
}

#[tokio::test]
async fn batch_refuses_a_body_over_its_limit_with_413() {
    let app = spawn_app_with(|s| s.batch_body_limit = 10_000).await;
    let items: Vec<Value> = (0..100)
        .map(|_| json!({"prompt_id": "bees", "essay": ESSAY}))
        .collect();
    let response = app
        .post_json("/api/v1/grade/batch", &json!({"items": items}))
        .await;
    assert_error(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn grading_is_counted_in_the_metrics() {
    let app = spawn_app().await;
    register_bees(&app).await;
    app.post_json(
        "/api/v1/grade",
        &json!({"prompt_id": "bees", "essay": ESSAY}),
    )
    .await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("grading_duration_seconds_bucket"), "{text}");
    assert!(text.contains("model_active_version"), "{text}");
    assert!(text.contains("graded_essays_total"), "{text}");
}

#[tokio::test]
async fn an_essay_over_its_length_cap_is_refused_alone_and_inside_a_batch() {
    let app = spawn_app_with(|s| s.essay_max_chars = 400).await;
    register_bees(&app).await;
    let long = "word ".repeat(100); // 500 characters
    let body = assert_error(
        app.post_json(
            "/api/v1/grade",
            &json!({"prompt_id": "bees", "essay": long}),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(
        body["error"]["fields"]["essay"]
            .as_str()
            .unwrap()
            .contains("at most 400"),
        "{body}"
    );

    let batch = json_body(
        app.post_json(
            "/api/v1/grade/batch",
            &json!({"items": [
                {"prompt_id": "bees", "essay": ESSAY},
                {"prompt_id": "bees", "essay": long},
            ]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (batch["graded"].clone(), batch["failed"].clone()),
        (json!(1), json!(1))
    );
    let error = &batch["results"][1]["error"];
    assert!(error["fields"]["items[1].essay"].is_string(), "{batch}");
    assert!(batch["results"][0]["grade"].is_object());
}

#[tokio::test]
async fn an_inline_prompt_over_its_length_cap_is_refused_with_its_path() {
    let app = spawn_app_with(|s| s.prompt_text_max_chars = 100).await;
    let prompt = json!({"title": "Why Bees Matter", "text": SOURCE});
    let body = assert_error(
        app.post_json("/api/v1/grade", &json!({"prompt": prompt, "essay": ESSAY}))
            .await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["error"]["fields"]["prompt.text"].is_string(), "{body}");

    let batch = json_body(
        app.post_json(
            "/api/v1/grade/batch",
            &json!({"items": [{"prompt": prompt, "essay": ESSAY}]}),
        )
        .await,
    )
    .await;
    let error = &batch["results"][0]["error"];
    assert!(
        error["fields"]["items[0].prompt.text"].is_string(),
        "{batch}"
    );
}
