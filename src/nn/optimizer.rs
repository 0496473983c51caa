//! Optimizers: the config (serde, validated with every bad field listed), the
//! typed [`OptimizerKind`] with documented defaults, and [`Optimizer`], which
//! keeps per-parameter state and updates (parameter, gradient) pairs.
//!
//! | optimizer | update (g = gradient, t = step count from 1) | state per parameter |
//! |---|---|---|
//! | SGD | w ← w − lr·g | none |
//! | momentum | v ← β·v + g; w ← w − lr·v | 1 (v) |
//! | AdaGrad | G ← G + g²; w ← w − lr·g/(√G + ε) | 1 (G) |
//! | RMSprop | s ← ρ·s + (1−ρ)·g²; w ← w − lr·g/(√s + ε) | 1 (s) |
//! | Adam | m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ); w ← w − lr·m̂/(√v̂ + ε) | 2 (m, v) |
//! | AdamW | Adam, then the decoupled decay: w ← w − lr·(m̂/(√v̂ + ε) + λ·w) | 2 (m, v) |
//! | LARS | per parameter tensor: r = η‖w‖/(‖g‖ + λ‖w‖ + ε) (1 if ‖w‖ or ‖g‖ is 0); v ← μ·v + lr·r·(g + λw); w ← w − v | 1 (v) |

use serde::{Deserialize, Serialize};

use super::config::{UnknownFields, report_unknown, unknown_name};
use super::{FieldError, Float};

/// An optimizer as written in a config: `{"name":"rmsprop","lr":0.001,"rho":0.9,"eps":1e-8}`.
/// Every hyper-parameter is optional and takes the default of [`OptimizerKind`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// "sgd", "momentum", "adagrad", "rmsprop", "adam" (default), "adamw" or "lars".
    #[serde(default = "default_name")]
    pub name: String,
    /// Learning rate (all optimizers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Momentum coefficient β of "momentum".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// Decay ρ of RMSprop's squared-gradient average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    /// Adam/AdamW first-moment decay β₁.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta1: Option<f64>,
    /// Adam/AdamW second-moment decay β₂.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta2: Option<f64>,
    /// Denominator guard ε of AdaGrad, RMSprop, Adam, AdamW and LARS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    /// Weight decay λ of AdamW and LARS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Momentum μ of LARS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// Trust coefficient η of LARS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_coefficient: Option<f64>,
    /// Keys this version does not know; validation reports each of them.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

fn default_name() -> String {
    "adam".to_owned()
}

impl Default for OptimizerConfig {
    /// Adam with its defaults.
    fn default() -> Self {
        Self::named("adam")
    }
}

