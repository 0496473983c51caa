//! The network config: plain serde data (the JSON of issue 2), parsed leniently
//! so that validation can report every bad field at once, and its validated,
//! typed form [`NetworkSpec`].
//!
//! Names (activations, layer kinds, losses, init) are read as strings and
//! checked by [`NetworkConfig::validate`]; unknown keys are collected rather
//! than ignored, so a misspelt `"activaton"` is reported instead of silently
//! falling back to a default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Activation, FieldError, Init, Loss};

/// Unknown keys found next to the known ones; each is reported by validation.
pub type UnknownFields = BTreeMap<String, serde_json::Value>;

/// A feed-forward network: hidden layers, an output layer, a loss, an initialiser and a seed.
///
/// ```json
/// {"layers":[{"units":64,"activation":"relu"},{"units":32,"activation":"elu","alpha":1.0},
///            {"kind":"maxout","units":16,"pieces":2}],
///  "output":{"units":2,"activation":"identity"},"loss":"mse","init":"he","seed":42}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// Hidden layers, input side first. May be empty (a linear or logistic model).
    #[serde(default)]
    pub layers: Vec<LayerConfig>,
    /// The output layer.
    pub output: OutputConfig,
    /// The training loss (default "mse").
    #[serde(default)]
    pub loss: LossConfig,
    /// "he" (default) or "xavier" (alias "glorot").
    #[serde(default = "default_init")]
    pub init: String,
    /// Seed of the weight initialisation; [`NetworkConfig::DEFAULT_SEED`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Keys this version does not know; validation reports each of them.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

fn default_init() -> String {
    "he".to_owned()
}

impl Default for NetworkConfig {
    /// No hidden layer, one linear output, MSE, He init.
    fn default() -> Self {
        Self {
            layers: Vec::new(),
            output: OutputConfig::new(1, "identity"),
            loss: LossConfig::default(),
            init: default_init(),
            seed: None,
            unknown: UnknownFields::new(),
        }
    }
}

/// One hidden layer: `{"units":64,"activation":"relu"}`, `{"units":32,"activation":"elu","alpha":1.0}`,
/// `{"units":8,"activation":"leaky_relu","slope":0.1}` or `{"kind":"maxout","units":16,"pieces":2}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerConfig {
    /// "dense" (default) or "maxout".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Output width (≥ 1). Missing reads as 0 and is reported.
    #[serde(default)]
    pub units: usize,
    /// Activation name for a dense layer; maxout has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// ELU alpha (default 1.0); only with "elu".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Leaky-ReLU slope (default 0.1); only with "leaky_relu".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope: Option<f64>,
    /// Linear pieces per maxout unit (default 2, at least 2); only with "maxout".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces: Option<usize>,
    /// Keys this version does not know; validation reports each of them.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl LayerConfig {
    /// The `kind` of a maxout layer (a dense layer's kind, the default, is "dense").
    pub const MAXOUT: &'static str = "maxout";
    /// The layer kinds accepted in `kind`.
    pub const KINDS: &'static [&'static str] = &["dense", Self::MAXOUT];

    /// A dense layer with the named activation.
    pub fn dense(units: usize, activation: &str) -> Self {
        Self {
            kind: None,
            units,
            activation: Some(activation.to_owned()),
            alpha: None,
            slope: None,
            pieces: None,
            unknown: UnknownFields::new(),
        }
    }

    /// A maxout layer.
    pub fn maxout(units: usize, pieces: usize) -> Self {
        Self {
            kind: Some(Self::MAXOUT.to_owned()),
            units,
            activation: None,
            alpha: None,
            slope: None,
            pieces: Some(pieces),
            unknown: UnknownFields::new(),
        }
    }
}

/// The output layer: `{"units":2,"activation":"identity"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputConfig {
    /// Number of outputs (≥ 1). Missing reads as 0 and is reported.
    #[serde(default)]
    pub units: usize,
    /// Activation name (default "identity").
    #[serde(default = "default_output_activation")]
    pub activation: String,
    /// ELU alpha; only with "elu".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Leaky-ReLU slope; only with "leaky_relu".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope: Option<f64>,
    /// Keys this version does not know; validation reports each of them.
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

fn default_output_activation() -> String {
    "identity".to_owned()
}

impl OutputConfig {
    /// An output layer with the named activation.
    pub fn new(units: usize, activation: &str) -> Self {
        Self {
            units,
            activation: activation.to_owned(),
            alpha: None,
            slope: None,
            unknown: UnknownFields::new(),
        }
    }
}

