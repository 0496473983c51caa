//! essay-grader: grades student essays against the source text they read, and
//! retrains itself from graded essays.
//!
//! The arrows point one way: `experiments` → `grader` → `training` →
//! {`nn`, `features`}, and nothing below imports from above; `http`, `jobs`,
//! `cli` and `bench` sit on top and may call any of them (and `store`).
//! `nn`, `features` and `calibration` call nothing of ours and do no I/O;
//! `grader` and `experiments` use `calibration`.
//!
//! - [`calibration`]: per-prompt calibration from a teacher's graded examples; pure.
//! - [`nn`]: the neural-network core on ndarray (layers, activations, losses, optimizers).
//! - [`features`]: text in, a named feature vector out; pure functions.
//! - [`training`]: datasets and CSV layouts, score grids, folds, the cross-validation harness, metrics, the train config.
//! - [`grader`]: the production model: its artifact, training it, grading, explaining, the ensemble.
//! - [`experiments`]: the sweep, the baselines, GBDT, feature selection, plots, model kinds.
//! - [`store`]: SQLite queries, one file per table.
//! - [`jobs`]: the durable training-job queue and its worker pool.
//! - [`http`]: axum routers, handlers, the HTTP error type and the OpenAPI document.
//! - [`config`]: every setting of the service, from flags or the environment.
//! - [`startup`]: `Application::build` / `run_until_stopped`, shared by `main` and the tests.
//! - [`cli`]: the command-line subcommands.
//! - [`bench`]: the `bench` subcommand's measurements.

pub mod bench;
pub mod calibration;
pub mod cli;
pub mod config;
pub mod experiments;
pub mod features;
pub mod grader;
pub mod http;
pub mod jobs;
pub mod nn;
pub mod startup;
pub mod store;
pub mod training;
