//! Datasets: POST /api/v1/datasets (multipart), GET list, GET one, DELETE.
//! Also holds the small fixture dataset the job tests train on: three
//! invented prompts and 36 short essays, written here (never copied from
//! the shared data).

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, TestApp, assert_error, json_body, spawn_app, spawn_app_with};

/// The invented prompts: (id, title, question, source text).
const PROMPTS: [(&str, &str, &str, &str); 3] = [
    (
        "bees",
        "How Bees Talk",
        "Summarise how honeybees tell each other where food is.",
        "A honeybee that finds flowers returns to the hive and dances. In the waggle dance she \
         walks in a line while shaking her body. The angle of the line shows the direction of the \
         food compared with the sun. The length of the waggle shows how far away the food is. \
         Other bees follow the dance and then fly out to find the flowers themselves.",
    ),
    (
        "rivers",
        "Why Rivers Bend",
        "Explain why rivers form bends over time.",
        "No river stays straight for long. Water flows faster on the outside of a curve and slower \
         on the inside. The fast water wears away the outer bank, while the slow water drops sand \
         and mud on the inner bank. Over many years the curve grows into a loop called a meander. \
         Sometimes a flood cuts through the neck of the loop and leaves an oxbow lake behind.",
    ),
    (
        "bridge",
        "The First Iron Bridge",
        "Describe why the Iron Bridge was important, citing evidence from the text.",
        "In 1779 workers in Shropshire finished the first large bridge made of cast iron. Before \
         then bridges were built of wood or stone. Iron was strong and could be cast into shapes, \
         so the bridge needed no supports in the river and boats could pass below. Visitors came \
         from far away to see it, and engineers copied the idea for railways and factories.",
    ),
];

/// Sentences an essay is built from, per prompt: good ones that restate the
/// source in the student's words, and weak ones.
const GOOD: [[&str; 4]; 3] = [
    [
        "A bee that finds food goes home and does a dance.",
        "The direction of the dance tells the other bees which way to fly, using the sun.",
        "How long the bee waggles says how far the flowers are.",
        "Then the other bees leave the hive and find the food on their own.",
    ],
    [
        "Water on the outside of a bend moves quicker than water on the inside.",
        "The quick water erodes the outer bank and the slow water leaves sand behind.",
        "After a long time the bend becomes a big loop called a meander.",
        "A flood can cut the loop off, which makes an oxbow lake.",
    ],
    [
        "The Iron Bridge was finished in 1779 and was the first big bridge of cast iron.",
        "Older bridges used wood or stone, but iron was stronger.",
        "It had no supports in the water, so boats could go under it.",
        "Engineers copied the idea for railways and factories, which shows it mattered.",
    ],
];

const WEAK: [&str; 4] = [
    "i think this is interesting",
    "It was a good text and i liked it alot.",
    "This is about something from long ago",
    "my friend told me about it once",
];

fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The essays CSV in the CommonLit layout (student_id, prompt_id, text,
/// content, wording): 12 essays per prompt. An essay's content score grows
/// with the good sentences it has; its wording drops with its weak ones.
pub fn essays_csv() -> String {
    essays_csv_of(12)
}

/// [`essays_csv`] with `per_prompt` essays per prompt.
pub fn essays_csv_of(per_prompt: usize) -> String {
    let mut csv = String::from("student_id,prompt_id,text,content,wording\n");
    for (p, (prompt_id, ..)) in PROMPTS.iter().enumerate() {
        for i in 0..per_prompt {
            let good = i % 5;
            let weak = (i / 5 + i % 3) % 3;
            let mut sentences: Vec<&str> = GOOD[p].iter().take(good).copied().collect();
            sentences.extend(WEAK.iter().skip(i % 2).take(weak));
            if sentences.is_empty() {
                sentences.push(WEAK[i % 4]);
            }
            let text = sentences.join(" ");
            let content = -1.0 + 0.6 * good as f64 + 0.05 * (i % 3) as f64;
            let wording = 0.8 - 0.5 * weak as f64 + 0.1 * good as f64;
            csv.push_str(&format!(
                "{prompt_id}{i:02},{prompt_id},{},{content:.3},{wording:.3}\n",
                csv_field(&text)
            ));
        }
    }
    csv
}

/// The prompts CSV in the CommonLit layout.
pub fn prompts_csv() -> String {
    let mut csv = String::from("prompt_id,prompt_question,prompt_title,prompt_text\n");
    for (id, title, question, text) in PROMPTS {
        csv.push_str(&format!(
            "{id},{},{},{}\n",
            csv_field(question),
            csv_field(title),
            csv_field(text)
        ));
    }
    csv
}

/// A CSV file part of an upload form.
pub fn csv_part(text: String, file_name: &str) -> Part {
    Part::text(text)
        .file_name(file_name.to_owned())
        .mime_str("text/csv")
        .unwrap()
}

/// Posts a multipart form to the upload route with the admin token.
pub async fn upload(app: &TestApp, form: Form) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/datasets"))
        .bearer_auth(ADMIN_TOKEN)
        .multipart(form)
        .send()
        .await
        .expect("POST /api/v1/datasets")
}

