//! The OpenAPI document (`GET /api/openapi.json`) and Swagger UI (`/docs`,
//! served from files compiled into the binary: nothing is fetched at run
//! time). Swagger UI's own index.html has no inline code (its initialiser is
//! the file `swagger-initializer.js`), so it runs under the strict
//! [`super::security_headers::DOCS_CSP`].
//!
//! Each resource module documents its handlers with `#[utoipa::path]`; this
//! file lists them. A module that keeps its own `#[derive(OpenApi)]` struct is
//! merged in [`document`] instead.

use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;
use super::{
    auth, datasets, error, grading, health, jobs, metrics, models, prompts, run_plots, runs, scale,
    train_options,
};

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
    doc
}

/// `GET /api/openapi.json` and the Swagger UI under `/docs`.
pub fn router() -> Router<AppState> {
    // No validator: Swagger UI would otherwise send the document to
    // validator.swagger.io (blocked by the CSP, and not ours to share).
    let config = utoipa_swagger_ui::Config::from("/api/openapi.json").validator_url("none");
    Router::new().merge(
        SwaggerUi::new("/docs")
            .url("/api/openapi.json", document())
            .config(config),
    )
}
