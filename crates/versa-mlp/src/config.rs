//! Training parameters: what a run asks for, their validation, and their flat
//! string form for run logs. Knows nothing of how training is carried out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use versa_core::manifest::Activation;

use crate::error::MlpError;

/// How parameters move along the gradient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Optimizer {
    /// Adam (Kingma & Ba), with bias-corrected moment estimates.
    Adam {
        /// Decay of the first-moment (mean) estimate, in `[0, 1)`.
        beta1: f64,
        /// Decay of the second-moment (uncentred variance) estimate, in `[0, 1)`.
        beta2: f64,
        /// Added to the denominator for numerical stability, `> 0`.
        epsilon: f64,
    },
    /// Stochastic gradient descent with (optionally Nesterov) momentum.
    Sgd {
        /// Momentum in `[0, 1)`; 0 is plain SGD.
        momentum: f64,
        /// Use Nesterov's look-ahead momentum.
        nesterov: bool,
    },
}

impl Optimizer {
    /// Adam with the usual defaults (0.9, 0.999, 1e-8).
    pub const ADAM: Optimizer = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
    };

    /// The lowercase name used in run parameters.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Adam { .. } => "adam",
            Optimizer::Sgd { .. } => "sgd",
        }
    }
}

/// Stop when the validation loss stops improving, and keep the best weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without an improvement of at least `min_delta` before stopping (≥ 1).
    pub patience: usize,
    /// Smallest decrease of the validation loss that counts as an improvement (≥ 0).
    pub min_delta: f64,
}

/// How the weights (and biases) of a fresh network are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initialization {
    /// versa's own choice per activation: He-normal (std `sqrt(2 / fan_in)`)
    /// for relu, Glorot-uniform for tanh and logistic; biases start at zero.
    #[default]
    Auto,
    /// scikit-learn's `MLPClassifier` scheme, for like-for-like comparisons:
    /// every layer's weights and biases uniform in `±sqrt(6 / (fan_in +
    /// fan_out))`, with factor 2 instead of 6 when the activation is logistic.
    GlorotUniform,
}

impl Initialization {
    /// The snake_case name used in configs and run logs.
    pub fn name(self) -> &'static str {
        match self {
            Initialization::Auto => "auto",
            Initialization::GlorotUniform => "glorot_uniform",
        }
    }
}

/// Everything that determines a training run (with the data and the seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Width of each hidden layer, input side first. May be empty (softmax regression).
    pub hidden: Vec<usize>,
    /// Activation of every hidden layer.
    pub activation: Activation,
    /// Update rule.
    pub optimizer: Optimizer,
    /// Step size, `> 0`.
    pub learning_rate: f64,
    /// L2 penalty strength (scikit-learn's `alpha`), `≥ 0`. The loss adds
    /// `0.5 * weight_decay * ||W||² / batch_rows` over all weight matrices
    /// (biases are not penalised), exactly as scikit-learn does.
    pub weight_decay: f64,
    /// Rows per mini-batch, `≥ 1`; the last, partial batch of an epoch is used too.
    pub batch_size: usize,
    /// Passes over the training data, `≥ 1`.
    pub epochs: usize,
    /// Seeds weight initialisation and mini-batch shuffling.
    pub seed: u64,
    /// How the initial weights are drawn. Absent in configs written before
    /// the choice existed, which then mean today's [`Initialization::Auto`].
    #[serde(default)]
    pub init: Initialization,
    /// Stop on a validation-loss plateau; needs a validation set.
    pub early_stopping: Option<EarlyStopping>,
    /// Per-class multiplier of each sample's loss, indexed by class.
    pub class_weights: Option<Vec<f64>>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: vec![64, 32],
            activation: Activation::Relu,
            optimizer: Optimizer::ADAM,
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            batch_size: 64,
            epochs: 50,
            seed: 0,
            init: Initialization::Auto,
            early_stopping: None,
            class_weights: None,
        }
    }
}