impl OptimizerConfig {
    /// The named optimizer with every hyper-parameter at its default.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            lr: None,
            beta: None,
            rho: None,
            beta1: None,
            beta2: None,
            eps: None,
            weight_decay: None,
            momentum: None,
            trust_coefficient: None,
            unknown: UnknownFields::new(),
        }
    }

    /// The same config with the learning rate set.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = Some(lr);
        self
    }

    /// Checks every field; paths are relative (`lr`, `rho`), so callers prefix them
    /// (`optimizer.lr`).
    pub fn validate(&self) -> Result<OptimizerKind, Vec<FieldError>> {
        let mut errs = Vec::new();
        report_unknown("", &self.unknown, &mut errs);
        let fields: [(&str, Option<f64>, Range); 9] = [
            ("lr", self.lr, Range::Positive),
            ("beta", self.beta, Range::Fraction),
            ("rho", self.rho, Range::Fraction),
            ("beta1", self.beta1, Range::Fraction),
            ("beta2", self.beta2, Range::Fraction),
            ("eps", self.eps, Range::Positive),
            ("weight_decay", self.weight_decay, Range::NonNegative),
            ("momentum", self.momentum, Range::Fraction),
            ("trust_coefficient", self.trust_coefficient, Range::Positive),
        ];
        for (field, value, range) in fields {
            if let Some(v) = value
                && let Some(problem) = range.check(v)
            {
                errs.push(FieldError::new(field, problem));
            }
        }
        let allowed: &[&str] = match self.name.as_str() {
            "sgd" => &["lr"],
            "momentum" | "sgd_momentum" => &["lr", "beta"],
            "adagrad" => &["lr", "eps"],
            "rmsprop" => &["lr", "rho", "eps"],
            "adam" => &["lr", "beta1", "beta2", "eps"],
            "adamw" => &["lr", "beta1", "beta2", "eps", "weight_decay"],
            "lars" => &["lr", "momentum", "trust_coefficient", "weight_decay", "eps"],
            other => {
                errs.push(unknown_name("name", other, OptimizerKind::NAMES));
                return Err(errs);
            }
        };
        for (field, value, _) in fields {
            if value.is_some() && !allowed.contains(&field) {
                errs.push(FieldError::new(
                    field,
                    format!(
                        "not a parameter of {}; it takes {}",
                        self.name,
                        allowed.join(", ")
                    ),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let or = |v: Option<f64>, d: f64| v.unwrap_or(d);
        Ok(match self.name.as_str() {
            "sgd" => OptimizerKind::Sgd {
                lr: or(self.lr, 0.01),
            },
            "momentum" | "sgd_momentum" => OptimizerKind::Momentum {
                lr: or(self.lr, 0.01),
                beta: or(self.beta, 0.9),
            },
            "adagrad" => OptimizerKind::AdaGrad {
                lr: or(self.lr, 0.01),
                eps: or(self.eps, 1e-8),
            },
            "rmsprop" => OptimizerKind::RmsProp {
                lr: or(self.lr, 0.001),
                rho: or(self.rho, 0.9),
                eps: or(self.eps, 1e-8),
            },
            "adam" => OptimizerKind::Adam {
                lr: or(self.lr, 0.001),
                beta1: or(self.beta1, 0.9),
                beta2: or(self.beta2, 0.999),
                eps: or(self.eps, 1e-8),
            },
            "adamw" => OptimizerKind::AdamW {
                lr: or(self.lr, 0.001),
                beta1: or(self.beta1, 0.9),
                beta2: or(self.beta2, 0.999),
                eps: or(self.eps, 1e-8),
                weight_decay: or(self.weight_decay, 0.01),
            },
            _ => OptimizerKind::Lars {
                lr: or(self.lr, 0.1),
                momentum: or(self.momentum, 0.9),
                trust_coefficient: or(self.trust_coefficient, 0.01),
                weight_decay: or(self.weight_decay, 0.0),
                eps: or(self.eps, 1e-9),
            },
        })
    }
}

#[derive(Clone, Copy)]
enum Range {
    Positive,
    NonNegative,
    Fraction,
}

impl Range {
    fn check(self, v: f64) -> Option<String> {
        let ok = v.is_finite()
            && match self {
                Range::Positive => v > 0.0,
                Range::NonNegative => v >= 0.0,
                Range::Fraction => (0.0..1.0).contains(&v),
            };
        (!ok).then(|| match self {
            Range::Positive => format!("must be a finite number > 0 (got {v})"),
            Range::NonNegative => format!("must be a finite number ≥ 0 (got {v})"),
            Range::Fraction => format!("must be in [0, 1) (got {v})"),
        })
    }
}

/// A validated optimizer with every hyper-parameter resolved. Defaults (applied by
/// [`OptimizerConfig::validate`]) are given per field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// Plain gradient descent.
    Sgd {
        /// Learning rate; default 0.01.
        lr: f64,
    },
    /// Heavy-ball momentum.
    Momentum {
        /// Learning rate; default 0.01.
        lr: f64,
        /// Velocity decay β; default 0.9.
        beta: f64,
    },
    /// AdaGrad: per-parameter steps shrink with the sum of past squared gradients.
    AdaGrad {
        /// Learning rate; default 0.01.
        lr: f64,
        /// Denominator guard; default 1e-8.
        eps: f64,
    },
    /// RMSprop: steps scaled by a moving average of squared gradients.
    RmsProp {
        /// Learning rate; default 0.001.
        lr: f64,
        /// Average decay ρ; default 0.9.
        rho: f64,
        /// Denominator guard; default 1e-8.
        eps: f64,
    },
    /// Adam with bias correction.
    Adam {
        /// Learning rate; default 0.001.
        lr: f64,
        /// First-moment decay β₁; default 0.9.
        beta1: f64,
        /// Second-moment decay β₂; default 0.999.
        beta2: f64,
        /// Denominator guard; default 1e-8.
        eps: f64,
    },
    /// Adam with decoupled weight decay (Loshchilov & Hutter).
    AdamW {
        /// Learning rate; default 0.001.
        lr: f64,
        /// First-moment decay β₁; default 0.9.
        beta1: f64,
        /// Second-moment decay β₂; default 0.999.
        beta2: f64,
        /// Denominator guard; default 1e-8.
        eps: f64,
        /// Decoupled decay λ, scaled by lr; default 0.01.
        weight_decay: f64,
    },
    /// Layer-wise adaptive rate scaling (You et al., 2017), with momentum.
    Lars {
        /// Global learning rate; default 0.1.
        lr: f64,
        /// Momentum μ; default 0.9.
        momentum: f64,
        /// Trust coefficient η; default 0.01, so a step moves a tensor by about
        /// lr·η = 0.1% of its norm before momentum.
        trust_coefficient: f64,
        /// Weight decay λ, inside the trust ratio; default 0.
        weight_decay: f64,
        /// Denominator guard; default 1e-9.
        eps: f64,
    },
}

impl OptimizerKind {
    /// The names accepted in configs.
    pub const NAMES: &'static [&'static str] = &[
        "sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw", "lars",
    ];

    /// The config name.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerKind::Sgd { .. } => "sgd",
            OptimizerKind::Momentum { .. } => "momentum",
            OptimizerKind::AdaGrad { .. } => "adagrad",
            OptimizerKind::RmsProp { .. } => "rmsprop",
            OptimizerKind::Adam { .. } => "adam",
            OptimizerKind::AdamW { .. } => "adamw",
            OptimizerKind::Lars { .. } => "lars",
        }
    }

    /// The configured (base) learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerKind::Sgd { lr }
            | OptimizerKind::Momentum { lr, .. }
            | OptimizerKind::AdaGrad { lr, .. }
            | OptimizerKind::RmsProp { lr, .. }
            | OptimizerKind::Adam { lr, .. }
            | OptimizerKind::AdamW { lr, .. }
            | OptimizerKind::Lars { lr, .. } => lr,
        }
    }

    /// State values kept per parameter value: SGD 0; momentum, AdaGrad, RMSprop
    /// and LARS 1; Adam and AdamW 2.
    pub fn state_len(&self) -> usize {
        match self {
            OptimizerKind::Sgd { .. } => 0,
            OptimizerKind::Momentum { .. }
            | OptimizerKind::AdaGrad { .. }
            | OptimizerKind::RmsProp { .. }
            | OptimizerKind::Lars { .. } => 1,
            OptimizerKind::Adam { .. } | OptimizerKind::AdamW { .. } => 2,
        }
    }
}