/// The loss: a name (`"huber"`) or an object with parameters (`{"name":"huber","delta":0.5}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LossConfig {
    /// Just the name; parameters take their defaults.
    Name(String),
    /// Name and parameters.
    Detailed {
        /// "mse", "huber", "bce" or "softmax_cross_entropy".
        name: String,
        /// Huber delta (default 1.0); only with "huber".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delta: Option<f64>,
    },
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig::Name("mse".to_owned())
    }
}

/// A validated hidden layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerSpec {
    /// Z = X·W + b followed by the activation.
    Dense {
        /// Output width.
        units: usize,
        /// Activation after the affine map.
        activation: Activation,
    },
    /// Max over `pieces` affine maps per unit.
    Maxout {
        /// Output width.
        units: usize,
        /// Pieces per unit.
        pieces: usize,
    },
}

impl LayerSpec {
    /// Output width of the layer.
    pub fn units(&self) -> usize {
        match *self {
            LayerSpec::Dense { units, .. } | LayerSpec::Maxout { units, .. } => units,
        }
    }
}

/// A validated [`NetworkConfig`]: every name resolved, every number in range.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// Hidden layers, input side first.
    pub hidden: Vec<LayerSpec>,
    /// Number of outputs.
    pub output_units: usize,
    /// Activation of the output layer.
    pub output_activation: Activation,
    /// Training loss.
    pub loss: Loss,
    /// Weight initialiser.
    pub init: Init,
    /// Initialisation seed.
    pub seed: u64,
}

impl NetworkConfig {
    /// Seed used when the config gives none.
    pub const DEFAULT_SEED: u64 = 0;

    /// Parses the JSON form, then validates it; serde errors (wrong JSON types)
    /// come back as a single problem at field "network".
    pub fn from_json_str(json: &str) -> Result<NetworkConfig, Vec<FieldError>> {
        serde_json::from_str(json).map_err(|e| vec![FieldError::new("network", e.to_string())])
    }

    /// Checks every field and returns the typed spec, or every problem found.
    pub fn validate(&self) -> Result<NetworkSpec, Vec<FieldError>> {
        let mut errs = Vec::new();
        report_unknown("", &self.unknown, &mut errs);
        let mut hidden = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            if let Some(spec) = validate_layer(&format!("layers[{i}]"), layer, &mut errs) {
                hidden.push(spec);
            }
        }

        let out = &self.output;
        report_unknown("output.", &out.unknown, &mut errs);
        if out.units == 0 {
            errs.push(FieldError::new(
                "output.units",
                "must be at least 1 (got 0 or missing)",
            ));
        }
        let output_activation = parse_activation(
            "output",
            Some(&out.activation),
            out.alpha,
            out.slope,
            &mut errs,
        );

        let loss = validate_loss(&self.loss, &mut errs);
        if let (Some(loss), Some(act)) = (loss, output_activation) {
            match loss {
                Loss::SoftmaxCrossEntropy if act != Activation::Softmax || out.units < 2 => {
                    errs.push(FieldError::new(
                        "loss",
                        format!(
                            "softmax_cross_entropy needs a softmax output with at least 2 units; the output has {} unit(s) with activation \"{}\"",
                            out.units,
                            act.name()
                        ),
                    ))
                }
                Loss::Bce if act != Activation::Sigmoid => errs.push(FieldError::new(
                    "loss",
                    format!(
                        "bce needs a sigmoid output (it is computed from the logits); the output activation is \"{}\"",
                        act.name()
                    ),
                )),
                _ => {}
            }
            if act == Activation::Softmax && out.units < 2 {
                errs.push(FieldError::new(
                    "output.activation",
                    "softmax over a single output is the constant 1; use sigmoid",
                ));
            }
        }

        let init = Init::from_name(&self.init);
        if init.is_none() {
            errs.push(unknown_name("init", &self.init, Init::NAMES));
        }

        match (errs.is_empty(), output_activation, loss, init) {
            (true, Some(output_activation), Some(loss), Some(init)) => Ok(NetworkSpec {
                hidden,
                output_units: out.units,
                output_activation,
                loss,
                init,
                seed: self.seed.unwrap_or(Self::DEFAULT_SEED),
            }),
            _ => Err(errs),
        }
    }
}

