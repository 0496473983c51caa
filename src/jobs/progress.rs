//! A job's progress as the API shows it (`{fold, folds, epoch, epochs,
//! train_loss, val_loss, eta_s}`), the estimate of the time left, and the
//! throttle that keeps progress writes to the database at most one a second.
//! Nothing here does I/O; the worker decides what to send where.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::training::Progress;

/// Where a running job is, as reported after each epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobProgress {
    /// The fold being trained, 1-based (1 for a train job, which uses every row).
    pub fold: usize,
    /// How many folds the job trains in all.
    pub folds: usize,
    /// The ensemble member that reported, 1-based (members train in turn or
    /// side by side, each from its own seed).
    pub member: usize,
    /// Ensemble members per fold.
    pub members: usize,
    /// The epoch just finished by that member, 1-based.
    pub epoch: usize,
    /// Epochs per fold (an upper bound when early stopping is on).
    pub epochs: usize,
    /// Mean training loss of that epoch; `None` when it was not finite.
    pub train_loss: Option<f64>,
    /// Validation loss of that epoch, when a validation split is used.
    pub val_loss: Option<f64>,
    /// Estimated seconds left, from the time taken so far.
    pub eta_s: Option<f64>,
    /// The share of the whole job done, 0 to 1 (what a progress bar shows;
    /// absent from progress stored before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction_done: Option<f64>,
    /// A sweep's run being cross-validated, by its position in the sweep:
    /// the grid's cells by index, then the baselines, the feature sets and
    /// the feature-subset sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<usize>,
    /// The phase of a train job that cross-validates first: `cv`, then `final`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// One epoch's report from training, before the ETA is added: training's
/// own [`Progress`] (whose `done`/`total` the executor rescales to the whole
/// job) and where in a sweep or a two-phase train job it stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// Training's report, with `done`/`total` counted over the whole job.
    pub progress: Progress,
    /// The sweep's run being cross-validated (see [`JobProgress::cell`]).
    pub cell: Option<usize>,
    /// The phase of a train job that cross-validates first (`cv`, `final`).
    pub phase: Option<&'static str>,
}

impl EpochReport {
    /// The share of the whole job done once this epoch finished, in [0, 1].
    /// `total` assumes every member trains every epoch (training adds the
    /// epochs that early stopping skips to `done`), so the share never runs
    /// backwards.
    pub fn fraction_done(&self) -> f64 {
        let p = &self.progress;
        if p.total == 0 {
            return 0.0;
        }
        (p.done as f64 / p.total as f64).clamp(0.0, 1.0)
    }

    /// The report as the API shows it, with the time left estimated from
    /// `elapsed` (the time since the job started) by linear extrapolation.
    pub fn with_eta(&self, elapsed: Duration) -> JobProgress {
        let done = self.fraction_done();
        let eta_s = (done > 0.0).then(|| elapsed.as_secs_f64() * (1.0 - done) / done);
        let p = &self.progress;
        JobProgress {
            fold: p.fold,
            folds: p.folds,
            member: p.member,
            members: p.members,
            epoch: p.epoch,
            epochs: p.epochs,
            train_loss: finite(p.train_loss),
            val_loss: p.val_loss.and_then(finite),
            eta_s,
            fraction_done: Some(done),
            cell: self.cell,
            phase: self.phase.map(str::to_owned),
        }
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// Lets an action through at most once per period. Progress arrives after
/// every epoch (hundreds a second for tiny jobs); the database needs only
/// the latest, at most once a second.
#[derive(Debug, Clone)]
pub struct Throttle {
    period: Duration,
    last: Option<Instant>,
}

impl Throttle {
    /// A throttle that opens at most once per `period`.
    pub fn new(period: Duration) -> Self {
        Self { period, last: None }
    }

    /// Whether the action may run at `now`; if so, the period restarts.
    pub fn ready(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.period => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report of a job of `folds` folds of one member and `epochs` epochs each.
    fn report(fold: usize, folds: usize, epoch: usize, epochs: usize) -> EpochReport {
        EpochReport {
            progress: Progress {
                fold,
                folds,
                member: 1,
                members: 1,
                epoch,
                epochs,
                train_loss: 0.5,
                val_loss: None,
                done: (fold.max(1) - 1) * epochs + epoch,
                total: folds * epochs,
            },
            cell: None,
            phase: None,
        }
    }

    #[test]
    fn the_throttle_opens_at_most_once_a_second() {
        let start = Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(1));
        let at = |ms| start + Duration::from_millis(ms);

        let opened: Vec<u64> = [0, 10, 500, 999, 1000, 1001, 1500, 2100]
            .into_iter()
            .filter(|&ms| throttle.ready(at(ms)))
            .collect();

        assert_eq!(opened, vec![0, 1000, 2100]);
    }

    #[test]
    fn the_fraction_done_is_the_share_of_member_epochs_finished() {
        assert_eq!(report(1, 3, 5, 10).fraction_done(), 5.0 / 30.0);
        assert_eq!(report(3, 3, 10, 10).fraction_done(), 1.0);
        assert_eq!(report(2, 4, 1, 2).fraction_done(), 3.0 / 8.0);
    }

    #[test]
    fn the_eta_extrapolates_the_time_per_unit_of_work() {
        // A quarter done in 10 s leaves three quarters: 30 s.
        let progress = report(1, 2, 5, 10).with_eta(Duration::from_secs(10));
        assert_eq!(progress.eta_s, Some(30.0));
        let finished = report(2, 2, 10, 10).with_eta(Duration::from_secs(10));
        assert_eq!(finished.eta_s, Some(0.0));
    }

    #[test]
    fn non_finite_losses_are_shown_as_missing_so_the_json_stays_valid() {
        let mut nan = report(1, 1, 1, 1);
        nan.progress.train_loss = f64::NAN;
        nan.progress.val_loss = Some(f64::INFINITY);

        let progress = nan.with_eta(Duration::from_secs(1));

        assert_eq!((progress.train_loss, progress.val_loss), (None, None));
        assert!(serde_json::to_string(&progress).is_ok());
    }

    #[test]
    fn degenerate_counts_do_not_divide_by_zero() {
        assert_eq!(report(0, 0, 0, 0).fraction_done(), 0.0);
        assert_eq!(
            report(0, 0, 0, 0).with_eta(Duration::from_secs(3)).eta_s,
            None
        );
    }
}
