//! The network's math, generic over the float type: dense layers, hidden
//! activations, softmax cross-entropy with class weights and an L2 penalty,
//! and hand-written backpropagation over ndarray's GEMM.
//!
//! Training runs this in `f32`; the gradient checks below run the very same
//! code in `f64`, where central differences are accurate enough to compare.
//! All buffers live in a [`Workspace`] sized once for the largest batch, so
//! the training loop allocates nothing per batch. This module knows nothing
//! of configs, epochs, optimizers or serialisation.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, NdFloat, Slice};
use versa_core::manifest::Activation;

/// The float types the network runs in.
pub(crate) trait Scalar: NdFloat {
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Scalar for f32 {
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Scalar for f64 {
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// Smallest probability the loss takes the log of, as in scikit-learn's `log_loss`.
pub(crate) const PROBABILITY_FLOOR: f64 = 1e-15;

/// Per layer, a weight matrix `[fan_in, fan_out]` and a bias `[fan_out]`, all
/// in standard (row-major) layout; the last layer feeds the softmax.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params<T> {
    pub(crate) weights: Vec<Array2<T>>,
    pub(crate) biases: Vec<Array1<T>>,
}

impl<T: Scalar> Params<T> {
    pub(crate) fn zeros_like(other: &Params<T>) -> Params<T> {
        Params {
            weights: other
                .weights
                .iter()
                .map(|w| Array2::zeros(w.raw_dim()))
                .collect(),
            biases: other
                .biases
                .iter()
                .map(|b| Array1::zeros(b.raw_dim()))
                .collect(),
        }
    }

    pub(crate) fn n_layers(&self) -> usize {
        self.weights.len()
    }

    /// Sum of squares of every weight (biases excluded), for the L2 term.
    fn squared_weight_norm(&self) -> f64 {
        self.weights
            .iter()
            .map(|w| w.iter().fold(T::zero(), |sum, &v| sum + v * v).to_f64())
            .sum()
    }
}

/// Activations and gradients for batches of up to `capacity` rows.
#[derive(Debug)]
pub(crate) struct Workspace<T> {
    capacity: usize,
    /// Per layer, its post-activation output; the last holds probabilities.
    outputs: Vec<Array2<T>>,
    /// Per layer, d(loss)/d(pre-activation).
    deltas: Vec<Array2<T>>,
    /// d(loss)/d(params) of the last [`backward`].
    pub(crate) grads: Params<T>,
}

impl<T: Scalar> Workspace<T> {
    pub(crate) fn new(params: &Params<T>, capacity: usize) -> Workspace<T> {
        let buffers = || {
            params
                .weights
                .iter()
                .map(|w| Array2::zeros((capacity, w.ncols())))
                .collect::<Vec<_>>()
        };
        Workspace {
            capacity,
            outputs: buffers(),
            deltas: buffers(),
            grads: Params::zeros_like(params),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Class probabilities of the first `n_rows` rows of the last forward pass.
    pub(crate) fn probabilities(&self, n_rows: usize) -> ArrayView2<'_, T> {
        let last = self.outputs.len() - 1;
        self.outputs[last].slice_axis(Axis(0), Slice::from(..n_rows))
    }
}

/// Workspace buffers and parameters are created in standard layout, and a
/// prefix of rows of a standard-layout matrix is contiguous, so elementwise
/// work runs over plain slices: per-row ndarray views cost more than the
/// arithmetic at these widths.
const CONTIGUOUS: &str = "workspace buffers and parameters are standard-layout";

/// The first `n_rows` rows of a workspace buffer, as one slice.
fn prefix<T>(buffer: &Array2<T>, n_rows: usize) -> &[T] {
    let width = buffer.ncols();
    &buffer.as_slice().expect(CONTIGUOUS)[..n_rows * width]
}

fn prefix_mut<T>(buffer: &mut Array2<T>, n_rows: usize) -> &mut [T] {
    let width = buffer.ncols();
    &mut buffer.as_slice_mut().expect(CONTIGUOUS)[..n_rows * width]
}

fn rows<T>(buffer: &Array2<T>, n_rows: usize) -> ArrayView2<'_, T> {
    buffer.slice_axis(Axis(0), Slice::from(..n_rows))
}

fn rows_mut<T>(buffer: &mut Array2<T>, n_rows: usize) -> ArrayViewMut2<'_, T> {
    buffer.slice_axis_mut(Axis(0), Slice::from(..n_rows))
}

/// Runs `x` (at most `capacity` rows) through the network into `workspace`.
pub(crate) fn forward<T: Scalar>(
    params: &Params<T>,
    activation: Activation,
    x: ArrayView2<'_, T>,
    workspace: &mut Workspace<T>,
) {
    let n_rows = x.nrows();
    debug_assert!(n_rows <= workspace.capacity);
    let n_layers = params.n_layers();
    for layer in 0..n_layers {
        let (done, rest) = workspace.outputs.split_at_mut(layer);
        let input = if layer == 0 {
            x.view()
        } else {
            rows(&done[layer - 1], n_rows)
        };
        let output = &mut rest[0];
        // Seed the output with the bias, then accumulate the product onto it.
        let bias = params.biases[layer].as_slice().expect(CONTIGUOUS);
        for row in prefix_mut(output, n_rows).chunks_exact_mut(bias.len()) {
            row.copy_from_slice(bias);
        }
        general_mat_mul(
            T::one(),
            &input,
            &params.weights[layer],
            T::one(),
            &mut rows_mut(output, n_rows),
        );
        let values = prefix_mut(output, n_rows);
        if layer + 1 < n_layers {
            activate(activation, values);
        } else {
            softmax_rows(values, bias.len());
        }
    }
}

fn activate<T: Scalar>(activation: Activation, values: &mut [T]) {
    match activation {
        // A select, not a conditional store, so the loop vectorises.
        Activation::Relu => values
            .iter_mut()
            .for_each(|v| *v = if *v > T::zero() { *v } else { T::zero() }),
        Activation::Tanh => values.iter_mut().for_each(|v| *v = v.tanh()),
        Activation::Logistic => values.iter_mut().for_each(|v| *v = logistic(*v)),
    }
}

pub(crate) fn logistic<T: Scalar>(v: T) -> T {
    T::one() / (T::one() + (-v).exp())
}

fn softmax_rows<T: Scalar>(logits: &mut [T], width: usize) {
    for row in logits.chunks_exact_mut(width) {
        let max = row.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
        let mut sum = T::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inverse = T::one() / sum;
        row.iter_mut().for_each(|v| *v *= inverse);
    }
}

/// Forward and backward pass over one batch: fills `workspace.grads` with the
/// gradient of the returned loss,
///
/// `sum_i w[y_i] * -ln p_i[y_i] / n  +  0.5 * weight_decay * ||W||² / n`,
///
/// where `n` is the batch's row count and `w` the class weights (1 without).
pub(crate) fn backward<T: Scalar>(
    params: &Params<T>,
    activation: Activation,
    x: ArrayView2<'_, T>,
    labels: &[usize],
    class_weights: Option<&[T]>,
    weight_decay: T,
    workspace: &mut Workspace<T>,
) -> f64 {
    forward(params, activation, x, workspace);
    let n_rows = x.nrows();
    let rows_t = T::from_f64(n_rows as f64);
    let last = params.n_layers() - 1;
    let n_classes = params.biases[last].len();

    // Softmax and cross-entropy together have the simple gradient p - onehot(y).
    let mut data_loss = 0.0;
    {
        let probabilities = prefix(&workspace.outputs[last], n_rows);
        let delta = prefix_mut(&mut workspace.deltas[last], n_rows);
        for ((probability_row, delta_row), &label) in probabilities
            .chunks_exact(n_classes)
            .zip(delta.chunks_exact_mut(n_classes))
            .zip(labels)
        {
            let weight = class_weights.map_or(T::one(), |weights| weights[label]);
            // Written so a NaN probability stays NaN (f64::max would hide it)
            // and divergence is noticed.
            let p_true = probability_row[label].to_f64();
            let p_true = if p_true < PROBABILITY_FLOOR {
                PROBABILITY_FLOOR
            } else {
                p_true
            };
            data_loss -= weight.to_f64() * p_true.ln();
            let scale = weight / rows_t;
            for (d, &p) in delta_row.iter_mut().zip(probability_row) {
                *d = p * scale;
            }
            delta_row[label] -= scale;
        }
    }

    let penalty_scale = weight_decay / rows_t;
    for layer in (0..=last).rev() {
        let (before, from) = workspace.deltas.split_at_mut(layer);
        let delta = &from[0];
        let input = if layer == 0 {
            x.view()
        } else {
            rows(&workspace.outputs[layer - 1], n_rows)
        };

        let weight_grad = &mut workspace.grads.weights[layer];
        general_mat_mul(
            T::one(),
            &input.t(),
            &rows(delta, n_rows),
            T::zero(),
            weight_grad,
        );
        if weight_decay != T::zero() {
            weight_grad.scaled_add(penalty_scale, &params.weights[layer]);
        }
        let bias_grad = workspace.grads.biases[layer]
            .as_slice_mut()
            .expect(CONTIGUOUS);
        bias_grad.fill(T::zero());
        for row in prefix(delta, n_rows).chunks_exact(bias_grad.len()) {
            for (g, &d) in bias_grad.iter_mut().zip(row) {
                *g += d;
            }
        }

        if layer > 0 {
            let previous = &mut before[layer - 1];
            general_mat_mul(
                T::one(),
                &rows(delta, n_rows),
                &params.weights[layer].t(),
                T::zero(),
                &mut rows_mut(previous, n_rows),
            );
            // Derivatives written in terms of the activation's output, which is
            // what the forward pass kept.
            let outputs = prefix(&workspace.outputs[layer - 1], n_rows);
            let pairs = prefix_mut(previous, n_rows).iter_mut().zip(outputs);
            match activation {
                Activation::Relu => {
                    pairs.for_each(|(d, &a)| *d = if a > T::zero() { *d } else { T::zero() })
                }
                Activation::Tanh => pairs.for_each(|(d, &a)| *d *= T::one() - a * a),
                Activation::Logistic => pairs.for_each(|(d, &a)| *d *= a * (T::one() - a)),
            }
        }
    }

    let n = n_rows as f64;
    let penalty = if weight_decay == T::zero() {
        0.0
    } else {
        0.5 * weight_decay.to_f64() * params.squared_weight_norm() / n
    };
    data_loss / n + penalty
}

/// Index of the largest value (the first on ties).
pub(crate) fn argmax<'a, T: Scalar>(values: impl IntoIterator<Item = &'a T>) -> usize {
    let mut best = 0;
    let mut best_value = T::neg_infinity();
    for (index, &value) in values.into_iter().enumerate() {
        if value > best_value {
            best = index;
            best_value = value;
        }
    }
    best
}

