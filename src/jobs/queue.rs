//! The [`JobQueue`] handle and the pool of workers behind it.
//!
//! A worker loops: claim the oldest queued row (one atomic UPDATE, see
//! `store::jobs::claim_next_job`), run it, repeat; when the queue is empty it
//! sleeps until [`JobQueue::enqueue`] wakes it or the poll interval passes
//! (the interval catches jobs queued by another process).
//!
//! A claim is a lease (`store::jobs::Lease`): it lapses [`QueueSettings::lease`]
//! after the last renewal. The heartbeat renews it; every write of the worker
//! carries its token, so once it is lost (another process recovered the job)
//! the worker writes nothing more and stops training at the next epoch. The
//! worker also stops by itself when it could not renew for a whole lease,
//! because by then another process may have taken the job. Every process
//! recovers lapsed leases every [`QueueSettings::recovery_interval`]; none
//! touches a job whose lease is live, so any number of processes may share
//! one database. Running a job:
//!
//! 1. load its dataset rows (async), then start a dedicated training thread
//!    that runs the [`Executor`] inside `catch_unwind`, so a panic in
//!    training fails the job instead of the server;
//! 2. supervise it: every epoch report updates the live snapshot that
//!    server-sent events watch, is buffered as run metrics, and is written to
//!    the row at most once a second; every second the row gets a heartbeat,
//!    whose answer carries cancel requests made through any process;
//! 3. end it: one transaction registers the model (train jobs), appends the
//!    last metrics and sets the final status. A cancelled job's training
//!    stops at its next epoch boundary because the epoch callback returns
//!    `Break` once the job's cancel flag is set.
//!
//! On shutdown the workers stop their training at the next epoch and put the
//! job back in the queue; the next claim, here or in another process, starts
//! it from the beginning.
//!
//! A database that refuses writes (read-only, full: see
//! `store::writability`) is waited out, not taken for a lost lease: nobody
//! can recover the job meanwhile, since recovery is a write too. Training
//! goes on, its progress stays live, its metric points wait in a bounded
//! buffer ([`UnsavedPoints`]), and a finished job's end (model, metrics,
//! status) is held in memory and retried until the database takes it. This
//! process's recovery spares the jobs it still runs, so when the database
//! comes back a lease that lapsed meanwhile is renewed, not recovered.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::Db;
use serde::Serialize;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::jobs::executor::{Executor, JobInput, JobOutput};
use crate::jobs::progress::{EpochReport, JobProgress, Throttle};
use crate::jobs::spec::JobSpec;
use crate::jobs::unsaved_points::UnsavedPoints;
use crate::jobs::{JobKind, JobStatus, MAX_ATTEMPTS};
use crate::store;
use crate::store::jobs::{
    CancelOutcome, Claim, Heartbeat, JobEnd, JobRow, Lease, LeaseTerms, NewJob,
};
use crate::store::runs::MetricPoint;

/// How the worker pool behaves.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How many jobs train at once (each on its own thread).
    pub workers: usize,
    /// How often an idle worker looks for jobs it was not woken for.
    pub poll_interval: Duration,
    /// How often a running job's row gets a heartbeat (and progress, at most).
    pub heartbeat_interval: Duration,
    /// How long shutdown waits for a training thread to reach an epoch
    /// boundary before requeueing its job anyway.
    pub shutdown_grace: Duration,
    /// How long a claim holds without a renewal. A job whose worker died is
    /// rerun this long after its last heartbeat; it must be several heartbeat
    /// intervals, so that a slow write does not cost a live worker its job.
    pub lease: Duration,
    /// How often this process looks for lapsed leases to recover.
    pub recovery_interval: Duration,
    /// How many metric points a running job keeps while they cannot be
    /// written (the database refuses writes); beyond it the oldest are dropped.
    pub max_unsaved_points: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self::with_lease(Duration::from_secs(30))
    }
}

impl QueueSettings {
    /// The default settings with this lease, recovering lapsed leases at a
    /// sixth of it (between half a second and five seconds), so that a dead
    /// worker's job waits at most a little more than one lease.
    pub fn with_lease(lease: Duration) -> Self {
        Self {
            workers: 1,
            poll_interval: Duration::from_secs(2),
            heartbeat_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            lease,
            recovery_interval: (lease / 6)
                .clamp(Duration::from_millis(500), Duration::from_secs(5)),
            max_unsaved_points: DEFAULT_MAX_UNSAVED_POINTS,
        }
    }

    /// The terms of a claim or renewal made now: the lease runs from now.
    fn lease_from_now(&self) -> (String, String) {
        let now = time::OffsetDateTime::now_utc();
        (
            store::format_time(now),
            store::format_time(now + self.lease),
        )
    }
}

/// The default of [`QueueSettings::max_unsaved_points`]: 50,000 points of
/// about 100 bytes, some 5 MB per running job at most.
pub const DEFAULT_MAX_UNSAVED_POINTS: usize = 50_000;

/// A job's state as its watchers see it: what `GET /jobs/{id}/events` sends.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobSnapshot {
    /// The job's id.
    pub id: String,
    /// Its status.
    pub status: JobStatus,
    /// Its latest progress.
    pub progress: Option<JobProgress>,
    /// Why it failed.
    pub error: Option<String>,
    /// The model a successful train job registered.
    pub model_id: Option<String>,
}

impl JobSnapshot {
    /// The snapshot of a stored row.
    pub fn from_row(row: &JobRow) -> Self {
        Self {
            id: row.id.clone(),
            status: JobStatus::parse(&row.status).unwrap_or(JobStatus::Failed),
            progress: row
                .progress
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok()),
            error: row.error.clone(),
            model_id: row.model_id.clone(),
        }
    }
}

/// The handle to the queue: cheap to clone, shared by the HTTP handlers and
/// the workers.
#[derive(Clone)]
pub struct JobQueue {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where the jobs live.
    pool: Db,
    /// Who this process is in `jobs.claimed_by`: host, process id and a
    /// random suffix, so two processes on one machine are told apart.
    holder: String,
    /// Wakes one idle worker when a job is queued, so it starts at once
    /// instead of at the next poll.
    wake: Notify,
    /// Live snapshots of the jobs running in this process, for server-sent
    /// events; an entry exists from claim until the job ends.
    live: Mutex<HashMap<String, watch::Sender<JobSnapshot>>>,
    /// Cancel flags of the jobs running in this process: set by a cancel
    /// request (or a heartbeat that saw one), read by the epoch callback.
    cancel_flags: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Tells the workers to stop: true once shutdown began.
    shutdown: watch::Sender<bool>,
    /// What runs the jobs.
    executor: Arc<dyn Executor>,
    /// Pool size and timings.
    settings: QueueSettings,
}

