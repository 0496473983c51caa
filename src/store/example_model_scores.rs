//! The `example_model_scores` table: the raw scores a model gave each example,
//! kept so that a refit after one more example grades one essay, not all of
//! them, and so that a restart grades none. Rows go with their example
//! (ON DELETE CASCADE).

use super::Db;

/// An example with the raw scores a model gave it, if it has.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ScoredExample {
    /// The example's id.
    pub id: String,
    /// The essay (needed only when the model has not scored it yet).
    pub essay: String,
    /// The teacher's scores, a JSON object by target name.
    pub teacher: String,
    /// The model's raw scores, a JSON array in its target order, if stored.
    pub raw: Option<String>,
}

/// A prompt's examples, oldest first, each with the raw scores `model_id`
/// gave it when it has: one read, so the teacher's and the model's scores
/// come from the same moment.
pub async fn scores_for_prompt(
    pool: &Db,
    prompt_id: &str,
    model_id: &str,
) -> Result<Vec<ScoredExample>, sqlx::Error> {
    sqlx::query_as::<_, ScoredExample>(
        "SELECT e.id, e.essay, e.scores AS teacher, s.scores AS raw FROM prompt_examples e \
         LEFT JOIN example_model_scores s ON s.example_id = e.id AND s.model_id = $1 \
         WHERE e.prompt_id = $2 ORDER BY e.created_at, e.id",
    )
    .bind(model_id)
    .bind(prompt_id)
    .fetch_all(pool)
    .await
}

/// Stores raw scores of examples for a model, in one transaction. An example
/// deleted meanwhile is skipped (its row would have nothing to refer to), and
/// scores already stored are kept.
pub async fn insert_scores(
    pool: &Db,
    model_id: &str,
    scores: &[(String, String)],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for (example_id, json) in scores {
        sqlx::query(
            "INSERT INTO example_model_scores (example_id, model_id, scores) \
             SELECT id, $1, $2 FROM prompt_examples WHERE id = $3 \
             ON CONFLICT (example_id, model_id) DO NOTHING",
        )
        .bind(model_id)
        .bind(json)
        .bind(example_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::examples::{NewExample, all_examples, delete_example, upsert_examples};
    use crate::store::test_db;

    #[tokio::test]
    async fn raw_scores_are_kept_per_model_and_go_with_their_example() {
        let (pool, _dir, model) = test_db::with_prompt_and_model().await;
        let new = |essay: &str| NewExample {
            essay: essay.into(),
            essay_sha256: essay.into(),
            scores: "{}".into(),
        };
        upsert_examples(&pool, "p", &[new("a"), new("b")], "t")
            .await
            .unwrap();
        let rows = all_examples(&pool, "p").await.unwrap();
        insert_scores(&pool, &model.id, &[(rows[0].id.clone(), "[1.5]".into())])
            .await
            .unwrap();
        // A second write of the same example keeps the first.
        insert_scores(&pool, &model.id, &[(rows[0].id.clone(), "[9]".into())])
            .await
            .unwrap();
        let got = scores_for_prompt(&pool, "p", &model.id).await.unwrap();
        assert_eq!(got.len(), 2);
        let a = got.iter().find(|e| e.id == rows[0].id).unwrap();
        assert_eq!(a.raw.as_deref(), Some("[1.5]"));
        assert_eq!(
            (a.essay.as_str(), a.teacher.as_str()),
            (rows[0].essay.as_str(), "{}")
        );
        assert!(got.iter().any(|e| e.raw.is_none()));
        assert!(delete_example(&pool, "p", &rows[0].id).await.unwrap());
        insert_scores(&pool, &model.id, &[(rows[0].id.clone(), "[2]".into())])
            .await
            .unwrap();
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM example_model_scores")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
}
