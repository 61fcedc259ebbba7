//! The training loop: input checks, shuffled mini-batches, optimizer steps,
//! per-epoch statistics reported to a callback (which may cancel), early
//! stopping on validation loss, and divergence detection. Knows nothing of
//! where the data came from or where the model goes.
//!
//! Reported numbers, per epoch:
//! - `train_loss` / `train_accuracy` are averages over the epoch's
//!   mini-batches of the forward passes already computed for the updates
//!   (weighted by batch rows), like scikit-learn's `loss_curve_`: cheap, but
//!   measured on moving weights. `train_loss` is the optimised objective,
//!   class weights and L2 term included.
//! - `val_loss` / `val_accuracy` are computed after the epoch on the whole
//!   validation set: plain, unweighted log loss (no L2 term, no class weights),
//!   so runs with different regularisation compare fairly. Early stopping
//!   watches `val_loss`.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2, Axis, Slice};
use serde::{Deserialize, Serialize};
use versa_core::Rng;
use versa_core::manifest::Architecture;

use crate::config::TrainConfig;
use crate::error::MlpError;
use crate::metrics::clipped_log_loss_term;
use crate::model::Mlp;
use crate::network::{self, Params, Workspace, count_correct};
use crate::optimizer::OptimizerState;

/// Rows per forward pass when scoring the validation set.
const EVALUATION_CHUNK_ROWS: usize = 1024;

/// What one epoch achieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean mini-batch loss over the epoch (see the module docs).
    pub train_loss: f64,
    /// Fraction of training rows classified right during the epoch's passes.
    pub train_accuracy: f64,
    /// Log loss on the validation set after the epoch.
    pub val_loss: Option<f64>,
    /// Accuracy on the validation set after the epoch.
    pub val_accuracy: Option<f64>,
    /// Learning rate used in the epoch.
    pub learning_rate: f64,
    /// Wall time of the epoch, validation included.
    pub duration: Duration,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum StopReason {
    /// Every requested epoch ran.
    Completed,
    /// Validation loss stopped improving; the model holds the weights of `best_epoch`.
    EarlyStopped {
        /// 1-based epoch with the lowest validation loss.
        best_epoch: usize,
    },
    /// The epoch callback asked to stop.
    Cancelled,
}

/// A trained model and how it got there.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// With early stopping: the weights of `best_epoch`; otherwise those after the last epoch.
    pub model: Mlp,
    /// One entry per epoch run, in order.
    pub history: Vec<EpochStats>,
    /// Why training ended.
    pub stop_reason: StopReason,
    /// 1-based epoch whose weights `model` holds.
    pub best_epoch: usize,
}

