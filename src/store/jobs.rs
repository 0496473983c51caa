//! The `jobs` table: the durable training-job queue. Every state change of a
//! job is one SQL statement or one transaction, guarded by the state it
//! expects (`WHERE status = 'queued'`), and every write of a worker by the
//! token of its lease (`WHERE lease_token = ?`), so workers of several
//! processes, cancel requests and lease recovery can never overwrite each
//! other's outcome (see migration 0004). The worker
//! loop and the training itself live in `crate::jobs`.

use super::{Db, DbConnection};

/// One job as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    /// UUID of the job.
    pub id: String,
    /// `train`, `cv` or `sweep`.
    pub kind: String,
    /// The dataset it trains on.
    pub dataset_id: String,
    /// The config as submitted, JSON.
    pub config: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// How many times a worker has claimed it without finishing it cleanly.
    pub attempts: i64,
    /// 1 when a cancel was requested while it ran (an integer, which both
    /// engines store alike); see [`JobRow::cancel_requested`].
    #[sqlx(rename = "cancel_requested")]
    pub cancel_flag: i64,
    /// Latest progress, JSON.
    pub progress: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The run it writes.
    pub run_id: String,
    /// The model version it registered.
    pub model_id: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// When its current (or last) attempt started.
    pub started_at: Option<String>,
    /// When it reached a final status.
    pub finished_at: Option<String>,
    /// The last sign of life from its worker.
    pub heartbeat_at: Option<String>,
    /// The token of the current claim; never shown outside the store and
    /// the worker holding it.
    pub lease_token: Option<String>,
    /// When the current claim lapses unless its worker renews it.
    pub lease_expires_at: Option<String>,
    /// Which process holds (or last held) the job.
    pub claimed_by: Option<String>,
}

impl JobRow {
    /// Whether a cancel was requested while it ran.
    pub fn cancel_requested(&self) -> bool {
        self.cancel_flag != 0
    }
}

/// A job to queue, together with its run.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// UUID of the job.
    pub id: String,
    /// UUID of its run.
    pub run_id: String,
    /// `train`, `cv` or `sweep`.
    pub kind: String,
    /// The dataset it trains on.
    pub dataset_id: String,
    /// The config as submitted, JSON.
    pub config: String,
    /// The full config the run will use, JSON.
    pub resolved_config: String,
    /// Now (RFC 3339 UTC).
    pub created_at: String,
}

/// How a running job ended.
#[derive(Debug, Clone)]
pub enum JobEnd {
    /// Training finished; `model_id` is set for a train job.
    Succeeded {
        /// The model version registered, if any.
        model_id: Option<String>,
        /// Final metrics, JSON.
        metrics: String,
    },
    /// Training failed; the message says why.
    Failed {
        /// What went wrong, for people.
        error: String,
    },
    /// Cancelled on request.
    Cancelled,
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// No job has that id.
    NotFound,
    /// It was queued and is now cancelled.
    Cancelled,
    /// It is running; its worker will stop it within one epoch.
    Requested,
    /// It had already finished with this status; nothing changed.
    AlreadyFinished(String),
}

/// What recovery did with jobs whose lease lapsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Jobs put back in the queue.
    pub requeued: Vec<String>,
    /// Jobs that had used up their attempts and were failed.
    pub failed: Vec<String>,
    /// Jobs whose cancel had been requested, now cancelled.
    pub cancelled: Vec<String>,
}

impl Recovery {
    /// Whether recovery changed nothing.
    pub fn is_empty(&self) -> bool {
        self.requeued.is_empty() && self.failed.is_empty() && self.cancelled.is_empty()
    }
}

/// A heartbeat's answer: whether the job is still ours and whether a cancel
/// was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// Still running; `cancel_requested` tells the worker to stop.
    Running {
        /// A cancel was requested.
        cancel_requested: bool,
    },
    /// The lease is no longer held: the job was recovered (and maybe
    /// claimed again) or finished elsewhere. The worker must stop.
    Lost,
}

/// Queues a job and creates its run, in one transaction.
pub async fn insert_job(pool: &Db, new: &NewJob) -> Result<JobRow, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let job = insert_job_in(&mut tx, new).await?;
    tx.commit().await?;
    Ok(job)
}

