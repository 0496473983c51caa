//! The errors of the NN core: invalid configs (every bad field listed), bad
//! input shapes or values, divergence during training, and refused artifacts.

use serde::{Deserialize, Serialize};

/// One problem with one field of a config, e.g. `layers[0].units: must be at least 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Path of the field, as in `layers[0].units`, `optimizer.lr` or `batch_size`.
    pub field: String,
    /// What is wrong with it, with the offending value.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same problem seen from an enclosing config: `network` + `layers[0].units`
    /// gives `network.layers[0].units`.
    pub fn prefixed(&self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}.{}", self.field),
            message: self.message.clone(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn list_problems(problems: &[FieldError]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn loss_place(batch: usize) -> String {
    if batch == 0 {
        "validation loss".to_owned()
    } else {
        format!("loss of batch {batch}")
    }
}

/// Everything that can go wrong in the NN core.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A network or fit config has one or more bad fields; all are listed.
    #[error("invalid configuration ({} problem(s)): {}", problems.len(), list_problems(problems))]
    InvalidConfig {
        /// Every problem found, in field order.
        problems: Vec<FieldError>,
    },
    /// An input array does not have the shape the model needs.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// Which input (e.g. "x columns").
        what: String,
        /// The size the model needs.
        expected: usize,
        /// The size given.
        got: usize,
    },
    /// A training or fitting input holds NaN or an infinity.
    #[error("{what} holds a non-finite value ({value}) at row {row}, column {column}")]
    NonFiniteInput {
        /// Which input ("x" or "y").
        what: &'static str,
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based).
        column: usize,
        /// The value found.
        value: f64,
    },
    /// A logistic-regression label outside [0, 1].
    #[error("label {value} at row {row} is outside [0, 1]")]
    InvalidLabel {
        /// Row index (0-based).
        row: usize,
        /// The label found.
        value: f64,
    },
    /// An update made a parameter NaN or infinite although the loss was still finite.
    #[error(
        "training diverged: parameter \"{name}\" became non-finite in epoch {epoch}; no model was produced (lower the learning rate or set clip_grad_norm)"
    )]
    NonFiniteWeights {
        /// 1-based epoch.
        epoch: usize,
        /// The first parameter found non-finite, e.g. "layers.0.weight".
        name: String,
    },
    /// There are too few rows to do what was asked.
    #[error("too few rows: {0}")]
    TooFewRows(String),
    /// The loss became NaN or infinite; training stopped and produced no model.
    #[error(
        "training diverged: the {} became {loss} in epoch {epoch}; no model was produced (lower the learning rate or set clip_grad_norm)",
        loss_place(*.batch)
    )]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based mini-batch within the epoch; 0 when it was the validation loss.
        batch: usize,
        /// The loss value (NaN or ±inf).
        loss: f64,
    },
    /// The artifact is not JSON of the expected form.
    #[error("model artifact is not readable: {0}")]
    ArtifactFormat(String),
    /// The artifact was written by an incompatible format version.
    #[error("model artifact has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// Version in the file.
        found: u64,
        /// Version this build reads.
        supported: u32,
    },
    /// A parameter the config needs is not in the artifact.
    #[error("model artifact lacks parameter \"{name}\"")]
    MissingParameter {
        /// e.g. "layers.0.weight".
        name: String,
    },
    /// The artifact holds a parameter the config does not have (or holds it twice).
    #[error("model artifact has an unexpected or duplicate parameter \"{name}\"")]
    UnexpectedParameter {
        /// The parameter's name.
        name: String,
    },
    /// A parameter's declared shape differs from what the config needs.
    #[error("model artifact parameter \"{name}\" has shape {got:?}; the config needs {expected:?}")]
    ParameterShape {
        /// The parameter's name.
        name: String,
        /// Shape the config implies.
        expected: Vec<usize>,
        /// Shape in the artifact.
        got: Vec<usize>,
    },
    /// A parameter's value count does not match its shape.
    #[error("model artifact parameter \"{name}\" holds {got} values; its shape needs {expected}")]
    ParameterLength {
        /// The parameter's name.
        name: String,
        /// Product of the shape.
        expected: usize,
        /// Number of values found.
        got: usize,
    },
    /// A parameter holds NaN or an infinity.
    #[error("model artifact parameter \"{name}\" has a non-finite value at index {index}")]
    NonFiniteParameter {
        /// The parameter's name.
        name: String,
        /// Flat index of the first bad value.
        index: usize,
    },
    /// The saved scaler does not fit the network's inputs.
    #[error("model artifact scaler is invalid: {0}")]
    InvalidScaler(String),
}

impl NnError {
    /// Wraps config problems; callers only build this when the list is non-empty.
    pub(crate) fn invalid(problems: Vec<FieldError>) -> Self {
        NnError::InvalidConfig { problems }
    }
}
