//! A fitted network: initialisation, batch inference over GEMM, allocation-free
//! single-row inference with plain loops, a per-layer trace of one prediction,
//! and the safetensors weights format. Knows nothing of training loops,
//! feature names or where the bytes are stored.

use std::collections::HashMap;

use ndarray::{Array1, Array2, ArrayView2, Axis, Slice};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use versa_core::Rng;
use versa_core::manifest::{Activation, Architecture};

use crate::config::Initialization;
use crate::error::MlpError;
use crate::network::{self, Params, Workspace, argmax, logistic};

/// Value of the `format` metadata entry of the weights blob.
pub const WEIGHTS_FORMAT: &str = "versa-mlp/1";

/// Rows per GEMM in batch inference, so predicting a large table does not
/// hold every layer's activations for every row at once.
const INFERENCE_CHUNK_ROWS: usize = 1024;

/// A multilayer perceptron classifier with `f32` weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    architecture: Architecture,
    params: Params<f32>,
}

impl Mlp {
    /// Fresh weights for `input_dim → hidden… → n_classes` with
    /// [`Initialization::Auto`]: the same as
    /// `Mlp::init_with(input_dim, n_classes, hidden, activation, Initialization::Auto, seed)`.
    pub fn init(
        input_dim: usize,
        n_classes: usize,
        hidden: &[usize],
        activation: Activation,
        seed: u64,
    ) -> Mlp {
        Mlp::init_with(
            input_dim,
            n_classes,
            hidden,
            activation,
            Initialization::Auto,
            seed,
        )
    }

