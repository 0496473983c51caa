//! The OpenAPI document (`GET /api/openapi.json`) and Swagger UI (`/docs`,
//! served from files compiled into the binary: nothing is fetched at run
//! time). Swagger UI's own index.html has no inline code (its initialiser is
//! the file `swagger-initializer.js`), so it runs under the strict
//! [`super::security_headers::DOCS_CSP`].
//!
//! The document is a contract: integrators generate clients from it, and
//! `scripts/check-openapi.sh` (run by `.ci/run`) holds the server to it with
//! openapi-spec-validator and Schemathesis. Each resource module documents
//! its handlers with `#[utoipa::path]` (their own statuses: 404, 409, 503...);
//! this file lists them, adds the statuses every route shares by what it
//! takes ([`SharedResponses`]: 400, 401, 408, 413, 415, 422, 500) and the
//! links from a created resource to the routes that take its id
//! ([`RESOURCE_LINKS`]). A module that keeps its own `#[derive(OpenApi)]`
//! struct is merged in [`document`].

use axum::Router;
use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use super::{
    auth, datasets, error, grading, health, jobs, metrics, models, prompts, run_plots, runs, scale,
    train_options,
};
use crate::config::Settings;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "essay-grader",
        description = "Grades student essays against their source text; admins retrain it through queued jobs."
    ),
    paths(
        health::health,
        health::ready,
        metrics::render_metrics,
        auth::session_status,
        auth::create_session,
        auth::delete_session,
        grading::grade_essay,
        grading::grade_batch,
        scale::get_scale,
        prompts::create_prompt,
        prompts::list_prompts,
        prompts::get_prompt,
        models::list_models,
        models::list_activations,
        models::get_model,
        models::download_artifact,
        models::activate_model,
        datasets::create_dataset,
        datasets::list_datasets,
        datasets::get_dataset,
        datasets::delete_dataset,
        jobs::create_job,
        jobs::list_jobs,
        jobs::get_job,
        jobs::cancel_job,
        jobs::job_events,
        train_options::get_train_options,
        runs::get_run,
        runs::get_run_metrics,
        runs::get_run_curves,
        run_plots::list_run_plots,
        run_plots::get_run_plot,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "grading", description = "Grade essays (open, or API keys)"),
        (name = "prompts", description = "Registered prompts"),
        (name = "models", description = "The model registry (admin)"),
        (name = "datasets", description = "Training datasets (admin)"),
        (name = "jobs", description = "The training-job queue (admin)"),
        (name = "runs", description = "Runs and their metrics, as MLflow keeps them (admin)"),
        (name = "admin", description = "Admin sessions"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

/// Declares the two ways to authenticate, referenced by the handlers'
/// `security(...)` attributes.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// The whole OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::examples::ExamplesApi::openapi());
    // After the merge, so that every module's routes get them.
    SharedResponses.modify(&mut doc);
    ResourceLinks.modify(&mut doc);
    doc
}

/// An error status shared by many routes: its name under
/// `components/responses`, and what it means.
struct SharedError {
    status: &'static str,
    name: &'static str,
    description: &'static str,
}

const BAD_REQUEST: SharedError = SharedError {
    status: "400",
    name: "BadRequest",
    description: "The request cannot be read: a body that is not valid JSON or UTF-8, an \
                  unreadable multipart upload, or a path parameter that is not UTF-8",
};
const UNAUTHORIZED: SharedError = SharedError {
    status: "401",
    name: "Unauthorized",
    description: "Missing or wrong credentials for this route",
};
const FORBIDDEN: SharedError = SharedError {
    status: "403",
    name: "Forbidden",
    description: "A write authenticated by the session cookie that did not come from this \
                  service's own pages (`Sec-Fetch-Site` or `Origin`)",
};
const REQUEST_TIMEOUT: SharedError = SharedError {
    status: "408",
    name: "RequestTimeout",
    description: "The request took longer than the server's request timeout and was stopped",
};
const PAYLOAD_TOO_LARGE: SharedError = SharedError {
    status: "413",
    name: "PayloadTooLarge",
    description: "The body is larger than this route's limit",
};
const UNSUPPORTED_MEDIA_TYPE: SharedError = SharedError {
    status: "415",
    name: "UnsupportedMediaType",
    description: "The body is not declared with this route's content type",
};
const UNPROCESSABLE: SharedError = SharedError {
    status: "422",
    name: "Unprocessable",
    description: "The request parses, but fields are invalid; `fields` names each one \
                  (a JSON path in the body, or a query or path parameter's name)",
};
const TOO_MANY_REQUESTS: SharedError = SharedError {
    status: "429",
    name: "TooManyRequests",
    description: "Over this client's rate limit (or a cap of this kind of request); \
                  `Retry-After` says when to try again",
};
const WRITE_UNAVAILABLE: SharedError = SharedError {
    status: "503",
    name: "Unavailable",
    description: "The service cannot do this now: the database refuses writes (read-only, \
                  full), or the work queue is full; `Retry-After` says when to try again",
};
const INTERNAL: SharedError = SharedError {
    status: "500",
    name: "Internal",
    description: "The server failed (the cause is logged, never sent)",
};

