//! Experiment tracking in MLflow's model: experiments, runs, params,
//! metrics (full history plus the latest value per key) and run tags.
//!
//! Knows the tracking tables only; models and datasets live elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sqlx::{QueryBuilder, Row, Transaction};
use versa_core::{Hasher, RunId};

use crate::error::db;
use crate::types::{
    Experiment, LifecycleStage, MetricComparison, MetricPoint, NewRun, Run, RunDetail, RunStatus,
};
use crate::{Catalog, CatalogError, Result, decode_metric, encode_metric, now_ms, parse_stored};

macro_rules! run_columns {
    () => {
        "run_id, experiment_id, run_name, status, start_time, end_time, lifecycle_stage, \
         artifact_uri, user_id, host, versa_version"
    };
}

/// `run_columns!` qualified with the alias `r`, for queries joining `runs r`.
macro_rules! run_columns_of_r {
    () => {
        "r.run_id, r.experiment_id, r.run_name, r.status, r.start_time, r.end_time, \
         r.lifecycle_stage, r.artifact_uri, r.user_id, r.host, r.versa_version"
    };
}

/// The metric search, one static query per comparison (sqlx takes only
/// `&'static str` SQL). NaN values never match; they are stored flagged.
macro_rules! search_runs_sql {
    ($operator:literal) => {
        concat!(
            "SELECT ",
            run_columns_of_r!(),
            " FROM runs r JOIN latest_metrics m ON m.run_id = r.run_id \
             WHERE r.experiment_id = $1 AND m.key = $2 AND m.is_nan = FALSE AND m.value ",
            $operator,
            " $3 ORDER BY r.start_time DESC, r.run_id"
        )
    };
}

macro_rules! experiment_columns {
    () => {
        "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time"
    };
}

/// A fresh run id: 32 lowercase hex digits.
///
/// Hashes the wall clock in nanoseconds, the process id, a per-process
/// counter and an address (which varies with ASLR), so ids differ across
/// processes and within one process without a random-number dependency.
fn new_run_id() -> RunId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    let local = 0u8;
    let mut hasher = Hasher::new();
    hasher
        .update(&nanos.to_le_bytes())
        .update(&std::process::id().to_le_bytes())
        .update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes())
        .update(&(std::ptr::addr_of!(local) as usize).to_le_bytes())
        .update(&(std::ptr::addr_of!(COUNTER) as usize).to_le_bytes());
    let hex = hasher.finish().to_hex();
    // 32 hex digits always satisfy RunId's character rules.
    RunId::new(&hex[..32]).unwrap_or_else(|_| unreachable!("hex digits are a valid run id"))
}

/// Metric points per multi-row statement: 6 parameters each keeps a statement
/// under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
const POINTS_PER_STATEMENT: usize = 1000;

/// The newest point of each key in a batch, by key: a later (step,
/// timestamp) wins, and of equal ones the point logged last — the same
/// outcome as applying the points one by one.
fn newest_per_key(metrics: &[MetricPoint]) -> Vec<&MetricPoint> {
    let mut newest: BTreeMap<&str, &MetricPoint> = BTreeMap::new();
    for point in metrics {
        let entry = newest.entry(point.key.as_str()).or_insert(point);
        if (point.step, point.timestamp) >= (entry.step, entry.timestamp) {
            *entry = point;
        }
    }
    newest.into_values().collect()
}

/// Rejects empty metric keys before a transaction starts.
fn check_metric_keys(metrics: &[MetricPoint]) -> Result<()> {
    for point in metrics {
        if point.key.is_empty() {
            return Err(CatalogError::Invalid {
                what: "metric key",
                value: String::new(),
                expected: "a non-empty name such as `loss`".to_string(),
            });
        }
    }
    Ok(())
}

pub(crate) fn run_not_found(run_id: &RunId) -> CatalogError {
    CatalogError::NotFound {
        what: "run",
        key: run_id.to_string(),
        hint: "list runs to see existing run ids".to_string(),
    }
}

/// The tag MLflow keeps a run's name in, mirrored into `runs.run_name`.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// MLflow's most metrics in one `log_batch`.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// MLflow's most params, and most tags, in one `log_batch`.
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
/// MLflow's most metrics, params and tags together in one `log_batch`.
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// MLflow's longest param value, in characters.
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
/// MLflow's longest run tag value, in characters.
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
/// MLflow's longest metric, param or tag key, in characters.
pub const MAX_KEY_LENGTH: usize = 250;

/// The `runs` columns in the order `run_from_row` reads, for queries built at run time.
pub(crate) const RUN_COLUMNS: &str = run_columns!();

/// A run to start through the MLflow API (`CreateRun`): unlike [`NewRun`]
/// it carries tags, and its name may come from the `mlflow.runName` tag or
/// be generated.
#[derive(Debug, Clone)]
pub struct NewTrackedRun {
    /// The experiment (must exist and be active).
    pub experiment_id: String,
    /// Who started it (may be empty).
    pub user_id: String,
    /// Its name; `None` or empty: the `mlflow.runName` tag, else generated.
    pub run_name: Option<String>,
    /// ms since the Unix epoch.
    pub start_time: i64,
    /// Tags set at creation.
    pub tags: Vec<(String, String)>,
    /// Where it ran (empty when unknown).
    pub host: String,
    /// The versa build that recorded it.
    pub versa_version: String,
}

/// A run with everything MLflow's `Run` message carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackedRun {
    /// The header row.
    pub run: Run,
    /// Logged params.
    pub params: BTreeMap<String, String>,
    /// The newest point of each metric, by key.
    pub metrics: Vec<MetricPoint>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Datasets logged as inputs, in the order first logged.
    pub dataset_inputs: Vec<DatasetInput>,
}

/// A dataset a run used (MLflow's `DatasetInput`: a `Dataset` plus input tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetInput {
    /// Dataset name.
    pub name: String,
    /// The client's digest of its content.
    pub digest: String,
    /// Kind of source (`local`, `http`, `code`…).
    pub source_type: String,
    /// The source, as the client describes it (often JSON).
    pub source: String,
    /// Schema, as the client describes it (JSON).
    pub schema: Option<String>,
    /// Profile (row counts…), as the client describes it (JSON).
    pub profile: Option<String>,
    /// Input tags, e.g. `mlflow.data.context = train`.
    pub tags: BTreeMap<String, String>,
}

/// Metrics, params and tags logged together, all or nothing (MLflow's `LogBatch`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunBatch {
    /// Metric points.
    pub metrics: Vec<MetricPoint>,
    /// Params; a key may appear once.
    pub params: Vec<(String, String)>,
    /// Tags; a later value of a key wins.
    pub tags: Vec<(String, String)>,
}

/// Changes to a run's header (MLflow's `UpdateRun`); `None` leaves a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunUpdate {
    /// New status.
    pub status: Option<RunStatus>,
    /// End time, ms since the Unix epoch.
    pub end_time: Option<i64>,
    /// New name (also written to the `mlflow.runName` tag).
    pub run_name: Option<String>,
}

