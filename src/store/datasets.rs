//! The `datasets`, `dataset_prompts` and `dataset_essays` tables: uploaded
//! training data, stored row by row so a job can rebuild a
//! `training::Dataset` without the original files. Parsing the CSVs is
//! `training`'s job and HTTP concerns are `http::datasets`'s; this file only
//! moves rows in and out, each multi-row write in one transaction.

use super::Db;

/// One dataset's summary row (never the essays themselves).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DatasetRow {
    /// UUID of the dataset.
    pub id: String,
    /// Human-readable name (the upload's `name`, or the essays file name).
    pub name: String,
    /// The column mapping used to read the files, as JSON.
    pub layout: String,
    /// JSON array of target names.
    pub targets: String,
    /// JSON score grid, when the targets are ordinal.
    pub score_grid: Option<String>,
    /// Number of essays stored.
    pub row_count: i64,
    /// Number of prompts stored.
    pub prompt_count: i64,
    /// JSON array of non-fatal problems found while reading.
    pub problems: String,
    /// When it was uploaded (RFC 3339 UTC).
    pub created_at: String,
    /// When it was deleted, for a tombstone kept for lineage.
    pub deleted_at: Option<String>,
}

/// A prompt (source text) of a dataset.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PromptRow {
    /// The prompt's id as the dataset names it.
    pub prompt_id: String,
    /// Title of the source text ("" when unknown).
    pub title: String,
    /// The question the students answered ("" when unknown).
    pub question: String,
    /// The source text ("" when unknown).
    pub text: String,
}

/// An essay of a dataset with its targets.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EssayRow {
    /// The essay's id as the dataset names it.
    pub essay_id: String,
    /// Which prompt it answers.
    pub prompt_id: String,
    /// The essay text.
    pub text: String,
    /// JSON array of numbers, aligned with the dataset's targets.
    pub targets: String,
}

/// Everything needed to store a new dataset.
#[derive(Debug, Clone)]
pub struct NewDataset {
    /// UUID chosen by the caller.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The column mapping, as JSON.
    pub layout: String,
    /// JSON array of target names.
    pub targets: String,
    /// JSON score grid, if any.
    pub score_grid: Option<String>,
    /// JSON array of non-fatal problems.
    pub problems: String,
    /// Upload time (RFC 3339 UTC).
    pub created_at: String,
    /// The prompts.
    pub prompts: Vec<PromptRow>,
    /// The essays, in file order.
    pub essays: Vec<EssayRow>,
}

/// What [`delete_dataset`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// No live dataset has that id.
    NotFound,
    /// Queued or running jobs still need it; nothing was changed.
    InUse {
        /// The ids of those jobs.
        job_ids: Vec<String>,
    },
    /// Nothing referred to it: the dataset is gone entirely.
    Deleted,
    /// Finished jobs (and so runs and models) refer to it: its essays and
    /// prompts are gone, its summary row stays for lineage.
    Tombstoned,
}

