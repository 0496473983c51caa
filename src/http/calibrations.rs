//! Each prompt's calibration for the model grading now: the in-memory set
//! grading reads, and the refits that fill it (after examples change, at
//! start-up, and before an activated model serves).
//!
//! The set lives inside the [`ActiveModel`] it was fitted for, so a request
//! that holds a model always finds that model's calibrations: an activation
//! fits the new model's set completely, then swaps model and set together.
//! Grading never waits on a refit: it reads the set under a read lock held
//! for a map lookup, and refits do their CPU work on blocking threads.
//!
//! Refits are serialised by `AppState::calibration_lock` (examples written,
//! a model activated), so an older refit never overwrites a newer one. To
//! invalidate a prompt (another replica wrote its examples), call
//! [`refit_prompt`] for it: it rereads everything from the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::store::Db;

use super::active_model::ActiveModel;
use super::error::ApiError;
use super::prompts::PromptCache;
use crate::calibration::{Calibration, Estimate, Example, ValidPrior, leave_one_out};
use crate::grader::{ByTarget, Explain, Grade};
use crate::store::{self, calibrations::CalibrationRow, example_model_scores::ScoredExample};

/// A prompt's calibration for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptCalibration {
    /// The prompt.
    pub prompt_id: String,
    /// The model it was fitted for.
    pub model_id: String,
    /// How many examples the prompt has.
    pub examples: usize,
    /// The fitted parameters, per target in the model's order.
    pub calibration: Calibration,
    /// Leave-one-out over the examples.
    pub estimate: Option<Estimate>,
    /// When it was fitted (RFC 3339 UTC).
    pub fitted_at: String,
}

/// The calibrations of one model, by prompt id. Cloning shares the set.
#[derive(Debug, Clone, Default)]
pub struct CalibrationSet {
    /// Prompt id -> its calibration; a prompt without examples has no entry.
    entries: Arc<RwLock<HashMap<String, Arc<PromptCalibration>>>>,
}

impl CalibrationSet {
    /// The calibration of a prompt, if it has examples.
    pub fn get(&self, prompt_id: &str) -> Option<Arc<PromptCalibration>> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(prompt_id)
            .cloned()
    }

    fn insert(&self, calibration: Arc<PromptCalibration>) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(calibration.prompt_id.clone(), calibration);
    }

    /// Forgets a prompt's calibration: its grades are raw until a refit.
    pub fn remove(&self, prompt_id: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(prompt_id);
    }

    /// How many prompts are calibrated.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no prompt is calibrated.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a grade says about its calibration: `"calibration": {"examples": n}`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CalibrationNote {
    /// How many of the teacher's examples the calibration was fitted on.
    pub examples: usize,
}

/// Calibrates a grade in place when `prompt_id` names a registered prompt
/// with examples: the scores move, the percentiles follow them. The caller
/// passes `None` for an inline prompt (never calibrated) and when the request
/// asked for raw scores. Returns the note and the raw scores to show beside
/// the calibrated ones, or `None` when the grade was left as the model gave it.
pub fn calibrate_grade(
    model: &ActiveModel,
    prompt_id: Option<&str>,
    grade: &mut Grade,
) -> Option<(CalibrationNote, ByTarget<f64>)> {
    let fitted = model.calibrations.get(prompt_id?)?;
    let raw = grade.scores.clone();
    for (t, ((_, score), (_, percentile))) in grade
        .scores
        .0
        .iter_mut()
        .zip(grade.percentiles.0.iter_mut())
        .enumerate()
    {
        *score = fitted.calibration.targets[t].apply(*score);
        *percentile = model.grader.percentile_of(t, *score);
    }
    Some((
        CalibrationNote {
            examples: fitted.examples,
        },
        raw,
    ))
}

/// Refits one prompt's calibration for `model` from the database: grades the
/// examples the model has not scored yet (on a blocking thread) and keeps
/// their raw scores, fits, stores the fit, and puts it in the model's set (or
/// removes the prompt from it when it has no examples left). Call it with
/// `calibration_lock` held.
pub async fn refit_prompt(
    db: &Db,
    prompts: &PromptCache,
    model: &Arc<ActiveModel>,
    prompt_id: &str,
) -> Result<Option<Arc<PromptCalibration>>, ApiError> {
    let rows = store::example_model_scores::scores_for_prompt(db, prompt_id, &model.id).await?;
    if rows.is_empty() {
        model.calibrations.remove(prompt_id);
        return Ok(None);
    }
    let raw = raw_scores(db, prompts, model, prompt_id, &rows).await?;
    let targets = model.grader.target_names();
    let examples: Vec<Example> = rows
        .iter()
        .zip(raw)
        .map(|(row, raw)| Example {
            raw,
            teacher: teacher_scores(&row.teacher, targets),
        })
        .collect();
    let scales = model.grader.calibration_scales();
    let prior = ValidPrior::default();
    let fitted = PromptCalibration {
        prompt_id: prompt_id.to_owned(),
        model_id: model.id.clone(),
        examples: examples.len(),
        calibration: Calibration::fit(&prior, &scales, &examples),
        estimate: leave_one_out(&prior, &scales, &examples),
        fitted_at: store::now(),
    };
    store::calibrations::upsert_calibration(db, &to_row(&fitted)).await?;
    let fitted = Arc::new(fitted);
    model.calibrations.insert(fitted.clone());
    Ok(Some(fitted))
}