/// One page of a metric's history.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricHistoryPage {
    /// Points by step, then timestamp.
    pub points: Vec<MetricPoint>,
    /// The token for the next page, when there are more points.
    pub next_page_token: Option<String>,
}

/// Whether MLflow accepts `key` as a metric, param or tag name: 1 to 250
/// characters from letters, digits, `_ - . / :` and space, and not a path
/// that normalises to something else (`a//b`, `./a`, `../a`, `/a`).
fn check_key(what: &'static str, key: &str) -> Result<()> {
    let invalid = |expected: &str| CatalogError::Invalid {
        what,
        value: key.to_string(),
        expected: expected.to_string(),
    };
    if key.is_empty() || key.chars().count() > MAX_KEY_LENGTH {
        return Err(invalid("1 to 250 characters"));
    }
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':'))
    {
        return Err(invalid(
            "names may only contain alphanumerics, underscores (_), dashes (-), periods (.), \
             spaces ( ), colons (:) and slashes (/)",
        ));
    }
    let not_a_plain_path = key.starts_with('/')
        || key.starts_with("..")
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if not_a_plain_path {
        return Err(invalid(
            "a relative path without empty, `.` or `..` segments (it would name another path)",
        ));
    }
    Ok(())
}

/// MLflow's `log_batch` validation: sizes, keys, value lengths, and each
/// param key at most once.
fn check_batch(batch: &RunBatch) -> Result<()> {
    let (n_metrics, n_params, n_tags) = (batch.metrics.len(), batch.params.len(), batch.tags.len());
    if n_metrics > MAX_METRICS_PER_BATCH
        || n_params > MAX_PARAMS_TAGS_PER_BATCH
        || n_tags > MAX_PARAMS_TAGS_PER_BATCH
        || n_metrics + n_params + n_tags > MAX_ENTITIES_PER_BATCH
    {
        return Err(CatalogError::Invalid {
            what: "log batch",
            value: format!("{n_metrics} metrics, {n_params} params, {n_tags} tags"),
            expected: format!(
                "at most {MAX_METRICS_PER_BATCH} metrics, {MAX_PARAMS_TAGS_PER_BATCH} params and \
                 {MAX_PARAMS_TAGS_PER_BATCH} tags, {MAX_ENTITIES_PER_BATCH} in all (MLflow's \
                 limits); split it into several batches"
            ),
        });
    }
    for point in &batch.metrics {
        check_key("metric key", &point.key)?;
    }
    let mut seen = BTreeSet::new();
    for (key, value) in &batch.params {
        check_key("param key", key)?;
        if value.chars().count() > MAX_PARAM_VALUE_LENGTH {
            return Err(CatalogError::Invalid {
                what: "param value",
                value: format!(
                    "{}… ({} characters, key `{key}`)",
                    value.chars().take(40).collect::<String>(),
                    value.chars().count()
                ),
                expected: format!("at most {MAX_PARAM_VALUE_LENGTH} characters"),
            });
        }
        if !seen.insert(key.as_str()) {
            return Err(CatalogError::Invalid {
                what: "param key",
                value: key.clone(),
                expected: "each param key once per batch (duplicate parameter keys were submitted)"
                    .to_string(),
            });
        }
    }
    for (key, value) in &batch.tags {
        check_key("tag key", key)?;
        if value.chars().count() > MAX_TAG_VALUE_LENGTH {
            return Err(CatalogError::Invalid {
                what: "tag value",
                value: format!(
                    "{}… ({} characters, key `{key}`)",
                    value.chars().take(40).collect::<String>(),
                    value.chars().count()
                ),
                expected: format!("at most {MAX_TAG_VALUE_LENGTH} characters"),
            });
        }
    }
    Ok(())
}

/// A readable run name from the run id, as MLflow generates one when none
/// is given (`brave-otter-417`). Derived from the id so it is reproducible.
fn generated_run_name(run_id: &RunId) -> String {
    const ADJECTIVES: [&str; 16] = [
        "brave", "calm", "clever", "eager", "gentle", "honest", "jolly", "kind", "lively", "merry",
        "nimble", "proud", "quiet", "swift", "tidy", "witty",
    ];
    const NOUNS: [&str; 16] = [
        "otter", "heron", "lynx", "finch", "panda", "koala", "falcon", "badger", "beaver", "crane",
        "gecko", "ibis", "marten", "newt", "owl", "wren",
    ];
    let hex = run_id.as_str();
    let number = |range: std::ops::Range<usize>| {
        hex.get(range)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .unwrap_or(0)
    };
    format!(
        "{}-{}-{}",
        ADJECTIVES[number(0..1) as usize % 16],
        NOUNS[number(1..2) as usize % 16],
        number(2..6) % 1000
    )
}

/// `location` + `/run_id/artifacts`, without doubling a trailing slash.
fn run_artifact_uri(location: &str, run_id: &RunId) -> String {
    format!("{}/{run_id}/artifacts", location.trim_end_matches('/'))
}

fn run_not_active(run_id: &RunId) -> CatalogError {
    CatalogError::Invalid {
        what: "run",
        value: run_id.to_string(),
        expected: "an active run: it is deleted (restore it first)".to_string(),
    }
}

/// Parses stored input tags (a JSON object of strings).
fn parse_input_tags(text: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|_| CatalogError::Corrupt {
        table: "run_dataset_inputs",
        column: "tags_json",
        value: text.to_string(),
        expected: "a JSON object of strings",
    })
}

/// A JSON array of `[key, value]` string pairs, as the backends'
/// `JSON_PAIRS` aggregate writes it.
fn parse_pairs(table: &'static str, text: &str) -> Result<BTreeMap<String, String>> {
    let pairs: Vec<(String, String)> =
        serde_json::from_str(text).map_err(|_| CatalogError::Corrupt {
            table,
            column: "key, value",
            value: text.chars().take(200).collect(),
            expected: "a JSON array of [key, value] string pairs",
        })?;
    Ok(pairs.into_iter().collect())
}

/// A JSON array of `[key, timestamp, step, is_nan]`, as the backends'
/// `JSON_METRIC_HEADS` aggregate writes it (`is_nan` is 0/1 on SQLite,
/// false/true on PostgreSQL).
fn parse_metric_heads(text: &str) -> Result<Vec<(String, i64, i64, bool)>> {
    let corrupt = || CatalogError::Corrupt {
        table: "latest_metrics",
        column: "key, timestamp, step, is_nan",
        value: text.chars().take(200).collect(),
        expected: "a JSON array of [key, timestamp, step, is_nan]",
    };
    let heads: Vec<(String, i64, i64, serde_json::Value)> =
        serde_json::from_str(text).map_err(|_| corrupt())?;
    heads
        .into_iter()
        .map(|(key, timestamp, step, is_nan)| {
            let is_nan = match is_nan {
                serde_json::Value::Bool(flag) => flag,
                serde_json::Value::Number(n) if n.as_i64() == Some(0) => false,
                serde_json::Value::Number(n) if n.as_i64() == Some(1) => true,
                _ => return Err(corrupt()),
            };
            Ok((key, timestamp, step, is_nan))
        })
        .collect()
}