/// Queues a job and creates its run, unless `max_queued` jobs are queued
/// already: then nothing is written and the answer is `Err(queued)`. The
/// count and the insert share one write transaction (and, on PostgreSQL,
/// an advisory lock), so concurrent requests, from any replica, cannot
/// together pass the cap.
pub async fn insert_job_if_room(
    pool: &Db,
    new: &NewJob,
    max_queued: i64,
) -> Result<Result<JobRow, i64>, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    super::serialize_numbering(&mut tx, super::Numbering::QueuedJobs).await?;
    let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
        .fetch_one(&mut *tx)
        .await?;
    if queued >= max_queued {
        tx.rollback().await?;
        return Ok(Err(queued));
    }
    let job = insert_job_in(&mut tx, new).await?;
    tx.commit().await?;
    Ok(Ok(job))
}

async fn insert_job_in(tx: &mut super::DbConnection, new: &NewJob) -> Result<JobRow, sqlx::Error> {
    sqlx::query(
        "INSERT INTO runs (id, job_id, kind, dataset_id, config, status, created_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6)",
    )
    .bind(&new.run_id)
    .bind(&new.id)
    .bind(&new.kind)
    .bind(&new.dataset_id)
    .bind(&new.resolved_config)
    .bind(&new.created_at)
    .execute(&mut *tx)
    .await?;
    let job = sqlx::query_as::<_, JobRow>(
        "INSERT INTO jobs (id, kind, dataset_id, config, status, run_id, created_at) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $6) RETURNING *",
    )
    .bind(&new.id)
    .bind(&new.kind)
    .bind(&new.dataset_id)
    .bind(&new.config)
    .bind(&new.run_id)
    .bind(&new.created_at)
    .fetch_one(&mut *tx)
    .await?;
    Ok(job)
}

/// One job.
pub async fn get_job(pool: &Db, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The newest jobs first, at most `limit`, after skipping `offset`.
pub async fn list_jobs(pool: &Db, limit: i64, offset: i64) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as::<_, JobRow>(
        "SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// The right to write a running job: its id and the token its claim drew.
/// Every write of a worker (heartbeat, progress, metrics, the end) carries
/// it, and matches no row once the job was requeued and claimed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job held.
    pub job_id: String,
    /// The random token drawn by the claim.
    pub token: String,
}

/// A claim the worker won: the job as it now stands, and its lease.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The job, now `running`.
    pub job: JobRow,
    /// What the worker's writes must carry.
    pub lease: Lease,
}

/// When a claim or a renewal is made, and until when it holds.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTerms<'a> {
    /// Now (RFC 3339 UTC, see `store::now`).
    pub now: &'a str,
    /// When the lease lapses unless renewed.
    pub expires_at: &'a str,
}