/// Trains a fresh network on `x` (rows × features) and `y` (class indices
/// below `n_classes`), calling `on_epoch` after every epoch; returning
/// `ControlFlow::Break(())` from it stops training with
/// [`StopReason::Cancelled`].
///
/// Rows are shuffled every epoch by one `Rng::derive(seed, "mlp-shuffle")`
/// stream, so the same inputs and config give bit-identical weights. When
/// early stopping is configured, `validation` is required and the returned
/// model holds the weights of the epoch with the lowest validation loss,
/// however training ended.
pub fn train(
    x: ArrayView2<'_, f32>,
    y: &[usize],
    validation: Option<(ArrayView2<'_, f32>, &[usize])>,
    n_classes: usize,
    config: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats) -> ControlFlow<()>,
) -> Result<TrainOutcome, MlpError> {
    config.validate()?;
    if n_classes < 2 {
        return Err(MlpError::data(
            "training",
            format!("n_classes is {n_classes}; a classifier needs at least 2 classes"),
        ));
    }
    check_rows("training", x, y, n_classes)?;
    let input_dim = x.ncols();
    if let Some((val_x, val_y)) = validation {
        if val_x.ncols() != input_dim {
            return Err(MlpError::data(
                "validation",
                format!(
                    "has {} feature columns but the training data has {input_dim}",
                    val_x.ncols()
                ),
            ));
        }
        check_rows("validation", val_x, val_y, n_classes)?;
    }
    let early_stopping = match (config.early_stopping, validation) {
        (Some(_), None) => {
            return Err(MlpError::config(
                "early_stopping",
                "needs a validation set; pass one or turn early stopping off",
            ));
        }
        (early, _) => early,
    };
    let class_weights: Option<Vec<f32>> = match &config.class_weights {
        Some(weights) if weights.len() != n_classes => {
            return Err(MlpError::config(
                "class_weights",
                format!(
                    "has {} entries but there are {n_classes} classes; give one weight per class",
                    weights.len()
                ),
            ));
        }
        Some(weights) => Some(weights.iter().map(|&w| w as f32).collect()),
        None => None,
    };

    let architecture = Architecture {
        input_dim,
        hidden: config.hidden.clone(),
        activation: config.activation,
        n_classes,
    };
    let activation = config.activation;
    let mut params = Mlp::init_with(
        input_dim,
        n_classes,
        &config.hidden,
        activation,
        config.init,
        config.seed,
    )
    .into_params();

    let n_rows = x.nrows();
    let batch_rows = config.batch_size.min(n_rows);
    let mut workspace = Workspace::new(&params, batch_rows);
    let mut batch_x = Array2::<f32>::zeros((batch_rows, input_dim));
    let mut batch_y = vec![0usize; batch_rows];
    let mut order: Vec<usize> = (0..n_rows).collect();
    let mut shuffle_rng = Rng::derive(config.seed, "mlp-shuffle");
    let mut optimizer = OptimizerState::new(config.optimizer, config.learning_rate, &params);
    let weight_decay = config.weight_decay as f32;
    let mut evaluation_workspace = validation
        .map(|(val_x, _)| Workspace::new(&params, val_x.nrows().min(EVALUATION_CHUNK_ROWS)));

    let mut history = Vec::with_capacity(config.epochs);
    let mut best: Option<Best> = None;
    let mut stop_reason = StopReason::Completed;

    for epoch in 1..=config.epochs {
        let started = Instant::now();
        shuffle_rng.shuffle(&mut order);
        let mut loss_sum = 0.0;
        let mut n_correct = 0;
        for batch in order.chunks(batch_rows) {
            let n = batch.len();
            {
                let batch_values = batch_x
                    .as_slice_mut()
                    .expect("the batch buffer is standard-layout");
                for ((target, &row), label) in batch_values
                    .chunks_exact_mut(input_dim)
                    .zip(batch)
                    .zip(batch_y.iter_mut())
                {
                    let source = x.row(row);
                    match source.as_slice() {
                        Some(values) => target.copy_from_slice(values),
                        None => target.iter_mut().zip(source).for_each(|(t, &v)| *t = v),
                    }
                    *label = y[row];
                }
            }
            let loss = network::backward(
                &params,
                activation,
                batch_x.slice_axis(Axis(0), Slice::from(..n)),
                &batch_y[..n],
                class_weights.as_deref(),
                weight_decay,
                &mut workspace,
            );
            if !loss.is_finite() {
                return Err(MlpError::Diverged {
                    epoch,
                    loss,
                    learning_rate: config.learning_rate,
                });
            }
            loss_sum += loss * n as f64;
            n_correct += count_correct(workspace.probabilities(n), &batch_y[..n]);
            optimizer.step(&mut params, &workspace.grads);
        }

        let (val_loss, val_accuracy) = match (validation, evaluation_workspace.as_mut()) {
            (Some((val_x, val_y)), Some(ws)) => {
                let (loss, accuracy) = score(&params, activation, val_x, val_y, ws);
                (Some(loss), Some(accuracy))
            }
            _ => (None, None),
        };
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / n_rows as f64,
            train_accuracy: n_correct as f64 / n_rows as f64,
            val_loss,
            val_accuracy,
            learning_rate: config.learning_rate,
            duration: started.elapsed(),
        };

        let mut plateaued = false;
        if let (Some(early), Some(loss)) = (early_stopping, val_loss) {
            match &mut best {
                Some(best) if loss >= best.loss - early.min_delta => {
                    best.epochs_without_improvement += 1;
                    plateaued = best.epochs_without_improvement >= early.patience;
                }
                Some(best) => {
                    best.loss = loss;
                    best.epoch = epoch;
                    best.epochs_without_improvement = 0;
                    best.params.clone_from(&params);
                }
                None => {
                    best = Some(Best {
                        loss,
                        epoch,
                        epochs_without_improvement: 0,
                        params: params.clone(),
                    });
                }
            }
        }

        let flow = on_epoch(&stats);
        history.push(stats);
        if flow.is_break() {
            stop_reason = StopReason::Cancelled;
            break;
        }
        if plateaued {
            stop_reason = StopReason::EarlyStopped {
                best_epoch: best.as_ref().map_or(epoch, |b| b.epoch),
            };
            break;
        }
    }

    let last_epoch = history.len();
    let (params, best_epoch) = match best {
        Some(best) => (best.params, best.epoch),
        None => (params, last_epoch),
    };
    Ok(TrainOutcome {
        model: Mlp::from_params(architecture, params),
        history,
        stop_reason,
        best_epoch,
    })
}

