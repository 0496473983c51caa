//! The `jobs` table: the durable training-job queue. Every state change of a
//! job is one SQL statement or one transaction, guarded by the state it
//! expects (`WHERE status = 'running'`), so a worker, a cancel request and
//! start-up recovery can never overwrite each other's outcome. The worker
//! loop and the training itself live in `crate::jobs`.

use sqlx::{SqliteConnection, SqlitePool};

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
    /// Whether a cancel was requested while it ran.
    pub cancel_requested: bool,
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

/// What start-up recovery did with jobs left `running`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Jobs put back in the queue.
    pub requeued: Vec<String>,
    /// Jobs that had used up their attempts and were failed.
    pub failed: Vec<String>,
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
    /// The row is no longer `running` (recovered or finished elsewhere).
    Lost,
}

/// Queues a job and creates its run, in one transaction.
pub async fn insert_job(pool: &SqlitePool, new: &NewJob) -> Result<JobRow, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO runs (id, job_id, kind, dataset_id, config, status, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)",
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
         VALUES (?, ?, ?, ?, 'queued', ?, ?) RETURNING *",
    )
    .bind(&new.id)
    .bind(&new.kind)
    .bind(&new.dataset_id)
    .bind(&new.config)
    .bind(&new.run_id)
    .bind(&new.created_at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(job)
}

/// One job.
pub async fn get_job(pool: &SqlitePool, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The newest jobs first, at most `limit`.
pub async fn list_jobs(pool: &SqlitePool, limit: i64) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as::<_, JobRow>("SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?")
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Claims the oldest queued job for a worker, or returns `None` when the
/// queue is empty. The claim is one UPDATE whose WHERE re-checks
/// `status = 'queued'`, so two workers racing for the same row cannot both
/// win: SQLite serialises writers and the loser's UPDATE matches no row.
/// The claim also restarts the job's run: training restarts from epoch 1, so
/// the curves of an interrupted attempt would only mislead.
pub async fn claim_next_job(pool: &SqlitePool, now: &str) -> Result<Option<JobRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let job = sqlx::query_as::<_, JobRow>(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?1, heartbeat_at = ?1, \
                progress = NULL, error = NULL \
         WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, id LIMIT 1) \
           AND status = 'queued' \
         RETURNING *",
    )
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(job) = &job {
        sqlx::query("DELETE FROM run_metrics WHERE run_id = ?")
            .bind(&job.run_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE runs SET status = 'running', started_at = ?, metrics = NULL WHERE id = ?",
        )
        .bind(now)
        .bind(&job.run_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(job)
}

/// Records that the worker of a running job is alive, and stores its latest
/// progress when given. Tells the worker whether a cancel was requested, or
/// that the job is no longer its to run.
pub async fn heartbeat(
    pool: &SqlitePool,
    id: &str,
    progress: Option<&str>,
    now: &str,
) -> Result<Heartbeat, sqlx::Error> {
    let row: Option<(bool,)> = sqlx::query_as(
        "UPDATE jobs SET heartbeat_at = ?, progress = COALESCE(?, progress) \
         WHERE id = ? AND status = 'running' RETURNING cancel_requested",
    )
    .bind(now)
    .bind(progress)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some((cancel_requested,)) => Heartbeat::Running { cancel_requested },
        None => Heartbeat::Lost,
    })
}

/// Gives a running job its final status, and its run its final metrics and
/// timings, in one transaction. Returns false (and changes nothing) when the
/// job was no longer `running`.
pub async fn finish_job(
    pool: &SqlitePool,
    id: &str,
    end: &JobEnd,
    progress: Option<&str>,
    timings: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let finished = finish_job_in(&mut tx, id, end, progress, timings, now).await?;
    tx.commit().await?;
    Ok(finished)
}

/// [`finish_job`] inside the caller's transaction, so that registering the
/// model a train job produced commits together with its success.
pub async fn finish_job_in(
    conn: &mut SqliteConnection,
    id: &str,
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
        "UPDATE jobs SET status = ?, error = ?, model_id = ?, finished_at = ?, heartbeat_at = ?, \
                progress = COALESCE(?, progress) \
         WHERE id = ? AND status = 'running' RETURNING run_id",
    )
    .bind(status)
    .bind(&error)
    .bind(&model_id)
    .bind(now)
    .bind(now)
    .bind(progress)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((run_id,)) = run else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE runs SET status = ?, metrics = ?, timings = ?, finished_at = ? WHERE id = ?",
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

