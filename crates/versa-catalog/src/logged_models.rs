//! MLflow 3 logged models: a model logged inside an experiment (usually by a
//! run, through `mlflow.<flavor>.log_model`), with params, tags, a status
//! that goes from pending to ready once its artifacts are uploaded, and an
//! artifact location under which the artifact proxy holds its files.
//!
//! This module stores the records only; it knows nothing of the artifacts'
//! bytes or of HTTP. Ids are `m-` and 32 lowercase hex digits, as MLflow's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sqlx::Row;
use versa_core::Hasher;

use crate::error::db;
use crate::{Catalog, CatalogError, Result, now_ms};

/// A logged model to create.
#[derive(Debug, Clone, Default)]
pub struct NewLoggedModel {
    /// The experiment it belongs to.
    pub experiment_id: String,
    /// Its name (for `log_model`, the artifact path, e.g. `model`).
    pub name: String,
    /// Free-form type, e.g. `sklearn`.
    pub model_type: Option<String>,
    /// The run that logged it.
    pub source_run_id: Option<String>,
    /// Params recorded with it.
    pub params: Vec<(String, String)>,
    /// Tags recorded with it.
    pub tags: Vec<(String, String)>,
}

/// Where a logged model's upload stands (MLflow's `LoggedModelStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LoggedModelStatus {
    /// Created; artifacts may still be uploading.
    Pending,
    /// Finalized: every artifact is stored.
    Ready,
    /// The client gave up uploading.
    UploadFailed,
}

impl LoggedModelStatus {
    /// MLflow's spelling: `LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY`, `LOGGED_MODEL_UPLOAD_FAILED`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }
}

impl std::str::FromStr for LoggedModelStatus {
    type Err = CatalogError;
    fn from_str(text: &str) -> Result<LoggedModelStatus> {
        match text {
            "LOGGED_MODEL_PENDING" => Ok(LoggedModelStatus::Pending),
            "LOGGED_MODEL_READY" => Ok(LoggedModelStatus::Ready),
            "LOGGED_MODEL_UPLOAD_FAILED" => Ok(LoggedModelStatus::UploadFailed),
            _ => Err(CatalogError::Invalid {
                what: "logged model status",
                value: text.to_string(),
                expected: "LOGGED_MODEL_PENDING, LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"
                    .to_string(),
            }),
        }
    }
}

/// A logged model with its params and tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedModel {
    /// `m-` and 32 lowercase hex digits.
    pub model_id: String,
    /// Its experiment.
    pub experiment_id: String,
    /// Its name.
    pub name: String,
    /// Where its artifacts are: `<experiment artifact root>/models/<model_id>/artifacts`.
    pub artifact_location: String,
    /// Upload state.
    pub status: LoggedModelStatus,
    /// Why, when the client said.
    pub status_message: Option<String>,
    /// Free-form type.
    pub model_type: Option<String>,
    /// The run that logged it.
    pub source_run_id: Option<String>,
    /// ms since the Unix epoch.
    pub created_at: i64,
    /// ms since the Unix epoch.
    pub updated_at: i64,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A fresh logged model id: `m-` and 32 lowercase hex digits, hashed from
/// the clock, the process, a counter and an address (differs across and
/// within processes without a random-number dependency).
fn new_model_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    let local = 0u8;
    let mut hasher = Hasher::new();
    hasher
        .update(b"versa logged model id")
        .update(&nanos.to_le_bytes())
        .update(&std::process::id().to_le_bytes())
        .update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes())
        .update(&(std::ptr::addr_of!(local) as usize).to_le_bytes());
    format!("m-{}", &hasher.finish().to_hex()[..32])
}

fn check_key(what: &'static str, key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 250 {
        return Err(CatalogError::Invalid {
            what,
            value: key.to_string(),
            expected: "a key of 1 to 250 characters".to_string(),
        });
    }
    Ok(())
}

impl Catalog {
    /// Creates a pending logged model whose artifacts will live under
    /// `<artifact_root>/models/<model_id>/artifacts`.
    pub async fn create_logged_model(
        &self,
        new: NewLoggedModel,
        artifact_root: &str,
    ) -> Result<LoggedModel> {
        for (key, _) in &new.params {
            check_key("logged model param key", key)?;
        }
        for (key, _) in &new.tags {
            check_key("logged model tag key", key)?;
        }
        let model_id = new_model_id();
        let location = format!(
            "{}/models/{model_id}/artifacts",
            artifact_root.trim_end_matches('/')
        );
        dispatch!(self, ops => ops.create_logged_model(&model_id, &new, &location).await)?;
        self.logged_model(&model_id).await
    }

