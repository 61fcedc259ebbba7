//! Which model versions this server answers with, and hot swap.
//!
//! Versions are immutable, so a loaded version is cached by `(name, number)`
//! forever. Aliases move: the server keeps an alias table (`name@alias` →
//! loaded version) that [`Models::refresh`] reconciles with the catalog.
//! `serve` runs `refresh` every [`REFRESH_INTERVAL`], so an alias moved by
//! the CLI, the API or another process is served within a second.
//!
//! Guarantees:
//! - a request takes an `Arc` of one version at its start and finishes on
//!   it, whatever moves meanwhile;
//! - the table entry is swapped only after the new version has loaded and
//!   passed its checks; if it fails to load, the old version keeps serving and
//!   the failure is reported (`GET /v1/models`, logs) until it is fixed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use versa_blobs::BlobStore;
use versa_catalog::Catalog;
use versa_core::{Alias, ModelName, VersionSelector};
use versa_pipeline::bundle::ModelBundle;

use crate::ApiError;

/// How often the alias table is reconciled with the catalog.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(250);

type AliasKey = (String, String);

/// Loaded versions and the alias table.
pub struct Models {
    catalog: Catalog,
    blobs: BlobStore,
    versions: Mutex<HashMap<(String, u32), Arc<ModelBundle>>>,
    aliases: RwLock<HashMap<AliasKey, Arc<ModelBundle>>>,
    failures: Mutex<BTreeMap<String, String>>,
}

/// One alias as `GET /v1/models` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ServedAlias {
    /// Model name.
    pub model: String,
    /// Alias.
    pub alias: String,
    /// The version answering for it now.
    pub version: u32,
    /// That version's manifest digest.
    pub digest: String,
}

impl Models {
    pub(crate) fn new(catalog: Catalog, blobs: BlobStore) -> Models {
        Models {
            catalog,
            blobs,
            versions: Mutex::new(HashMap::new()),
            aliases: RwLock::new(HashMap::new()),
            failures: Mutex::new(BTreeMap::new()),
        }
    }

    /// The catalog the server reads.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The version that answers for `name` and `selector` now, loading it if needed.
    pub async fn get(
        &self,
        name: &ModelName,
        selector: &VersionSelector,
    ) -> Result<Arc<ModelBundle>, ApiError> {
        match selector {
            VersionSelector::Version(number) => self.version(name, *number).await,
            VersionSelector::Alias(alias) => {
                let key = (name.to_string(), alias.to_string());
                if let Some(bundle) = read(&self.aliases).get(&key) {
                    return Ok(bundle.clone());
                }
                // First request for this alias: resolve it now rather than
                // waiting for the next refresh.
                let version = self
                    .catalog
                    .resolve(name, selector)
                    .await
                    .map_err(ApiError::from_catalog)?
                    .version;
                let bundle = self.version(name, version).await?;
                write(&self.aliases).insert(key, bundle.clone());
                Ok(bundle)
            }
        }
    }

    async fn version(&self, name: &ModelName, number: u32) -> Result<Arc<ModelBundle>, ApiError> {
        let key = (name.to_string(), number);
        if let Some(bundle) = lock(&self.versions).get(&key) {
            return Ok(bundle.clone());
        }
        let loaded = ModelBundle::load(
            &self.catalog,
            &self.blobs,
            name,
            &VersionSelector::Version(number),
        )
        .await
        .map_err(ApiError::from_pipeline)?;
        tracing::info!(model = %name, version = number, "loaded model version");
        let loaded = Arc::new(loaded);
        Ok(lock(&self.versions)
            .entry(key)
            .or_insert_with(|| loaded.clone())
            .clone())
    }

    /// Loads every aliased version (`only`, if given, limits which models).
    pub async fn preload(&self, only: &[(ModelName, Alias)]) -> Result<(), ApiError> {
        for (name, alias) in only {
            self.get(name, &VersionSelector::Alias(alias.clone()))
                .await?;
        }
        self.refresh().await;
        Ok(())
    }

    /// Reconciles the alias table with the catalog: moves served aliases to
    /// their new versions once those load, drops deleted aliases, and records
    /// versions that fail to load (the old one keeps serving).
    pub async fn refresh(&self) {
        let current = match self.catalog.aliases().await {
            Ok(current) => current,
            Err(error) => {
                tracing::warn!(%error, "cannot read aliases; keeping the current table");
                return;
            }
        };
        let wanted: HashMap<AliasKey, (ModelName, u32)> = current
            .into_iter()
            .map(|(name, alias, version)| ((name.to_string(), alias.to_string()), (name, version)))
            .collect();
        let served: Vec<(AliasKey, u32)> = read(&self.aliases)
            .iter()
            .map(|(key, bundle)| (key.clone(), bundle.version))
            .collect();
        for (key, version) in served {
            match wanted.get(&key) {
                None => {
                    write(&self.aliases).remove(&key);
                    tracing::info!(model = %key.0, alias = %key.1, "alias deleted; no longer served");
                }
                Some((name, target)) if *target != version => {
                    let label = format!("{}@{} → v{target}", key.0, key.1);
                    match self.version(name, *target).await {
                        Ok(bundle) => {
                            write(&self.aliases).insert(key.clone(), bundle);
                            lock(&self.failures).remove(&label);
                            tracing::info!(model = %key.0, alias = %key.1, from = version, to = *target, "alias moved; now serving the new version");
                        }
                        Err(error) => {
                            tracing::error!(model = %key.0, alias = %key.1, version = *target, error = ?error, "new version failed to load; the old one keeps serving");
                            lock(&self.failures).insert(label, format!("{error:?}"));
                        }
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// What each served alias answers with now.
    pub fn served(&self) -> Vec<ServedAlias> {
        let mut out: Vec<ServedAlias> = read(&self.aliases)
            .iter()
            .map(|((model, alias), bundle)| ServedAlias {
                model: model.clone(),
                alias: alias.clone(),
                version: bundle.version,
                digest: bundle.manifest_digest.to_string(),
            })
            .collect();
        out.sort_by(|a, b| (&a.model, &a.alias).cmp(&(&b.model, &b.alias)));
        out
    }

    /// Alias moves that could not be applied, with the reason.
    pub fn failures(&self) -> BTreeMap<String, String> {
        lock(&self.failures).clone()
    }
}

// The locks guard plain maps and are never held across an await; a poisoned
// lock only means another request panicked mid-update of a map whose values
// are complete Arcs, so the data is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
