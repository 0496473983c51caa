//! The feed-forward network: hidden layers plus an output layer built from a
//! [`NetworkConfig`], its forward pass for prediction, and the
//! allocation-free forward/backward pass over a mini-batch used by training.

use ndarray::{Array1, Array2, ArrayView2, s};
use rand::{SeedableRng, rngs::StdRng};

use super::{
    Activation, Dense, FieldError, Float, LayerSpec, Maxout, NetworkConfig, NetworkSpec, NnError,
};

/// One layer of a network: an affine map followed by an activation, or maxout.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer<F: Float = f32> {
    /// Z = X·W + b, A = f(Z).
    Dense {
        /// The affine map.
        dense: Dense<F>,
        /// f.
        activation: Activation,
    },
    /// A = max over pieces of X·W + b.
    Maxout(Maxout<F>),
}

impl<F: Float> Layer<F> {
    /// The affine map (for maxout, the one computing every piece).
    pub fn affine(&self) -> &Dense<F> {
        match self {
            Layer::Dense { dense, .. } => dense,
            Layer::Maxout(m) => &m.affine,
        }
    }

    pub(crate) fn affine_mut(&mut self) -> &mut Dense<F> {
        match self {
            Layer::Dense { dense, .. } => dense,
            Layer::Maxout(m) => &mut m.affine,
        }
    }

    /// Width of the layer's output.
    pub fn units(&self) -> usize {
        match self {
            Layer::Dense { dense, .. } => dense.units(),
            Layer::Maxout(m) => m.units,
        }
    }

    /// Z then A, written into the given buffers.
    fn forward_into(
        &self,
        x: ArrayView2<F>,
        mut z: ndarray::ArrayViewMut2<F>,
        a: ndarray::ArrayViewMut2<F>,
    ) {
        self.affine().forward_into(x, z.view_mut());
        self.activate_into(z.view(), a);
    }

    /// A from Z for inference, over row-major slices of `rows` rows
    /// ([`Activation::forward_inference`]).
    #[inline(always)]
    pub(super) fn activate_for_inference(&self, z: &[F], a: &mut [F], rows: usize) {
        match self {
            Layer::Dense { activation, dense } => activation.forward_inference(z, a, dense.units()),
            Layer::Maxout(m) => {
                let z = ArrayView2::from_shape((rows, z.len() / rows), z)
                    .expect("rows divide the buffer");
                let h = ndarray::ArrayViewMut2::from_shape((rows, m.units), a)
                    .expect("rows divide the buffer");
                m.max_into(z, h);
            }
        }
    }

    /// A from Z.
    fn activate_into(&self, z: ArrayView2<F>, a: ndarray::ArrayViewMut2<F>) {
        match self {
            Layer::Dense { activation, .. } => activation.forward_into(z.view(), a),
            Layer::Maxout(m) => m.max_into(z.view(), a),
        }
    }

    /// dL/dZ from Z, A and dL/dA.
    fn activation_backward(
        &self,
        z: ArrayView2<F>,
        a: ArrayView2<F>,
        da: ArrayView2<F>,
        dz: ndarray::ArrayViewMut2<F>,
    ) {
        match self {
            Layer::Dense { activation, .. } => activation.backward_into(z, a, da, dz),
            Layer::Maxout(m) => m.route_into(z, da, dz),
        }
    }
}

/// A feed-forward network. It is plain data (`Send + Sync`): prediction takes
/// `&self`, so one network can serve many threads.
#[derive(Debug, Clone, PartialEq)]
pub struct Network<F: Float = f32> {
    /// The config it was built from, kept for the artifact.
    config: NetworkConfig,
    /// The validated config.
    spec: NetworkSpec,
    /// Input width.
    n_inputs: usize,
    /// Hidden layers, then the output layer.
    layers: Vec<Layer<F>>,
}

/// Per-layer buffers for one mini-batch, allocated once per training run so
/// that the hot loop does not allocate.
pub(crate) struct Workspace<F: Float> {
    bufs: Vec<LayerBuffers<F>>,
}

struct LayerBuffers<F: Float> {
    z: Array2<F>,
    a: Array2<F>,
    dz: Array2<F>,
    da: Array2<F>,
}

