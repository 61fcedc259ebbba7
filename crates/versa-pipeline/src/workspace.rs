//! A versa workspace: a directory holding `.versa/` with the catalog database
//! and the blob directory, found by walking up from the current directory
//! like `.git`.

use std::path::{Path, PathBuf};

use versa_blobs::BlobStore;
use versa_catalog::Catalog;

use crate::PipelineError;

/// The name of the directory that marks a workspace.
pub const MARKER_DIR: &str = ".versa";
const CATALOG_FILE: &str = "catalog.db";
const BLOB_DIR: &str = "blobs";
const CONFIG_FILE: &str = "config.toml";

/// An open workspace: its root, catalog and blob store.
pub struct Workspace {
    root: PathBuf,
    /// Metadata: datasets, runs, models, versions, aliases.
    pub catalog: Catalog,
    /// Content-addressed bytes: data, transforms, weights, manifests.
    pub blobs: BlobStore,
}

impl Workspace {
    /// Finds the nearest directory at or above `start` that holds `.versa/`.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .find(|dir| dir.join(MARKER_DIR).is_dir())
            .map(Path::to_path_buf)
    }

    /// Whether `dir` is a workspace root.
    pub fn is_workspace(dir: &Path) -> bool {
        dir.join(MARKER_DIR).is_dir()
    }

    /// Creates (or reopens) a workspace rooted at `root`.
    pub async fn init(root: &Path) -> Result<Workspace, PipelineError> {
        let marker = root.join(MARKER_DIR);
        std::fs::create_dir_all(&marker).map_err(|source| {
            PipelineError::Workspace(format!("cannot create `{}`: {source}", marker.display()))
        })?;
        Self::open(root).await
    }

    /// Opens the workspace rooted at `root`; fails if `root/.versa` is missing.
    pub async fn open(root: &Path) -> Result<Workspace, PipelineError> {
        Self::open_with_catalog(root, None).await
    }

    /// Opens the workspace with its catalog at `catalog` (a `postgres://` URL
    /// or a SQLite path) when given; else at the `catalog` key of
    /// `.versa/config.toml` when that file sets one; else the workspace's own
    /// SQLite file. Blobs always live in the workspace.
    pub async fn open_with_catalog(
        root: &Path,
        catalog: Option<&str>,
    ) -> Result<Workspace, PipelineError> {
        let marker = root.join(MARKER_DIR);
        if !marker.is_dir() {
            return Err(PipelineError::Workspace(format!(
                "`{}` is not a versa workspace (no `{MARKER_DIR}` directory); run `versa quickstart` or pass --workspace DIR",
                root.display()
            )));
        }
        let configured = match catalog {
            Some(location) => Some(location.to_string()),
            None => configured_catalog(&marker.join(CONFIG_FILE))?,
        };
        let catalog = match configured {
            Some(location) => Catalog::open(&location).await?,
            None => Catalog::open_sqlite(&marker.join(CATALOG_FILE)).await?,
        };
        let blobs = BlobStore::open_local(&marker.join(BLOB_DIR))?;
        Ok(Workspace {
            root: root.to_path_buf(),
            catalog,
            blobs,
        })
    }

    /// The workspace's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The `catalog = "…"` setting of a workspace's `config.toml`, if any.
fn configured_catalog(path: &Path) -> Result<Option<String>, PipelineError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PipelineError::ReadFile {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        catalog: Option<String>,
    }
    let config: Config = toml::from_str(&text).map_err(|e| {
        PipelineError::Workspace(format!(
            "`{}` is not a valid workspace config: {e}; the accepted key is `catalog = \"postgres://…\"`",
            path.display()
        ))
    })?;
    Ok(config.catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_the_catalog_or_says_what_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        assert_eq!(configured_catalog(&path).unwrap(), None);
        std::fs::write(&path, "catalog = \"postgres://localhost/versa\"\n").unwrap();
        assert_eq!(
            configured_catalog(&path).unwrap().as_deref(),
            Some("postgres://localhost/versa")
        );
        std::fs::write(&path, "catalgo = \"x\"\n").unwrap();
        let err = configured_catalog(&path).unwrap_err().to_string();
        assert!(err.contains("accepted key is `catalog"), "{err}");
    }
}