    /// One logged model ([`CatalogError::NotFound`] if unknown).
    pub async fn logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        dispatch!(self, ops => ops.logged_models(Some(model_id), &[]).await)?
            .pop()
            .ok_or_else(|| CatalogError::NotFound {
                what: "logged model",
                key: model_id.to_string(),
                hint: "logged model ids look like `m-` and 32 hex digits; search the experiment's logged models".to_string(),
            })
    }

    /// The logged models of the given experiments (every experiment when
    /// empty), newest first.
    pub async fn logged_models(&self, experiment_ids: &[String]) -> Result<Vec<LoggedModel>> {
        dispatch!(self, ops => ops.logged_models(None, experiment_ids).await)
    }

    /// Sets a logged model's status (finalizing it as ready or failed).
    pub async fn set_logged_model_status(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
        message: Option<&str>,
    ) -> Result<LoggedModel> {
        self.logged_model(model_id).await?;
        dispatch!(self, ops => ops.set_logged_model_status(model_id, status, message).await)?;
        self.logged_model(model_id).await
    }

    /// Sets (or overwrites) tags on a logged model.
    pub async fn set_logged_model_tags(
        &self,
        model_id: &str,
        tags: &[(String, String)],
    ) -> Result<()> {
        for (key, _) in tags {
            check_key("logged model tag key", key)?;
        }
        self.logged_model(model_id).await?;
        dispatch!(self, ops => ops.upsert_logged_model_pairs("logged_model_tags", model_id, tags).await)
    }

    /// Logs params on a logged model (a re-logged key keeps its first value
    /// only if equal; a different value is [`CatalogError::Invalid`]).
    pub async fn log_logged_model_params(
        &self,
        model_id: &str,
        params: &[(String, String)],
    ) -> Result<()> {
        for (key, _) in params {
            check_key("logged model param key", key)?;
        }
        let existing = self.logged_model(model_id).await?.params;
        for (key, value) in params {
            if let Some(old) = existing.get(key)
                && old != value
            {
                return Err(CatalogError::Invalid {
                    what: "logged model param",
                    value: format!("{key}={value}"),
                    expected: format!("the value already logged, `{old}` (params are immutable)"),
                });
            }
        }
        dispatch!(self, ops => ops.upsert_logged_model_pairs("logged_model_params", model_id, params).await)
    }

    /// Removes a tag from a logged model ([`CatalogError::NotFound`] if absent).
    pub async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.logged_model(model_id).await?;
        let removed = dispatch!(self, ops => ops.delete_logged_model_tag(model_id, key).await)?;
        if removed == 0 {
            return Err(CatalogError::NotFound {
                what: "logged model tag",
                key: format!("{model_id}: {key}"),
                hint: "the logged model has no tag with that key".to_string(),
            });
        }
        Ok(())
    }

    /// Deletes a logged model with its params and tags (not its artifacts).
    pub async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.logged_model(model_id).await?;
        dispatch!(self, ops => ops.delete_logged_model(model_id).await)
    }
}

