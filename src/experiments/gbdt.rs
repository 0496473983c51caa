//! The tree-ensemble baseline: gradient-boosted regression trees from the
//! `forust-ml` crate, one booster per target, behind a small serde config.
//!
//! Why forust-ml: `perpetual` (1.9.4 and 2.3.0) needs a nightly compiler
//! (`#![feature(array_ptr_get)]`) and does not build on stable Rust here;
//! forust-ml 0.8.0 builds on stable, is an XGBoost-style histogram booster
//! (depth, learning rate, L2, subsampling), and trains a CommonLit fold in well
//! under a second. This file owns only the wrapper; folds and reports belong to
//! `training`.

use forust_ml::{GradientBooster, Matrix, objective::ObjectiveType};
use ndarray::{Array2, ArrayView2};

use crate::grader::row_sampling;
use crate::training::TrainingError;

use super::baselines::model_error;
use super::model_kind::{ModelKind, Regressor};

/// Hyper-parameters of the boosted trees, each with a default that did well
/// under leave-one-prompt-out CV on CommonLit (see docs/experiments.md).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbdtConfig {
    /// Number of trees per target.
    pub iterations: usize,
    /// Shrinkage applied to every tree's output.
    pub learning_rate: f32,
    /// Maximum depth of a tree.
    pub max_depth: usize,
    /// L2 penalty on leaf weights.
    pub l2: f32,
    /// Minimum sum of hessians (rows, for squared loss) in a leaf.
    pub min_leaf_weight: f32,
    /// Share of rows sampled at random for each tree (1: every row, the
    /// default, with which docs/experiments.md's figures were measured).
    pub subsample: f32,
    /// Share of features sampled for each tree.
    pub colsample_bytree: f64,
    /// Histogram bins per feature.
    pub nbins: u16,
    /// Seed of the row and column sampling.
    pub seed: u64,
    /// Worker threads (1 keeps CV deterministic and polite on a shared machine).
    pub threads: usize,
}

impl Default for GbdtConfig {
    fn default() -> Self {
        Self {
            iterations: 300,
            learning_rate: 0.05,
            max_depth: 4,
            l2: 1.0,
            min_leaf_weight: 20.0,
            subsample: 1.0,
            colsample_bytree: 0.8,
            nbins: 64,
            seed: 42,
            threads: 1,
        }
    }
}

/// What can go wrong when fitting the trees.
#[derive(Debug, thiserror::Error)]
pub enum GbdtError {
    /// A hyper-parameter is out of range.
    #[error("gbdt config field `{field}`: {message}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Inputs disagree on their row count, or there are no rows.
    #[error("gbdt needs as many target rows as feature rows (≥ 1): x has {x_rows}, y has {y_rows}")]
    Rows {
        /// Rows of the feature matrix.
        x_rows: usize,
        /// Rows of the target matrix.
        y_rows: usize,
    },
    /// Prediction input has the wrong number of columns.
    #[error("gbdt was trained on {expected} features, got {got}")]
    Features {
        /// Columns at training time.
        expected: usize,
        /// Columns given.
        got: usize,
    },
    /// The crate refused the data or the parameters.
    #[error("gbdt training failed for target {target}: {message}")]
    Backend {
        /// Index of the target being fitted.
        target: usize,
        /// The crate's message.
        message: String,
    },
}

impl GbdtConfig {
    /// Checks every field and returns the first bad one.
    pub fn validate(&self) -> Result<(), GbdtError> {
        let bad = |field, message: &str| {
            Err(GbdtError::InvalidConfig {
                field,
                message: message.to_string(),
            })
        };
        if self.iterations == 0 {
            return bad("iterations", "must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", "must be a positive number");
        }
        if self.max_depth == 0 {
            return bad("max_depth", "must be at least 1");
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return bad("l2", "must be finite and >= 0");
        }
        if !(self.min_leaf_weight >= 0.0 && self.min_leaf_weight.is_finite()) {
            return bad("min_leaf_weight", "must be finite and >= 0");
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad("subsample", "must be in (0, 1]");
        }
        if !(self.colsample_bytree > 0.0 && self.colsample_bytree <= 1.0) {
            return bad("colsample_bytree", "must be in (0, 1]");
        }
        if self.nbins < 2 {
            return bad("nbins", "must be at least 2");
        }
        if self.threads == 0 {
            return bad("threads", "must be at least 1");
        }
        Ok(())
    }
}

/// A fitted ensemble: one booster per target.
pub struct GbdtRegressor {
    boosters: Vec<GradientBooster>,
    n_features: usize,
}

impl std::fmt::Debug for GbdtRegressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbdtRegressor")
            .field("targets", &self.boosters.len())
            .field("n_features", &self.n_features)
            .finish()
    }
}

/// forust reads column-major data.
fn column_major(x: ArrayView2<f64>) -> Vec<f64> {
    x.t().iter().copied().collect()
}

