//! The calibration study behind `essay-grader cv --calibration-examples`:
//! how much a teacher's graded examples improve the grades of a prompt the
//! model has never seen, measured leave-one-prompt-out.
//!
//! For each held-out prompt the model is trained on the other prompts and
//! scores every essay of the held-out one. Then, for each number of examples
//! `k` and each of `draws` seeded draws, `k` essays of the prompt play the
//! teacher's examples: every candidate method is fitted on them and scores the
//! prompt's other essays, next to the uncalibrated model on the same essays.
//! The pooled figure of a draw pools the three prompts' other essays.
//!
//! Candidates: the production method ([`Calibration`] with a [`Prior`]), the
//! unshrunk mean offset (what a naive correction does), and a richer one, the
//! production method plus a ridge on a few standardised features of the essay
//! (a "small residual model on the examples"), which lives here because it
//! did not earn a place in production (docs/experiments.md).

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{SeedableRng, seq::index::sample};
use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, Example, Prior, TargetScale, ValidPrior};
use crate::features::feature_index;
use crate::nn::Control;

use crate::grader::train;
use crate::training::config::ValidTrainConfig;
use crate::training::dataset::{Dataset, ScoreGrid};
use crate::training::error::TrainingError;
use crate::training::featurize::FeaturedDataset;

/// The features the residual ridge may lean on: length, coverage of the
/// source, copying, spelling, topical similarity and vocabulary.
pub const RIDGE_FEATURES: [&str; 6] = [
    "e_log_word_count",
    "r_content_recall",
    "r_copied_share_8",
    "e_misspelt_share",
    "r_tfidf_cosine_prompt",
    "e_type_token_ratio",
];

/// A calibration method the study compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Candidate {
    /// `clamp`: no calibration, only the raw scores clamped to the target's
    /// range (what a grid alone does, to read the others against).
    ClampOnly,
    /// `mean`: add the examples' mean residual, unshrunk.
    MeanOffset,
    /// `shrunk[:NAME=VALUE...]`: the production method; each named prior
    /// field (see [`Prior::FIELDS`]) replaces the default's.
    Shrunk(ValidPrior),
    /// `ridge:feature_sd=V[:NAME=VALUE...]`: the production method plus a
    /// ridge on [`RIDGE_FEATURES`], each weight's prior SD `feature_sd`.
    ResidualRidge {
        /// Offset, slope and noise priors.
        prior: ValidPrior,
        /// Prior SD of each feature's weight (training SDs of the target per
        /// training SD of the feature).
        feature_sd: f64,
    },
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the fields that differ from the default, so names stay short.
        let changes = |p: &ValidPrior| {
            let mut given = *p.get();
            let mut default = Prior::default();
            Prior::FIELDS
                .iter()
                .filter_map(|name| {
                    let v = *given.field_mut(name).expect("a known field");
                    (v != *default.field_mut(name).expect("a known field"))
                        .then(|| format!(":{name}={v}"))
                })
                .collect::<String>()
        };
        match self {
            Candidate::ClampOnly => write!(f, "clamp"),
            Candidate::MeanOffset => write!(f, "mean"),
            Candidate::Shrunk(p) => write!(f, "shrunk{}", changes(p)),
            Candidate::ResidualRidge { prior, feature_sd } => {
                write!(f, "ridge:feature_sd={feature_sd}{}", changes(prior))
            }
        }
    }
}

