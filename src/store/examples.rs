//! The `prompt_examples` table: essays a teacher graded for a prompt, with
//! their scores (a JSON object by target name). Checking the scores against a
//! model is `http::examples`'s job; this file stores and reads rows. Every
//! write also deletes the prompt's stored calibrations in the same
//! transaction, so no calibration row is older than its examples.

use super::{Db, DbConnection};

/// An example as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExampleRow {
    /// The example's id.
    pub id: String,
    /// The prompt it was graded for.
    pub prompt_id: String,
    /// The essay.
    pub essay: String,
    /// The teacher's scores, a JSON object by target name.
    pub scores: String,
    /// When these scores were given (RFC 3339 UTC).
    pub created_at: String,
}

/// One example to store.
#[derive(Debug, Clone)]
pub struct NewExample {
    /// The essay as posted.
    pub essay: String,
    /// SHA-256 (hex) of the trimmed essay: the identity of "the same essay".
    pub essay_sha256: String,
    /// The teacher's scores, a JSON object by target name.
    pub scores: String,
}

/// What [`upsert_examples`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// Examples that did not exist before.
    pub added: usize,
    /// Examples whose essay was already there and whose scores were replaced.
    pub replaced: usize,
}

async fn forget_calibrations(conn: &mut DbConnection, prompt_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM calibrations WHERE prompt_id = $1")
        .bind(prompt_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores examples for a prompt in one transaction: a new essay is added; an
/// essay already there (same digest) gets the new scores and time, keeping
/// its id. Later items win over earlier ones with the same essay.
///
/// Each item is an insert that does nothing on the unique key, then, if it
/// did nothing, an update: no check-then-write race, so two replicas posting
/// the same essay at once both succeed and one of them wins.
pub async fn upsert_examples(
    pool: &Db,
    prompt_id: &str,
    examples: &[NewExample],
    now: &str,
) -> Result<Upserted, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let mut done = Upserted {
        added: 0,
        replaced: 0,
    };
    let mut seen = std::collections::HashSet::new();
    for example in examples {
        let inserted: Option<(String,)> = sqlx::query_as(
            "INSERT INTO prompt_examples (id, prompt_id, essay_sha256, essay, scores, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (prompt_id, essay_sha256) DO NOTHING RETURNING id",
        )
        .bind(super::new_id())
        .bind(prompt_id)
        .bind(&example.essay_sha256)
        .bind(&example.essay)
        .bind(&example.scores)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id,)) = inserted {
            seen.insert(id);
            done.added += 1;
            continue;
        }
        let (id,): (String,) = sqlx::query_as(
            "UPDATE prompt_examples SET scores = $1, created_at = $2 \
             WHERE prompt_id = $3 AND essay_sha256 = $4 RETURNING id",
        )
        .bind(&example.scores)
        .bind(now)
        .bind(prompt_id)
        .bind(&example.essay_sha256)
        .fetch_one(&mut *tx)
        .await?;
        // A repeat inside this request is neither added nor replaced twice.
        if seen.insert(id) {
            done.replaced += 1;
        }
    }
    forget_calibrations(&mut tx, prompt_id).await?;
    tx.commit().await?;
    Ok(done)
}

/// A page of a prompt's examples, newest first.
pub async fn list_examples(
    pool: &Db,
    prompt_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<ExampleRow>, sqlx::Error> {
    sqlx::query_as::<_, ExampleRow>(
        "SELECT id, prompt_id, essay, scores, created_at FROM prompt_examples \
         WHERE prompt_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(prompt_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// Every example of a prompt, oldest first (fitting, CSV export, datasets).
pub async fn all_examples(pool: &Db, prompt_id: &str) -> Result<Vec<ExampleRow>, sqlx::Error> {
    sqlx::query_as::<_, ExampleRow>(
        "SELECT id, prompt_id, essay, scores, created_at FROM prompt_examples \
         WHERE prompt_id = $1 ORDER BY created_at, id",
    )
    .bind(prompt_id)
    .fetch_all(pool)
    .await
}

/// How many examples a prompt has.
pub async fn count_examples(pool: &Db, prompt_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM prompt_examples WHERE prompt_id = $1")
        .bind(prompt_id)
        .fetch_one(pool)
        .await?;
    Ok(n)
}

/// The ids of the prompts that have at least one example.
pub async fn prompts_with_examples(pool: &Db) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT prompt_id FROM prompt_examples ORDER BY prompt_id")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// What changes whenever a prompt's examples change: how many it has and
/// when the newest was written (a replacement writes its time anew).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExamplesMarker {
    /// How many examples the prompt has.
    pub examples: i64,
    /// The newest `created_at` among them (RFC 3339 with milliseconds).
    pub newest: String,
}

/// Every prompt's [`ExamplesMarker`] (prompts without examples are absent),
/// in one query over the `(prompt_id, created_at)` index: what a replica
/// polls to notice examples written through another one.
pub async fn examples_markers(
    pool: &Db,
) -> Result<std::collections::HashMap<String, ExamplesMarker>, sqlx::Error> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT prompt_id, COUNT(*), MAX(created_at) FROM prompt_examples GROUP BY prompt_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(prompt_id, examples, newest)| (prompt_id, ExamplesMarker { examples, newest }))
        .collect())
}

