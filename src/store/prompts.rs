//! The `prompts` table: prompts registered once and graded against many
//! times. Their prepared form is cached in memory by `http::prompts`; this
//! file only stores and reads the text.

use super::Db;

/// A registered prompt as stored.
#[derive(
    Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct PromptRecord {
    /// The prompt's id (a UUID unless the client chose one).
    pub id: String,
    /// Short title of the source text.
    pub title: String,
    /// The question the students answer.
    pub question: String,
    /// The full source text the students read.
    pub text: String,
    /// When it was registered (RFC 3339, UTC).
    pub created_at: String,
}

/// Inserts a prompt with no cap on their number (for tests that need a
/// prompt row). Returns `Ok(None)` when the id is already taken.
#[cfg(test)]
pub async fn insert_prompt(
    pool: &Db,
    id: &str,
    title: &str,
    question: &str,
    text: &str,
) -> Result<Option<PromptRecord>, sqlx::Error> {
    Ok(
        match insert_prompt_within(pool, id, title, question, text, i64::MAX).await? {
            PromptInsert::Inserted(record) => Some(record),
            PromptInsert::IdTaken | PromptInsert::Full => None,
        },
    )
}

/// What [`insert_prompt_within`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptInsert {
    /// The prompt is registered.
    Inserted(PromptRecord),
    /// A prompt with this id exists already; nothing was written.
    IdTaken,
    /// The table already holds the most prompts allowed; nothing was written.
    Full,
}

/// Inserts a prompt unless its id is taken or the table already holds
/// `max_prompts`. The count and the insert are one statement, so on SQLite
/// (one writer at a time) concurrent registrations cannot pass the cap; on
/// PostgreSQL at READ COMMITTED concurrent ones may pass it by at most their
/// number.
pub async fn insert_prompt_within(
    pool: &Db,
    id: &str,
    title: &str,
    question: &str,
    text: &str,
    max_prompts: i64,
) -> Result<PromptInsert, sqlx::Error> {
    let inserted = sqlx::query_as::<_, PromptRecord>(
        "INSERT INTO prompts (id, title, question, text, created_at) \
         SELECT $1, $2, $3, $4, $5 WHERE (SELECT COUNT(*) FROM prompts) < $6 \
         ON CONFLICT (id) DO NOTHING \
         RETURNING id, title, question, text, created_at",
    )
    .bind(id)
    .bind(title)
    .bind(question)
    .bind(text)
    .bind(super::now())
    .bind(max_prompts)
    .fetch_optional(pool)
    .await?;
    Ok(match inserted {
        Some(record) => PromptInsert::Inserted(record),
        None if get_prompt(pool, id).await?.is_some() => PromptInsert::IdTaken,
        None => PromptInsert::Full,
    })
}

/// How many prompts are registered (for tests).
#[cfg(test)]
pub async fn count_prompts(pool: &Db) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM prompts")
        .fetch_one(pool)
        .await?;
    Ok(n)
}

/// One prompt by id.
pub async fn get_prompt(pool: &Db, id: &str) -> Result<Option<PromptRecord>, sqlx::Error> {
    sqlx::query_as::<_, PromptRecord>(
        "SELECT id, title, question, text, created_at FROM prompts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A page of prompts, oldest first (registration order is stable, so paging
/// by offset does not skip rows).
pub async fn list_prompts(
    pool: &Db,
    limit: i64,
    offset: i64,
) -> Result<Vec<PromptRecord>, sqlx::Error> {
    sqlx::query_as::<_, PromptRecord>(
        "SELECT id, title, question, text, created_at FROM prompts \
         ORDER BY created_at, id LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// Every prompt (for tests; the service prepares prompts on first use).
#[cfg(test)]
pub async fn all_prompts(pool: &Db) -> Result<Vec<PromptRecord>, sqlx::Error> {
    sqlx::query_as::<_, PromptRecord>(
        "SELECT id, title, question, text, created_at FROM prompts ORDER BY created_at, id",
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_db;

    #[tokio::test]
    async fn a_prompt_id_can_be_registered_only_once() {
        let (pool, _dir) = test_db::fresh().await;
        let first = insert_prompt(&pool, "p1", "T", "Q", "Text").await.unwrap();
        assert!(first.is_some());
        let second = insert_prompt(&pool, "p1", "T2", "Q2", "Text2")
            .await
            .unwrap();
        assert!(second.is_none());
        let stored = get_prompt(&pool, "p1").await.unwrap().unwrap();
        assert_eq!(stored.title, "T");
    }

    #[tokio::test]
    async fn a_full_table_takes_no_new_prompt_but_still_reports_a_taken_id() {
        let (pool, _dir) = test_db::fresh().await;
        let first = insert_prompt_within(&pool, "a", "T", "Q", "X", 2).await;
        assert!(matches!(first, Ok(PromptInsert::Inserted(_))));
        let second = insert_prompt_within(&pool, "b", "T", "Q", "X", 2).await;
        assert!(matches!(second, Ok(PromptInsert::Inserted(_))));
        let third = insert_prompt_within(&pool, "c", "T", "Q", "X", 2).await;
        assert_eq!(third.unwrap(), PromptInsert::Full);
        let again = insert_prompt_within(&pool, "a", "T", "Q", "X", 5).await;
        assert_eq!(again.unwrap(), PromptInsert::IdTaken);
        assert_eq!(count_prompts(&pool).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn listing_pages_in_registration_order() {
        let (pool, _dir) = test_db::fresh().await;
        for id in ["a", "b", "c"] {
            insert_prompt(&pool, id, "T", "Q", "X").await.unwrap();
        }
        let page = list_prompts(&pool, 2, 1).await.unwrap();
        let ids: Vec<_> = page.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(all_prompts(&pool).await.unwrap().len(), 3);
        assert!(get_prompt(&pool, "zzz").await.unwrap().is_none());
    }
}