/// Metric values and heads were read in one snapshot in the same order, so
/// their counts agree unless the database misbehaves.
fn metrics_out_of_step(run_id: &str) -> CatalogError {
    CatalogError::Corrupt {
        table: "latest_metrics",
        column: "value",
        value: run_id.to_string(),
        expected: "one value per metric key, read in the same snapshot as the keys",
    }
}

/// Run ids per `IN (…)` statement when reading details of many runs.
const RUNS_PER_STATEMENT: usize = 500;

impl Catalog {
    /// Starts a run through the MLflow API: status RUNNING, tags set, the
    /// name resolved as MLflow does (argument, else `mlflow.runName` tag,
    /// else generated; the tag is always set). The experiment must be active.
    pub async fn start_tracked_run(&self, new: NewTrackedRun) -> Result<TrackedRun> {
        for (key, value) in &new.tags {
            check_key("tag key", key)?;
            if value.chars().count() > MAX_TAG_VALUE_LENGTH {
                return Err(CatalogError::Invalid {
                    what: "tag value",
                    value: key.clone(),
                    expected: format!("at most {MAX_TAG_VALUE_LENGTH} characters"),
                });
            }
        }
        let run_id = dispatch!(self, ops => ops.start_tracked_run(new).await)?;
        self.tracked_run(&run_id).await
    }

    /// A run with params, latest metric points, tags and dataset inputs.
    pub async fn tracked_run(&self, run_id: &RunId) -> Result<TrackedRun> {
        self.tracked_runs(std::slice::from_ref(run_id))
            .await?
            .pop()
            .ok_or_else(|| run_not_found(run_id))
    }

    /// Several runs in full, in the order asked; ids that do not exist are skipped.
    pub async fn tracked_runs(&self, run_ids: &[RunId]) -> Result<Vec<TrackedRun>> {
        let mut found = Vec::with_capacity(run_ids.len());
        for chunk in run_ids.chunks(RUNS_PER_STATEMENT) {
            let mut details = dispatch!(self, ops => ops.tracked_runs(chunk).await)?;
            for run_id in chunk {
                if let Some(run) = details.remove(run_id.as_str()) {
                    found.push(run);
                }
            }
        }
        Ok(found)
    }

    /// These runs (headers already read) in full, in the order given.
    pub(crate) async fn runs_with_details(&self, runs: Vec<Run>) -> Result<Vec<TrackedRun>> {
        let mut found = Vec::with_capacity(runs.len());
        let mut runs = runs.into_iter().peekable();
        while runs.peek().is_some() {
            let chunk: Vec<Run> = runs.by_ref().take(RUNS_PER_STATEMENT).collect();
            let order: Vec<String> = chunk.iter().map(|run| run.run_id.to_string()).collect();
            let mut details = dispatch!(self, ops => ops.with_details(chunk).await)?;
            found.extend(order.iter().filter_map(|run_id| details.remove(run_id)));
        }
        Ok(found)
    }

    /// Changes status, end time and name of a run (MLflow's `UpdateRun`).
    pub async fn update_run(&self, run_id: &RunId, update: RunUpdate) -> Result<Run> {
        dispatch!(self, ops => ops.update_run(run_id, &update).await)?;
        Ok(self.tracked_run(run_id).await?.run)
    }

    /// Soft-deletes or restores a run.
    pub async fn set_run_lifecycle(&self, run_id: &RunId, stage: LifecycleStage) -> Result<()> {
        dispatch!(self, ops => ops.set_run_lifecycle(run_id, stage).await)
    }

    /// Logs metrics, params and tags in one transaction after MLflow's
    /// checks ([`MAX_METRICS_PER_BATCH`] etc.). A param already logged with
    /// another value is a [`CatalogError::ParamConflict`] and nothing is
    /// written. The run must be active.
    pub async fn log_batch(&self, run_id: &RunId, batch: &RunBatch) -> Result<()> {
        check_batch(batch)?;
        dispatch!(self, ops => ops.log_batch(run_id, batch).await)
    }

    /// Removes a run tag; a tag that is not set is [`CatalogError::NotFound`].
    pub async fn delete_run_tag(&self, run_id: &RunId, key: &str) -> Result<()> {
        dispatch!(self, ops => ops.delete_run_tag(run_id, key).await)
    }

    /// Records datasets a run used (MLflow's `LogInputs`); a (name, digest)
    /// already recorded for the run is kept as first logged.
    pub async fn log_dataset_inputs(&self, run_id: &RunId, inputs: &[DatasetInput]) -> Result<()> {
        dispatch!(self, ops => ops.log_dataset_inputs(run_id, inputs).await)
    }

    /// One page of a metric's history (every point when `max_results` is `None`).
    pub async fn metric_history_page(
        &self,
        run_id: &RunId,
        key: &str,
        max_results: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<MetricHistoryPage> {
        let scope = crate::run_search::search_scope(&["metric history", run_id.as_str(), key]);
        let offset = crate::run_search::decode_page_token(page_token, &scope)?;
        if max_results == Some(0) {
            return Err(CatalogError::Invalid {
                what: "max_results",
                value: "0".to_string(),
                expected: "a page size of at least 1".to_string(),
            });
        }
        let points = self.metric_history(run_id, key).await?;
        let end = max_results.map_or(points.len(), |n| offset.saturating_add(n).min(points.len()));
        let next_page_token =
            (end < points.len()).then(|| crate::run_search::encode_page_token(end, &scope));
        Ok(MetricHistoryPage {
            points: points
                .into_iter()
                .skip(offset)
                .take(end.saturating_sub(offset))
                .collect(),
            next_page_token,
        })
    }
}

impl Catalog {
    /// The experiment with this name, created (with the next integer id) if absent.
    pub async fn experiment_by_name_or_create(&self, name: &str) -> Result<Experiment> {
        dispatch!(self, ops => ops.experiment_by_name_or_create(name).await)
    }

    /// Every experiment, by id.
    pub async fn list_experiments(&self) -> Result<Vec<Experiment>> {
        dispatch!(self, ops => ops.list_experiments().await)
    }

    /// Starts a run (status RUNNING) in an existing experiment.
    pub async fn create_run(&self, new: NewRun) -> Result<Run> {
        dispatch!(self, ops => ops.create_run(new).await)
    }

    /// Logs params. Re-logging a key with the same value is accepted; a
    /// different value is a [`CatalogError::ParamConflict`] and nothing of
    /// the batch is written.
    pub async fn log_params(&self, run_id: &RunId, params: &[(String, String)]) -> Result<()> {
        dispatch!(self, ops => ops.log_params(run_id, params).await)
    }