/// An optimizer with its state. Parameters are identified by their position
/// (slot) in the list given to [`Optimizer::step`], which must be the same at
/// every step.
#[derive(Debug, Clone)]
pub struct Optimizer<F: Float = f32> {
    /// Which update rule, with its hyper-parameters.
    kind: OptimizerKind,
    /// The learning rate in force (the schedule changes it per epoch).
    lr: f64,
    /// Number of steps taken, for Adam's bias correction.
    t: u64,
    /// Per slot: `state_len()` blocks of the parameter's length, laid out one after another.
    state: Vec<Vec<F>>,
}

impl<F: Float> Optimizer<F> {
    /// A fresh optimizer: no steps taken, all state zero.
    pub fn new(kind: OptimizerKind) -> Self {
        Self {
            kind,
            lr: kind.lr(),
            t: 0,
            state: Vec::new(),
        }
    }

    /// The update rule.
    pub fn kind(&self) -> OptimizerKind {
        self.kind
    }

    /// State values kept per parameter value (see [`OptimizerKind::state_len`]).
    pub fn state_len(&self) -> usize {
        self.kind.state_len()
    }

    /// Total state values held now, over every parameter seen.
    pub fn state_values(&self) -> usize {
        self.state.iter().map(Vec::len).sum()
    }

