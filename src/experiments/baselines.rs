//! The "other algorithms" the network is compared with: predict-the-mean,
//! closed-form ridge regression with its penalty chosen by inner
//! cross-validation, and the logistic pass/fail classifier (a cut such as
//! `content > 0`), each behind the harness's `Regressor` trait.
//!
//! The models are pure functions of `ndarray` matrices in `f64`, with rows
//! as examples; [`BaselinePredictor`] puts any of them behind the
//! cross-validation harness's `FoldPredictor` seam (inputs standardised on
//! each fold's training rows, folds side by side on the worker pool).
//! Datasets, folds and reports belong to `training`, and the tree ensemble
//! lives in `gbdt.rs`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::nn::{Control, Standardizer};
use crate::training::progress::{Message, Reporter, RunShape, run_tasks};
use crate::training::{
    FeaturedDataset, Fold, FoldPredictor, Progress, Scoring, TrainingError, ValidTrainConfig,
    pass_cut,
};

use super::model_kind::{ModelKind, Regressor};

/// What can go wrong when fitting or applying a baseline.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BaselineError {
    /// There are no training rows to fit on.
    #[error("cannot fit {model} on 0 training rows")]
    NoRows {
        /// Which model was being fitted.
        model: &'static str,
    },
    /// Two inputs disagree on a dimension.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// Which dimension disagreed.
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// An input holds NaN or infinity.
    #[error("{what} holds a non-finite value at row {row}, column {col}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row of the first bad value (0-based).
        row: usize,
        /// Column of the first bad value (0-based).
        col: usize,
    },
    /// The ridge penalty must be a finite number ≥ 0.
    #[error("ridge alpha must be finite and >= 0, got {alpha}")]
    InvalidAlpha {
        /// The rejected value.
        alpha: f64,
    },
    /// The normal equations could not be solved (only possible with alpha = 0
    /// and collinear features).
    #[error(
        "the ridge system is not positive definite at pivot {pivot} (alpha = {alpha}); raise alpha"
    )]
    NotPositiveDefinite {
        /// Where the Cholesky factorisation failed.
        pivot: usize,
        /// The penalty used.
        alpha: f64,
    },
    /// No alpha candidates were given to the inner cross-validation.
    #[error("ridge inner cross-validation needs at least one alpha candidate")]
    NoAlphas,
}

fn check_finite(what: &'static str, m: ArrayView2<f64>) -> Result<(), BaselineError> {
    for ((row, col), v) in m.indexed_iter() {
        if !v.is_finite() {
            return Err(BaselineError::NonFinite { what, row, col });
        }
    }
    Ok(())
}

fn check_rows(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    model: &'static str,
) -> Result<(), BaselineError> {
    if y.nrows() == 0 {
        return Err(BaselineError::NoRows { model });
    }
    if x.nrows() != y.nrows() {
        return Err(BaselineError::ShapeMismatch {
            what: "rows of x and y",
            expected: y.nrows(),
            got: x.nrows(),
        });
    }
    check_finite("x", x)?;
    check_finite("y", y)
}

/// Predicts, for every target, its mean over the training rows: the floor any
/// model must beat (MCRMSE ≈ 1.0 on CommonLit).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanRegressor {
    /// The training mean of each target, in target order.
    pub means: Vec<f64>,
}

impl MeanRegressor {
    /// Fits on the targets `y` (rows × targets).
    pub fn fit(y: ArrayView2<f64>) -> Result<Self, BaselineError> {
        if y.nrows() == 0 {
            return Err(BaselineError::NoRows { model: "the mean" });
        }
        check_finite("y", y)?;
        let means = y.mean_axis(Axis(0)).expect("rows checked above").to_vec();
        Ok(Self { means })
    }

    /// One row of the training means per row of `x` (only its row count is used).
    pub fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let means = ArrayView1::from(&self.means);
        let mut out = Array2::zeros((x.nrows(), self.means.len()));
        out.rows_mut()
            .into_iter()
            .for_each(|mut r| r.assign(&means));
        out
    }
}

/// Column means and standard deviations of `x`; a constant column gets a scale
/// of 1 so that it maps to 0 instead of NaN.
fn column_moments(x: ArrayView2<f64>) -> (Array1<f64>, Array1<f64>) {
    let mean = x
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()));
    let var = x.var_axis(Axis(0), 0.0);
    let scale = var.mapv(|v| if v > 1e-24 { v.sqrt() } else { 1.0 });
    (mean, scale)
}

