//! The API tests: one test binary (faster to link than one per file), one
//! module per resource. Each test starts its own service with `spawn_app()`.

mod auth;
mod bad_input;
mod datasets;
mod examples;
mod grading;
mod health;
mod helpers;
mod jobs;
mod models;
mod prompts;
mod runs;
