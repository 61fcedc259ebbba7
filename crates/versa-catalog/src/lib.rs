//! versa's catalog: the metadata store for datasets, fitted transforms,
//! experiments, runs, metrics, registered models, versions, aliases and
//! lineage.
//!
//! The data model is a superset of MLflow's tracking and model-registry model
//! so MLflow's REST API can later be served from it. Bytes never live here:
//! rows name blobs by [`Digest`](versa_core::Digest), and the caller stores the
//! blobs (in `versa-blobs`) before registering the rows that name them.
//!
//! Two backends sit behind one type ([`Catalog`]): SQLite (one file, WAL) for
//! a workspace on one machine, and PostgreSQL for a catalog shared by many
//! machines. The queries are written once, in portable SQL with `$1`-style
//! parameters (both sqlx drivers accept them), and compiled once per database
//! by `for_each_backend!`: the operation modules (`datasets`, `tracking`,
//! `registry`) hold that backend-agnostic core, while `sqlite` and `postgres`
//! hold what genuinely differs — connecting, migrations, and how a write
//! transaction excludes concurrent writers. Every multi-statement write runs in
//! one transaction.
//!
//! This crate must not know about blob storage, file formats, training or HTTP.

/// Compiles the enclosed items once per database, in modules `on_sqlite` and
/// `on_postgres`, each seeing that database's `Ops`, `Db` and `DbRow`.
///
/// The operations are `impl Ops<'_>` blocks written against those names, so
/// each is type-checked against the concrete driver (sqlx's strict typing of
/// PostgreSQL included) without generic bounds over `sqlx::Database`.
macro_rules! for_each_backend {
    ($($item:item)*) => {
        mod on_sqlite {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::sqlite::{Db, DbRow, JSON_METRIC_HEADS, JSON_PAIRS, Ops};
            $($item)*
        }
        mod on_postgres {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::postgres::{Db, DbRow, JSON_METRIC_HEADS, JSON_PAIRS, Ops};
            $($item)*
        }
    };
}

/// Runs one operation on whichever backend the catalog has.
macro_rules! dispatch {
    ($catalog:expr, $ops:ident => $call:expr) => {
        match &$catalog.backend {
            $crate::Backend::Sqlite(pool) => {
                let $ops = $crate::sqlite::Ops::new(pool);
                $call
            }
            $crate::Backend::Postgres(pool) => {
                let $ops = $crate::postgres::Ops::new(pool);
                $call
            }
        }
    };
}

mod artifacts;
mod datasets;
mod error;
mod experiments;
mod logged_models;
mod postgres;
mod registry;
mod run_search;
mod sqlite;
mod tracking;
mod types;

use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use versa_core::Digest;

pub use artifacts::ArtifactEntry;
pub use error::{AliasExpectation, CatalogError};
pub use experiments::{
    ArtifactRoot, ExperimentDetail, ExperimentPage, ExperimentSearch, MAX_EXPERIMENT_NAME_LENGTH,
    MAX_EXPERIMENT_TAG_KEY_LENGTH, MAX_EXPERIMENT_TAG_VALUE_LENGTH,
};
pub use logged_models::{LoggedModel, LoggedModelStatus, NewLoggedModel};
pub use registry::{
    ModelFormat, NewMlflowVersion, OtherVersionsInStage, RegisteredModel, RegistryVersion, Stage,
};
pub use run_search::{
    RunPage, RunSearch, SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_THRESHOLD, ViewType,
};
pub use tracking::{
    DatasetInput, MAX_ENTITIES_PER_BATCH, MAX_KEY_LENGTH, MAX_METRICS_PER_BATCH,
    MAX_PARAM_VALUE_LENGTH, MAX_PARAMS_TAGS_PER_BATCH, MAX_TAG_VALUE_LENGTH, MetricHistoryPage,
    NewTrackedRun, RUN_NAME_TAG, RunBatch, RunUpdate, TrackedRun,
};
pub use types::{
    AliasChange, AliasEvent, AliasRoute, DatasetVersion, Experiment, LifecycleStage, Lineage,
    LineageEdge, MetricComparison, MetricPoint, ModelVersion, ModelVersionStatus,
    NewDatasetVersion, NewModelVersion, NewRun, RegisteredModelSummary, Registration, Run,
    RunDetail, RunStatus, TransformRow,
};