/// Claims the oldest queued job for a worker, or returns `None` when the
/// queue is empty. The claim is one UPDATE whose WHERE re-checks
/// `status = 'queued'`, so two workers racing for the same row cannot both
/// win: SQLite serialises writers and the loser's UPDATE matches no row.
/// The claim draws a fresh lease token, so writes of any earlier holder of
/// the job now match nothing.
///
/// The claim also restarts the job's run: training restarts from epoch 1, so
/// the curves of an interrupted attempt would only mislead. No live worker
/// can be writing them: the job was queued, so the last holder's lease had
/// lapsed (or it gave the job back), and its writes are guarded by its token.
pub async fn claim_next_job(
    pool: &Db,
    holder: &str,
    terms: LeaseTerms<'_>,
) -> Result<Option<Claim>, sqlx::Error> {
    let token = super::new_id();
    let mut tx = pool.begin().await?;
    // PostgreSQL: SKIP LOCKED lets concurrent claimers pass over a row
    // another transaction is claiming instead of queueing behind it; the
    // outer `status = 'queued'` re-check makes a lost race match no row.
    let sql = match super::backend(pool) {
        super::Backend::Sqlite => {
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = $1, heartbeat_at = $1, \
                    progress = NULL, error = NULL, lease_token = $2, lease_expires_at = $3, claimed_by = $4 \
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, id LIMIT 1) \
               AND status = 'queued' \
             RETURNING *"
        }
        super::Backend::Postgres => {
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = $1, heartbeat_at = $1, \
                    progress = NULL, error = NULL, lease_token = $2, lease_expires_at = $3, claimed_by = $4 \
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, id LIMIT 1 \
                         FOR UPDATE SKIP LOCKED) \
               AND status = 'queued' \
             RETURNING *"
        }
    };
    let job = sqlx::query_as::<_, JobRow>(sql)
        .bind(terms.now)
        .bind(&token)
        .bind(terms.expires_at)
        .bind(holder)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(job) = &job {
        sqlx::query("DELETE FROM run_metrics WHERE run_id = $1")
            .bind(&job.run_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE runs SET status = 'running', started_at = $1, metrics = NULL WHERE id = $2",
        )
        .bind(terms.now)
        .bind(&job.run_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(job.map(|job| Claim {
        lease: Lease {
            job_id: job.id.clone(),
            token,
        },
        job,
    }))
}

/// Renews a lease, stores the job's latest progress when given and appends
/// run metrics, in one transaction that changes nothing unless the lease is
/// still held. Tells the worker whether a cancel was requested, or that the
/// job is no longer its to run.
///
/// The guarded UPDATE comes first: it takes the write lock (SQLite) or the
/// row lock (PostgreSQL), so recovery cannot requeue the job, nor a new claim
/// clear its metrics, between the check and the inserts.
pub async fn renew_lease(
    pool: &Db,
    lease: &Lease,
    terms: LeaseTerms<'_>,
    progress: Option<&str>,
    run_id: &str,
    points: &[super::runs::MetricPoint],
) -> Result<Heartbeat, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE jobs SET heartbeat_at = $1, lease_expires_at = $2, progress = COALESCE($3, progress) \
         WHERE id = $4 AND lease_token = $5 AND status = 'running' RETURNING cancel_requested",
    )
    .bind(terms.now)
    .bind(terms.expires_at)
    .bind(progress)
    .bind(&lease.job_id)
    .bind(&lease.token)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((cancel_flag,)) = row else {
        return Ok(Heartbeat::Lost);
    };
    super::runs::append_metrics_in(&mut tx, run_id, points).await?;
    tx.commit().await?;
    Ok(Heartbeat::Running {
        cancel_requested: cancel_flag != 0,
    })
}

/// Gives a running job its final status, and its run its final metrics and
/// timings, in one transaction. Returns false (and changes nothing) when the
/// lease is no longer held.
pub async fn finish_job(
    pool: &Db,
    lease: &Lease,
    end: &JobEnd,
    progress: Option<&str>,
    timings: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let finished = finish_job_in(&mut tx, lease, end, progress, timings, now).await?;
    tx.commit().await?;
    Ok(finished)
}