fn validate_layer(
    path: &str,
    layer: &LayerConfig,
    errs: &mut Vec<FieldError>,
) -> Option<LayerSpec> {
    report_unknown(&format!("{path}."), &layer.unknown, errs);
    if layer.units == 0 {
        errs.push(FieldError::new(
            format!("{path}.units"),
            "must be at least 1 (got 0 or missing)",
        ));
    }
    match layer.kind.as_deref().unwrap_or("dense") {
        "dense" => {
            if layer.pieces.is_some() {
                errs.push(FieldError::new(
                    format!("{path}.pieces"),
                    "only maxout layers have pieces",
                ));
            }
            if layer.activation.is_none() {
                errs.push(FieldError::new(
                    format!("{path}.activation"),
                    format!("missing; expected one of {}", Activation::NAMES.join(", ")),
                ));
            }
            let activation = parse_activation(
                path,
                layer.activation.as_deref(),
                layer.alpha,
                layer.slope,
                errs,
            )?;
            Some(LayerSpec::Dense {
                units: layer.units,
                activation,
            })
        }
        LayerConfig::MAXOUT => {
            for (field, present) in [
                ("activation", layer.activation.is_some()),
                ("alpha", layer.alpha.is_some()),
                ("slope", layer.slope.is_some()),
            ] {
                if present {
                    errs.push(FieldError::new(
                        format!("{path}.{field}"),
                        "a maxout layer has no activation: it takes the max of its pieces",
                    ));
                }
            }
            let pieces = layer.pieces.unwrap_or(2);
            if pieces < 2 {
                errs.push(FieldError::new(
                    format!("{path}.pieces"),
                    format!("must be at least 2 (got {pieces})"),
                ));
            }
            Some(LayerSpec::Maxout {
                units: layer.units,
                pieces,
            })
        }
        other => {
            errs.push(unknown_name(
                &format!("{path}.kind"),
                other,
                LayerConfig::KINDS,
            ));
            None
        }
    }
}

/// Resolves an activation name and its parameter; `None` (with problems pushed) when invalid.
fn parse_activation(
    path: &str,
    name: Option<&str>,
    alpha: Option<f64>,
    slope: Option<f64>,
    errs: &mut Vec<FieldError>,
) -> Option<Activation> {
    let name = name?;
    let before = errs.len();
    if alpha.is_some() && name != "elu" {
        errs.push(FieldError::new(
            format!("{path}.alpha"),
            "only the elu activation takes alpha",
        ));
    }
    if slope.is_some() && name != "leaky_relu" {
        errs.push(FieldError::new(
            format!("{path}.slope"),
            "only the leaky_relu activation takes slope",
        ));
    }
    let act = match name {
        "identity" | "linear" => Some(Activation::Identity),
        "sigmoid" => Some(Activation::Sigmoid),
        "tanh" => Some(Activation::Tanh),
        "relu" => Some(Activation::Relu),
        "softmax" => Some(Activation::Softmax),
        "leaky_relu" => {
            let slope = slope.unwrap_or(Activation::DEFAULT_LEAKY_SLOPE);
            if !(slope.is_finite() && (0.0..1.0).contains(&slope)) {
                errs.push(FieldError::new(
                    format!("{path}.slope"),
                    format!("must be in [0, 1) (got {slope})"),
                ));
            }
            Some(Activation::LeakyRelu { slope })
        }
        "elu" => {
            let alpha = alpha.unwrap_or(Activation::DEFAULT_ELU_ALPHA);
            if !(alpha.is_finite() && alpha >= 0.0) {
                errs.push(FieldError::new(
                    format!("{path}.alpha"),
                    format!("must be finite and ≥ 0 (got {alpha})"),
                ));
            }
            Some(Activation::Elu { alpha })
        }
        other => {
            errs.push(unknown_name(
                &format!("{path}.activation"),
                other,
                Activation::NAMES,
            ));
            None
        }
    };
    if errs.len() > before { None } else { act }
}

fn validate_loss(loss: &LossConfig, errs: &mut Vec<FieldError>) -> Option<Loss> {
    let (name, delta) = match loss {
        LossConfig::Name(name) => (name.as_str(), None),
        LossConfig::Detailed { name, delta } => (name.as_str(), *delta),
    };
    if delta.is_some() && name != "huber" {
        errs.push(FieldError::new(
            "loss.delta",
            "only the huber loss takes delta",
        ));
        return None;
    }
    match name {
        "mse" => Some(Loss::Mse),
        "bce" | "binary_cross_entropy" | "log_loss" => Some(Loss::Bce),
        "softmax_cross_entropy" | "cross_entropy" => Some(Loss::SoftmaxCrossEntropy),
        "huber" => {
            let delta = delta.unwrap_or(Loss::DEFAULT_HUBER_DELTA);
            if !(delta.is_finite() && delta > 0.0) {
                errs.push(FieldError::new(
                    "loss.delta",
                    format!("must be finite and > 0 (got {delta})"),
                ));
                return None;
            }
            Some(Loss::Huber { delta })
        }
        other => {
            errs.push(unknown_name("loss", other, Loss::NAMES));
            None
        }
    }
}

