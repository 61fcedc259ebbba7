//! The artifact index: which blob holds the bytes of each file stored through
//! the MLflow artifact proxy, by its path under the artifact root (what
//! follows `mlflow-artifacts:/`). Directories are implied by paths.
//!
//! This module never touches blobs (callers store them first) and does not
//! decode URLs; it refuses any path that is not already plain and relative
//! (`/`-separated, no empty, `.` or `..` segments, no backslash or NUL), as a
//! second line behind the server's checks.

use sqlx::Row;
use versa_core::Digest;

use crate::error::db;
use crate::{Catalog, CatalogError, Result, from_db_count, now_ms, parse_digest, to_db_count};

/// One stored artifact file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactEntry {
    /// Its path under the artifact root, e.g. `1/<run id>/artifacts/model/MLmodel`.
    pub path: String,
    /// The blob holding its bytes.
    pub digest: Digest,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// ms since the Unix epoch of the last write.
    pub created_at: i64,
}

/// Refuses a path that is not plain, relative and normalised.
pub(crate) fn check_artifact_path(path: &str) -> Result<()> {
    let bad = |why: &str| CatalogError::Invalid {
        what: "artifact path",
        value: path.escape_debug().to_string(),
        expected: format!(
            "a relative path of `/`-separated names without empty, `.` or `..` parts ({why})"
        ),
    };
    if path.is_empty() {
        return Err(bad("it is empty"));
    }
    if path.contains(['\\', '\0']) {
        return Err(bad("it holds a backslash or NUL"));
    }
    if path
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(bad(
            "it has an empty, `.` or `..` part, or starts or ends with `/`",
        ));
    }
    Ok(())
}

impl Catalog {
    /// Records that the file at `path` now holds the blob `digest`
    /// (replacing an earlier file at that path).
    ///
    /// A path whose parent is a file, or that is itself a directory (has
    /// files under it), is [`CatalogError::Invalid`]: a name is a file or a
    /// directory, never both. Invariant: the caller stored the blob first.
    pub async fn put_artifact(&self, path: &str, digest: &Digest, size_bytes: u64) -> Result<()> {
        check_artifact_path(path)?;
        let size = to_db_count("artifact size", size_bytes)?;
        dispatch!(self, ops => ops.put_artifact(path, digest, size).await)
    }

    /// The file at `path`, if one is stored.
    pub async fn artifact(&self, path: &str) -> Result<Option<ArtifactEntry>> {
        check_artifact_path(path)?;
        dispatch!(self, ops => ops.artifact(path).await)
    }

    /// Every file under the directory `directory` (all files for `""`),
    /// sorted by path.
    pub async fn artifacts_under(&self, directory: &str) -> Result<Vec<ArtifactEntry>> {
        if !directory.is_empty() {
            check_artifact_path(directory)?;
        }
        dispatch!(self, ops => ops.artifacts_under(directory).await)
    }

    /// Deletes the file at `path`, or every file under it if it is a
    /// directory; returns how many files were removed (0: nothing there).
    /// The blobs stay (other paths may share them; `gc` is for that).
    pub async fn delete_artifacts(&self, path: &str) -> Result<u64> {
        check_artifact_path(path)?;
        dispatch!(self, ops => ops.delete_artifacts(path).await)
    }
}

/// `dir/` followed by anything: the SQL text comparing a path's prefix (no
/// LIKE, whose `_` and `%` would need escaping).
const UNDER: &str = "substr(path, 1, length($1) + 1) = $1 || '/'";

for_each_backend! {
    fn entry_from_row(row: &DbRow) -> Result<ArtifactEntry> {
        let read = |column: &str| db(format!("read artifacts.{column}"));
        let digest: String = row.try_get("digest").map_err(read("digest"))?;
        Ok(ArtifactEntry {
            path: row.try_get("path").map_err(read("path"))?,
            digest: parse_digest("artifacts", "digest", &digest)?,
            size_bytes: from_db_count(
                "artifacts",
                "size_bytes",
                row.try_get("size_bytes").map_err(read("size_bytes"))?,
            )?,
            created_at: row.try_get("created_at").map_err(read("created_at"))?,
        })
    }

    impl Ops<'_> {
        pub(crate) async fn put_artifact(&self, path: &str, digest: &Digest, size: i64) -> Result<()> {
            let operation = format!("store artifact `{path}`");
            let mut tx = self.write_tx(&operation).await?;
            // Every proper prefix must not be a file.
            let mut parents = Vec::new();
            let mut end = 0;
            while let Some(offset) = path[end..].find('/') {
                end += offset;
                parents.push(path[..end].to_string());
                end += 1;
            }
            for parent in &parents {
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM artifacts WHERE path = $1")
                        .bind(parent)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db(&operation))?;
                if found.is_some() {
                    return Err(CatalogError::Invalid {
                        what: "artifact path",
                        value: path.to_string(),
                        expected: format!("a path whose parent `{parent}` is a directory, but it is a file"),
                    });
                }
            }
            let under: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT CAST(1 AS BIGINT) FROM artifacts WHERE {UNDER} LIMIT 1"
            )))
            .bind(path)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(&operation))?;
            if under.is_some() {
                return Err(CatalogError::Invalid {
                    what: "artifact path",
                    value: path.to_string(),
                    expected: "a file name, but it is a directory holding other artifacts".to_string(),
                });
            }
            sqlx::query(
                "INSERT INTO artifacts (path, digest, size_bytes, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (path) DO UPDATE SET digest = excluded.digest, \
                 size_bytes = excluded.size_bytes, created_at = excluded.created_at",
            )
            .bind(path)
            .bind(digest.to_string())
            .bind(size)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(db(&operation))?;
            tx.commit().await.map_err(db(&operation))
        }

        pub(crate) async fn artifact(&self, path: &str) -> Result<Option<ArtifactEntry>> {
            sqlx::query("SELECT path, digest, size_bytes, created_at FROM artifacts WHERE path = $1")
                .bind(path)
                .fetch_optional(self.pool())
                .await
                .map_err(db(format!("read artifact `{path}`")))?
                .as_ref()
                .map(entry_from_row)
                .transpose()
        }

        pub(crate) async fn artifacts_under(&self, directory: &str) -> Result<Vec<ArtifactEntry>> {
            let operation = format!("list artifacts under `{directory}`");
            let rows = if directory.is_empty() {
                sqlx::query("SELECT path, digest, size_bytes, created_at FROM artifacts ORDER BY path")
                    .fetch_all(self.pool())
                    .await
            } else {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT path, digest, size_bytes, created_at FROM artifacts WHERE {UNDER} \
                     ORDER BY path"
                )))
                .bind(directory)
                .fetch_all(self.pool())
                .await
            }
            .map_err(db(&operation))?;
            rows.iter().map(entry_from_row).collect()
        }

        pub(crate) async fn delete_artifacts(&self, path: &str) -> Result<u64> {
            let operation = format!("delete artifacts at `{path}`");
            let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM artifacts WHERE path = $1 OR {UNDER}"
            )))
            .bind(path)
            .execute(self.pool())
            .await
            .map_err(db(&operation))?;
            Ok(deleted.rows_affected())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_artifact_path;

    #[test]
    fn only_plain_relative_paths_pass() {
        for good in ["a", "1/abc/artifacts/model/MLmodel", "a b/c.d", "x/.hidden"] {
            assert!(check_artifact_path(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
        ] {
            assert!(check_artifact_path(bad).is_err(), "{bad:?}");
        }
    }
}