/// Uploads the fixture dataset and returns its id.
pub async fn upload_fixture(app: &TestApp) -> String {
    upload_essays(app, essays_csv()).await
}

/// Uploads these essays with the fixture's prompts and returns the dataset's id.
pub async fn upload_essays(app: &TestApp, essays: String) -> String {
    let form = Form::new()
        .part("essays", csv_part(essays, "essays.csv"))
        .part("prompts", csv_part(prompts_csv(), "prompts.csv"))
        .text("name", "fixture");
    let response = upload(app, form).await;
    assert_eq!(response.status().as_u16(), 201, "upload status");
    json_body(response).await["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn uploading_the_fixture_stores_every_row_with_its_targets_and_prompts() {
    let app = spawn_app().await;
    let form = Form::new()
        .part("essays", csv_part(essays_csv(), "essays.csv"))
        .part("prompts", csv_part(prompts_csv(), "prompts.csv"))
        .text("name", "fixture");

    let response = upload(&app, form).await;

    assert_eq!(response.status().as_u16(), 201);
    let body = json_body(response).await;
    assert_eq!(body["name"], "fixture");
    assert_eq!(body["rows"], 36);
    assert_eq!(body["targets"], serde_json::json!(["content", "wording"]));
    let prompts: Vec<(String, i64)> = body["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["essays"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        prompts,
        [
            ("bees".into(), 12),
            ("bridge".into(), 12),
            ("rivers".into(), 12)
        ]
    );
    assert_eq!(body["problems"], serde_json::json!([]));
    let id = body["id"].as_str().unwrap();
    let one = json_body(app.admin_get(&format!("/api/v1/datasets/{id}")).await).await;
    assert_eq!(one["rows"], 36);
    let list = json_body(app.admin_get("/api/v1/datasets").await).await;
    assert_eq!(list["datasets"][0]["id"], id);
}

#[tokio::test]
async fn a_mapping_reads_any_layout_and_remarks_on_what_limits_training() {
    let app = spawn_app().await;
    let essays = "essay_no,task,answer,score\n\
                  1,t1,\"The dance shows where the flowers are.\",3.5\n\
                  2,t1,\"bees fly\",1\n\
                  3,t1,\"They waggle to say how far the food is, using the sun.\",4.5\n";
    let mapping = r#"{"id_col": "essay_no", "text_col": "answer", "prompt_col": "task",
                      "targets": ["score"], "score_grid": "1:5:0.5"}"#;
    let form = Form::new()
        .part("essays", csv_part(essays.to_owned(), "mine.csv"))
        .text("mapping", mapping);

    let response = upload(&app, form).await;

    assert_eq!(response.status().as_u16(), 201);
    let body = json_body(response).await;
    assert_eq!(body["name"], "mine.csv");
    assert_eq!(body["rows"], 3);
    assert_eq!(body["targets"], serde_json::json!(["score"]));
    assert_eq!(body["score_grid"], "1:5:0.5");
    let problems = body["problems"].to_string();
    assert!(problems.contains("at least 2"), "{problems}");
    assert!(problems.contains("without a source text: t1"), "{problems}");
}

#[tokio::test]
async fn a_non_numeric_target_is_422_naming_the_line_and_column() {
    let app = spawn_app().await;
    let essays = "student_id,prompt_id,text,content,wording\n\
                  a,bees,\"Bees dance.\",1.0,0.5\n\
                  b,bees,\"They waggle.\",lots,0.5\n";
    let form = Form::new()
        .part("essays", csv_part(essays.to_owned(), "essays.csv"))
        .part("prompts", csv_part(prompts_csv(), "prompts.csv"));

    let body = assert_error(upload(&app, form).await, 422, "invalid_request").await;

    let fields = body["error"]["fields"].as_object().unwrap();
    let (place, message) = fields.iter().next().unwrap();
    assert_eq!(place, "essays.csv, line 3, column 4 (content)");
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("\"lots\" is not a number")
    );
    let list = json_body(app.admin_get("/api/v1/datasets").await).await;
    assert_eq!(list["datasets"], serde_json::json!([]), "nothing is stored");
}

