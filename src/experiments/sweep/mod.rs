//! The seed's experiment as a grid search: network depth × hidden activation
//! × optimizer × learning rate, every cell scored by cross-validation (leave
//! one prompt out), plus the other algorithms and the feature studies on the
//! same features and folds; a ranked report (markdown and JSON) with SVG plots.
//!
//! - [`grid`]: the grid's axes, their validation, and its cells.
//! - [`run`]: running a grid on a dataset, features extracted once.
//! - [`report`]: scored runs, their ranking, the markdown and the plots.
//!
//! Reading the grid file and writing the report directory belong to
//! `cli::sweep`.

pub mod grid;
pub mod report;
pub mod run;
#[cfg(test)]
pub(crate) mod test_runs;

pub use grid::{GridError, GridProblem, OptimizerAxis, SweepCell, SweepGrid};
pub use report::{ScoredRun, SweepReport, rank};
pub use run::{CvScores, EpochSeen, Run, SweepProgress, pool_folds, scores_of, sweep};