    /// Logs metric points in one transaction, keeping the latest value per key
    /// (highest step, then highest timestamp) up to date.
    pub async fn log_metrics(&self, run_id: &RunId, metrics: &[MetricPoint]) -> Result<()> {
        dispatch!(self, ops => ops.log_metrics(run_id, metrics).await)
    }

    /// Sets (or overwrites) a run tag.
    pub async fn set_run_tag(&self, run_id: &RunId, key: &str, value: &str) -> Result<()> {
        dispatch!(self, ops => ops.set_run_tag(run_id, key, value).await)
    }

    /// Records a run's final status and end time.
    pub async fn finish_run(&self, run_id: &RunId, status: RunStatus, end_time: i64) -> Result<()> {
        dispatch!(self, ops => ops.finish_run(run_id, status, end_time).await)
    }

    /// A run with its params, latest metrics and tags.
    pub async fn run(&self, run_id: &RunId) -> Result<RunDetail> {
        dispatch!(self, ops => ops.run(run_id).await)
    }

    /// Runs, newest first; all experiments when `experiment_id` is `None`.
    pub async fn list_runs(&self, experiment_id: Option<&str>) -> Result<Vec<Run>> {
        dispatch!(self, ops => ops.list_runs(experiment_id).await)
    }

    /// Runs of one experiment whose latest value of metric `key` compares to
    /// `value` as asked (`val_accuracy >= 0.8`), newest first. Runs without
    /// that metric, or whose latest value is NaN, never match.
    pub async fn search_runs_by_metric(
        &self,
        experiment_id: &str,
        key: &str,
        comparison: MetricComparison,
        value: f64,
    ) -> Result<Vec<Run>> {
        if value.is_nan() {
            return Err(CatalogError::Invalid {
                what: "metric search value",
                value: value.to_string(),
                expected: "a number (NaN compares false with everything)".to_string(),
            });
        }
        dispatch!(self, ops => {
            ops.search_runs_by_metric(experiment_id, key, comparison, value)
                .await
        })
    }

    /// Every logged point of one metric, ordered by step then timestamp.
    pub async fn metric_history(&self, run_id: &RunId, key: &str) -> Result<Vec<MetricPoint>> {
        dispatch!(self, ops => ops.metric_history(run_id, key).await)
    }