    /// The state of one slot (empty before its first step, or for SGD).
    pub fn state(&self, slot: usize) -> &[F] {
        self.state.get(slot).map_or(&[], Vec::as_slice)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The learning rate in force.
    pub fn learning_rate(&self) -> f64 {
        self.lr
    }

    /// Replaces the learning rate in force (used by schedules).
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// One optimisation step over every (parameter, gradient) pair, in slot order.
    pub fn step(&mut self, params: &mut [(&mut [F], &[F])]) {
        self.t += 1;
        if self.state.len() < params.len() {
            self.state.resize_with(params.len(), Vec::new);
        }
        let per = self.kind.state_len();
        for (slot, (w, g)) in params.iter_mut().enumerate() {
            assert_eq!(
                w.len(),
                g.len(),
                "optimizer: parameter and gradient lengths differ"
            );
            let state = &mut self.state[slot];
            if state.len() != per * w.len() {
                *state = vec![F::zero(); per * w.len()];
            }
            update(self.kind, self.lr, self.t, w, g, state);
        }
    }
}

fn update<F: Float>(kind: OptimizerKind, lr: f64, t: u64, w: &mut [F], g: &[F], state: &mut [F]) {
    let lr_f = F::of(lr);
    let one = F::one();
    match kind {
        OptimizerKind::Sgd { .. } => {
            for (w, &g) in w.iter_mut().zip(g) {
                *w -= lr_f * g;
            }
        }
        OptimizerKind::Momentum { beta, .. } => {
            let beta = F::of(beta);
            for ((w, &g), v) in w.iter_mut().zip(g).zip(state.iter_mut()) {
                *v = beta * *v + g;
                *w -= lr_f * *v;
            }
        }
        OptimizerKind::AdaGrad { eps, .. } => {
            let eps = F::of(eps);
            for ((w, &g), acc) in w.iter_mut().zip(g).zip(state.iter_mut()) {
                *acc += g * g;
                *w -= lr_f * g / (acc.sqrt() + eps);
            }
        }
        OptimizerKind::RmsProp { rho, eps, .. } => {
            let (rho, eps) = (F::of(rho), F::of(eps));
            for ((w, &g), s) in w.iter_mut().zip(g).zip(state.iter_mut()) {
                *s = rho * *s + (one - rho) * g * g;
                *w -= lr_f * g / (s.sqrt() + eps);
            }
        }
        OptimizerKind::Adam {
            beta1, beta2, eps, ..
        } => {
            adam(w, g, state, lr, t, beta1, beta2, eps, 0.0);
        }
        OptimizerKind::AdamW {
            beta1,
            beta2,
            eps,
            weight_decay,
            ..
        } => {
            adam(w, g, state, lr, t, beta1, beta2, eps, weight_decay);
        }
        OptimizerKind::Lars {
            momentum,
            trust_coefficient,
            weight_decay,
            eps,
            ..
        } => {
            let w_norm = w.iter().map(|v| v.as_f64().powi(2)).sum::<f64>().sqrt();
            let g_norm = g.iter().map(|v| v.as_f64().powi(2)).sum::<f64>().sqrt();
            let trust = if w_norm > 0.0 && g_norm > 0.0 {
                trust_coefficient * w_norm / (g_norm + weight_decay * w_norm + eps)
            } else {
                1.0
            };
            let (mu, step, wd) = (F::of(momentum), F::of(lr * trust), F::of(weight_decay));
            for ((w, &g), v) in w.iter_mut().zip(g).zip(state.iter_mut()) {
                *v = mu * *v + step * (g + wd * *w);
                *w -= *v;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn adam<F: Float>(
    w: &mut [F],
    g: &[F],
    state: &mut [F],
    lr: f64,
    t: u64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
) {
    let (m, v) = state.split_at_mut(w.len());
    let t = i32::try_from(t).unwrap_or(i32::MAX);
    // Bias corrections in f64: 1 − β₂ᵗ is tiny for small t and would lose digits in f32.
    let c1 = F::of(1.0 / (1.0 - beta1.powi(t)));
    let c2 = F::of(1.0 / (1.0 - beta2.powi(t)));
    let (b1, b2, eps, lr, wd) = (
        F::of(beta1),
        F::of(beta2),
        F::of(eps),
        F::of(lr),
        F::of(weight_decay),
    );
    let one = F::one();
    // Zipped iterators instead of indexing: no bounds checks in the hottest loop.
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = b1 * *m + (one - b1) * g;
        *v = b2 * *v + (one - b2) * g * g;
        let m_hat = *m * c1;
        let v_hat = *v * c2;
        *w -= lr * (m_hat / (v_hat.sqrt() + eps) + wd * *w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(json: &str) -> OptimizerKind {
        serde_json::from_str::<OptimizerConfig>(json)
            .unwrap()
            .validate()
            .unwrap()
    }

    /// Two steps from zero state on w = [1, −2] with gradients [0.5, −1] then
    /// [0.25, 0.5]; returns w after each step.
    fn two_steps(kind: OptimizerKind) -> ([f64; 2], [f64; 2]) {
        let mut opt = Optimizer::<f64>::new(kind);
        let mut w = [1.0, -2.0];
        opt.step(&mut [(&mut w[..], &[0.5, -1.0][..])]);
        let first = w;
        opt.step(&mut [(&mut w[..], &[0.25, 0.5][..])]);
        (first, w)
    }

    fn assert_near(got: [f64; 2], want: [f64; 2], what: &str) {
        for i in 0..2 {
            assert!(
                (got[i] - want[i]).abs() < 1e-12,
                "{what}: w[{i}] = {} but the hand computation gives {}",
                got[i],
                want[i]
            );
        }
    }

    #[test]
    fn sgd_steps_match_hand_computation() {
        // w − 0.1·g: [1 − 0.05, −2 + 0.1] = [0.95, −1.9]; then [0.925, −1.95].
        let (a, b) = two_steps(kind(r#"{"name":"sgd","lr":0.1}"#));
        assert_near(a, [0.95, -1.9], "sgd step 1");
        assert_near(b, [0.925, -1.95], "sgd step 2");
    }

    #[test]
    fn momentum_steps_match_hand_computation() {
        // v₁ = g₁ = [0.5, −1]; w₁ = [0.95, −1.9].
        // v₂ = 0.9·[0.5, −1] + [0.25, 0.5] = [0.7, −0.4]; w₂ = [0.95 − 0.07, −1.9 + 0.04].
        let (a, b) = two_steps(kind(r#"{"name":"momentum","lr":0.1,"beta":0.9}"#));
        assert_near(a, [0.95, -1.9], "momentum step 1");
        assert_near(b, [0.88, -1.86], "momentum step 2");
    }

    // The adaptive optimizers below are worked by hand with ε neglected (good to about
    // 1e-8), and the exact values with ε = 1e-8 were recomputed independently with
    // Python 3 + NumPy 2.4.6 in a scratch directory (the update formulas of the module
    // table, two steps from zero state); the test checks both.

    #[test]
    fn adagrad_steps_match_hand_computation() {
        // G₁ = g₁² = [0.25, 1]; w₁ = w − 0.1·g₁/√G₁ = w − 0.1·sign(g₁) = [0.9, −1.9].
        // G₂ = [0.3125, 1.25]; w₂ = w₁ − 0.1·[0.25/0.5590169944, 0.5/1.1180339887]
        //    = w₁ − [0.0447213595, 0.0447213595] = [0.8552786405, −1.9447213595].
        let (a, b) = two_steps(kind(r#"{"name":"adagrad","lr":0.1}"#));
        assert_near(a, [0.900000002, -1.900000001], "adagrad step 1");
        assert_near(
            b,
            [0.8552786432500041, -1.9447213601499957],
            "adagrad step 2",
        );
        assert!((b[0] - 0.8552786405).abs() < 1e-8 && (b[1] + 1.9447213595).abs() < 1e-8);
    }

    #[test]
    fn rmsprop_steps_match_hand_computation() {
        // ρ = 0.9: s₁ = 0.1·g₁² = [0.025, 0.1]; step = 0.01·[0.5/0.1581138830, −1/0.3162277660]
        //    = [0.0316227766, −0.0316227766]; w₁ = [0.9683772234, −1.9683772234].
        // s₂ = 0.9·s₁ + 0.1·g₂² = [0.02875, 0.115];
        // step = 0.01·[0.25/0.1695582496, 0.5/0.3391164992] = [0.0147441956, 0.0147441956];
        // w₂ = [0.9536330278, −1.9831214190].
        let (a, b) = two_steps(kind(r#"{"name":"rmsprop","lr":0.01,"rho":0.9,"eps":1e-8}"#));
        assert_near(
            a,
            [0.968377225398316, -1.9683772243983162],
            "rmsprop step 1",
        );
        assert_near(
            b,
            [0.9536330306523915, -1.9831214195790232],
            "rmsprop step 2",
        );
        assert!((b[0] - 0.9536330278).abs() < 1e-8 && (b[1] + 1.9831214190).abs() < 1e-8);
    }

    #[test]
    fn adam_steps_match_hand_computation() {
        // Step 1: m̂ = g, v̂ = g², so the step is lr·sign(g): w₁ = [0.99, −1.99].
        // Step 2, element 0: m = 0.9·0.05 + 0.1·0.25 = 0.07; m̂ = 0.07/0.19 = 0.3684210526;
        //   v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225; v̂ = 0.00031225/0.001999 = 0.1562031016;
        //   step = 0.01·0.3684210526/0.3952253808 = 0.0093217940.
        // Element 1: m = 0.9·(−0.1) + 0.05 = −0.04; m̂ = −0.2105263158;
        //   v = 0.999·0.001 + 0.001·0.25 = 0.001249; v̂ = 0.6248124062;
        //   step = 0.01·(−0.2105263158)/0.7904507614 = −0.0026633693.
        let (a, b) = two_steps(kind(r#"{"name":"adam","lr":0.01}"#));
        assert_near(a, [0.9900000002, -1.9900000001], "adam step 1");
        assert_near(b, [0.9806782040477462, -1.9873366297370902], "adam step 2");
        assert!((b[0] - (0.99 - 0.0093217940)).abs() < 1e-8);
        assert!((b[1] - (-1.99 + 0.0026633693)).abs() < 1e-8);
    }

    #[test]
    fn adamw_adds_decoupled_weight_decay_to_the_adam_step() {
        // λ = 0.1, lr = 0.01: step 1 is Adam's [0.01, −0.01] plus lr·λ·w₀ = [0.001, −0.002]:
        // w₁ = [0.989, −1.988]. Step 2 is Adam's [0.0093217940, −0.0026633693] (its moments
        // do not see the decay) plus lr·λ·w₁ = [0.000989, −0.001988]:
        // w₂ = [0.9786892060, −1.9833486307].
        let (a, b) = two_steps(kind(r#"{"name":"adamw","lr":0.01,"weight_decay":0.1}"#));
        assert_near(a, [0.9890000002, -1.9880000001], "adamw step 1");
        assert_near(b, [0.9786892040475462, -1.9833486297369902], "adamw step 2");
        assert!((b[0] - 0.9786892060).abs() < 1e-8 && (b[1] + 1.9833486307).abs() < 1e-8);
    }

    #[test]
    fn lars_steps_match_hand_computation() {
        // lr = 1, η = 0.1, μ = 0.9, λ = 0, ε = 0: ‖w‖ = √5 = 2.2360679775, ‖g₁‖ = √1.25 = 1.1180339887,
        // trust = 0.1·2 = 0.2; v₁ = 0.2·g₁ = [0.1, −0.2]; w₁ = [0.9, −1.8].
        // ‖w₁‖ = √4.05 = 2.0124611797, ‖g₂‖ = √0.3125 = 0.5590169944, trust = 0.36;
        // v₂ = 0.9·v₁ + 0.36·g₂ = [0.09 + 0.09, −0.18 + 0.18] = [0.18, 0]; w₂ = [0.72, −1.8].
        let (a, b) = two_steps(kind(
            r#"{"name":"lars","lr":1.0,"trust_coefficient":0.1,"momentum":0.9,"weight_decay":0,"eps":1e-300}"#,
        ));
        assert_near(a, [0.9, -1.8], "lars step 1");
        assert_near(b, [0.72, -1.8], "lars step 2");
    }

    #[test]
    fn state_len_follows_the_table_and_matches_the_state_kept() {
        for (name, per) in [
            ("sgd", 0),
            ("momentum", 1),
            ("adagrad", 1),
            ("rmsprop", 1),
            ("adam", 2),
            ("adamw", 2),
            ("lars", 1),
        ] {
            let mut opt = Optimizer::<f32>::new(kind(&format!(r#"{{"name":"{name}"}}"#)));
            assert_eq!(opt.state_len(), per, "{name}");
            let (mut w, mut b) = ([1.0f32; 6], [0.0f32; 2]);
            opt.step(&mut [(&mut w[..], &[0.1; 6][..]), (&mut b[..], &[0.1; 2][..])]);
            assert_eq!(opt.state_values(), per * 8, "{name}");
        }
    }

    #[test]
    fn every_optimizer_drives_least_squares_to_its_known_minimum() {
        // J(w) = (1/2m)‖Aw − b‖² with b = A·w*, so the unique minimum is w* = [2, −1, 0.5].
        let a = [
            [1.0, 0.0, 1.0],
            [0.0, 2.0, 1.0],
            [1.0, 1.0, 0.0],
            [3.0, 0.0, 1.0],
        ];
        let w_star = [2.0, -1.0, 0.5];
        let b: Vec<f64> = a
            .iter()
            .map(|r| (0..3).map(|j| r[j] * w_star[j]).sum())
            .collect();
        for (json, steps) in [
            (r#"{"name":"sgd","lr":0.1}"#, 3000),
            (r#"{"name":"momentum","lr":0.05}"#, 3000),
            (r#"{"name":"adagrad","lr":0.5}"#, 3000),
            (r#"{"name":"rmsprop","lr":0.01}"#, 3000),
            (r#"{"name":"adam","lr":0.05}"#, 3000),
            (r#"{"name":"adamw","lr":0.05,"weight_decay":0.0}"#, 3000),
            (r#"{"name":"lars","lr":1.0,"trust_coefficient":0.05}"#, 3000),
        ] {
            let kind = kind(json);
            let mut opt = Optimizer::<f64>::new(kind);
            let mut w = [0.3, 0.3, 0.3];
            for step in 0..steps {
                // Cosine decay to 0 so the adaptive methods settle instead of hovering.
                let frac = step as f64 / steps as f64;
                opt.set_learning_rate(
                    kind.lr() * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos()),
                );
                let mut g = [0.0; 3];
                for (row, &bi) in a.iter().zip(&b) {
                    let r: f64 = (0..3).map(|j| row[j] * w[j]).sum::<f64>() - bi;
                    for j in 0..3 {
                        g[j] += row[j] * r / a.len() as f64;
                    }
                }
                opt.step(&mut [(&mut w[..], &g[..])]);
            }
            let err = (0..3).map(|j| (w[j] - w_star[j]).abs()).fold(0.0, f64::max);
            assert!(
                err < 1e-3,
                "{}: ended at {w:?}, {err} from the minimum",
                kind.name()
            );
        }
    }

    #[test]
    fn bad_optimizer_fields_are_all_reported() {
        let cfg: OptimizerConfig =
            serde_json::from_str(r#"{"name":"adam","lr":-1,"beta1":1.5,"rho":0.9,"momentun":0.9}"#)
                .unwrap();
        let errs = cfg.validate().unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["momentun", "lr", "beta1", "rho"], "{errs:?}");
        let mut nan = OptimizerConfig::named("sgd");
        nan.lr = Some(f64::NAN);
        assert!(nan.validate().unwrap_err()[0].message.contains("NaN"));
        let unknown = OptimizerConfig::named("adamax")
            .with_lr(-0.1)
            .validate()
            .unwrap_err();
        assert_eq!(unknown.len(), 2, "{unknown:?}");
    }
}
