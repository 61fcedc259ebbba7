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
//!
//! Canary and shadow (`versa deploy --canary/--shadow`, stored in the
//! catalog's `alias_routes`) are reconciled by the same refresh. [`Models::pick`]
//! chooses, for an alias with a canary at PERCENT %, the canary for request
//! `n` (a per-server counter) when `floor((n+1)·P/100) > floor(n·P/100)`: a
//! deterministic, evenly spread choice giving exactly P of every 100 requests
//! (across all routed aliases of the server together) — no randomness to seed,
//! no shared state beyond one atomic.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use versa_blobs::BlobStore;
use versa_catalog::Catalog;
use versa_core::{Alias, ModelName, VersionSelector};
use versa_pipeline::bundle::ModelBundle;

use crate::ApiError;
use crate::predlog::Role;

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
    routes: RwLock<HashMap<AliasKey, Route>>,
    canary_counter: AtomicU64,
}

/// The loaded canary and shadow of one alias.
#[derive(Clone, Default)]
struct Route {
    canary: Option<(Arc<ModelBundle>, u8)>,
    shadow: Option<Arc<ModelBundle>>,
}

/// What answers one request: the chosen version, its role, and the shadow
/// that also runs on the rows (never answering).
pub(crate) struct Pick {
    pub(crate) bundle: Arc<ModelBundle>,
    pub(crate) role: Role,
    pub(crate) shadow: Option<Arc<ModelBundle>>,
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
            routes: RwLock::new(HashMap::new()),
            canary_counter: AtomicU64::new(0),
        }
    }

    /// The catalog the server reads.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The blob store the server reads and (for MLflow artifacts) writes.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
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

    /// Like [`Models::get`], but applies the alias's canary/shadow route.
    pub(crate) async fn pick(
        &self,
        name: &ModelName,
        selector: &VersionSelector,
    ) -> Result<Pick, ApiError> {
        let primary = self.get(name, selector).await?;
        let VersionSelector::Alias(alias) = selector else {
            return Ok(Pick {
                bundle: primary,
                role: Role::Primary,
                shadow: None,
            });
        };
        let route = read(&self.routes)
            .get(&(name.to_string(), alias.to_string()))
            .cloned()
            .unwrap_or_default();
        let (bundle, role) = match route.canary {
            Some((canary, percent)) if percent > 0 => {
                let n = self.canary_counter.fetch_add(1, Ordering::Relaxed);
                let percent = u64::from(percent);
                if (n + 1) * percent / 100 > n * percent / 100 {
                    (canary, Role::Canary)
                } else {
                    (primary, Role::Primary)
                }
            }
            _ => (primary, Role::Primary),
        };
        Ok(Pick {
            bundle,
            role,
            shadow: route.shadow,
        })
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
        self.refresh_routes().await;
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

    /// Reconciles canary/shadow routes with the catalog. A routed version
    /// that fails to load leaves the previous route in place and is reported
    /// like a failed alias move.
    async fn refresh_routes(&self) {
        let current = match self.catalog.alias_routes().await {
            Ok(current) => current,
            Err(error) => {
                tracing::warn!(%error, "cannot read alias routes; keeping the current routes");
                return;
            }
        };
        let mut wanted = HashMap::new();
        for stored in current {
            let key = (stored.name.to_string(), stored.alias.to_string());
            let label = format!("{}@{} route", key.0, key.1);
            let canary = match stored.canary {
                Some((version, percent)) => match self.version(&stored.name, version).await {
                    Ok(bundle) => Some((bundle, percent)),
                    Err(error) => {
                        self.route_failed(&key, &label, version, &error);
                        continue;
                    }
                },
                None => None,
            };
            let shadow = match stored.shadow {
                Some(version) => match self.version(&stored.name, version).await {
                    Ok(bundle) => Some(bundle),
                    Err(error) => {
                        self.route_failed(&key, &label, version, &error);
                        continue;
                    }
                },
                None => None,
            };
            lock(&self.failures).remove(&label);
            wanted.insert(key, Route { canary, shadow });
        }
        let mut routes = write(&self.routes);
        // Keep the served route of keys whose new route failed to load.
        let failures = lock(&self.failures);
        routes.retain(|key, _| {
            wanted.contains_key(key) || failures.contains_key(&format!("{}@{} route", key.0, key.1))
        });
        for (key, route) in wanted {
            routes.insert(key, route);
        }
    }

    fn route_failed(&self, key: &AliasKey, label: &str, version: u32, error: &ApiError) {
        tracing::error!(model = %key.0, alias = %key.1, version, error = ?error, "routed version failed to load; the previous route stays");
        lock(&self.failures).insert(label.to_string(), format!("{error:?}"));
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