pub(crate) fn unknown_name(field: &str, got: &str, expected: &[&str]) -> FieldError {
    FieldError::new(
        field,
        format!(
            "unknown name \"{got}\"; expected one of {}",
            expected.join(", ")
        ),
    )
}

pub(crate) fn report_unknown(prefix: &str, unknown: &UnknownFields, errs: &mut Vec<FieldError>) {
    for key in unknown.keys() {
        errs.push(FieldError::new(format!("{prefix}{key}"), "unknown field"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str = r#"{"layers":[{"units":64,"activation":"relu"},{"units":32,"activation":"elu","alpha":1.0},{"kind":"maxout","units":16,"pieces":2}],"output":{"units":2,"activation":"identity"},"loss":"mse","init":"he","seed":42}"#;

    #[test]
    fn the_issue_example_parses_and_validates_as_is() {
        let config: NetworkConfig = serde_json::from_str(ISSUE_EXAMPLE).unwrap();
        let spec = config.validate().unwrap();
        assert_eq!(
            spec.hidden,
            vec![
                LayerSpec::Dense {
                    units: 64,
                    activation: Activation::Relu
                },
                LayerSpec::Dense {
                    units: 32,
                    activation: Activation::Elu { alpha: 1.0 }
                },
                LayerSpec::Maxout {
                    units: 16,
                    pieces: 2
                },
            ]
        );
        assert_eq!(spec.output_units, 2);
        assert_eq!(spec.loss, Loss::Mse);
        assert_eq!(spec.init, Init::He);
        assert_eq!(spec.seed, 42);
        // And it survives a round trip through JSON unchanged.
        let again: NetworkConfig =
            serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn validation_lists_every_bad_field_at_once() {
        let json = r#"{"layers":[{"units":0,"activation":"relu"},
                                  {"units":8,"activation":"swish"},
                                  {"units":4,"activation":"elu","alpha":-1},
                                  {"kind":"maxout","units":4,"pieces":1,"activation":"relu"},
                                  {"units":3,"activaton":"relu"}],
                       "output":{"units":1,"activation":"identity"},
                       "loss":"softmax_cross_entropy","init":"lecun","extra":1}"#;
        let config: NetworkConfig = serde_json::from_str(json).unwrap();
        let errs = config.validate().unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "extra",
            "layers[0].units",
            "layers[1].activation",
            "layers[2].alpha",
            "layers[3].activation",
            "layers[3].pieces",
            "layers[4].activaton",
            "layers[4].activation",
            "loss",
            "init",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} not reported in {errs:?}"
            );
        }
        assert!(errs.iter().any(|e| e.message.contains("\"swish\"")));
    }

    #[test]
    fn a_loss_that_does_not_fit_the_output_is_rejected() {
        let mut config = NetworkConfig {
            output: OutputConfig::new(1, "softmax"),
            loss: LossConfig::Name("softmax_cross_entropy".into()),
            ..NetworkConfig::default()
        };
        let errs = config.validate().unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.field == "loss" && e.message.contains("1 unit"))
        );

        config.output = OutputConfig::new(1, "identity");
        config.loss = LossConfig::Name("bce".into());
        let errs = config.validate().unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.field == "loss" && e.message.contains("sigmoid"))
        );

        config.output = OutputConfig::new(1, "sigmoid");
        assert_eq!(config.validate().unwrap().loss, Loss::Bce);
    }

    #[test]
    fn huber_delta_is_read_from_the_object_form() {
        let config: NetworkConfig = serde_json::from_str(
            r#"{"output":{"units":2},"loss":{"name":"huber","delta":0.5},"init":"xavier"}"#,
        )
        .unwrap();
        let spec = config.validate().unwrap();
        assert_eq!(spec.loss, Loss::Huber { delta: 0.5 });
        assert_eq!(spec.output_activation, Activation::Identity);
        assert_eq!(spec.seed, NetworkConfig::DEFAULT_SEED);
    }
}