/// Solves `a · X = b` for a symmetric positive-definite `a` by Cholesky
/// factorisation `a = L·Lᵀ`, then forward and back substitution.
///
/// Returns `Err(pivot)` when a pivot is not positive (the matrix is singular
/// or not positive definite). `a` is p×p, `b` is p×k.
pub fn cholesky_solve(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<Array2<f64>, usize> {
    let p = a.nrows();
    assert_eq!(a.ncols(), p, "cholesky_solve needs a square matrix");
    assert_eq!(
        b.nrows(),
        p,
        "cholesky_solve: b must have as many rows as a"
    );
    let mut l = Array2::<f64>::zeros((p, p));
    for j in 0..p {
        let mut d = a[[j, j]];
        for k in 0..j {
            d -= l[[j, k]] * l[[j, k]];
        }
        // A relative floor: pivots that collapse to rounding noise mean the
        // matrix is numerically singular, and dividing by them would amplify
        // noise into huge weights.
        if !(d > 1e-12 * a[[j, j]].abs().max(1e-300)) {
            return Err(j);
        }
        let d = d.sqrt();
        l[[j, j]] = d;
        for i in (j + 1)..p {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = s / d;
        }
    }
    let mut x = b.to_owned();
    for c in 0..x.ncols() {
        // L·z = b
        for i in 0..p {
            let mut s = x[[i, c]];
            for k in 0..i {
                s -= l[[i, k]] * x[[k, c]];
            }
            x[[i, c]] = s / l[[i, i]];
        }
        // Lᵀ·x = z
        for i in (0..p).rev() {
            let mut s = x[[i, c]];
            for k in (i + 1)..p {
                s -= l[[k, i]] * x[[k, c]];
            }
            x[[i, c]] = s / l[[i, i]];
        }
    }
    Ok(x)
}

/// Ridge regression in closed form, one weight column per target.
///
/// Features are standardised on the training rows, then
/// `w = (ZᵀZ + α·n·I)⁻¹ Zᵀ(y − ȳ)` with `Z` the centred, scaled features, and the
/// intercept `ȳ` is not penalised. Scaling α by `n` keeps its meaning when the
/// number of rows changes between inner and outer folds. The weights are folded
/// back to the raw feature scale, so prediction is `x·W + b`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RidgeRegressor {
    /// The penalty the model was fitted with (per row, on standardised features).
    pub alpha: f64,
    /// Weights on the raw features, `features × targets`.
    pub weights: Array2<f64>,
    /// One intercept per target.
    pub intercept: Array1<f64>,
}

impl RidgeRegressor {
    /// Fits on `x` (rows × features) and `y` (rows × targets) with penalty `alpha`.
    pub fn fit(x: ArrayView2<f64>, y: ArrayView2<f64>, alpha: f64) -> Result<Self, BaselineError> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(BaselineError::InvalidAlpha { alpha });
        }
        check_rows(x, y, "ridge regression")?;
        let n = x.nrows() as f64;
        let (x_mean, x_scale) = column_moments(x);
        let z = (&x - &x_mean) / &x_scale;
        let y_mean = y.mean_axis(Axis(0)).expect("rows checked");
        let yc = &y - &y_mean;
        let mut gram = z.t().dot(&z);
        for i in 0..gram.nrows() {
            gram[[i, i]] += alpha * n;
        }
        let rhs = z.t().dot(&yc);
        let w_std = cholesky_solve(gram.view(), rhs.view())
            .map_err(|pivot| BaselineError::NotPositiveDefinite { pivot, alpha })?;
        // z = (x − m)/s, so z·w = x·(w/s) − (m/s)·w.
        let weights = &w_std / &x_scale.view().insert_axis(Axis(1));
        let intercept = &y_mean - &x_mean.dot(&weights);
        Ok(Self {
            alpha,
            weights,
            intercept,
        })
    }

    /// Predictions `x·W + b`, rows × targets.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, BaselineError> {
        if x.ncols() != self.weights.nrows() {
            return Err(BaselineError::ShapeMismatch {
                what: "feature columns",
                expected: self.weights.nrows(),
                got: x.ncols(),
            });
        }
        Ok(x.dot(&self.weights) + &self.intercept)
    }
}