impl<F: Float> Network<F> {
    /// Builds a network for `n_inputs` features, with weights drawn by the config's
    /// initialiser from its seed. Every problem with the config is reported at once.
    pub fn new(config: &NetworkConfig, n_inputs: usize) -> Result<Self, NnError> {
        let spec = Self::check(config, n_inputs)?;
        let mut rng = StdRng::seed_from_u64(spec.seed);
        let mut layers = Vec::with_capacity(spec.hidden.len() + 1);
        let mut fan_in = n_inputs;
        for layer in &spec.hidden {
            layers.push(match *layer {
                LayerSpec::Dense { units, activation } => Layer::Dense {
                    dense: Dense::from_params(
                        spec.init.weights(fan_in, units, &mut rng),
                        Array1::zeros(units),
                    ),
                    activation,
                },
                LayerSpec::Maxout { units, pieces } => Layer::Maxout(Maxout::new(
                    Dense::from_params(
                        spec.init.weights(fan_in, units * pieces, &mut rng),
                        Array1::zeros(units * pieces),
                    ),
                    units,
                    pieces,
                )),
            });
            fan_in = layer.units();
        }
        layers.push(Layer::Dense {
            dense: Dense::from_params(
                spec.init.weights(fan_in, spec.output_units, &mut rng),
                Array1::zeros(spec.output_units),
            ),
            activation: spec.output_activation,
        });
        Ok(Self {
            config: config.clone(),
            spec,
            n_inputs,
            layers,
        })
    }

    /// An upper bound on the magnitude of every value the forward pass
    /// computes (each layer's pre-activations and outputs) for any input row
    /// whose values all lie within ±`input_bound`. Interval arithmetic: a
    /// unit's pre-activation is at most the sum of its |weights| times the
    /// input bound plus |bias|, and no activation grows a magnitude beyond
    /// max(|z|, 1, α). Loading uses it to refuse a network whose weights
    /// could overflow f32.
    pub fn magnitude_bound(&self, input_bound: f64) -> f64 {
        let mut bound = input_bound.abs();
        let mut largest = bound;
        for layer in &self.layers {
            let affine = layer.affine();
            let pre = affine
                .weight
                .columns()
                .into_iter()
                .zip(affine.bias.iter())
                .map(|(w, b)| {
                    w.iter().map(|v| v.as_f64().abs()).sum::<f64>() * bound + b.as_f64().abs()
                })
                .fold(0.0f64, f64::max);
            bound = match layer {
                Layer::Maxout(_) => pre,
                Layer::Dense { activation, .. } => match *activation {
                    Activation::Sigmoid | Activation::Tanh | Activation::Softmax => 1.0,
                    Activation::Elu { alpha } => pre.max(alpha.abs()),
                    Activation::Identity | Activation::Relu | Activation::LeakyRelu { .. } => pre,
                },
            };
            largest = largest.max(pre).max(bound);
        }
        largest
    }

    /// Validates the config together with the input width.
    fn check(config: &NetworkConfig, n_inputs: usize) -> Result<NetworkSpec, NnError> {
        let mut errs = Vec::new();
        if n_inputs == 0 {
            errs.push(FieldError::new("n_inputs", "must be at least 1 (got 0)"));
        }
        match config.validate() {
            Ok(spec) if errs.is_empty() => Ok(spec),
            Ok(_) => Err(NnError::invalid(errs)),
            Err(more) => {
                errs.extend(more);
                Err(NnError::invalid(errs))
            }
        }
    }

    /// The config the network was built from.
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// The validated config.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// Input width.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Output width.
    pub fn n_outputs(&self) -> usize {
        self.spec.output_units
    }

    /// Hidden layers, then the output layer.
    pub fn layers(&self) -> &[Layer<F>] {
        &self.layers
    }

    pub(crate) fn layers_mut(&mut self) -> &mut [Layer<F>] {
        &mut self.layers
    }

    /// The parameter names, in order: `layers.{i}.weight`, `layers.{i}.bias` for each
    /// hidden layer, then `output.weight`, `output.bias`.
    pub fn param_names(&self) -> Vec<String> {
        let hidden = self.layers.len() - 1;
        (0..self.layers.len())
            .flat_map(|i| {
                let prefix = if i < hidden {
                    format!("layers.{i}")
                } else {
                    "output".to_owned()
                };
                [format!("{prefix}.weight"), format!("{prefix}.bias")]
            })
            .collect()
    }

    /// The network's output for each row of `x` (the output activation applied).
    ///
    /// Panics if `x` does not have [`Network::n_inputs`] columns; use
    /// [`Network::try_predict`] when the width is not known to be right.
    pub fn predict(&self, x: ArrayView2<F>) -> Array2<F> {
        match self.try_predict(x) {
            Ok(out) => out,
            Err(e) => panic!("Network::predict: {e}"),
        }
    }

