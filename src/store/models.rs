//! The `models` and `model_activations` tables: the model registry. A model
//! version is written once (artifact, metrics, lineage) and never changed;
//! activating a model appends a row to the activation history, and the
//! newest row names the active model.
//!
//! The job queue registers the models its train jobs produce through
//! [`register_model`] (or [`insert_model`] inside its own transaction).

use super::{Db, DbConnection};

/// What a new model version is made of.
#[derive(Debug, Clone)]
pub struct NewModel<'a> {
    /// The artifact bytes (`grader::GraderModel::to_json`).
    pub artifact: &'a [u8],
    /// Training metrics as a JSON object (e.g. `{"cv_mcrmse": 0.48}`).
    pub metrics: serde_json::Value,
    /// The run that trained it, if any.
    pub run_id: Option<&'a str>,
    /// The dataset it was trained on, if any.
    pub dataset_id: Option<&'a str>,
    /// Where it came from: `"default"` or `"train"`.
    pub source: &'a str,
}

/// A model version without its artifact (listing does not read the blobs).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ModelRecord {
    /// The model's id.
    pub id: String,
    /// Its version number, 1, 2, 3, ...
    pub version: i64,
    /// Whether it is the model grading now.
    pub active: bool,
    /// Training metrics (a JSON object).
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    /// The training run that produced it.
    pub run_id: Option<String>,
    /// The dataset it was trained on.
    pub dataset_id: Option<String>,
    /// `"default"` (built into the binary) or `"train"` (a train job).
    pub source: String,
    /// When it was registered (RFC 3339, UTC).
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    id: String,
    version: i64,
    active: i64,
    metrics: String,
    run_id: Option<String>,
    dataset_id: Option<String>,
    source: String,
    created_at: String,
}

impl From<ModelRow> for ModelRecord {
    fn from(row: ModelRow) -> Self {
        // The column is only ever written from a serde_json::Value, so a parse
        // failure means someone edited the database by hand; show it as text
        // rather than failing the whole listing.
        let metrics =
            serde_json::from_str(&row.metrics).unwrap_or(serde_json::Value::String(row.metrics));
        Self {
            id: row.id,
            version: row.version,
            active: row.active != 0,
            metrics,
            run_id: row.run_id,
            dataset_id: row.dataset_id,
            source: row.source,
            created_at: row.created_at,
        }
    }
}

/// One activation in the history.
#[derive(
    Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct ActivationRecord {
    /// 1, 2, 3, ... in order of activation.
    pub seq: i64,
    /// The model activated.
    pub model_id: String,
    /// The model it replaced, if any.
    pub previous_model_id: Option<String>,
    /// When (RFC 3339, UTC).
    pub activated_at: String,
}

/// The columns of a [`ModelRecord`]; a macro so the queries stay `&'static str`
/// (sqlx refuses strings built at run time, which is the point).
macro_rules! select_model {
    ($rest:literal) => {
        concat!(
            "SELECT m.id, m.version, \
             CASE WHEN m.id = (SELECT a.model_id FROM model_activations a ORDER BY a.seq DESC LIMIT 1) \
                  THEN 1 ELSE 0 END AS active, \
             m.metrics, m.run_id, m.dataset_id, m.source, m.created_at FROM models m ",
            $rest
        )
    };
}

/// Inserts a new model version on an open connection or transaction, taking
/// the next version number. Use this when the registration must commit
/// together with other writes (e.g. marking the train job succeeded).
///
/// The version is computed inside the INSERT itself, so two concurrent
/// registrations cannot take the same number (SQLite runs one writer at a
/// time; the UNIQUE constraint guards the rule everywhere else).
pub async fn insert_model(
    conn: &mut DbConnection,
    new: &NewModel<'_>,
) -> Result<ModelRecord, sqlx::Error> {
    let id = super::new_id();
    super::serialize_numbering(conn, super::Numbering::ModelVersions).await?;
    sqlx::query(
        "INSERT INTO models (id, version, artifact, metrics, run_id, dataset_id, source, created_at) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7 FROM models",
    )
    .bind(&id)
    .bind(new.artifact)
    .bind(new.metrics.to_string())
    .bind(new.run_id)
    .bind(new.dataset_id)
    .bind(new.source)
    .bind(super::now())
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query_as::<_, ModelRow>(select_model!("WHERE m.id = $1"))
        .bind(&id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into())
}

/// Registers a new model version in its own transaction (not activated).
pub async fn register_model(pool: &Db, new: &NewModel<'_>) -> Result<ModelRecord, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let record = insert_model(&mut tx, new).await?;
    tx.commit().await?;
    Ok(record)
}