/// The penalties tried by default: 10⁻⁴ … 10³, two per decade.
pub fn default_ridge_alphas() -> Vec<f64> {
    (0..=14)
        .map(|i| 10f64.powf(-4.0 + 0.5 * i as f64))
        .collect()
}

/// The outcome of choosing a ridge penalty by inner cross-validation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RidgeSelection {
    /// The penalty with the lowest inner-CV MCRMSE.
    pub alpha: f64,
    /// Every candidate with its inner-CV MCRMSE, in the order tried.
    pub scores: Vec<(f64, f64)>,
    /// How the inner folds were formed: "group" (one per training prompt) or "kfold".
    pub inner_folds: String,
    /// The model refitted on all the given rows with the chosen penalty.
    pub model: RidgeRegressor,
}

/// Pooled MCRMSE of two rows × targets matrices (via `metrics::mcrmse`).
fn mcrmse(pred: ArrayView2<f64>, truth: ArrayView2<f64>) -> f64 {
    let cols = |m: ArrayView2<f64>| -> Vec<Vec<f64>> {
        m.columns().into_iter().map(|c| c.to_vec()).collect()
    };
    crate::training::metrics::mcrmse(&cols(truth), &cols(pred))
}

/// Inner folds over the training rows: one fold per distinct group when there
/// are at least two groups (so the penalty is chosen for unseen prompts, as
/// the outer CV scores it), otherwise `k` interleaved folds.
pub fn inner_folds(groups: &[String], k: usize) -> (Vec<Vec<usize>>, &'static str) {
    let mut distinct: Vec<&String> = groups.iter().collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() >= 2 {
        let folds = distinct
            .iter()
            .map(|g| (0..groups.len()).filter(|&i| &groups[i] == *g).collect())
            .collect();
        (folds, "group")
    } else {
        let k = k.clamp(2, groups.len().max(2));
        let folds = (0..k)
            .map(|f| (f..groups.len()).step_by(k).collect())
            .collect();
        (folds, "kfold")
    }
}

/// Chooses the ridge penalty among `alphas` by inner cross-validation on the
/// given (training) rows only, then refits on all of them.
///
/// `groups` holds each row's prompt id; see [`inner_folds`].
pub fn fit_ridge_cv(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    groups: &[String],
    alphas: &[f64],
) -> Result<RidgeSelection, BaselineError> {
    if alphas.is_empty() {
        return Err(BaselineError::NoAlphas);
    }
    check_rows(x, y, "ridge regression")?;
    if groups.len() != x.nrows() {
        return Err(BaselineError::ShapeMismatch {
            what: "group labels and rows",
            expected: x.nrows(),
            got: groups.len(),
        });
    }
    let (folds, kind) = inner_folds(groups, 5);
    let mut scores = Vec::with_capacity(alphas.len());
    for &alpha in alphas {
        let mut oof = Array2::<f64>::zeros(y.raw_dim());
        for held in &folds {
            let mut is_held = vec![false; x.nrows()];
            held.iter().for_each(|&i| is_held[i] = true);
            let train: Vec<usize> = (0..x.nrows()).filter(|&i| !is_held[i]).collect();
            if train.is_empty() {
                continue;
            }
            let model = RidgeRegressor::fit(
                x.select(Axis(0), &train).view(),
                y.select(Axis(0), &train).view(),
                alpha,
            )?;
            let pred = model.predict(x.select(Axis(0), held).view())?;
            for (r, &i) in held.iter().enumerate() {
                oof.row_mut(i).assign(&pred.row(r));
            }
        }
        scores.push((alpha, mcrmse(oof.view(), y)));
    }
    let (alpha, _) = scores
        .iter()
        .copied()
        .fold((f64::NAN, f64::INFINITY), |best, (a, s)| {
            if s < best.1 { (a, s) } else { best }
        });
    let alpha = if alpha.is_nan() { alphas[0] } else { alpha };
    let model = RidgeRegressor::fit(x, y, alpha)?;
    Ok(RidgeSelection {
        alpha,
        scores,
        inner_folds: kind.to_string(),
        model,
    })
}

/// Wraps a baseline failure in the harness's error. The harness knows the
/// fold; the model only knows that it is being fitted or applied.
pub(crate) fn model_error(
    kind: ModelKind,
    stage: &str,
    err: impl std::fmt::Display,
) -> TrainingError {
    TrainingError::Model {
        model: kind.to_string(),
        fold: stage.to_string(),
        message: err.to_string(),
    }
}

