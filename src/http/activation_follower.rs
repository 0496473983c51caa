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
//! A model activated elsewhere that does not load here never stops this
//! replica: the current model keeps grading, and the trouble is logged and
//! shown on `/ready` until a loadable version is activated.
//!
//! It takes the activation lock before swapping, so an activation made through
//! this replica's own API (which holds the lock while it loads, records and
//! swaps) is never applied twice or out of order.
//!
//! On the same tick it follows examples written elsewhere: one query reads
//! each prompt's examples marker (`store::examples::examples_markers`: count
//! and newest write time), and only the prompts whose marker changed since the
//! last tick are refitted ([`refit_prompt`](super::calibrations::refit_prompt),
//! under `calibration_lock`). A refit replaces the prompt's calibration in the
//! grading model's set in one map write, so a grade sees the old fit or the new
//! one, never neither. A prompt whose examples were all deleted drops out of the
//! set and grades raw again. Examples written through this replica were
//! refitted by their route: a fit with the marker's count and a `fitted_at`
//! no earlier than the newest write is kept as it is (a same-count replacement
//! on a replica whose clock runs behind this one's could be missed).

use std::collections::HashMap;
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
    // activation (a different id) is tried again. One that failed at
    // start-up counts as tried.
    let mut failed: Option<String> = state.model.trouble().map(|t| t.active_id);
    // The examples as the calibrations loaded at start-up saw them; a prompt
    // is refitted when its marker moves away from this.
    let mut markers = match store::examples::examples_markers(&state.db).await {
        Ok(markers) => markers,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the examples markers; will refit every prompt on the first poll");
            HashMap::new()
        }
    };
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
                if let Err(failure) = apply(&state, &id).await {
                    tracing::error!(model_id = %id, error = %failure.reason, "could not load a model activated elsewhere; grading keeps the current one");
                    if let Some(trouble) = failure.trouble {
                        state.model.report_trouble(trouble);
                    }
                    failed = Some(id);
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not read the active model; will retry")
            }
        }
        follow_examples(&state, &mut markers).await;
    }
}

/// Refits the calibration of every prompt whose examples changed since
/// `markers` was read, and moves `markers` on for the prompts refitted. A
/// prompt whose refit fails keeps its old marker, so the next tick retries it.
async fn follow_examples(
    state: &AppState,
    markers: &mut HashMap<String, store::examples::ExamplesMarker>,
) {
    let now = match store::examples::examples_markers(&state.db).await {
        Ok(now) => now,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the examples markers; will retry");
            return;
        }
    };
    let changed = changed_prompts(markers, &now);
    if changed.is_empty() {
        return;
    }
    let _calibrating = state.calibration_lock.lock().await;
    let Some(model) = state.model.current() else {
        // Nothing grades here yet; the model's activation loads every fit.
        *markers = now;
        return;
    };
    for prompt_id in changed {
        if fit_is_current(&model, &prompt_id, now.get(&prompt_id)) {
            // Written through this replica, whose route refitted it already.
            match now.get(&prompt_id) {
                Some(marker) => markers.insert(prompt_id, marker.clone()),
                None => markers.remove(&prompt_id),
            };
            continue;
        }
        match super::calibrations::refit_prompt(&state.db, &state.prompts, &model, &prompt_id).await
        {
            Ok(fitted) => {
                tracing::info!(prompt_id = %prompt_id, examples = fitted.map_or(0, |f| f.examples), "refitted a calibration after examples written elsewhere");
                match now.get(&prompt_id) {
                    Some(marker) => markers.insert(prompt_id, marker.clone()),
                    None => markers.remove(&prompt_id),
                };
            }
            Err(err) => {
                tracing::warn!(prompt_id = %prompt_id, error = ?err, "could not refit a calibration after examples written elsewhere; will retry")
            }
        }
    }
}

/// Whether the model's fit of a prompt already reflects its examples as
/// `marker` shows them: the same count, fitted no earlier than the newest
/// write (or no fit and no examples). True after this replica's own example
/// routes refitted, so those are not refitted twice.
fn fit_is_current(
    model: &super::active_model::ActiveModel,
    prompt_id: &str,
    marker: Option<&store::examples::ExamplesMarker>,
) -> bool {
    match (model.calibrations.get(prompt_id), marker) {
        (None, None) => true,
        (Some(fit), Some(marker)) => {
            i64::try_from(fit.examples).is_ok_and(|n| n == marker.examples)
                && fit.fitted_at >= marker.newest
        }
        _ => false,
    }
}

/// The prompts whose marker differs between `before` and `now`, including
/// those that gained their first example or lost their last.
fn changed_prompts(
    before: &HashMap<String, store::examples::ExamplesMarker>,
    now: &HashMap<String, store::examples::ExamplesMarker>,
) -> Vec<String> {
    let mut changed: Vec<String> = now
        .iter()
        .filter(|(id, marker)| before.get(*id) != Some(*marker))
        .map(|(id, _)| id.clone())
        .chain(before.keys().filter(|id| !now.contains_key(*id)).cloned())
        .collect();
    changed.sort();
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::examples::ExamplesMarker;

    fn marker(examples: i64, newest: &str) -> ExamplesMarker {
        ExamplesMarker {
            examples,
            newest: newest.to_owned(),
        }
    }

    #[test]
    fn prompts_whose_examples_were_added_replaced_or_all_deleted_count_as_changed() {
        let before = HashMap::from([
            ("same".to_owned(), marker(3, "2026-01-01T00:00:00.000Z")),
            ("replaced".to_owned(), marker(3, "2026-01-01T00:00:00.000Z")),
            ("emptied".to_owned(), marker(2, "2026-01-01T00:00:00.000Z")),
            ("shrunk".to_owned(), marker(2, "2026-01-01T00:00:00.000Z")),
        ]);
        let now = HashMap::from([
            ("same".to_owned(), marker(3, "2026-01-01T00:00:00.000Z")),
            ("replaced".to_owned(), marker(3, "2026-01-01T00:00:01.000Z")),
            ("shrunk".to_owned(), marker(1, "2026-01-01T00:00:00.000Z")),
            ("new".to_owned(), marker(1, "2026-01-01T00:00:02.000Z")),
        ]);

        assert_eq!(
            changed_prompts(&before, &now),
            ["emptied", "new", "replaced", "shrunk"]
        );
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

/// Why following an activation failed: the reason, and the trouble to
/// report when it was the model itself that did not load (not a passing
/// database error).
struct FollowFailure {
    reason: String,
    trouble: Option<super::active_model::ModelTrouble>,
}

impl From<String> for FollowFailure {
    fn from(reason: String) -> Self {
        Self {
            reason,
            trouble: None,
        }
    }
}

/// Loads the model the database names as active and swaps it in, unless
/// this replica got there first. A model that does not load leaves the
/// current one grading.
async fn apply(state: &AppState, id: &str) -> Result<(), FollowFailure> {
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
    let (active_id, active_version) = (record.id.clone(), record.version);
    let loaded = match super::models::load_off_executor(record, artifact).await {
        Ok(loaded) => std::sync::Arc::new(loaded),
        Err(err) => {
            let trouble = super::active_model::ModelTrouble {
                active_id,
                active_version,
                reason: err.to_string(),
            };
            return Err(FollowFailure {
                reason: trouble.describe(previous),
                trouble: Some(trouble),
            });
        }
    };
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