for_each_backend! {
    impl Ops<'_> {
        pub(crate) async fn create_logged_model(
            &self,
            model_id: &str,
            new: &NewLoggedModel,
            location: &str,
        ) -> Result<()> {
            let operation = format!("create logged model `{}`", new.name);
            let mut tx = self.write_tx(&operation).await?;
            let now = now_ms();
            sqlx::query(
                "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, status, \
                 model_type, source_run_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'LOGGED_MODEL_PENDING', $5, $6, $7, $8)",
            )
            .bind(model_id)
            .bind(&new.experiment_id)
            .bind(&new.name)
            .bind(location)
            .bind(new.model_type.as_deref())
            .bind(new.source_run_id.as_deref())
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            for (table, pairs) in [("logged_model_params", &new.params), ("logged_model_tags", &new.tags)] {
                for (key, value) in pairs {
                    upsert_pair(&mut tx, table, model_id, key, value, &operation).await?;
                }
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn logged_models(
            &self,
            model_id: Option<&str>,
            experiment_ids: &[String],
        ) -> Result<Vec<LoggedModel>> {
            let operation = "read logged models";
            let rows = sqlx::query(
                "SELECT model_id, experiment_id, name, artifact_location, status, status_message, \
                 model_type, source_run_id, created_at, updated_at FROM logged_models \
                 WHERE ($1 = '' OR model_id = $1) ORDER BY created_at DESC, model_id",
            )
            .bind(model_id.unwrap_or(""))
            .fetch_all(self.pool())
            .await
            .map_err(db(operation))?;
            let mut models = Vec::new();
            for row in &rows {
                let read = |column: &str| db(format!("read logged_models.{column}"));
                let experiment_id: String = row.try_get("experiment_id").map_err(read("experiment_id"))?;
                if !experiment_ids.is_empty() && !experiment_ids.contains(&experiment_id) {
                    continue;
                }
                let status: String = row.try_get("status").map_err(read("status"))?;
                models.push(LoggedModel {
                    model_id: row.try_get("model_id").map_err(read("model_id"))?,
                    experiment_id,
                    name: row.try_get("name").map_err(read("name"))?,
                    artifact_location: row.try_get("artifact_location").map_err(read("artifact_location"))?,
                    status: status.parse().map_err(|_| CatalogError::Corrupt {
                        table: "logged_models",
                        column: "status",
                        value: status.clone(),
                        expected: "a LOGGED_MODEL_* status",
                    })?,
                    status_message: row.try_get("status_message").map_err(read("status_message"))?,
                    model_type: row.try_get("model_type").map_err(read("model_type"))?,
                    source_run_id: row.try_get("source_run_id").map_err(read("source_run_id"))?,
                    created_at: row.try_get("created_at").map_err(read("created_at"))?,
                    updated_at: row.try_get("updated_at").map_err(read("updated_at"))?,
                    params: BTreeMap::new(),
                    tags: BTreeMap::new(),
                });
            }
            for (table, is_params) in [("logged_model_params", true), ("logged_model_tags", false)] {
                let pairs: Vec<(String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT model_id, key, value FROM {table} WHERE ($1 = '' OR model_id = $1)"
                )))
                .bind(model_id.unwrap_or(""))
                .fetch_all(self.pool())
                .await
                .map_err(db(operation))?;
                let mut by_model: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
                for (id, key, value) in pairs {
                    by_model.entry(id).or_default().insert(key, value);
                }
                for model in &mut models {
                    let found = by_model.remove(&model.model_id).unwrap_or_default();
                    if is_params {
                        model.params = found;
                    } else {
                        model.tags = found;
                    }
                }
            }
            Ok(models)
        }

        pub(crate) async fn set_logged_model_status(
            &self,
            model_id: &str,
            status: LoggedModelStatus,
            message: Option<&str>,
        ) -> Result<()> {
            sqlx::query(
                "UPDATE logged_models SET status = $1, status_message = $2, updated_at = $3 \
                 WHERE model_id = $4",
            )
            .bind(status.as_str())
            .bind(message)
            .bind(now_ms())
            .bind(model_id)
            .execute(self.pool())
            .await
            .map_err(db(format!("finalize logged model `{model_id}`")))?;
            Ok(())
        }

        pub(crate) async fn upsert_logged_model_pairs(
            &self,
            table: &'static str,
            model_id: &str,
            pairs: &[(String, String)],
        ) -> Result<()> {
            let operation = format!("write {table} of `{model_id}`");
            let mut tx = self.write_tx(&operation).await?;
            for (key, value) in pairs {
                upsert_pair(&mut tx, table, model_id, key, value, &operation).await?;
            }
            sqlx::query("UPDATE logged_models SET updated_at = $1 WHERE model_id = $2")
                .bind(now_ms())
                .bind(model_id)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<u64> {
            let deleted = sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2")
                .bind(model_id)
                .bind(key)
                .execute(self.pool())
                .await
                .map_err(db(format!("untag logged model `{model_id}`")))?;
            Ok(deleted.rows_affected())
        }

        pub(crate) async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
            let operation = format!("delete logged model `{model_id}`");
            let mut tx = self.write_tx(&operation).await?;
            for statement in [
                "DELETE FROM logged_model_params WHERE model_id = $1",
                "DELETE FROM logged_model_tags WHERE model_id = $1",
                "DELETE FROM logged_models WHERE model_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(model_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            }
            tx.commit().await.map_err(db(&operation))
        }
    }

    async fn upsert_pair(
        tx: &mut sqlx::Transaction<'static, Db>,
        table: &'static str,
        model_id: &str,
        key: &str,
        value: &str,
        operation: &str,
    ) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (model_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"
        )))
        .bind(model_id)
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await
        .map_err(db(operation))?;
        Ok(())
    }
}