    /// Fresh weights for `input_dim → hidden… → n_classes`, drawn from
    /// `Rng::derive(seed, "mlp-init")` layer by layer, row-major, so one seed
    /// always gives the same bits.
    ///
    /// [`Initialization::Auto`]: relu networks use He initialisation (normal,
    /// std `sqrt(2 / fan_in)`); tanh and logistic ones use Glorot's uniform
    /// bound `sqrt(6 / (fan_in + fan_out))`, with factor 2 instead of 6 for
    /// logistic as scikit-learn does. Biases start at zero.
    ///
    /// [`Initialization::GlorotUniform`]: scikit-learn's scheme for every
    /// activation: each layer's weights, then its biases, uniform within that
    /// Glorot bound (factor 2 for logistic, 6 otherwise).
    pub fn init_with(
        input_dim: usize,
        n_classes: usize,
        hidden: &[usize],
        activation: Activation,
        initialization: Initialization,
        seed: u64,
    ) -> Mlp {
        let mut rng = Rng::derive(seed, "mlp-init");
        let mut widths = Vec::with_capacity(hidden.len() + 2);
        widths.push(input_dim);
        widths.extend_from_slice(hidden);
        widths.push(n_classes);
        let glorot_bound = |fan_in: usize, fan_out: usize| {
            let factor = if activation == Activation::Logistic {
                2.0
            } else {
                6.0
            };
            (factor / (fan_in + fan_out).max(1) as f64).sqrt()
        };
        let mut weights = Vec::with_capacity(widths.len() - 1);
        let mut biases = Vec::with_capacity(widths.len() - 1);
        for pair in widths.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let (layer, bias) = match (initialization, activation) {
                (Initialization::Auto, Activation::Relu) => {
                    let std = (2.0 / fan_in.max(1) as f64).sqrt();
                    let layer =
                        Array2::from_shape_fn((fan_in, fan_out), |_| (std * rng.normal()) as f32);
                    (layer, Array1::zeros(fan_out))
                }
                (Initialization::Auto, Activation::Tanh | Activation::Logistic) => {
                    let bound = glorot_bound(fan_in, fan_out);
                    let layer = Array2::from_shape_fn((fan_in, fan_out), |_| {
                        rng.uniform_range(-bound, bound) as f32
                    });
                    (layer, Array1::zeros(fan_out))
                }
                (Initialization::GlorotUniform, _) => {
                    let bound = glorot_bound(fan_in, fan_out);
                    let layer = Array2::from_shape_fn((fan_in, fan_out), |_| {
                        rng.uniform_range(-bound, bound) as f32
                    });
                    let bias =
                        Array1::from_shape_fn(fan_out, |_| rng.uniform_range(-bound, bound) as f32);
                    (layer, bias)
                }
            };
            weights.push(layer);
            biases.push(bias);
        }
        Mlp {
            architecture: Architecture {
                input_dim,
                hidden: hidden.to_vec(),
                activation,
                n_classes,
            },
            params: Params { weights, biases },
        }
    }

    pub(crate) fn from_params(architecture: Architecture, params: Params<f32>) -> Mlp {
        Mlp {
            architecture,
            params,
        }
    }

    #[cfg(test)]
    pub(crate) fn params(&self) -> &Params<f32> {
        &self.params
    }

    pub(crate) fn into_params(self) -> Params<f32> {
        self.params
    }

    /// The network's shape.
    pub fn architecture(&self) -> Architecture {
        self.architecture.clone()
    }

    /// Width of the input rows.
    pub fn input_dim(&self) -> usize {
        self.architecture.input_dim
    }

    /// Number of classes (width of the probability rows).
    pub fn n_classes(&self) -> usize {
        self.architecture.n_classes
    }

    /// Trainable values: every weight and bias.
    pub fn n_parameters(&self) -> usize {
        self.params
            .weights
            .iter()
            .zip(&self.params.biases)
            .map(|(w, b)| w.len() + b.len())
            .sum()
    }

    /// Class probabilities for every row of `x` (`[n_rows, n_classes]`).
    ///
    /// # Panics
    /// If `x` is not `input_dim` wide: callers check the width of untrusted
    /// input against [`Mlp::input_dim`] first.
    pub fn predict_proba(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        self.assert_width(x.ncols());
        let n_rows = x.nrows();
        let mut probabilities = Array2::zeros((n_rows, self.n_classes()));
        if n_rows == 0 {
            return probabilities;
        }
        let mut workspace = Workspace::new(&self.params, n_rows.min(INFERENCE_CHUNK_ROWS));
        let mut start = 0;
        while start < n_rows {
            let end = (start + workspace.capacity()).min(n_rows);
            network::forward(
                &self.params,
                self.architecture.activation,
                x.slice_axis(Axis(0), Slice::from(start..end)),
                &mut workspace,
            );
            probabilities
                .slice_axis_mut(Axis(0), Slice::from(start..end))
                .assign(&workspace.probabilities(end - start));
            start = end;
        }
        probabilities
    }

    /// The most probable class of every row of `x` (first on ties).
    ///
    /// # Panics
    /// As [`Mlp::predict_proba`].
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Vec<usize> {
        self.predict_proba(x)
            .rows()
            .into_iter()
            .map(argmax)
            .collect()
    }

    /// Class probabilities of one row into `out`, with plain loops over the
    /// weights (faster than GEMM for one row) and no allocation once
    /// `scratch` has grown to this network's widest layer.
    ///
    /// # Panics
    /// If `x` is not `input_dim` long or `out` not `n_classes` long.
    pub fn predict_proba_row(&self, x: &[f32], scratch: &mut RowScratch, out: &mut [f32]) {
        self.assert_width(x.len());
        assert_eq!(
            out.len(),
            self.n_classes(),
            "output buffer has {} slots but the model has {} classes",
            out.len(),
            self.n_classes()
        );
        let widest = self.architecture.hidden.iter().copied().max().unwrap_or(0);
        scratch.ensure(widest);
        let RowScratch { current, next } = scratch;
        let n_layers = self.params.n_layers();
        let mut input: &[f32] = x;
        for layer in 0..n_layers - 1 {
            let width = self.params.biases[layer].len();
            let output = &mut next[..width];
            self.dense_row(layer, input, output);
            activate_row(self.architecture.activation, output);
            std::mem::swap(current, next);
            input = &current[..width];
        }
        self.dense_row(n_layers - 1, input, out);
        softmax_row(out);
    }

    /// `output = input · W[layer] + b[layer]`, accumulating row by row of W
    /// so the inner loop runs over contiguous memory and vectorises.
    fn dense_row(&self, layer: usize, input: &[f32], output: &mut [f32]) {
        let weights = standard_slice(self.params.weights[layer].as_slice());
        let bias = standard_slice(self.params.biases[layer].as_slice());
        output.copy_from_slice(bias);
        let width = output.len();
        for (&value, weight_row) in input.iter().zip(weights.chunks_exact(width)) {
            for (o, &w) in output.iter_mut().zip(weight_row) {
                *o += value * w;
            }
        }
    }

    /// One row's way through the network, for explaining a prediction.
    ///
    /// # Panics
    /// If `x` is not `input_dim` long.
    pub fn trace_row(&self, x: &[f32]) -> RowTrace {
        self.assert_width(x.len());
        let activation = self.architecture.activation;
        let mut layers = Vec::with_capacity(self.architecture.hidden.len());
        let mut input = x.to_vec();
        for layer in 0..self.params.n_layers() - 1 {
            let mut values = vec![0.0; self.params.biases[layer].len()];
            self.dense_row(layer, &input, &mut values);
            activate_row(activation, &mut values);
            let n_active = values
                .iter()
                .filter(|&&v| match activation {
                    Activation::Relu | Activation::Tanh => v > 0.0,
                    Activation::Logistic => v > 0.5,
                })
                .count();
            layers.push(LayerTrace {
                name: format!("hidden {}", layer + 1),
                activation,
                values: values.clone(),
                n_active,
            });
            input = values;
        }
        let mut probabilities = vec![0.0; self.n_classes()];
        self.dense_row(self.params.n_layers() - 1, &input, &mut probabilities);
        softmax_row(&mut probabilities);
        let predicted_class = argmax(&probabilities);
        RowTrace {
            layers,
            probabilities,
            predicted_class,
        }
    }

    fn assert_width(&self, width: usize) {
        assert_eq!(
            width,
            self.input_dim(),
            "input has {width} features but the model expects {}",
            self.input_dim()
        );
    }

    /// The weights as safetensors bytes: per layer `i` (0-based, input side
    /// first) `layers.{i}.weight` `[fan_in, fan_out]` and `layers.{i}.bias`
    /// `[fan_out]`, little-endian f32, with metadata `format` =
    /// [`WEIGHTS_FORMAT`]. The same weights always give the same bytes:
    /// safetensors orders tensors by name, and the metadata has a single
    /// entry so its hash-map order cannot vary.
    pub fn to_safetensors(&self) -> Vec<u8> {
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (layer, (weights, bias)) in self
            .params
            .weights
            .iter()
            .zip(&self.params.biases)
            .enumerate()
        {
            tensors.push((
                format!("layers.{layer}.weight"),
                weights.shape().to_vec(),
                le_bytes(weights.iter()),
            ));
            tensors.push((
                format!("layers.{layer}.bias"),
                bias.shape().to_vec(),
                le_bytes(bias.iter()),
            ));
        }
        let views = tensors.iter().map(|(name, shape, bytes)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .expect("byte length is 4 × the shape's element count by construction");
            (name.clone(), view)
        });
        let metadata = HashMap::from([("format".to_owned(), WEIGHTS_FORMAT.to_owned())]);
        safetensors::serialize(views, Some(metadata))
            .expect("a handful of well-formed f32 tensors always serialises")
    }

    /// Reads weights written by [`Mlp::to_safetensors`], checking every
    /// tensor's presence, dtype, shape and values against `architecture`.
    pub fn from_safetensors(bytes: &[u8], architecture: &Architecture) -> Result<Mlp, MlpError> {
        check_architecture(architecture)?;
        let (_, metadata) = SafeTensors::read_metadata(bytes)
            .map_err(|e| MlpError::weights(format!("not a readable safetensors blob: {e}")))?;
        if let Some(format) = metadata.metadata().as_ref().and_then(|m| m.get("format"))
            && format != WEIGHTS_FORMAT
        {
            return Err(MlpError::weights(format!(
                "metadata format is {format:?}, but this versa reads {WEIGHTS_FORMAT:?}"
            )));
        }
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| MlpError::weights(format!("not a readable safetensors blob: {e}")))?;

        let mut widths = vec![architecture.input_dim];
        widths.extend_from_slice(&architecture.hidden);
        widths.push(architecture.n_classes);
        let n_layers = widths.len() - 1;
        let mut expected_names = Vec::with_capacity(2 * n_layers);
        let mut weights = Vec::with_capacity(n_layers);
        let mut biases = Vec::with_capacity(n_layers);
        for (layer, pair) in widths.windows(2).enumerate() {
            let weight_name = format!("layers.{layer}.weight");
            let bias_name = format!("layers.{layer}.bias");
            let weight_values = read_tensor(&tensors, &weight_name, &[pair[0], pair[1]], n_layers)?;
            let bias_values = read_tensor(&tensors, &bias_name, &[pair[1]], n_layers)?;
            weights.push(
                Array2::from_shape_vec((pair[0], pair[1]), weight_values)
                    .expect("length checked against the shape"),
            );
            biases.push(Array1::from_vec(bias_values));
            expected_names.push(weight_name);
            expected_names.push(bias_name);
        }
        let mut unexpected: Vec<&str> = tensors
            .names()
            .into_iter()
            .filter(|name| !expected_names.iter().any(|e| e == name))
            .collect();
        if !unexpected.is_empty() {
            unexpected.sort_unstable();
            return Err(MlpError::weights(format!(
                "has tensors {unexpected:?} that a {n_layers}-layer network with hidden {:?} does not have",
                architecture.hidden
            )));
        }
        Ok(Mlp {
            architecture: architecture.clone(),
            params: Params { weights, biases },
        })
    }
}