impl TrainConfig {
    /// Checks every parameter's range. Checks that need the data (class
    /// weight count, validation set presence) happen in [`crate::train`].
    pub fn validate(&self) -> Result<(), MlpError> {
        if let Some(position) = self.hidden.iter().position(|&width| width == 0) {
            return Err(MlpError::config(
                "hidden",
                format!(
                    "has a zero-width layer at position {} (of {:?}); every hidden layer needs at least 1 unit",
                    position + 1,
                    self.hidden
                ),
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(MlpError::config(
                "learning_rate",
                format!(
                    "is {}; it must be a finite number greater than 0, such as 0.001",
                    self.learning_rate
                ),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(MlpError::config(
                "weight_decay",
                format!(
                    "is {}; it must be a finite number of at least 0, such as 0.0001",
                    self.weight_decay
                ),
            ));
        }
        if self.batch_size == 0 {
            return Err(MlpError::config(
                "batch_size",
                "is 0; it must be at least 1, such as 64",
            ));
        }
        if self.epochs == 0 {
            return Err(MlpError::config(
                "epochs",
                "is 0; it must be at least 1, such as 50",
            ));
        }
        match self.optimizer {
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                check_unit_interval("beta1", beta1)?;
                check_unit_interval("beta2", beta2)?;
                if !(epsilon.is_finite() && epsilon > 0.0) {
                    return Err(MlpError::config(
                        "epsilon",
                        format!(
                            "is {epsilon}; it must be a finite number greater than 0, such as 1e-8"
                        ),
                    ));
                }
            }
            Optimizer::Sgd { momentum, .. } => check_unit_interval("momentum", momentum)?,
        }
        // Every scheme suits every activation and shape (the logistic factor is
        // applied inside), so there is nothing to reject; the exhaustive match
        // makes a future scheme with constraints decide here.
        match self.init {
            Initialization::Auto | Initialization::GlorotUniform => {}
        }
        if let Some(early) = &self.early_stopping {
            if early.patience == 0 {
                return Err(MlpError::config(
                    "patience",
                    "is 0; early stopping needs a patience of at least 1 epoch, such as 10",
                ));
            }
            if !(early.min_delta.is_finite() && early.min_delta >= 0.0) {
                return Err(MlpError::config(
                    "min_delta",
                    format!(
                        "is {}; it must be a finite number of at least 0, such as 0.0001",
                        early.min_delta
                    ),
                ));
            }
        }
        if let Some(weights) = &self.class_weights {
            if let Some(position) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
                return Err(MlpError::config(
                    "class_weights",
                    format!(
                        "has {} for class {position}; every weight must be a finite number of at least 0",
                        weights[position]
                    ),
                ));
            }
            if weights.iter().all(|&w| w == 0.0) {
                return Err(MlpError::config(
                    "class_weights",
                    "are all 0; at least one class needs a positive weight",
                ));
            }
        }
        Ok(())
    }

    /// The config as flat strings for run logs. Keys: `hidden` ("64,32", ""
    /// when none), `activation`, `optimizer`, the optimizer's own parameters
    /// (`beta1`, `beta2`, `epsilon` or `momentum`, `nesterov`),
    /// `learning_rate`, `weight_decay`, `batch_size`, `epochs`, `seed`,
    /// `init` ("auto" or "glorot_uniform"), `early_stopping` ("none" or "on", with `patience` and `min_delta`) and
    /// `class_weights` ("none" or "1,2.5").
    pub fn to_params(&self) -> BTreeMap<String, String> {
        let mut params = BTreeMap::new();
        let mut put = |key: &str, value: String| {
            params.insert(key.to_owned(), value);
        };
        put("hidden", join(&self.hidden));
        put("activation", self.activation.name().to_owned());
        put("optimizer", self.optimizer.name().to_owned());
        match self.optimizer {
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                put("beta1", beta1.to_string());
                put("beta2", beta2.to_string());
                put("epsilon", epsilon.to_string());
            }
            Optimizer::Sgd { momentum, nesterov } => {
                put("momentum", momentum.to_string());
                put("nesterov", nesterov.to_string());
            }
        }
        put("learning_rate", self.learning_rate.to_string());
        put("weight_decay", self.weight_decay.to_string());
        put("batch_size", self.batch_size.to_string());
        put("epochs", self.epochs.to_string());
        put("seed", self.seed.to_string());
        put("init", self.init.name().to_owned());
        match &self.early_stopping {
            None => put("early_stopping", "none".to_owned()),
            Some(early) => {
                put("early_stopping", "on".to_owned());
                put("patience", early.patience.to_string());
                put("min_delta", early.min_delta.to_string());
            }
        }
        put(
            "class_weights",
            match &self.class_weights {
                None => "none".to_owned(),
                Some(weights) => join(weights),
            },
        );
        params
    }
}

fn check_unit_interval(field: &'static str, value: f64) -> Result<(), MlpError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(MlpError::config(
            field,
            format!("is {value}; it must be at least 0 and below 1, such as 0.9"),
        ))
    }
}