/// Adds to every operation the error statuses that follow from what it
/// takes, where its own annotation does not already describe them:
/// - a body: 400 (unreadable), 413, 415 and 422;
/// - a path parameter: 400 (not UTF-8);
/// - a query parameter: 422;
/// - credentials it cannot do without: 401, with `WWW-Authenticate`;
/// - a method that writes (POST, PUT, PATCH, DELETE): 503 with `Retry-After`
///   (the database refuses writes), and 403 when it reads credentials (a
///   session cookie sent from another site);
/// - every route: 408 (the request timeout), 429 with `Retry-After` (the
///   rate limit) and 500.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for shared in [
            &BAD_REQUEST,
            &UNAUTHORIZED,
            &FORBIDDEN,
            &REQUEST_TIMEOUT,
            &PAYLOAD_TOO_LARGE,
            &UNSUPPORTED_MEDIA_TYPE,
            &UNPROCESSABLE,
            &TOO_MANY_REQUESTS,
            &WRITE_UNAVAILABLE,
            &INTERNAL,
        ] {
            components
                .responses
                .insert(shared.name.to_owned(), RefOr::T(error_response(shared)));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            // Grading is a POST that never writes to the database.
            let grading = path.starts_with("/api/v1/grade");
            let operations = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, !grading),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ];
            for (operation, writes) in operations {
                let Some(operation) = operation else {
                    continue;
                };
                for shared in shared_errors_of(operation, writes) {
                    let responses = &mut operation.responses.responses;
                    match responses.get_mut(shared.status) {
                        None => {
                            responses.insert(
                                shared.status.to_owned(),
                                RefOr::Ref(Ref::from_response_name(shared.name)),
                            );
                        }
                        // A route's own 503 (say, no model loaded) keeps its
                        // words, and a write adds the shared causes to them.
                        Some(RefOr::T(own)) if shared.status == "503" => {
                            own.description =
                                format!("{}; or: {}", own.description, shared.description);
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
}

/// The shared error statuses `operation` can answer.
fn shared_errors_of(operation: &Operation, writes: bool) -> Vec<&'static SharedError> {
    let mut errors = vec![&REQUEST_TIMEOUT, &TOO_MANY_REQUESTS, &INTERNAL];
    if writes {
        errors.push(&WRITE_UNAVAILABLE);
    }
    let has_param = |place: ParameterIn| {
        operation.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    let has_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| match body {
            RefOr::T(RequestBody { content, .. }) => !content.is_empty(),
            RefOr::Ref(_) => true,
        });
    if has_body || has_param(ParameterIn::Path) {
        errors.push(&BAD_REQUEST);
    }
    if has_body {
        errors.extend([&PAYLOAD_TOO_LARGE, &UNSUPPORTED_MEDIA_TYPE]);
    }
    if has_body || has_param(ParameterIn::Query) {
        errors.push(&UNPROCESSABLE);
    }
    if needs_credentials(operation) {
        errors.push(&UNAUTHORIZED);
    }
    if writes && reads_credentials(operation) {
        errors.push(&FORBIDDEN);
    }
    errors
}

/// Whether the operation names any security scheme (credentials may be
/// optional), so that a session cookie on it counts.
fn reads_credentials(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|alternatives| {
        alternatives
            .iter()
            .any(|requirement| *requirement != SecurityRequirement::default())
    })
}

/// Whether the operation names security schemes and none of its
/// alternatives is the empty one (which makes credentials optional).
fn needs_credentials(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|alternatives| {
        !alternatives.is_empty()
            && !alternatives
                .iter()
                .any(|requirement| *requirement == SecurityRequirement::default())
    })
}

