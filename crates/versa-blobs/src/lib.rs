//! Content-addressed blob store: every immutable thing versa keeps (source
//! files, manifests, weights, fitted transforms) is stored once, under its
//! blake3 [`Digest`].
//!
//! The store sits on `object_store`, so the local directory backend used now
//! and an S3-compatible backend later share one code path for writing, reading
//! and listing. Blobs live at `<2 hex>/<62 hex>` below the store's root.
//!
//! Guarantees:
//! - a blob is visible under its final name only once it is complete and, for
//!   the local backend, durable (file and directory fsynced);
//! - every read re-hashes the bytes, so silent corruption on disk surfaces as
//!   [`BlobError::Corrupt`] instead of as wrong numbers downstream.
//!
//! This crate knows digests and bytes only. It must not know what a blob
//! means (datasets, manifests, models) nor anything about the catalog.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;
use versa_core::Digest;

/// Something that went wrong reading or writing blobs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// No blob with this digest is stored.
    #[error("blob {digest} not found (looked at {location})")]
    NotFound {
        /// The digest that was asked for.
        digest: Digest,
        /// Where the blob would have been.
        location: String,
    },
    /// The stored bytes do not hash to the digest they are stored under.
    #[error(
        "blob {digest} at {location} is corrupt: its bytes hash to {actual}; \
         restore the file from a backup or re-create it (e.g. re-ingest the data)"
    )]
    Corrupt {
        /// The digest the blob is stored under.
        digest: Digest,
        /// The digest of the bytes actually found.
        actual: Digest,
        /// Where the corrupt blob is.
        location: String,
    },
    /// A local filesystem operation failed outside `object_store` (creating the store's directory).
    #[error("could not {operation} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The object store backend failed.
    #[error("could not {operation} {location}: {source}")]
    Store {
        /// What was being done (`write blob`, `read blob`, ...).
        operation: &'static str,
        /// The blob location or store involved.
        location: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },
    /// A value could not be encoded as JSON before storing it.
    #[error("could not encode value as JSON: {source}")]
    EncodeJson {
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored blob is not the JSON document the caller expected.
    #[error("blob {digest} at {location} is not the expected JSON document: {source}")]
    DecodeJson {
        /// The blob that was read.
        digest: Digest,
        /// Where it is.
        location: String,
        /// The underlying error, with line and column.
        #[source]
        source: serde_json::Error,
    },
}

/// Which kind of backend a store is, for error messages and local-only durability steps.
#[derive(Clone)]
enum Backend {
    /// A directory on the local filesystem (canonicalised root).
    Local { root: PathBuf },
    /// Any other `object_store` implementation, described for humans.
    Other { description: String },
}

/// Bytes with their digest, computed from them when made (the only way to
/// make one): a blob ready to be stored under its content address, hashed
/// wherever it is convenient, e.g. on another thread while the bytes are
/// still being checked, so that [`BlobStore::put_hashed`] need not hash them.
#[derive(Debug, Clone)]
pub struct HashedBytes {
    bytes: Bytes,
    digest: Digest,
}

impl HashedBytes {
    /// Hashes the bytes.
    pub fn new(bytes: Bytes) -> HashedBytes {
        let digest = Digest::of(&bytes);
        HashedBytes { bytes, digest }
    }

    /// The bytes' digest.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

/// A content-addressed blob store. Cheap to clone; clones share the backend.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Local { root } => write!(f, "BlobStore(local {})", root.display()),
            Backend::Other { description } => write!(f, "BlobStore({description})"),
        }
    }
}

impl BlobStore {
    /// Opens (creating it if needed) a blob store in a local directory.
    ///
    /// Writes go through `object_store`'s local backend with fsync enabled:
    /// each blob is written to a staging file `<final>#<n>` in the same
    /// directory, fsynced, hard-linked to its final name (which fails if the
    /// name exists, so a stored blob is never rewritten) and the directory is
    /// fsynced. A crash therefore leaves at most an orphaned staging file,
    /// which `object_store` never lists or reads as a blob.
    pub fn open_local(dir: &Path) -> Result<BlobStore, BlobError> {
        std::fs::create_dir_all(dir).map_err(|source| BlobError::Io {
            operation: "create blob store directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let root = std::fs::canonicalize(dir).map_err(|source| BlobError::Io {
            operation: "resolve blob store directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|source| BlobError::Store {
                operation: "open blob store",
                location: root.display().to_string(),
                source,
            })?
            .with_fsync(true);
        Ok(BlobStore {
            store: Arc::new(store),
            backend: Backend::Local { root },
        })
    }

    /// Wraps any `object_store` backend (e.g. S3-compatible, or in-memory in tests).
    ///
    /// `description` names the store in error messages, e.g. `s3://bucket/prefix`.
    /// The backend must support `PutMode::Create` (conditional put) so that
    /// concurrent writers of the same blob never clobber each other.
    pub fn from_object_store(store: Arc<dyn ObjectStore>, description: &str) -> BlobStore {
        BlobStore {
            store,
            backend: Backend::Other {
                description: description.to_string(),
            },
        }
    }

    /// Stores bytes and returns their digest.
    ///
    /// Idempotent: if a blob with this digest already exists, nothing is written.
    pub async fn put(&self, bytes: Bytes) -> Result<Digest, BlobError> {
        self.put_hashed(HashedBytes::new(bytes)).await
    }

