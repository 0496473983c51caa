//! Progress of training and cross-validation, and the small worker pool that
//! produces it: independent tasks (ensemble members, folds) run on a bounded
//! number of threads, and every epoch they finish is funnelled back to the
//! caller's thread, whose callback may answer `Stop` to cancel everything.
//!
//! Results never depend on the number of threads: each task is computed alone
//! from its own seed, and results are returned in task order.
//!
//! [`Sequence`] is the one place where runs made one after another (a
//! sweep's cross-validations, a train job's cross-validation then its final
//! training) are counted as one: their `done`/`total` added up.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

use serde::{Deserialize, Serialize};

use crate::nn::Control;

/// One finished epoch of one network, as seen by the caller.
///
/// `fold`/`epoch` describe the task that reported; with several ensemble
/// members training in parallel, reports of different members interleave.
/// `done`/`total` count member-epochs over the whole run and only grow, so
/// they are the figure to draw a bar or estimate the time left from
/// (`total` assumes every member trains every epoch; a member that stops
/// early adds its skipped epochs to `done` when it ends).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// 1-based fold (always 1 when training on all rows).
    pub fold: usize,
    /// Number of folds.
    pub folds: usize,
    /// 1-based ensemble member that reported.
    pub member: usize,
    /// Number of ensemble members.
    pub members: usize,
    /// 1-based epoch of that member.
    pub epoch: usize,
    /// Maximum epochs of a member.
    pub epochs: usize,
    /// Mean training loss of the epoch (NaN, null in JSON, for a baseline
    /// that has no epochs and reports once per fold).
    pub train_loss: f64,
    /// Validation loss after the epoch, when early stopping is on.
    pub val_loss: Option<f64>,
    /// Member-epochs finished so far in the whole run.
    pub done: usize,
    /// Member-epochs in the whole run, at most.
    pub total: usize,
}

/// Progress of several runs made one after another, reported as one run:
/// `done` and `total` count member-epochs over all of them, so a bar or an
/// estimate of the time left never runs backwards. Every other field of a
/// report stays the running run's own (its fold, member, epoch, losses).
///
/// A run's size is known only once it reports, so the runs still to come
/// are estimated from the running one by their relative weights (a sweep's
/// runs weigh the same; a final training on every row weighs one fold of
/// the cross-validation before it). A run made of several cross-validations
/// in a row (a feature-subset study) may restart its count from 0: the
/// restart is noticed and the finished part kept.
#[derive(Debug, Clone)]
pub struct Sequence {
    /// Expected size of each run, relative to the others.
    weights: Vec<usize>,
    /// The running run, 0-based.
    run: usize,
    /// Member-epochs of the runs already finished.
    finished: usize,
    /// Member-epochs of the running run's earlier counts (before a restart).
    restarted: usize,
    /// The running run's last (done, total).
    last: Option<(usize, usize)>,
}

impl Sequence {
    /// Runs of these relative sizes (each at least 1), in order.
    pub fn new(weights: Vec<usize>) -> Sequence {
        Sequence {
            weights: weights.into_iter().map(|w| w.max(1)).collect(),
            run: 0,
            finished: 0,
            restarted: 0,
            last: None,
        }
    }

    /// `runs` runs of the same size.
    pub fn even(runs: usize) -> Sequence {
        Sequence::new(vec![1; runs])
    }

    /// The running run, 0-based.
    pub fn run(&self) -> usize {
        self.run
    }

    /// The running run's report `p`, with `done` and `total` counted over the
    /// whole sequence.
    pub fn overall(&mut self, p: &Progress) -> Progress {
        if let Some((done, total)) = self.last
            && p.done < done
        {
            self.restarted += total;
        }
        self.last = Some((p.done, p.total));
        let before = self.finished + self.restarted;
        let weight = self.weights.get(self.run).copied().unwrap_or(1);
        let still_to_come: usize = self.weights.iter().skip(self.run + 1).sum();
        Progress {
            done: before + p.done,
            total: before + p.total + p.total * still_to_come / weight,
            ..*p
        }
    }

    /// Ends the running run (its last total counts as done, whether or not
    /// it finished early); the next report belongs to the next run.
    pub fn next_run(&mut self) {
        self.finished += self.restarted + self.last.map_or(0, |(_, total)| total);
        self.restarted = 0;
        self.last = None;
        self.run += 1;
    }
}

/// What a task tells the pool.
pub(crate) enum Message {
    /// An epoch finished: (fold, member, epoch, train loss, val loss).
    Epoch {
        fold: usize,
        member: usize,
        epoch: usize,
        train_loss: f64,
        val_loss: Option<f64>,
    },
    /// A task ended having skipped this many of its epochs.
    Skipped(usize),
}

/// The handle a running task reports through.
pub(crate) struct Reporter<'a> {
    tx: mpsc::Sender<Message>,
    stop: &'a AtomicBool,
}