/// Predict-the-mean behind the [`Regressor`] trait.
#[derive(Debug, Default)]
pub struct MeanModel {
    fitted: Option<MeanRegressor>,
}

impl Regressor for MeanModel {
    fn fit(
        &mut self,
        _x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        _groups: &[String],
    ) -> Result<(), TrainingError> {
        self.fitted =
            Some(MeanRegressor::fit(y).map_err(|e| model_error(ModelKind::Mean, "fit", e))?);
        Ok(())
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TrainingError> {
        let m = self
            .fitted
            .as_ref()
            .ok_or_else(|| model_error(ModelKind::Mean, "predict", "predict called before fit"))?;
        Ok(m.predict(x))
    }
}

/// How far, in training standard deviations, ridge lets an input reach
/// before clipping it. Several features are heavy-tailed (per-word rates of
/// rare slips, paragraph counts): under leave-one-prompt-out CV on CommonLit a
/// handful of held-out essays sit 20–77 SD out, and a linear model
/// extrapolates them into absurd scores. Clipping at 5 SD took ridge's pooled
/// MCRMSE from 0.819 to 0.532 (docs/experiments.md).
pub const RIDGE_INPUT_CLIP: f64 = 5.0;

/// Ridge with its penalty chosen by inner CV on the training rows, behind the
/// [`Regressor`] trait. Inputs arrive standardised on the training rows and
/// are clipped to ±`clip` before fitting and predicting. The chosen penalty
/// and the inner scores stay readable in [`RidgeModel::selection`].
#[derive(Debug)]
pub struct RidgeModel {
    alphas: Vec<f64>,
    clip: f64,
    /// The last fit's penalty choice and model.
    pub selection: Option<RidgeSelection>,
}

impl RidgeModel {
    /// A ridge model that will choose among `alphas` (see [`default_ridge_alphas`])
    /// and clip standardised inputs to ±`clip` (`f64::INFINITY` for none).
    pub fn new(alphas: Vec<f64>, clip: f64) -> Self {
        Self {
            alphas,
            clip,
            selection: None,
        }
    }