/// On a registry with no model at all, registers `new` and activates it, in
/// one transaction; returns `None` (and changes nothing) when any model
/// exists. Two processes starting on the same empty database at once cannot
/// both register: the first statement is a write, so the transactions run one
/// after the other and the second finds the table no longer empty.
pub async fn register_first_model(
    pool: &Db,
    new: &NewModel<'_>,
) -> Result<Option<ModelRecord>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let id = super::new_id();
    let now = super::now();
    super::serialize_numbering(&mut tx, super::Numbering::ModelVersions).await?;
    super::serialize_numbering(&mut tx, super::Numbering::Activations).await?;
    let inserted = sqlx::query(
        "INSERT INTO models (id, version, artifact, metrics, run_id, dataset_id, source, created_at) \
         SELECT $1, 1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM models)",
    )
    .bind(&id)
    .bind(new.artifact)
    .bind(new.metrics.to_string())
    .bind(new.run_id)
    .bind(new.dataset_id)
    .bind(new.source)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO model_activations (seq, model_id, previous_model_id, activated_at) \
         SELECT COALESCE(MAX(seq), 0) + 1, $1, NULL, $2 FROM model_activations",
    )
    .bind(&id)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query_as::<_, ModelRow>(select_model!("WHERE m.id = $1"))
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(row.into()))
}

/// Every model version, newest first.
pub async fn list_models(
    pool: &Db,
    limit: i64,
    offset: i64,
) -> Result<Vec<ModelRecord>, sqlx::Error> {
    let rows =
        sqlx::query_as::<_, ModelRow>(select_model!("ORDER BY m.version DESC LIMIT $1 OFFSET $2"))
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One model version by id.
pub async fn get_model(pool: &Db, id: &str) -> Result<Option<ModelRecord>, sqlx::Error> {
    let row = sqlx::query_as::<_, ModelRow>(select_model!("WHERE m.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(Into::into))
}

/// The artifact bytes of one model version.
pub async fn model_artifact(pool: &Db, id: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT artifact FROM models WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(a,)| a))
}

/// The id of the active model (the newest activation), if any: what every
/// replica polls to follow activations made elsewhere. One indexed row.
pub async fn active_model_id(pool: &Db) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT model_id FROM model_activations ORDER BY seq DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(id,)| id))
}

/// The active model with its artifact, if any model was ever activated.
pub async fn active_model(pool: &Db) -> Result<Option<(ModelRecord, Vec<u8>)>, sqlx::Error> {
    let Some((id,)): Option<(String,)> =
        sqlx::query_as("SELECT model_id FROM model_activations ORDER BY seq DESC LIMIT 1")
            .fetch_optional(pool)
            .await?
    else {
        return Ok(None);
    };
    let record = get_model(pool, &id).await?;
    let artifact = model_artifact(pool, &id).await?;
    Ok(record.zip(artifact))
}

/// Appends an activation of `model_id` to the history, recording the model it
/// replaces. Returns `Ok(None)` when no such model exists.
///
/// The caller loads and checks the artifact first and swaps the in-memory
/// model only after this commits, so the database never names a model the
/// service could not load.
pub async fn activate_model(
    pool: &Db,
    model_id: &str,
) -> Result<Option<ActivationRecord>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::serialize_numbering(&mut tx, super::Numbering::Activations).await?;
    // One statement reads the current head and appends after it, so the
    // transaction takes the write lock at once (no read-then-upgrade).
    let inserted = sqlx::query_as::<_, ActivationRecord>(
        "INSERT INTO model_activations (seq, model_id, previous_model_id, activated_at) \
         SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM model_activations), m.id, \
                (SELECT a.model_id FROM model_activations a ORDER BY a.seq DESC LIMIT 1), $1 \
         FROM models m WHERE m.id = $2 \
         RETURNING seq, model_id, previous_model_id, activated_at",
    )
    .bind(super::now())
    .bind(model_id)
    .fetch_optional(&mut *tx)
    .await?;
    // PostgreSQL delivers the notification at commit, to every replica
    // listening (`activation_listener`); SQLite replicas rely on their poll.
    if inserted.is_some() && super::backend(pool) == super::Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(ACTIVATION_CHANNEL)
            .bind(model_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(inserted)
}

/// The PostgreSQL notification channel of activations; the payload is the
/// activated model's id.
pub const ACTIVATION_CHANNEL: &str = "essay_grader_activations";

