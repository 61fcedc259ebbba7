//! Dataset versions and fitted transforms: numbering, de-duplication by
//! content, and look-ups by name or digest.
//!
//! Knows the `datasets`, `transforms` and `lineage_edges` tables only; it does
//! not read the manifests or blobs the rows point at.

use sqlx::Row;
use versa_core::{DatasetName, Digest};

use crate::error::db;
use crate::types::{DatasetVersion, NewDatasetVersion, Registration, TransformRow};
use crate::{
    Catalog, CatalogError, Result, from_db_count, from_db_version, list_or_none, now_ms,
    parse_digest, parse_stored, to_db_count,
};

/// The column list, as a macro so queries stay `&'static str` (sqlx refuses runtime-built SQL).
macro_rules! dataset_columns {
    () => {
        "name, version, content_digest, manifest_digest, n_rows, n_columns, \
         source_path, size_bytes, source_format, created_at"
    };
}

impl Catalog {
    /// Registers a dataset version.
    ///
    /// The same name with the same content digest returns the existing
    /// version ([`Registration::Existing`]) and writes nothing; otherwise the
    /// new version is one more than the highest, allocated under the write lock.
    pub async fn register_dataset(
        &self,
        new: NewDatasetVersion,
    ) -> Result<(DatasetVersion, Registration)> {
        dispatch!(self, ops => ops.register_dataset(new).await)
    }

    /// One version of a dataset; `None` means the newest.
    pub async fn dataset(
        &self,
        name: &DatasetName,
        version: Option<u32>,
    ) -> Result<DatasetVersion> {
        dispatch!(self, ops => ops.dataset(name, version).await)
    }

    /// Every dataset version, by name then version.
    pub async fn list_datasets(&self) -> Result<Vec<DatasetVersion>> {
        dispatch!(self, ops => ops.list_datasets().await)
    }

    /// The first-registered dataset version with this content, if any.
    pub async fn dataset_by_digest(
        &self,
        content_digest: &Digest,
    ) -> Result<Option<DatasetVersion>> {
        dispatch!(self, ops => ops.dataset_by_digest(content_digest).await)
    }

    /// Records a fitted transform and its `fitted_on` lineage edge. Idempotent.
    ///
    /// `spec_json` must be valid JSON (it is the transform's spec, kept for display).
    pub async fn register_transform(
        &self,
        digest: &Digest,
        dataset_digest: &Digest,
        spec_json: &str,
    ) -> Result<()> {
        dispatch!(self, ops => ops.register_transform(digest, dataset_digest, spec_json).await)
    }

    /// A registered transform.
    pub async fn transform(&self, digest: &Digest) -> Result<TransformRow> {
        dispatch!(self, ops => ops.transform(digest).await)
    }
}