/// Rows whose most probable class is the label.
pub(crate) fn count_correct<T: Scalar>(
    probabilities: ArrayView2<'_, T>,
    labels: &[usize],
) -> usize {
    probabilities
        .rows()
        .into_iter()
        .zip(labels)
        .filter(|(row, label)| argmax(row) == **label)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use versa_core::Rng;

    fn random_params(rng: &mut Rng, widths: &[usize]) -> Params<f64> {
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for pair in widths.windows(2) {
            weights.push(Array2::from_shape_fn((pair[0], pair[1]), |_| rng.normal()));
            biases.push(Array1::from_shape_fn(pair[1], |_| 0.5 * rng.normal()));
        }
        Params { weights, biases }
    }

    /// Compares every analytic partial derivative with a central difference.
    fn check_gradients(
        activation: Activation,
        hidden: &[usize],
        class_weights: Option<&[f64]>,
        weight_decay: f64,
    ) {
        let n_classes = 3;
        let n_rows = 7;
        let input_dim = 4;
        let mut rng = Rng::new(11);
        let mut widths = vec![input_dim];
        widths.extend_from_slice(hidden);
        widths.push(n_classes);
        let params = random_params(&mut rng, &widths);
        let x = Array2::from_shape_fn((n_rows, input_dim), |_| rng.normal());
        let labels: Vec<usize> = (0..n_rows).map(|i| i % n_classes).collect();

        let mut workspace = Workspace::new(&params, n_rows);
        let loss = |p: &Params<f64>, ws: &mut Workspace<f64>| {
            backward(
                p,
                activation,
                x.view(),
                &labels,
                class_weights,
                weight_decay,
                ws,
            )
        };
        loss(&params, &mut workspace);
        let analytic = workspace.grads.clone();

        let step = 1e-6;
        let mut checked = 0;
        let mut compare = |what: String, analytic: f64, perturbed: &mut dyn FnMut(f64) -> f64| {
            let numeric = (perturbed(step) - perturbed(-step)) / (2.0 * step);
            let tolerance = 1e-7 + 1e-5 * analytic.abs().max(numeric.abs());
            assert!(
                (analytic - numeric).abs() <= tolerance,
                "{activation:?} hidden {hidden:?} class_weights {class_weights:?} wd {weight_decay}: \
                 {what}: analytic {analytic} vs numeric {numeric}"
            );
            checked += 1;
        };
        for layer in 0..params.n_layers() {
            for ((row, column), &grad) in analytic.weights[layer].indexed_iter() {
                compare(
                    format!("layer {layer} weight [{row},{column}]"),
                    grad,
                    &mut |delta| {
                        let mut moved = params.clone();
                        moved.weights[layer][[row, column]] += delta;
                        loss(&moved, &mut workspace)
                    },
                );
            }
            for (unit, &grad) in analytic.biases[layer].indexed_iter() {
                compare(format!("layer {layer} bias [{unit}]"), grad, &mut |delta| {
                    let mut moved = params.clone();
                    moved.biases[layer][unit] += delta;
                    loss(&moved, &mut workspace)
                });
            }
        }
        let expected: usize = widths.windows(2).map(|p| p[0] * p[1] + p[1]).sum();
        assert_eq!(checked, expected);
    }

    #[test]
    fn gradients_match_finite_differences_for_every_activation() {
        for activation in [Activation::Relu, Activation::Tanh, Activation::Logistic] {
            check_gradients(activation, &[5, 3], None, 0.0);
        }
    }

    #[test]
    fn gradients_match_with_class_weights_and_l2() {
        let weights = [0.5, 2.0, 1.25];
        for activation in [Activation::Relu, Activation::Tanh, Activation::Logistic] {
            check_gradients(activation, &[5], Some(&weights), 0.0);
            check_gradients(activation, &[5, 3], None, 0.3);
            check_gradients(activation, &[4, 3], Some(&weights), 0.7);
        }
    }

    #[test]
    fn gradients_match_for_softmax_regression_without_hidden_layers() {
        check_gradients(Activation::Relu, &[], None, 0.0);
        check_gradients(Activation::Relu, &[], Some(&[3.0, 1.0, 0.2]), 0.5);
    }

    #[test]
    fn loss_matches_a_hand_computed_value() {
        // One layer, zero weights: uniform probabilities, loss ln(2) per row;
        // class weights 1 and 3 over two rows give (ln 2 + 3 ln 2) / 2.
        let params = Params {
            weights: vec![Array2::<f64>::zeros((1, 2))],
            biases: vec![Array1::zeros(2)],
        };
        let x = Array2::from_elem((2, 1), 1.0);
        let mut workspace = Workspace::new(&params, 2);
        let loss = backward(
            &params,
            Activation::Relu,
            x.view(),
            &[0, 1],
            Some(&[1.0, 3.0]),
            0.0,
            &mut workspace,
        );
        assert!(
            (loss - 2.0 * std::f64::consts::LN_2).abs() < 1e-12,
            "{loss}"
        );

        // The L2 term: 0.5 * 0.4 * (1² + 2²) / 2 rows = 0.5 on top.
        let params = Params {
            weights: vec![ndarray::array![[1.0, 2.0]]],
            biases: vec![Array1::zeros(2)],
        };
        let x = Array2::zeros((2, 1));
        let loss = backward(
            &params,
            Activation::Relu,
            x.view(),
            &[0, 1],
            None,
            0.4,
            &mut workspace,
        );
        assert!(
            (loss - (std::f64::consts::LN_2 + 0.5)).abs() < 1e-12,
            "{loss}"
        );
    }

    #[test]
    fn probabilities_sum_to_one_and_partial_batches_use_a_prefix() {
        let mut rng = Rng::new(5);
        let params = random_params(&mut rng, &[3, 6, 4]);
        let x = Array2::from_shape_fn((5, 3), |_| rng.normal());
        let mut full = Workspace::new(&params, 5);
        forward(&params, Activation::Tanh, x.view(), &mut full);
        let mut bigger = Workspace::new(&params, 9);
        forward(&params, Activation::Tanh, x.view(), &mut bigger);
        assert_eq!(full.probabilities(5), bigger.probabilities(5));
        for row in full.probabilities(5).rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
    }
}
