//! versa's own multilayer perceptron engine: a small, fast, deterministic
//! classifier in the spirit of scikit-learn's `MLPClassifier`.
//!
//! The network is input → hidden layers (one shared [`Activation`]) → softmax
//! over the classes, trained on softmax cross-entropy with an L2 penalty by
//! mini-batch Adam or SGD. Backpropagation is written out by hand over
//! ndarray's GEMM (no autodiff), with every activation and gradient buffer
//! allocated once per training run, not per batch. The same generic code runs
//! in `f32` for training and in `f64` for the finite-difference gradient checks
//! in the tests.
//!
//! What lives here:
//! - [`TrainConfig`] (with [`Optimizer`], [`EarlyStopping`], [`Initialization`]) and [`train`], which
//!   reports every epoch to a callback that may cancel;
//! - [`Mlp`]: the fitted weights, batch and single-row inference, a per-layer
//!   [`RowTrace`] for explaining one prediction, and safetensors (de)serialisation;
//! - [`metrics`]: accuracy, precision/recall/F1, ROC AUC, log loss, confusion;
//! - [`observe`]: a one-line, rule-based reading of the training curve.
//!
//! The loss of a mini-batch of `n` rows is
//! `Σ class_weight[y] · (−ln p[y]) / n + 0.5 · weight_decay · ‖W‖² / n`
//! (scikit-learn's convention; biases are not penalised). See [`train`] for
//! how the per-epoch numbers are measured.
//!
//! Reproducibility: the same data, config and seed give bit-identical weights
//! (on the same machine), because every random draw comes from
//! [`versa_core::Rng`] streams derived from the seed and nothing runs in
//! parallel.
//!
//! Boundary: this crate is pure. It does no IO, is not async, prints nothing
//! and knows nothing of arrow, files, the catalog or HTTP; callers hand it
//! dense `f32` matrices and class indices, and get back bytes and numbers.

mod config;
mod error;
pub mod metrics;
mod model;
mod network;
pub mod observe;
mod optimizer;
mod train;

pub use config::{EarlyStopping, Initialization, Optimizer, TrainConfig};
pub use error::MlpError;
pub use model::{LayerTrace, Mlp, RowScratch, RowTrace, WEIGHTS_FORMAT};
pub use train::{EpochStats, StopReason, TrainOutcome, train};
pub use versa_core::manifest::{Activation, Architecture};