impl FromStr for Candidate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(':').map(str::trim);
        let name = parts.next().unwrap_or("");
        let mut prior = Prior::default();
        let mut feature_sd = None;
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} in calibration method {s:?} is not NAME=VALUE"))?;
            let value: f64 = value
                .parse()
                .map_err(|_| format!("{value:?} in calibration method {s:?} is not a number"))?;
            match (name, key) {
                ("ridge", "feature_sd") => feature_sd = Some(value),
                ("shrunk" | "ridge", _) => {
                    *prior.field_mut(key).ok_or_else(|| {
                        format!(
                            "{key:?} in calibration method {s:?} is not one of {}{}",
                            Prior::FIELDS.join(", "),
                            if name == "ridge" { ", feature_sd" } else { "" }
                        )
                    })? = value;
                }
                _ => return Err(format!("calibration method {s:?} takes no parameters")),
            }
        }
        let prior = || {
            prior
                .validate()
                .map_err(|e| format!("calibration method {s:?}: {e}"))
        };
        match (name, feature_sd) {
            ("clamp", _) => Ok(Candidate::ClampOnly),
            ("mean", _) => Ok(Candidate::MeanOffset),
            ("shrunk", _) => Ok(Candidate::Shrunk(prior()?)),
            ("ridge", Some(sd)) if sd.is_finite() && sd > 0.0 => Ok(Candidate::ResidualRidge {
                prior: prior()?,
                feature_sd: sd,
            }),
            ("ridge", _) => Err(format!(
                "calibration method {s:?} needs feature_sd=V, a positive number"
            )),
            _ => Err(format!(
                "calibration method {s:?} is not one of clamp, mean, shrunk[:NAME=VALUE...], \
                 ridge:feature_sd=V[:NAME=VALUE...]"
            )),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct StudySpec {
    /// Numbers of examples, e.g. 5, 10, 20, 50.
    pub ks: Vec<usize>,
    /// Seeded draws of examples per prompt and `k`.
    pub draws: usize,
    /// Seed of the draws (the model's own seed is the config's).
    pub seed: u64,
    /// The methods compared.
    pub candidates: Vec<Candidate>,
    /// Added to every score of the held-out prompt (a simulation of a prompt
    /// the model is off on by this much; 0 studies the data as it is).
    pub planted_shift: f64,
}

/// Mean, standard deviation (over draws) and the 10th and 90th percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean over draws.
    pub mean: f64,
    /// Standard deviation over draws.
    pub sd: f64,
    /// 10th percentile over draws.
    pub p10: f64,
    /// 90th percentile over draws.
    pub p90: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Spread {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        Spread {
            mean,
            sd: var.sqrt(),
            p10: at(0.1),
            p90: at(0.9),
        }
    }
}

/// One candidate at one `k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    /// The candidate, as given on the command line.
    pub method: String,
    /// MCRMSE of the calibrated scores of the other essays.
    pub mcrmse: Spread,
    /// Uncalibrated minus calibrated MCRMSE, draw by draw (positive is better).
    pub gain: Spread,
    /// Share of draws where calibrating made the MCRMSE worse.
    pub worse_share: f64,
    /// The first candidate's MCRMSE minus this one's, draw by draw (positive:
    /// this one is better on the same examples; 0 for the first itself).
    pub advantage_over_first: Spread,
    /// Calibrated scores outside the target's range, over every draw (the
    /// clamp keeps this at 0; it is counted, not assumed).
    pub outside_range: usize,
}

/// One `k` of one fold (or pooled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRow {
    /// Examples per draw.
    pub k: usize,
    /// MCRMSE of the uncalibrated scores of the other essays.
    pub uncalibrated: Spread,
    /// Uncalibrated scores outside the target's range, over every draw (what
    /// the clamp of the calibrated ones has to catch).
    pub uncalibrated_outside_range: usize,
    /// Each candidate, in the order given.
    pub candidates: Vec<CandidateResult>,
}

/// One held-out prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyFold {
    /// The held-out prompt's id.
    pub held_out: String,
    /// Its essays.
    pub n: usize,
    /// MCRMSE of the uncalibrated model on all its essays.
    pub uncalibrated_mcrmse: f64,
    /// Per target, the mean of teacher minus model over all its essays: the
    /// shift calibration is after.
    pub mean_residual: Vec<f64>,
    /// MCRMSE with an offset and a slope fitted by least squares to all its
    /// essays and scored on them: the most an offset-and-slope calibration
    /// could do (in-sample, so a ceiling).
    pub oracle_mcrmse: f64,
    /// One row per `k`.
    pub rows: Vec<StudyRow>,
}

/// The study's result (the JSON of `cv --calibration-examples ... --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationStudy {
    /// Draws per prompt and `k`.
    pub draws: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// The score grid the targets were rounded onto, if any.
    pub score_grid: Option<ScoreGrid>,
    /// The shift planted in every held-out score (0 for the data as it is).
    pub planted_shift: f64,
    /// Target values the grid changed (0 without a grid).
    pub rounded_values: usize,
    /// Target names.
    pub targets: Vec<String>,
    /// Every held-out prompt.
    pub folds: Vec<StudyFold>,
    /// Each draw pooled over the prompts' other essays.
    pub pooled: Vec<StudyRow>,
    /// The folds' oracles pooled: the ceiling of offset-and-slope calibration.
    pub pooled_oracle_mcrmse: f64,
    /// Wall time.
    pub seconds: f64,
}