/// [`finish_job`] inside the caller's transaction, so that registering the
/// model a train job produced commits together with its success. When it
/// returns false the caller must roll back: the lease was lost.
pub async fn finish_job_in(
    conn: &mut DbConnection,
    lease: &Lease,
    end: &JobEnd,
    progress: Option<&str>,
    timings: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let (status, error, model_id, metrics) = match end {
        JobEnd::Succeeded { model_id, metrics } => {
            ("succeeded", None, model_id.clone(), Some(metrics.clone()))
        }
        JobEnd::Failed { error } => ("failed", Some(error.clone()), None, None),
        JobEnd::Cancelled => ("cancelled", None, None, None),
    };
    let run: Option<(String,)> = sqlx::query_as(
        "UPDATE jobs SET status = $1, error = $2, model_id = $3, finished_at = $4, heartbeat_at = $5, \
                progress = COALESCE($6, progress), lease_token = NULL, lease_expires_at = NULL \
         WHERE id = $7 AND lease_token = $8 AND status = 'running' RETURNING run_id",
    )
    .bind(status)
    .bind(&error)
    .bind(&model_id)
    .bind(now)
    .bind(now)
    .bind(progress)
    .bind(&lease.job_id)
    .bind(&lease.token)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((run_id,)) = run else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE runs SET status = $1, metrics = $2, timings = $3, finished_at = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(&metrics)
    .bind(timings)
    .bind(now)
    .bind(&run_id)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Puts a running job back in the queue because its server is shutting
/// down, when the lease is still held. The attempt is given back: the job
/// did nothing wrong, and only attempts that died (a crash, kill -9) should
/// count towards failing it.
pub async fn requeue_for_shutdown(pool: &Db, lease: &Lease) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let run: Option<(String,)> = sqlx::query_as(
        "UPDATE jobs SET status = 'queued', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                cancel_requested = 0, progress = NULL, lease_token = NULL, lease_expires_at = NULL, \
                claimed_by = NULL \
         WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING run_id",
    )
    .bind(&lease.job_id)
    .bind(&lease.token)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((run_id,)) = &run {
        sqlx::query("UPDATE runs SET status = 'queued' WHERE id = $1")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(run.is_some())
}

/// Recovers the running jobs whose lease lapsed before `now`: their worker
/// died (a crash, kill -9, a lost machine) or could not reach the database
/// for a whole lease. Any process may call it at any time; a job whose
/// worker still renews its lease is never touched. Those with attempts left
/// go back in the queue keeping their count; the others are failed with the
/// reason. A job whose cancel was requested is cancelled rather than rerun.
/// A running row without a lease (from before leases) counts as lapsed.
pub async fn recover_expired_leases(
    pool: &Db,
    max_attempts: i64,
    now: &str,
) -> Result<Recovery, sqlx::Error> {
    recover_expired_leases_sparing(pool, max_attempts, now, &[]).await
}

/// [`recover_expired_leases`], leaving alone the jobs in `spared`: those the
/// calling process is still running, whose lease lapsed only because the
/// database refused the renewals (a read-only or full database, during which
/// nobody could renew or recover). Their worker records them as soon as the
/// database takes writes; recovering them here would rerun finished work.
pub async fn recover_expired_leases_sparing(
    pool: &Db,
    max_attempts: i64,
    now: &str,
    spared: &[String],
) -> Result<Recovery, sqlx::Error> {
    // The write lock first (SQLite), so the read below cannot go stale
    // before the updates; each update re-checks its conditions anyway.
    let mut tx = super::begin_write(pool).await?;
    let lapsed: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM jobs WHERE status = 'running' \
           AND (lease_expires_at IS NULL OR lease_expires_at < $1) ORDER BY id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut recovery = Recovery::default();
    for (id,) in lapsed {
        if spared.contains(&id) {
            continue;
        }
        let cancelled: Option<(String,)> = sqlx::query_as(
            "UPDATE jobs SET status = 'cancelled', finished_at = $1, lease_token = NULL, lease_expires_at = NULL \
             WHERE id = $2 AND status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < $3) \
               AND cancel_requested = 1 RETURNING run_id",
        )
        .bind(now)
        .bind(&id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let failed: Option<(String,)> = match cancelled {
            Some(_) => None,
            None => {
                sqlx::query_as(
                    "UPDATE jobs SET status = 'failed', finished_at = $1, lease_token = NULL, lease_expires_at = NULL, \
                            error = 'the worker running this job stopped (its lease lapsed) ' || attempts || ' times; giving up after ' || $2 || ' attempts' \
                     WHERE id = $3 AND status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < $4) \
                       AND attempts >= $5 RETURNING run_id",
                )
                .bind(now)
                .bind(max_attempts.to_string())
                .bind(&id)
                .bind(now)
                .bind(max_attempts)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        let requeued: Option<(String,)> = match (&cancelled, &failed) {
            (None, None) => {
                sqlx::query_as(
                    "UPDATE jobs SET status = 'queued', progress = NULL, lease_token = NULL, lease_expires_at = NULL, \
                            claimed_by = NULL \
                     WHERE id = $1 AND status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < $2) \
                     RETURNING run_id",
                )
                .bind(&id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
            }
            _ => None,
        };
        let (run, status, list) = match (cancelled, failed, requeued) {
            (Some((run,)), _, _) => (run, "cancelled", &mut recovery.cancelled),
            (_, Some((run,)), _) => (run, "failed", &mut recovery.failed),
            (_, _, Some((run,))) => (run, "queued", &mut recovery.requeued),
            _ => continue,
        };
        sqlx::query("UPDATE runs SET status = $1 WHERE id = $2")
            .bind(status)
            .bind(&run)
            .execute(&mut *tx)
            .await?;
        list.push(id);
    }
    tx.commit().await?;
    Ok(recovery)
}

/// Cancels a queued job at once, or asks its worker to stop a running one.
pub async fn request_cancel(pool: &Db, id: &str, now: &str) -> Result<CancelOutcome, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let sql = match super::backend(pool) {
        super::Backend::Sqlite => "SELECT status, run_id FROM jobs WHERE id = $1",
        super::Backend::Postgres => "SELECT status, run_id FROM jobs WHERE id = $1 FOR UPDATE",
    };
    let status: Option<(String, String)> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let outcome = match status {
        None => CancelOutcome::NotFound,
        Some((status, run_id)) if status == "queued" => {
            sqlx::query("UPDATE jobs SET status = 'cancelled', finished_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE runs SET status = 'cancelled', finished_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&run_id)
                .execute(&mut *tx)
                .await?;
            CancelOutcome::Cancelled
        }
        Some((status, _)) if status == "running" => {
            sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            CancelOutcome::Requested
        }
        Some((status, _)) => CancelOutcome::AlreadyFinished(status),
    };
    tx.commit().await?;
    Ok(outcome)
}

/// How many jobs are in each status, for the `/metrics` gauges.
pub async fn count_jobs_by_status(pool: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::datasets::{insert_dataset, sample_dataset};
    use crate::store::runs::{MetricPoint, list_metrics};

    const T0: &str = "2026-11-26T23:00:00.000Z";
    const T1: &str = "2026-11-26T23:00:30.000Z";
    const T2: &str = "2026-11-26T23:01:00.000Z";
    const T3: &str = "2026-11-26T23:01:30.000Z";

    /// A claim made at `now`, lapsing at `until`.
    fn lease(now: &'static str, until: &'static str) -> LeaseTerms<'static> {
        LeaseTerms {
            now,
            expires_at: until,
        }
    }

    async fn claim(pool: &Db, holder: &str, terms: LeaseTerms<'_>) -> Option<Claim> {
        claim_next_job(pool, holder, terms).await.unwrap()
    }

    fn point(name: &str, step: i64) -> MetricPoint {
        MetricPoint {
            name: name.to_string(),
            step,
            value: 0.5,
            timestamp: T0.to_string(),
        }
    }

    async fn queue(pool: &Db, id: &str, created_at: &str) -> JobRow {
        insert_job(
            pool,
            &NewJob {
                id: id.to_string(),
                run_id: format!("run-{id}"),
                kind: "train".to_string(),
                dataset_id: "d1".to_string(),
                config: r#"{"epochs":3}"#.to_string(),
                resolved_config: r#"{"epochs":3}"#.to_string(),
                created_at: created_at.to_string(),
            },
        )
        .await
        .unwrap()
    }

    async fn pool_with_dataset() -> (tempfile::TempDir, Db) {
        let (pool, dir) = crate::store::test_db::fresh().await;
        insert_dataset(&pool, &sample_dataset("d1", 2))
            .await
            .unwrap();
        (dir, pool)
    }

    #[tokio::test]
    async fn workers_claim_the_oldest_job_first_and_each_job_once() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "b", "2026-11-26T23:00:02.000Z").await;
        queue(&pool, "a", "2026-11-26T23:00:01.000Z").await;

        let first = claim(&pool, "w1", lease(T0, T1)).await.unwrap();
        let second = claim(&pool, "w2", lease(T0, T1)).await.unwrap();
        let third = claim(&pool, "w1", lease(T0, T1)).await;

        assert_eq!((first.job.id.as_str(), second.job.id.as_str()), ("a", "b"));
        assert_eq!(first.job.status, "running");
        assert_eq!(first.job.attempts, 1);
        assert_eq!(first.job.claimed_by.as_deref(), Some("w1"));
        assert_eq!(first.job.lease_expires_at.as_deref(), Some(T1));
        assert_eq!(first.job.lease_token.as_ref(), Some(&first.lease.token));
        assert_ne!(first.lease.token, second.lease.token);
        assert!(third.is_none());
    }

    #[tokio::test]
    async fn concurrent_claims_never_hand_out_a_job_twice() {
        let (_dir, pool) = pool_with_dataset().await;
        for i in 0..20 {
            queue(
                &pool,
                &format!("j{i:02}"),
                &format!("2026-11-26T23:00:{i:02}.000Z"),
            )
            .await;
        }

        let mut tasks = Vec::new();
        for worker in 0..4 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                let holder = format!("w{worker}");
                while let Some(claim) = claim(&pool, &holder, lease(T0, T1)).await {
                    mine.push(claim.job.id);
                }
                mine
            }));
        }
        let mut claimed = Vec::new();
        for task in tasks {
            claimed.extend(task.await.unwrap());
        }

        claimed.sort();
        let expected: Vec<String> = (0..20).map(|i| format!("j{i:02}")).collect();
        assert_eq!(claimed, expected);
    }

    #[tokio::test]
    async fn cancelling_a_queued_job_is_immediate_and_a_running_one_is_requested() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", "2026-11-26T23:00:01.000Z").await;
        queue(&pool, "b", "2026-11-26T23:00:02.000Z").await;
        let running = claim(&pool, "w1", lease(T0, T1)).await.unwrap();

        assert_eq!(
            request_cancel(&pool, "b", T0).await.unwrap(),
            CancelOutcome::Cancelled
        );
        assert_eq!(
            request_cancel(&pool, &running.job.id, T0).await.unwrap(),
            CancelOutcome::Requested
        );
        assert_eq!(
            renew_lease(
                &pool,
                &running.lease,
                lease(T0, T1),
                None,
                &running.job.run_id,
                &[]
            )
            .await
            .unwrap(),
            Heartbeat::Running {
                cancel_requested: true
            }
        );
        assert_eq!(
            request_cancel(&pool, "b", T0).await.unwrap(),
            CancelOutcome::AlreadyFinished("cancelled".to_string())
        );
        assert_eq!(
            request_cancel(&pool, "nope", T0).await.unwrap(),
            CancelOutcome::NotFound
        );
        assert!(claim(&pool, "w1", lease(T0, T1)).await.is_none());
    }

    #[tokio::test]
    async fn recovery_leaves_a_live_lease_alone_and_requeues_a_lapsed_one() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;
        let held = claim(&pool, "w1", lease(T0, T1)).await.unwrap();

        let before_expiry = recover_expired_leases(&pool, 3, T0).await.unwrap();
        renew_lease(
            &pool,
            &held.lease,
            lease(T1, T2),
            None,
            &held.job.run_id,
            &[],
        )
        .await
        .unwrap();
        let after_first_expiry = recover_expired_leases(&pool, 3, T1).await.unwrap();
        let after_renewed_expiry = recover_expired_leases(&pool, 3, T3).await.unwrap();

        assert!(before_expiry.is_empty());
        assert!(
            after_first_expiry.is_empty(),
            "the renewal pushed the expiry to T2"
        );
        assert_eq!(after_renewed_expiry.requeued, vec!["a".to_string()]);
        let job = get_job(&pool, "a").await.unwrap().unwrap();
        assert_eq!((job.status.as_str(), job.attempts), ("queued", 1));
        assert!(job.lease_token.is_none());
    }

    #[tokio::test]
    async fn recovery_spares_the_lapsed_jobs_the_caller_still_runs_and_takes_the_others() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;
        queue(&pool, "b", T0).await;
        let first = claim(&pool, "w1", lease(T0, T1)).await.unwrap();
        claim(&pool, "w1", lease(T0, T1)).await.unwrap();

        let spared = [first.job.id.clone()];
        let recovery = recover_expired_leases_sparing(&pool, 3, T3, &spared)
            .await
            .unwrap();

        assert_eq!(recovery.requeued.len(), 1);
        assert_ne!(recovery.requeued[0], first.job.id);
        let kept = get_job(&pool, &first.job.id).await.unwrap().unwrap();
        assert_eq!(kept.status, "running");
        assert_eq!(kept.lease_token.as_ref(), Some(&first.lease.token));
    }

    #[tokio::test]
    async fn recovery_fails_a_job_whose_lease_lapsed_on_its_third_attempt() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;

        for attempt in 1..=2 {
            let claim = claim(&pool, "w1", lease(T0, T1)).await.unwrap();
            assert_eq!(claim.job.attempts, attempt);
            let recovery = recover_expired_leases(&pool, 3, T2).await.unwrap();
            assert_eq!(recovery.requeued, vec!["a".to_string()]);
        }
        claim(&pool, "w1", lease(T0, T1)).await.unwrap();
        let recovery = recover_expired_leases(&pool, 3, T2).await.unwrap();

        assert_eq!(recovery.failed, vec!["a".to_string()]);
        let job = get_job(&pool, "a").await.unwrap().unwrap();
        assert_eq!(job.status, "failed");
        assert_eq!(job.attempts, 3);
        assert!(job.error.unwrap().contains("3 times"), "says how often");
    }

    #[tokio::test]
    async fn a_lapsed_job_whose_cancel_was_requested_is_cancelled_not_rerun() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;
        claim(&pool, "w1", lease(T0, T1)).await.unwrap();
        request_cancel(&pool, "a", T0).await.unwrap();

        let recovery = recover_expired_leases(&pool, 3, T2).await.unwrap();

        assert_eq!(recovery.cancelled, vec!["a".to_string()]);
        assert_eq!(
            get_job(&pool, "a").await.unwrap().unwrap().status,
            "cancelled"
        );
    }

    #[tokio::test]
    async fn a_worker_that_lost_its_lease_writes_nothing_more() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;
        let old = claim(&pool, "w1", lease(T0, T1)).await.unwrap();
        recover_expired_leases(&pool, 3, T2).await.unwrap();
        let new = claim(&pool, "w2", lease(T2, T3)).await.unwrap();
        renew_lease(
            &pool,
            &new.lease,
            lease(T2, T3),
            Some("{\"epoch\":1}"),
            &new.job.run_id,
            &[point("new", 1)],
        )
        .await
        .unwrap();

        let old_renewal = renew_lease(
            &pool,
            &old.lease,
            lease(T2, T3),
            Some("{\"epoch\":99}"),
            &old.job.run_id,
            &[point("old", 99)],
        )
        .await
        .unwrap();
        let old_end = finish_job(&pool, &old.lease, &JobEnd::Cancelled, None, "{}", T2)
            .await
            .unwrap();
        let old_requeue = requeue_for_shutdown(&pool, &old.lease).await.unwrap();

        assert_eq!(old_renewal, Heartbeat::Lost);
        assert!(!old_end && !old_requeue);
        let job = get_job(&pool, "a").await.unwrap().unwrap();
        assert_eq!(job.status, "running");
        assert_eq!(job.claimed_by.as_deref(), Some("w2"));
        assert_eq!(job.progress.as_deref(), Some("{\"epoch\":1}"));
        let names: Vec<String> = list_metrics(&pool, &job.run_id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["new"], "the new holder's history is intact");
    }

    #[tokio::test]
    async fn a_shutdown_requeue_gives_the_attempt_back() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;
        let held = claim(&pool, "w1", lease(T0, T1)).await.unwrap();

        assert!(requeue_for_shutdown(&pool, &held.lease).await.unwrap());

        let job = get_job(&pool, "a").await.unwrap().unwrap();
        assert_eq!((job.status.as_str(), job.attempts), ("queued", 0));
        assert!(
            job.progress.is_none(),
            "a queued job shows no stale progress"
        );
        assert!(job.lease_token.is_none());
    }

    #[tokio::test]
    async fn finishing_a_job_that_is_no_longer_running_changes_nothing() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;
        let held = claim(&pool, "w1", lease(T0, T1)).await.unwrap();
        let end = JobEnd::Succeeded {
            model_id: None,
            metrics: "{}".to_string(),
        };

        assert!(
            finish_job(&pool, &held.lease, &end, None, "{}", T0)
                .await
                .unwrap()
        );
        assert!(
            !finish_job(&pool, &held.lease, &JobEnd::Cancelled, None, "{}", T0)
                .await
                .unwrap()
        );
        assert_eq!(
            renew_lease(
                &pool,
                &held.lease,
                lease(T0, T1),
                None,
                &held.job.run_id,
                &[]
            )
            .await
            .unwrap(),
            Heartbeat::Lost
        );

        let job = get_job(&pool, "a").await.unwrap().unwrap();
        assert_eq!(job.status, "succeeded");
        let counts = count_jobs_by_status(&pool).await.unwrap();
        assert_eq!(counts, vec![("succeeded".to_string(), 1)]);
    }
}