    /// [`Network::predict`], with a wrong input width reported as an error.
    pub fn try_predict(&self, x: ArrayView2<F>) -> Result<Array2<F>, NnError> {
        Ok(self.forward_full(x)?.1)
    }

    /// The mean loss of the network on (x, y), as training measures it.
    pub fn loss(&self, x: ArrayView2<F>, y: ArrayView2<F>) -> Result<f64, NnError> {
        check_width("y columns", self.n_outputs(), y.ncols())?;
        check_width("y rows", x.nrows(), y.nrows())?;
        let (z, a) = self.forward_full(x)?;
        let input = if self.spec.loss.takes_logits() { z } else { a };
        Ok(self.spec.loss.value(input.view(), y))
    }

    /// (logits, output) of the last layer.
    fn forward_full(&self, x: ArrayView2<F>) -> Result<(Array2<F>, Array2<F>), NnError> {
        check_width("x columns", self.n_inputs, x.ncols())?;
        let n = x.nrows();
        let mut input: Option<Array2<F>> = None;
        let mut last_z = Array2::zeros((n, 0));
        for layer in &self.layers {
            let mut z = Array2::zeros((n, layer.affine().units()));
            let mut a = Array2::zeros((n, layer.units()));
            let x_view = input.as_ref().map_or(x, |a| a.view());
            layer.forward_into(x_view, z.view_mut(), a.view_mut());
            input = Some(a);
            last_z = z;
        }
        Ok((last_z, input.expect("a network has an output layer")))
    }

    /// Buffers for mini-batches of up to `rows` rows.
    pub(crate) fn workspace(&self, rows: usize) -> Workspace<F> {
        Workspace {
            bufs: self
                .layers
                .iter()
                .map(|l| LayerBuffers {
                    z: Array2::zeros((rows, l.affine().units())),
                    a: Array2::zeros((rows, l.units())),
                    dz: Array2::zeros((rows, l.affine().units())),
                    da: Array2::zeros((rows, l.units())),
                })
                .collect(),
        }
    }

    /// One forward and backward pass over a mini-batch: returns the mean loss and
    /// leaves dL/dW and dL/db in every layer. `x` must have at most as many rows as
    /// the workspace was made for.
    pub(crate) fn forward_backward(
        &mut self,
        ws: &mut Workspace<F>,
        x: ArrayView2<F>,
        y: ArrayView2<F>,
    ) -> f64 {
        let n = x.nrows();
        let last = self.layers.len() - 1;
        for i in 0..=last {
            let (prev, rest) = ws.bufs.split_at_mut(i);
            let cur = &mut rest[0];
            let input = if i == 0 {
                x
            } else {
                prev[i - 1].a.slice(s![..n, ..])
            };
            self.layers[i].forward_into(
                input,
                cur.z.slice_mut(s![..n, ..]),
                cur.a.slice_mut(s![..n, ..]),
            );
        }

        let loss = self.spec.loss;
        let out = &mut ws.bufs[last];
        let value = if loss.takes_logits() {
            loss.evaluate_into(out.z.slice(s![..n, ..]), y, out.dz.slice_mut(s![..n, ..]))
        } else {
            loss.evaluate_into(out.a.slice(s![..n, ..]), y, out.da.slice_mut(s![..n, ..]))
        };

        for i in (0..=last).rev() {
            let (prev, rest) = ws.bufs.split_at_mut(i);
            let cur = &mut rest[0];
            if !(i == last && loss.takes_logits()) {
                self.layers[i].activation_backward(
                    cur.z.slice(s![..n, ..]),
                    cur.a.slice(s![..n, ..]),
                    cur.da.slice(s![..n, ..]),
                    cur.dz.slice_mut(s![..n, ..]),
                );
            }
            let dz = cur.dz.slice(s![..n, ..]);
            if i == 0 {
                self.layers[i].affine_mut().backward_into(x, dz, None);
            } else {
                let p = &mut prev[i - 1];
                self.layers[i].affine_mut().backward_into(
                    p.a.slice(s![..n, ..]),
                    dz,
                    Some(p.da.slice_mut(s![..n, ..])),
                );
            }
        }
        value
    }

