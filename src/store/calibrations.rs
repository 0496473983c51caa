//! The `calibrations` table: each prompt's calibration as last fitted for a
//! model (parameters and leave-one-out estimate as JSON). The service loads
//! the active model's rows at start-up instead of refitting; writing
//! examples deletes a prompt's rows (see `store::examples`), so a row that
//! exists is current.

use super::Db;

/// A stored calibration.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CalibrationRow {
    /// The prompt.
    pub prompt_id: String,
    /// The model it was fitted for.
    pub model_id: String,
    /// Examples behind it.
    pub examples: i64,
    /// `calibration::Calibration` as JSON.
    pub parameters: String,
    /// `calibration::Estimate` as JSON, or `None` without examples.
    pub estimate: Option<String>,
    /// When it was fitted (RFC 3339 UTC).
    pub fitted_at: String,
}

/// Writes (or overwrites) a prompt's calibration for a model.
pub async fn upsert_calibration(pool: &Db, row: &CalibrationRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO calibrations (prompt_id, model_id, examples, parameters, estimate, fitted_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (prompt_id, model_id) DO UPDATE SET examples = excluded.examples, \
         parameters = excluded.parameters, estimate = excluded.estimate, fitted_at = excluded.fitted_at",
    )
    .bind(&row.prompt_id)
    .bind(&row.model_id)
    .bind(row.examples)
    .bind(&row.parameters)
    .bind(&row.estimate)
    .bind(&row.fitted_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every stored calibration for a model.
pub async fn calibrations_for_model(
    pool: &Db,
    model_id: &str,
) -> Result<Vec<CalibrationRow>, sqlx::Error> {
    sqlx::query_as::<_, CalibrationRow>(
        "SELECT prompt_id, model_id, examples, parameters, estimate, fitted_at FROM calibrations \
         WHERE model_id = $1 ORDER BY prompt_id",
    )
    .bind(model_id)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::examples::{NewExample, upsert_examples};
    use crate::store::test_db;

    #[tokio::test]
    async fn a_calibration_is_overwritten_in_place_and_forgotten_when_examples_change() {
        let (pool, _dir, model) = test_db::with_prompt_and_model().await;
        let mut row = CalibrationRow {
            prompt_id: "p".into(),
            model_id: model.id.clone(),
            examples: 3,
            parameters: r#"{"targets":[]}"#.into(),
            estimate: None,
            fitted_at: "t1".into(),
        };
        upsert_calibration(&pool, &row).await.unwrap();
        row.examples = 4;
        row.fitted_at = "t2".into();
        upsert_calibration(&pool, &row).await.unwrap();
        assert_eq!(
            calibrations_for_model(&pool, &model.id).await.unwrap(),
            [row]
        );
        upsert_examples(
            &pool,
            "p",
            &[NewExample {
                essay: "e".into(),
                essay_sha256: "e".into(),
                scores: "{}".into(),
            }],
            "t3",
        )
        .await
        .unwrap();
        assert!(
            calibrations_for_model(&pool, &model.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