fn check_architecture(architecture: &Architecture) -> Result<(), MlpError> {
    if architecture.input_dim == 0 {
        return Err(MlpError::weights(
            "architecture has input_dim 0; a network needs at least 1 input",
        ));
    }
    if architecture.n_classes < 2 {
        return Err(MlpError::weights(format!(
            "architecture has {} classes; a classifier needs at least 2",
            architecture.n_classes
        )));
    }
    if architecture.hidden.contains(&0) {
        return Err(MlpError::weights(format!(
            "architecture has a zero-width hidden layer in {:?}",
            architecture.hidden
        )));
    }
    Ok(())
}

fn read_tensor(
    tensors: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    n_layers: usize,
) -> Result<Vec<f32>, MlpError> {
    let tensor = tensors.tensor(name).map_err(|_| {
        MlpError::weights(format!(
            "tensor {name} is missing; the architecture has {n_layers} layers, each with layers.{{i}}.weight and layers.{{i}}.bias"
        ))
    })?;
    if tensor.dtype() != Dtype::F32 {
        return Err(MlpError::weights(format!(
            "tensor {name} has dtype {:?}; expected F32",
            tensor.dtype()
        )));
    }
    if tensor.shape() != shape {
        return Err(MlpError::weights(format!(
            "tensor {name} has shape {:?}; the architecture needs {shape:?}",
            tensor.shape()
        )));
    }
    let values: Vec<f32> = tensor
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(MlpError::weights(format!(
            "tensor {name} holds the non-finite value {} at flat index {index}",
            values[index]
        )));
    }
    Ok(values)
}