/// Stores a dataset, its prompts and its essays in one transaction, so a
/// failed upload leaves nothing behind.
pub async fn insert_dataset(pool: &Db, new: &NewDataset) -> Result<DatasetRow, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO datasets (id, name, layout, targets, score_grid, row_count, prompt_count, problems, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&new.id)
    .bind(&new.name)
    .bind(&new.layout)
    .bind(&new.targets)
    .bind(&new.score_grid)
    .bind(new.essays.len() as i64)
    .bind(new.prompts.len() as i64)
    .bind(&new.problems)
    .bind(&new.created_at)
    .execute(&mut *tx)
    .await?;
    for prompt in &new.prompts {
        sqlx::query(
            "INSERT INTO dataset_prompts (dataset_id, prompt_id, title, question, text) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&new.id)
        .bind(&prompt.prompt_id)
        .bind(&prompt.title)
        .bind(&prompt.question)
        .bind(&prompt.text)
        .execute(&mut *tx)
        .await?;
    }
    for (row_no, essay) in new.essays.iter().enumerate() {
        sqlx::query(
            "INSERT INTO dataset_essays (dataset_id, row_no, essay_id, prompt_id, text, targets) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&new.id)
        .bind(row_no as i64)
        .bind(&essay.essay_id)
        .bind(&essay.prompt_id)
        .bind(&essay.text)
        .bind(&essay.targets)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(get_dataset(pool, &new.id)
        .await?
        .expect("the dataset was inserted in the committed transaction"))
}

/// The live (not deleted) datasets, newest first.
pub async fn list_datasets(
    pool: &Db,
    limit: i64,
    offset: i64,
) -> Result<Vec<DatasetRow>, sqlx::Error> {
    sqlx::query_as::<_, DatasetRow>(
        "SELECT id, name, layout, targets, score_grid, row_count, prompt_count, problems, created_at, deleted_at \
         FROM datasets WHERE deleted_at IS NULL ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// One dataset's summary, including a tombstone (check `deleted_at`).
pub async fn get_dataset(pool: &Db, id: &str) -> Result<Option<DatasetRow>, sqlx::Error> {
    sqlx::query_as::<_, DatasetRow>(
        "SELECT id, name, layout, targets, score_grid, row_count, prompt_count, problems, created_at, deleted_at \
         FROM datasets WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The prompts and essays (in file order) of a dataset.
pub async fn load_dataset_rows(
    pool: &Db,
    id: &str,
) -> Result<(Vec<PromptRow>, Vec<EssayRow>), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let prompts = sqlx::query_as::<_, PromptRow>(
        "SELECT prompt_id, title, question, text FROM dataset_prompts WHERE dataset_id = $1 ORDER BY prompt_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let essays = sqlx::query_as::<_, EssayRow>(
        "SELECT essay_id, prompt_id, text, targets FROM dataset_essays WHERE dataset_id = $1 ORDER BY row_no",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok((prompts, essays))
}

/// Each prompt of a dataset as (id, title, number of essays), by id.
pub async fn prompt_summaries(
    pool: &Db,
    id: &str,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.prompt_id, p.title, COUNT(e.row_no) FROM dataset_prompts p \
         LEFT JOIN dataset_essays e ON e.dataset_id = p.dataset_id AND e.prompt_id = p.prompt_id \
         WHERE p.dataset_id = $1 GROUP BY p.prompt_id, p.title ORDER BY p.prompt_id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Deletes a dataset unless a queued or running job needs it. A dataset that
/// finished jobs used keeps its summary row as a tombstone so runs and models
/// still name what they were trained on; one nothing used is removed
/// entirely. All in one transaction, so a job cannot be queued in between.
pub async fn delete_dataset(pool: &Db, id: &str, now: &str) -> Result<DeleteOutcome, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    // PostgreSQL: the row lock conflicts with the key-share lock a job insert
    // takes through its foreign key, so no job is queued on it meanwhile.
    let sql = match super::backend(pool) {
        super::Backend::Sqlite => "SELECT id FROM datasets WHERE id = $1 AND deleted_at IS NULL",
        super::Backend::Postgres => {
            "SELECT id FROM datasets WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
        }
    };
    let live: Option<(String,)> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if live.is_none() {
        return Ok(DeleteOutcome::NotFound);
    }
    let active: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM jobs WHERE dataset_id = $1 AND status IN ('queued', 'running') ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !active.is_empty() {
        return Ok(DeleteOutcome::InUse {
            job_ids: active.into_iter().map(|(id,)| id).collect(),
        });
    }
    let (used,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE dataset_id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let outcome = if used > 0 {
        sqlx::query("DELETE FROM dataset_essays WHERE dataset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM dataset_prompts WHERE dataset_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE datasets SET deleted_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        DeleteOutcome::Tombstoned
    } else {
        // The prompts and essays go with it through ON DELETE CASCADE.
        sqlx::query("DELETE FROM datasets WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        DeleteOutcome::Deleted
    };
    tx.commit().await?;
    Ok(outcome)
}

#[cfg(test)]
pub(crate) fn sample_dataset(id: &str, essays: usize) -> NewDataset {
    NewDataset {
        id: id.to_string(),
        name: format!("sample {id}"),
        layout: "{}".to_string(),
        targets: r#"["content","wording"]"#.to_string(),
        score_grid: None,
        problems: "[]".to_string(),
        created_at: "2026-11-26T23:00:00.000Z".to_string(),
        prompts: vec![PromptRow {
            prompt_id: "p1".to_string(),
            title: "Bees".to_string(),
            question: "Summarise how bees talk.".to_string(),
            text: "Bees dance to say where the flowers are.".to_string(),
        }],
        essays: (0..essays)
            .map(|i| EssayRow {
                essay_id: format!("e{i}"),
                prompt_id: "p1".to_string(),
                text: format!("Essay number {i} says bees dance."),
                targets: format!("[{i}.0, 0.5]"),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stored_dataset_comes_back_row_for_row_in_file_order() {
        let (pool, _dir) = crate::store::test_db::fresh().await;
        let new = sample_dataset("d1", 12);

        let row = insert_dataset(&pool, &new).await.unwrap();
        let (prompts, essays) = load_dataset_rows(&pool, "d1").await.unwrap();

        assert_eq!(row.row_count, 12);
        assert_eq!(row.prompt_count, 1);
        assert_eq!(prompts, new.prompts);
        assert_eq!(essays, new.essays);
        assert_eq!(list_datasets(&pool, 1000, 0).await.unwrap().len(), 1);
        let summaries = prompt_summaries(&pool, "d1").await.unwrap();
        assert_eq!(summaries, vec![("p1".to_string(), "Bees".to_string(), 12)]);
    }

    #[tokio::test]
    async fn a_failed_insert_leaves_no_partial_dataset() {
        let (pool, _dir) = crate::store::test_db::fresh().await;
        insert_dataset(&pool, &sample_dataset("d1", 3))
            .await
            .unwrap();
        let mut clash = sample_dataset("d2", 3);
        // Two prompts with one id violate the primary key after the dataset row went in.
        clash.prompts.push(clash.prompts[0].clone());

        assert!(insert_dataset(&pool, &clash).await.is_err());

        assert!(get_dataset(&pool, "d2").await.unwrap().is_none());
        let (_, essays) = load_dataset_rows(&pool, "d2").await.unwrap();
        assert!(essays.is_empty());
    }

    #[tokio::test]
    async fn deleting_an_unused_dataset_removes_it_and_its_rows() {
        let (pool, _dir) = crate::store::test_db::fresh().await;
        insert_dataset(&pool, &sample_dataset("d1", 3))
            .await
            .unwrap();

        let outcome = delete_dataset(&pool, "d1", "2026-11-27T00:00:00.000Z")
            .await
            .unwrap();

        assert_eq!(outcome, DeleteOutcome::Deleted);
        assert!(get_dataset(&pool, "d1").await.unwrap().is_none());
        assert!(load_dataset_rows(&pool, "d1").await.unwrap().1.is_empty());
        assert_eq!(
            delete_dataset(&pool, "d1", "2026-11-27T00:00:00.000Z")
                .await
                .unwrap(),
            DeleteOutcome::NotFound
        );
    }

    #[tokio::test]
    async fn a_dataset_a_queued_job_needs_is_kept_and_a_used_one_becomes_a_tombstone() {
        use crate::store::jobs::{
            JobEnd, LeaseTerms, NewJob, claim_next_job, finish_job, insert_job,
        };
        let (pool, _dir) = crate::store::test_db::fresh().await;
        insert_dataset(&pool, &sample_dataset("d1", 3))
            .await
            .unwrap();
        let now = "2026-11-27T00:00:00.000Z";
        let job = NewJob {
            id: "j1".to_string(),
            run_id: "r1".to_string(),
            kind: "train".to_string(),
            dataset_id: "d1".to_string(),
            config: "{}".to_string(),
            resolved_config: "{}".to_string(),
            created_at: now.to_string(),
        };
        insert_job(&pool, &job).await.unwrap();

        let refused = delete_dataset(&pool, "d1", now).await.unwrap();
        let terms = LeaseTerms {
            now,
            expires_at: "2026-11-27T00:00:30.000Z",
        };
        let claim = claim_next_job(&pool, "w1", terms).await.unwrap().unwrap();
        finish_job(&pool, &claim.lease, &JobEnd::Cancelled, None, "{}", now)
            .await
            .unwrap();
        let deleted = delete_dataset(&pool, "d1", now).await.unwrap();

        assert_eq!(
            refused,
            DeleteOutcome::InUse {
                job_ids: vec!["j1".to_string()]
            }
        );
        assert_eq!(deleted, DeleteOutcome::Tombstoned);
        let tombstone = get_dataset(&pool, "d1").await.unwrap().unwrap();
        assert_eq!(tombstone.deleted_at.as_deref(), Some(now));
        assert_eq!(tombstone.row_count, 3);
        assert!(load_dataset_rows(&pool, "d1").await.unwrap().1.is_empty());
        assert!(list_datasets(&pool, 1000, 0).await.unwrap().is_empty());
    }
}
