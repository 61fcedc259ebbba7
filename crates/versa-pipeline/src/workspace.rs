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
        let marker = root.join(MARKER_DIR);
        if !marker.is_dir() {
            return Err(PipelineError::Workspace(format!(
                "`{}` is not a versa workspace (no `{MARKER_DIR}` directory); run `versa quickstart` or pass --workspace DIR",
                root.display()
            )));
        }
        let catalog = Catalog::open_sqlite(&marker.join(CATALOG_FILE)).await?;
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