for_each_backend! {
    fn dataset_from_row(row: &DbRow) -> Result<DatasetVersion> {
        let read = |column: &'static str| -> Result<i64> {
            row.try_get::<i64, _>(column)
                .map_err(db(format!("read datasets.{column}")))
        };
        let text = |column: &'static str| -> Result<String> {
            row.try_get::<String, _>(column)
                .map_err(db(format!("read datasets.{column}")))
        };
        Ok(DatasetVersion {
            name: parse_stored("datasets", "name", "a dataset name", &text("name")?)?,
            version: from_db_version("datasets", "version", read("version")?)?,
            content_digest: parse_digest("datasets", "content_digest", &text("content_digest")?)?,
            manifest_digest: parse_digest(
                "datasets",
                "manifest_digest",
                &text("manifest_digest")?,
            )?,
            n_rows: from_db_count("datasets", "n_rows", read("n_rows")?)?,
            n_columns: from_db_count("datasets", "n_columns", read("n_columns")?)?,
            source_path: text("source_path")?,
            size_bytes: from_db_count("datasets", "size_bytes", read("size_bytes")?)?,
            source_format: text("source_format")?,
            created_at: read("created_at")?,
        })
    }

    fn transform_from_row(row: &DbRow) -> Result<TransformRow> {
        let text = |column: &'static str| -> Result<String> {
            row.try_get::<String, _>(column)
                .map_err(db(format!("read transforms.{column}")))
        };
        Ok(TransformRow {
            digest: parse_digest("transforms", "digest", &text("digest")?)?,
            dataset_digest: parse_digest("transforms", "dataset_digest", &text("dataset_digest")?)?,
            spec_json: text("spec_json")?,
            created_at: row
                .try_get::<i64, _>("created_at")
                .map_err(db("read transforms.created_at"))?,
        })
    }

    impl Ops<'_> {
        pub(crate) async fn register_dataset(
            &self,
            new: NewDatasetVersion,
        ) -> Result<(DatasetVersion, Registration)> {
            let operation = format!("register dataset `{}`", new.name);
            let n_rows = to_db_count("n_rows", new.n_rows)?;
            let n_columns = to_db_count("n_columns", new.n_columns)?;
            let size_bytes = to_db_count("size_bytes", new.size_bytes)?;
            let mut tx = self.write_tx(&operation).await?;
            self.lock_name(&mut tx, "dataset", new.name.as_str(), &operation)
                .await?;

            let existing = sqlx::query(concat!(
                "SELECT ",
                dataset_columns!(),
                " FROM datasets WHERE name = $1 AND content_digest = $2"
            ))
            .bind(new.name.as_str())
            .bind(new.content_digest.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if let Some(row) = existing {
                let dataset = dataset_from_row(&row)?;
                tx.rollback().await.map_err(db(&operation))?;
                return Ok((dataset, Registration::Existing));
            }

            let next: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM datasets WHERE name = $1",
            )
            .bind(new.name.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db(&operation))?;
            let created_at = now_ms();
            sqlx::query(concat!(
                "INSERT INTO datasets (",
                dataset_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(new.name.as_str())
            .bind(next)
            .bind(new.content_digest.to_string())
            .bind(new.manifest_digest.to_string())
            .bind(n_rows)
            .bind(n_columns)
            .bind(&new.source_path)
            .bind(size_bytes)
            .bind(&new.source_format)
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))?;

            let version = from_db_version("datasets", "version", next)?;
            tracing::debug!(name = %new.name, version, "registered dataset version");
            Ok((
                DatasetVersion {
                    name: new.name,
                    version,
                    content_digest: new.content_digest,
                    manifest_digest: new.manifest_digest,
                    n_rows: new.n_rows,
                    n_columns: new.n_columns,
                    source_path: new.source_path,
                    size_bytes: new.size_bytes,
                    source_format: new.source_format,
                    created_at,
                },
                Registration::Created,
            ))
        }

        pub(crate) async fn dataset(
            &self,
            name: &DatasetName,
            version: Option<u32>,
        ) -> Result<DatasetVersion> {
            let operation = format!("look up dataset `{name}`");
            let row = match version {
                Some(number) => sqlx::query(concat!(
                    "SELECT ",
                    dataset_columns!(),
                    " FROM datasets WHERE name = $1 AND version = $2"
                ))
                .bind(name.as_str())
                .bind(i64::from(number))
                .fetch_optional(self.pool())
                .await
                .map_err(db(&operation))?,
                None => sqlx::query(concat!(
                    "SELECT ",
                    dataset_columns!(),
                    " FROM datasets WHERE name = $1 ORDER BY version DESC LIMIT 1"
                ))
                .bind(name.as_str())
                .fetch_optional(self.pool())
                .await
                .map_err(db(&operation))?,
            };
            match row {
                Some(row) => dataset_from_row(&row),
                None => Err(self.dataset_not_found(name, version).await?),
            }
        }

        async fn dataset_not_found(
            &self,
            name: &DatasetName,
            version: Option<u32>,
        ) -> Result<CatalogError> {
            let versions: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM datasets WHERE name = $1 ORDER BY version")
                    .bind(name.as_str())
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(format!("list versions of dataset `{name}`")))?;
            let (key, hint) = match version {
                Some(number) if !versions.is_empty() => (
                    format!("{name}@{number}"),
                    format!("dataset `{name}` has versions {}", list_or_none(&versions)),
                ),
                _ => {
                    let names: Vec<String> =
                        sqlx::query_scalar("SELECT DISTINCT name FROM datasets ORDER BY name")
                            .fetch_all(self.pool())
                            .await
                            .map_err(db("list dataset names"))?;
                    let key = match version {
                        Some(number) => format!("{name}@{number}"),
                        None => name.to_string(),
                    };
                    (
                        key,
                        format!(
                            "no dataset named `{name}` is registered; registered datasets: {}",
                            list_or_none(&names)
                        ),
                    )
                }
            };
            Ok(CatalogError::NotFound {
                what: "dataset",
                key,
                hint,
            })
        }

        pub(crate) async fn list_datasets(&self) -> Result<Vec<DatasetVersion>> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                dataset_columns!(),
                " FROM datasets ORDER BY name, version"
            ))
            .fetch_all(self.pool())
            .await
            .map_err(db("list datasets"))?;
            rows.iter().map(dataset_from_row).collect()
        }

        pub(crate) async fn dataset_by_digest(
            &self,
            content_digest: &Digest,
        ) -> Result<Option<DatasetVersion>> {
            let row = sqlx::query(concat!(
                "SELECT ",
                dataset_columns!(),
                " FROM datasets WHERE content_digest = $1 \
             ORDER BY created_at, name, version LIMIT 1"
            ))
            .bind(content_digest.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(db(format!("look up dataset with content {content_digest}")))?;
            row.as_ref().map(dataset_from_row).transpose()
        }

        pub(crate) async fn register_transform(
            &self,
            digest: &Digest,
            dataset_digest: &Digest,
            spec_json: &str,
        ) -> Result<()> {
            if let Err(error) = serde_json::from_str::<serde_json::Value>(spec_json) {
                return Err(CatalogError::Invalid {
                    what: "transform spec",
                    value: spec_json.chars().take(80).collect(),
                    expected: format!("a JSON document ({error})"),
                });
            }
            let operation = format!("register transform {digest}");
            let mut tx = self.write_tx(&operation).await?;
            sqlx::query(
                "INSERT INTO transforms (digest, dataset_digest, spec_json, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(digest.to_string())
            .bind(dataset_digest.to_string())
            .bind(spec_json)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            sqlx::query(
                "INSERT INTO lineage_edges (from_kind, from_id, to_kind, to_id, relation) \
             VALUES ('transform', $1, 'dataset', $2, 'fitted_on') ON CONFLICT DO NOTHING",
            )
            .bind(digest.to_string())
            .bind(dataset_digest.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn transform(&self, digest: &Digest) -> Result<TransformRow> {
            self.transform_if_any(digest)
                .await?
                .ok_or_else(|| CatalogError::NotFound {
                    what: "transform",
                    key: digest.to_string(),
                    hint: "transforms are registered when a model is trained; check the digest"
                        .to_string(),
                })
        }

        pub(crate) async fn transform_if_any(
            &self,
            digest: &Digest,
        ) -> Result<Option<TransformRow>> {
            let row = sqlx::query(
            "SELECT digest, dataset_digest, spec_json, created_at FROM transforms WHERE digest = $1",
        )
        .bind(digest.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(db(format!("look up transform {digest}")))?;
            row.as_ref().map(transform_from_row).transpose()
        }
    }
}