    fn clipped(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let c = self.clip;
        x.mapv(|v| v.clamp(-c, c))
    }
}

impl Default for RidgeModel {
    fn default() -> Self {
        Self::new(default_ridge_alphas(), RIDGE_INPUT_CLIP)
    }
}

impl Regressor for RidgeModel {
    fn fit(
        &mut self,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        groups: &[String],
    ) -> Result<(), TrainingError> {
        let x = self.clipped(x);
        self.selection = Some(
            fit_ridge_cv(x.view(), y, groups, &self.alphas)
                .map_err(|e| model_error(ModelKind::Ridge, "fit", e))?,
        );
        Ok(())
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TrainingError> {
        let s = self
            .selection
            .as_ref()
            .ok_or_else(|| model_error(ModelKind::Ridge, "predict", "predict called before fit"))?;
        s.model
            .predict(self.clipped(x).view())
            .map_err(|e| model_error(ModelKind::Ridge, "predict", e))
    }
}

/// Logistic regression of each target's pass/fail label (the harness passes
/// 0.0/1.0 labels of `score > cut`), one `nn::LogisticRegression` per target,
/// behind the [`Regressor`] trait; predictions are P(pass). Inputs are
/// clipped like ridge's (see [`RIDGE_INPUT_CLIP`]), for the same reason.
#[derive(Debug)]
pub struct LogisticModel {
    fit_config: crate::nn::FitConfig,
    clip: f64,
    fitted: Vec<crate::nn::LogisticRegression>,
}

impl LogisticModel {
    /// A model trained with Adam (lr 0.05, cosine schedule), 30 epochs of
    /// batch 64 from `seed`: log-loss is convex, so this reaches its minimum
    /// region on a few thousand rows without tuning.
    pub fn new(seed: u64) -> Self {
        let mut optimizer = crate::nn::OptimizerConfig::named("adam");
        optimizer.lr = Some(0.05);
        Self {
            fit_config: crate::nn::FitConfig {
                optimizer,
                schedule: crate::nn::ScheduleConfig::named("cosine"),
                epochs: 30,
                batch_size: 64,
                seed,
                ..crate::nn::FitConfig::default()
            },
            clip: RIDGE_INPUT_CLIP,
            fitted: Vec::new(),
        }
    }
}

impl Regressor for LogisticModel {
    fn fit(
        &mut self,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        _groups: &[String],
    ) -> Result<(), TrainingError> {
        let c = self.clip;
        let x = x.mapv(|v| v.clamp(-c, c));
        self.fitted.clear();
        for t in 0..y.ncols() {
            let (model, _) = crate::nn::LogisticRegression::fit(
                x.view(),
                y.column(t),
                &self.fit_config,
                &mut |_| crate::nn::Control::Continue,
            )
            .map_err(|e| model_error(ModelKind::Logistic, "fit", e))?;
            self.fitted.push(model);
        }
        Ok(())
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TrainingError> {
        if self.fitted.is_empty() {
            return Err(model_error(
                ModelKind::Logistic,
                "predict",
                "predict called before fit",
            ));
        }
        let c = self.clip;
        let x = x.mapv(|v| v.clamp(-c, c));
        let mut out = Array2::zeros((x.nrows(), self.fitted.len()));
        for (t, m) in self.fitted.iter().enumerate() {
            let p = m
                .predict_proba(x.view())
                .map_err(|e| model_error(ModelKind::Logistic, "predict", e))?;
            out.column_mut(t).assign(&p);
        }
        Ok(out)
    }
}

/// The model of a baseline kind, for the cross-validation harness
/// (docs/architecture.md). Ridge and the pass/fail logistic model clip their
/// standardised inputs at [`RIDGE_INPUT_CLIP`]; the trees use
/// [`GbdtConfig::default`](super::gbdt::GbdtConfig) seeded with `seed`.
/// `None` for `Mlp`, which is not a baseline: it is the grader's network
/// ensemble.
pub fn make_regressor(kind: ModelKind, seed: u64) -> Option<Box<dyn Regressor>> {
    Some(match kind {
        ModelKind::Mean => Box::new(MeanModel::default()),
        ModelKind::Ridge => Box::new(RidgeModel::default()),
        ModelKind::Logistic => Box::new(LogisticModel::new(seed)),
        ModelKind::Gbdt => Box::new(super::gbdt::GbdtModel::new(super::gbdt::GbdtConfig {
            seed,
            ..Default::default()
        })),
        ModelKind::Mlp | ModelKind::Blend | ModelKind::MlpCentred | ModelKind::BlendCentred => {
            return None;
        }
    })
}

/// A baseline kind behind the harness's [`FoldPredictor`] seam: for each
/// fold, inputs are standardised on its training rows, a fresh model of the
/// kind is fitted (on 0/1 labels of `score > cut` for a pass/fail kind) and
/// predicts the held-out rows. Folds run side by side on the worker pool;
/// each reports one "epoch" when it ends.
#[derive(Debug, Clone, Copy)]
pub struct BaselinePredictor<'a> {
    kind: ModelKind,
    config: &'a ValidTrainConfig,
}

impl<'a> BaselinePredictor<'a> {
    /// The baseline `kind` on the config's features, seed and threads.
    pub fn new(kind: ModelKind, config: &'a ValidTrainConfig) -> Self {
        Self { kind, config }
    }
}

impl FoldPredictor for BaselinePredictor<'_> {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn scoring(&self) -> Scoring {
        if self.kind.is_pass_fail() {
            Scoring::PassFail
        } else {
            Scoring::Regression
        }
    }

