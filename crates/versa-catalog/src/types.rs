//! The catalog's records as plain Rust values: what callers pass in and get back.
//!
//! These types derive `Serialize` so the CLI can print them with `--json`.
//! They must not know how they are stored (no SQL here).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use versa_core::{Alias, DatasetName, Digest, ModelName, RunId};

use crate::error::CatalogError;

/// A dataset version to register.
#[derive(Debug, Clone)]
pub struct NewDatasetVersion {
    /// Dataset name.
    pub name: DatasetName,
    /// Digest of the canonical table content.
    pub content_digest: Digest,
    /// Digest of the dataset manifest blob.
    pub manifest_digest: Digest,
    /// Rows (header excluded).
    pub n_rows: u64,
    /// Columns.
    pub n_columns: u64,
    /// The file it was ingested from, as given by the user.
    pub source_path: String,
    /// Size of the source file in bytes.
    pub size_bytes: u64,
    /// Source file format (`csv`, `parquet`).
    pub source_format: String,
}

/// A registered dataset version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetVersion {
    /// Dataset name.
    pub name: DatasetName,
    /// Version number, from 1.
    pub version: u32,
    /// Digest of the canonical table content.
    pub content_digest: Digest,
    /// Digest of the dataset manifest blob.
    pub manifest_digest: Digest,
    /// Rows (header excluded).
    pub n_rows: u64,
    /// Columns.
    pub n_columns: u64,
    /// The file it was ingested from.
    pub source_path: String,
    /// Size of the source file in bytes.
    pub size_bytes: u64,
    /// Source file format.
    pub source_format: String,
    /// When it was registered (ms since the Unix epoch).
    pub created_at: i64,
}

/// Whether a registration made a new row or found an identical one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// A new version was created.
    Created,
    /// The same content was already registered under this name; nothing was written.
    Existing,
}

/// A fitted transform as recorded in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransformRow {
    /// Digest of the transform spec blob.
    pub digest: Digest,
    /// Content digest of the dataset it was fitted on.
    pub dataset_digest: Digest,
    /// The spec, as JSON text.
    pub spec_json: String,
    /// When it was registered (ms since the Unix epoch).
    pub created_at: i64,
}

/// Whether an experiment or run is live or deleted (MLflow's lifecycle stage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    /// In use.
    Active,
    /// Soft-deleted.
    Deleted,
}

impl LifecycleStage {
    /// The stored (and MLflow) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    pub(crate) fn parse_stored(table: &'static str, text: &str) -> Result<Self, CatalogError> {
        match text {
            "active" => Ok(LifecycleStage::Active),
            "deleted" => Ok(LifecycleStage::Deleted),
            other => Err(CatalogError::Corrupt {
                table,
                column: "lifecycle_stage",
                value: other.to_string(),
                expected: "`active` or `deleted`",
            }),
        }
    }
}

/// An MLflow-style experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Experiment {
    /// Integer-like string id, as MLflow uses.
    pub experiment_id: String,
    /// Unique name.
    pub name: String,
    /// Where runs of this experiment keep artifacts (relative to the versa home).
    pub artifact_location: String,
    /// Live or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// ms since the Unix epoch.
    pub creation_time: i64,
    /// ms since the Unix epoch.
    pub last_update_time: i64,
}

/// The state of a run (MLflow's `RunStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// In progress.
    Running,
    /// Queued, not started.
    Scheduled,
    /// Completed successfully.
    Finished,
    /// Stopped by an error.
    Failed,
    /// Stopped by the user.
    Killed,
}

impl RunStatus {
    /// The stored (and MLflow) spelling, e.g. `FINISHED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = CatalogError;
    fn from_str(text: &str) -> Result<Self, CatalogError> {
        match text.to_ascii_uppercase().as_str() {
            "RUNNING" => Ok(RunStatus::Running),
            "SCHEDULED" => Ok(RunStatus::Scheduled),
            "FINISHED" => Ok(RunStatus::Finished),
            "FAILED" => Ok(RunStatus::Failed),
            "KILLED" => Ok(RunStatus::Killed),
            _ => Err(CatalogError::Invalid {
                what: "run status",
                value: text.to_string(),
                expected: "one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED".to_string(),
            }),
        }
    }
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The experiment it belongs to (must exist).
    pub experiment_id: String,
    /// Human-readable name.
    pub run_name: String,
    /// Who started it.
    pub user: String,
    /// Where it ran.
    pub host: String,
    /// The versa build that ran it.
    pub versa_version: String,
    /// ms since the Unix epoch.
    pub start_time: i64,
}