/// What one fold's model said about its held-out prompt.
struct FoldScores {
    held_out: String,
    /// Raw scores, rows × targets.
    raw: Array2<f64>,
    /// Teacher (true) scores, rows × targets.
    truth: Array2<f64>,
    /// Ridge inputs standardised by the training rows, rows × features.
    features: Array2<f64>,
    scales: Vec<TargetScale>,
}

/// Squared-error sums of one (fold, k, draw, method), per target.
type Sse = Vec<f64>;

/// Why the study cannot run.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// Leave-one-prompt-out needs two prompts.
    #[error(
        "the study holds out one prompt at a time and needs at least 2 prompts; the dataset has {0}"
    )]
    TooFewPrompts(usize),
    /// A prompt cannot give `k` examples and still have an essay to score.
    #[error(
        "prompt {prompt} has {essays} essays: too few for {k} examples and at least one essay to score"
    )]
    TooFewEssays {
        /// The prompt.
        prompt: String,
        /// Its essays.
        essays: usize,
        /// The number of examples asked for.
        k: usize,
    },
    /// No `k` or no draw was asked for, or a `k` of 0.
    #[error("{0}")]
    Spec(String),
    /// Training a fold's model failed.
    #[error(transparent)]
    Training(#[from] TrainingError),
}

/// Runs the study. The dataset's targets are first rounded onto its score
/// grid when it declares one (the CommonLit scores are continuous; with
/// `--score-grid` they become a coarser rubric's).
pub fn calibration_study(
    dataset: &Dataset,
    config: &ValidTrainConfig,
    spec: &StudySpec,
    on_fold: &mut dyn FnMut(usize, usize),
) -> Result<CalibrationStudy, StudyError> {
    let start = Instant::now();
    if spec.ks.is_empty() || spec.ks.contains(&0) || spec.draws == 0 || spec.candidates.is_empty() {
        return Err(StudyError::Spec(
            "the study needs numbers of examples (each at least 1), at least one draw and at least one method".into(),
        ));
    }
    let mut dataset = dataset.clone();
    let rounded_values = round_onto_grid(&mut dataset);
    let prompts = dataset.prompt_ids();
    if prompts.len() < 2 {
        return Err(StudyError::TooFewPrompts(prompts.len()));
    }
    for prompt in &prompts {
        let essays = dataset
            .essays
            .iter()
            .filter(|e| &e.prompt_id == prompt)
            .count();
        if let Some(&k) = spec.ks.iter().find(|&&k| k >= essays) {
            return Err(StudyError::TooFewEssays {
                prompt: prompt.clone(),
                essays,
                k,
            });
        }
    }
    let featured = FeaturedDataset::new(&dataset, config.threads());
    let ridge_idx: Vec<usize> = RIDGE_FEATURES
        .iter()
        .map(|n| feature_index(n).expect("the ridge features are in the catalogue"))
        .collect();
    let mut scores = Vec::with_capacity(prompts.len());
    for (f, held_out) in prompts.iter().enumerate() {
        on_fold(f, prompts.len());
        scores.push(score_fold(&featured, held_out, config, &ridge_idx)?);
    }
    on_fold(prompts.len(), prompts.len());
    if spec.planted_shift != 0.0 {
        for fold in &mut scores {
            fold.truth.mapv_inplace(|v| {
                let shifted = v + spec.planted_shift;
                dataset.score_grid.map_or(shifted, |g| g.round(shifted))
            });
        }
    }

    let t = dataset.target_names.len();
    let m = spec.candidates.len() + 1; // slot 0 is the uncalibrated model
    // sse[fold][k][draw][method] = per-target squared-error sums; counts[fold][k].
    let mut sse: Vec<Vec<Vec<Vec<Sse>>>> = Vec::with_capacity(scores.len());
    let mut outside = vec![vec![vec![0usize; m]; spec.ks.len()]; scores.len()];
    for (f, fold) in scores.iter().enumerate() {
        let mut by_k = Vec::with_capacity(spec.ks.len());
        for (ki, &k) in spec.ks.iter().enumerate() {
            let mut by_draw = Vec::with_capacity(spec.draws);
            for d in 0..spec.draws {
                let mut rng = StdRng::seed_from_u64(draw_seed(spec.seed, f, k, d));
                let chosen = sample(&mut rng, fold.raw.nrows(), k).into_vec();
                let (row_sse, row_out) = score_draw(fold, &chosen, &spec.candidates);
                for (o, n) in outside[f][ki].iter_mut().zip(row_out) {
                    *o += n;
                }
                by_draw.push(row_sse);
            }
            by_k.push(by_draw);
        }
        sse.push(by_k);
    }

    let mcrmse = |sums: &[f64], n: f64| sums.iter().map(|s| (s / n).sqrt()).sum::<f64>() / t as f64;
    let row = |k: usize, per_draw: Vec<Vec<f64>>, outside: Vec<usize>| {
        let column = |j: usize| per_draw.iter().map(|d| d[j]).collect::<Vec<f64>>();
        let raw = column(0);
        StudyRow {
            k,
            uncalibrated: Spread::of(&raw),
            uncalibrated_outside_range: outside[0],
            candidates: spec
                .candidates
                .iter()
                .enumerate()
                .map(|(c, cand)| {
                    let cal = column(c + 1);
                    let gain: Vec<f64> = raw.iter().zip(&cal).map(|(r, c)| r - c).collect();
                    let first = column(1);
                    let advantage: Vec<f64> = first.iter().zip(&cal).map(|(f, c)| f - c).collect();
                    CandidateResult {
                        method: cand.to_string(),
                        mcrmse: Spread::of(&cal),
                        worse_share: gain.iter().filter(|g| **g < 0.0).count() as f64
                            / gain.len() as f64,
                        gain: Spread::of(&gain),
                        advantage_over_first: Spread::of(&advantage),
                        outside_range: outside[c + 1],
                    }
                })
                .collect(),
        }
    };
    let folds = scores
        .iter()
        .enumerate()
        .map(|(f, fold)| {
            let n = fold.raw.nrows();
            let all_sse: Vec<f64> = (0..t)
                .map(|j| {
                    (0..n)
                        .map(|i| (fold.raw[[i, j]] - fold.truth[[i, j]]).powi(2))
                        .sum()
                })
                .collect();
            let oracle_sse = oracle_sse(fold);
            StudyFold {
                held_out: fold.held_out.clone(),
                n,
                uncalibrated_mcrmse: mcrmse(&all_sse, n as f64),
                oracle_mcrmse: mcrmse(&oracle_sse, n as f64),
                mean_residual: (0..t)
                    .map(|j| {
                        (0..n)
                            .map(|i| fold.truth[[i, j]] - fold.raw[[i, j]])
                            .sum::<f64>()
                            / n as f64
                    })
                    .collect(),
                rows: spec
                    .ks
                    .iter()
                    .enumerate()
                    .map(|(ki, &k)| {
                        let scored = (n - k) as f64;
                        let per_draw = sse[f][ki]
                            .iter()
                            .map(|draw| draw.iter().map(|s| mcrmse(s, scored)).collect())
                            .collect();
                        row(k, per_draw, outside[f][ki].clone())
                    })
                    .collect(),
            }
        })
        .collect();
    let pooled = spec
        .ks
        .iter()
        .enumerate()
        .map(|(ki, &k)| {
            let scored: f64 = scores.iter().map(|s| (s.raw.nrows() - k) as f64).sum();
            let per_draw = (0..spec.draws)
                .map(|d| {
                    (0..m)
                        .map(|j| {
                            let sums: Vec<f64> = (0..t)
                                .map(|tt| sse.iter().map(|fold| fold[ki][d][j][tt]).sum())
                                .collect();
                            mcrmse(&sums, scored)
                        })
                        .collect()
                })
                .collect();
            let out = (0..m)
                .map(|j| outside.iter().map(|o| o[ki][j]).sum())
                .collect();
            row(k, per_draw, out)
        })
        .collect();
    let oracle: Vec<Sse> = scores.iter().map(oracle_sse).collect();
    let pooled_oracle_mcrmse = mcrmse(
        &(0..t)
            .map(|j| oracle.iter().map(|o| o[j]).sum())
            .collect::<Vec<f64>>(),
        scores.iter().map(|s| s.raw.nrows() as f64).sum(),
    );
    Ok(CalibrationStudy {
        pooled_oracle_mcrmse,
        draws: spec.draws,
        seed: spec.seed,
        score_grid: dataset.score_grid,
        planted_shift: spec.planted_shift,
        rounded_values,
        targets: dataset.target_names.clone(),
        folds,
        pooled,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Per target, the squared errors of the least-squares line of the teacher's
/// scores on the raw ones, fitted to every essay of the prompt.
fn oracle_sse(fold: &FoldScores) -> Sse {
    let n = fold.raw.nrows() as f64;
    (0..fold.scales.len())
        .map(|j| {
            let x = fold.raw.column(j);
            let y = fold.truth.column(j);
            let (mx, my) = (x.sum() / n, y.sum() / n);
            let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
            let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
            let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            x.iter()
                .zip(y)
                .map(|(a, b)| (my + slope * (a - mx) - b).powi(2))
                .sum()
        })
        .collect()
}

/// Rounds every target onto the dataset's grid, if it has one; returns how
/// many values changed.
fn round_onto_grid(dataset: &mut Dataset) -> usize {
    let Some(grid) = dataset.score_grid else {
        return 0;
    };
    let mut changed = 0;
    for essay in &mut dataset.essays {
        for v in &mut essay.targets {
            let r = grid.round(*v);
            changed += usize::from(r != *v);
            *v = r;
        }
    }
    changed
}

/// A seed per (fold, k, draw), so a draw does not depend on which other
/// `k`s or how many draws were asked for.
fn draw_seed(seed: u64, fold: usize, k: usize, draw: usize) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for v in [fold as u64, k as u64, draw as u64] {
        h = (h ^ v).wrapping_mul(0x0100_0000_01B3).rotate_left(29);
    }
    h
}

/// Trains on every prompt but `held_out` and scores `held_out`'s essays.
fn score_fold(
    featured: &FeaturedDataset,
    held_out: &str,
    config: &ValidTrainConfig,
    ridge_idx: &[usize],
) -> Result<FoldScores, TrainingError> {
    let ds = featured.dataset;
    let (test_rows, train_rows): (Vec<usize>, Vec<usize>) =
        (0..ds.essays.len()).partition(|&i| ds.essays[i].prompt_id == held_out);
    let subset = |rows: &[usize]| {
        let essays: Vec<_> = rows.iter().map(|&i| ds.essays[i].clone()).collect();
        let mut prompts = ds.prompts.clone();
        prompts.retain(|id, _| essays.iter().any(|e| &e.prompt_id == id));
        Dataset {
            target_names: ds.target_names.clone(),
            score_grid: ds.score_grid,
            prompts,
            essays,
        }
    };
    let model = train(&subset(&train_rows), config, &mut |_| Control::Continue)?.model;
    let raw = model.predict_dataset(&subset(&test_rows), config.threads());
    // The ridge's inputs, standardised by the training rows (what a
    // production ridge would know), and clipped at ±5 SD like the baselines.
    let train_x = featured.select(&train_rows, ridge_idx).mapv(f64::from);
    let mut features = featured.select(&test_rows, ridge_idx).mapv(f64::from);
    for j in 0..ridge_idx.len() {
        let col = train_x.column(j);
        let mean = col.mean().unwrap_or(0.0);
        let sd = col.std(0.0);
        let sd = if sd > 0.0 { sd } else { 1.0 };
        features
            .column_mut(j)
            .mapv_inplace(|v| ((v - mean) / sd).clamp(-5.0, 5.0));
    }
    Ok(FoldScores {
        held_out: held_out.to_owned(),
        raw,
        truth: featured.targets(&test_rows),
        features,
        scales: model.calibration_scales(),
    })
}

/// Fits each candidate on the chosen examples and scores the other essays:
/// per method (0 = uncalibrated), the per-target squared-error sums; and per
/// method, the calibrated scores outside the range.
fn score_draw(
    fold: &FoldScores,
    chosen: &[usize],
    candidates: &[Candidate],
) -> (Vec<Sse>, Vec<usize>) {
    let n = fold.raw.nrows();
    let t = fold.scales.len();
    let mut is_example = vec![false; n];
    for &i in chosen {
        is_example[i] = true;
    }
    let examples: Vec<Example> = chosen
        .iter()
        .map(|&i| Example {
            raw: fold.raw.row(i).to_vec(),
            teacher: fold.truth.row(i).iter().map(|v| Some(*v)).collect(),
        })
        .collect();
    let mut predictors: Vec<Box<dyn Fn(usize) -> Vec<f64> + '_>> =
        vec![Box::new(|i| fold.raw.row(i).to_vec())];
    for cand in candidates {
        predictors.push(match *cand {
            Candidate::ClampOnly => Box::new(|i| {
                (0..t)
                    .map(|j| {
                        let s = &fold.scales[j];
                        fold.raw[[i, j]].clamp(s.low, s.high)
                    })
                    .collect()
            }),
            Candidate::MeanOffset => {
                let offsets: Vec<f64> = (0..t)
                    .map(|j| {
                        examples
                            .iter()
                            .map(|e| e.teacher[j].unwrap_or(e.raw[j]) - e.raw[j])
                            .sum::<f64>()
                            / examples.len() as f64
                    })
                    .collect();
                Box::new(move |i| {
                    (0..t)
                        .map(|j| {
                            let s = &fold.scales[j];
                            (fold.raw[[i, j]] + offsets[j]).clamp(s.low, s.high)
                        })
                        .collect()
                })
            }
            Candidate::Shrunk(prior) => {
                let fit = Calibration::fit(&prior, &fold.scales, &examples);
                Box::new(move |i| fit.apply(&fold.raw.row(i).to_vec()))
            }
            Candidate::ResidualRidge { prior, feature_sd } => {
                let ridge = ResidualRidge::fit(fold, chosen, &prior, feature_sd);
                Box::new(move |i| ridge.apply(fold, i))
            }
        });
    }
    let mut sse = vec![vec![0.0; t]; predictors.len()];
    let mut outside = vec![0usize; predictors.len()];
    for i in (0..n).filter(|&i| !is_example[i]) {
        for (p, predict) in predictors.iter().enumerate() {
            let scores = predict(i);
            for j in 0..t {
                sse[p][j] += (scores[j] - fold.truth[[i, j]]).powi(2);
                let s = &fold.scales[j];
                outside[p] += usize::from(scores[j] < s.low || scores[j] > s.high);
            }
        }
    }
    (sse, outside)
}

/// The richer candidate: per target, the standardised residual regressed on
/// `[1, raw score, features…]` with Gaussian priors (the production offset
/// and slope priors, and `feature_sd` on each feature's weight).
struct ResidualRidge {
    /// Per target, the weights of `[1, x, z…]` in standardised residual units.
    weights: Vec<Vec<f64>>,
}

impl ResidualRidge {
    fn fit(fold: &FoldScores, chosen: &[usize], prior: &ValidPrior, feature_sd: f64) -> Self {
        let p = prior.get();
        let q = fold.features.ncols();
        let dim = q + 2;
        let weights = fold
            .scales
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let rows: Vec<(Vec<f64>, f64)> = chosen
                    .iter()
                    .map(|&i| {
                        let raw = fold.raw[[i, j]];
                        (
                            design_row(fold, i, (raw - s.mean) / s.sd),
                            (fold.truth[[i, j]] - raw) / s.sd,
                        )
                    })
                    .collect();
                let n = rows.len() as f64;
                let mean_r = rows.iter().map(|(_, r)| r).sum::<f64>() / n;
                let spread: f64 = rows.iter().map(|(_, r)| (r - mean_r).powi(2)).sum();
                let noise_var = (p.noise_weight * p.noise_sd * p.noise_sd + spread)
                    / (p.noise_weight + n - 1.0);
                let mut a = vec![vec![0.0; dim]; dim];
                let mut b = vec![0.0; dim];
                for (x, r) in &rows {
                    for u in 0..dim {
                        b[u] += x[u] * r;
                        for v in 0..dim {
                            a[u][v] += x[u] * x[v];
                        }
                    }
                }
                // The same two-component prior on the offset as production,
                // each component's posterior solved in full, mixed by evidence.
                let slope_var = if p.slope_sd > 0.0 {
                    p.slope_sd * p.slope_sd
                } else {
                    1e-12
                };
                let component = |offset_sd: f64| {
                    let mut prior_var = vec![offset_sd * offset_sd, slope_var];
                    prior_var.extend(std::iter::repeat_n(feature_sd * feature_sd, q));
                    let mut precision = a.clone();
                    for (u, var) in prior_var.iter().enumerate() {
                        precision[u][u] += noise_var / var;
                    }
                    let (w, log_det) = solve_spd(precision, b.clone());
                    let log_prior_det: f64 = prior_var.iter().map(|v| v.ln()).sum();
                    let fit: f64 = b.iter().zip(&w).map(|(x, y)| x * y).sum();
                    let evidence = -0.5 * (log_prior_det + log_det - dim as f64 * noise_var.ln())
                        + fit / (2.0 * noise_var);
                    (w, evidence)
                };
                let (near, near_evidence) = component(p.offset_sd);
                let (far, far_evidence) = component(p.shifted_offset_sd);
                let shift = match p.shift_probability {
                    q if q <= 0.0 => 0.0,
                    q if q >= 1.0 => 1.0,
                    q => {
                        let log_odds = (q / (1.0 - q)).ln() + far_evidence - near_evidence;
                        1.0 / (1.0 + (-log_odds).exp())
                    }
                };
                near.iter()
                    .zip(&far)
                    .map(|(n, f)| (1.0 - shift) * n + shift * f)
                    .collect()
            })
            .collect();
        ResidualRidge { weights }
    }

    fn apply(&self, fold: &FoldScores, i: usize) -> Vec<f64> {
        fold.scales
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let raw = fold.raw[[i, j]];
                let x = design_row(fold, i, (raw - s.mean) / s.sd);
                let r: f64 = x.iter().zip(&self.weights[j]).map(|(a, w)| a * w).sum();
                (raw + r * s.sd).clamp(s.low, s.high)
            })
            .collect()
    }
}