/// Puts a running job back in the queue because the server is shutting
/// down. The attempt is given back: the job did nothing wrong, and only
/// attempts that died (a crash, kill -9) should count towards failing it.
pub async fn requeue_for_shutdown(pool: &SqlitePool, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let run: Option<(String,)> = sqlx::query_as(
        "UPDATE jobs SET status = 'queued', attempts = MAX(attempts - 1, 0), cancel_requested = 0, \
                progress = NULL \
         WHERE id = ? AND status = 'running' RETURNING run_id",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((run_id,)) = &run {
        sqlx::query("UPDATE runs SET status = 'queued' WHERE id = ?")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(run.is_some())
}

/// At start-up, every job still `running` was abandoned by a process that
/// died (one server per database file). Those with attempts left go back in
/// the queue keeping their count; the others are failed with the reason.
/// A job whose cancel was requested is cancelled rather than rerun.
pub async fn recover_abandoned_jobs(
    pool: &SqlitePool,
    max_attempts: i64,
    now: &str,
) -> Result<Recovery, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let cancelled: Vec<(String, String)> = sqlx::query_as(
        "UPDATE jobs SET status = 'cancelled', finished_at = ? \
         WHERE status = 'running' AND cancel_requested = 1 RETURNING id, run_id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let failed: Vec<(String, String)> = sqlx::query_as(
        "UPDATE jobs SET status = 'failed', finished_at = ?, \
                error = 'the server stopped while this job was running, ' || attempts || ' times; giving up after ' || ? || ' attempts' \
         WHERE status = 'running' AND attempts >= ? RETURNING id, run_id",
    )
    .bind(now)
    .bind(max_attempts)
    .bind(max_attempts)
    .fetch_all(&mut *tx)
    .await?;
    let requeued: Vec<(String, String)> = sqlx::query_as(
        "UPDATE jobs SET status = 'queued', progress = NULL WHERE status = 'running' RETURNING id, run_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (runs, status) in [
        (&cancelled, "cancelled"),
        (&failed, "failed"),
        (&requeued, "queued"),
    ] {
        for (_, run_id) in runs {
            sqlx::query("UPDATE runs SET status = ? WHERE id = ?")
                .bind(status)
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(Recovery {
        requeued: requeued.into_iter().map(|(id, _)| id).collect(),
        failed: failed.into_iter().map(|(id, _)| id).collect(),
    })
}

/// Cancels a queued job at once, or asks its worker to stop a running one.
pub async fn request_cancel(
    pool: &SqlitePool,
    id: &str,
    now: &str,
) -> Result<CancelOutcome, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let status: Option<(String, String)> =
        sqlx::query_as("SELECT status, run_id FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let outcome = match status {
        None => CancelOutcome::NotFound,
        Some((status, run_id)) if status == "queued" => {
            sqlx::query("UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ?")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ?")
                .bind(now)
                .bind(&run_id)
                .execute(&mut *tx)
                .await?;
            CancelOutcome::Cancelled
        }
        Some((status, _)) if status == "running" => {
            sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = ?")
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
pub async fn count_jobs_by_status(pool: &SqlitePool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::datasets::{insert_dataset, sample_dataset};

    const T0: &str = "2026-11-26T23:00:00.000Z";

    async fn queue(pool: &SqlitePool, id: &str, created_at: &str) -> JobRow {
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

    async fn pool_with_dataset() -> (tempfile::TempDir, SqlitePool) {
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

        let first = claim_next_job(&pool, T0).await.unwrap().unwrap();
        let second = claim_next_job(&pool, T0).await.unwrap().unwrap();
        let third = claim_next_job(&pool, T0).await.unwrap();

        assert_eq!((first.id.as_str(), second.id.as_str()), ("a", "b"));
        assert_eq!(first.status, "running");
        assert_eq!(first.attempts, 1);
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
        for _ in 0..4 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(job) = claim_next_job(&pool, T0).await.unwrap() {
                    mine.push(job.id);
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
        let running = claim_next_job(&pool, T0).await.unwrap().unwrap();

        assert_eq!(
            request_cancel(&pool, "b", T0).await.unwrap(),
            CancelOutcome::Cancelled
        );
        assert_eq!(
            request_cancel(&pool, &running.id, T0).await.unwrap(),
            CancelOutcome::Requested
        );
        assert_eq!(
            heartbeat(&pool, &running.id, None, T0).await.unwrap(),
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
        assert!(claim_next_job(&pool, T0).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn recovery_requeues_abandoned_jobs_and_fails_them_on_the_third_attempt() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", "2026-11-26T23:00:01.000Z").await;

        for attempt in 1..=2 {
            let job = claim_next_job(&pool, T0).await.unwrap().unwrap();
            assert_eq!(job.attempts, attempt);
            let recovery = recover_abandoned_jobs(&pool, 3, T0).await.unwrap();
            assert_eq!(recovery.requeued, vec!["a".to_string()]);
        }
        claim_next_job(&pool, T0).await.unwrap().unwrap();
        let recovery = recover_abandoned_jobs(&pool, 3, T0).await.unwrap();

        assert_eq!(recovery.failed, vec!["a".to_string()]);
        let job = get_job(&pool, "a").await.unwrap().unwrap();
        assert_eq!(job.status, "failed");
        assert_eq!(job.attempts, 3);
        assert!(job.error.unwrap().contains("3 times"));
    }

    #[tokio::test]
    async fn a_shutdown_requeue_gives_the_attempt_back() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;
        claim_next_job(&pool, T0).await.unwrap().unwrap();

        assert!(requeue_for_shutdown(&pool, "a").await.unwrap());

        let job = get_job(&pool, "a").await.unwrap().unwrap();
        assert_eq!((job.status.as_str(), job.attempts), ("queued", 0));
        assert!(
            job.progress.is_none(),
            "a queued job shows no stale progress"
        );
    }

    #[tokio::test]
    async fn finishing_a_job_that_is_no_longer_running_changes_nothing() {
        let (_dir, pool) = pool_with_dataset().await;
        queue(&pool, "a", T0).await;
        let job = claim_next_job(&pool, T0).await.unwrap().unwrap();
        let end = JobEnd::Succeeded {
            model_id: None,
            metrics: "{}".to_string(),
        };

        assert!(
            finish_job(&pool, &job.id, &end, None, "{}", T0)
                .await
                .unwrap()
        );
        assert!(
            !finish_job(&pool, &job.id, &JobEnd::Cancelled, None, "{}", T0)
                .await
                .unwrap()
        );
        assert_eq!(
            heartbeat(&pool, &job.id, None, T0).await.unwrap(),
            Heartbeat::Lost
        );

        let job = get_job(&pool, "a").await.unwrap().unwrap();
        assert_eq!(job.status, "succeeded");
        let counts = count_jobs_by_status(&pool).await.unwrap();
        assert_eq!(counts, vec![("succeeded".to_string(), 1)]);
    }
}