#[tokio::test]
async fn missing_columns_are_422_naming_them() {
    let app = spawn_app().await;
    let essays = "student_id,prompt_id,text\na,bees,\"Bees dance.\"\n";
    let form = Form::new().part("essays", csv_part(essays.to_owned(), "essays.csv"));

    let body = assert_error(upload(&app, form).await, 422, "invalid_request").await;

    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 1: missing column(s) content, wording"),
        "{message}"
    );
}

#[tokio::test]
async fn an_upload_without_essays_or_with_a_bad_mapping_or_field_is_422() {
    let app = spawn_app().await;

    let no_essays = Form::new().part("prompts", csv_part(prompts_csv(), "prompts.csv"));
    let body = assert_error(upload(&app, no_essays).await, 422, "invalid_request").await;
    assert!(body["error"]["fields"]["essays"].is_string());

    let bad_mapping = Form::new()
        .part("essays", csv_part(essays_csv(), "essays.csv"))
        .text("mapping", r#"{"text_column": "text"}"#);
    let body = assert_error(upload(&app, bad_mapping).await, 422, "invalid_request").await;
    assert!(
        body["error"]["fields"]["mapping"]
            .as_str()
            .unwrap()
            .contains("text_column")
    );

    let unknown = Form::new()
        .part("essays", csv_part(essays_csv(), "essays.csv"))
        .text("colour", "blue");
    let body = assert_error(upload(&app, unknown).await, 422, "invalid_request").await;
    assert!(body["error"]["fields"]["colour"].is_string());
}

#[tokio::test]
async fn an_upload_that_is_not_multipart_is_415() {
    let app = spawn_app().await;
    let response = app
        .admin_post_json("/api/v1/datasets", &serde_json::json!({"essays": "x"}))
        .await;
    assert_error(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413() {
    let app = spawn_app_with(|s| s.upload_body_limit = 2_000).await;
    let form = Form::new()
        .part("essays", csv_part(essays_csv(), "essays.csv"))
        .part("prompts", csv_part(prompts_csv(), "prompts.csv"));

    assert_error(upload(&app, form).await, 413, "payload_too_large").await;
}

#[tokio::test]
async fn deleting_a_dataset_makes_it_404_and_unknown_ids_are_404() {
    let app = spawn_app().await;
    let id = upload_fixture(&app).await;
    let delete = |path: String| {
        app.client
            .delete(app.url(&path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };

    let response = delete(format!("/api/v1/datasets/{id}")).await.unwrap();
    assert_eq!(response.status().as_u16(), 204);

    assert_error(
        app.admin_get(&format!("/api/v1/datasets/{id}")).await,
        404,
        "not_found",
    )
    .await;
    let again = delete(format!("/api/v1/datasets/{id}")).await.unwrap();
    assert_error(again, 404, "not_found").await;
    assert_error(
        app.admin_get("/api/v1/datasets/nope").await,
        404,
        "not_found",
    )
    .await;
    let list: Value = json_body(app.admin_get("/api/v1/datasets").await).await;
    assert_eq!(list["datasets"], serde_json::json!([]));
}

#[tokio::test]
async fn dataset_routes_need_admin_credentials() {
    let app = spawn_app().await;
    for path in ["/api/v1/datasets", "/api/v1/datasets/x"] {
        assert_error(app.get(path).await, 401, "unauthorized").await;
    }
    let form = Form::new().part("essays", csv_part(essays_csv(), "essays.csv"));
    let post = app
        .client
        .post(app.url("/api/v1/datasets"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(post, 401, "unauthorized").await;
    let delete = app
        .client
        .delete(app.url("/api/v1/datasets/x"))
        .send()
        .await
        .unwrap();
    assert_error(delete, 401, "unauthorized").await;
}

#[tokio::test]
#[ignore = "needs ../shared/data/commonlit (ESSAY_GRADER_COMMONLIT)"]
async fn the_shared_commonlit_files_upload_with_the_default_mapping() {
    let dir = std::env::var_os("ESSAY_GRADER_COMMONLIT")
        .expect("set ESSAY_GRADER_COMMONLIT to the CommonLit folder (.ci/run does when ../shared/data/commonlit exists)");
    let dir = std::path::PathBuf::from(dir);
    let read =
        |name: &str| std::fs::read_to_string(dir.join(name)).expect("read the CommonLit file");
    let app = spawn_app().await;
    let form = Form::new()
        .part("essays", csv_part(read("summaries.csv"), "summaries.csv"))
        .part("prompts", csv_part(read("prompts.csv"), "prompts.csv"));

    let response = upload(&app, form).await;

    assert_eq!(response.status().as_u16(), 201);
    let body = json_body(response).await;
    assert_eq!(body["rows"], 6062);
    let counts: Vec<i64> = body["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["essays"].as_i64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<i64>(), 6062);
    assert_eq!(counts.len(), 3);
}