    /// Every (parameter, gradient) pair, in [`Network::param_names`] order.
    pub(crate) fn params_and_grads(&mut self) -> Vec<(&mut [F], &[F])> {
        let mut pairs = Vec::with_capacity(2 * self.layers.len());
        for layer in &mut self.layers {
            let d = layer.affine_mut();
            pairs.push((
                d.weight.as_slice_mut().expect("weights are contiguous"),
                d.grad_weight.as_slice().expect("gradients are contiguous"),
            ));
            pairs.push((
                d.bias.as_slice_mut().expect("biases are contiguous"),
                d.grad_bias.as_slice().expect("gradients are contiguous"),
            ));
        }
        pairs
    }

    /// Euclidean norm of the whole gradient, in f64.
    pub(crate) fn grad_norm(&self) -> f64 {
        self.layers
            .iter()
            .flat_map(|l| {
                let d = l.affine();
                d.grad_weight.iter().chain(d.grad_bias.iter())
            })
            .map(|g| g.as_f64() * g.as_f64())
            .sum::<f64>()
            .sqrt()
    }

    /// The name of the first parameter holding NaN or an infinity, if any.
    pub(crate) fn first_non_finite_param(&self) -> Option<String> {
        let names = self.param_names();
        self.layers
            .iter()
            .flat_map(|l| {
                let d = l.affine();
                [
                    d.weight.iter().all(|v| v.is_finite()),
                    d.bias.iter().all(|v| v.is_finite()),
                ]
            })
            .zip(names)
            .find(|(finite, _)| !finite)
            .map(|(_, name)| name)
    }

    /// Multiplies every gradient by `factor`.
    pub(crate) fn scale_grads(&mut self, factor: F) {
        for layer in &mut self.layers {
            let d = layer.affine_mut();
            d.grad_weight.mapv_inplace(|g| g * factor);
            d.grad_bias.mapv_inplace(|g| g * factor);
        }
    }

    /// Replaces the layers (used to restore a snapshot); shapes are the caller's promise.
    pub(crate) fn set_layers(&mut self, layers: Vec<Layer<F>>) {
        debug_assert_eq!(layers.len(), self.layers.len());
        self.layers = layers;
    }
}

