//! The API tests on PostgreSQL: the very files of `tests/api/`, compiled a
//! second time with `BACKEND = Postgres`, so every test is written once and
//! run on both engines. Each test gets its own database on the server named
//! by `ESSAY_GRADER_TEST_POSTGRES`.
//!
//! Not part of a plain `cargo test` (it needs a server; `test = false` in
//! Cargo.toml): `.ci/run` starts a throwaway PostgreSQL and runs
//! `cargo test --test api_postgres`.

/// The engine this binary runs the suite on.
pub const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/admission.rs"]
mod admission;
#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/bad_input.rs"]
mod bad_input;
#[path = "../api/datasets.rs"]
mod datasets;
#[path = "../api/error_shape.rs"]
mod error_shape;
#[path = "../api/examples.rs"]
mod examples;
#[path = "../api/faults.rs"]
mod faults;
#[path = "../api/grading.rs"]
mod grading;
#[path = "../api/health.rs"]
mod health;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/jobs.rs"]
mod jobs;
#[path = "../api/limits.rs"]
mod limits;
#[path = "../api/models.rs"]
mod models;
#[path = "../api/prompts.rs"]
mod prompts;
#[path = "../api/replicas.rs"]
mod replicas;
#[path = "../api/runs.rs"]
mod runs;
#[path = "../api/shared_database.rs"]
mod shared_database;