fn error_response(shared: &SharedError) -> Response {
    let mut response = ResponseBuilder::new()
        .description(shared.description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        );
    let header = match shared.status {
        "401" => Some(("WWW-Authenticate", "`Bearer`")),
        "429" | "503" => Some(("Retry-After", "Seconds to wait before trying again")),
        _ => None,
    };
    if let Some((name, description)) = header {
        response = response.header(
            name,
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some(description))
                .build(),
        );
    }
    response.build()
}

/// A link from one operation's answer to an operation that takes an id from
/// it, so that clients (and Schemathesis's stateful phase) can follow a
/// created resource to the routes that read, change or delete it.
struct ResourceLink {
    /// The operation id (the handler's name) the link starts from.
    from: &'static str,
    /// The status of the answer that carries the id.
    status: &'static str,
    /// The operation the link leads to.
    to: &'static str,
    /// Each parameter of `to` and the runtime expression that fills it.
    parameters: &'static [(&'static str, &'static str)],
}

const fn link(
    from: &'static str,
    status: &'static str,
    to: &'static str,
    parameters: &'static [(&'static str, &'static str)],
) -> ResourceLink {
    ResourceLink {
        from,
        status,
        to,
        parameters,
    }
}

const ID_IN_BODY: &[(&str, &str)] = &[("id", "$response.body#/id")];
const ID_IN_PATH: &[(&str, &str)] = &[("id", "$request.path.id")];

/// Every link of the document. A link whose operations or status are missing
/// fails the `every_link_joins_documented_operations` test.
const RESOURCE_LINKS: &[ResourceLink] = &[
    link("create_prompt", "201", "get_prompt", ID_IN_BODY),
    link("create_prompt", "201", "get_calibration", ID_IN_BODY),
    link("create_prompt", "201", "add_examples", ID_IN_BODY),
    link("create_prompt", "201", "list_examples", ID_IN_BODY),
    link("create_prompt", "201", "download_examples_csv", ID_IN_BODY),
    link("create_prompt", "201", "delete_all_examples", ID_IN_BODY),
    link(
        "list_prompts",
        "200",
        "get_prompt",
        &[("id", "$response.body#/prompts/0/id")],
    ),
    link("add_examples", "201", "list_examples", ID_IN_PATH),
    link(
        "list_examples",
        "200",
        "delete_example",
        &[
            ("id", "$request.path.id"),
            ("example_id", "$response.body#/examples/0/id"),
        ],
    ),
    link("create_dataset", "201", "get_dataset", ID_IN_BODY),
    link("create_dataset", "201", "delete_dataset", ID_IN_BODY),
    link(
        "create_dataset_from_examples",
        "201",
        "get_dataset",
        ID_IN_BODY,
    ),
    link(
        "create_dataset_from_examples",
        "201",
        "delete_dataset",
        ID_IN_BODY,
    ),
    link(
        "list_datasets",
        "200",
        "get_dataset",
        &[("id", "$response.body#/datasets/0/id")],
    ),
    link("create_job", "202", "get_job", ID_IN_BODY),
    link("create_job", "202", "job_events", ID_IN_BODY),
    link("create_job", "202", "cancel_job", ID_IN_BODY),
    link(
        "create_job",
        "202",
        "get_run",
        &[("id", "$response.body#/run_id")],
    ),
    link(
        "list_jobs",
        "200",
        "get_job",
        &[("id", "$response.body#/jobs/0/id")],
    ),
    link(
        "get_job",
        "200",
        "get_run",
        &[("id", "$response.body#/run_id")],
    ),
    link("get_run", "200", "get_run_metrics", ID_IN_BODY),
    link("get_run", "200", "get_run_curves", ID_IN_BODY),
    link("get_run", "200", "list_run_plots", ID_IN_BODY),
    link(
        "list_run_plots",
        "200",
        "get_run_plot",
        &[
            ("id", "$request.path.id"),
            ("name", "$response.body#/plots/0/name"),
        ],
    ),
    link(
        "list_models",
        "200",
        "get_model",
        &[("id", "$response.body#/models/0/id")],
    ),
    link(
        "list_models",
        "200",
        "download_artifact",
        &[("id", "$response.body#/models/0/id")],
    ),
    link(
        "list_models",
        "200",
        "activate_model",
        &[("id", "$response.body#/models/0/id")],
    ),
];

