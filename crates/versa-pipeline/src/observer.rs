//! Progress events, so front ends (the CLI's progress bars and live tables)
//! can show a pipeline as it runs without the pipeline knowing how.

use serde::Serialize;
use versa_mlp::EpochStats;

/// Rows × columns of a table at some point in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shape {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub columns: usize,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rows × {} columns", self.rows, self.columns)
    }
}

/// Something that happened while a pipeline ran.
#[derive(Debug)]
pub enum Event<'a> {
    /// A stage began.
    StageStarted {
        /// 1-based stage number.
        number: usize,
        /// How many stages this run has (the scenario has 7; a pipeline
        /// has 4 plus one per variant).
        of: usize,
        /// Short stage name, e.g. "Data Collection".
        name: &'a str,
    },
    /// A training run began.
    TrainingStarted {
        /// The variant being trained (e.g. "v1").
        variant: &'a str,
        /// Maximum number of epochs.
        epochs: usize,
    },
    /// One training epoch finished.
    Epoch {
        /// The variant being trained.
        variant: &'a str,
        /// Its statistics.
        stats: &'a EpochStats,
        /// A one-line reading of the trend so far.
        observation: &'a str,
    },
    /// A training run finished.
    TrainingFinished {
        /// The variant.
        variant: &'a str,
        /// All epochs, in order.
        history: &'a [EpochStats],
    },
    /// A stage finished.
    StageFinished {
        /// 1-based stage number.
        number: usize,
        /// What it produced, in words.
        summary: &'a str,
    },
}

/// Receives [`Event`]s.
pub trait Observer {
    /// Called for each event, in order, on the task running the pipeline.
    fn event(&mut self, event: &Event<'_>);
}

/// Ignores every event.
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn event(&mut self, _event: &Event<'_>) {}
}
