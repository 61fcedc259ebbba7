//! The one error type of this crate: what went wrong in a config, the
//! training data, the weights or a metric's input, said so that the caller can
//! fix it. It knows nothing of files or HTTP; callers add that context.

/// Everything that can go wrong in `versa-mlp`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MlpError {
    /// A training parameter is out of range.
    #[error("invalid training config: {field} {problem}")]
    InvalidConfig {
        /// The config field, as named in [`crate::TrainConfig::to_params`].
        field: &'static str,
        /// What is wrong and what would be accepted.
        problem: String,
    },

    /// The data handed to training, prediction or a metric is unusable.
    #[error("invalid {dataset} data: {problem}")]
    InvalidData {
        /// Which input: "training", "validation" or "evaluation".
        dataset: &'static str,
        /// What is wrong, where, and what would be accepted.
        problem: String,
    },

    /// The loss became NaN or infinite.
    #[error(
        "training diverged at epoch {epoch}: the loss became {loss}; lower the learning rate (currently {learning_rate}) or standardise the inputs"
    )]
    Diverged {
        /// 1-based epoch in which it happened.
        epoch: usize,
        /// The non-finite loss value.
        loss: f64,
        /// The learning rate in use.
        learning_rate: f64,
    },

    /// A safetensors weights blob does not fit the expected architecture or is corrupt.
    #[error("invalid mlp weights: {problem}")]
    InvalidWeights {
        /// What is wrong, naming the tensor where there is one.
        problem: String,
    },
}

impl MlpError {
    pub(crate) fn config(field: &'static str, problem: impl Into<String>) -> Self {
        MlpError::InvalidConfig {
            field,
            problem: problem.into(),
        }
    }

    pub(crate) fn data(dataset: &'static str, problem: impl Into<String>) -> Self {
        MlpError::InvalidData {
            dataset,
            problem: problem.into(),
        }
    }

    pub(crate) fn weights(problem: impl Into<String>) -> Self {
        MlpError::InvalidWeights {
            problem: problem.into(),
        }
    }
}
