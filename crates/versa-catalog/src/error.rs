//! What can go wrong in the catalog, phrased for the person at the terminal.
//!
//! Messages say what was looked for or attempted, what was found instead and
//! what would be accepted. This module knows nothing about SQL beyond carrying
//! sqlx's error as a source.

use std::fmt;

use serde::Serialize;
use versa_core::{Alias, ModelName, RunId};

/// Any catalog failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The thing asked for does not exist.
    #[error("{what} `{key}` not found: {hint}")]
    NotFound {
        /// Kind of thing (`dataset`, `model version`, `alias`, ...).
        what: &'static str,
        /// How it was asked for (`customers@3`, `churn/4`, `churn@production`).
        key: String,
        /// What does exist, or how to create it.
        hint: String,
    },
    /// A compare-and-swap on an alias found a different current version than expected.
    #[error(
        "alias `{alias}` of model `{model}` was expected to point at {expected}, but it points at {}; \
         another change happened first: re-read the alias and retry",
        describe_actual(*actual)
    )]
    AliasConflict {
        /// The model.
        model: ModelName,
        /// The alias.
        alias: Alias,
        /// What the caller expected.
        expected: AliasExpectation,
        /// What the alias actually pointed at (`None`: it did not exist).
        actual: Option<u32>,
    },
    /// A param was logged again with a different value; params are immutable.
    #[error(
        "param `{key}` of run {run_id} is already `{existing}` and cannot be changed to `{attempted}`: \
         params are immutable once logged; log the new value under another key or start a new run"
    )]
    ParamConflict {
        /// The run.
        run_id: RunId,
        /// The param key.
        key: String,
        /// The value already stored.
        existing: String,
        /// The value that was rejected.
        attempted: String,
    },
    /// Creating something whose unique key is taken (MLflow's
    /// `RESOURCE_ALREADY_EXISTS`).
    #[error("{what} `{key}` already exists: {hint}")]
    AlreadyExists {
        /// What kind of thing.
        what: &'static str,
        /// Its key.
        key: String,
        /// What to do instead.
        hint: String,
    },
    /// An argument was not acceptable.
    #[error("invalid {what} `{value}`: {expected}")]
    Invalid {
        /// Which argument or field.
        what: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// A stored row holds a value this build cannot read (edited by hand, or a newer versa wrote it).
    #[error("catalog table `{table}` column `{column}` holds `{value}`, which is not {expected}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The stored value.
        value: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// Applying the schema migrations failed.
    #[error("could not migrate catalog at `{location}`: {source}")]
    Migrate {
        /// The database file.
        location: String,
        /// The underlying error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The database failed while doing `operation`.
    #[error("catalog database error while trying to {operation}: {source}")]
    Database {
        /// What was being done.
        operation: String,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },
}

fn describe_actual(actual: Option<u32>) -> String {
    match actual {
        Some(version) => format!("version {version}"),
        None => "nothing (the alias does not exist)".to_string(),
    }
}

/// What the caller believes an alias points at before moving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasExpectation {
    /// Move it whatever it points at now (or create it).
    Any,
    /// Only create it: fail if it already exists.
    Absent,
    /// Only move it if it points at this version now.
    Version(u32),
}

impl fmt::Display for AliasExpectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AliasExpectation::Any => f.write_str("any version"),
            AliasExpectation::Absent => f.write_str("nothing (the alias absent)"),
            AliasExpectation::Version(version) => write!(f, "version {version}"),
        }
    }
}

/// Wraps a sqlx error with the operation that failed.
pub(crate) fn db(operation: impl Into<String>) -> impl FnOnce(sqlx::Error) -> CatalogError {
    let operation = operation.into();
    move |source| CatalogError::Database { operation, source }
}
