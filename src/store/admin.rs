//! The `admin_credentials` and `admin_sessions` tables: the hash of the
//! generated admin token and the hashes of live session cookies. Hashing and
//! comparison are done by `http::auth`; this file only stores digests.

use super::Db;

/// The stored admin token digest (hex SHA-256), if a token was generated.
pub async fn admin_token_digest(pool: &Db) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT token_sha256 FROM admin_credentials WHERE id = 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(d,)| d))
}

/// Stores the digest of a newly generated admin token unless one exists.
/// Returns whether this call stored it: when two processes start on the same
/// empty database at once, exactly one wins and the other must re-read.
pub async fn store_admin_token_digest(pool: &Db, digest: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO admin_credentials (id, token_sha256, created_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(digest)
    .bind(super::now())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a session (by the digest of its cookie value) valid until `expires_at`.
pub async fn insert_session(pool: &Db, digest: &str, expires_at: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO admin_sessions (token_sha256, created_at, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(digest)
    .bind(super::now())
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether a session with this digest exists and has not expired.
pub async fn session_is_live(pool: &Db, digest: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT token_sha256 FROM admin_sessions WHERE token_sha256 = $1 AND expires_at > $2",
    )
    .bind(digest)
    .bind(super::now())
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

/// Deletes one session (logging out); deleting an unknown one is not an error.
pub async fn delete_session(pool: &Db, digest: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM admin_sessions WHERE token_sha256 = $1")
        .bind(digest)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes expired sessions; returns how many. Called when a session is
/// created, which keeps the table small without a timer.
pub async fn delete_expired_sessions(pool: &Db) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
        .bind(super::now())
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_db;

    #[tokio::test]
    async fn only_the_first_admin_token_digest_is_kept() {
        let (pool, _dir) = test_db::fresh().await;
        assert_eq!(admin_token_digest(&pool).await.unwrap(), None);
        assert!(store_admin_token_digest(&pool, "aa").await.unwrap());
        assert!(!store_admin_token_digest(&pool, "bb").await.unwrap());
        assert_eq!(
            admin_token_digest(&pool).await.unwrap().as_deref(),
            Some("aa")
        );
    }

    #[tokio::test]
    async fn expired_sessions_are_not_live_and_get_deleted() {
        let (pool, _dir) = test_db::fresh().await;
        insert_session(&pool, "old", "2000-01-01T00:00:00.000Z")
            .await
            .unwrap();
        insert_session(&pool, "new", "2999-01-01T00:00:00.000Z")
            .await
            .unwrap();
        assert!(!session_is_live(&pool, "old").await.unwrap());
        assert!(session_is_live(&pool, "new").await.unwrap());
        assert!(!session_is_live(&pool, "missing").await.unwrap());
        assert_eq!(delete_expired_sessions(&pool).await.unwrap(), 1);
    }
}
