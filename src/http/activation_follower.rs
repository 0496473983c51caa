//! Following activations made by other replicas (or another process on the
//! same SQLite file). Each replica reads the id of the active model
//! (`store::models::active_model_id`, one indexed row) when PostgreSQL
//! notifies it of an activation (LISTEN/NOTIFY, at once) and every half
//! second anyway (SQLite has no notifications, and a notification sent while
//! the listening connection was down is lost). When the id differs from the
//! model grading here, it loads that model off the executor and swaps it in
//! through the same [`ModelHandle`](super::ModelHandle) hot swap the
//! activation route uses, after fitting every prompt's calibration for it.
//! Requests in flight finish on the model they started with and none waits,
//! so no request fails during the switch; every replica grades with a new
//! activation within about half a second (plus the refit of the prompts'
//! calibrations, which grades only examples that model has not scored yet).
//!
//! It takes the activation lock before swapping, so an activation made through
//! this replica's own API (which holds the lock while it loads, records and
//! swaps) is never applied twice or out of order.

use std::time::Duration;

use super::AppState;
use crate::store;

/// How often a replica checks which model is active.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Follows activations until `stop` resolves.
pub async fn follow_activations(state: AppState, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut listener = match store::models::activation_listener(&state.db).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(error = %err, "cannot LISTEN for activations; polling only");
            None
        }
    };
    // A model that failed to load is not retried every half second; a new
    // activation (a different id) is tried again.
    let mut failed: Option<String> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            heard = notification(&mut listener) => {
                if let Err(err) = heard {
                    tracing::warn!(error = %err, "lost the activation listener; polling only");
                    listener = None;
                }
            }
            () = &mut stop => return,
        }
        match store::models::active_model_id(&state.db).await {
            Ok(Some(id)) if !is_current(&state, &id) && failed.as_deref() != Some(&id) => {
                if let Err(message) = apply(&state, &id).await {
                    tracing::error!(model_id = %id, error = %message, "could not load a model activated elsewhere; grading keeps the current one");
                    failed = Some(id);
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not read the active model; will retry")
            }
        }
    }
}

/// The next activation notification, or never without a listener.
async fn notification(
    listener: &mut Option<store::models::ActivationListener>,
) -> Result<(), sqlx::Error> {
    match listener {
        Some(listener) => listener.next().await,
        None => std::future::pending().await,
    }
}

fn is_current(state: &AppState, id: &str) -> bool {
    state.model.current().is_some_and(|model| model.id == id)
}

/// Loads the model the database names as active and swaps it in, unless
/// this replica got there first.
async fn apply(state: &AppState, id: &str) -> Result<(), String> {
    let _serial = state.activation_lock.lock().await;
    // Re-read under the lock: an activation through this replica may have
    // finished meanwhile, or another one followed.
    let Some((record, artifact)) = store::models::active_model(&state.db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if is_current(state, &record.id) {
        return Ok(());
    }
    let previous = state.model.current().map(|m| m.version);
    let loaded = std::sync::Arc::new(
        super::models::load_off_executor(record, artifact)
            .await
            .map_err(|e| format!("{e:?}"))?,
    );
    // As on the activating replica: every prompt's calibration for the new
    // model is ready before it serves here.
    let _calibrating = state.calibration_lock.lock().await;
    super::calibrations::load_all(&state.db, &state.prompts, &loaded)
        .await
        .map_err(|e| format!("refitting the calibrations: {e:?}"))?;
    tracing::info!(model_id = %loaded.id, version = loaded.version, ?previous, wanted = %id, "following an activation made elsewhere");
    state.model.swap(loaded);
    Ok(())
}
