//! The `runs` and `run_metrics` tables, kept in the manner of MLflow: a run
//! records what a job ran (kind, config, dataset), its final metrics and
//! timings, and a history of (name, step, value, timestamp) samples. Runs are
//! created with their job (`store::jobs::insert_job`) and closed with it
//! (`store::jobs::finish_job`); this file appends and reads the history.

use super::{Db, DbConnection};

/// One run as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    /// UUID of the run.
    pub id: String,
    /// The job that writes it.
    pub job_id: String,
    /// `train`, `cv` or `sweep`.
    pub kind: String,
    /// The dataset it used.
    pub dataset_id: String,
    /// The full config it used, JSON.
    pub config: String,
    /// Mirrors its job's status.
    pub status: String,
    /// Final metrics, JSON, once it succeeded.
    pub metrics: Option<String>,
    /// Timings, JSON, once it ended.
    pub timings: Option<String>,
    /// When its job was queued.
    pub created_at: String,
    /// When its current (or last) attempt started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
}

/// One metric sample.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MetricPoint {
    /// Metric name, e.g. `fold_1/val_loss`.
    pub name: String,
    /// The step, an epoch for losses.
    pub step: i64,
    /// The value; always finite (non-finite samples are never stored).
    pub value: f64,
    /// When it was measured (RFC 3339 UTC).
    pub timestamp: String,
}

/// One run.
pub async fn get_run(pool: &Db, id: &str) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as::<_, RunRow>("SELECT * FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Appends samples to a run's history in one transaction. Non-finite values
/// are skipped: SQL REAL cannot hold NaN, and a diverged loss is reported as
/// the job's error instead.
pub async fn append_metrics(
    pool: &Db,
    run_id: &str,
    points: &[MetricPoint],
) -> Result<(), sqlx::Error> {
    if points.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    append_metrics_in(&mut tx, run_id, points).await?;
    tx.commit().await
}

/// [`append_metrics`] inside the caller's transaction.
pub async fn append_metrics_in(
    conn: &mut DbConnection,
    run_id: &str,
    points: &[MetricPoint],
) -> Result<(), sqlx::Error> {
    for point in points.iter().filter(|p| p.value.is_finite()) {
        sqlx::query(
            "INSERT INTO run_metrics (run_id, name, step, value, timestamp) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(run_id)
        .bind(&point.name)
        .bind(point.step)
        .bind(point.value)
        .bind(&point.timestamp)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A run's whole history, ordered by name then step.
pub async fn list_metrics(pool: &Db, run_id: &str) -> Result<Vec<MetricPoint>, sqlx::Error> {
    // Samples of equal name and step keep their insertion order: SQLite's
    // implicit rowid, PostgreSQL's `seq` column (migration 0002).
    let sql = match super::backend(pool) {
        super::Backend::Sqlite => {
            "SELECT name, step, value, timestamp FROM run_metrics WHERE run_id = $1 ORDER BY name, step, rowid"
        }
        super::Backend::Postgres => {
            "SELECT name, step, value, timestamp FROM run_metrics WHERE run_id = $1 ORDER BY name, step, seq"
        }
    };
    sqlx::query_as::<_, MetricPoint>(sql)
        .bind(run_id)
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::datasets::{insert_dataset, sample_dataset};
    use crate::store::jobs::{NewJob, claim_next_job, insert_job};

    fn point(name: &str, step: i64, value: f64) -> MetricPoint {
        MetricPoint {
            name: name.to_string(),
            step,
            value,
            timestamp: "2026-11-26T23:00:00.000Z".to_string(),
        }
    }

    async fn pool_with_run() -> (tempfile::TempDir, Db) {
        let (pool, dir) = crate::store::test_db::fresh().await;
        insert_dataset(&pool, &sample_dataset("d1", 2))
            .await
            .unwrap();
        insert_job(
            &pool,
            &NewJob {
                id: "j1".to_string(),
                run_id: "r1".to_string(),
                kind: "cv".to_string(),
                dataset_id: "d1".to_string(),
                config: "{}".to_string(),
                resolved_config: r#"{"epochs":2}"#.to_string(),
                created_at: "2026-11-26T23:00:00.000Z".to_string(),
            },
        )
        .await
        .unwrap();
        (dir, pool)
    }

    #[tokio::test]
    async fn metrics_come_back_grouped_by_name_and_ordered_by_step() {
        let (_dir, pool) = pool_with_run().await;
        let points = [
            point("fold_1/val_loss", 2, 0.4),
            point("fold_1/train_loss", 1, 0.9),
            point("fold_1/val_loss", 1, 0.5),
            point("fold_1/train_loss", 2, f64::NAN),
        ];

        append_metrics(&pool, "r1", &points).await.unwrap();
        let stored = list_metrics(&pool, "r1").await.unwrap();

        assert_eq!(
            stored,
            vec![
                point("fold_1/train_loss", 1, 0.9),
                point("fold_1/val_loss", 1, 0.5),
                point("fold_1/val_loss", 2, 0.4),
            ]
        );
        let run = get_run(&pool, "r1").await.unwrap().unwrap();
        assert_eq!(
            (run.job_id.as_str(), run.config.as_str()),
            ("j1", r#"{"epochs":2}"#)
        );
    }

    #[tokio::test]
    async fn a_new_attempt_starts_the_run_history_afresh() {
        let (_dir, pool) = pool_with_run().await;
        append_metrics(&pool, "r1", &[point("train_loss", 1, 0.9)])
            .await
            .unwrap();

        let terms = crate::store::jobs::LeaseTerms {
            now: "2026-11-26T23:00:01.000Z",
            expires_at: "2026-11-26T23:00:31.000Z",
        };
        claim_next_job(&pool, "w1", terms).await.unwrap().unwrap();

        assert!(list_metrics(&pool, "r1").await.unwrap().is_empty());
        assert_eq!(
            get_run(&pool, "r1").await.unwrap().unwrap().status,
            "running"
        );
    }
}
