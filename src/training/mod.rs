//! Training: datasets read from CSV, train configs, metrics, folds and
//! cross-validation, the grader model artifact and its grading. It calls
//! `features` and `nn`; it knows nothing of HTTP or the database.
//!
//! - [`dataset`]: CSV layouts, score grids, checked datasets with file/line/column errors.

pub mod dataset;

pub use dataset::{Dataset, DatasetError, DatasetLayout, EssayRecord, Problem, ScoreGrid};
