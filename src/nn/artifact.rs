//! The saved form of a network: a format version, the config, the input width,
//! every parameter by name with its shape, and the feature scaler. Loading
//! checks the version, the config, and every parameter's presence, shape,
//! length and values, naming the parameter at fault.
//!
//! The NN core only converts to and from JSON text; writing the file
//! (atomically) is the caller's job.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::{Float, LayerSpec, Network, NetworkConfig, NetworkSpec, NnError, Standardizer};

/// The artifact format this build writes and reads.
pub const ARTIFACT_FORMAT_VERSION: u32 = 1;

/// A network's saved form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkArtifact {
    /// [`ARTIFACT_FORMAT_VERSION`] at the time of writing.
    pub format_version: u32,
    /// The config the network was built from.
    pub config: NetworkConfig,
    /// Input width.
    pub n_inputs: usize,
    /// Every parameter, in [`Network::param_names`] order.
    pub params: Vec<NamedParam>,
    /// The input scaler fitted on the training rows, if the inputs were standardised.
    pub scaler: Option<Standardizer>,
}

/// One parameter tensor: `{"name":"layers.0.weight","shape":[80,64],"values":[…]}`,
/// values in row-major order. Values are stored as f64, which holds an f32 exactly,
/// so a save/load round trip is bit-exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedParam {
    /// e.g. "layers.0.weight", "output.bias".
    pub name: String,
    /// (inputs, units) for a weight, (units) for a bias.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<f64>,
}

impl NetworkArtifact {
    /// Compact JSON text.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("an artifact always serialises")
    }

    /// Parses JSON text, checking the format version before anything else so that a
    /// newer file fails with a version error rather than a confusing field error.
    pub fn from_json_str(json: &str) -> Result<Self, NnError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| NnError::ArtifactFormat(e.to_string()))?;
        Self::from_json_value(value)
    }

    /// [`NetworkArtifact::from_json_str`] from a parsed value (e.g. a field of a larger model file).
    pub fn from_json_value(value: serde_json::Value) -> Result<Self, NnError> {
        let version = value.get("format_version").ok_or_else(|| {
            NnError::ArtifactFormat("missing field \"format_version\"".to_owned())
        })?;
        let found = version.as_u64().ok_or_else(|| {
            NnError::ArtifactFormat(format!("format_version is {version}, not a whole number"))
        })?;
        if found != u64::from(ARTIFACT_FORMAT_VERSION) {
            return Err(NnError::UnsupportedVersion {
                found,
                supported: ARTIFACT_FORMAT_VERSION,
            });
        }
        serde_json::from_value(value).map_err(|e| NnError::ArtifactFormat(e.to_string()))
    }
}

impl<F: Float> Network<F> {
    /// The saved form of this network, with the scaler its inputs went through.
    pub fn to_artifact(&self, scaler: Option<&Standardizer>) -> NetworkArtifact {
        let names = self.param_names();
        let mut params = Vec::with_capacity(names.len());
        for (layer, names) in self.layers().iter().zip(names.chunks(2)) {
            let d = layer.affine();
            params.push(NamedParam {
                name: names[0].clone(),
                shape: d.weight.shape().to_vec(),
                values: d.weight.iter().map(|v| v.as_f64()).collect(),
            });
            params.push(NamedParam {
                name: names[1].clone(),
                shape: d.bias.shape().to_vec(),
                values: d.bias.iter().map(|v| v.as_f64()).collect(),
            });
        }
        NetworkArtifact {
            format_version: ARTIFACT_FORMAT_VERSION,
            config: self.config().clone(),
            n_inputs: self.n_inputs(),
            params,
            scaler: scaler.cloned(),
        }
    }