pub(super) fn check_width(what: &str, expected: usize, got: usize) -> Result<(), NnError> {
    if expected == got {
        Ok(())
    } else {
        Err(NnError::ShapeMismatch {
            what: what.to_owned(),
            expected,
            got,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{TOLERANCE, random_matrix, relative_error};
    use crate::nn::{LayerConfig, LossConfig, OutputConfig};

    fn two_hidden(loss: &str, output: OutputConfig) -> NetworkConfig {
        NetworkConfig {
            layers: vec![LayerConfig::dense(5, "tanh"), LayerConfig::maxout(4, 3)],
            output,
            loss: LossConfig::Name(loss.into()),
            init: "xavier".into(),
            seed: Some(7),
            ..NetworkConfig::default()
        }
    }

    fn check_whole_network(config: &NetworkConfig, y: Array2<f64>) {
        let x = random_matrix(8, 3, 41, 1.0);
        let mut net = Network::<f64>::new(config, 3).unwrap();
        // Non-zero biases, so their gradients are exercised from a generic point.
        for (i, layer) in net.layers_mut().iter_mut().enumerate() {
            let b = &mut layer.affine_mut().bias;
            let n = b.len();
            b.assign(&random_matrix(1, n, 50 + i as u64, 0.3).row(0));
        }
        let mut ws = net.workspace(8);
        net.forward_backward(&mut ws, x.view(), y.view());
        for li in 0..net.layers().len() {
            let d = net.layers()[li].affine().clone();
            let err_w = relative_error(&d.weight, &d.grad_weight, |w| {
                let mut probe = net.clone();
                probe.layers_mut()[li].affine_mut().weight.assign(w);
                probe.loss(x.view(), y.view()).unwrap()
            });
            let err_b = relative_error(&d.bias, &d.grad_bias, |b| {
                let mut probe = net.clone();
                probe.layers_mut()[li].affine_mut().bias.assign(b);
                probe.loss(x.view(), y.view()).unwrap()
            });
            assert!(
                err_w < TOLERANCE,
                "layer {li} weight: relative error {err_w:e}"
            );
            assert!(
                err_b < TOLERANCE,
                "layer {li} bias: relative error {err_b:e}"
            );
        }
    }

    #[test]
    fn the_magnitude_bound_holds_every_value_of_the_forward_pass() {
        let config: NetworkConfig = serde_json::from_str(
            r#"{"layers":[{"units":2,"activation":"relu"}],"output":{"units":1,"activation":"identity"}}"#,
        )
        .unwrap();
        let mut net = Network::<f32>::new(&config, 2).unwrap();
        let layers = net.layers_mut();
        layers[0].affine_mut().weight = ndarray::array![[1.0, -2.0], [3.0, 0.5]];
        layers[0].affine_mut().bias = ndarray::array![0.5, -1.0];
        layers[1].affine_mut().weight = ndarray::array![[-4.0], [1.0]];
        layers[1].affine_mut().bias = ndarray::array![2.0];
        // Hidden: max(|1|+|3|, |-2|+|0.5|)·10 + bias = 40.5; output: (4 + 1)·40.5 + 2.
        assert_eq!(net.magnitude_bound(10.0), 204.5);
        // Every input at the corners of the box stays within it.
        for x in [[10.0, 10.0], [10.0, -10.0], [-10.0, 10.0], [-10.0, -10.0]] {
            let y = net.predict(ndarray::array![x].view());
            assert!(y[[0, 0]].abs() <= 204.5, "{y}");
        }
    }

    #[test]
    fn a_two_hidden_layer_network_passes_finite_difference_checks_for_every_loss() {
        let regression = random_matrix(8, 2, 42, 1.0);
        check_whole_network(
            &two_hidden("mse", OutputConfig::new(2, "identity")),
            regression.clone(),
        );
        check_whole_network(
            &NetworkConfig {
                loss: LossConfig::Detailed {
                    name: "huber".into(),
                    delta: Some(0.5),
                },
                ..two_hidden("mse", OutputConfig::new(2, "elu"))
            },
            regression,
        );
        let binary = random_matrix(8, 2, 43, 1.0).mapv(|v| f64::from(v > 0.0));
        check_whole_network(&two_hidden("bce", OutputConfig::new(2, "sigmoid")), binary);
        let mut one_hot = Array2::zeros((8, 3));
        for r in 0..8 {
            one_hot[[r, (r * 7) % 3]] = 1.0;
        }
        check_whole_network(
            &two_hidden("softmax_cross_entropy", OutputConfig::new(3, "softmax")),
            one_hot,
        );
    }

    #[test]
    fn a_network_is_built_with_the_configured_shapes_and_names() {
        let config: NetworkConfig = serde_json::from_str(
            r#"{"layers":[{"units":64,"activation":"relu"},{"units":32,"activation":"elu","alpha":1.0},{"kind":"maxout","units":16,"pieces":2}],"output":{"units":2,"activation":"identity"},"loss":"mse","init":"he","seed":42}"#,
        )
        .unwrap();
        let net = Network::<f32>::new(&config, 80).unwrap();
        let shapes: Vec<&[usize]> = net
            .layers()
            .iter()
            .map(|l| l.affine().weight.shape())
            .collect();
        assert_eq!(shapes, [&[80, 64][..], &[64, 32], &[32, 32], &[16, 2]]);
        assert_eq!(net.param_names()[0], "layers.0.weight");
        assert_eq!(net.param_names()[7], "output.bias");
        let out = net.predict(random_matrix(3, 80, 1, 1.0).mapv(|v| v as f32).view());
        assert_eq!(out.shape(), [3, 2]);
    }

    #[test]
    fn a_network_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Network<f32>>();
        let net =
            Network::<f32>::new(&two_hidden("mse", OutputConfig::new(2, "identity")), 3).unwrap();
        let x = random_matrix(4, 3, 9, 1.0).mapv(|v| v as f32);
        let expected = net.predict(x.view());
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..2).map(|_| s.spawn(|| net.predict(x.view()))).collect();
            for h in handles {
                assert_eq!(h.join().unwrap(), expected);
            }
        });
    }

    #[test]
    fn predicting_with_the_wrong_width_is_an_error_naming_the_widths() {
        let net =
            Network::<f32>::new(&two_hidden("mse", OutputConfig::new(2, "identity")), 3).unwrap();
        let err = net.try_predict(Array2::zeros((2, 4)).view()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape mismatch in x columns: expected 3, got 4"
        );
    }

    #[test]
    fn zero_inputs_and_config_problems_are_reported_together() {
        let config = NetworkConfig {
            layers: vec![LayerConfig::dense(0, "relu")],
            ..NetworkConfig::default()
        };
        let Err(NnError::InvalidConfig { problems }) = Network::<f32>::new(&config, 0) else {
            panic!("expected InvalidConfig");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["n_inputs", "layers[0].units"]);
    }
}
