//! The model registry: registered models, immutable numbered versions,
//! movable aliases with compare-and-swap and an audit history, and lineage.
//!
//! Version numbers are allocated and written in one write transaction so
//! concurrent registrations get gap-free, distinct numbers and no reader ever
//! sees a version without its metrics and lineage. This module never touches
//! blobs: callers store them before registering (see [`NewModelVersion`]).

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;
use versa_core::{Alias, Digest, ModelName, RunId, VersionSelector};

use crate::error::{AliasExpectation, db};
use crate::types::{
    AliasChange, AliasEvent, AliasRoute, Lineage, LineageEdge, ModelVersion, ModelVersionStatus,
    NewModelVersion, RegisteredModelSummary,
};
use crate::{
    Catalog, CatalogError, Result, decode_metric, encode_metric, from_db_count, from_db_version,
    list_or_none, now_ms, parse_digest, parse_stored,
};

macro_rules! version_columns {
    () => {
        "name, version, run_id, manifest_digest, weights_digest, transform_digest, dataset_digest, \
         status, description, source, created_at"
    };
}

/// What `load_versions` reads: the columns above plus the format, which the
/// insert of a versa version leaves to its default.
macro_rules! version_select_columns {
    () => {
        concat!(version_columns!(), ", format")
    };
}

fn model_version_key(name: &ModelName, version: u32) -> String {
    format!("{name}/{version}")
}

impl Catalog {
    /// Registers a new version of a model (creating the model if absent).
    ///
    /// The version number (highest + 1), the version row, its metrics and its
    /// lineage edges (to the run, transform and dataset) are written in one
    /// transaction: either all are visible or none is.
    ///
    /// Invariant: the caller has already stored every blob `new` names.
    pub async fn create_model_version(&self, new: NewModelVersion) -> Result<ModelVersion> {
        dispatch!(self, ops => ops.create_model_version(new).await)
    }

    /// One version with its metrics, tags and the aliases pointing at it.
    pub async fn model_version(&self, name: &ModelName, version: u32) -> Result<ModelVersion> {
        dispatch!(self, ops => ops.model_version(name, version).await)
    }

    /// The version a selector (`/3` or `@production`) names now.
    pub async fn resolve(
        &self,
        name: &ModelName,
        selector: &VersionSelector,
    ) -> Result<ModelVersion> {
        dispatch!(self, ops => ops.resolve(name, selector).await)
    }

    /// Every registered model with its version count, latest version and aliases.
    pub async fn list_models(&self) -> Result<Vec<RegisteredModelSummary>> {
        dispatch!(self, ops => ops.list_models().await)
    }

    /// Every version of a model, oldest first.
    pub async fn list_versions(&self, name: &ModelName) -> Result<Vec<ModelVersion>> {
        dispatch!(self, ops => ops.list_versions(name).await)
    }

    /// Sets (or overwrites) a tag on a model version.
    pub async fn set_model_version_tag(
        &self,
        name: &ModelName,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<()> {
        dispatch!(self, ops => ops.set_model_version_tag(name, version, key, value).await)
    }

    /// Replaces the free-text description of a version (the only mutable
    /// field of a version besides its tags and aliases).
    pub async fn set_model_version_description(
        &self,
        name: &ModelName,
        version: u32,
        description: &str,
    ) -> Result<()> {
        dispatch!(self, ops => ops.set_model_version_description(name, version, description).await)
    }

    /// Points `alias` at `version` if the alias currently matches `expected`
    /// (compare-and-swap), recording the move in the alias history.
    ///
    /// A mismatch is [`CatalogError::AliasConflict`]; an unknown version is
    /// [`CatalogError::NotFound`]. Pointing an alias at the version it already
    /// names succeeds without writing history.
    pub async fn set_alias(
        &self,
        name: &ModelName,
        alias: &Alias,
        version: u32,
        expected: AliasExpectation,
        actor: &str,
    ) -> Result<AliasChange> {
        dispatch!(self, ops => ops.set_alias(name, alias, version, expected, actor).await)
    }

    /// Removes an alias, recording the removal in the alias history.
    pub async fn delete_alias(&self, name: &ModelName, alias: &Alias, actor: &str) -> Result<()> {
        dispatch!(self, ops => ops.delete_alias(name, alias, actor).await)
    }

    /// Every recorded change of one alias, oldest first.
    pub async fn alias_history(&self, name: &ModelName, alias: &Alias) -> Result<Vec<AliasEvent>> {
        dispatch!(self, ops => ops.alias_history(name, alias).await)
    }

    /// Sets the canary and shadow routing of an existing alias, replacing any
    /// previous route; both `None` clears it (plain alias routing).
    ///
    /// The canary percent must be 0–100 and every named version must exist
    /// ([`CatalogError::Invalid`] / [`CatalogError::NotFound`]).
    pub async fn set_alias_route(
        &self,
        name: &ModelName,
        alias: &Alias,
        canary: Option<(u32, u8)>,
        shadow: Option<u32>,
        actor: &str,
    ) -> Result<()> {
        if let Some((_, percent)) = canary
            && percent > 100
        {
            return Err(CatalogError::Invalid {
                what: "canary percent",
                value: percent.to_string(),
                expected: "a whole number from 0 to 100".to_string(),
            });
        }
        dispatch!(self, ops => ops.set_alias_route(name, alias, canary, shadow, actor).await)
    }

    /// Every alias route (canary/shadow) of every model: one cheap query, for
    /// servers polling on each refresh.
    pub async fn alias_routes(&self) -> Result<Vec<AliasRoute>> {
        dispatch!(self, ops => ops.alias_routes().await)
    }

    /// Every alias of every model: one cheap query, for servers polling for hot swaps.
    pub async fn aliases(&self) -> Result<Vec<(ModelName, Alias, u32)>> {
        dispatch!(self, ops => ops.aliases().await)
    }

    /// A version with the run, transform and dataset it was made from (those
    /// recorded in the catalog).
    pub async fn lineage(&self, name: &ModelName, version: u32) -> Result<Lineage> {
        dispatch!(self, ops => ops.lineage(name, version).await)
    }

    /// The provenance edges recorded from one version, sorted: what it was
    /// `produced_by` (a run), `uses_transform` and `trained_on` (a dataset's
    /// content digest). Written in the same transaction as the version.
    pub async fn lineage_edges(&self, name: &ModelName, version: u32) -> Result<Vec<LineageEdge>> {
        dispatch!(self, ops => ops.lineage_edges(name, version).await)
    }
}

/// Whose bytes a model version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFormat {
    /// versa's own bundle (manifest, transform, weights): servable by versa.
    Versa,
    /// Artifacts registered through the MLflow API: opaque to versa, which
    /// stores and returns them but never loads or runs them.
    Mlflow,
}

impl ModelFormat {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFormat::Versa => "versa",
            ModelFormat::Mlflow => "mlflow",
        }
    }

    pub(crate) fn parse_stored(text: &str) -> Result<ModelFormat> {
        match text {
            "versa" => Ok(ModelFormat::Versa),
            "mlflow" => Ok(ModelFormat::Mlflow),
            other => Err(CatalogError::Corrupt {
                table: "model_versions",
                column: "format",
                value: other.to_string(),
                expected: "`versa` or `mlflow`",
            }),
        }
    }
}

/// MLflow's model version stage (deprecated upstream, still in its API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Stage {
    /// No stage.
    None,
    /// `Staging`.
    Staging,
    /// `Production`.
    Production,
    /// `Archived`.
    Archived,
}