    /// The names of every metric logged for a run, sorted.
    pub async fn metric_keys(&self, run_id: &RunId) -> Result<Vec<String>> {
        dispatch!(self, ops => ops.metric_keys(run_id).await)
    }
}

for_each_backend! {
    /// `(?, ?, …)` binding these run ids, for `run_id IN …`.
    fn push_run_ids(query: &mut QueryBuilder<Db>, run_ids: &[RunId]) {
        query.push("(");
        let mut ids = query.separated(", ");
        for run_id in run_ids {
            ids.push_bind(run_id.as_str().to_string());
        }
        query.push(")");
    }

    fn experiment_from_row(row: &DbRow) -> Result<Experiment> {
        let text = |column: &'static str| -> Result<String> {
            row.try_get::<String, _>(column)
                .map_err(db(format!("read experiments.{column}")))
        };
        let time = |column: &'static str| -> Result<i64> {
            row.try_get::<i64, _>(column)
                .map_err(db(format!("read experiments.{column}")))
        };
        Ok(Experiment {
            experiment_id: text("experiment_id")?,
            name: text("name")?,
            artifact_location: text("artifact_location")?,
            lifecycle_stage: LifecycleStage::parse_stored(
                "experiments",
                &text("lifecycle_stage")?,
            )?,
            creation_time: time("creation_time")?,
            last_update_time: time("last_update_time")?,
        })
    }

    pub(crate) fn run_from_row(row: &DbRow) -> Result<Run> {
        let text = |column: &'static str| -> Result<String> {
            row.try_get::<String, _>(column)
                .map_err(db(format!("read runs.{column}")))
        };
        Ok(Run {
            run_id: parse_stored("runs", "run_id", "a run id", &text("run_id")?)?,
            experiment_id: text("experiment_id")?,
            run_name: text("run_name")?,
            status: parse_stored(
                "runs",
                "status",
                "one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED",
                &text("status")?,
            )?,
            start_time: row
                .try_get::<i64, _>("start_time")
                .map_err(db("read runs.start_time"))?,
            end_time: row
                .try_get::<Option<i64>, _>("end_time")
                .map_err(db("read runs.end_time"))?,
            lifecycle_stage: LifecycleStage::parse_stored("runs", &text("lifecycle_stage")?)?,
            artifact_uri: text("artifact_uri")?,
            user_id: text("user_id")?,
            host: text("host")?,
            versa_version: text("versa_version")?,
        })
    }

    impl Ops<'_> {
        pub(crate) async fn experiment_by_name_or_create(&self, name: &str) -> Result<Experiment> {
            if name.trim().is_empty() || name.len() > 256 {
                return Err(CatalogError::Invalid {
                    what: "experiment name",
                    value: name.to_string(),
                    expected: "1 to 256 characters, not only whitespace".to_string(),
                });
            }
            let operation = format!("find or create experiment `{name}`");
            let mut tx = self.write_tx(&operation).await?;
            // Ids come from one sequence over all experiments, so creators take turns.
            self.lock_name(&mut tx, "experiments", "", &operation)
                .await?;
            let existing = sqlx::query(concat!(
                "SELECT ",
                experiment_columns!(),
                " FROM experiments WHERE name = $1"
            ))
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if let Some(row) = existing {
                let experiment = experiment_from_row(&row)?;
                tx.rollback().await.map_err(db(&operation))?;
                return Ok(experiment);
            }
            // "0" is MLflow's Default experiment, so versa's own start at 1.
            let next: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(CAST(experiment_id AS BIGINT)), 0) + 1 FROM experiments",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(db(&operation))?;
            let experiment = Experiment {
                experiment_id: next.to_string(),
                name: name.to_string(),
                artifact_location: format!("experiments/{next}"),
                lifecycle_stage: LifecycleStage::Active,
                creation_time: now_ms(),
                last_update_time: now_ms(),
            };
            sqlx::query(concat!(
                "INSERT INTO experiments (",
                experiment_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(&experiment.experiment_id)
            .bind(&experiment.name)
            .bind(&experiment.artifact_location)
            .bind(experiment.lifecycle_stage.as_str())
            .bind(experiment.creation_time)
            .bind(experiment.last_update_time)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))?;
            Ok(experiment)
        }

        pub(crate) async fn list_experiments(&self) -> Result<Vec<Experiment>> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                experiment_columns!(),
                " FROM experiments ORDER BY CAST(experiment_id AS BIGINT)"
            ))
            .fetch_all(self.pool())
            .await
            .map_err(db("list experiments"))?;
            rows.iter().map(experiment_from_row).collect()
        }

        pub(crate) async fn create_run(&self, new: NewRun) -> Result<Run> {
            let operation = format!("create run in experiment {}", new.experiment_id);
            let artifact_location: Option<String> = sqlx::query_scalar(
                "SELECT artifact_location FROM experiments WHERE experiment_id = $1",
            )
            .bind(&new.experiment_id)
            .fetch_optional(self.pool())
            .await
            .map_err(db(&operation))?;
            let Some(artifact_location) = artifact_location else {
                return Err(CatalogError::NotFound {
                    what: "experiment",
                    key: new.experiment_id,
                    hint: "create it first (experiment_by_name_or_create)".to_string(),
                });
            };
            let run_id = new_run_id();
            let run = Run {
                artifact_uri: format!("{artifact_location}/{run_id}/artifacts"),
                run_id,
                experiment_id: new.experiment_id,
                run_name: new.run_name,
                status: RunStatus::Running,
                start_time: new.start_time,
                end_time: None,
                lifecycle_stage: LifecycleStage::Active,
                user_id: new.user,
                host: new.host,
                versa_version: new.versa_version,
            };
            sqlx::query(concat!(
                "INSERT INTO runs (",
                run_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(run.run_id.as_str())
            .bind(&run.experiment_id)
            .bind(&run.run_name)
            .bind(run.status.as_str())
            .bind(run.start_time)
            .bind(run.end_time)
            .bind(run.lifecycle_stage.as_str())
            .bind(&run.artifact_uri)
            .bind(&run.user_id)
            .bind(&run.host)
            .bind(&run.versa_version)
            .execute(self.pool())
            .await
            .map_err(db(&operation))?;
            Ok(run)
        }

        pub(crate) async fn log_params(
            &self,
            run_id: &RunId,
            params: &[(String, String)],
        ) -> Result<()> {
            let operation = format!("log params of run {run_id}");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_run(&mut tx, run_id, &operation).await?;
            self.require_run(&mut *tx, run_id, &operation).await?;
            self.write_params(&mut tx, run_id, params, &operation).await?;
            tx.commit().await.map_err(db(&operation))
        }

        /// Inserts params inside the caller's transaction; an existing key
        /// with another value is a conflict (the caller's transaction then
        /// rolls back, so nothing of its batch is written).
        pub(crate) async fn write_params(
            &self,
            tx: &mut Transaction<'static, Db>,
            run_id: &RunId,
            params: &[(String, String)],
            operation: &str,
        ) -> Result<()> {
            for (key, value) in params {
                let existing: Option<String> =
                    sqlx::query_scalar("SELECT value FROM params WHERE run_id = $1 AND key = $2")
                        .bind(run_id.as_str())
                        .bind(key)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(db(operation))?;
                match existing {
                    Some(existing) if existing == *value => {}
                    Some(existing) => {
                        return Err(CatalogError::ParamConflict {
                            run_id: run_id.clone(),
                            key: key.clone(),
                            existing,
                            attempted: value.clone(),
                        });
                    }
                    None => {
                        sqlx::query("INSERT INTO params (run_id, key, value) VALUES ($1, $2, $3)")
                            .bind(run_id.as_str())
                            .bind(key)
                            .bind(value)
                            .execute(&mut **tx)
                            .await
                            .map_err(db(operation))?;
                    }
                }
            }
            Ok(())
        }

        pub(crate) async fn log_metrics(
            &self,
            run_id: &RunId,
            metrics: &[MetricPoint],
        ) -> Result<()> {
            let operation = format!("log metrics of run {run_id}");
            check_metric_keys(metrics)?;
            let mut tx = self.write_tx(&operation).await?;
            self.lock_run(&mut tx, run_id, &operation).await?;
            self.require_run(&mut *tx, run_id, &operation).await?;
            self.write_metrics(&mut tx, run_id, metrics, &operation).await?;
            tx.commit().await.map_err(db(&operation))
        }

        /// Inserts metric points and moves `latest_metrics` forward, inside
        /// the caller's transaction.
        pub(crate) async fn write_metrics(
            &self,
            tx: &mut Transaction<'static, Db>,
            run_id: &RunId,
            metrics: &[MetricPoint],
            operation: &str,
        ) -> Result<()> {
            // Multi-row statements: one round trip per chunk instead of two
            // per point, which is what a remote PostgreSQL pays for.
            for chunk in metrics.chunks(POINTS_PER_STATEMENT) {
                let mut insert = QueryBuilder::<Db>::new(
                    "INSERT INTO metrics (run_id, key, value, timestamp, step, is_nan) ",
                );
                insert.push_values(chunk, |mut row, point| {
                    let (value, is_nan) = encode_metric(point.value);
                    row.push_bind(run_id.as_str().to_string())
                        .push_bind(point.key.clone())
                        .push_bind(value)
                        .push_bind(point.timestamp)
                        .push_bind(point.step)
                        .push_bind(is_nan);
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert
                    .build()
                    .execute(&mut **tx)
                    .await
                    .map_err(db(operation))?;
            }
            // One candidate per key (a statement may not upsert a row twice);
            // it replaces the stored latest only if it is at least as new.
            let newest = newest_per_key(metrics);
            for chunk in newest.chunks(POINTS_PER_STATEMENT) {
                let mut upsert = QueryBuilder::<Db>::new(
                    "INSERT INTO latest_metrics (run_id, key, value, timestamp, step, is_nan) ",
                );
                upsert.push_values(chunk, |mut row, point| {
                    let (value, is_nan) = encode_metric(point.value);
                    row.push_bind(run_id.as_str().to_string())
                        .push_bind(point.key.clone())
                        .push_bind(value)
                        .push_bind(point.timestamp)
                        .push_bind(point.step)
                        .push_bind(is_nan);
                });
                upsert.push(
                    " ON CONFLICT (run_id, key) DO UPDATE SET \
                     value = excluded.value, timestamp = excluded.timestamp, \
                     step = excluded.step, is_nan = excluded.is_nan \
                     WHERE excluded.step > latest_metrics.step \
                        OR (excluded.step = latest_metrics.step \
                            AND excluded.timestamp >= latest_metrics.timestamp)",
                );
                upsert
                    .build()
                    .execute(&mut **tx)
                    .await
                    .map_err(db(operation))?;
            }
            Ok(())
        }

        pub(crate) async fn set_run_tag(
            &self,
            run_id: &RunId,
            key: &str,
            value: &str,
        ) -> Result<()> {
            let operation = format!("set tag `{key}` on run {run_id}");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_run(&mut tx, run_id, &operation).await?;
            self.require_run(&mut *tx, run_id, &operation).await?;
            self.write_tags(&mut tx, run_id, &[(key.to_string(), value.to_string())], &operation)
                .await?;
            tx.commit().await.map_err(db(&operation))
        }

        /// Sets (or overwrites) tags inside the caller's transaction. The
        /// `mlflow.runName` tag also renames the run, as in MLflow.
        pub(crate) async fn write_tags(
            &self,
            tx: &mut Transaction<'static, Db>,
            run_id: &RunId,
            tags: &[(String, String)],
            operation: &str,
        ) -> Result<()> {
            for (key, value) in tags {
                sqlx::query(
                    "INSERT INTO run_tags (run_id, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(run_id.as_str())
                .bind(key)
                .bind(value)
                .execute(&mut **tx)
                .await
                .map_err(db(operation))?;
                if key == RUN_NAME_TAG {
                    sqlx::query("UPDATE runs SET run_name = $1 WHERE run_id = $2")
                        .bind(value)
                        .bind(run_id.as_str())
                        .execute(&mut **tx)
                        .await
                        .map_err(db(operation))?;
                }
            }
            Ok(())
        }

        pub(crate) async fn finish_run(
            &self,
            run_id: &RunId,
            status: RunStatus,
            end_time: i64,
        ) -> Result<()> {
            let operation = format!("finish run {run_id}");
            let updated =
                sqlx::query("UPDATE runs SET status = $1, end_time = $2 WHERE run_id = $3")
                    .bind(status.as_str())
                    .bind(end_time)
                    .bind(run_id.as_str())
                    .execute(self.pool())
                    .await
                    .map_err(db(&operation))?;
            if updated.rows_affected() == 0 {
                return Err(run_not_found(run_id));
            }
            Ok(())
        }

        pub(crate) async fn run(&self, run_id: &RunId) -> Result<RunDetail> {
            self.run_if_any(run_id)
                .await?
                .ok_or_else(|| run_not_found(run_id))
        }

        pub(crate) async fn run_if_any(&self, run_id: &RunId) -> Result<Option<RunDetail>> {
            let operation = format!("read run {run_id}");
            let row = sqlx::query(concat!(
                "SELECT ",
                run_columns!(),
                " FROM runs WHERE run_id = $1"
            ))
            .bind(run_id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db(&operation))?;
            let Some(row) = row else {
                return Ok(None);
            };
            let run = run_from_row(&row)?;

            let params: Vec<(String, String)> =
                sqlx::query_as("SELECT key, value FROM params WHERE run_id = $1")
                    .bind(run_id.as_str())
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(&operation))?;
            let tags: Vec<(String, String)> =
                sqlx::query_as("SELECT key, value FROM run_tags WHERE run_id = $1")
                    .bind(run_id.as_str())
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(&operation))?;
            let latest: Vec<(String, f64, bool)> =
                sqlx::query_as("SELECT key, value, is_nan FROM latest_metrics WHERE run_id = $1")
                    .bind(run_id.as_str())
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(&operation))?;
            Ok(Some(RunDetail {
                run,
                params: params.into_iter().collect(),
                latest_metrics: latest
                    .into_iter()
                    .map(|(key, value, is_nan)| (key, decode_metric(value, is_nan)))
                    .collect::<BTreeMap<_, _>>(),
                tags: tags.into_iter().collect(),
            }))
        }

        pub(crate) async fn list_runs(&self, experiment_id: Option<&str>) -> Result<Vec<Run>> {
            let rows = match experiment_id {
                Some(id) => sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs WHERE experiment_id = $1 ORDER BY start_time DESC, run_id"
                ))
                .bind(id)
                .fetch_all(self.pool())
                .await
                .map_err(db(format!("list runs of experiment {id}")))?,
                None => sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs ORDER BY start_time DESC, run_id"
                ))
                .fetch_all(self.pool())
                .await
                .map_err(db("list runs"))?,
            };
            rows.iter().map(run_from_row).collect()
        }

        pub(crate) async fn search_runs_by_metric(
            &self,
            experiment_id: &str,
            key: &str,
            comparison: MetricComparison,
            value: f64,
        ) -> Result<Vec<Run>> {
            let sql = match comparison {
                MetricComparison::Less => search_runs_sql!("<"),
                MetricComparison::LessOrEqual => search_runs_sql!("<="),
                MetricComparison::Greater => search_runs_sql!(">"),
                MetricComparison::GreaterOrEqual => search_runs_sql!(">="),
                MetricComparison::Equal => search_runs_sql!("="),
                MetricComparison::NotEqual => search_runs_sql!("<>"),
            };
            let rows = sqlx::query(sql)
                .bind(experiment_id)
                .bind(key)
                .bind(value)
                .fetch_all(self.pool())
                .await
                .map_err(db(format!(
                    "search runs of experiment {experiment_id} where `{key}` {comparison} {value}"
                )))?;
            rows.iter().map(run_from_row).collect()
        }

        pub(crate) async fn metric_history(
            &self,
            run_id: &RunId,
            key: &str,
        ) -> Result<Vec<MetricPoint>> {
            let operation = format!("read metric `{key}` of run {run_id}");
            self.require_run(self.pool(), run_id, &operation).await?;
            let rows: Vec<(f64, i64, i64, bool)> = sqlx::query_as(
                "SELECT value, timestamp, step, is_nan FROM metrics WHERE run_id = $1 AND key = $2 \
             ORDER BY step, timestamp",
            )
            .bind(run_id.as_str())
            .bind(key)
            .fetch_all(self.pool())
            .await
            .map_err(db(&operation))?;
            Ok(rows
                .into_iter()
                .map(|(value, timestamp, step, is_nan)| MetricPoint {
                    key: key.to_string(),
                    value: decode_metric(value, is_nan),
                    timestamp,
                    step,
                })
                .collect())
        }

        pub(crate) async fn metric_keys(&self, run_id: &RunId) -> Result<Vec<String>> {
            let operation = format!("list metrics of run {run_id}");
            self.require_run(self.pool(), run_id, &operation).await?;
            sqlx::query_scalar("SELECT key FROM latest_metrics WHERE run_id = $1 ORDER BY key")
                .bind(run_id.as_str())
                .fetch_all(self.pool())
                .await
                .map_err(db(&operation))
        }

        /// A `runs` row read by another module's query (`RUN_COLUMNS`).
        pub(crate) fn run_row(&self, row: &DbRow) -> Result<Run> {
            run_from_row(row)
        }

        pub(crate) async fn start_tracked_run(&self, new: NewTrackedRun) -> Result<RunId> {
            let operation = format!("create run in experiment {}", new.experiment_id);
            let found: Option<(String, String)> = sqlx::query_as(
                "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = $1",
            )
            .bind(&new.experiment_id)
            .fetch_optional(self.pool())
            .await
            .map_err(db(&operation))?;
            let Some((artifact_location, stage)) = found else {
                return Err(CatalogError::NotFound {
                    what: "experiment",
                    key: new.experiment_id,
                    hint: "create it first, or use experiment 0 (Default)".to_string(),
                });
            };
            if stage != LifecycleStage::Active.as_str() {
                return Err(CatalogError::Invalid {
                    what: "experiment",
                    value: new.experiment_id,
                    expected: "an active experiment: it is deleted (restore it first)".to_string(),
                });
            }
            let mut tags = new.tags;
            let tag_name = tags
                .iter()
                .rev()
                .find(|(key, _)| key == RUN_NAME_TAG)
                .map(|(_, value)| value.clone());
            let given = new.run_name.filter(|name| !name.is_empty());
            if let (Some(given), Some(tag_name)) = (&given, &tag_name)
                && given != tag_name
            {
                return Err(CatalogError::Invalid {
                    what: "run name",
                    value: given.clone(),
                    expected: format!(
                        "the same name as the `{RUN_NAME_TAG}` tag (`{tag_name}`), or only one of the two"
                    ),
                });
            }
            let run_id = new_run_id();
            let run_name = given
                .or(tag_name.clone())
                .unwrap_or_else(|| generated_run_name(&run_id));
            if tag_name.is_none() {
                tags.push((RUN_NAME_TAG.to_string(), run_name.clone()));
            }
            let mut tx = self.write_tx(&operation).await?;
            sqlx::query(concat!(
                "INSERT INTO runs (",
                run_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(run_id.as_str())
            .bind(&new.experiment_id)
            .bind(&run_name)
            .bind(RunStatus::Running.as_str())
            .bind(new.start_time)
            .bind(None::<i64>)
            .bind(LifecycleStage::Active.as_str())
            .bind(run_artifact_uri(&artifact_location, &run_id))
            .bind(&new.user_id)
            .bind(&new.host)
            .bind(&new.versa_version)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            self.write_tags(&mut tx, &run_id, &tags, &operation).await?;
            tx.commit().await.map_err(db(&operation))?;
            Ok(run_id)
        }

        pub(crate) async fn tracked_runs(
            &self,
            run_ids: &[RunId],
        ) -> Result<BTreeMap<String, TrackedRun>> {
            let operation = "read runs";
            if run_ids.is_empty() {
                return Ok(BTreeMap::new());
            }
            let mut query =
                QueryBuilder::<Db>::new(format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id IN "));
            push_run_ids(&mut query, run_ids);
            let rows = query
                .build()
                .fetch_all(self.pool())
                .await
                .map_err(db(operation))?;
            let runs = rows.iter().map(run_from_row).collect::<Result<Vec<_>>>()?;
            self.with_details(runs).await
        }

        /// These runs with their params, latest metrics, tags and dataset
        /// inputs, by run id.
        pub(crate) async fn with_details(
            &self,
            runs: Vec<Run>,
        ) -> Result<BTreeMap<String, TrackedRun>> {
            let operation = "read runs";
            let run_ids: Vec<RunId> = runs.iter().map(|run| run.run_id.clone()).collect();
            let run_ids = run_ids.as_slice();
            let mut found: BTreeMap<String, TrackedRun> = runs
                .into_iter()
                .map(|run| {
                    let details = TrackedRun {
                        run,
                        params: BTreeMap::new(),
                        metrics: Vec::new(),
                        tags: BTreeMap::new(),
                        dataset_inputs: Vec::new(),
                    };
                    (details.run.run_id.to_string(), details)
                })
                .collect();
            if run_ids.is_empty() {
                return Ok(found);
            }
            let in_list = |sql: &str| {
                let mut query = QueryBuilder::<Db>::new(sql);
                query.push(" WHERE run_id IN ");
                push_run_ids(&mut query, run_ids);
                query
            };
            // Params, tags and metric heads come as one JSON text per run and
            // table, metric values as one bare column: sqlx's SQLite driver
            // copies every value of every row, so a run's ~15 pair rows and
            // ~50 six-column metric rows (MLflow clients log that many) cost
            // far more than parsing one array. Values are not in the JSON
            // because SQLite's float-to-text conversions do not round-trip
            // every double; they are paired with their heads by order, both
            // read in one snapshot.
            let mut tx = self.read_tx(operation).await?;
            let mut query = in_list(&format!(
                "SELECT run_id, 0, {JSON_PAIRS} FROM params"
            ));
            query.push(" GROUP BY run_id UNION ALL SELECT run_id, 1, ");
            query.push(JSON_PAIRS);
            query.push(" FROM run_tags WHERE run_id IN ");
            push_run_ids(&mut query, run_ids);
            query.push(" GROUP BY run_id");
            let rows = query
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(db(operation))?;
            for row in &rows {
                let run_id: String = row.try_get(0).map_err(db(operation))?;
                let is_tags: i32 = row.try_get(1).map_err(db(operation))?;
                let text: String = row.try_get(2).map_err(db(operation))?;
                let table = if is_tags == 0 { "params" } else { "run_tags" };
                let pairs = parse_pairs(table, &text)?;
                if let Some(run) = found.get_mut(&run_id) {
                    if is_tags == 0 {
                        run.params = pairs;
                    } else {
                        run.tags = pairs;
                    }
                }
            }
            let mut query = in_list(&format!(
                "SELECT run_id, {JSON_METRIC_HEADS} FROM latest_metrics"
            ));
            query.push(" GROUP BY run_id ORDER BY run_id");
            let heads = query
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(db(operation))?;
            let mut query = in_list("SELECT value FROM latest_metrics");
            query.push(" ORDER BY run_id, key");
            let values = query
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(db(operation))?;
            tx.commit().await.map_err(db(operation))?;
            let mut values = values.iter();
            for row in &heads {
                let run_id: String = row.try_get(0).map_err(db(operation))?;
                let text: String = row.try_get(1).map_err(db(operation))?;
                let heads = parse_metric_heads(&text)?;
                let mut points = Vec::with_capacity(heads.len());
                for (key, timestamp, step, is_nan) in heads {
                    let value: f64 = values
                        .next()
                        .ok_or_else(|| metrics_out_of_step(&run_id))?
                        .try_get(0)
                        .map_err(db(operation))?;
                    points.push(MetricPoint {
                        key,
                        value: decode_metric(value, is_nan),
                        timestamp,
                        step,
                    });
                }
                if let Some(run) = found.get_mut(&run_id) {
                    run.metrics = points;
                }
            }
            if values.next().is_some() {
                return Err(metrics_out_of_step("(after the last run)"));
            }
            let mut inputs = self.dataset_inputs_of(run_ids).await?;
            for (run_id, run) in found.iter_mut() {
                run.dataset_inputs = inputs.remove(run_id).unwrap_or_default();
            }
            Ok(found)
        }

        /// Dataset inputs of these runs, by run id, in the order logged.
        pub(crate) async fn dataset_inputs_of(
            &self,
            run_ids: &[RunId],
        ) -> Result<BTreeMap<String, Vec<DatasetInput>>> {
            let operation = "read run inputs";
            let mut by_run: BTreeMap<String, Vec<DatasetInput>> = BTreeMap::new();
            for chunk in run_ids.chunks(RUNS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Db>::new(
                    "SELECT run_id, name, digest, source_type, source, dataset_schema, profile, \
                     tags_json FROM run_dataset_inputs WHERE run_id IN ",
                );
                push_run_ids(&mut query, chunk);
                query.push(" ORDER BY run_id, logged_at, name, digest");
                let rows = query
                    .build()
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(operation))?;
                for row in &rows {
                    let run_id: String = row.try_get(0).map_err(db(operation))?;
                    let tags: String = row.try_get(7).map_err(db(operation))?;
                    by_run.entry(run_id).or_default().push(DatasetInput {
                        name: row.try_get(1).map_err(db(operation))?,
                        digest: row.try_get(2).map_err(db(operation))?,
                        source_type: row.try_get(3).map_err(db(operation))?,
                        source: row.try_get(4).map_err(db(operation))?,
                        schema: row.try_get(5).map_err(db(operation))?,
                        profile: row.try_get(6).map_err(db(operation))?,
                        tags: parse_input_tags(&tags)?,
                    });
                }
            }
            Ok(by_run)
        }

        /// Locks an existing, active run inside a write transaction.
        async fn require_active_run(
            &self,
            tx: &mut Transaction<'static, Db>,
            run_id: &RunId,
            operation: &str,
        ) -> Result<()> {
            self.lock_run(tx, run_id, operation).await?;
            let stage: Option<String> =
                sqlx::query_scalar("SELECT lifecycle_stage FROM runs WHERE run_id = $1")
                    .bind(run_id.as_str())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db(operation))?;
            match stage.as_deref() {
                None => Err(run_not_found(run_id)),
                Some("active") => Ok(()),
                Some(_) => Err(run_not_active(run_id)),
            }
        }

        pub(crate) async fn update_run(&self, run_id: &RunId, update: &RunUpdate) -> Result<()> {
            let operation = format!("update run {run_id}");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_run(&mut tx, run_id, &operation).await?;
            self.require_run(&mut *tx, run_id, &operation).await?;
            if let Some(status) = update.status {
                sqlx::query("UPDATE runs SET status = $1 WHERE run_id = $2")
                    .bind(status.as_str())
                    .bind(run_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            }
            if let Some(end_time) = update.end_time {
                sqlx::query("UPDATE runs SET end_time = $1 WHERE run_id = $2")
                    .bind(end_time)
                    .bind(run_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            }
            if let Some(name) = update.run_name.as_ref().filter(|name| !name.is_empty()) {
                self.write_tags(
                    &mut tx,
                    run_id,
                    &[(RUN_NAME_TAG.to_string(), name.clone())],
                    &operation,
                )
                .await?;
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn set_run_lifecycle(
            &self,
            run_id: &RunId,
            stage: LifecycleStage,
        ) -> Result<()> {
            let operation = format!("mark run {run_id} {}", stage.as_str());
            let updated = sqlx::query("UPDATE runs SET lifecycle_stage = $1 WHERE run_id = $2")
                .bind(stage.as_str())
                .bind(run_id.as_str())
                .execute(self.pool())
                .await
                .map_err(db(&operation))?;
            if updated.rows_affected() == 0 {
                return Err(run_not_found(run_id));
            }
            Ok(())
        }

        pub(crate) async fn log_batch(&self, run_id: &RunId, batch: &RunBatch) -> Result<()> {
            let operation = format!("log a batch to run {run_id}");
            let mut tx = self.write_tx(&operation).await?;
            self.require_active_run(&mut tx, run_id, &operation).await?;
            self.write_params(&mut tx, run_id, &batch.params, &operation)
                .await?;
            self.write_metrics(&mut tx, run_id, &batch.metrics, &operation)
                .await?;
            // A later value of a repeated tag key wins, as if set one by one.
            let mut tags: BTreeMap<&str, &str> = BTreeMap::new();
            for (key, value) in &batch.tags {
                tags.insert(key, value);
            }
            let tags: Vec<(String, String)> = tags
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            self.write_tags(&mut tx, run_id, &tags, &operation).await?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn delete_run_tag(&self, run_id: &RunId, key: &str) -> Result<()> {
            let operation = format!("delete tag `{key}` of run {run_id}");
            let mut tx = self.write_tx(&operation).await?;
            self.require_active_run(&mut tx, run_id, &operation).await?;
            let deleted = sqlx::query("DELETE FROM run_tags WHERE run_id = $1 AND key = $2")
                .bind(run_id.as_str())
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            if deleted.rows_affected() == 0 {
                return Err(CatalogError::NotFound {
                    what: "run tag",
                    key: key.to_string(),
                    hint: format!("run {run_id} has no tag with that name"),
                });
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn log_dataset_inputs(
            &self,
            run_id: &RunId,
            inputs: &[DatasetInput],
        ) -> Result<()> {
            let operation = format!("log inputs of run {run_id}");
            let mut tx = self.write_tx(&operation).await?;
            self.require_active_run(&mut tx, run_id, &operation).await?;
            let logged_at = now_ms();
            for input in inputs {
                let tags = serde_json::to_string(&input.tags).map_err(|_| CatalogError::Invalid {
                    what: "dataset input tags",
                    value: format!("{:?}", input.tags),
                    expected: "string keys and values".to_string(),
                })?;
                sqlx::query(
                    "INSERT INTO run_dataset_inputs (run_id, name, digest, source_type, source, \
                     dataset_schema, profile, tags_json, logged_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                )
                .bind(run_id.as_str())
                .bind(&input.name)
                .bind(&input.digest)
                .bind(&input.source_type)
                .bind(&input.source)
                .bind(&input.schema)
                .bind(&input.profile)
                .bind(tags)
                .bind(logged_at)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn require_run<'c, E>(
            &self,
            executor: E,
            run_id: &RunId,
            operation: &str,
        ) -> Result<()>
        where
            E: sqlx::Executor<'c, Database = Db>,
        {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM runs WHERE run_id = $1")
                    .bind(run_id.as_str())
                    .fetch_optional(executor)
                    .await
                    .map_err(db(operation))?;
            found.map(|_| ()).ok_or_else(|| run_not_found(run_id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_point_per_key_is_the_latest_step_then_timestamp_then_last_logged() {
        let point = |key: &str, value: f64, timestamp: i64, step: i64| MetricPoint {
            key: key.to_string(),
            value,
            timestamp,
            step,
        };
        let batch = [
            point("loss", 0.9, 100, 1),
            point("loss", 0.5, 50, 2),
            point("acc", 0.1, 10, 3),
            point("loss", 0.7, 200, 1),
            point("acc", 0.2, 10, 3),
            point("loss", 0.4, 40, 2),
        ];
        let newest: Vec<(&str, f64)> = newest_per_key(&batch)
            .into_iter()
            .map(|p| (p.key.as_str(), p.value))
            .collect();
        assert_eq!(newest, vec![("acc", 0.2), ("loss", 0.5)]);
    }

    #[test]
    fn run_ids_are_32_lowercase_hex_and_distinct() {
        let ids: std::collections::BTreeSet<String> =
            (0..10_000).map(|_| new_run_id().to_string()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            assert_eq!(id.len(), 32);
            assert!(
                id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                "{id}"
            );
        }
    }
}