/// Fills `model`'s set for every prompt with examples: the stored fits for
/// this model where they exist, a refit everywhere else. At start-up, and
/// before an activated model serves. Returns how many prompts are calibrated.
pub async fn load_all(
    db: &Db,
    prompts: &PromptCache,
    model: &Arc<ActiveModel>,
) -> Result<usize, ApiError> {
    let mut stored: HashMap<String, CalibrationRow> =
        store::calibrations::calibrations_for_model(db, &model.id)
            .await?
            .into_iter()
            .map(|row| (row.prompt_id.clone(), row))
            .collect();
    let targets = model.grader.target_names().len();
    for prompt_id in store::examples::prompts_with_examples(db).await? {
        match stored
            .remove(&prompt_id)
            .and_then(|row| from_row(row, targets))
        {
            Some(fitted) => model.calibrations.insert(Arc::new(fitted)),
            None => {
                refit_prompt(db, prompts, model, &prompt_id).await?;
            }
        }
    }
    Ok(model.calibrations.len())
}

/// The teacher's score of each of the model's targets (`None` when the
/// example was posted for a model without that target).
fn teacher_scores(json: &str, targets: &[String]) -> Vec<Option<f64>> {
    // The column is written only from checked numbers; a hand-edited row
    // that does not parse counts as having no scores.
    let scores: HashMap<String, f64> = serde_json::from_str(json).unwrap_or_default();
    targets.iter().map(|t| scores.get(t).copied()).collect()
}

/// Each example's raw scores under `model`: the stored ones, and for the rest
/// the model's grades, computed on a blocking thread and then stored.
async fn raw_scores(
    db: &Db,
    prompts: &PromptCache,
    model: &Arc<ActiveModel>,
    prompt_id: &str,
    rows: &[ScoredExample],
) -> Result<Vec<Vec<f64>>, ApiError> {
    let width = model.grader.target_names().len();
    let mut raw: Vec<Option<Vec<f64>>> = rows
        .iter()
        .map(|row| {
            row.raw
                .as_deref()
                .and_then(|json| serde_json::from_str::<Vec<f64>>(json).ok())
                .filter(|scores| scores.len() == width)
        })
        .collect();
    let missing: Vec<usize> = (0..rows.len()).filter(|&i| raw[i].is_none()).collect();
    if missing.is_empty() {
        return Ok(raw.into_iter().flatten().collect());
    }
    let prompt = prompts
        .get_patiently(db, prompt_id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "prompt",
            id: prompt_id.to_owned(),
        })?
        .prepared
        .clone();
    let essays: Vec<String> = missing.iter().map(|&i| rows[i].essay.clone()).collect();
    let model_for_grading = model.clone();
    let graded: Vec<Vec<f64>> = tokio::task::spawn_blocking(move || {
        let pairs: Vec<(&crate::features::PreparedPrompt, &str)> = essays
            .iter()
            .map(|e| (prompt.as_ref(), e.as_str()))
            .collect();
        model_for_grading
            .grader
            .grade_batch_with(&pairs, Explain::No)
            .into_iter()
            .map(|g| g.scores.0.into_iter().map(|(_, s)| s).collect())
            .collect()
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("grading examples")))?;
    let to_store: Vec<(String, String)> = missing
        .iter()
        .zip(&graded)
        .map(|(&i, scores)| {
            (
                rows[i].id.clone(),
                serde_json::to_string(scores).expect("finite scores serialise"),
            )
        })
        .collect();
    store::example_model_scores::insert_scores(db, &model.id, &to_store).await?;
    for (&i, scores) in missing.iter().zip(graded) {
        raw[i] = Some(scores);
    }
    Ok(raw.into_iter().flatten().collect())
}

fn to_row(fitted: &PromptCalibration) -> CalibrationRow {
    CalibrationRow {
        prompt_id: fitted.prompt_id.clone(),
        model_id: fitted.model_id.clone(),
        examples: fitted.examples as i64,
        parameters: serde_json::to_string(&fitted.calibration).expect("parameters serialise"),
        estimate: fitted
            .estimate
            .map(|e| serde_json::to_string(&e).expect("an estimate serialises")),
        fitted_at: fitted.fitted_at.clone(),
    }
}

/// A stored fit, if it parses and has one calibration per target (else the
/// caller refits).
fn from_row(row: CalibrationRow, targets: usize) -> Option<PromptCalibration> {
    let calibration: Calibration = serde_json::from_str(&row.parameters).ok()?;
    if calibration.targets.len() != targets {
        return None;
    }
    let estimate = match &row.estimate {
        Some(json) => Some(serde_json::from_str(json).ok()?),
        None => None,
    };
    Some(PromptCalibration {
        prompt_id: row.prompt_id,
        model_id: row.model_id,
        examples: usize::try_from(row.examples).ok()?,
        calibration,
        estimate,
        fitted_at: row.fitted_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teacher_scores_follow_the_model_targets_and_miss_what_the_example_lacks() {
        let targets = ["content".to_owned(), "wording".to_owned()];
        assert_eq!(
            teacher_scores(r#"{"wording": -0.5, "content": 1.25}"#, &targets),
            [Some(1.25), Some(-0.5)]
        );
        assert_eq!(teacher_scores(r#"{"overall": 3}"#, &targets), [None, None]);
    }

    #[test]
    fn a_stored_fit_for_other_targets_is_not_reused() {
        let row = CalibrationRow {
            prompt_id: "p".into(),
            model_id: "m".into(),
            examples: 2,
            parameters: r#"{"targets": []}"#.into(),
            estimate: None,
            fitted_at: "t".into(),
        };
        assert!(from_row(row.clone(), 0).is_some());
        assert!(from_row(row, 2).is_none());
    }
}