impl Stage {
    /// Every stage, in MLflow's order.
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    /// MLflow's spelling: `None`, `Staging`, `Production`, `Archived`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = CatalogError;
    /// Case-insensitive, as MLflow accepts stages.
    fn from_str(text: &str) -> Result<Stage> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| CatalogError::Invalid {
                what: "stage",
                value: text.to_string(),
                expected: "one of None, Staging, Production, Archived".to_string(),
            })
    }
}

/// What happens to the other versions in a stage when one moves into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherVersionsInStage {
    /// They stay.
    Keep,
    /// They move to `Archived` (MLflow's `archive_existing_versions`).
    Archive,
}

/// A model version with the registry fields MLflow shows beside versa's own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistryVersion {
    /// The version as versa sees it (format, source, tags, aliases…).
    pub version: ModelVersion,
    /// MLflow's stage.
    pub current_stage: Stage,
    /// Where its artifacts are (an `mlflow-artifacts:/` URI); `None` for versa versions.
    pub storage_location: Option<String>,
    /// The MLflow 3 logged model it was registered from.
    pub model_id: Option<String>,
    /// A link to the run, as the client gave it.
    pub run_link: Option<String>,
    /// ms since the Unix epoch of the last change (its creation if none).
    pub updated_at: i64,
}

/// A registered model with its tags, aliases and the latest version per stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisteredModel {
    /// The model.
    pub name: ModelName,
    /// Free text.
    pub description: Option<String>,
    /// ms since the Unix epoch.
    pub created_at: i64,
    /// ms since the Unix epoch of the last change.
    pub updated_at: i64,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Alias name to version.
    pub aliases: BTreeMap<String, u32>,
    /// The highest version in each stage that has one, by stage.
    pub latest_versions: Vec<RegistryVersion>,
}

