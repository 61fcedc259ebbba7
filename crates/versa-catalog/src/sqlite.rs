//! The SQLite side of the catalog: opening a file (WAL, foreign keys, busy
//! timeout), its migrations, and how a write excludes other writers.
//!
//! Concurrency: every write transaction starts with `BEGIN IMMEDIATE`, which
//! takes SQLite's single database write lock before the first statement. Any
//! read-then-write inside it (allocate `MAX(version) + 1`, compare the alias
//! and swap) therefore runs alone among writers — in this process and in every
//! other process using the file — so the row locks PostgreSQL needs are no-ops
//! here. Readers are never blocked (WAL) and see only committed transactions.
//!
//! Crash safety is SQLite's: a process killed mid-transaction leaves the
//! transaction in the WAL uncommitted, and the next opener rolls it back.
//!
//! Must not know any operation's SQL; that lives in the operation modules.
//! It holds only the dialect fragments they share (`JSON_PAIRS`…).

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{SqlSafeStr, Transaction};
use versa_core::{ModelName, RunId};

use crate::error::db;
use crate::{CatalogError, Result};

/// The database, for the backend-agnostic operation modules.
pub(crate) type Db = sqlx::Sqlite;
/// A result row, for the backend-agnostic operation modules.
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;

/// How long a writer waits for another writer's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Aggregates a run's `key, value` rows into one JSON text of `[key, value]` pairs.
pub(crate) const JSON_PAIRS: &str = "json_group_array(json_array(key, value) ORDER BY key)";

/// Aggregates a run's latest metrics, less their values, into one JSON text
/// of `[key, timestamp, step, is_nan]`, ordered by key.
pub(crate) const JSON_METRIC_HEADS: &str =
    "json_group_array(json_array(key, timestamp, step, is_nan) ORDER BY key)";

/// The operations' view of a SQLite catalog.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ops<'a> {
    pool: &'a SqlitePool,
}

impl<'a> Ops<'a> {
    pub(crate) fn new(pool: &'a SqlitePool) -> Ops<'a> {
        Ops { pool }
    }

    pub(crate) fn pool(&self) -> &'a SqlitePool {
        self.pool
    }

    /// Starts a read-only transaction whose statements all see one snapshot
    /// (a deferred transaction: its first read fixes the snapshot (WAL)).
    pub(crate) async fn read_tx(&self, operation: &str) -> Result<Transaction<'static, Db>> {
        self.pool
            .begin_with("BEGIN")
            .await
            .map_err(db(format!("start transaction to {operation}")))
    }

    /// Starts a write transaction that holds the database write lock from its
    /// first statement (see the module doc).
    pub(crate) async fn write_tx(&self, operation: &str) -> Result<Transaction<'static, Db>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db(format!("start transaction to {operation}")))
    }

    /// Serialises writers of one model. `BEGIN IMMEDIATE` already did.
    pub(crate) async fn lock_model(
        &self,
        _tx: &mut Transaction<'static, Db>,
        _name: &ModelName,
        _operation: &str,
    ) -> Result<()> {
        Ok(())
    }

    /// Serialises writers of one run. `BEGIN IMMEDIATE` already did.
    pub(crate) async fn lock_run(
        &self,
        _tx: &mut Transaction<'static, Db>,
        _run_id: &RunId,
        _operation: &str,
    ) -> Result<()> {
        Ok(())
    }

    /// Serialises writers of one name in a namespace (datasets by name, the
    /// experiment id sequence). `BEGIN IMMEDIATE` already did.
    pub(crate) async fn lock_name(
        &self,
        _tx: &mut Transaction<'static, Db>,
        _namespace: &str,
        _name: &str,
        _operation: &str,
    ) -> Result<()> {
        Ok(())
    }
}

/// The schema migrations for SQLite, embedded so the binary carries its schema.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../migrations/sqlite/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "deployments".into(),
            MigrationType::Simple,
            include_str!("../migrations/sqlite/0002_deployments.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "mlflow tracking".into(),
            MigrationType::Simple,
            include_str!("../migrations/sqlite/0003_mlflow_tracking.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "mlflow_registry".into(),
            MigrationType::Simple,
            include_str!("../migrations/sqlite/0004_mlflow_registry.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            5,
            "clustered run data".into(),
            MigrationType::Simple,
            include_str!("../migrations/sqlite/0005_clustered_run_data.sql").into_sql_str(),
            false,
        ),
    ])
}