impl Reporter<'_> {
    /// Sends a message; answers `Stop` once the caller has cancelled.
    pub(crate) fn send(&self, message: Message) -> Control {
        // The receiver lives until every task has ended, so a send cannot fail
        // while it matters; a failure would only mean the run is over.
        let _ = self.tx.send(message);
        if self.stop.load(Ordering::Relaxed) {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    /// True once the caller has cancelled.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The shape of a run, to fill in [`Progress`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunShape {
    pub folds: usize,
    pub members: usize,
    pub epochs: usize,
    /// Member-epochs at most (tasks × epochs).
    pub total: usize,
}

/// Runs `n` tasks on up to `threads` threads. `work(i, reporter)` computes
/// task i. Progress reaches `on_progress` on the calling thread. Returns the
/// results in task order, and whether the callback asked to stop.
pub(crate) fn run_tasks<R: Send>(
    n: usize,
    threads: usize,
    shape: RunShape,
    work: &(dyn Fn(usize, &Reporter) -> R + Sync),
    on_progress: &mut dyn FnMut(&Progress) -> Control,
) -> (Vec<R>, bool) {
    let stop = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    let (tx, rx) = mpsc::channel::<Message>();
    let workers = threads.clamp(1, n.max(1));
    let mut done = 0usize;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (stop, next, results) = (&stop, &next, &results);
            scope.spawn(move || {
                let reporter = Reporter { tx, stop };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = work(i, &reporter);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
        // Only the workers' senders remain: the loop ends when they all finish.
        drop(tx);
        for message in rx {
            match message {
                Message::Epoch {
                    fold,
                    member,
                    epoch,
                    train_loss,
                    val_loss,
                } => {
                    done += 1;
                    let p = Progress {
                        fold,
                        folds: shape.folds,
                        member,
                        members: shape.members,
                        epoch,
                        epochs: shape.epochs,
                        train_loss,
                        val_loss,
                        done: done.min(shape.total),
                        total: shape.total,
                    };
                    if on_progress(&p) == Control::Stop {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                Message::Skipped(k) => done += k,
            }
        }
    });
    let cancelled = stop.load(Ordering::Relaxed);
    let results = results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect::<Vec<R>>();
    (results, cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(tasks: usize, epochs: usize) -> RunShape {
        RunShape {
            folds: 1,
            members: tasks,
            epochs,
            total: tasks * epochs,
        }
    }

    fn report(done: usize, total: usize) -> Progress {
        Progress {
            fold: 1,
            folds: 3,
            member: 1,
            members: 1,
            epoch: done,
            epochs: total,
            train_loss: 0.5,
            val_loss: None,
            done,
            total,
        }
    }

    #[test]
    fn a_sequence_of_even_runs_counts_done_and_total_over_all_of_them() {
        let mut sequence = Sequence::even(3);

        let first = sequence.overall(&report(2, 10));
        sequence.next_run();
        let second = sequence.overall(&report(4, 10));
        sequence.next_run();
        let last = sequence.overall(&report(10, 10));

        assert_eq!((first.done, first.total), (2, 30));
        assert_eq!((second.done, second.total), (14, 30));
        assert_eq!((last.done, last.total), (30, 30));
        assert_eq!(
            (second.fold, second.epoch),
            (1, 4),
            "the run's own fields stay"
        );
        assert_eq!(sequence.run(), 2);
    }

    #[test]
    fn a_lighter_last_run_adds_its_share_to_the_estimate() {
        // Three folds of cross-validation, then one final training: a fold's worth.
        let mut sequence = Sequence::new(vec![3, 1]);

        let cv = sequence.overall(&report(30, 30));
        sequence.next_run();
        let last = sequence.overall(&report(5, 10));

        assert_eq!((cv.done, cv.total), (30, 40));
        assert_eq!((last.done, last.total), (35, 40));
    }

    #[test]
    fn a_run_that_restarts_its_count_keeps_what_it_had_done() {
        let mut sequence = Sequence::even(2);

        sequence.overall(&report(8, 8));
        let restarted = sequence.overall(&report(1, 8));
        sequence.next_run();
        let next = sequence.overall(&report(1, 8));

        assert_eq!((restarted.done, restarted.total), (9, 24));
        assert_eq!(next.done, 17);
    }

    #[test]
    fn tasks_return_in_order_whatever_the_thread_count() {
        for threads in [1, 2, 5] {
            let (out, cancelled) = run_tasks(7, threads, shape(7, 1), &|i, _| i * 10, &mut |_| {
                Control::Continue
            });
            assert!(!cancelled);
            assert_eq!(out, vec![0, 10, 20, 30, 40, 50, 60]);
        }
    }

    #[test]
    fn progress_counts_every_epoch_and_stop_cancels_the_run() {
        let mut seen = Vec::new();
        let (out, cancelled) = run_tasks(
            3,
            1,
            shape(3, 4),
            &|i, r| {
                for epoch in 1..=4 {
                    let msg = Message::Epoch {
                        fold: 1,
                        member: i + 1,
                        epoch,
                        train_loss: 1.0,
                        val_loss: None,
                    };
                    if r.send(msg) == Control::Stop {
                        return false;
                    }
                    if epoch == 2 {
                        // Wait (bounded) until the caller has seen epoch 2 and said stop.
                        let start = std::time::Instant::now();
                        while !r.stopped() && start.elapsed().as_secs() < 10 {
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                    }
                }
                true
            },
            &mut |p| {
                seen.push(p.done);
                if p.done == 2 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
        );
        assert!(cancelled);
        assert_eq!(&seen[..2], &[1, 2]);
        // The first task saw the stop; no later task started.
        assert_eq!(out, vec![false]);
    }
}