/// The running workers, returned by [`JobQueue::start`].
pub struct WorkerPool {
    queue: JobQueue,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl JobQueue {
    /// A queue over `pool`; no worker runs until [`start`](Self::start).
    pub fn new(pool: Db, settings: QueueSettings, executor: Arc<dyn Executor>) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                holder: holder_name(),
                wake: Notify::new(),
                live: Mutex::default(),
                cancel_flags: Mutex::default(),
                shutdown: watch::channel(false).0,
                executor,
                settings,
            }),
        }
    }

    /// Recovers the jobs whose lease lapsed (requeued, or failed after
    /// [`MAX_ATTEMPTS`]) and starts the workers and the recovery task, which
    /// repeats that every [`QueueSettings::recovery_interval`]. Jobs other
    /// processes are running keep running there.
    pub async fn start(&self) -> Result<WorkerPool, sqlx::Error> {
        self.recover_expired_leases().await?;
        self.refresh_gauges().await;
        let mut workers: Vec<JoinHandle<()>> = (0..self.inner.settings.workers.max(1))
            .map(|n| {
                let queue = self.clone();
                tokio::spawn(async move { queue.work(n).await })
            })
            .collect();
        let queue = self.clone();
        workers.push(tokio::spawn(
            async move { queue.recover_until_stopped().await },
        ));
        Ok(WorkerPool {
            queue: self.clone(),
            workers,
        })
    }

    /// Which process this queue is in `jobs.claimed_by`.
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    /// Requeues (or fails, or cancels) the jobs whose lease lapsed, and wakes
    /// a worker when some went back in the queue.
    pub async fn recover_expired_leases(&self) -> Result<(), sqlx::Error> {
        // Jobs this process still runs are its own to record, however late.
        let running_here: Vec<String> = lock(&self.inner.live).keys().cloned().collect();
        let recovery = store::jobs::recover_expired_leases_sparing(
            &self.inner.pool,
            MAX_ATTEMPTS,
            &store::now(),
            &running_here,
        )
        .await?;
        if !recovery.is_empty() {
            tracing::warn!(
                requeued = ?recovery.requeued,
                failed = ?recovery.failed,
                cancelled = ?recovery.cancelled,
                "recovered jobs whose worker stopped renewing its lease"
            );
            self.inner.wake.notify_one();
            self.refresh_gauges().await;
        }
        Ok(())
    }

    async fn recover_until_stopped(&self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.inner.settings.recovery_interval) => {}
                () = stopping(&mut shutdown) => return,
            }
            match self.recover_expired_leases().await {
                Ok(()) => {}
                Err(err) if store::writability::not_writable(&err).is_some() => {
                    tracing::debug!(error = %err, "cannot recover lapsed leases while the database refuses writes")
                }
                Err(err) => tracing::warn!(error = %err, "could not look for lapsed job leases"),
            }
        }
    }

    /// Queues a job (and its run) and wakes a worker.
    pub async fn enqueue(&self, new: &NewJob) -> Result<JobRow, sqlx::Error> {
        let row = store::jobs::insert_job(&self.inner.pool, new).await?;
        self.inner.wake.notify_one();
        self.refresh_gauges().await;
        Ok(row)
    }

    /// Queues a job unless `max_queued` are queued already (then
    /// `Err(queued)`, and nothing is written).
    pub async fn enqueue_if_room(
        &self,
        new: &NewJob,
        max_queued: i64,
    ) -> Result<Result<JobRow, i64>, sqlx::Error> {
        let row = store::jobs::insert_job_if_room(&self.inner.pool, new, max_queued).await?;
        if row.is_ok() {
            self.inner.wake.notify_one();
            self.refresh_gauges().await;
        }
        Ok(row)
    }

    /// Cancels a queued job, or asks the worker of a running one to stop it
    /// at its next epoch.
    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome, sqlx::Error> {
        let outcome = store::jobs::request_cancel(&self.inner.pool, id, &store::now()).await?;
        if outcome == CancelOutcome::Requested
            && let Some(flag) = lock(&self.inner.cancel_flags).get(id)
        {
            flag.store(true, Ordering::Relaxed);
        }
        self.refresh_gauges().await;
        Ok(outcome)
    }

    /// Begins a graceful shutdown: running jobs stop at their next epoch and
    /// go back in the queue, idle workers stop, and event streams end (so
    /// the HTTP server is not kept waiting by them). [`WorkerPool::shutdown`]
    /// waits for the workers to finish.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Resolves once a shutdown has begun.
    pub async fn stopping(&self) {
        let mut receiver = self.inner.shutdown.subscribe();
        // The sender lives as long as the queue, so this only ends by the flag.
        let _ = receiver.wait_for(|stop| *stop).await;
    }

    /// A live view of a job running in this process, or `None` when it is not
    /// running here (read the row instead).
    pub fn watch(&self, id: &str) -> Option<watch::Receiver<JobSnapshot>> {
        lock(&self.inner.live).get(id).map(watch::Sender::subscribe)
    }

    /// Sets the `/metrics` gauges from the table: jobs by status, and the
    /// queue depth (jobs waiting for a worker).
    pub async fn refresh_gauges(&self) {
        match store::jobs::count_jobs_by_status(&self.inner.pool).await {
            Ok(counts) => {
                for status in JobStatus::ALL {
                    let n = counts
                        .iter()
                        .find(|(s, _)| s == status.as_str())
                        .map_or(0, |(_, n)| *n);
                    metrics::gauge!("jobs", "status" => status.as_str()).set(n as f64);
                    if status == JobStatus::Queued {
                        metrics::gauge!("job_queue_depth").set(n as f64);
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not count jobs for the metrics"),
        }
    }

    async fn work(&self, worker: usize) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            if *shutdown.borrow() {
                return;
            }
            let (now, expires_at) = self.inner.settings.lease_from_now();
            let terms = LeaseTerms {
                now: &now,
                expires_at: &expires_at,
            };
            match store::jobs::claim_next_job(&self.inner.pool, &self.inner.holder, terms).await {
                Ok(Some(claim)) => {
                    tracing::info!(worker, job_id = %claim.job.id, kind = %claim.job.kind, attempt = claim.job.attempts, "job claimed");
                    self.run(claim).await;
                    continue;
                }
                Ok(None) => {}
                // The write probe logs a database that refuses writes once;
                // claiming waits for it quietly.
                Err(err) if store::writability::not_writable(&err).is_some() => {
                    tracing::debug!(worker, error = %err, "cannot claim a job while the database refuses writes")
                }
                Err(err) => tracing::error!(worker, error = %err, "could not claim a job"),
            }
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(self.inner.settings.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Runs one claimed job to its end. Never panics and never returns an
    /// error: whatever happens is written to the job's row.
    async fn run(&self, claim: Claim) {
        let Claim { job, lease } = claim;
        let started = Instant::now();
        let id = job.id.clone();
        let cancel = Arc::new(AtomicBool::new(job.cancel_requested()));
        let (live_tx, _) = watch::channel(JobSnapshot {
            status: JobStatus::Running,
            progress: None,
            error: None,
            ..JobSnapshot::from_row(&job)
        });
        lock(&self.inner.live).insert(id.clone(), live_tx.clone());
        lock(&self.inner.cancel_flags).insert(id.clone(), cancel.clone());
        self.refresh_gauges().await;

        let ending = self
            .supervise(&job, &lease, started, &cancel, &live_tx)
            .await;
        let final_snapshot = self.end(&job, &lease, ending, started).await;

        if let Some(snapshot) = final_snapshot {
            live_tx.send_replace(snapshot);
        }
        lock(&self.inner.live).remove(&id);
        lock(&self.inner.cancel_flags).remove(&id);
        self.refresh_gauges().await;
    }

    /// Starts the training thread and relays its reports until it ends.
    async fn supervise(
        &self,
        job: &JobRow,
        lease: &Lease,
        started: Instant,
        cancel: &Arc<AtomicBool>,
        live: &watch::Sender<JobSnapshot>,
    ) -> Ending {
        // Subscribed before anything else, so a shutdown that begins while
        // the job is still loading is not missed.
        let mut shutdown = self.inner.shutdown.subscribe();
        let input = match self.load_input(job).await {
            Ok(input) => input,
            Err(message) => return Ending::failed(message, Vec::new(), None),
        };
        if *shutdown.borrow() {
            return Ending::Requeue;
        }
        let stop = Arc::new(AtomicBool::new(false));
        // Set when the lease is lost: the job is someone else's now.
        let lost = Arc::new(AtomicBool::new(false));
        let (report_tx, mut reports) = mpsc::unbounded_channel::<EpochReport>();
        let (done_tx, mut done) = oneshot::channel();
        let executor = self.inner.executor.clone();
        let (thread_cancel, thread_stop, thread_lost) =
            (cancel.clone(), stop.clone(), lost.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("job-{}", short(&job.id)))
            .spawn(move || {
                let mut on_epoch = |report: EpochReport| {
                    // The receiver only goes away when the job is over.
                    let _ = report_tx.send(report);
                    if thread_cancel.load(Ordering::Relaxed)
                        || thread_stop.load(Ordering::Relaxed)
                        || thread_lost.load(Ordering::Relaxed)
                    {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                };
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    executor.execute(&input, &mut on_epoch)
                }));
                let _ = done_tx.send(result.map_err(|panic| panic_message(&*panic)));
            });
        if let Err(err) = spawned {
            return Ending::failed(
                format!("could not start a training thread: {err}"),
                Vec::new(),
                None,
            );
        }

        let mut throttle = Throttle::new(self.inner.settings.heartbeat_interval);
        let mut heartbeat = tokio::time::interval(self.inner.settings.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut points = UnsavedPoints::with_cap(self.inner.settings.max_unsaved_points);
        let mut latest: Option<JobProgress> = None;
        let mut unsaved = false;
        let mut shutdown_deadline: Option<tokio::time::Instant> = None;
        // Until when the lease surely holds, by this process's clock: the
        // last renewal was sent before this instant minus one lease.
        let mut lease_holds_until = Instant::now() + self.inner.settings.lease;
        let outcome = loop {
            if lost.load(Ordering::Relaxed) {
                break None;
            }
            let grace = async {
                match shutdown_deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(report) = reports.recv() => {
                    let progress = report.with_eta(started.elapsed());
                    points.extend(epoch_points(&report));
                    live.send_modify(|s| s.progress = Some(progress.clone()));
                    latest = Some(progress);
                    unsaved = true;
                    if throttle.ready(Instant::now()) {
                        self.save(job, lease, latest.as_ref(), &mut points, cancel, &lost, &mut lease_holds_until).await;
                        unsaved = false;
                    }
                }
                _ = heartbeat.tick() => {
                    let progress = (unsaved && throttle.ready(Instant::now())).then_some(latest.as_ref()).flatten();
                    if progress.is_some() {
                        unsaved = false;
                    }
                    self.save(job, lease, progress, &mut points, cancel, &lost, &mut lease_holds_until).await;
                }
                // `wait_for` also sees a shutdown that began before this loop.
                () = stopping(&mut shutdown), if shutdown_deadline.is_none() => {
                    stop.store(true, Ordering::Relaxed);
                    shutdown_deadline = Some(tokio::time::Instant::now() + self.inner.settings.shutdown_grace);
                }
                () = grace => {
                    tracing::warn!(job_id = %job.id, "training did not stop within the shutdown grace period");
                    break None;
                }
                result = &mut done => break Some(result),
            }
        };
        // Reports sent just before the thread ended are still in the channel.
        while let Ok(report) = reports.try_recv() {
            points.extend(epoch_points(&report));
            latest = Some(report.with_eta(started.elapsed()));
        }
        if points.dropped() > 0 {
            tracing::warn!(job_id = %job.id, dropped = points.dropped(), kept = points.len(), "metric points were dropped while the database refused writes (oldest first)");
        }
        let points = points.into_vec();
        // A lost lease wins over everything: whatever this worker did is no
        // longer its to record. Then a cancel; a shutdown only over an
        // unfinished job (one that completed just as the server stopped keeps
        // its result).
        if lost.load(Ordering::Relaxed) {
            // The thread stops at its next epoch; nobody waits for it.
            return Ending::LeaseLost;
        }
        if cancel.load(Ordering::Relaxed) {
            return Ending::Finished {
                end: JobEnd::Cancelled,
                points,
                progress: latest,
                output: None,
            };
        }
        if stop.load(Ordering::Relaxed) && !matches!(outcome, Some(Ok(Ok(Ok(_))))) {
            return Ending::Requeue;
        }
        match outcome {
            Some(Ok(Ok(Ok(output)))) => Ending::Finished {
                end: JobEnd::Succeeded {
                    model_id: None,
                    metrics: output.metrics.to_string(),
                },
                points,
                // Done: nothing is left, whatever the last estimate said.
                progress: latest.map(|p| JobProgress {
                    eta_s: Some(0.0),
                    fraction_done: Some(1.0),
                    ..p
                }),
                output: Some(output),
            },
            Some(Ok(Ok(Err(err)))) => Ending::failed(err.to_string(), points, latest),
            Some(Ok(Err(panic))) => {
                Ending::failed(format!("training panicked: {panic}"), points, latest)
            }
            Some(Err(_)) | None => Ending::failed(
                "the training thread ended without a result".to_owned(),
                points,
                latest,
            ),
        }
    }

    /// Reads the job's dataset rows and config.
    async fn load_input(&self, job: &JobRow) -> Result<JobInput, String> {
        let kind =
            JobKind::parse(&job.kind).ok_or_else(|| format!("unknown job kind {:?}", job.kind))?;
        let spec = JobSpec::from_stored(kind, &job.config)
            .map_err(|e| format!("the stored job request is unreadable: {e}"))?;
        let pool = &self.inner.pool;
        let dataset = match store::datasets::get_dataset(pool, &job.dataset_id).await {
            Ok(Some(dataset)) if dataset.deleted_at.is_none() => dataset,
            Ok(_) => return Err(format!("dataset {} no longer exists", job.dataset_id)),
            Err(err) => return Err(format!("could not read dataset {}: {err}", job.dataset_id)),
        };
        let (prompts, essays) = store::datasets::load_dataset_rows(pool, &job.dataset_id)
            .await
            .map_err(|err| {
                format!(
                    "could not read the rows of dataset {}: {err}",
                    job.dataset_id
                )
            })?;
        Ok(JobInput {
            job_id: job.id.clone(),
            spec,
            dataset,
            prompts,
            essays,
        })
    }

    /// Renews the lease, stores progress when given and flushes buffered
    /// metrics, all in one guarded transaction. A renewal that finds a cancel
    /// request sets the cancel flag; one that finds the lease gone, or no
    /// renewal for a whole lease, sets `lost`.
    #[allow(clippy::too_many_arguments)]
    async fn save(
        &self,
        job: &JobRow,
        lease: &Lease,
        progress: Option<&JobProgress>,
        points: &mut UnsavedPoints,
        cancel: &AtomicBool,
        lost: &AtomicBool,
        lease_holds_until: &mut Instant,
    ) {
        let progress =
            progress.map(|p| serde_json::to_string(p).expect("progress always serialises"));
        let sent = Instant::now();
        let (now, expires_at) = self.inner.settings.lease_from_now();
        let terms = LeaseTerms {
            now: &now,
            expires_at: &expires_at,
        };
        let renewal = store::jobs::renew_lease(
            &self.inner.pool,
            lease,
            terms,
            progress.as_deref(),
            &job.run_id,
            points.as_slice(),
        )
        .await;
        match renewal {
            Ok(Heartbeat::Running { cancel_requested }) => {
                points.clear();
                *lease_holds_until = sent + self.inner.settings.lease;
                if cancel_requested {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            Ok(Heartbeat::Lost) => {
                tracing::warn!(job_id = %job.id, "lost the job's lease (another process recovered it); stopping");
                lost.store(true, Ordering::Relaxed);
            }
            Err(err) if let Some(kind) = store::writability::not_writable(&err) => {
                // Nobody can recover the job while nobody can write: train
                // on, keep the progress live and the points buffered.
                tracing::warn!(job_id = %job.id, reason = kind.describe(), unsaved_points = points.len(), "the database refuses writes; training goes on and its metrics wait in memory");
            }
            Err(err) if Instant::now() >= *lease_holds_until => {
                tracing::error!(job_id = %job.id, error = %err, "could not renew the job's lease for a whole lease; stopping, another process may take it");
                lost.store(true, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::warn!(job_id = %job.id, error = %err, "could not renew the job's lease; will retry")
            }
        }
    }

    /// Writes the job's end. Returns the final snapshot for the watchers.
    async fn end(
        &self,
        job: &JobRow,
        lease: &Lease,
        ending: Ending,
        started: Instant,
    ) -> Option<JobSnapshot> {
        let pool = &self.inner.pool;
        let (mut end, mut points, progress, output) = match ending {
            Ending::LeaseLost => {
                let row = store::jobs::get_job(pool, &job.id).await.ok().flatten();
                return row.as_ref().map(JobSnapshot::from_row);
            }
            Ending::Requeue => {
                match store::jobs::requeue_for_shutdown(pool, lease).await {
                    Ok(true) => tracing::info!(job_id = %job.id, "job requeued for shutdown"),
                    Ok(false) => {
                        tracing::warn!(job_id = %job.id, "the job's lease was lost before it could be requeued")
                    }
                    Err(err) => {
                        tracing::error!(job_id = %job.id, error = %err, "could not requeue; recovery will when the lease lapses")
                    }
                }
                let row = store::jobs::get_job(pool, &job.id).await.ok().flatten();
                return row.as_ref().map(JobSnapshot::from_row);
            }
            Ending::Finished {
                end,
                points,
                progress,
                output,
            } => (end, points, progress, output),
        };
        let now = store::now();
        if let Some(output) = &output {
            points.extend(output.points.iter().map(|(name, step, value)| MetricPoint {
                name: name.clone(),
                step: *step,
                value: *value,
                timestamp: now.clone(),
            }));
        }
        let timings = serde_json::json!({
            "seconds": started.elapsed().as_secs_f64(),
            "queued_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": now,
        })
        .to_string();
        let progress =
            progress.map(|p| serde_json::to_string(&p).expect("progress always serialises"));
        let result = self
            .commit_end_when_writable(
                job,
                lease,
                &mut end,
                &points,
                output.as_ref(),
                progress.as_deref(),
                &timings,
                &now,
            )
            .await;
        if let Err(err) = result {
            tracing::error!(job_id = %job.id, error = %err, "could not record the end of a job");
            // The row is still `running`; try at least to fail it so it does
            // not run again when its lease lapses.
            let end = JobEnd::Failed {
                error: format!("the job finished but its result could not be stored: {err}"),
            };
            let _ = store::jobs::finish_job(pool, lease, &end, progress.as_deref(), &timings, &now)
                .await;
        }
        match &end {
            JobEnd::Failed { error } => tracing::warn!(job_id = %job.id, %error, "job failed"),
            _ => {
                tracing::info!(job_id = %job.id, seconds = started.elapsed().as_secs_f64(), "job ended")
            }
        }
        let row = store::jobs::get_job(pool, &job.id).await.ok().flatten();
        row.as_ref().map(JobSnapshot::from_row)
    }

    /// [`commit_end`](Self::commit_end), retried every heartbeat interval
    /// while the database refuses writes: the finished result (and the job's
    /// lease, spared by this process's recovery) is held in memory, so the
    /// job is neither lost nor run again. Once a shutdown begins it gives up
    /// after the shutdown grace period (the job then reruns after its lease,
    /// as after a crash); any other error is returned at once.
    #[allow(clippy::too_many_arguments)]
    async fn commit_end_when_writable(
        &self,
        job: &JobRow,
        lease: &Lease,
        end: &mut JobEnd,
        points: &[MetricPoint],
        output: Option<&JobOutput>,
        progress: Option<&str>,
        timings: &str,
        now: &str,
    ) -> Result<(), sqlx::Error> {
        let mut shutdown = self.inner.shutdown.subscribe();
        let mut give_up_at: Option<tokio::time::Instant> = None;
        let mut held = false;
        loop {
            let err = match self
                .commit_end(job, lease, end, points, output, progress, timings, now)
                .await
            {
                Ok(()) => {
                    if held {
                        tracing::info!(job_id = %job.id, "the database takes writes again; the held end of the job is recorded");
                        metrics::gauge!("jobs_held_ends").decrement(1.0);
                    }
                    return Ok(());
                }
                Err(err) => err,
            };
            let Some(kind) = store::writability::not_writable(&err) else {
                if held {
                    metrics::gauge!("jobs_held_ends").decrement(1.0);
                }
                return Err(err);
            };
            if !held {
                held = true;
                metrics::gauge!("jobs_held_ends").increment(1.0);
                tracing::warn!(job_id = %job.id, reason = kind.describe(), "the database refuses writes; the job's end is held in memory and retried until it takes them");
            }
            let give_up = async {
                match give_up_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(self.inner.settings.heartbeat_interval) => {}
                () = stopping(&mut shutdown), if give_up_at.is_none() => {
                    give_up_at = Some(tokio::time::Instant::now() + self.inner.settings.shutdown_grace);
                }
                () = give_up => {
                    tracing::error!(job_id = %job.id, "shutting down while the database still refuses writes: the job's result is lost and it will run again after its lease");
                    metrics::gauge!("jobs_held_ends").decrement(1.0);
                    return Err(err);
                }
            }
        }
    }

    /// Registers the model (if any), appends the last metrics and finishes
    /// the job, all or nothing.
    #[allow(clippy::too_many_arguments)]
    async fn commit_end(
        &self,
        job: &JobRow,
        lease: &Lease,
        end: &mut JobEnd,
        points: &[MetricPoint],
        output: Option<&JobOutput>,
        progress: Option<&str>,
        timings: &str,
        now: &str,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.inner.pool.begin().await?;
        store::runs::append_metrics_in(&mut tx, &job.run_id, points).await?;
        if let (JobEnd::Succeeded { model_id, .. }, Some(model)) =
            (&mut *end, output.and_then(|o| o.model.as_ref()))
        {
            let record = store::models::insert_model(
                &mut tx,
                &store::models::NewModel {
                    artifact: &model.artifact,
                    metrics: model.metrics.clone(),
                    run_id: Some(&job.run_id),
                    dataset_id: Some(&job.dataset_id),
                    source: "train",
                },
            )
            .await?;
            *model_id = Some(record.id);
        }
        if store::jobs::finish_job_in(&mut tx, lease, end, progress, timings, now).await? {
            tx.commit().await?;
        } else {
            // The lease was lost (recovered elsewhere): keep whatever was
            // decided there; dropping the transaction registers nothing.
            tracing::warn!(job_id = %job.id, "the job's lease was lost before it ended; result dropped");
        }
        Ok(())
    }
}

impl WorkerPool {
    /// Stops the workers: running jobs stop at their next epoch (or after the
    /// grace period) and go back in the queue. Returns when all have stopped.
    pub async fn shutdown(self) {
        self.queue.begin_shutdown();
        for worker in self.workers {
            if let Err(err) = worker.await {
                tracing::error!(error = %err, "a job worker ended abnormally");
            }
        }
        self.queue.refresh_gauges().await;
    }
}

/// How supervising a job ended.
enum Ending {
    /// The lease was lost: write nothing, the job is another worker's now.
    LeaseLost,
    /// The server is stopping: put the job back in the queue.
    Requeue,
    /// The job reached a final status.
    Finished {
        end: JobEnd,
        points: Vec<MetricPoint>,
        progress: Option<JobProgress>,
        output: Option<JobOutput>,
    },
}

impl Ending {
    fn failed(error: String, points: Vec<MetricPoint>, progress: Option<JobProgress>) -> Self {
        Self::Finished {
            end: JobEnd::Failed { error },
            points,
            progress,
            output: None,
        }
    }
}

/// The run-history samples of one epoch report. A plain train of one
/// network names its curves `train_loss`/`val_loss`; with several folds or
/// ensemble members each network keeps its own curve, prefixed `fold_<k>/`
/// and `member_<m>/`; a sweep's runs are told apart by `cell_<i>/`, and the
/// phases of a train job that cross-validates first by `cv/` and `final/`.
fn epoch_points(report: &EpochReport) -> Vec<MetricPoint> {
    let mut prefix = String::new();
    if let Some(phase) = report.phase {
        prefix.push_str(phase);
        prefix.push('/');
    }
    if let Some(cell) = report.cell {
        prefix.push_str(&format!("cell_{cell}/"));
    }
    if report.progress.folds > 1 {
        prefix.push_str(&format!("fold_{}/", report.progress.fold));
    }
    if report.progress.members > 1 {
        prefix.push_str(&format!("member_{}/", report.progress.member));
    }
    let timestamp = store::now();
    let step = report.progress.epoch as i64;
    let mut points = vec![MetricPoint {
        name: format!("{prefix}train_loss"),
        step,
        value: report.progress.train_loss,
        timestamp: timestamp.clone(),
    }];
    if let Some(val_loss) = report.progress.val_loss {
        points.push(MetricPoint {
            name: format!("{prefix}val_loss"),
            step,
            value: val_loss,
            timestamp,
        });
    }
    points
}

/// Resolves once the shutdown flag is set, including when it was set before
/// the call (unlike `changed`, which waits for the next change).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // An error means the queue is gone, which also means stop.
    let _ = shutdown.wait_for(|stopping| *stopping).await.is_ok();
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// This process's name in `jobs.claimed_by`.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}:{}", std::process::id(), short(&store::new_id()))
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Locks a std mutex, recovering it if a panic poisoned it: the maps hold
/// plain handles whose state cannot be left half-updated.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::executor::{ExecuteError, ModelOutput};
    use crate::store::datasets::{insert_dataset, sample_dataset};
    use crate::training::TrainingError;
    use std::sync::atomic::AtomicUsize;

    /// An executor that reports `epochs` epochs, sleeping `epoch_ms` each,
    /// then does what `finish` says.
    struct FakeExecutor {
        epochs: usize,
        epoch_ms: u64,
        finish: Finish,
        /// Epochs actually run, across all jobs.
        ran: AtomicUsize,
        /// Jobs started.
        jobs: AtomicUsize,
    }

    #[derive(Clone, Copy)]
    enum Finish {
        Succeed,
        Fail,
        /// Panics in the first job it runs, succeeds in the others.
        PanicOnFirstJob,
    }

    impl Executor for FakeExecutor {
        fn execute(
            &self,
            input: &JobInput,
            on_epoch: &mut dyn FnMut(EpochReport) -> ControlFlow<()>,
        ) -> Result<JobOutput, ExecuteError> {
            let job_number = self.jobs.fetch_add(1, Ordering::SeqCst);
            for epoch in 1..=self.epochs {
                std::thread::sleep(Duration::from_millis(self.epoch_ms));
                self.ran.fetch_add(1, Ordering::SeqCst);
                let report = EpochReport {
                    progress: crate::training::Progress {
                        fold: 1,
                        folds: 2,
                        member: 1,
                        members: 1,
                        epoch,
                        epochs: self.epochs,
                        train_loss: 1.0 / epoch as f64,
                        val_loss: Some(2.0 / epoch as f64),
                        done: epoch,
                        total: 2 * self.epochs,
                    },
                    cell: None,
                    phase: None,
                };
                if on_epoch(report).is_break() {
                    return Err(ExecuteError::Cancelled);
                }
            }
            match self.finish {
                Finish::PanicOnFirstJob if job_number == 0 => {
                    panic!("index out of bounds in a fake layer")
                }
                Finish::Succeed | Finish::PanicOnFirstJob => Ok(JobOutput {
                    metrics: serde_json::json!({"mcrmse": 0.5, "essays": input.essays.len()}),
                    points: vec![("fold_1/mcrmse".into(), 0, 0.5)],
                    model: (input.spec.kind() == JobKind::Train).then(|| ModelOutput {
                        artifact: b"{\"fake\": true}".to_vec(),
                        metrics: serde_json::json!({"mcrmse": 0.5}),
                    }),
                }),
                Finish::Fail => Err(ExecuteError::Training(TrainingError::Model {
                    model: "fake".into(),
                    fold: "all".into(),
                    message: "the loss became NaN at epoch 2".into(),
                })),
            }
        }
    }

    fn fake(epochs: usize, epoch_ms: u64, finish: Finish) -> Arc<FakeExecutor> {
        Arc::new(FakeExecutor {
            epochs,
            epoch_ms,
            finish,
            ran: AtomicUsize::new(0),
            jobs: AtomicUsize::new(0),
        })
    }

    /// Fast timings: a 600 ms lease renewed every 100 ms, recovered every 100 ms.
    fn settings() -> QueueSettings {
        QueueSettings {
            workers: 1,
            poll_interval: Duration::from_millis(50),
            heartbeat_interval: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(5),
            lease: Duration::from_millis(600),
            recovery_interval: Duration::from_millis(100),
            max_unsaved_points: DEFAULT_MAX_UNSAVED_POINTS,
        }
    }

    /// Claims the next job as a process that is not `queue`, with a lease
    /// of `lease` from now.
    async fn claim_elsewhere(pool: &Db, lease: Duration) -> Claim {
        let now = time::OffsetDateTime::now_utc();
        let (now, expires_at) = (store::format_time(now), store::format_time(now + lease));
        let terms = LeaseTerms {
            now: &now,
            expires_at: &expires_at,
        };
        store::jobs::claim_next_job(pool, "another-process", terms)
            .await
            .unwrap()
            .expect("a queued job")
    }

    async fn setup(executor: Arc<FakeExecutor>) -> (tempfile::TempDir, Db, JobQueue) {
        let (pool, dir) = crate::store::test_db::fresh().await;
        insert_dataset(&pool, &sample_dataset("d1", 5))
            .await
            .unwrap();
        let queue = JobQueue::new(pool.clone(), settings(), executor);
        (dir, pool, queue)
    }

    async fn enqueue(queue: &JobQueue, kind: JobKind) -> String {
        let id = store::new_id();
        queue
            .enqueue(&NewJob {
                id: id.clone(),
                run_id: store::new_id(),
                kind: kind.as_str().into(),
                dataset_id: "d1".into(),
                config: "{}".into(),
                resolved_config: "{}".into(),
                created_at: store::now(),
            })
            .await
            .unwrap();
        id
    }

    async fn wait_for(pool: &Db, id: &str, done: impl Fn(&JobRow) -> bool) -> JobRow {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row = store::jobs::get_job(pool, id).await.unwrap().unwrap();
            if done(&row) {
                return row;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} stuck in {}",
                row.status
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn is_final(row: &JobRow) -> bool {
        JobStatus::parse(&row.status).unwrap().is_final()
    }

    #[tokio::test]
    async fn a_train_job_succeeds_registers_its_model_and_records_its_curves() {
        let (_dir, pool, queue) = setup(fake(3, 1, Finish::Succeed)).await;
        let workers = queue.start().await.unwrap();

        let id = enqueue(&queue, JobKind::Train).await;
        let job = wait_for(&pool, &id, is_final).await;
        workers.shutdown().await;

        assert_eq!(job.status, "succeeded");
        let progress: JobProgress = serde_json::from_str(job.progress.as_deref().unwrap()).unwrap();
        assert_eq!((progress.epoch, progress.epochs), (3, 3));
        let model_id = job.model_id.expect("a train job registers a model");
        let model = store::models::get_model(&pool, &model_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(model.run_id.as_deref(), Some(job.run_id.as_str()));
        assert_eq!(model.dataset_id.as_deref(), Some("d1"));
        let run = store::runs::get_run(&pool, &job.run_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(run.status, "succeeded");
        assert!(run.metrics.unwrap().contains("\"essays\":5"));
        let names: Vec<String> = store::runs::list_metrics(&pool, &job.run_id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| format!("{}@{}", p.name, p.step))
            .collect();
        assert_eq!(
            names,
            [
                "fold_1/mcrmse@0",
                "fold_1/train_loss@1",
                "fold_1/train_loss@2",
                "fold_1/train_loss@3",
                "fold_1/val_loss@1",
                "fold_1/val_loss@2",
                "fold_1/val_loss@3",
            ]
        );
    }

    #[tokio::test]
    async fn a_panic_in_training_fails_the_job_with_its_reason_and_the_next_job_succeeds() {
        let (_dir, pool, queue) = setup(fake(1, 1, Finish::PanicOnFirstJob)).await;
        let workers = queue.start().await.unwrap();

        let first = enqueue(&queue, JobKind::Cv).await;
        let second = enqueue(&queue, JobKind::Train).await;
        let first = wait_for(&pool, &first, is_final).await;
        let second = wait_for(&pool, &second, is_final).await;
        workers.shutdown().await;

        assert_eq!(first.status, "failed");
        assert_eq!(
            first.error.as_deref(),
            Some("training panicked: index out of bounds in a fake layer")
        );
        assert_eq!(second.status, "succeeded", "{second:?}");
        assert!(second.model_id.is_some());
    }

    #[tokio::test]
    async fn a_training_error_fails_the_job_with_its_message_and_no_model() {
        let (_dir, pool, queue) = setup(fake(2, 1, Finish::Fail)).await;
        let workers = queue.start().await.unwrap();

        let id = enqueue(&queue, JobKind::Train).await;
        let job = wait_for(&pool, &id, is_final).await;
        workers.shutdown().await;

        assert_eq!(job.status, "failed");
        assert_eq!(
            job.error.as_deref(),
            Some("training failed: fake failed on fold all: the loss became NaN at epoch 2")
        );
        assert!(job.model_id.is_none());
        assert!(
            store::models::list_models(&pool, 1000, 0)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn cancelling_a_running_job_stops_it_within_one_epoch() {
        let executor = fake(10_000, 5, Finish::Succeed);
        let (_dir, pool, queue) = setup(executor.clone()).await;
        let workers = queue.start().await.unwrap();
        let id = enqueue(&queue, JobKind::Train).await;
        wait_for(&pool, &id, |row| row.status == "running").await;
        // Let a few epochs pass so the job is truly mid-training.
        while executor.ran.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        assert_eq!(queue.cancel(&id).await.unwrap(), CancelOutcome::Requested);
        let ran_at_cancel = executor.ran.load(Ordering::SeqCst);
        let job = wait_for(&pool, &id, is_final).await;
        let ran_in_all = executor.ran.load(Ordering::SeqCst);
        workers.shutdown().await;

        assert_eq!(job.status, "cancelled");
        assert!(job.model_id.is_none());
        // The epoch in flight when the flag was set may finish; no more.
        assert!(
            ran_in_all <= ran_at_cancel + 1,
            "ran {ran_in_all} epochs, cancelled at {ran_at_cancel}"
        );
    }

    #[tokio::test]
    async fn shutting_down_requeues_the_running_job_without_counting_the_attempt() {
        let executor = fake(10_000, 5, Finish::Succeed);
        let (_dir, pool, queue) = setup(executor.clone()).await;
        let workers = queue.start().await.unwrap();
        let id = enqueue(&queue, JobKind::Cv).await;
        wait_for(&pool, &id, |row| row.status == "running").await;

        workers.shutdown().await;

        let job = store::jobs::get_job(&pool, &id).await.unwrap().unwrap();
        assert_eq!((job.status.as_str(), job.attempts), ("queued", 0));
    }

    #[tokio::test]
    async fn a_job_claimed_as_shutdown_begins_goes_back_in_the_queue_untrained() {
        let executor = fake(10_000, 5, Finish::Succeed);
        let (_dir, pool, queue) = setup(executor.clone()).await;
        let id = enqueue(&queue, JobKind::Cv).await;
        let claim = claim_elsewhere(&pool, Duration::from_secs(30)).await;

        queue.begin_shutdown();
        queue.run(claim).await;

        let job = store::jobs::get_job(&pool, &id).await.unwrap().unwrap();
        assert_eq!((job.status.as_str(), job.attempts), ("queued", 0));
        assert_eq!(executor.ran.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_job_of_a_dead_process_is_rerun_once_its_lease_lapses_and_not_before() {
        let (_dir, pool, queue) = setup(fake(2, 1, Finish::Succeed)).await;
        let id = enqueue(&queue, JobKind::Cv).await;
        // Another process claims it with a 1.5 s lease and dies without a word.
        let claimed_at = Instant::now();
        claim_elsewhere(&pool, Duration::from_millis(1500)).await;

        let workers = queue.start().await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        let while_leased = store::jobs::get_job(&pool, &id).await.unwrap().unwrap();
        let job = wait_for(&pool, &id, is_final).await;
        let rerun_after = claimed_at.elapsed();
        workers.shutdown().await;

        assert_eq!(while_leased.status, "running", "a live lease is left alone");
        assert_eq!(while_leased.claimed_by.as_deref(), Some("another-process"));
        assert_eq!(job.status, "succeeded");
        assert_eq!(job.attempts, 2);
        assert_eq!(job.claimed_by.as_deref(), Some(queue.holder()));
        assert!(
            rerun_after >= Duration::from_millis(1500),
            "rerun after {rerun_after:?}"
        );
    }

    #[tokio::test]
    async fn a_worker_that_lost_its_lease_stops_training_and_writes_nothing_more() {
        let executor = fake(10_000, 5, Finish::Succeed);
        let (_dir, pool, queue) = setup(executor.clone()).await;
        let workers = queue.start().await.unwrap();
        let id = enqueue(&queue, JobKind::Train).await;
        wait_for(&pool, &id, |row| row.status == "running").await;
        while executor.ran.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        // Another process decides the lease lapsed (its clock says an hour
        // later), requeues the job and claims it for itself.
        let later = store::format_time(time::OffsetDateTime::now_utc() + Duration::from_secs(3600));
        store::jobs::recover_expired_leases(&pool, MAX_ATTEMPTS, &later)
            .await
            .unwrap();
        let theirs = claim_elsewhere(&pool, Duration::from_secs(3600)).await;
        let run_id = theirs.job.run_id.clone();
        // Within a heartbeat or two our worker notices and stops.
        let deadline = Instant::now() + Duration::from_secs(5);
        while queue.watch(&id).is_some() {
            assert!(Instant::now() < deadline, "the worker kept the job");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ran_when_stopped = executor.ran.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ran_later = executor.ran.load(Ordering::SeqCst);
        workers.shutdown().await;

        assert!(
            ran_later <= ran_when_stopped + 1,
            "training went on: {ran_when_stopped} -> {ran_later}"
        );
        let job = store::jobs::get_job(&pool, &id).await.unwrap().unwrap();
        assert_eq!(
            job.status, "running",
            "shutdown did not requeue a job it no longer held"
        );
        assert_eq!(job.claimed_by.as_deref(), Some("another-process"));
        assert_eq!(job.lease_token.as_ref(), Some(&theirs.lease.token));
        assert!(
            job.progress.is_none(),
            "no progress written over the new claim"
        );
        let points = store::runs::list_metrics(&pool, &run_id).await.unwrap();
        assert!(
            points.is_empty(),
            "no metrics written over the new claim: {points:?}"
        );
    }

    /// Makes every query of `pool` (one connection) refuse writes, or take
    /// them again, as a read-only database file would.
    async fn refuse_writes(pool: &Db, refuse: bool) {
        let pragma = if refuse {
            "PRAGMA query_only = ON"
        } else {
            "PRAGMA query_only = OFF"
        };
        sqlx::query(pragma).execute(pool).await.unwrap();
    }

    #[tokio::test]
    async fn a_job_finishing_while_the_database_refuses_writes_is_held_then_recorded_once_and_not_rerun()
     {
        // One connection, so the pragma of `refuse_writes` holds for every query.
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let pool = store::open(&url, 1).await.unwrap();
        insert_dataset(&pool, &sample_dataset("d1", 5))
            .await
            .unwrap();
        let executor = fake(30, 20, Finish::Succeed);
        let queue = JobQueue::new(
            pool.clone(),
            QueueSettings {
                max_unsaved_points: 10,
                ..settings()
            },
            executor.clone(),
        );
        let workers = queue.start().await.unwrap();
        let id = enqueue(&queue, JobKind::Train).await;
        let running = wait_for(&pool, &id, |row| row.status == "running").await;

        refuse_writes(&pool, true).await;
        while executor.ran.load(Ordering::SeqCst) < 30 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Well past the 600 ms lease, with recovery every 100 ms.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let held = queue.watch(&id).is_some();
        let while_refused = store::jobs::get_job(&pool, &id).await.unwrap().unwrap();
        refuse_writes(&pool, false).await;
        let job = wait_for(&pool, &id, is_final).await;
        workers.shutdown().await;

        assert!(held, "the worker still holds the finished job");
        assert_eq!(while_refused.status, "running");
        assert_eq!(job.status, "succeeded", "{job:?}");
        assert_eq!(job.attempts, 1, "not rerun");
        assert_eq!(executor.ran.load(Ordering::SeqCst), 30, "trained once");
        assert!(job.model_id.is_some(), "the model was registered");
        let losses: Vec<i64> = store::runs::list_metrics(&pool, &running.run_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|p| p.name.ends_with("train_loss"))
            .map(|p| p.step)
            .collect();
        assert!(
            losses.len() < 30,
            "the buffer of unwritten points is bounded: {losses:?}"
        );
        assert_eq!(losses.last(), Some(&30), "the newest points were kept");
    }

    #[tokio::test]
    async fn two_queues_on_two_pools_over_one_sqlite_file_run_each_job_exactly_once() {
        let executor = fake(3, 2, Finish::Succeed);
        let (dir, pool, first) = setup(executor.clone()).await;
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let other_pool = store::open(&url, 4).await.unwrap();
        let second = JobQueue::new(
            other_pool.clone(),
            QueueSettings {
                workers: 2,
                ..settings()
            },
            executor.clone(),
        );
        let first_workers = first.start().await.unwrap();
        let second_workers = second.start().await.unwrap();

        let mut ids = Vec::new();
        for n in 0..12 {
            let queue = if n % 2 == 0 { &first } else { &second };
            ids.push(enqueue(queue, JobKind::Cv).await);
        }
        let mut jobs = Vec::new();
        for id in &ids {
            jobs.push(wait_for(&pool, id, is_final).await);
        }
        first_workers.shutdown().await;
        second_workers.shutdown().await;

        // Each job reported its 3 epochs once: no job ran twice.
        assert_eq!(executor.ran.load(Ordering::SeqCst), 3 * ids.len());
        assert!(
            jobs.iter()
                .all(|job| job.status == "succeeded" && job.attempts == 1)
        );
        let holders: std::collections::BTreeSet<_> = jobs
            .iter()
            .filter_map(|job| job.claimed_by.clone())
            .collect();
        assert_eq!(holders.len(), 2, "both processes took jobs: {holders:?}");
    }

    #[tokio::test]
    async fn live_watchers_see_progress_and_the_final_status() {
        let executor = fake(30, 5, Finish::Succeed);
        let (_dir, pool, queue) = setup(executor).await;
        let workers = queue.start().await.unwrap();
        let id = enqueue(&queue, JobKind::Cv).await;
        let mut live = loop {
            if let Some(live) = queue.watch(&id) {
                break live;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };

        let mut epochs_seen = Vec::new();
        while live.changed().await.is_ok() {
            if let Some(progress) = &live.borrow().progress {
                epochs_seen.push(progress.epoch);
            }
        }
        let last = live.borrow().clone();
        workers.shutdown().await;

        assert_eq!(last.status, JobStatus::Succeeded);
        // The watch keeps only the newest value, so a slow watcher may skip
        // epochs; it must still see progress, in order.
        assert!(!epochs_seen.is_empty(), "saw no progress");
        assert!(epochs_seen.windows(2).all(|w| w[0] <= w[1]));
        assert!(queue.watch(&id).is_none());
        let _ = pool;
    }
}