fn design_row(fold: &FoldScores, i: usize, x: f64) -> Vec<f64> {
    let mut row = vec![1.0, x];
    row.extend(fold.features.row(i).iter());
    row
}

/// Solves `a·w = b` for a small symmetric positive-definite `a` by
/// Cholesky; also returns `log det a`.
fn solve_spd(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> (Vec<f64>, f64) {
    let n = b.len();
    let mut log_det = 0.0;
    for j in 0..n {
        let d = (a[j][j] - (0..j).map(|k| a[j][k] * a[j][k]).sum::<f64>()).sqrt();
        a[j][j] = d;
        log_det += 2.0 * d.ln();
        for i in j + 1..n {
            a[i][j] = (a[i][j] - (0..j).map(|k| a[i][k] * a[j][k]).sum::<f64>()) / d;
        }
    }
    for i in 0..n {
        b[i] = (b[i] - (0..i).map(|k| a[i][k] * b[k]).sum::<f64>()) / a[i][i];
    }
    for i in (0..n).rev() {
        b[i] = (b[i] - (i + 1..n).map(|k| a[k][i] * b[k]).sum::<f64>()) / a[i][i];
    }
    (b, log_det)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::config::TrainConfig;
    use crate::training::test_data::tiny_dataset;
    use serde_json::json;

    fn quick_config() -> ValidTrainConfig {
        TrainConfig::from_json_value(json!({
            "network": {"layers": [{"units": 8, "activation": "relu"}]},
            "epochs": 10, "ensemble": 1, "early_stopping": null, "batch_size": 16
        }))
        .unwrap()
    }

    #[test]
    fn candidates_parse_from_their_command_line_names_and_print_back() {
        for text in [
            "clamp",
            "mean",
            "shrunk",
            "shrunk:offset_sd=0.2:shift_probability=0",
            "ridge:feature_sd=0.05:slope_sd=0.1",
        ] {
            let c: Candidate = text.parse().unwrap();
            assert_eq!(c.to_string(), text);
        }
        let Candidate::Shrunk(p) = "shrunk:offset_sd=0.3".parse().unwrap() else {
            panic!("not shrunk")
        };
        assert_eq!(p.get().offset_sd, 0.3);
        assert_eq!(p.get().noise_sd, Prior::default().noise_sd);
        for (bad, says) in [
            ("shrunk:offset_sd=0", "offset_sd must be positive"),
            ("shrunk:colour=1", "not one of offset_sd"),
            ("shrunk:0.3", "not NAME=VALUE"),
            ("ridge:slope_sd=0.1", "needs feature_sd"),
            ("mean:offset_sd=1", "takes no parameters"),
            ("median", "is not one of clamp, mean"),
        ] {
            let err = bad.parse::<Candidate>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn solving_a_small_system_gives_its_solution() {
        let a = vec![
            vec![4.0, 1.0, 0.5],
            vec![1.0, 3.0, 0.2],
            vec![0.5, 0.2, 2.0],
        ];
        let w = [0.3, -1.2, 2.0];
        let b: Vec<f64> = a
            .iter()
            .map(|row| row.iter().zip(&w).map(|(x, y)| x * y).sum())
            .collect();
        let (got, log_det) = solve_spd(a, b);
        for (g, e) in got.iter().zip(w) {
            assert!((g - e).abs() < 1e-12, "{got:?}");
        }
        // det = 4·(3·2 − 0.2·0.2) − 1·(1·2 − 0.2·0.5) + 0.5·(1·0.2 − 3·0.5) = 21.29
        assert!((log_det - 21.29f64.ln()).abs() < 1e-12, "{log_det}");
    }

    #[test]
    fn the_study_reports_every_prompt_and_k_and_finds_a_planted_shift() {
        // Shift one prompt's scores by a full SD: a model trained on the
        // others cannot see it; examples can.
        let mut ds = tiny_dataset(30);
        for e in &mut ds.essays {
            if e.prompt_id == "tides" {
                for v in &mut e.targets {
                    *v += 1.0;
                }
            }
        }
        let spec = StudySpec {
            ks: vec![3, 20],
            draws: 8,
            seed: 7,
            candidates: vec![
                Candidate::MeanOffset,
                Candidate::Shrunk(ValidPrior::default()),
                "ridge:feature_sd=0.05".parse().unwrap(),
            ],
            planted_shift: 0.0,
        };
        let mut folds_seen = Vec::new();
        let study = calibration_study(&ds, &quick_config(), &spec, &mut |f, n| {
            folds_seen.push((f, n))
        })
        .unwrap();
        assert_eq!(folds_seen.last(), Some(&(3, 3)));
        let held: Vec<_> = study.folds.iter().map(|f| f.held_out.as_str()).collect();
        assert_eq!(held, ["bees", "rivers", "tides"]);
        let tides = &study.folds[2];
        assert!(tides.mean_residual.iter().all(|r| *r > 0.4), "{tides:?}");
        assert_eq!(tides.rows.len(), 2);
        let at_20 = &tides.rows[1];
        assert_eq!(at_20.k, 20);
        let shrunk = &at_20.candidates[1];
        assert!(
            shrunk.mcrmse.mean < at_20.uncalibrated.mean,
            "{shrunk:?} vs {:?}",
            at_20.uncalibrated
        );
        assert!(shrunk.gain.mean > 0.0);
        assert_eq!(study.pooled.len(), 2);
        assert!(study.pooled.iter().all(|r| r.candidates.len() == 3));
        assert!(
            study
                .pooled
                .iter()
                .flat_map(|r| &r.candidates)
                .all(|c| c.outside_range == 0)
        );
        // The same seed gives the same study.
        let again = calibration_study(&ds, &quick_config(), &spec, &mut |_, _| {}).unwrap();
        assert_eq!(again.folds, study.folds);
    }

    #[test]
    fn with_a_grid_the_targets_are_rounded_and_calibrated_scores_stay_on_its_range() {
        let mut ds = tiny_dataset(30);
        ds.score_grid = Some("-1:1:0.5".parse().unwrap());
        let spec = StudySpec {
            ks: vec![10],
            draws: 5,
            seed: 1,
            candidates: vec![Candidate::Shrunk(ValidPrior::default())],
            planted_shift: 0.0,
        };
        let study = calibration_study(&ds, &quick_config(), &spec, &mut |_, _| {}).unwrap();
        assert!(study.rounded_values > 0);
        assert_eq!(study.pooled[0].candidates[0].outside_range, 0);
    }

    #[test]
    fn too_many_examples_for_a_prompt_are_refused() {
        let spec = StudySpec {
            ks: vec![5, 500],
            draws: 2,
            seed: 1,
            candidates: vec![Candidate::MeanOffset],
            planted_shift: 0.0,
        };
        let err = calibration_study(&tiny_dataset(10), &quick_config(), &spec, &mut |_, _| {})
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "prompt bees has 10 essays: too few for 500 examples and at least one essay to score"
        );
    }
}