/// Rows a connection's thread may queue before the reading task takes them.
const ROW_BUFFER_ROWS: usize = 4096;

pub(crate) async fn open(path: &Path) -> Result<SqlitePool> {
    let location = path.display().to_string();
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        // sqlx runs each SQLite connection on its own thread and hands rows
        // over a channel; with its default of 50 rows, reading a page of runs
        // (thousands of params and metrics) stalled on that hand-off.
        .row_buffer_size(ROW_BUFFER_ROWS);
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
    migrator()
        .run_direct(None, &mut *tx, false)
        .await
        .map_err(|source| CatalogError::Migrate {
            location: location.clone(),
            source,
        })?;
    tx.commit()
        .await
        .map_err(db(format!("commit migrations of catalog at `{location}`")))?;
    Ok(pool)
}

/// Switches the file to WAL journaling if it is not already.
///
/// Done here rather than as a connect option because entering WAL needs an
/// exclusive lock that SQLite's busy timeout does not wait for; when many
/// processes create the file at once, all but one would fail. WAL is a
/// property of the file, so once set every later connection uses it.
async fn enable_wal(pool: &SqlitePool, location: &str) -> Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
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
            Err(error) if is_busy(&error) && Instant::now() < deadline => {
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

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;

    /// A catalog written at schema version 4 (rowid tables) keeps every
    /// param, tag and metric row when 0005 rebuilds them WITHOUT ROWID, and
    /// the rebuilt tables still cascade a run's deletion.
    #[tokio::test]
    async fn migration_5_keeps_run_data_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        let mut up_to_4 = migrator();
        up_to_4.migrations = up_to_4
            .migrations
            .iter()
            .filter(|m| m.version <= 4)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        up_to_4.run(&pool).await.unwrap();
        for statement in [
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
             creation_time, last_update_time) VALUES ('7', 'e', 'x', 'active', 1, 1)",
            "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, artifact_uri, \
             user_id, host, versa_version) VALUES ('r1', '7', 'one', 'FINISHED', 1, 'a', 'u', 'h', 'v'), \
             ('r2', '7', 'two', 'FINISHED', 2, 'a', 'u', 'h', 'v')",
            "INSERT INTO params VALUES ('r1', 'lr', '0.1'), ('r2', 'lr', '0.2')",
            "INSERT INTO run_tags VALUES ('r1', 'team', 'ml')",
            "INSERT INTO metrics VALUES ('r1', 'loss', 0.5, 10, 0, 0), ('r1', 'loss', 0.25, 11, 1, 0), \
             ('r2', 'loss', 0, 12, 0, 1)",
            "INSERT INTO latest_metrics VALUES ('r1', 'loss', 0.25, 11, 1, 0), ('r2', 'loss', 0, 12, 0, 1)",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let pool = open(&path).await.unwrap();
        let count = |table: &'static str| {
            let pool = pool.clone();
            async move {
                // Table names are this test's constants.
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .get::<i64, _>(0)
            }
        };
        assert_eq!(count("params").await, 2);
        assert_eq!(count("run_tags").await, 1);
        assert_eq!(count("metrics").await, 3);
        assert_eq!(count("latest_metrics").await, 2);
        let sql: String = sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'latest_metrics'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(sql.contains("WITHOUT ROWID"), "{sql}");
        let latest: (f64, i64, i64, bool) = sqlx::query_as(
            "SELECT value, timestamp, step, is_nan FROM latest_metrics WHERE run_id = 'r1'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(latest, (0.25, 11, 1, false));

        sqlx::query("DELETE FROM runs WHERE run_id = 'r1'")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(count("params").await, 1);
        assert_eq!(count("run_tags").await, 0);
        assert_eq!(count("metrics").await, 1);
        assert_eq!(count("latest_metrics").await, 1);
    }
}