fn join<T: ToString>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(config: &TrainConfig) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn default_is_valid_and_logs_flat_params() {
        let config = TrainConfig::default();
        config.validate().unwrap();
        let params = config.to_params();
        assert_eq!(params["hidden"], "64,32");
        assert_eq!(params["activation"], "relu");
        assert_eq!(params["optimizer"], "adam");
        assert_eq!(params["beta1"], "0.9");
        assert_eq!(params["beta2"], "0.999");
        assert_eq!(params["epsilon"], "0.00000001");
        assert_eq!(params["learning_rate"], "0.001");
        assert_eq!(params["weight_decay"], "0.0001");
        assert_eq!(params["batch_size"], "64");
        assert_eq!(params["epochs"], "50");
        assert_eq!(params["seed"], "0");
        assert_eq!(params["init"], "auto");
        assert_eq!(params["early_stopping"], "none");
        assert_eq!(params["class_weights"], "none");
        assert!(!params.contains_key("momentum"));
    }

    #[test]
    fn sgd_early_stopping_and_class_weights_are_logged() {
        let config = TrainConfig {
            optimizer: Optimizer::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            early_stopping: Some(EarlyStopping {
                patience: 5,
                min_delta: 0.001,
            }),
            class_weights: Some(vec![1.0, 2.5]),
            hidden: vec![],
            ..TrainConfig::default()
        };
        config.validate().unwrap();
        let params = config.to_params();
        assert_eq!(params["optimizer"], "sgd");
        assert_eq!(params["momentum"], "0.9");
        assert_eq!(params["nesterov"], "true");
        assert_eq!(params["early_stopping"], "on");
        assert_eq!(params["patience"], "5");
        assert_eq!(params["min_delta"], "0.001");
        assert_eq!(params["class_weights"], "1,2.5");
        assert_eq!(params["hidden"], "");
        assert!(!params.contains_key("beta1"));
    }

    #[test]
    fn validation_messages_name_the_field_and_the_accepted_range() {
        let base = TrainConfig::default();
        let cases: Vec<(TrainConfig, &str)> = vec![
            (
                TrainConfig {
                    hidden: vec![8, 0],
                    ..base.clone()
                },
                "hidden has a zero-width layer at position 2",
            ),
            (
                TrainConfig {
                    batch_size: 0,
                    ..base.clone()
                },
                "batch_size is 0; it must be at least 1",
            ),
            (
                TrainConfig {
                    epochs: 0,
                    ..base.clone()
                },
                "epochs is 0",
            ),
            (
                TrainConfig {
                    learning_rate: 0.0,
                    ..base.clone()
                },
                "learning_rate is 0; it must be a finite number greater than 0",
            ),
            (
                TrainConfig {
                    learning_rate: f64::NAN,
                    ..base.clone()
                },
                "learning_rate is NaN",
            ),
            (
                TrainConfig {
                    learning_rate: f64::INFINITY,
                    ..base.clone()
                },
                "learning_rate is inf",
            ),
            (
                TrainConfig {
                    weight_decay: -1.0,
                    ..base.clone()
                },
                "weight_decay is -1",
            ),
            (
                TrainConfig {
                    optimizer: Optimizer::Adam {
                        beta1: 1.0,
                        beta2: 0.999,
                        epsilon: 1e-8,
                    },
                    ..base.clone()
                },
                "beta1 is 1; it must be at least 0 and below 1",
            ),
            (
                TrainConfig {
                    optimizer: Optimizer::Adam {
                        beta1: 0.9,
                        beta2: 0.999,
                        epsilon: 0.0,
                    },
                    ..base.clone()
                },
                "epsilon is 0",
            ),
            (
                TrainConfig {
                    optimizer: Optimizer::Sgd {
                        momentum: -0.5,
                        nesterov: false,
                    },
                    ..base.clone()
                },
                "momentum is -0.5",
            ),
            (
                TrainConfig {
                    early_stopping: Some(EarlyStopping {
                        patience: 0,
                        min_delta: 0.0,
                    }),
                    ..base.clone()
                },
                "patience is 0",
            ),
            (
                TrainConfig {
                    early_stopping: Some(EarlyStopping {
                        patience: 3,
                        min_delta: -1.0,
                    }),
                    ..base.clone()
                },
                "min_delta is -1",
            ),
            (
                TrainConfig {
                    class_weights: Some(vec![1.0, -2.0]),
                    ..base.clone()
                },
                "class_weights has -2 for class 1",
            ),
            (
                TrainConfig {
                    class_weights: Some(vec![0.0, 0.0]),
                    ..base.clone()
                },
                "class_weights are all 0",
            ),
        ];
        for (config, expected) in cases {
            let got = message(&config);
            assert!(
                got.starts_with("invalid training config: ") && got.contains(expected),
                "expected {expected:?} in {got:?}"
            );
        }
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = TrainConfig {
            early_stopping: Some(EarlyStopping {
                patience: 2,
                min_delta: 0.0,
            }),
            ..TrainConfig::default()
        };
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"kind\":\"adam\""), "{json}");
        let back: TrainConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn init_is_snake_case_optional_and_logged() {
        let config = TrainConfig {
            init: Initialization::GlorotUniform,
            ..TrainConfig::default()
        };
        config.validate().unwrap();
        assert_eq!(config.to_params()["init"], "glorot_uniform");
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"init\":\"glorot_uniform\""), "{json}");
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), config);

        // A config written before `init` existed still parses, as `auto`.
        let mut old = serde_json::to_value(TrainConfig::default()).unwrap();
        old.as_object_mut().unwrap().remove("init");
        let back: TrainConfig = serde_json::from_value(old).unwrap();
        assert_eq!(back.init, Initialization::Auto);
        assert_eq!(back, TrainConfig::default());

        let mut unknown = serde_json::to_value(TrainConfig::default()).unwrap();
        unknown["init"] = serde_json::json!("he_normal");
        let error = serde_json::from_value::<TrainConfig>(unknown)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("he_normal") && error.contains("glorot_uniform"),
            "{error}"
        );
    }
}