/// A run's header row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// 32 lowercase hex digits.
    pub run_id: RunId,
    /// Its experiment.
    pub experiment_id: String,
    /// Human-readable name.
    pub run_name: String,
    /// Current state.
    pub status: RunStatus,
    /// ms since the Unix epoch.
    pub start_time: i64,
    /// ms since the Unix epoch, once finished.
    pub end_time: Option<i64>,
    /// Live or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Where its artifacts go.
    pub artifact_uri: String,
    /// Who started it.
    pub user_id: String,
    /// Where it ran.
    pub host: String,
    /// The versa build that ran it.
    pub versa_version: String,
}

/// A run with its params, latest metrics and tags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    /// The header row.
    pub run: Run,
    /// Logged params.
    pub params: BTreeMap<String, String>,
    /// The newest value of each metric (by step, then timestamp).
    pub latest_metrics: BTreeMap<String, f64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// One metric observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPoint {
    /// Metric name.
    pub key: String,
    /// Value; NaN and ±infinity are kept.
    pub value: f64,
    /// ms since the Unix epoch.
    pub timestamp: i64,
    /// Training step (epoch, batch, ...).
    pub step: i64,
}

/// A model version to register.
///
/// Invariant the caller must uphold: every digest named here refers to a blob
/// already stored (and durable) in the blob store. The catalog never checks
/// blobs; registering only after the blobs are written is what guarantees a
/// catalog row never points at a missing blob.
#[derive(Debug, Clone)]
pub struct NewModelVersion {
    /// The registered model (created if absent).
    pub name: ModelName,
    /// The training run, if any (must exist in the catalog).
    pub run_id: Option<RunId>,
    /// Model manifest blob.
    pub manifest_digest: Digest,
    /// Weights blob.
    pub weights_digest: Digest,
    /// Fitted transform blob.
    pub transform_digest: Option<Digest>,
    /// Content digest of the training dataset.
    pub dataset_digest: Option<Digest>,
    /// Free text.
    pub description: Option<String>,
    /// Test-set metrics recorded with the version; keys must be unique.
    pub metrics: Vec<(String, f64)>,
}

/// The registration state of a model version (MLflow's `ModelVersionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ModelVersionStatus {
    /// Usable. versa writes versions complete in one transaction, so always this.
    Ready,
    /// MLflow's in-progress state (only from MLflow clients).
    PendingRegistration,
    /// MLflow's failed state (only from MLflow clients).
    FailedRegistration,
}

impl ModelVersionStatus {
    /// The stored (and MLflow) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelVersionStatus::Ready => "READY",
            ModelVersionStatus::PendingRegistration => "PENDING_REGISTRATION",
            ModelVersionStatus::FailedRegistration => "FAILED_REGISTRATION",
        }
    }

    pub(crate) fn parse_stored(text: &str) -> Result<Self, CatalogError> {
        match text {
            "READY" => Ok(ModelVersionStatus::Ready),
            "PENDING_REGISTRATION" => Ok(ModelVersionStatus::PendingRegistration),
            "FAILED_REGISTRATION" => Ok(ModelVersionStatus::FailedRegistration),
            other => Err(CatalogError::Corrupt {
                table: "model_versions",
                column: "status",
                value: other.to_string(),
                expected: "READY, PENDING_REGISTRATION or FAILED_REGISTRATION",
            }),
        }
    }
}