/// Deletes one example of a prompt; `false` when the prompt has no such example.
pub async fn delete_example(
    pool: &Db,
    prompt_id: &str,
    example_id: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM prompt_examples WHERE prompt_id = $1 AND id = $2")
        .bind(prompt_id)
        .bind(example_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted > 0 {
        forget_calibrations(&mut tx, prompt_id).await?;
    }
    tx.commit().await?;
    Ok(deleted > 0)
}

/// Deletes every example of a prompt; returns how many there were.
pub async fn delete_all_examples(pool: &Db, prompt_id: &str) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM prompt_examples WHERE prompt_id = $1")
        .bind(prompt_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    forget_calibrations(&mut tx, prompt_id).await?;
    tx.commit().await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{prompts::insert_prompt, test_db};

    fn example(essay: &str, content: f64) -> NewExample {
        NewExample {
            essay: essay.to_owned(),
            essay_sha256: format!("digest-of-{essay}"),
            scores: format!(r#"{{"content":{content}}}"#),
        }
    }

    #[tokio::test]
    async fn the_same_essay_posted_again_replaces_its_scores_and_keeps_its_id() {
        let (pool, _dir) = test_db::fresh().await;
        insert_prompt(&pool, "p", "T", "Q", "Text").await.unwrap();
        let first = upsert_examples(&pool, "p", &[example("a", 1.0), example("b", 2.0)], "t1")
            .await
            .unwrap();
        assert_eq!(
            first,
            Upserted {
                added: 2,
                replaced: 0
            }
        );
        let before = all_examples(&pool, "p").await.unwrap();
        let second = upsert_examples(&pool, "p", &[example("a", 3.0), example("c", 0.0)], "t2")
            .await
            .unwrap();
        assert_eq!(
            second,
            Upserted {
                added: 1,
                replaced: 1
            }
        );
        assert_eq!(count_examples(&pool, "p").await.unwrap(), 3);
        let newest = list_examples(&pool, "p", 10, 0).await.unwrap();
        let a = newest.iter().find(|e| e.essay == "a").unwrap();
        assert_eq!(a.scores, r#"{"content":3}"#);
        assert_eq!(a.created_at, "t2");
        assert_eq!(a.id, before.iter().find(|e| e.essay == "a").unwrap().id);
        // Newest first: the two written at t2 come before b.
        assert_eq!(newest.last().unwrap().essay, "b");
        assert_eq!(list_examples(&pool, "p", 1, 2).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_repeat_inside_one_request_counts_once_and_the_later_scores_win() {
        let (pool, _dir) = test_db::fresh().await;
        insert_prompt(&pool, "p", "T", "Q", "Text").await.unwrap();
        let done = upsert_examples(&pool, "p", &[example("a", 1.0), example("a", 2.0)], "t")
            .await
            .unwrap();
        assert_eq!(
            done,
            Upserted {
                added: 1,
                replaced: 0
            }
        );
        let rows = all_examples(&pool, "p").await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].scores, r#"{"content":2}"#);
    }

    #[tokio::test]
    async fn examples_of_an_unknown_prompt_are_refused_and_nothing_is_stored() {
        let (pool, _dir) = test_db::fresh().await;
        assert!(
            upsert_examples(&pool, "nope", &[example("a", 1.0)], "t")
                .await
                .is_err()
        );
        assert!(prompts_with_examples(&pool).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn deleting_one_or_all_examples_touches_only_that_prompt() {
        let (pool, _dir) = test_db::fresh().await;
        for p in ["p", "q"] {
            insert_prompt(&pool, p, "T", "Q", "Text").await.unwrap();
            upsert_examples(&pool, p, &[example("a", 1.0), example("b", 2.0)], "t")
                .await
                .unwrap();
        }
        let q_rows = all_examples(&pool, "q").await.unwrap();
        assert!(!delete_example(&pool, "p", &q_rows[0].id).await.unwrap());
        assert!(delete_example(&pool, "q", &q_rows[0].id).await.unwrap());
        assert_eq!(delete_all_examples(&pool, "p").await.unwrap(), 2);
        assert_eq!(count_examples(&pool, "p").await.unwrap(), 0);
        assert_eq!(count_examples(&pool, "q").await.unwrap(), 1);
        assert_eq!(prompts_with_examples(&pool).await.unwrap(), ["q"]);
    }
}