/// The lowest validation loss so far and the weights that reached it.
struct Best {
    loss: f64,
    epoch: usize,
    epochs_without_improvement: usize,
    params: Params<f32>,
}

/// Unweighted mean log loss and accuracy of `params` on a whole data set.
fn score(
    params: &Params<f32>,
    activation: versa_core::manifest::Activation,
    x: ArrayView2<'_, f32>,
    y: &[usize],
    workspace: &mut Workspace<f32>,
) -> (f64, f64) {
    let mut loss_sum = 0.0;
    let mut n_correct = 0;
    let mut start = 0;
    while start < x.nrows() {
        let end = (start + workspace.capacity()).min(x.nrows());
        network::forward(
            params,
            activation,
            x.slice_axis(Axis(0), Slice::from(start..end)),
            workspace,
        );
        let probabilities = workspace.probabilities(end - start);
        let labels = &y[start..end];
        for (row, &label) in probabilities.rows().into_iter().zip(labels) {
            loss_sum += clipped_log_loss_term(f64::from(row[label]));
        }
        n_correct += count_correct(probabilities, labels);
        start = end;
    }
    let n = x.nrows() as f64;
    (loss_sum / n, n_correct as f64 / n)
}

/// Rejects empty, misaligned, non-finite or out-of-range input with a message
/// naming the row and column.
fn check_rows(
    dataset: &'static str,
    x: ArrayView2<'_, f32>,
    y: &[usize],
    n_classes: usize,
) -> Result<(), MlpError> {
    if x.nrows() == 0 {
        return Err(MlpError::data(dataset, "has no rows; at least 1 is needed"));
    }
    if x.ncols() == 0 {
        return Err(MlpError::data(
            dataset,
            "has no feature columns; at least 1 is needed",
        ));
    }
    if x.nrows() != y.len() {
        return Err(MlpError::data(
            dataset,
            format!(
                "has {} feature rows but {} labels; they must match one to one",
                x.nrows(),
                y.len()
            ),
        ));
    }
    if let Some((row, &label)) = y.iter().enumerate().find(|(_, label)| **label >= n_classes) {
        return Err(MlpError::data(
            dataset,
            format!(
                "row {row} has label {label}, but with {n_classes} classes labels must be 0..={}",
                n_classes - 1
            ),
        ));
    }
    if let Some(((row, column), value)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(MlpError::data(
            dataset,
            format!(
                "row {row}, column {column} is {value}; every feature must be a finite number (impute or drop missing values first)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EarlyStopping, Initialization, Optimizer};
    use versa_core::manifest::Activation;

    /// Two Gaussian blobs in 2-D, centred at ±(1.5, 1.5), plus noise columns.
    fn blobs(n_rows: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
        let mut rng = Rng::new(seed);
        let mut x = Array2::zeros((n_rows, 4));
        let mut y = Vec::with_capacity(n_rows);
        for row in 0..n_rows {
            let label = row % 2;
            let centre = if label == 1 { 1.5 } else { -1.5 };
            x[[row, 0]] = (centre + rng.normal()) as f32;
            x[[row, 1]] = (centre + rng.normal()) as f32;
            x[[row, 2]] = rng.normal() as f32;
            x[[row, 3]] = rng.normal() as f32;
            y.push(label);
        }
        (x, y)
    }

    /// XOR of the signs of two uniform coordinates: not linearly separable.
    fn xor(n_rows: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
        let mut rng = Rng::new(seed);
        let mut x = Array2::zeros((n_rows, 2));
        let mut y = Vec::with_capacity(n_rows);
        for row in 0..n_rows {
            let a = rng.uniform_range(-1.0, 1.0);
            let b = rng.uniform_range(-1.0, 1.0);
            x[[row, 0]] = a as f32;
            x[[row, 1]] = b as f32;
            y.push(usize::from((a > 0.0) != (b > 0.0)));
        }
        (x, y)
    }

    fn keep_going() -> impl FnMut(&EpochStats) -> ControlFlow<()> {
        |_| ControlFlow::Continue(())
    }

    fn small_config() -> TrainConfig {
        TrainConfig {
            hidden: vec![16, 8],
            epochs: 20,
            batch_size: 32,
            learning_rate: 0.01,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn learns_two_blobs() {
        let (x, y) = blobs(400, 1);
        let (val_x, val_y) = blobs(200, 2);
        let mut seen = Vec::new();
        let outcome = train(
            x.view(),
            &y,
            Some((val_x.view(), &val_y)),
            2,
            &small_config(),
            &mut |stats| {
                seen.push(stats.epoch);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(seen, (1..=20).collect::<Vec<_>>());
        assert_eq!(outcome.stop_reason, StopReason::Completed);
        assert_eq!(outcome.best_epoch, 20);
        let last = outcome.history.last().unwrap();
        assert!(last.val_accuracy.unwrap() > 0.95, "{last:?}");
        assert!(last.train_accuracy > 0.95, "{last:?}");
        assert!(outcome.history[0].train_loss > last.train_loss);
        assert_eq!(last.learning_rate, 0.01);
        let predicted = outcome.model.predict(val_x.view());
        let correct = predicted.iter().zip(&val_y).filter(|(p, y)| p == y).count();
        assert!((correct as f64 / 200.0 - last.val_accuracy.unwrap()).abs() < 1e-12);
    }

    #[test]
    fn learns_xor_with_every_activation_and_optimizer() {
        let (x, y) = xor(400, 3);
        let optimizers = [
            Optimizer::ADAM,
            Optimizer::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
        ];
        for activation in [Activation::Relu, Activation::Tanh, Activation::Logistic] {
            for optimizer in optimizers {
                let config = TrainConfig {
                    hidden: vec![16],
                    activation,
                    optimizer,
                    epochs: 60,
                    batch_size: 16,
                    learning_rate: match (optimizer, activation) {
                        (Optimizer::Adam { .. }, _) => 0.03,
                        (_, Activation::Logistic) => 0.5,
                        _ => 0.1,
                    },
                    weight_decay: 0.0,
                    ..TrainConfig::default()
                };
                let outcome = train(x.view(), &y, None, 2, &config, &mut keep_going()).unwrap();
                let accuracy = outcome.history.last().unwrap().train_accuracy;
                assert!(accuracy > 0.9, "{activation:?} {optimizer:?}: {accuracy}");
                assert!(outcome.history.iter().all(|h| h.val_loss.is_none()));
            }
        }
    }

    #[test]
    fn same_seed_is_bit_reproducible_and_another_seed_differs() {
        let (x, y) = blobs(150, 4);
        let config = TrainConfig {
            epochs: 3,
            batch_size: 20, // leaves a partial last batch
            ..small_config()
        };
        let run = |seed, init| {
            let config = TrainConfig {
                seed,
                init,
                ..config.clone()
            };
            train(x.view(), &y, None, 2, &config, &mut keep_going())
                .unwrap()
                .model
                .to_safetensors()
        };
        for init in [Initialization::Auto, Initialization::GlorotUniform] {
            assert_eq!(run(5, init), run(5, init));
            assert_ne!(run(5, init), run(6, init));
        }
        assert_ne!(
            run(5, Initialization::Auto),
            run(5, Initialization::GlorotUniform)
        );
    }

    #[test]
    fn early_stopping_restores_the_best_weights() {
        // Tiny training set, noisy validation labels, a big network and a high
        // learning rate: validation loss bottoms out early and then rises.
        let (x, y) = blobs(24, 5);
        let (val_x, mut val_y) = blobs(200, 6);
        for label in val_y.iter_mut().step_by(3) {
            *label = 1 - *label;
        }
        let config = TrainConfig {
            hidden: vec![64, 64],
            epochs: 300,
            batch_size: 8,
            learning_rate: 0.02,
            weight_decay: 0.0,
            early_stopping: Some(EarlyStopping {
                patience: 5,
                min_delta: 0.0,
            }),
            ..TrainConfig::default()
        };
        let outcome = train(
            x.view(),
            &y,
            Some((val_x.view(), &val_y)),
            2,
            &config,
            &mut keep_going(),
        )
        .unwrap();
        let StopReason::EarlyStopped { best_epoch } = outcome.stop_reason else {
            panic!("expected an early stop, got {:?}", outcome.stop_reason);
        };
        assert_eq!(best_epoch, outcome.best_epoch);
        assert_eq!(outcome.history.len(), best_epoch + 5);
        let losses: Vec<f64> = outcome
            .history
            .iter()
            .map(|h| h.val_loss.unwrap())
            .collect();
        let best_loss = losses[best_epoch - 1];
        assert!(losses.iter().all(|&l| l >= best_loss));
        assert!(losses[best_epoch..].iter().all(|&l| l >= best_loss));

        // The returned weights are those of the best epoch: they score its loss.
        let mut workspace = Workspace::new(outcome.model.params(), 200);
        let (loss, _) = score(
            outcome.model.params(),
            Activation::Relu,
            val_x.view(),
            &val_y,
            &mut workspace,
        );
        assert_eq!(loss, best_loss);
    }

    #[test]
    fn the_callback_can_cancel() {
        let (x, y) = blobs(64, 7);
        let outcome = train(x.view(), &y, None, 2, &small_config(), &mut |stats| {
            if stats.epoch == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(outcome.stop_reason, StopReason::Cancelled);
        assert_eq!(outcome.history.len(), 3);
        assert_eq!(outcome.best_epoch, 3);
    }

    #[test]
    fn class_weights_shift_predictions_towards_the_heavier_class() {
        // Overlapping blobs: where the classes mix, weighting class 1 tenfold
        // makes the model call more rows class 1.
        let mut rng = Rng::new(8);
        let x = Array2::from_shape_fn((300, 1), |(row, _)| {
            ((row % 2) as f64 * 0.5 + rng.normal()) as f32
        });
        let y: Vec<usize> = (0..300).map(|row| row % 2).collect();
        let config = TrainConfig {
            hidden: vec![4],
            epochs: 15,
            learning_rate: 0.01,
            ..TrainConfig::default()
        };
        let predicted_ones = |config: &TrainConfig| {
            let model = train(x.view(), &y, None, 2, config, &mut keep_going())
                .unwrap()
                .model;
            model.predict(x.view()).iter().filter(|&&c| c == 1).count()
        };
        let plain = predicted_ones(&config);
        let weighted = predicted_ones(&TrainConfig {
            class_weights: Some(vec![1.0, 10.0]),
            ..config.clone()
        });
        assert!(weighted > plain + 50, "plain {plain}, weighted {weighted}");
    }

    #[test]
    fn divergence_says_to_lower_the_learning_rate() {
        let (mut x, y) = blobs(64, 9);
        x.mapv_inplace(|v| v * 1e18);
        let config = TrainConfig {
            learning_rate: 1e6,
            optimizer: Optimizer::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            ..small_config()
        };
        let err = train(x.view(), &y, None, 2, &config, &mut keep_going()).unwrap_err();
        assert!(matches!(err, MlpError::Diverged { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("lower the learning rate (currently 1000000)"),
            "{err}"
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let (x, y) = blobs(10, 10);
        let config = small_config();
        let message = |x: ArrayView2<'_, f32>,
                       y: &[usize],
                       validation: Option<(ArrayView2<'_, f32>, &[usize])>,
                       n_classes: usize,
                       config: &TrainConfig| {
            train(x, y, validation, n_classes, config, &mut keep_going())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message(
                x.slice_axis(Axis(0), Slice::from(..0)),
                &[],
                None,
                2,
                &config
            ),
            "invalid training data: has no rows; at least 1 is needed"
        );
        assert!(
            message(x.view(), &y[..9], None, 2, &config)
                .contains("has 10 feature rows but 9 labels")
        );
        let mut bad_labels = y.clone();
        bad_labels[4] = 2;
        assert!(
            message(x.view(), &bad_labels, None, 2, &config)
                .contains("row 4 has label 2, but with 2 classes labels must be 0..=1")
        );
        let mut nan = x.clone();
        nan[[3, 1]] = f32::NAN;
        assert!(message(nan.view(), &y, None, 2, &config).contains("row 3, column 1 is NaN"));
        assert!(message(x.view(), &y, None, 1, &config).contains("n_classes is 1"));
        let narrow = x.slice_axis(Axis(1), Slice::from(..3));
        assert_eq!(
            message(x.view(), &y, Some((narrow, &y)), 2, &config),
            "invalid validation data: has 3 feature columns but the training data has 4"
        );
        let mut inf = x.clone();
        inf[[0, 0]] = f32::INFINITY;
        assert!(
            message(x.view(), &y, Some((inf.view(), &y)), 2, &config)
                .starts_with("invalid validation data: row 0, column 0 is inf")
        );
        let early = TrainConfig {
            early_stopping: Some(EarlyStopping {
                patience: 2,
                min_delta: 0.0,
            }),
            ..config.clone()
        };
        assert!(
            message(x.view(), &y, None, 2, &early)
                .contains("early_stopping needs a validation set")
        );
        let weights = TrainConfig {
            class_weights: Some(vec![1.0, 1.0, 1.0]),
            ..config.clone()
        };
        assert!(
            message(x.view(), &y, None, 2, &weights)
                .contains("class_weights has 3 entries but there are 2 classes")
        );
        let invalid = TrainConfig {
            batch_size: 0,
            ..config
        };
        assert!(message(x.view(), &y, None, 2, &invalid).contains("batch_size is 0"));
    }
}
