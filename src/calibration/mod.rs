//! Calibration from a teacher's graded examples: on a prompt the model has
//! never seen, its scores can be shifted (and, less often, stretched) for the
//! whole class. A teacher who grades a few essays shows the shift; this module
//! estimates it, shrunk towards "no change" by how little the examples prove.
//!
//! Pure: no I/O, no async, nothing of ours is called. The inputs are, per
//! example, the model's raw scores and the teacher's scores (one per target);
//! the output is a fitted [`Calibration`] that maps raw scores to calibrated
//! ones, and an honest leave-one-out [`Estimate`] of what it gains.
//!
//! - [`prior`]: [`Prior`], the method's hyperparameters (checked once) and the
//!   defaults chosen by the leave-one-prompt-out study in docs/experiments.md.
//! - [`target`]: one target: [`TargetScale`] (the model's training
//!   distribution), the examples' sufficient statistics, and the fitted
//!   [`TargetCalibration`].
//! - [`prompt`]: every target of a prompt: [`Example`], [`Calibration`], and the
//!   leave-one-out [`Estimate`].
//!
//! The method, per target, on scores standardised by the model's training
//! mean `m` and standard deviation `s`: the residual `r = (teacher − raw)/s`
//! of an example whose raw score is `x = (raw − m)/s` is modelled as
//! `r = a + c·x + noise`, with Gaussian priors `a ~ N(0, offset_sd²)` and
//! `c ~ N(0, slope_sd²)` and the noise's variance estimated from the examples,
//! pooled with a prior guess. The posterior mean of `(a, c)` gives the
//! calibrated score `raw + s·a + c·(raw − m)`, clamped to the target's range.
//! With few examples the prior dominates and the scores barely move; with
//! many the examples do.

pub mod prior;
pub mod prompt;
pub mod target;

pub use prior::{Prior, PriorError, ValidPrior};
pub use prompt::{Calibration, Estimate, Example, leave_one_out};
pub use target::{TargetCalibration, TargetScale};