    /// [`BlobStore::put`] for bytes already hashed.
    pub async fn put_hashed(&self, blob: HashedBytes) -> Result<Digest, BlobError> {
        let HashedBytes { bytes, digest } = blob;
        let location = object_path(&digest);
        if self.exists(&digest, &location).await? {
            return Ok(digest);
        }
        let options = PutOptions::from(PutMode::Create);
        match self
            .store
            .put_opts(&location, PutPayload::from_bytes(bytes), options)
            .await
        {
            Ok(_) => {
                tracing::debug!(%digest, location = %self.location(&digest), "stored blob");
                Ok(digest)
            }
            // Another writer published the same content first: same digest, same bytes.
            Err(object_store::Error::AlreadyExists { .. }) => Ok(digest),
            Err(source) => Err(BlobError::Store {
                operation: "write blob",
                location: self.location(&digest),
                source,
            }),
        }
    }

    /// Reads a blob and checks that its bytes hash to `digest`.
    pub async fn get(&self, digest: &Digest) -> Result<Bytes, BlobError> {
        let location = object_path(digest);
        let read_error = |source: object_store::Error| match source {
            object_store::Error::NotFound { .. } => BlobError::NotFound {
                digest: *digest,
                location: self.location(digest),
            },
            source => BlobError::Store {
                operation: "read blob",
                location: self.location(digest),
                source,
            },
        };
        let result = self.store.get(&location).await.map_err(read_error)?;
        let bytes = result.bytes().await.map_err(read_error)?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(BlobError::Corrupt {
                digest: *digest,
                actual,
                location: self.location(digest),
            });
        }
        Ok(bytes)
    }

    /// Whether a blob with this digest is stored (without reading or verifying it).
    pub async fn contains(&self, digest: &Digest) -> Result<bool, BlobError> {
        self.exists(digest, &object_path(digest)).await
    }

    /// Every stored blob's digest, sorted. Files that are not blobs (staging
    /// files, stray names) are skipped.
    pub async fn list(&self) -> Result<Vec<Digest>, BlobError> {
        let metas: Vec<_> = self
            .store
            .list(None)
            .try_collect()
            .await
            .map_err(|source| BlobError::Store {
                operation: "list blobs in",
                location: self.describe_store(),
                source,
            })?;
        let mut digests: Vec<Digest> = metas
            .iter()
            .filter_map(|meta| {
                let mut parts = meta.location.parts();
                let head = parts.next()?;
                let tail = parts.next()?;
                if parts.next().is_some() || head.as_ref().len() != 2 {
                    return None;
                }
                Digest::parse(&format!("{}{}", head.as_ref(), tail.as_ref())).ok()
            })
            .collect();
        digests.sort();
        Ok(digests)
    }

    /// Serialises a value as pretty JSON and stores it.
    pub async fn put_json<T: Serialize>(&self, value: &T) -> Result<Digest, BlobError> {
        let bytes =
            serde_json::to_vec_pretty(value).map_err(|source| BlobError::EncodeJson { source })?;
        self.put(Bytes::from(bytes)).await
    }

    /// Reads a blob (verified) and parses it as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, digest: &Digest) -> Result<T, BlobError> {
        let bytes = self.get(digest).await?;
        serde_json::from_slice(&bytes).map_err(|source| BlobError::DecodeJson {
            digest: *digest,
            location: self.location(digest),
            source,
        })
    }

    /// Where a blob is (or would be) stored, for humans: a filesystem path for
    /// the local backend, `<store>/<object path>` otherwise.
    pub fn location(&self, digest: &Digest) -> String {
        let path = object_path(digest);
        match &self.backend {
            Backend::Local { root } => root.join(path.as_ref()).display().to_string(),
            Backend::Other { description } => format!("{description}/{path}"),
        }
    }

    fn describe_store(&self) -> String {
        match &self.backend {
            Backend::Local { root } => root.display().to_string(),
            Backend::Other { description } => description.clone(),
        }
    }

    async fn exists(&self, digest: &Digest, location: &ObjectPath) -> Result<bool, BlobError> {
        match self.store.head(location).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(BlobError::Store {
                operation: "look up blob",
                location: self.location(digest),
                source,
            }),
        }
    }
}

/// `<2 hex>/<62 hex>`: two levels keep directories small (256 fan-out) without deep trees.
fn object_path(digest: &Digest) -> ObjectPath {
    let hex = digest.to_hex();
    ObjectPath::from_iter([&hex[..2], &hex[2..]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_path_splits_after_two_hex_digits() {
        let digest = Digest::of(b"versa");
        let hex = digest.to_hex();
        let path = object_path(&digest);
        assert_eq!(path.as_ref(), format!("{}/{}", &hex[..2], &hex[2..]));
        assert_eq!(path.parts().nth(1).unwrap().as_ref().len(), 62);
    }

    #[tokio::test]
    async fn hashed_bytes_are_stored_under_their_own_digest() {
        let store =
            BlobStore::from_object_store(Arc::new(object_store::memory::InMemory::new()), "memory");
        let bytes = Bytes::from_static(b"hashed elsewhere");
        let hashed = HashedBytes::new(bytes.clone());
        assert_eq!(hashed.digest(), Digest::of(&bytes));
        let digest = store.put_hashed(hashed).await.unwrap();
        assert_eq!(digest, Digest::of(&bytes));
        assert_eq!(store.get(&digest).await.unwrap(), bytes);
        // The same content put plainly is the same blob.
        assert_eq!(store.put(bytes).await.unwrap(), digest);
        assert_eq!(store.list().await.unwrap(), vec![digest]);
    }
}