fn le_bytes<'a>(values: impl Iterator<Item = &'a f32>) -> Vec<u8> {
    values.flat_map(|v| v.to_le_bytes()).collect()
}

/// Parameters are created in standard layout and never transposed in place.
fn standard_slice(slice: Option<&[f32]>) -> &[f32] {
    slice.expect("parameters are kept in standard layout")
}

fn activate_row(activation: Activation, values: &mut [f32]) {
    match activation {
        Activation::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Tanh => values.iter_mut().for_each(|v| *v = v.tanh()),
        Activation::Logistic => values.iter_mut().for_each(|v| *v = logistic(*v)),
    }
}

fn softmax_row(values: &mut [f32]) {
    let max = values.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inverse = 1.0 / sum;
    values.iter_mut().for_each(|v| *v *= inverse);
}

/// Reusable buffers for [`Mlp::predict_proba_row`]; start with
/// `RowScratch::default()` and keep it per thread.
#[derive(Debug, Clone, Default)]
pub struct RowScratch {
    current: Vec<f32>,
    next: Vec<f32>,
}

impl RowScratch {
    /// Buffers already big enough for `model`.
    pub fn new(model: &Mlp) -> RowScratch {
        let mut scratch = RowScratch::default();
        scratch.ensure(model.architecture.hidden.iter().copied().max().unwrap_or(0));
        scratch
    }

