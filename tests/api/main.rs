//! The API tests on SQLite: one test binary (faster to link than one per
//! file), one module per resource. Each test starts its own service with
//! `spawn_app()`. `tests/api_postgres/main.rs` runs the same files on
//! PostgreSQL.

/// The engine this binary runs the suite on.
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod admission;
mod auth;
mod bad_input;
mod datasets;
mod error_shape;
mod examples;
mod faults;
mod grading;
mod health;
mod helpers;
mod jobs;
mod limits;
mod models;
mod prompts;
mod replicas;
mod runs;
mod shared_database;
