//! Experiment tracking in MLflow's model: experiments, runs, params,
//! metrics (full history plus the latest value per key) and run tags.
//!
//! Knows the tracking tables only; models and datasets live elsewhere.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{QueryBuilder, Row};
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

fn run_not_found(run_id: &RunId) -> CatalogError {
    CatalogError::NotFound {
        what: "run",
        key: run_id.to_string(),
        hint: "list runs to see existing run ids".to_string(),
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
            for (key, value) in params {
                let existing: Option<String> =
                    sqlx::query_scalar("SELECT value FROM params WHERE run_id = $1 AND key = $2")
                        .bind(run_id.as_str())
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db(&operation))?;
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
                            .execute(&mut *tx)
                            .await
                            .map_err(db(&operation))?;
                    }
                }
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn log_metrics(
            &self,
            run_id: &RunId,
            metrics: &[MetricPoint],
        ) -> Result<()> {
            let operation = format!("log metrics of run {run_id}");
            for point in metrics {
                if point.key.is_empty() {
                    return Err(CatalogError::Invalid {
                        what: "metric key",
                        value: String::new(),
                        expected: "a non-empty name such as `loss`".to_string(),
                    });
                }
            }
            let mut tx = self.write_tx(&operation).await?;
            self.lock_run(&mut tx, run_id, &operation).await?;
            self.require_run(&mut *tx, run_id, &operation).await?;
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
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
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
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            }
            tx.commit().await.map_err(db(&operation))
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
            sqlx::query(
                "INSERT INTO run_tags (run_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(run_id.as_str())
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
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