    fn ensure(&mut self, width: usize) {
        if self.current.len() < width {
            self.current.resize(width, 0.0);
            self.next.resize(width, 0.0);
        }
    }
}

/// One hidden layer's output for one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTrace {
    /// "hidden 1", "hidden 2", … from the input side.
    pub name: String,
    /// The layer's activation.
    pub activation: Activation,
    /// Post-activation value of every unit.
    pub values: Vec<f32>,
    /// Units that are "on": above 0 for relu and tanh, above 0.5 for logistic.
    pub n_active: usize,
}

/// How one row went through the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowTrace {
    /// Hidden layers, input side first.
    pub layers: Vec<LayerTrace>,
    /// Softmax output.
    pub probabilities: Vec<f32>,
    /// Index of the most probable class (first on ties).
    pub predicted_class: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(n_rows: usize, width: usize, seed: u64) -> Array2<f32> {
        let mut rng = Rng::new(seed);
        Array2::from_shape_fn((n_rows, width), |_| rng.normal() as f32)
    }

    #[test]
    fn same_seed_gives_identical_bytes_and_another_seed_differs() {
        let a = Mlp::init(5, 3, &[8, 4], Activation::Relu, 7).to_safetensors();
        let b = Mlp::init(5, 3, &[8, 4], Activation::Relu, 7).to_safetensors();
        let c = Mlp::init(5, 3, &[8, 4], Activation::Relu, 8).to_safetensors();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn init_scales_follow_the_activation() {
        let relu = Mlp::init(200, 2, &[100], Activation::Relu, 1);
        let w = &relu.params.weights[0];
        let variance = w.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / w.len() as f64;
        assert!((variance - 2.0 / 200.0).abs() < 0.001, "{variance}");
        let tanh = Mlp::init(200, 2, &[100], Activation::Tanh, 1);
        let bound = (6.0f32 / 300.0).sqrt();
        assert!(tanh.params.weights[0].iter().all(|v| v.abs() <= bound));
        assert!(tanh.params.weights[0].iter().any(|v| v.abs() > 0.9 * bound));
        assert!(
            tanh.params
                .biases
                .iter()
                .all(|b| b.iter().all(|&v| v == 0.0))
        );
    }

    #[test]
    fn glorot_uniform_draws_weights_and_biases_within_the_sklearn_bound() {
        let widths = [12usize, 64, 32, 2];
        for activation in [Activation::Relu, Activation::Tanh, Activation::Logistic] {
            let factor = if activation == Activation::Logistic {
                2.0
            } else {
                6.0
            };
            let glorot = Mlp::init_with(
                12,
                2,
                &[64, 32],
                activation,
                Initialization::GlorotUniform,
                5,
            );
            let again = Mlp::init_with(
                12,
                2,
                &[64, 32],
                activation,
                Initialization::GlorotUniform,
                5,
            );
            assert_eq!(glorot.to_safetensors(), again.to_safetensors());
            let auto = Mlp::init(12, 2, &[64, 32], activation, 5);
            assert_eq!(
                auto,
                Mlp::init_with(12, 2, &[64, 32], activation, Initialization::Auto, 5)
            );
            for (layer, pair) in widths.windows(2).enumerate() {
                let bound = (factor / (pair[0] + pair[1]) as f64).sqrt() as f32;
                let weights = &glorot.params.weights[layer];
                let biases = &glorot.params.biases[layer];
                assert!(weights.iter().chain(biases).all(|v| v.abs() <= bound));
                // Drawn across the whole interval, not bunched near zero.
                assert!(weights.iter().any(|v| v.abs() > 0.9 * bound), "{layer}");
                assert!(biases.iter().any(|&v| v != 0.0), "{activation:?} {layer}");
                assert!(auto.params.biases[layer].iter().all(|&v| v == 0.0));
                if activation == Activation::Relu {
                    assert_ne!(weights, &auto.params.weights[layer]);
                }
            }
            // For tanh and logistic, `auto` draws the first layer's weights
            // from the same stream and bound, but the biases (and so every
            // later draw) differ.
            assert_ne!(glorot, auto);
            assert_ne!(glorot.params.weights[1], auto.params.weights[1]);
        }
        // Relu's He-normal draws exceed the Glorot bound somewhere; Glorot never does.
        let he = Mlp::init(200, 2, &[100], Activation::Relu, 1);
        let bound = (6.0f32 / 300.0).sqrt();
        assert!(he.params.weights[0].iter().any(|v| v.abs() > bound));
    }

    #[test]
    fn safetensors_round_trip_gives_identical_predictions() {
        for activation in [Activation::Relu, Activation::Tanh, Activation::Logistic] {
            let model = Mlp::init(6, 3, &[10, 5], activation, 3);
            let bytes = model.to_safetensors();
            let back = Mlp::from_safetensors(&bytes, &model.architecture()).unwrap();
            assert_eq!(back, model);
            let x = inputs(20, 6, 4);
            assert_eq!(back.predict_proba(x.view()), model.predict_proba(x.view()));
            assert_eq!(back.to_safetensors(), bytes);
        }
        let metadata =
            SafeTensors::read_metadata(&Mlp::init(2, 2, &[], Activation::Relu, 0).to_safetensors())
                .unwrap()
                .1;
        assert_eq!(
            metadata.metadata().as_ref().unwrap()["format"],
            WEIGHTS_FORMAT
        );
    }

    #[test]
    fn from_safetensors_checks_every_shape_against_the_architecture() {
        let model = Mlp::init(4, 2, &[3], Activation::Relu, 0);
        let bytes = model.to_safetensors();
        let arch = model.architecture();
        let message = |arch: Architecture| {
            Mlp::from_safetensors(&bytes, &arch)
                .unwrap_err()
                .to_string()
        };
        let wider_input = Architecture {
            input_dim: 5,
            ..arch.clone()
        };
        assert_eq!(
            message(wider_input),
            "invalid mlp weights: tensor layers.0.weight has shape [4, 3]; the architecture needs [5, 3]"
        );
        let more_classes = Architecture {
            n_classes: 3,
            ..arch.clone()
        };
        assert!(message(more_classes).contains("tensor layers.1.weight has shape [3, 2]"));
        let deeper = Architecture {
            hidden: vec![3, 3],
            ..arch.clone()
        };
        assert!(
            message(deeper)
                .contains("tensor layers.1.weight has shape [3, 2]; the architecture needs [3, 3]")
        );
        let shallower = Architecture {
            hidden: vec![],
            ..arch.clone()
        };
        assert!(message(shallower).contains("tensor layers.0.weight has shape [4, 3]"));
        // A deeper blob read as a shallower network: the shared prefix fits,
        // the leftover layer is reported.
        let two_hidden = Mlp::init(4, 2, &[3, 2], Activation::Relu, 0).to_safetensors();
        let err = Mlp::from_safetensors(
            &two_hidden,
            &Architecture {
                hidden: vec![3],
                ..arch.clone()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[\"layers.2.bias\", \"layers.2.weight\"]")
                && err.contains("does not have"),
            "{err}"
        );
        assert!(
            message(Architecture {
                n_classes: 1,
                ..arch.clone()
            })
            .contains("at least 2")
        );
        let garbage = Mlp::from_safetensors(b"not safetensors", &arch).unwrap_err();
        assert!(
            garbage
                .to_string()
                .starts_with("invalid mlp weights: not a readable safetensors blob")
        );
    }

    #[test]
    fn extra_or_non_finite_tensors_are_rejected() {
        let model = Mlp::init(2, 2, &[], Activation::Relu, 0);
        let weight = le_bytes([1.0f32, f32::NAN, 0.0, 0.0].iter());
        let bias = le_bytes([0.0f32, 0.0].iter());
        let extra = le_bytes([0.0f32].iter());
        let build = |with_extra: bool, weight: &[u8]| {
            let mut views = vec![
                (
                    "layers.0.weight".to_owned(),
                    TensorView::new(Dtype::F32, vec![2, 2], weight).unwrap(),
                ),
                (
                    "layers.0.bias".to_owned(),
                    TensorView::new(Dtype::F32, vec![2], &bias).unwrap(),
                ),
            ];
            if with_extra {
                views.push((
                    "layers.7.bias".to_owned(),
                    TensorView::new(Dtype::F32, vec![1], &extra).unwrap(),
                ));
            }
            safetensors::serialize(views, None).unwrap()
        };
        let err = Mlp::from_safetensors(&build(false, &weight), &model.architecture())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tensor layers.0.weight holds the non-finite value NaN at flat index 1"),
            "{err}"
        );
        let fine = le_bytes([1.0f32, 2.0, 3.0, 4.0].iter());
        let err = Mlp::from_safetensors(&build(true, &fine), &model.architecture())
            .unwrap_err()
            .to_string();
        assert!(err.contains("[\"layers.7.bias\"]"), "{err}");
        assert!(Mlp::from_safetensors(&build(false, &fine), &model.architecture()).is_ok());
    }

    #[test]
    fn row_inference_matches_batch_inference() {
        for activation in [Activation::Relu, Activation::Tanh, Activation::Logistic] {
            for hidden in [vec![], vec![7], vec![12, 3, 9]] {
                let model = Mlp::init(5, 4, &hidden, activation, 9);
                let x = inputs(30, 5, 10);
                let batch = model.predict_proba(x.view());
                let mut scratch = RowScratch::default();
                let mut out = [0.0f32; 4];
                for (row, expected) in x.rows().into_iter().zip(batch.rows()) {
                    model.predict_proba_row(row.as_slice().unwrap(), &mut scratch, &mut out);
                    for (a, b) in out.iter().zip(expected) {
                        assert!(
                            (a - b).abs() < 1e-6,
                            "{activation:?} {hidden:?}: {a} vs {b}"
                        );
                    }
                    let trace = model.trace_row(row.as_slice().unwrap());
                    assert_eq!(trace.probabilities, out.to_vec());
                }
            }
        }
    }

    #[test]
    fn batch_inference_chunks_large_inputs() {
        let model = Mlp::init(3, 2, &[4], Activation::Tanh, 2);
        let x = inputs(INFERENCE_CHUNK_ROWS * 2 + 17, 3, 3);
        let all = model.predict_proba(x.view());
        let tail =
            model.predict_proba(x.slice_axis(Axis(0), Slice::from(INFERENCE_CHUNK_ROWS * 2..)));
        assert_eq!(
            all.slice_axis(Axis(0), Slice::from(INFERENCE_CHUNK_ROWS * 2..)),
            tail
        );
        assert_eq!(
            model
                .predict_proba(x.slice_axis(Axis(0), Slice::from(..0)))
                .dim(),
            (0, 2)
        );
        assert_eq!(
            model.predict(x.slice_axis(Axis(0), Slice::from(..3))).len(),
            3
        );
    }

    #[test]
    fn trace_names_layers_and_counts_active_units() {
        // Hand-made relu net: hidden = relu([x0 - x1, x1 - x0, x0]) → 2 classes.
        let params = Params {
            weights: vec![
                ndarray::array![[1.0, -1.0, 1.0], [-1.0, 1.0, 0.0]],
                ndarray::array![[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]],
            ],
            biases: vec![Array1::zeros(3), Array1::zeros(2)],
        };
        let arch = Architecture {
            input_dim: 2,
            hidden: vec![3],
            activation: Activation::Relu,
            n_classes: 2,
        };
        let model = Mlp::from_params(arch, params);
        let trace = model.trace_row(&[2.0, 1.0]);
        assert_eq!(trace.layers.len(), 1);
        assert_eq!(trace.layers[0].name, "hidden 1");
        assert_eq!(trace.layers[0].activation, Activation::Relu);
        assert_eq!(trace.layers[0].values, vec![1.0, 0.0, 2.0]);
        assert_eq!(trace.layers[0].n_active, 2);
        assert_eq!(trace.predicted_class, 0);
        let expected = 1.0 / (1.0 + (-1.0f32).exp());
        assert!((trace.probabilities[0] - expected).abs() < 1e-6);
        assert_eq!(model.n_parameters(), 6 + 3 + 6 + 2);
    }
}