    /// Rebuilds the network from its saved form. Fails, naming the parameter, on a
    /// missing, duplicate, unexpected, mis-shaped, mis-sized or non-finite parameter;
    /// also on a bad config, version or scaler.
    pub fn from_artifact(artifact: &NetworkArtifact) -> Result<Self, NnError> {
        if artifact.format_version != ARTIFACT_FORMAT_VERSION {
            return Err(NnError::UnsupportedVersion {
                found: u64::from(artifact.format_version),
                supported: ARTIFACT_FORMAT_VERSION,
            });
        }
        // Building the network allocates every weight the config and
        // `n_inputs` declare, so those sizes are checked against the values
        // the file holds first: a forged `n_inputs` of 10^12 is refused
        // rather than allocated. (An invalid config fails in `new` below,
        // before it allocates.)
        if let Ok(spec) = artifact.config.validate() {
            check_declared_sizes(artifact, &spec)?;
        }
        // Building from the config validates it and gives the expected shapes.
        let mut network = Network::<F>::new(&artifact.config, artifact.n_inputs)?;
        let mut by_name: BTreeMap<&str, &NamedParam> = BTreeMap::new();
        for p in &artifact.params {
            if by_name.insert(p.name.as_str(), p).is_some() {
                return Err(NnError::UnexpectedParameter {
                    name: p.name.clone(),
                });
            }
        }
        let names = network.param_names();
        for (layer, names) in network.layers_mut().iter_mut().zip(names.chunks(2)) {
            let d = layer.affine_mut();
            let w_shape = d.weight.shape().to_vec();
            let weight = take_param(&mut by_name, &names[0], &w_shape)?;
            let bias = take_param(&mut by_name, &names[1], &[d.bias.len()])?;
            d.weight = Array2::from_shape_vec((w_shape[0], w_shape[1]), weight)
                .expect("shape checked against the value count");
            d.bias = Array1::from(bias);
        }
        if let Some(name) = by_name.keys().next() {
            return Err(NnError::UnexpectedParameter {
                name: (*name).to_owned(),
            });
        }
        if let Some(scaler) = &artifact.scaler {
            scaler.validate().map_err(NnError::InvalidScaler)?;
            if scaler.n_features() != artifact.n_inputs {
                return Err(NnError::InvalidScaler(format!(
                    "it has {} features but the network takes {} inputs",
                    scaler.n_features(),
                    artifact.n_inputs
                )));
            }
        }

        Ok(network)
    }
}

/// Checks that each parameter the validated config and the input width
/// declare is in the artifact with that shape and that many values, without
/// allocating anything of the declared size.
fn check_declared_sizes(artifact: &NetworkArtifact, spec: &NetworkSpec) -> Result<(), NnError> {
    let hidden = spec.hidden.iter().enumerate().map(|(i, layer)| {
        let width = match *layer {
            LayerSpec::Dense { units, .. } => units,
            LayerSpec::Maxout { units, pieces } => units.saturating_mul(pieces),
        };
        (format!("layers.{i}"), width, layer.units())
    });
    let output = std::iter::once(("output".to_owned(), spec.output_units, spec.output_units));
    let mut fan_in = artifact.n_inputs;
    for (prefix, width, units_out) in hidden.chain(output) {
        for (name, shape) in [
            (format!("{prefix}.weight"), vec![fan_in, width]),
            (format!("{prefix}.bias"), vec![width]),
        ] {
            let Some(param) = artifact.params.iter().find(|p| p.name == name) else {
                return Err(NnError::MissingParameter { name });
            };
            if param.shape != shape {
                return Err(NnError::ParameterShape {
                    name,
                    expected: shape,
                    got: param.shape.clone(),
                });
            }
            let count = shape.iter().fold(1usize, |n, &d| n.saturating_mul(d));
            if param.values.len() != count {
                return Err(NnError::ParameterLength {
                    name,
                    expected: count,
                    got: param.values.len(),
                });
            }
        }
        fan_in = units_out;
    }
    Ok(())
}