/// A registered model version with its metrics, tags and the aliases pointing at it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// The registered model.
    pub name: ModelName,
    /// Version number, from 1.
    pub version: u32,
    /// The training run, if recorded.
    pub run_id: Option<RunId>,
    /// Model manifest blob.
    pub manifest_digest: Digest,
    /// Weights blob.
    pub weights_digest: Digest,
    /// Fitted transform blob.
    pub transform_digest: Option<Digest>,
    /// Content digest of the training dataset.
    pub dataset_digest: Option<Digest>,
    /// Registration state.
    pub status: ModelVersionStatus,
    /// Free text.
    pub description: Option<String>,
    /// MLflow's `source`: for versa versions, `blob:<manifest digest>`.
    pub source: String,
    /// Whose bytes these are: versa's own bundle, or opaque MLflow artifacts
    /// (registered through the MLflow API; versa stores but never loads them).
    pub format: crate::registry::ModelFormat,
    /// ms since the Unix epoch.
    pub created_at: i64,
    /// Test-set metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Aliases currently pointing at this version, sorted.
    pub aliases: Vec<Alias>,
}

/// One line of `versa models list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredModelSummary {
    /// The model.
    pub name: ModelName,
    /// Free text.
    pub description: Option<String>,
    /// How many versions exist.
    pub n_versions: u32,
    /// The highest version number, if any.
    pub latest_version: Option<u32>,
    /// Alias name to version.
    pub aliases: BTreeMap<String, u32>,
    /// ms since the Unix epoch of the last new version or alias change.
    pub updated_at: i64,
}

/// The result of a successful alias move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AliasChange {
    /// What it pointed at before (`None`: newly created).
    pub from: Option<u32>,
    /// What it points at now.
    pub to: u32,
}

/// One recorded alias change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AliasEvent {
    /// The model.
    pub name: ModelName,
    /// The alias.
    pub alias: Alias,
    /// Before (`None`: created).
    pub from_version: Option<u32>,
    /// After (`None`: deleted).
    pub to_version: Option<u32>,
    /// ms since the Unix epoch.
    pub changed_at: i64,
    /// Who made the change.
    pub actor: String,
}

/// Everything a model version was made from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lineage {
    /// The version itself.
    pub version: ModelVersion,
    /// The run that trained it.
    pub run: Option<RunDetail>,
    /// The fitted transform it applies.
    pub transform: Option<TransformRow>,
    /// The dataset version it was trained on (the first registered with that content).
    pub dataset: Option<DatasetVersion>,
}

/// One provenance edge from a model version to what it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageEdge {
    /// What the edge points at: `run`, `transform` or `dataset`.
    pub to_kind: String,
    /// Its id: a run id, a transform digest or a dataset content digest.
    pub to_id: String,
    /// `produced_by`, `uses_transform` or `trained_on`.
    pub relation: String,
}

/// How a metric search compares a run's latest value with the given number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricComparison {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
}

impl MetricComparison {
    /// The operator as written on a command line (`>=`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricComparison::Less => "<",
            MetricComparison::LessOrEqual => "<=",
            MetricComparison::Greater => ">",
            MetricComparison::GreaterOrEqual => ">=",
            MetricComparison::Equal => "=",
            MetricComparison::NotEqual => "!=",
        }
    }
}

impl fmt::Display for MetricComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MetricComparison {
    type Err = CatalogError;
    fn from_str(text: &str) -> Result<Self, CatalogError> {
        match text {
            "<" => Ok(MetricComparison::Less),
            "<=" => Ok(MetricComparison::LessOrEqual),
            ">" => Ok(MetricComparison::Greater),
            ">=" => Ok(MetricComparison::GreaterOrEqual),
            "=" | "==" => Ok(MetricComparison::Equal),
            "!=" | "<>" => Ok(MetricComparison::NotEqual),
            _ => Err(CatalogError::Invalid {
                what: "metric comparison",
                value: text.to_string(),
                expected: "one of <, <=, >, >=, =, !=".to_string(),
            }),
        }
    }
}

/// Canary and shadow routing of one alias (`versa deploy --canary/--shadow`).
///
/// The alias itself still names the primary version; a route only adds
/// versions that answer some of its requests (canary) or run beside it
/// without answering (shadow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AliasRoute {
    /// The model.
    pub name: ModelName,
    /// The alias routed.
    pub alias: Alias,
    /// The canary version and the share of requests, 0–100 %, it answers.
    pub canary: Option<(u32, u8)>,
    /// The version run on every request's rows beside the primary, never answering.
    pub shadow: Option<u32>,
    /// ms since the Unix epoch.
    pub updated_at: i64,
    /// Who set it.
    pub actor: String,
}