/// Result of catalog operations.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The catalog. Cheap to clone (clones share the connection pool).
#[derive(Debug, Clone)]
pub struct Catalog {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Catalog {
    /// Opens a catalog by location: a `postgres://` or `postgresql://` URL
    /// opens PostgreSQL ([`Catalog::open_postgres`]); anything else is a
    /// SQLite file path ([`Catalog::open_sqlite`]).
    pub async fn open(location: &str) -> Result<Catalog> {
        if postgres::is_url(location) {
            Catalog::open_postgres(location).await
        } else {
            Catalog::open_sqlite(Path::new(location)).await
        }
    }

    /// Opens (creating if missing) a SQLite catalog file and brings its schema up to date.
    ///
    /// The file uses WAL journaling (readers never block the writer), foreign
    /// keys are enforced and a writer waits up to 5 s for another writer.
    /// Safe to call from many processes at once on the same file: migrations
    /// run inside one `BEGIN IMMEDIATE` transaction, so exactly one opener
    /// applies them and the others see them applied.
    pub async fn open_sqlite(path: &Path) -> Result<Catalog> {
        Ok(Catalog {
            backend: Backend::Sqlite(sqlite::open(path).await?),
        })
    }

    /// Connects to a PostgreSQL catalog (`postgres://user@host:port/database`)
    /// and brings its schema up to date.
    ///
    /// The database must exist; its tables are created on first open. Safe to
    /// call from many processes at once: migrations run under a PostgreSQL
    /// advisory lock, so exactly one opener applies them. TLS is not
    /// supported (use a loopback address, a private network or a unix socket).
    pub async fn open_postgres(url: &str) -> Result<Catalog> {
        Ok(Catalog {
            backend: Backend::Postgres(postgres::open(url).await?),
        })
    }

    /// Which database this catalog is stored in: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes the connections (waits for in-flight queries).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// Milliseconds since the Unix epoch, the catalog's time unit.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unsigned counts are stored as BIGINT (PostgreSQL has no unsigned types).
pub(crate) fn to_db_count(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| CatalogError::Invalid {
        what,
        value: value.to_string(),
        expected: format!("at most {}", i64::MAX),
    })
}

pub(crate) fn from_db_count(table: &'static str, column: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| CatalogError::Corrupt {
        table,
        column,
        value: value.to_string(),
        expected: "a count of zero or more",
    })
}

pub(crate) fn from_db_version(
    table: &'static str,
    column: &'static str,
    value: i64,
) -> Result<u32> {
    u32::try_from(value)
        .ok()
        .filter(|version| *version >= 1)
        .ok_or_else(|| CatalogError::Corrupt {
            table,
            column,
            value: value.to_string(),
            expected: "a version number from 1 to 4294967295",
        })
}

pub(crate) fn parse_stored<T: FromStr>(
    table: &'static str,
    column: &'static str,
    expected: &'static str,
    text: &str,
) -> Result<T> {
    text.parse().map_err(|_| CatalogError::Corrupt {
        table,
        column,
        value: text.to_string(),
        expected,
    })
}

pub(crate) fn parse_digest(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<Digest> {
    parse_stored(table, column, "a `b3:` digest", text)
}

/// SQLite turns NaN into NULL, so NaN is stored as 0 plus a flag (MLflow does
/// the same). PostgreSQL could store NaN natively, but it uses the same flag so
/// both schemas hold the same rows and a NaN never compares as a number in
/// metric searches (PostgreSQL sorts NaN above every number).
pub(crate) fn encode_metric(value: f64) -> (f64, bool) {
    if value.is_nan() {
        (0.0, true)
    } else {
        (value, false)
    }
}

pub(crate) fn decode_metric(value: f64, is_nan: bool) -> f64 {
    if is_nan { f64::NAN } else { value }
}

/// "1, 2, 3" or "none" for hints.
pub(crate) fn list_or_none<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