    fn predict_folds(
        &self,
        featured: &FeaturedDataset,
        folds: &[Fold],
        on_progress: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Vec<Array2<f64>>, TrainingError> {
        let (kind, config) = (self.kind, self.config);
        let seed = config.config().seed;
        // Fail before any work if the kind is not a baseline.
        if make_regressor(kind, seed).is_none() {
            return Err(model_error(kind, "all", "it is not a baseline"));
        }
        let ds = featured.dataset;
        let idx = config.feature_indices();
        let cut = pass_cut(ds.score_grid.as_ref());
        let shape = RunShape {
            folds: folds.len(),
            members: 1,
            epochs: 1,
            total: folds.len(),
        };
        let work = |f: usize, reporter: &Reporter| -> Result<Array2<f64>, TrainingError> {
            let fold = &folds[f];
            let data_err = |source| TrainingError::Data {
                fold: fold.held_out.clone(),
                source,
            };
            let x_train = featured.select(&fold.train, idx).mapv(f64::from);
            let x_test = featured.select(&fold.test, idx).mapv(f64::from);
            let scaler = Standardizer::fit(x_train.view()).map_err(data_err)?;
            let x_train = scaler.transform(x_train.view()).map_err(data_err)?;
            let x_test = scaler.transform(x_test.view()).map_err(data_err)?;
            let mut y = featured.targets(&fold.train);
            if kind.is_pass_fail() {
                y.mapv_inplace(|v| if v > cut { 1.0 } else { 0.0 });
            }
            let groups: Vec<String> = fold
                .train
                .iter()
                .map(|&i| ds.essays[i].prompt_id.clone())
                .collect();
            let mut model = make_regressor(kind, seed)
                .ok_or_else(|| model_error(kind, &fold.held_out, "it is not a baseline"))?;
            model.fit(x_train.view(), y.view(), &groups)?;
            let p = model.predict(x_test.view())?;
            if p.iter().any(|v| !v.is_finite()) {
                return Err(model_error(
                    kind,
                    &fold.held_out,
                    "predicted a non-finite value",
                ));
            }
            reporter.send(Message::Epoch {
                fold: f + 1,
                member: 1,
                epoch: 1,
                train_loss: f64::NAN,
                val_loss: None,
            });
            Ok(p)
        };
        let (results, cancelled) =
            run_tasks(folds.len(), config.threads(), shape, &work, on_progress);
        if cancelled {
            return Err(TrainingError::Cancelled);
        }
        results.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, array};

    fn assert_close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} != {b} (tol {tol})");
    }

    #[test]
    fn mean_regressor_predicts_each_targets_training_mean() {
        let y = array![[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]];
        let m = MeanRegressor::fit(y.view()).unwrap();
        assert_eq!(m.means, vec![3.0, 30.0]);
        let p = m.predict(Array2::zeros((2, 7)).view());
        assert_eq!(p, array![[3.0, 30.0], [3.0, 30.0]]);
    }

    #[test]
    fn mean_regressor_refuses_zero_rows_and_nan_targets() {
        let empty = Array2::<f64>::zeros((0, 2));
        assert_eq!(
            MeanRegressor::fit(empty.view()),
            Err(BaselineError::NoRows { model: "the mean" })
        );
        let y = array![[1.0], [f64::NAN]];
        assert_eq!(
            MeanRegressor::fit(y.view()),
            Err(BaselineError::NonFinite {
                what: "y",
                row: 1,
                col: 0
            })
        );
    }

    #[test]
    fn cholesky_solve_matches_a_hand_solved_system() {
        // [[4,2],[2,3]]·x = [2,1]  →  x = [0.5, 0] (4·0.5+2·0 = 2, 2·0.5+3·0 = 1).
        let a = array![[4.0, 2.0], [2.0, 3.0]];
        let b = array![[2.0], [1.0]];
        let x = cholesky_solve(a.view(), b.view()).unwrap();
        assert_close(x[[0, 0]], 0.5, 1e-12);
        assert_close(x[[1, 0]], 0.0, 1e-12);
    }

    #[test]
    fn cholesky_solve_reports_the_pivot_of_a_singular_matrix() {
        let a = array![[1.0, 1.0], [1.0, 1.0]];
        let b = array![[1.0], [1.0]];
        assert_eq!(cholesky_solve(a.view(), b.view()), Err(1));
    }

    #[test]
    fn ridge_with_zero_alpha_recovers_an_exact_linear_law() {
        // y0 = 2·x0 − 3·x1 + 5 and y1 = 0.5·x1 − 1, with no noise.
        let x = array![
            [0.0, 1.0],
            [1.0, 0.0],
            [2.0, 3.0],
            [3.0, 1.0],
            [4.0, 5.0],
            [-1.0, 2.0]
        ];
        let y = Array::from_shape_fn((6, 2), |(i, t)| {
            if t == 0 {
                2.0 * x[[i, 0]] - 3.0 * x[[i, 1]] + 5.0
            } else {
                0.5 * x[[i, 1]] - 1.0
            }
        });
        let m = RidgeRegressor::fit(x.view(), y.view(), 0.0).unwrap();
        assert_close(m.weights[[0, 0]], 2.0, 1e-9);
        assert_close(m.weights[[1, 0]], -3.0, 1e-9);
        assert_close(m.intercept[0], 5.0, 1e-9);
        assert_close(m.weights[[0, 1]], 0.0, 1e-9);
        assert_close(m.weights[[1, 1]], 0.5, 1e-9);
        assert_close(m.intercept[1], -1.0, 1e-9);
        let p = m.predict(array![[10.0, 10.0]].view()).unwrap();
        assert_close(p[[0, 0]], -5.0, 1e-8);
    }

    #[test]
    fn ridge_matches_the_closed_form_for_one_standardised_feature() {
        // One feature with mean 0 and variance 1 over n = 4 rows: z = x, and
        // w = Σzy / (Σz² + α·n) = Σxy / (n + α·n) = (Σxy/n)/(1 + α).
        let x = array![[-1.0], [-1.0], [1.0], [1.0]];
        let y = array![[0.0], [1.0], [3.0], [4.0]];
        let alpha = 0.5;
        let m = RidgeRegressor::fit(x.view(), y.view(), alpha).unwrap();
        let sxy_over_n = (0.0 * -1.0 + 1.0 * -1.0 + 3.0 + 4.0) / 4.0; // 1.5
        assert_close(m.weights[[0, 0]], sxy_over_n / (1.0 + alpha), 1e-12);
        // The intercept is not shrunk: at x = 0 (the mean) it predicts ȳ = 2.
        assert_close(m.intercept[0], 2.0, 1e-12);
    }

    #[test]
    fn ridge_shrinks_weights_as_alpha_grows() {
        let x = array![[0.0, 1.0], [1.0, 0.5], [2.0, 3.0], [3.0, 1.0], [4.0, 4.5]];
        let y = array![[1.0], [2.0], [2.5], [4.5], [5.0]];
        let norms: Vec<f64> = [0.0, 0.1, 1.0, 100.0]
            .iter()
            .map(|&a| {
                let m = RidgeRegressor::fit(x.view(), y.view(), a).unwrap();
                m.weights.iter().map(|w| w * w).sum::<f64>().sqrt()
            })
            .collect();
        assert!(norms.windows(2).all(|w| w[1] < w[0]), "{norms:?}");
    }

    #[test]
    fn ridge_keeps_a_constant_column_harmless() {
        let x = array![[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]];
        let y = array![[2.0], [4.0], [6.0]];
        let m = RidgeRegressor::fit(x.view(), y.view(), 1e-6).unwrap();
        assert!(m.weights.iter().all(|w| w.is_finite()));
        assert_eq!(m.weights[[1, 0]], 0.0);
        let p = m.predict(array![[4.0, 7.0]].view()).unwrap();
        assert_close(p[[0, 0]], 8.0, 1e-4);
    }

    #[test]
    fn ridge_rejects_negative_alpha_and_mismatched_rows() {
        let x = array![[1.0], [2.0]];
        let y = array![[1.0], [2.0]];
        assert_eq!(
            RidgeRegressor::fit(x.view(), y.view(), -1.0),
            Err(BaselineError::InvalidAlpha { alpha: -1.0 })
        );
        let y3 = array![[1.0], [2.0], [3.0]];
        assert!(matches!(
            RidgeRegressor::fit(x.view(), y3.view(), 1.0),
            Err(BaselineError::ShapeMismatch {
                expected: 3,
                got: 2,
                ..
            })
        ));
        let m = RidgeRegressor::fit(x.view(), y.view(), 1.0).unwrap();
        assert!(matches!(
            m.predict(array![[1.0, 2.0]].view()),
            Err(BaselineError::ShapeMismatch {
                expected: 1,
                got: 2,
                ..
            })
        ));
    }

    #[test]
    fn inner_folds_split_by_group_when_there_are_two_groups_or_more() {
        let g: Vec<String> = ["a", "b", "a", "c"].iter().map(|s| s.to_string()).collect();
        let (folds, kind) = inner_folds(&g, 5);
        assert_eq!(kind, "group");
        assert_eq!(folds, vec![vec![0, 2], vec![1], vec![3]]);
        let one: Vec<String> = vec!["a".into(); 7];
        let (folds, kind) = inner_folds(&one, 3);
        assert_eq!(kind, "kfold");
        assert_eq!(folds, vec![vec![0, 3, 6], vec![1, 4], vec![2, 5]]);
    }

    #[test]
    fn ridge_cv_picks_a_large_alpha_for_pure_noise_and_a_small_one_for_signal() {
        // Deterministic pseudo-noise from a linear congruential sequence.
        let mut s = 12345u64;
        let mut noise = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let n = 120;
        let x = Array2::from_shape_fn((n, 5), |_| noise());
        let groups: Vec<String> = (0..n).map(|i| format!("p{}", i % 3)).collect();
        let alphas = default_ridge_alphas();

        let y_noise = Array2::from_shape_fn((n, 1), |_| noise());
        let sel = fit_ridge_cv(x.view(), y_noise.view(), &groups, &alphas).unwrap();
        assert_eq!(sel.inner_folds, "group");
        assert_eq!(sel.scores.len(), alphas.len());
        assert!(
            sel.alpha >= 1.0,
            "noise should be shrunk hard, chose {}",
            sel.alpha
        );

        let y_signal = Array2::from_shape_fn((n, 1), |(i, _)| {
            3.0 * x[[i, 0]] - x[[i, 2]] + 0.01 * noise()
        });
        let sel = fit_ridge_cv(x.view(), y_signal.view(), &groups, &alphas).unwrap();
        assert!(
            sel.alpha <= 0.01,
            "signal should barely be shrunk, chose {}",
            sel.alpha
        );
        assert_close(sel.model.weights[[0, 0]], 3.0, 0.05);
    }

    #[test]
    fn mean_and_ridge_models_work_through_the_regressor_trait() {
        let x = array![[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]];
        let y = array![[0.0], [2.0], [4.0], [6.0], [8.0], [10.0]];
        let groups: Vec<String> = ["a", "a", "b", "b", "c", "c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut models: Vec<Box<dyn Regressor>> = vec![
            Box::new(MeanModel::default()),
            Box::new(RidgeModel::default()),
        ];
        assert!(
            models[0].predict(x.view()).is_err(),
            "predict before fit must fail"
        );
        for m in models.iter_mut() {
            m.fit(x.view(), y.view(), &groups).unwrap();
        }
        let mean = models[0].predict(array![[9.0]].view()).unwrap();
        assert_close(mean[[0, 0]], 5.0, 1e-12);
        let ridge = models[1].predict(array![[2.5]].view()).unwrap();
        assert_close(ridge[[0, 0]], 5.0, 0.05);
    }

    #[test]
    fn ridge_model_clips_far_out_inputs_to_the_clip_limit() {
        let x = array![[-1.0], [0.0], [1.0], [2.0]];
        let y = array![[-1.0], [0.0], [1.0], [2.0]];
        let groups: Vec<String> = ["a", "a", "b", "b"].iter().map(|s| s.to_string()).collect();
        let mut clipped = RidgeModel::new(vec![0.0], 5.0);
        clipped.fit(x.view(), y.view(), &groups).unwrap();
        let mut raw = RidgeModel::new(vec![0.0], f64::INFINITY);
        raw.fit(x.view(), y.view(), &groups).unwrap();
        let far = array![[70.0]];
        assert_close(raw.predict(far.view()).unwrap()[[0, 0]], 70.0, 1e-9);
        assert_close(clipped.predict(far.view()).unwrap()[[0, 0]], 5.0, 1e-9);
    }

    #[test]
    fn logistic_model_ranks_passing_rows_above_failing_ones() {
        // Target 0 passes when x0 > 0, target 1 when x1 > 0; the two
        // columns are independent pseudo-random values in [-2, 2).
        let n = 400;
        let mut s = 99u64;
        let x = Array2::from_shape_fn((n, 2), |_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
        });
        let y = x.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let groups = vec!["a".to_string(); n];
        let mut m = LogisticModel::new(7);
        m.fit(x.view(), y.view(), &groups).unwrap();
        let p = m.predict(x.view()).unwrap();
        for t in 0..2 {
            let labels: Vec<bool> = y.column(t).iter().map(|v| *v > 0.5).collect();
            let auc = crate::training::metrics::auc(&labels, &p.column(t).to_vec()).unwrap();
            assert!(auc > 0.99, "target {t}: AUC {auc}");
            let acc = crate::training::metrics::accuracy(&labels, &p.column(t).to_vec());
            assert!(acc > 0.95, "target {t}: accuracy {acc}");
        }
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn make_regressor_builds_every_baseline_and_not_the_network() {
        for kind in [
            ModelKind::Mean,
            ModelKind::Ridge,
            ModelKind::Logistic,
            ModelKind::Gbdt,
        ] {
            assert!(make_regressor(kind, 7).is_some(), "{kind}");
        }
        assert!(make_regressor(ModelKind::Mlp, 7).is_none());
    }
}
