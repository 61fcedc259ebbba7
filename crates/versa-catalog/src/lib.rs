//! versa's catalog: the metadata store for datasets, fitted transforms,
//! experiments, runs, metrics, registered models, versions, aliases and
//! lineage.
//!
//! The data model is a superset of MLflow's tracking and model-registry model
//! so MLflow's REST API can later be served from it. Bytes never live here:
//! rows name blobs by [`Digest`](versa_core::Digest), and the caller stores the
//! blobs (in `versa-blobs`) before registering the rows that name them.
//!
//! SQLite is the only backend today; PostgreSQL comes next, so the backend
//! sits behind one type ([`Catalog`]), queries use portable SQL (no SQLite-only
//! functions; `ON CONFLICT`, `LIMIT`, `CAST` only) and every multi-statement
//! write runs in one transaction.
//!
//! This crate must not know about blob storage, file formats, training or HTTP.

mod datasets;
mod error;
mod registry;
mod tracking;
mod types;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{SqlSafeStr, Sqlite, Transaction};
use versa_core::Digest;

pub use error::{AliasExpectation, CatalogError};
pub use types::{
    AliasChange, AliasEvent, DatasetVersion, Experiment, LifecycleStage, Lineage, MetricPoint,
    ModelVersion, ModelVersionStatus, NewDatasetVersion, NewModelVersion, NewRun,
    RegisteredModelSummary, Registration, Run, RunDetail, RunStatus, TransformRow,
};

use error::db;

/// Result of catalog operations.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// How long a writer waits for another writer's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The catalog. Cheap to clone (clones share the connection pool).
#[derive(Debug, Clone)]
pub struct Catalog {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
}

/// The schema migrations for SQLite, embedded so the binary carries its schema.
fn sqlite_migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        include_str!("../migrations/sqlite/0001_init.sql").into_sql_str(),
        false,
    )])
}

impl Catalog {
    /// Opens (creating if missing) a SQLite catalog file and brings its schema up to date.
    ///
    /// The file uses WAL journaling (readers never block the writer), foreign
    /// keys are enforced and a writer waits up to 5 s for another writer.
    /// Safe to call from many processes at once on the same file: migrations
    /// run inside one `BEGIN IMMEDIATE` transaction, so exactly one opener
    /// applies them and the others see them applied.
    pub async fn open_sqlite(path: &Path) -> Result<Catalog> {
        let location = path.display().to_string();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db(format!("open catalog at `{location}`")))?;
        enable_wal(&pool, &location).await?;

        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db(format!("lock catalog at `{location}` for migration")))?;
        // `run_direct` on the connection rather than `run` (generic over
        // `Acquire`): the latter makes this future not `Send` for spawned tasks.
        sqlite_migrator()
            .run_direct(None, &mut *tx, false)
            .await
            .map_err(|source| CatalogError::Migrate {
                location: location.clone(),
                source,
            })?;
        tx.commit()
            .await
            .map_err(db(format!("commit migrations of catalog at `{location}`")))?;
        Ok(Catalog {
            backend: Backend::Sqlite(pool),
        })
    }

    /// Closes the connections (waits for in-flight queries).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
        }
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        match &self.backend {
            Backend::Sqlite(pool) => pool,
        }
    }

    /// Starts a write transaction that holds the write lock from its first
    /// statement, so read-then-write sequences (allocate max+1, compare and
    /// swap) cannot interleave with another writer.
    pub(crate) async fn write_tx(&self, operation: &str) -> Result<Transaction<'static, Sqlite>> {
        match &self.backend {
            Backend::Sqlite(pool) => pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(db(format!("start transaction to {operation}"))),
        }
    }
}

/// Switches the file to WAL journaling if it is not already.
///
/// Done here rather than as a connect option because entering WAL needs an
/// exclusive lock that SQLite's busy timeout does not wait for; when many
/// processes create the file at once, all but one would fail. WAL is a
/// property of the file, so once set every later connection uses it.
async fn enable_wal(pool: &SqlitePool, location: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        let attempt: std::result::Result<String, sqlx::Error> =
            sqlx::query_scalar("PRAGMA journal_mode = WAL")
                .fetch_one(pool)
                .await;
        match attempt {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(CatalogError::Invalid {
                    what: "catalog location",
                    value: location.to_string(),
                    expected: format!(
                        "a file on a filesystem that supports SQLite's WAL mode (journal mode stayed `{mode}`)"
                    ),
                });
            }
            Err(error) if is_busy(&error) && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => {
                return Err(db(format!("enable WAL journaling on `{location}`"))(error));
            }
        }
    }
}

fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        // SQLITE_BUSY is 5; extended codes keep it in the low byte.
        sqlx::Error::Database(database) => database
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 5),
        _ => false,
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

/// SQLite turns NaN into NULL, so NaN is stored as 0 plus a flag (MLflow does the same).
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