impl GbdtRegressor {
    /// Fits one squared-loss booster per column of `y` on the rows of `x`.
    pub fn fit(
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        config: &GbdtConfig,
    ) -> Result<Self, GbdtError> {
        config.validate()?;
        if x.nrows() == 0 || x.nrows() != y.nrows() {
            return Err(GbdtError::Rows {
                x_rows: x.nrows(),
                y_rows: y.nrows(),
            });
        }
        let data = column_major(x);
        let matrix = Matrix::new(&data, x.nrows(), x.ncols());
        let mut boosters = Vec::with_capacity(y.ncols());
        for t in 0..y.ncols() {
            let target: Vec<f64> = y.column(t).to_vec();
            let backend = |e: &dyn std::fmt::Display| GbdtError::Backend {
                target: t,
                message: e.to_string(),
            };
            let mut booster = GradientBooster::default()
                .set_objective_type(ObjectiveType::SquaredLoss)
                .set_iterations(config.iterations)
                .set_learning_rate(config.learning_rate)
                .set_max_depth(config.max_depth)
                .set_l2(config.l2)
                .set_min_leaf_weight(config.min_leaf_weight)
                .set_subsample(config.subsample)
                .set_sample_method(row_sampling(config.subsample))
                .set_colsample_bytree(config.colsample_bytree)
                .set_nbins(config.nbins)
                .set_seed(config.seed.wrapping_add(t as u64))
                .set_parallel(config.threads > 1)
                .set_num_threads(Some(config.threads));
            booster
                .fit_unweighted(&matrix, &target, None)
                .map_err(|e| backend(&e))?;
            boosters.push(booster);
        }
        Ok(Self {
            boosters,
            n_features: x.ncols(),
        })
    }

    /// Predictions, rows × targets.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, GbdtError> {
        if x.ncols() != self.n_features {
            return Err(GbdtError::Features {
                expected: self.n_features,
                got: x.ncols(),
            });
        }
        let data = column_major(x);
        let matrix = Matrix::new(&data, x.nrows(), x.ncols());
        let mut out = Array2::zeros((x.nrows(), self.boosters.len()));
        for (t, b) in self.boosters.iter().enumerate() {
            let p = b.predict(&matrix, false);
            out.column_mut(t)
                .iter_mut()
                .zip(p)
                .for_each(|(o, v)| *o = v);
        }
        Ok(out)
    }
}

/// Gradient-boosted trees behind the harness's [`Regressor`] trait.
#[derive(Debug, Default)]
pub struct GbdtModel {
    config: GbdtConfig,
    fitted: Option<GbdtRegressor>,
}

impl GbdtModel {
    /// A model that will fit with `config`.
    pub fn new(config: GbdtConfig) -> Self {
        Self {
            config,
            fitted: None,
        }
    }
}

impl Regressor for GbdtModel {
    fn fit(
        &mut self,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        _groups: &[String],
    ) -> Result<(), TrainingError> {
        self.fitted = Some(
            GbdtRegressor::fit(x, y, &self.config)
                .map_err(|e| model_error(ModelKind::Gbdt, "fit", e))?,
        );
        Ok(())
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, TrainingError> {
        let m = self
            .fitted
            .as_ref()
            .ok_or_else(|| model_error(ModelKind::Gbdt, "predict", "predict called before fit"))?;
        m.predict(x)
            .map_err(|e| model_error(ModelKind::Gbdt, "predict", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbdt_fits_a_step_function_that_a_line_cannot() {
        // y = 1 when x0 > 0.5 else −1, plus an irrelevant column; trees learn
        // the step, a linear model would leave a large error near the edges.
        let n = 200;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                i as f64 / n as f64
            } else {
                ((i * 7) % 13) as f64
            }
        });
        let y = Array2::from_shape_fn((n, 2), |(i, t)| {
            let s = if x[[i, 0]] > 0.5 { 1.0 } else { -1.0 };
            if t == 0 { s } else { 2.0 * s }
        });
        let cfg = GbdtConfig {
            iterations: 100,
            learning_rate: 0.3,
            min_leaf_weight: 1.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            ..GbdtConfig::default()
        };
        let model = GbdtRegressor::fit(x.view(), y.view(), &cfg).unwrap();
        let p = model.predict(x.view()).unwrap();
        let rmse0 = ((&p.column(0) - &y.column(0))
            .mapv(|d| d * d)
            .mean()
            .unwrap())
        .sqrt();
        let rmse1 = ((&p.column(1) - &y.column(1))
            .mapv(|d| d * d)
            .mean()
            .unwrap())
        .sqrt();
        assert!(rmse0 < 0.05, "rmse of target 0 was {rmse0}");
        assert!(rmse1 < 0.1, "rmse of target 1 was {rmse1}");
    }

    #[test]
    fn gbdt_is_deterministic_for_a_fixed_seed() {
        let x = Array2::from_shape_fn((100, 3), |(i, j)| ((i * (j + 3)) % 17) as f64);
        let y = Array2::from_shape_fn((100, 1), |(i, _)| (i % 5) as f64);
        let cfg = GbdtConfig {
            iterations: 20,
            ..GbdtConfig::default()
        };
        let a = GbdtRegressor::fit(x.view(), y.view(), &cfg)
            .unwrap()
            .predict(x.view())
            .unwrap();
        let b = GbdtRegressor::fit(x.view(), y.view(), &cfg)
            .unwrap()
            .predict(x.view())
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn gbdt_rejects_bad_config_and_wrong_feature_count() {
        let cfg = GbdtConfig {
            subsample: 0.0,
            ..GbdtConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("subsample"), "{err}");
        let x = Array2::from_shape_fn((10, 2), |(i, j)| (i + j) as f64);
        let y = Array2::from_shape_fn((10, 1), |(i, _)| i as f64);
        let model = GbdtRegressor::fit(
            x.view(),
            y.view(),
            &GbdtConfig {
                iterations: 3,
                ..Default::default()
            },
        )
        .unwrap();
        let err = model
            .predict(Array2::zeros((1, 3)).view())
            .unwrap_err()
            .to_string();
        assert!(err.contains("trained on 2 features, got 3"), "{err}");
        assert!(matches!(
            GbdtRegressor::fit(
                x.view(),
                Array2::zeros((9, 1)).view(),
                &GbdtConfig::default()
            ),
            Err(GbdtError::Rows {
                x_rows: 10,
                y_rows: 9
            })
        ));
    }
}