/// Removes `name` from the map after checking its shape, length and values.
fn take_param<F: Float>(
    by_name: &mut BTreeMap<&str, &NamedParam>,
    name: &str,
    expected: &[usize],
) -> Result<Vec<F>, NnError> {
    let p = by_name
        .remove(name)
        .ok_or_else(|| NnError::MissingParameter {
            name: name.to_owned(),
        })?;
    if p.shape != expected {
        return Err(NnError::ParameterShape {
            name: name.to_owned(),
            expected: expected.to_vec(),
            got: p.shape.clone(),
        });
    }
    let count: usize = expected.iter().product();
    if p.values.len() != count {
        return Err(NnError::ParameterLength {
            name: name.to_owned(),
            expected: count,
            got: p.values.len(),
        });
    }
    if let Some(index) = p.values.iter().position(|v| !F::of(*v).is_finite()) {
        return Err(NnError::NonFiniteParameter {
            name: name.to_owned(),
            index,
        });
    }
    Ok(p.values.iter().map(|&v| F::of(v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::random_matrix;

    const CONFIG: &str = r#"{"layers":[{"units":6,"activation":"relu"},{"kind":"maxout","units":3,"pieces":2}],"output":{"units":2,"activation":"identity"},"loss":"mse","init":"he","seed":42}"#;

    fn network() -> Network<f32> {
        Network::new(&serde_json::from_str(CONFIG).unwrap(), 4).unwrap()
    }

    fn saved() -> serde_json::Value {
        let x = random_matrix(20, 4, 3, 1.0);
        let scaler = Standardizer::fit(x.view()).unwrap();
        serde_json::from_str(&network().to_artifact(Some(&scaler)).to_json_string()).unwrap()
    }

    fn load(value: serde_json::Value) -> Result<Network<f32>, NnError> {
        Network::from_artifact(&NetworkArtifact::from_json_value(value)?)
    }

    #[test]
    fn save_then_load_gives_identical_predictions() {
        let net = network();
        let x = random_matrix(10, 4, 1, 2.0).mapv(|v| v as f32);
        let scaler = Standardizer::fit(x.view()).unwrap();
        let json = net.to_artifact(Some(&scaler)).to_json_string();
        let artifact = NetworkArtifact::from_json_str(&json).unwrap();
        let loaded = Network::<f32>::from_artifact(&artifact).unwrap();
        assert_eq!(loaded, net);
        assert_eq!(loaded.predict(x.view()), net.predict(x.view()));
        assert_eq!(artifact.scaler, Some(scaler));
        let names: Vec<&str> = artifact.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "layers.0.weight",
                "layers.0.bias",
                "layers.1.weight",
                "layers.1.bias",
                "output.weight",
                "output.bias"
            ]
        );
        assert_eq!(artifact.params[2].shape, [6, 6]);
    }

    /// Found by fuzzing (tests/fuzz, artifact): a forged input width or
    /// layer width was allocated (and randomly initialised) before the
    /// parameters were checked, so a few bytes of JSON could ask for
    /// terabytes. Each is now refused, naming the parameter, without
    /// allocating what it declares.
    #[test]
    fn forged_sizes_are_refused_without_allocating_them() {
        let mut huge_inputs = saved();
        huge_inputs["n_inputs"] = 1_000_000_000_000u64.into();
        huge_inputs["params"][0]["shape"] = serde_json::json!([1_000_000_000_000u64, 6]);
        let err = load(huge_inputs).unwrap_err().to_string();
        assert!(
            err.contains("\"layers.0.weight\" holds 24 values; its shape needs 6000000000000"),
            "{err}"
        );

        let mut huge_units = saved();
        huge_units["config"]["layers"][1]["units"] = (usize::MAX / 2).into();
        let err = load(huge_units).unwrap_err().to_string();
        assert!(
            err.contains("\"layers.1.weight\" has shape [6, 6]"),
            "{err}"
        );

        let mut overflowing = saved();
        overflowing["config"]["layers"][1]["units"] = (usize::MAX / 2).into();
        overflowing["params"][2]["shape"] = serde_json::json!([6, usize::MAX - 1]);
        let err = load(overflowing).unwrap_err().to_string();
        assert!(
            err.contains("its shape needs 18446744073709551615"),
            "{err}"
        );
    }

    #[test]
    fn corrupted_or_mismatched_artifacts_are_refused_with_named_errors() {
        type Corruption = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Corruption, &str)> = vec![
            (
                "version",
                Box::new(|v| v["format_version"] = 2.into()),
                "format version 2",
            ),
            (
                "missing",
                Box::new(|v| {
                    v["params"].as_array_mut().unwrap().remove(1);
                }),
                "lacks parameter \"layers.0.bias\"",
            ),
            (
                "shape",
                Box::new(|v| v["params"][2]["shape"] = serde_json::json!([6, 5])),
                "\"layers.1.weight\" has shape [6, 5]; the config needs [6, 6]",
            ),
            (
                "length",
                Box::new(|v| {
                    v["params"][4]["values"].as_array_mut().unwrap().pop();
                }),
                "\"output.weight\" holds 5 values; its shape needs 6",
            ),
            (
                "overflow",
                Box::new(|v| v["params"][5]["values"][1] = 1e300.into()),
                "\"output.bias\" has a non-finite value at index 1",
            ),
            (
                "unexpected",
                Box::new(|v| {
                    let mut extra = v["params"][5].clone();
                    extra["name"] = "layers.9.bias".into();
                    v["params"].as_array_mut().unwrap().push(extra);
                }),
                "unexpected or duplicate parameter \"layers.9.bias\"",
            ),
            (
                "config",
                Box::new(|v| v["config"]["layers"][0]["activation"] = "swish".into()),
                "layers[0].activation: unknown name \"swish\"",
            ),
            (
                "inputs",
                Box::new(|v| v["n_inputs"] = 5.into()),
                "\"layers.0.weight\" has shape [4, 6]; the config needs [5, 6]",
            ),
            (
                "scaler",
                Box::new(|v| {
                    v["scaler"]["std"].as_array_mut().unwrap().pop();
                }),
                "scaler is invalid: 4 means but 3 standard deviations",
            ),
            (
                "type",
                Box::new(|v| v["params"][0]["values"][0] = "x".into()),
                "not readable",
            ),
        ];
        for (what, corrupt, expected) in cases {
            let mut value = saved();
            corrupt(&mut value);
            let err = load(value).expect_err(what);
            assert!(err.to_string().contains(expected), "{what}: got \"{err}\"");
        }
        let err = NetworkArtifact::from_json_str("{\"format_version\": 1, \"conf").unwrap_err();
        assert!(matches!(err, NnError::ArtifactFormat(_)), "{err}");
    }
}