/// A model version registered through the MLflow API (format `mlflow`).
///
/// Invariant the caller must uphold: the artifacts under `storage_location`
/// are already stored; `tree_digest` is the digest of their listing.
#[derive(Debug, Clone)]
pub struct NewMlflowVersion {
    /// The registered model (must exist, as in MLflow).
    pub name: ModelName,
    /// MLflow's `source`, as given (`models:/m-…`, `runs:/…`, `mlflow-artifacts:/…`).
    pub source: String,
    /// The `mlflow-artifacts:/` URI the source resolved to.
    pub storage_location: String,
    /// The digest of the artifact tree (stored as both manifest and weights digest).
    pub tree_digest: Digest,
    /// The run, if any (must exist in the catalog).
    pub run_id: Option<RunId>,
    /// The logged model, if any.
    pub model_id: Option<String>,
    /// A link to the run.
    pub run_link: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// The MLflow registry: registered models as records of their own (create,
/// rename, delete, tags), version stages, deletes and MLflow-format versions.
/// Alias moves go through [`Catalog::set_alias`] like every other caller's.
impl Catalog {
    /// Creates an empty registered model; an existing name is
    /// [`CatalogError::AlreadyExists`].
    pub async fn create_registered_model(
        &self,
        name: &ModelName,
        description: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<RegisteredModel> {
        dispatch!(self, ops => ops.create_registered_model(name, description, tags).await)?;
        self.registered_model(name).await
    }

    /// One registered model with its tags, aliases and latest version per stage.
    pub async fn registered_model(&self, name: &ModelName) -> Result<RegisteredModel> {
        dispatch!(self, ops => ops.registered_model(name).await)
    }

    /// Every registered model, by name.
    pub async fn registered_models(&self) -> Result<Vec<RegisteredModel>> {
        let mut models = Vec::new();
        for summary in self.list_models().await? {
            models.push(self.registered_model(&summary.name).await?);
        }
        Ok(models)
    }

    /// Replaces a registered model's description.
    pub async fn update_registered_model(
        &self,
        name: &ModelName,
        description: &str,
    ) -> Result<RegisteredModel> {
        dispatch!(self, ops => ops.update_registered_model(name, description).await)?;
        self.registered_model(name).await
    }

    /// Renames a registered model with its versions, tags, metrics, aliases,
    /// routes, alias history and lineage; the new name must be free.
    pub async fn rename_registered_model(
        &self,
        name: &ModelName,
        new_name: &ModelName,
    ) -> Result<RegisteredModel> {
        dispatch!(self, ops => ops.rename_registered_model(name, new_name).await)?;
        self.registered_model(new_name).await
    }

    /// Deletes a registered model and all its versions; each alias removal is
    /// recorded in the alias history under `actor`, and the version numbers
    /// are kept as tombstones so they are never reused.
    pub async fn delete_registered_model(&self, name: &ModelName, actor: &str) -> Result<()> {
        dispatch!(self, ops => ops.delete_registered_model(name, actor).await)
    }

    /// Sets (or overwrites) a tag on a registered model.
    pub async fn set_registered_model_tag(
        &self,
        name: &ModelName,
        key: &str,
        value: &str,
    ) -> Result<()> {
        dispatch!(self, ops => ops.set_registered_model_tag(name, key, value).await)
    }

    /// Removes a tag from a registered model ([`CatalogError::NotFound`] if absent).
    pub async fn delete_registered_model_tag(&self, name: &ModelName, key: &str) -> Result<()> {
        dispatch!(self, ops => ops.delete_registered_model_tag(name, key).await)
    }

    /// Registers an MLflow-format version (numbered like any other).
    pub async fn create_mlflow_version(&self, new: NewMlflowVersion) -> Result<RegistryVersion> {
        let name = new.name.clone();
        let version = dispatch!(self, ops => ops.create_mlflow_version(new).await)?;
        self.registry_version(&name, version).await
    }

    /// One version with its registry fields.
    pub async fn registry_version(
        &self,
        name: &ModelName,
        version: u32,
    ) -> Result<RegistryVersion> {
        dispatch!(self, ops => ops.registry_versions(name, Some(version)).await)?
            .pop()
            .ok_or_else(|| CatalogError::NotFound {
                what: "model version",
                key: model_version_key(name, version),
                hint: "it was deleted concurrently".to_string(),
            })
    }

    /// Every version of a model with its registry fields, oldest first.
    pub async fn registry_versions(&self, name: &ModelName) -> Result<Vec<RegistryVersion>> {
        dispatch!(self, ops => ops.registry_versions(name, None).await)
    }

    /// Replaces a version's description, recording the change time.
    pub async fn update_model_version(
        &self,
        name: &ModelName,
        version: u32,
        description: &str,
    ) -> Result<RegistryVersion> {
        self.set_model_version_description(name, version, description)
            .await?;
        dispatch!(self, ops => ops.touch_version(name, version).await)?;
        self.registry_version(name, version).await
    }

    /// Removes a tag from a version ([`CatalogError::NotFound`] if absent).
    pub async fn delete_model_version_tag(
        &self,
        name: &ModelName,
        version: u32,
        key: &str,
    ) -> Result<()> {
        dispatch!(self, ops => ops.delete_model_version_tag(name, version, key).await)
    }

    /// Moves a version to a stage, optionally archiving the others in it.
    pub async fn transition_stage(
        &self,
        name: &ModelName,
        version: u32,
        stage: Stage,
        others: OtherVersionsInStage,
    ) -> Result<RegistryVersion> {
        dispatch!(self, ops => ops.transition_stage(name, version, stage, others).await)?;
        self.registry_version(name, version).await
    }

    /// Deletes one version: its aliases are removed (recorded under `actor`),
    /// its canary/shadow routes cleared, and its number kept as a tombstone.
    pub async fn delete_model_version(
        &self,
        name: &ModelName,
        version: u32,
        actor: &str,
    ) -> Result<()> {
        dispatch!(self, ops => ops.delete_model_version(name, version, actor).await)
    }
}

for_each_backend! {
    /// A version row before its metrics, tags and aliases are attached.
    fn version_from_row(row: &DbRow) -> Result<ModelVersion> {
        let text = |column: &'static str| -> Result<String> {
            row.try_get::<String, _>(column)
                .map_err(db(format!("read model_versions.{column}")))
        };
        let optional = |column: &'static str| -> Result<Option<String>> {
            row.try_get::<Option<String>, _>(column)
                .map_err(db(format!("read model_versions.{column}")))
        };
        let optional_digest = |column: &'static str| -> Result<_> {
            optional(column)?
                .map(|text| parse_digest("model_versions", column, &text))
                .transpose()
        };
        Ok(ModelVersion {
            name: parse_stored("model_versions", "name", "a model name", &text("name")?)?,
            version: from_db_version(
                "model_versions",
                "version",
                row.try_get::<i64, _>("version")
                    .map_err(db("read model_versions.version"))?,
            )?,
            run_id: optional("run_id")?
                .map(|text| parse_stored("model_versions", "run_id", "a run id", &text))
                .transpose()?,
            manifest_digest: parse_digest(
                "model_versions",
                "manifest_digest",
                &text("manifest_digest")?,
            )?,
            weights_digest: parse_digest(
                "model_versions",
                "weights_digest",
                &text("weights_digest")?,
            )?,
            transform_digest: optional_digest("transform_digest")?,
            dataset_digest: optional_digest("dataset_digest")?,
            status: ModelVersionStatus::parse_stored(&text("status")?)?,
            description: optional("description")?,
            source: text("source")?,
            format: ModelFormat::parse_stored(&text("format")?)?,
            created_at: row
                .try_get::<i64, _>("created_at")
                .map_err(db("read model_versions.created_at"))?,
            metrics: BTreeMap::new(),
            tags: BTreeMap::new(),
            aliases: Vec::new(),
        })
    }

    impl Ops<'_> {
        pub(crate) async fn create_model_version(
            &self,
            new: NewModelVersion,
        ) -> Result<ModelVersion> {
            let mut metrics = BTreeMap::new();
            for (key, value) in &new.metrics {
                if key.is_empty() {
                    return Err(CatalogError::Invalid {
                        what: "model version metric key",
                        value: String::new(),
                        expected: "a non-empty name such as `test_rmse`".to_string(),
                    });
                }
                if metrics.insert(key.clone(), *value).is_some() {
                    return Err(CatalogError::Invalid {
                        what: "model version metric key",
                        value: key.clone(),
                        expected: "each metric key once".to_string(),
                    });
                }
            }
            let operation = format!("create a version of model `{}`", new.name);
            let mut tx = self.write_tx(&operation).await?;
            if let Some(run_id) = &new.run_id {
                self.require_run(&mut *tx, run_id, &operation).await?;
            }
            let created_at = now_ms();
            sqlx::query(
                "INSERT INTO registered_models (name, description, created_at, updated_at) \
             VALUES ($1, NULL, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
            )
            .bind(new.name.as_str())
            .bind(created_at)
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            // The upsert already holds the model row; the explicit lock keeps the
            // allocation below correct without relying on that.
            self.lock_model(&mut tx, &new.name, &operation).await?;
            let next = next_version(&mut tx, &new.name, &operation).await?;
            let version = from_db_version("model_versions", "version", next)?;
            let source = format!("blob:{}", new.manifest_digest);
            sqlx::query(concat!(
                "INSERT INTO model_versions (",
                version_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(new.name.as_str())
            .bind(next)
            .bind(new.run_id.as_ref().map(|run_id| run_id.as_str()))
            .bind(new.manifest_digest.to_string())
            .bind(new.weights_digest.to_string())
            .bind(new.transform_digest.map(|digest| digest.to_string()))
            .bind(new.dataset_digest.map(|digest| digest.to_string()))
            .bind(ModelVersionStatus::Ready.as_str())
            .bind(new.description.as_deref())
            .bind(&source)
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            for (key, value) in &metrics {
                let (stored, is_nan) = encode_metric(*value);
                sqlx::query(
                    "INSERT INTO model_version_metrics (name, version, key, value, is_nan) \
                 VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(new.name.as_str())
                .bind(next)
                .bind(key)
                .bind(stored)
                .bind(is_nan)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            }
            let this = model_version_key(&new.name, version);
            let mut edges = Vec::new();
            if let Some(run_id) = &new.run_id {
                edges.push(("run", run_id.to_string(), "produced_by"));
            }
            if let Some(digest) = &new.transform_digest {
                edges.push(("transform", digest.to_string(), "uses_transform"));
            }
            if let Some(digest) = &new.dataset_digest {
                edges.push(("dataset", digest.to_string(), "trained_on"));
            }
            for (to_kind, to_id, relation) in edges {
                sqlx::query(
                    "INSERT INTO lineage_edges (from_kind, from_id, to_kind, to_id, relation) \
                 VALUES ('model_version', $1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&this)
                .bind(to_kind)
                .bind(to_id)
                .bind(relation)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            }
            tx.commit().await.map_err(db(&operation))?;
            tracing::debug!(model = %new.name, version, "registered model version");

            Ok(ModelVersion {
                name: new.name,
                version,
                run_id: new.run_id,
                manifest_digest: new.manifest_digest,
                weights_digest: new.weights_digest,
                transform_digest: new.transform_digest,
                dataset_digest: new.dataset_digest,
                status: ModelVersionStatus::Ready,
                description: new.description,
                source,
                format: ModelFormat::Versa,
                created_at,
                metrics,
                tags: BTreeMap::new(),
                aliases: Vec::new(),
            })
        }

        pub(crate) async fn model_version(
            &self,
            name: &ModelName,
            version: u32,
        ) -> Result<ModelVersion> {
            let mut versions = self.load_versions(name, Some(version)).await?;
            match versions.pop() {
                Some(found) => Ok(found),
                None => Err(self.version_not_found(name, version).await?),
            }
        }

        pub(crate) async fn resolve(
            &self,
            name: &ModelName,
            selector: &VersionSelector,
        ) -> Result<ModelVersion> {
            match selector {
                VersionSelector::Version(version) => self.model_version(name, *version).await,
                VersionSelector::Alias(alias) => {
                    let version = self.alias_target(name, alias).await?;
                    self.model_version(name, version).await
                }
            }
        }

        async fn alias_target(&self, name: &ModelName, alias: &Alias) -> Result<u32> {
            let operation = format!("resolve `{name}@{alias}`");
            let target: Option<i64> =
                sqlx::query_scalar("SELECT version FROM aliases WHERE name = $1 AND alias = $2")
                    .bind(name.as_str())
                    .bind(alias.as_str())
                    .fetch_optional(self.pool())
                    .await
                    .map_err(db(&operation))?;
            if let Some(version) = target {
                return from_db_version("aliases", "version", version);
            }
            let existing: Vec<(String, i64)> =
                sqlx::query_as("SELECT alias, version FROM aliases WHERE name = $1 ORDER BY alias")
                    .bind(name.as_str())
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(&operation))?;
            let hint = if !existing.is_empty() {
                let listed: Vec<String> = existing
                    .iter()
                    .map(|(alias, version)| format!("{alias} -> {version}"))
                    .collect();
                format!("model `{name}` has aliases {}", listed.join(", "))
            } else if self.model_exists(name).await? {
                format!("model `{name}` has no aliases yet; set one to point at a version first")
            } else {
                self.no_such_model_hint(name).await?
            };
            Err(CatalogError::NotFound {
                what: "alias",
                key: format!("{name}@{alias}"),
                hint,
            })
        }

        pub(crate) async fn list_models(&self) -> Result<Vec<RegisteredModelSummary>> {
            let rows = sqlx::query(
                "SELECT m.name AS name, m.description AS description, m.updated_at AS updated_at, \
                    COUNT(v.version) AS n_versions, MAX(v.version) AS latest_version \
             FROM registered_models m LEFT JOIN model_versions v ON v.name = m.name \
             GROUP BY m.name, m.description, m.updated_at \
             ORDER BY m.name",
            )
            .fetch_all(self.pool())
            .await
            .map_err(db("list models"))?;
            let mut aliases_by_model: BTreeMap<ModelName, BTreeMap<String, u32>> = BTreeMap::new();
            for (name, alias, version) in self.aliases().await? {
                aliases_by_model
                    .entry(name)
                    .or_default()
                    .insert(alias.to_string(), version);
            }
            rows.iter()
                .map(|row| {
                    let read = |what: &str| db(format!("read list of models ({what})"));
                    let name: ModelName = parse_stored(
                        "registered_models",
                        "name",
                        "a model name",
                        &row.try_get::<String, _>("name").map_err(read("name"))?,
                    )?;
                    let n_versions = from_db_count(
                        "model_versions",
                        "version",
                        row.try_get::<i64, _>("n_versions")
                            .map_err(read("n_versions"))?,
                    )?;
                    let latest = row
                        .try_get::<Option<i64>, _>("latest_version")
                        .map_err(read("latest_version"))?;
                    Ok(RegisteredModelSummary {
                        aliases: aliases_by_model.remove(&name).unwrap_or_default(),
                        name,
                        description: row
                            .try_get::<Option<String>, _>("description")
                            .map_err(read("description"))?,
                        n_versions: u32::try_from(n_versions).unwrap_or(u32::MAX),
                        latest_version: latest
                            .map(|version| from_db_version("model_versions", "version", version))
                            .transpose()?,
                        updated_at: row
                            .try_get::<i64, _>("updated_at")
                            .map_err(read("updated_at"))?,
                    })
                })
                .collect()
        }

        pub(crate) async fn list_versions(&self, name: &ModelName) -> Result<Vec<ModelVersion>> {
            let versions = self.load_versions(name, None).await?;
            if versions.is_empty() && !self.model_exists(name).await? {
                return Err(CatalogError::NotFound {
                    what: "model",
                    key: name.to_string(),
                    hint: self.no_such_model_hint(name).await?,
                });
            }
            Ok(versions)
        }

        pub(crate) async fn set_model_version_tag(
            &self,
            name: &ModelName,
            version: u32,
            key: &str,
            value: &str,
        ) -> Result<()> {
            let operation = format!("tag `{name}/{version}`");
            let mut tx = self.write_tx(&operation).await?;
            if !self
                .version_exists(&mut tx, name, version, &operation)
                .await?
            {
                drop(tx);
                return Err(self.version_not_found(name, version).await?);
            }
            sqlx::query(
            "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        )
        .bind(name.as_str())
        .bind(i64::from(version))
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn set_model_version_description(
            &self,
            name: &ModelName,
            version: u32,
            description: &str,
        ) -> Result<()> {
            let operation = format!("describe `{name}/{version}`");
            let mut tx = self.write_tx(&operation).await?;
            if !self
                .version_exists(&mut tx, name, version, &operation)
                .await?
            {
                drop(tx);
                return Err(self.version_not_found(name, version).await?);
            }
            sqlx::query("UPDATE model_versions SET description = $1 WHERE name = $2 AND version = $3")
                .bind(description)
                .bind(name.as_str())
                .bind(i64::from(version))
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn set_alias(
            &self,
            name: &ModelName,
            alias: &Alias,
            version: u32,
            expected: AliasExpectation,
            actor: &str,
        ) -> Result<AliasChange> {
            let operation = format!("point `{name}@{alias}` at version {version}");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_model(&mut tx, name, &operation).await?;
            if !self
                .version_exists(&mut tx, name, version, &operation)
                .await?
            {
                drop(tx);
                return Err(self.version_not_found(name, version).await?);
            }
            let current = current_alias(&mut tx, name, alias, &operation).await?;
            let matches = match expected {
                AliasExpectation::Any => true,
                AliasExpectation::Absent => current.is_none(),
                AliasExpectation::Version(expected_version) => current == Some(expected_version),
            };
            if !matches {
                return Err(CatalogError::AliasConflict {
                    model: name.clone(),
                    alias: alias.clone(),
                    expected,
                    actual: current,
                });
            }
            let change = AliasChange {
                from: current,
                to: version,
            };
            if current == Some(version) {
                tx.rollback().await.map_err(db(&operation))?;
                return Ok(change);
            }
            sqlx::query(
                "INSERT INTO aliases (name, alias, version) VALUES ($1, $2, $3) \
             ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
            )
            .bind(name.as_str())
            .bind(alias.as_str())
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            record_alias_event(
                &mut tx,
                name,
                alias,
                current,
                Some(version),
                actor,
                &operation,
            )
            .await?;
            tx.commit().await.map_err(db(&operation))?;
            tracing::info!(model = %name, %alias, from = ?current, to = version, actor, "moved alias");
            Ok(change)
        }

        pub(crate) async fn delete_alias(
            &self,
            name: &ModelName,
            alias: &Alias,
            actor: &str,
        ) -> Result<()> {
            let operation = format!("delete alias `{name}@{alias}`");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_model(&mut tx, name, &operation).await?;
            let Some(current) = current_alias(&mut tx, name, alias, &operation).await? else {
                drop(tx);
                // Reuse the resolve path for a message listing the aliases that do exist.
                self.alias_target(name, alias).await?;
                return Err(CatalogError::NotFound {
                    what: "alias",
                    key: format!("{name}@{alias}"),
                    hint: "it was deleted concurrently".to_string(),
                });
            };
            sqlx::query("DELETE FROM aliases WHERE name = $1 AND alias = $2")
                .bind(name.as_str())
                .bind(alias.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            record_alias_event(&mut tx, name, alias, Some(current), None, actor, &operation)
                .await?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn alias_history(
            &self,
            name: &ModelName,
            alias: &Alias,
        ) -> Result<Vec<AliasEvent>> {
            let rows: Vec<(Option<i64>, Option<i64>, i64, String)> = sqlx::query_as(
                "SELECT from_version, to_version, changed_at, actor FROM alias_history \
             WHERE name = $1 AND alias = $2 ORDER BY id",
            )
            .bind(name.as_str())
            .bind(alias.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(db(format!("read history of `{name}@{alias}`")))?;
            let version = |value: Option<i64>, column| {
                value
                    .map(|version| from_db_version("alias_history", column, version))
                    .transpose()
            };
            rows.into_iter()
                .map(|(from, to, changed_at, actor)| {
                    Ok(AliasEvent {
                        name: name.clone(),
                        alias: alias.clone(),
                        from_version: version(from, "from_version")?,
                        to_version: version(to, "to_version")?,
                        changed_at,
                        actor,
                    })
                })
                .collect()
        }

        pub(crate) async fn set_alias_route(
            &self,
            name: &ModelName,
            alias: &Alias,
            canary: Option<(u32, u8)>,
            shadow: Option<u32>,
            actor: &str,
        ) -> Result<()> {
            let operation = format!("route `{name}@{alias}`");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_model(&mut tx, name, &operation).await?;
            let aliased: Option<i64> =
                sqlx::query_scalar("SELECT version FROM aliases WHERE name = $1 AND alias = $2")
                    .bind(name.as_str())
                    .bind(alias.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            if aliased.is_none() {
                drop(tx);
                return Err(CatalogError::NotFound {
                    what: "alias",
                    key: format!("{name}@{alias}"),
                    hint: "point the alias at a version first (versa models promote NAME VERSION --alias ALIAS)".to_string(),
                });
            }
            for version in canary.map(|(version, _)| version).into_iter().chain(shadow) {
                if !self.version_exists(&mut tx, name, version, &operation).await? {
                    drop(tx);
                    return Err(self.version_not_found(name, version).await?);
                }
            }
            sqlx::query("DELETE FROM alias_routes WHERE name = $1 AND alias = $2")
                .bind(name.as_str())
                .bind(alias.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            if canary.is_some() || shadow.is_some() {
                sqlx::query(
                    "INSERT INTO alias_routes (name, alias, canary_version, canary_percent, \
                     shadow_version, updated_at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(name.as_str())
                .bind(alias.as_str())
                .bind(canary.map(|(version, _)| i64::from(version)))
                .bind(canary.map(|(_, percent)| i64::from(percent)))
                .bind(shadow.map(i64::from))
                .bind(now_ms())
                .bind(actor)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn alias_routes(&self) -> Result<Vec<AliasRoute>> {
            type RouteRow = (String, String, Option<i64>, Option<i64>, Option<i64>, i64, String);
            let rows: Vec<RouteRow> = sqlx::query_as(
                "SELECT name, alias, canary_version, canary_percent, shadow_version, updated_at, actor \
                 FROM alias_routes ORDER BY name, alias",
            )
            .fetch_all(self.pool())
            .await
            .map_err(db("list alias routes"))?;
            rows.into_iter()
                .map(|(name, alias, canary_version, canary_percent, shadow_version, updated_at, actor)| {
                    let canary = match (canary_version, canary_percent) {
                        (Some(version), Some(percent)) => Some((
                            from_db_version("alias_routes", "canary_version", version)?,
                            u8::try_from(percent).ok().filter(|p| *p <= 100).ok_or_else(|| {
                                CatalogError::Invalid {
                                    what: "alias_routes.canary_percent",
                                    value: percent.to_string(),
                                    expected: "a whole number from 0 to 100".to_string(),
                                }
                            })?,
                        )),
                        _ => None,
                    };
                    Ok(AliasRoute {
                        name: parse_stored("alias_routes", "name", "a model name", &name)?,
                        alias: parse_stored("alias_routes", "alias", "an alias", &alias)?,
                        canary,
                        shadow: shadow_version
                            .map(|version| from_db_version("alias_routes", "shadow_version", version))
                            .transpose()?,
                        updated_at,
                        actor,
                    })
                })
                .collect()
        }

        pub(crate) async fn aliases(&self) -> Result<Vec<(ModelName, Alias, u32)>> {
            let rows: Vec<(String, String, i64)> =
                sqlx::query_as("SELECT name, alias, version FROM aliases ORDER BY name, alias")
                    .fetch_all(self.pool())
                    .await
                    .map_err(db("list aliases"))?;
            rows.into_iter()
                .map(|(name, alias, version)| {
                    Ok((
                        parse_stored("aliases", "name", "a model name", &name)?,
                        parse_stored("aliases", "alias", "an alias", &alias)?,
                        from_db_version("aliases", "version", version)?,
                    ))
                })
                .collect()
        }

        pub(crate) async fn lineage_edges(
            &self,
            name: &ModelName,
            version: u32,
        ) -> Result<Vec<LineageEdge>> {
            let operation = format!("read lineage edges of `{name}/{version}`");
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT to_kind, to_id, relation FROM lineage_edges \
             WHERE from_kind = 'model_version' AND from_id = $1 \
             ORDER BY to_kind, to_id, relation",
            )
            .bind(model_version_key(name, version))
            .fetch_all(self.pool())
            .await
            .map_err(db(&operation))?;
            Ok(rows
                .into_iter()
                .map(|(to_kind, to_id, relation)| LineageEdge {
                    to_kind,
                    to_id,
                    relation,
                })
                .collect())
        }

        pub(crate) async fn lineage(&self, name: &ModelName, version: u32) -> Result<Lineage> {
            let model_version = self.model_version(name, version).await?;
            let run = match &model_version.run_id {
                Some(run_id) => self.run_if_any(run_id).await?,
                None => None,
            };
            let transform = match &model_version.transform_digest {
                Some(digest) => self.transform_if_any(digest).await?,
                None => None,
            };
            let dataset = match &model_version.dataset_digest {
                Some(digest) => self.dataset_by_digest(digest).await?,
                None => None,
            };
            Ok(Lineage {
                version: model_version,
                run,
                transform,
                dataset,
            })
        }

        /// Versions of one model (or one version of it) with metrics, tags and aliases attached.
        async fn load_versions(
            &self,
            name: &ModelName,
            version: Option<u32>,
        ) -> Result<Vec<ModelVersion>> {
            let operation = match version {
                Some(number) => format!("read model version `{name}/{number}`"),
                None => format!("read versions of model `{name}`"),
            };
            // A version range (one version, or all) keeps one query text for both cases.
            let (lowest, highest) = match version {
                Some(number) => (i64::from(number), i64::from(number)),
                None => (1, i64::from(u32::MAX)),
            };
            let rows = sqlx::query(concat!(
            "SELECT ",
            version_select_columns!(),
            " FROM model_versions WHERE name = $1 AND version BETWEEN $2 AND $3 ORDER BY version"
        ))
        .bind(name.as_str())
        .bind(lowest)
        .bind(highest)
        .fetch_all(self.pool())
        .await
        .map_err(db(&operation))?;
            let mut versions: BTreeMap<u32, ModelVersion> = BTreeMap::new();
            for row in &rows {
                let parsed = version_from_row(row)?;
                versions.insert(parsed.version, parsed);
            }
            if versions.is_empty() {
                return Ok(Vec::new());
            }

            let metrics: Vec<(i64, String, f64, bool)> = sqlx::query_as(
                "SELECT version, key, value, is_nan FROM model_version_metrics \
             WHERE name = $1 AND version BETWEEN $2 AND $3",
            )
            .bind(name.as_str())
            .bind(lowest)
            .bind(highest)
            .fetch_all(self.pool())
            .await
            .map_err(db(&operation))?;
            for (number, key, value, is_nan) in metrics {
                let number = from_db_version("model_version_metrics", "version", number)?;
                if let Some(entry) = versions.get_mut(&number) {
                    entry.metrics.insert(key, decode_metric(value, is_nan));
                }
            }

            let tags: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT version, key, value FROM model_version_tags \
             WHERE name = $1 AND version BETWEEN $2 AND $3",
            )
            .bind(name.as_str())
            .bind(lowest)
            .bind(highest)
            .fetch_all(self.pool())
            .await
            .map_err(db(&operation))?;
            for (number, key, value) in tags {
                let number = from_db_version("model_version_tags", "version", number)?;
                if let Some(entry) = versions.get_mut(&number) {
                    entry.tags.insert(key, value);
                }
            }

            let aliases: Vec<(i64, String)> = sqlx::query_as(
                "SELECT version, alias FROM aliases WHERE name = $1 AND version BETWEEN $2 AND $3 \
             ORDER BY alias",
            )
            .bind(name.as_str())
            .bind(lowest)
            .bind(highest)
            .fetch_all(self.pool())
            .await
            .map_err(db(&operation))?;
            for (number, alias) in aliases {
                let number = from_db_version("aliases", "version", number)?;
                if let Some(entry) = versions.get_mut(&number) {
                    entry
                        .aliases
                        .push(parse_stored("aliases", "alias", "an alias", &alias)?);
                }
            }
            Ok(versions.into_values().collect())
        }

        async fn version_exists(
            &self,
            tx: &mut sqlx::Transaction<'static, Db>,
            name: &ModelName,
            version: u32,
            operation: &str,
        ) -> Result<bool> {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM model_versions WHERE name = $1 AND version = $2",
            )
            .bind(name.as_str())
            .bind(i64::from(version))
            .fetch_optional(&mut **tx)
            .await
            .map_err(db(operation))?;
            Ok(found.is_some())
        }

        async fn model_exists(&self, name: &ModelName) -> Result<bool> {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM registered_models WHERE name = $1",
            )
            .bind(name.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db(format!("look up model `{name}`")))?;
            Ok(found.is_some())
        }

        async fn no_such_model_hint(&self, name: &ModelName) -> Result<String> {
            let names: Vec<String> =
                sqlx::query_scalar("SELECT name FROM registered_models ORDER BY name")
                    .fetch_all(self.pool())
                    .await
                    .map_err(db("list model names"))?;
            Ok(format!(
                "no model named `{name}` is registered; registered models: {}",
                list_or_none(&names)
            ))
        }

        async fn version_not_found(&self, name: &ModelName, version: u32) -> Result<CatalogError> {
            let versions: Vec<i64> = sqlx::query_scalar(
                "SELECT version FROM model_versions WHERE name = $1 ORDER BY version",
            )
            .bind(name.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(db(format!("list versions of model `{name}`")))?;
            let hint = if versions.is_empty() {
                self.no_such_model_hint(name).await?
            } else {
                format!("model `{name}` has versions {}", list_or_none(&versions))
            };
            Ok(CatalogError::NotFound {
                what: "model version",
                key: model_version_key(name, version),
                hint,
            })
        }
    }

    async fn current_alias(
        tx: &mut sqlx::Transaction<'static, Db>,
        name: &ModelName,
        alias: &Alias,
        operation: &str,
    ) -> Result<Option<u32>> {
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM aliases WHERE name = $1 AND alias = $2")
                .bind(name.as_str())
                .bind(alias.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(db(operation))?;
        current
            .map(|version| from_db_version("aliases", "version", version))
            .transpose()
    }

    async fn record_alias_event(
        tx: &mut sqlx::Transaction<'static, Db>,
        name: &ModelName,
        alias: &Alias,
        from: Option<u32>,
        to: Option<u32>,
        actor: &str,
        operation: &str,
    ) -> Result<()> {
        let changed_at = now_ms();
        sqlx::query(
            "INSERT INTO alias_history (name, alias, from_version, to_version, changed_at, actor) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name.as_str())
        .bind(alias.as_str())
        .bind(from.map(i64::from))
        .bind(to.map(i64::from))
        .bind(changed_at)
        .bind(actor)
        .execute(&mut **tx)
        .await
        .map_err(db(operation))?;
        sqlx::query("UPDATE registered_models SET updated_at = $1 WHERE name = $2")
            .bind(changed_at)
            .bind(name.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db(operation))?;
        Ok(())
    }

    /// The model_versions columns a rename copies (every column but the name).
    const VERSION_COPY_COLUMNS: &str = "version, run_id, manifest_digest, weights_digest, \
        transform_digest, dataset_digest, status, description, source, created_at, format, \
        current_stage, storage_location, model_id, run_link, updated_at";

    impl Ops<'_> {
        pub(crate) async fn create_registered_model(
            &self,
            name: &ModelName,
            description: Option<&str>,
            tags: &[(String, String)],
        ) -> Result<()> {
            let operation = format!("create registered model `{name}`");
            let mut tx = self.write_tx(&operation).await?;
            let now = now_ms();
            let inserted = sqlx::query(
                "INSERT INTO registered_models (name, description, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name.as_str())
            .bind(description)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if inserted.rows_affected() == 0 {
                return Err(CatalogError::AlreadyExists {
                    what: "registered model",
                    key: name.to_string(),
                    hint: "choose another name, or add a version to the existing model".to_string(),
                });
            }
            for (key, value) in tags {
                upsert_model_tag(&mut tx, name, key, value, &operation).await?;
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn registered_model(&self, name: &ModelName) -> Result<RegisteredModel> {
            let operation = format!("read registered model `{name}`");
            let row: Option<(Option<String>, i64, i64)> = sqlx::query_as(
                "SELECT description, created_at, updated_at FROM registered_models WHERE name = $1",
            )
            .bind(name.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db(&operation))?;
            let Some((description, created_at, updated_at)) = row else {
                return Err(CatalogError::NotFound {
                    what: "registered model",
                    key: name.to_string(),
                    hint: self.no_such_model_hint(name).await?,
                });
            };
            let tags: Vec<(String, String)> = sqlx::query_as(
                "SELECT key, value FROM registered_model_tags WHERE name = $1 ORDER BY key",
            )
            .bind(name.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(db(&operation))?;
            let aliases: Vec<(String, i64)> =
                sqlx::query_as("SELECT alias, version FROM aliases WHERE name = $1 ORDER BY alias")
                    .bind(name.as_str())
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(&operation))?;
            let mut latest: BTreeMap<Stage, RegistryVersion> = BTreeMap::new();
            for version in self.registry_versions(name, None).await? {
                // Oldest first, so the last of each stage wins.
                latest.insert(version.current_stage, version);
            }
            Ok(RegisteredModel {
                name: name.clone(),
                description,
                created_at,
                updated_at,
                tags: tags.into_iter().collect(),
                aliases: aliases
                    .into_iter()
                    .map(|(alias, version)| {
                        Ok((alias, from_db_version("aliases", "version", version)?))
                    })
                    .collect::<Result<_>>()?,
                latest_versions: latest.into_values().collect(),
            })
        }

        pub(crate) async fn update_registered_model(
            &self,
            name: &ModelName,
            description: &str,
        ) -> Result<()> {
            let operation = format!("describe registered model `{name}`");
            let updated = sqlx::query(
                "UPDATE registered_models SET description = $1, updated_at = $2 WHERE name = $3",
            )
            .bind(description)
            .bind(now_ms())
            .bind(name.as_str())
            .execute(self.pool())
            .await
            .map_err(db(&operation))?;
            if updated.rows_affected() == 0 {
                return Err(self.model_not_found(name).await?);
            }
            Ok(())
        }

        pub(crate) async fn rename_registered_model(
            &self,
            name: &ModelName,
            new_name: &ModelName,
        ) -> Result<()> {
            let operation = format!("rename registered model `{name}` to `{new_name}`");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_model(&mut tx, name, &operation).await?;
            let exists = |model: &ModelName| {
                sqlx::query_scalar::<_, i64>(
                    "SELECT CAST(1 AS BIGINT) FROM registered_models WHERE name = $1",
                )
                .bind(model.as_str().to_string())
            };
            if exists(name).fetch_optional(&mut *tx).await.map_err(db(&operation))?.is_none() {
                drop(tx);
                return Err(self.model_not_found(name).await?);
            }
            if exists(new_name).fetch_optional(&mut *tx).await.map_err(db(&operation))?.is_some() {
                return Err(CatalogError::AlreadyExists {
                    what: "registered model",
                    key: new_name.to_string(),
                    hint: "rename to a name no model has".to_string(),
                });
            }
            // Foreign keys are not deferrable on both databases, so rows are
            // copied under the new name (parents first) and the old ones
            // deleted (children first), all in this one transaction.
            sqlx::query(
                "INSERT INTO registered_models (name, description, created_at, updated_at) \
                 SELECT $2, description, created_at, $3 FROM registered_models WHERE name = $1",
            )
            .bind(name.as_str())
            .bind(new_name.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            let version_copy = format!(
                "INSERT INTO model_versions (name, {VERSION_COPY_COLUMNS}) \
                 SELECT $2, {VERSION_COPY_COLUMNS} FROM model_versions WHERE name = $1"
            );
            let moves = [
                "INSERT INTO registered_model_tags (name, key, value) \
                 SELECT $2, key, value FROM registered_model_tags WHERE name = $1",
                version_copy.as_str(),
                "INSERT INTO model_version_tags (name, version, key, value) \
                 SELECT $2, version, key, value FROM model_version_tags WHERE name = $1",
                "INSERT INTO model_version_metrics (name, version, key, value, is_nan) \
                 SELECT $2, version, key, value, is_nan FROM model_version_metrics WHERE name = $1",
                "INSERT INTO aliases (name, alias, version) \
                 SELECT $2, alias, version FROM aliases WHERE name = $1",
                "INSERT INTO alias_routes (name, alias, canary_version, canary_percent, \
                 shadow_version, updated_at, actor) \
                 SELECT $2, alias, canary_version, canary_percent, shadow_version, updated_at, actor \
                 FROM alias_routes WHERE name = $1",
                "UPDATE alias_history SET name = $2 WHERE name = $1",
                "UPDATE model_version_tombstones SET name = $2 WHERE name = $1",
                "UPDATE lineage_edges SET from_id = $2 || substr(from_id, length($1) + 1) \
                 WHERE from_kind = 'model_version' AND substr(from_id, 1, length($1) + 1) = $1 || '/'",
            ];
            for statement in moves {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .bind(name.as_str())
                    .bind(new_name.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            }
            for statement in [
                "DELETE FROM alias_routes WHERE name = $1",
                "DELETE FROM aliases WHERE name = $1",
                "DELETE FROM model_version_metrics WHERE name = $1",
                "DELETE FROM model_version_tags WHERE name = $1",
                "DELETE FROM model_versions WHERE name = $1",
                "DELETE FROM registered_model_tags WHERE name = $1",
                "DELETE FROM registered_models WHERE name = $1",
            ] {
                sqlx::query(statement)
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn delete_registered_model(
            &self,
            name: &ModelName,
            actor: &str,
        ) -> Result<()> {
            let operation = format!("delete registered model `{name}`");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_model(&mut tx, name, &operation).await?;
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM registered_models WHERE name = $1",
            )
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if found.is_none() {
                drop(tx);
                return Err(self.model_not_found(name).await?);
            }
            let versions: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM model_versions WHERE name = $1")
                    .bind(name.as_str())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            for version in versions {
                let version = from_db_version("model_versions", "version", version)?;
                delete_version_in(&mut tx, name, version, actor, &operation).await?;
            }
            for statement in [
                "DELETE FROM registered_model_tags WHERE name = $1",
                "DELETE FROM registered_models WHERE name = $1",
            ] {
                sqlx::query(statement)
                    .bind(name.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&operation))?;
            }
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn set_registered_model_tag(
            &self,
            name: &ModelName,
            key: &str,
            value: &str,
        ) -> Result<()> {
            let operation = format!("tag registered model `{name}`");
            let mut tx = self.write_tx(&operation).await?;
            if !self.model_exists(name).await? {
                drop(tx);
                return Err(self.model_not_found(name).await?);
            }
            upsert_model_tag(&mut tx, name, key, value, &operation).await?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn delete_registered_model_tag(
            &self,
            name: &ModelName,
            key: &str,
        ) -> Result<()> {
            let operation = format!("untag registered model `{name}`");
            if !self.model_exists(name).await? {
                return Err(self.model_not_found(name).await?);
            }
            let deleted = sqlx::query("DELETE FROM registered_model_tags WHERE name = $1 AND key = $2")
                .bind(name.as_str())
                .bind(key)
                .execute(self.pool())
                .await
                .map_err(db(&operation))?;
            if deleted.rows_affected() == 0 {
                return Err(CatalogError::NotFound {
                    what: "registered model tag",
                    key: format!("{name}: {key}"),
                    hint: "the model has no tag with that key".to_string(),
                });
            }
            Ok(())
        }

        pub(crate) async fn create_mlflow_version(&self, new: NewMlflowVersion) -> Result<u32> {
            let operation = format!("create an MLflow version of model `{}`", new.name);
            let mut tx = self.write_tx(&operation).await?;
            self.lock_model(&mut tx, &new.name, &operation).await?;
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM registered_models WHERE name = $1",
            )
            .bind(new.name.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if found.is_none() {
                drop(tx);
                return Err(self.model_not_found(&new.name).await?);
            }
            if let Some(run_id) = &new.run_id {
                self.require_run(&mut *tx, run_id, &operation).await?;
            }
            let next = next_version(&mut tx, &new.name, &operation).await?;
            let version = from_db_version("model_versions", "version", next)?;
            let created_at = now_ms();
            let digest = new.tree_digest.to_string();
            sqlx::query(
                "INSERT INTO model_versions (name, version, run_id, manifest_digest, weights_digest, \
                 status, description, source, created_at, format, storage_location, model_id, run_link) \
                 VALUES ($1, $2, $3, $4, $5, 'READY', $6, $7, $8, 'mlflow', $9, $10, $11)",
            )
            .bind(new.name.as_str())
            .bind(next)
            .bind(new.run_id.as_ref().map(|run_id| run_id.as_str()))
            .bind(&digest)
            .bind(&digest)
            .bind(new.description.as_deref())
            .bind(&new.source)
            .bind(created_at)
            .bind(&new.storage_location)
            .bind(new.model_id.as_deref())
            .bind(new.run_link.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            for (key, value) in &new.tags {
                sqlx::query(
                    "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                )
                .bind(new.name.as_str())
                .bind(next)
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            }
            if let Some(run_id) = &new.run_id {
                sqlx::query(
                    "INSERT INTO lineage_edges (from_kind, from_id, to_kind, to_id, relation) \
                     VALUES ('model_version', $1, 'run', $2, 'produced_by') ON CONFLICT DO NOTHING",
                )
                .bind(model_version_key(&new.name, version))
                .bind(run_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            }
            sqlx::query("UPDATE registered_models SET updated_at = $1 WHERE name = $2")
                .bind(created_at)
                .bind(new.name.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))?;
            Ok(version)
        }

        pub(crate) async fn registry_versions(
            &self,
            name: &ModelName,
            version: Option<u32>,
        ) -> Result<Vec<RegistryVersion>> {
            let versions = match version {
                Some(number) => vec![self.model_version(name, number).await?],
                None => self.list_versions(name).await?,
            };
            let (lowest, highest) = match version {
                Some(number) => (i64::from(number), i64::from(number)),
                None => (1, i64::from(u32::MAX)),
            };
            type Extra = (i64, String, Option<String>, Option<String>, Option<String>, Option<i64>);
            let extras: Vec<Extra> = sqlx::query_as(
                "SELECT version, current_stage, storage_location, model_id, run_link, updated_at \
                 FROM model_versions WHERE name = $1 AND version BETWEEN $2 AND $3",
            )
            .bind(name.as_str())
            .bind(lowest)
            .bind(highest)
            .fetch_all(self.pool())
            .await
            .map_err(db(format!("read registry fields of model `{name}`")))?;
            let mut extras: BTreeMap<i64, Extra> =
                extras.into_iter().map(|extra| (extra.0, extra)).collect();
            versions
                .into_iter()
                .filter_map(|version| {
                    let extra = extras.remove(&i64::from(version.version))?;
                    Some((version, extra))
                })
                .map(|(version, (_, stage, storage_location, model_id, run_link, updated_at))| {
                    Ok(RegistryVersion {
                        current_stage: parse_stored(
                            "model_versions",
                            "current_stage",
                            "None, Staging, Production or Archived",
                            &stage,
                        )?,
                        storage_location,
                        model_id,
                        run_link,
                        updated_at: updated_at.unwrap_or(version.created_at),
                        version,
                    })
                })
                .collect()
        }

        pub(crate) async fn touch_version(&self, name: &ModelName, version: u32) -> Result<()> {
            sqlx::query("UPDATE model_versions SET updated_at = $1 WHERE name = $2 AND version = $3")
                .bind(now_ms())
                .bind(name.as_str())
                .bind(i64::from(version))
                .execute(self.pool())
                .await
                .map_err(db(format!("touch `{name}/{version}`")))?;
            Ok(())
        }

        pub(crate) async fn delete_model_version_tag(
            &self,
            name: &ModelName,
            version: u32,
            key: &str,
        ) -> Result<()> {
            let operation = format!("untag `{name}/{version}`");
            let deleted = sqlx::query(
                "DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3",
            )
            .bind(name.as_str())
            .bind(i64::from(version))
            .bind(key)
            .execute(self.pool())
            .await
            .map_err(db(&operation))?;
            if deleted.rows_affected() == 0 {
                // Name the version's absence if that is the reason.
                self.model_version(name, version).await?;
                return Err(CatalogError::NotFound {
                    what: "model version tag",
                    key: format!("{name}/{version}: {key}"),
                    hint: "the version has no tag with that key".to_string(),
                });
            }
            Ok(())
        }

        pub(crate) async fn transition_stage(
            &self,
            name: &ModelName,
            version: u32,
            stage: Stage,
            others: OtherVersionsInStage,
        ) -> Result<()> {
            let operation = format!("move `{name}/{version}` to stage {}", stage.as_str());
            let mut tx = self.write_tx(&operation).await?;
            self.lock_model(&mut tx, name, &operation).await?;
            if !self.version_exists(&mut tx, name, version, &operation).await? {
                drop(tx);
                return Err(self.version_not_found(name, version).await?);
            }
            let now = now_ms();
            if others == OtherVersionsInStage::Archive
                && matches!(stage, Stage::Staging | Stage::Production)
            {
                sqlx::query(
                    "UPDATE model_versions SET current_stage = 'Archived', updated_at = $1 \
                     WHERE name = $2 AND current_stage = $3 AND version <> $4",
                )
                .bind(now)
                .bind(name.as_str())
                .bind(stage.as_str())
                .bind(i64::from(version))
                .execute(&mut *tx)
                .await
                .map_err(db(&operation))?;
            }
            sqlx::query(
                "UPDATE model_versions SET current_stage = $1, updated_at = $2 \
                 WHERE name = $3 AND version = $4",
            )
            .bind(stage.as_str())
            .bind(now)
            .bind(name.as_str())
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn delete_model_version(
            &self,
            name: &ModelName,
            version: u32,
            actor: &str,
        ) -> Result<()> {
            let operation = format!("delete `{name}/{version}`");
            let mut tx = self.write_tx(&operation).await?;
            self.lock_model(&mut tx, name, &operation).await?;
            if !self.version_exists(&mut tx, name, version, &operation).await? {
                drop(tx);
                return Err(self.version_not_found(name, version).await?);
            }
            delete_version_in(&mut tx, name, version, actor, &operation).await?;
            tx.commit().await.map_err(db(&operation))
        }

        async fn model_not_found(&self, name: &ModelName) -> Result<CatalogError> {
            Ok(CatalogError::NotFound {
                what: "registered model",
                key: name.to_string(),
                hint: self.no_such_model_hint(name).await?,
            })
        }
    }

    /// The next version number of a model: above every existing version and
    /// every deleted one (tombstones), so no number is ever given twice.
    async fn next_version(
        tx: &mut sqlx::Transaction<'static, Db>,
        name: &ModelName,
        operation: &str,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM (\
                SELECT version FROM model_versions WHERE name = $1 \
                UNION ALL SELECT version FROM model_version_tombstones WHERE name = $1) AS taken",
        )
        .bind(name.as_str())
        .fetch_one(&mut **tx)
        .await
        .map_err(db(operation))
    }

    async fn upsert_model_tag(
        tx: &mut sqlx::Transaction<'static, Db>,
        name: &ModelName,
        key: &str,
        value: &str,
        operation: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        )
        .bind(name.as_str())
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await
        .map_err(db(operation))?;
        Ok(())
    }

    /// Deletes one version inside the caller's transaction (model row locked):
    /// aliases on it (each recorded), routes naming it, its rows, and leaves a tombstone.
    async fn delete_version_in(
        tx: &mut sqlx::Transaction<'static, Db>,
        name: &ModelName,
        version: u32,
        actor: &str,
        operation: &str,
    ) -> Result<()> {
        let number = i64::from(version);
        let aliases: Vec<String> =
            sqlx::query_scalar("SELECT alias FROM aliases WHERE name = $1 AND version = $2")
                .bind(name.as_str())
                .bind(number)
                .fetch_all(&mut **tx)
                .await
                .map_err(db(operation))?;
        for alias_text in aliases {
            let alias: Alias = parse_stored("aliases", "alias", "an alias", &alias_text)?;
            for statement in [
                "DELETE FROM alias_routes WHERE name = $1 AND alias = $2",
                "DELETE FROM aliases WHERE name = $1 AND alias = $2",
            ] {
                sqlx::query(statement)
                    .bind(name.as_str())
                    .bind(alias.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(db(operation))?;
            }
            record_alias_event(tx, name, &alias, Some(version), None, actor, operation).await?;
        }
        for statement in [
            "DELETE FROM alias_routes WHERE name = $1 AND (canary_version = $2 OR shadow_version = $2)",
            "DELETE FROM model_version_metrics WHERE name = $1 AND version = $2",
            "DELETE FROM model_version_tags WHERE name = $1 AND version = $2",
            "DELETE FROM model_versions WHERE name = $1 AND version = $2",
        ] {
            sqlx::query(statement)
                .bind(name.as_str())
                .bind(number)
                .execute(&mut **tx)
                .await
                .map_err(db(operation))?;
        }
        sqlx::query(
            "DELETE FROM lineage_edges WHERE from_kind = 'model_version' AND from_id = $1",
        )
        .bind(model_version_key(name, version))
        .execute(&mut **tx)
        .await
        .map_err(db(operation))?;
        sqlx::query(
            "INSERT INTO model_version_tombstones (name, version, deleted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(number)
        .bind(now_ms())
        .execute(&mut **tx)
        .await
        .map_err(db(operation))?;
        Ok(())
    }
}