/// A connection that hears every activation the moment it commits (LISTEN on
/// [`ACTIVATION_CHANNEL`]), on PostgreSQL; `None` on SQLite, which has no
/// notifications. `PgListener::recv` reconnects by itself after a dropped
/// connection; notifications sent meanwhile are lost, so callers keep a
/// slower poll as well.
pub async fn activation_listener(pool: &Db) -> Result<Option<ActivationListener>, sqlx::Error> {
    if super::backend(pool) != super::Backend::Postgres {
        return Ok(None);
    }
    let url = pool.connect_options().database_url.to_string();
    let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
    listener.listen(ACTIVATION_CHANNEL).await?;
    Ok(Some(ActivationListener(listener)))
}

/// See [`activation_listener`].
pub struct ActivationListener(sqlx::postgres::PgListener);

impl ActivationListener {
    /// Waits for the next activation; its payload (the model id) is not
    /// needed, the caller re-reads the active model.
    pub async fn next(&mut self) -> Result<(), sqlx::Error> {
        self.0.recv().await.map(|_| ())
    }
}

/// The activation history, newest first.
pub async fn activation_history(
    pool: &Db,
    limit: i64,
    offset: i64,
) -> Result<Vec<ActivationRecord>, sqlx::Error> {
    sqlx::query_as::<_, ActivationRecord>(
        "SELECT seq, model_id, previous_model_id, activated_at FROM model_activations ORDER BY seq DESC \
         LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// How many model versions exist (zero on a fresh database).
pub async fn count_models(pool: &Db) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM models")
        .fetch_one(pool)
        .await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_db;

    fn new_model(artifact: &[u8]) -> NewModel<'_> {
        NewModel {
            artifact,
            metrics: serde_json::json!({"cv_mcrmse": 0.5}),
            run_id: Some("run-1"),
            dataset_id: Some("ds-1"),
            source: "train",
        }
    }

    #[tokio::test]
    async fn registered_models_take_consecutive_versions_and_start_inactive() {
        let (pool, _dir) = test_db::fresh().await;
        let a = register_model(&pool, &new_model(b"{}")).await.unwrap();
        let b = register_model(&pool, &new_model(b"{}")).await.unwrap();
        assert_eq!((a.version, b.version), (1, 2));
        assert!(!a.active && !b.active);
        assert_eq!(a.metrics["cv_mcrmse"], 0.5);
        assert_eq!(a.run_id.as_deref(), Some("run-1"));
        assert_eq!(count_models(&pool).await.unwrap(), 2);
        let listed = list_models(&pool, 1000, 0).await.unwrap();
        assert_eq!(listed.iter().map(|m| m.version).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(model_artifact(&pool, &a.id).await.unwrap().unwrap(), b"{}");
    }

    #[tokio::test]
    async fn activation_history_records_what_replaced_what() {
        let (pool, _dir) = test_db::fresh().await;
        let a = register_model(&pool, &new_model(b"a")).await.unwrap();
        let b = register_model(&pool, &new_model(b"b")).await.unwrap();
        assert!(active_model(&pool).await.unwrap().is_none());

        let first = activate_model(&pool, &a.id).await.unwrap().unwrap();
        assert_eq!((first.seq, first.previous_model_id.as_deref()), (1, None));
        let second = activate_model(&pool, &b.id).await.unwrap().unwrap();
        assert_eq!(second.previous_model_id.as_deref(), Some(a.id.as_str()));
        let (active, artifact) = active_model(&pool).await.unwrap().unwrap();
        assert_eq!(
            (active.id.as_str(), artifact.as_slice()),
            (b.id.as_str(), &b"b"[..])
        );
        assert!(get_model(&pool, &b.id).await.unwrap().unwrap().active);
        assert!(!get_model(&pool, &a.id).await.unwrap().unwrap().active);

        // Rollback is activating the previous model again.
        let third = activate_model(&pool, &a.id).await.unwrap().unwrap();
        assert_eq!(
            (third.seq, third.previous_model_id.as_deref()),
            (3, Some(b.id.as_str()))
        );
        assert_eq!(activation_history(&pool, 1000, 0).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn the_first_model_is_registered_and_activated_only_on_an_empty_registry() {
        let (pool, _dir) = test_db::fresh().await;
        let mut default = new_model(b"default");
        default.source = "default";
        let first = register_first_model(&pool, &default)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((first.version, first.active), (1, true));
        assert!(
            register_first_model(&pool, &default)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(count_models(&pool).await.unwrap(), 1);
        assert_eq!(activation_history(&pool, 1000, 0).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn activating_an_unknown_model_changes_nothing() {
        let (pool, _dir) = test_db::fresh().await;
        assert!(activate_model(&pool, "nope").await.unwrap().is_none());
        assert!(activation_history(&pool, 1000, 0).await.unwrap().is_empty());
        assert!(get_model(&pool, "nope").await.unwrap().is_none());
    }
}