/// Puts [`RESOURCE_LINKS`] on the answers they start from.
struct ResourceLinks;

impl Modify for ResourceLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let Some(id) = operation.operation_id.clone() else {
                    continue;
                };
                for resource in RESOURCE_LINKS.iter().filter(|l| l.from == id) {
                    let Some(RefOr::T(response)) =
                        operation.responses.responses.get_mut(resource.status)
                    else {
                        continue;
                    };
                    let mut built = LinkBuilder::new().operation_id(resource.to);
                    for (name, expression) in resource.parameters {
                        built = built.parameter(*name, *expression);
                    }
                    response
                        .links
                        .insert(link_name(resource.to), RefOr::T(built.build()));
                }
            }
        }
    }
}

/// `get_run_metrics` -> `GetRunMetrics`: link names are conventionally
/// capitalised words.
fn link_name(operation_id: &str) -> String {
    operation_id
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `GET /api/openapi.json` (the [`contract`] for these settings) and the
/// Swagger UI under `/docs`.
pub fn router(settings: &Settings) -> Router<AppState> {
    // No validator: Swagger UI would otherwise send the document to
    // validator.swagger.io (blocked by the CSP, and not ours to share).
    let config = utoipa_swagger_ui::Config::from("/api/openapi.json").validator_url("none");
    Router::new().merge(
        SwaggerUi::new("/docs")
            .external_url_unchecked("/api/openapi.json", contract(settings))
            .config(config),
    )
}

/// What a field holds when it must contain something besides white space:
/// a character outside Rust's `char::is_whitespace` set (what `str::trim`
/// removes), spelled out so that every regex engine reads it the same way.
pub const NOT_BLANK: &str = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A prompt id: 1 to 64 letters, digits, `-` or `_` (see `prompts::id_problem`).
pub const PROMPT_ID: &str = "^[A-Za-z0-9_-]{1,64}$";

/// Every model kind a cv job takes, as its JSON names it.
pub const MODEL_KINDS: &[&str] = &[
    "mlp",
    "ridge",
    "logistic",
    "gbdt",
    "mean",
    "blend",
    "mlp_centred",
    "blend_centred",
];

/// The document the server holds itself to: [`document`] plus the rules on
/// request bodies that the handlers check and the derive macros cannot say
/// (text that must not be blank, exactly one form of prompt, list sizes, the
/// configured batch size and length caps), and the multipart upload's parts.
pub fn contract(settings: &Settings) -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).expect("the OpenAPI document serialises");
    let schemas = &mut doc["components"]["schemas"];
    for (schema, property) in [
        ("GradeRequest", "essay"),
        ("ExampleInput", "essay"),
        ("CreatePrompt", "text"),
        ("DatasetFromExamples", "name"),
    ] {
        schemas[schema]["properties"][property]["pattern"] = json!(NOT_BLANK);
    }
    // The configured length caps, in characters (JSON Schema's maxLength
    // counts code points, as `chars_over` does).
    for (schema, property, max) in [
        ("GradeRequest", "essay", settings.essay_max_chars),
        ("CreatePrompt", "title", settings.prompt_title_max_chars),
        (
            "CreatePrompt",
            "question",
            settings.prompt_question_max_chars,
        ),
        ("CreatePrompt", "text", settings.prompt_text_max_chars),
        ("InlinePrompt", "title", settings.prompt_title_max_chars),
        (
            "InlinePrompt",
            "question",
            settings.prompt_question_max_chars,
        ),
        ("InlinePrompt", "text", settings.prompt_text_max_chars),
    ] {
        schemas[schema]["properties"][property]["maxLength"] = json!(max);
    }
    // A registered prompt by id, or one given inline: exactly one of them.
    schemas["GradeRequest"]["oneOf"] = json!([
        {"required": ["prompt_id"], "properties": {"prompt_id": {"type": "string"}}},
        {"required": ["prompt"], "properties": {"prompt": {"type": "object"}}},
    ]);
    schemas["CreatePrompt"]["properties"]["id"]["pattern"] = json!(PROMPT_ID);
    // A malformed batch item fails only itself, in its result: the batch
    // takes any value as an item, and GradeRequest is what grades.
    let items = &mut schemas["BatchRequest"]["properties"]["items"];
    items["minItems"] = json!(1);
    items["maxItems"] = json!(settings.batch_max_items);
    items["items"] = json!({"anyOf": [{"$ref": "#/components/schemas/GradeRequest"}, {}]});
    let examples = &mut schemas["AddExamples"]["properties"]["examples"];
    examples["minItems"] = json!(1);
    examples["maxItems"] = json!(super::examples::MAX_EXAMPLES_PER_REQUEST);
    schemas["DatasetFromExamples"]["properties"]["prompt_ids"]["minItems"] = json!(1);
    let job = &mut schemas["CreateJob"]["properties"];
    job["model_kind"] = json!({
        "description": job["model_kind"]["description"],
        "enum": MODEL_KINDS.iter().map(|k| json!(k)).chain([json!(null)]).collect::<Vec<_>>(),
    });
    job["folds"] = json!({
        "description": job["folds"]["description"],
        "anyOf": [
            {"type": "string", "pattern": "^(prompt|\\+?0*([2-9]|[1-9][0-9]+))$"},
            {"type": "integer", "minimum": 2},
            {"type": "null"},
        ],
    });
    schemas["DatasetUpload"] = json!({
        "type": "object",
        "description": "The parts of a dataset upload.",
        "required": ["essays"],
        "properties": {
            "essays": {"type": "string", "format": "binary", "contentMediaType": "text/csv",
                "description": "The essays CSV (required): an id, a prompt id, the text and a column per target."},
            "prompts": {"type": "string", "format": "binary", "contentMediaType": "text/csv",
                "description": "The prompts CSV (optional): id, title, question and text."},
            "mapping": {"type": "string", "contentMediaType": "application/json",
                "description": "The column mapping as JSON (optional; CommonLit's by default)."},
            "name": {"type": "string", "description": "The dataset's name (optional; the essays file's name by default)."},
        },
        "additionalProperties": false,
    });
    doc["paths"]["/api/v1/datasets"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"] =
        json!({"$ref": "#/components/schemas/DatasetUpload"});
    doc["paths"]["/api/v1/datasets"]["post"]["requestBody"]["required"] = json!(true);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_kinds_are_exactly_those_the_server_takes() {
        for kind in MODEL_KINDS {
            serde_json::from_value::<crate::experiments::ModelKind>(json!(kind))
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
        // serde lists every variant when it refuses an unknown one.
        let refusal = serde_json::from_value::<crate::experiments::ModelKind>(json!("none"))
            .unwrap_err()
            .to_string();
        let listed = refusal.matches('`').count() / 2 - 1;
        assert_eq!(listed, MODEL_KINDS.len(), "{refusal}");
    }

    #[test]
    fn the_blank_pattern_matches_what_trim_removes() {
        let not_blank = NOT_BLANK;
        // Every white-space character of Rust appears in the class.
        for c in (0..=0x3000u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
        {
            let escaped = format!("\\u{:04x}", c as u32);
            let listed = match c {
                '\t' => not_blank.contains("\\t"),
                '\n' => not_blank.contains("\\n"),
                '\u{c}' => not_blank.contains("\\f"),
                '\r' => not_blank.contains("\\r"),
                ' ' => not_blank.contains(' '),
                '\u{2000}'..='\u{200a}' => not_blank.contains("\\u2000-\\u200a"),
                _ => not_blank.contains(&escaped),
            };
            assert!(listed, "{escaped} is white space but not in {not_blank}");
        }
    }

    #[test]
    fn the_contract_says_the_configured_batch_size() {
        let settings = Settings {
            batch_max_items: 7,
            ..Settings::default()
        };
        let doc = contract(&settings);
        let items = &doc["components"]["schemas"]["BatchRequest"]["properties"]["items"];
        assert_eq!(items["maxItems"], 7);
        let essay = &doc["components"]["schemas"]["GradeRequest"]["properties"]["essay"];
        assert_eq!(essay["maxLength"], settings.essay_max_chars);
        let upload = &doc["paths"]["/api/v1/datasets"]["post"]["requestBody"];
        assert_eq!(upload["required"], true);
        assert_eq!(
            doc["components"]["schemas"]["DatasetUpload"]["required"],
            json!(["essays"])
        );
    }

    fn operations(doc: &utoipa::openapi::OpenApi) -> Vec<(String, &str, &Operation)> {
        let mut all = Vec::new();
        for (path, item) in &doc.paths.paths {
            for (method, operation) in [
                ("get", &item.get),
                ("put", &item.put),
                ("post", &item.post),
                ("delete", &item.delete),
                ("patch", &item.patch),
            ] {
                if let Some(operation) = operation {
                    all.push((path.clone(), method, operation));
                }
            }
        }
        all
    }

    fn statuses(operation: &Operation) -> Vec<&str> {
        operation
            .responses
            .responses
            .keys()
            .map(|s| s.as_str())
            .collect()
    }

    #[test]
    fn every_link_joins_documented_operations_and_statuses() {
        let doc = document();
        let all = operations(&doc);
        let by_id = |id: &str| {
            all.iter()
                .find(|(_, _, op)| op.operation_id.as_deref() == Some(id))
                .unwrap_or_else(|| panic!("no operation {id}"))
        };
        for link in RESOURCE_LINKS {
            let (_, _, from) = by_id(link.from);
            assert!(
                statuses(from).contains(&link.status),
                "{} does not answer {}",
                link.from,
                link.status
            );
            let (path, _, _) = by_id(link.to);
            for (name, _) in link.parameters {
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{} has no path parameter {name}",
                    link.to
                );
            }
        }
    }

    #[test]
    fn every_operation_documents_timeouts_rate_limits_and_server_errors() {
        for (path, method, operation) in operations(&document()) {
            for status in ["408", "429", "500"] {
                assert!(
                    statuses(operation).contains(&status),
                    "{method} {path} lacks {status}"
                );
            }
        }
    }

    #[test]
    fn admin_routes_document_401_and_open_routes_do_not() {
        let doc = document();
        let all = operations(&doc);
        let find = |p: &str, m: &str| {
            all.iter()
                .find(|(path, method, _)| path == p && *method == m)
                .map(|(_, _, op)| *op)
                .unwrap()
        };
        assert!(statuses(find("/api/v1/jobs", "get")).contains(&"401"));
        assert!(!statuses(find("/api/v1/grade", "post")).contains(&"401"));
        assert!(!statuses(find("/health", "get")).contains(&"401"));
    }

    #[test]
    fn json_bodies_document_their_parse_errors() {
        let doc = document();
        for (path, method, operation) in operations(&doc) {
            if operation.request_body.is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(
                        statuses(operation).contains(&status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn query_parameters_are_declared_in_the_query() {
        let doc = document();
        for (path, method, operation) in operations(&doc) {
            for parameter in operation.parameters.iter().flatten() {
                let RefOr::T(parameter) = parameter else {
                    continue;
                };
                if parameter.parameter_in == ParameterIn::Path {
                    assert!(
                        path.contains(&format!("{{{}}}", parameter.name)),
                        "{method} {path}: `{}` is declared a path parameter",
                        parameter.name
                    );
                }
            }
        }
    }

    #[test]
    fn credentialed_writes_document_a_cross_site_cookie_403() {
        for (path, method, operation) in operations(&document()) {
            if method != "get" && reads_credentials(operation) {
                assert!(
                    statuses(operation).contains(&"403"),
                    "{method} {path} lacks 403"
                );
            }
        }
        let doc = document();
        let grade = &doc.paths.paths["/api/v1/grade"].post;
        assert!(statuses(grade.as_ref().unwrap()).contains(&"403"));
    }

    #[test]
    fn every_write_documents_a_refused_write() {
        for (path, method, operation) in operations(&document()) {
            if method != "get" {
                assert!(
                    statuses(operation).contains(&"503"),
                    "{method} {path} lacks 503"
                );
            }
        }
    }

    #[test]
    fn link_names_are_capitalised_words() {
        assert_eq!(link_name("get_run_metrics"), "GetRunMetrics");
    }
}
