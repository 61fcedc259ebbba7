//! The PostgreSQL side of the catalog: connecting by URL, its migrations, and
//! how a write excludes the concurrent writers that would break an invariant.
//!
//! Concurrency. Transactions run at PostgreSQL's default READ COMMITTED level,
//! where every statement sees what was committed before it started. The
//! read-then-write sequences that must not interleave first take a lock, and
//! because the statements after the lock take a fresh snapshot, they see the
//! work of whoever held the lock before:
//! - a new model version and every alias move lock the registered model's row
//!   (`SELECT … FOR NO KEY UPDATE`; creating a version upserts that row first,
//!   so the row exists and the upsert itself already holds the same lock). So
//!   `MAX(version) + 1` is allocated by one writer at a time per model, and an
//!   alias compare-and-swap reads the alias only after the previous move of
//!   any alias of that model committed — including an alias that did not
//!   exist yet, which a lock on the alias row itself could not cover;
//! - params, metrics and tags of a run lock the run's row (params are
//!   check-then-insert);
//! - a dataset version and a new experiment have no parent row to lock, so
//!   they take a transaction-scoped advisory lock on a hash of
//!   `versa:<namespace>:<name>` (a hash collision only serialises two
//!   unrelated writers, never lets two related ones through).
//!
//! `FOR NO KEY UPDATE` rather than `FOR UPDATE` because inserting a version
//! takes the `FOR KEY SHARE` lock of its foreign keys on the same rows; the
//! weaker mode does not conflict with it, so registering a version of a run
//! never waits for, or deadlocks with, a writer logging that run's metrics.
//! Row locks were chosen over SERIALIZABLE because they make the waiting
//! explicit and never fail a transaction that a retry loop would then have to
//! replay; they cost one indexed `SELECT` per write.
//!
//! Crash safety is PostgreSQL's: a client killed mid-transaction drops its
//! connection and the server rolls the transaction back.
//!
//! Must not know any operation's SQL; that lives in the operation modules.
//! It holds only the dialect fragments they share (`JSON_PAIRS`…).

use std::str::FromStr;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, SqlSafeStr, Transaction};
use versa_core::{ModelName, RunId};

use crate::error::db;
use crate::{CatalogError, Result};

/// The database, for the backend-agnostic operation modules.
pub(crate) type Db = sqlx::Postgres;
/// A result row, for the backend-agnostic operation modules.
pub(crate) type DbRow = sqlx::postgres::PgRow;

/// Aggregates a run's `key, value` rows into one JSON text of `[key, value]` pairs.
pub(crate) const JSON_PAIRS: &str = "json_agg(json_build_array(key, value) ORDER BY key)::text";

/// Aggregates a run's latest metrics, less their values, into one JSON text
/// of `[key, timestamp, step, is_nan]`, ordered by key.
pub(crate) const JSON_METRIC_HEADS: &str =
    "json_agg(json_build_array(key, timestamp, step, is_nan) ORDER BY key)::text";

/// The operations' view of a PostgreSQL catalog.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ops<'a> {
    pool: &'a PgPool,
}

impl<'a> Ops<'a> {
    pub(crate) fn new(pool: &'a PgPool) -> Ops<'a> {
        Ops { pool }
    }

    pub(crate) fn pool(&self) -> &'a PgPool {
        self.pool
    }

    /// Starts a read-only transaction whose statements all see one snapshot
    /// (REPEATABLE READ: every statement sees the snapshot of the first).
    pub(crate) async fn read_tx(&self, operation: &str) -> Result<Transaction<'static, Db>> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db(format!("start transaction to {operation}")))
    }

    /// Starts a READ COMMITTED write transaction; the operation takes the
    /// locks it needs (see the module doc).
    pub(crate) async fn write_tx(&self, operation: &str) -> Result<Transaction<'static, Db>> {
        self.pool
            .begin()
            .await
            .map_err(db(format!("start transaction to {operation}")))
    }

    /// Locks the registered model's row until the transaction ends (nothing
    /// to lock when the model does not exist; callers then fail or create it).
    pub(crate) async fn lock_model(
        &self,
        tx: &mut Transaction<'static, Db>,
        name: &ModelName,
        operation: &str,
    ) -> Result<()> {
        sqlx::query("SELECT name FROM registered_models WHERE name = $1 FOR NO KEY UPDATE")
            .bind(name.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db(operation))?;
        Ok(())
    }

    /// Locks the run's row until the transaction ends.
    pub(crate) async fn lock_run(
        &self,
        tx: &mut Transaction<'static, Db>,
        run_id: &RunId,
        operation: &str,
    ) -> Result<()> {
        sqlx::query("SELECT run_id FROM runs WHERE run_id = $1 FOR NO KEY UPDATE")
            .bind(run_id.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db(operation))?;
        Ok(())
    }

    /// Takes a transaction-scoped advisory lock on `versa:<namespace>:<name>`.
    pub(crate) async fn lock_name(
        &self,
        tx: &mut Transaction<'static, Db>,
        namespace: &str,
        name: &str,
        operation: &str,
    ) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("versa:{namespace}:{name}"))
            .execute(&mut **tx)
            .await
            .map_err(db(operation))?;
        Ok(())
    }
}

/// Whether a catalog location names a PostgreSQL server.
pub(crate) fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The URL with any password replaced, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The schema migrations for PostgreSQL, embedded so the binary carries its
/// schema. Versions match the SQLite migrations one for one.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../migrations/postgres/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "deployments".into(),
            MigrationType::Simple,
            include_str!("../migrations/postgres/0002_deployments.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "mlflow tracking".into(),
            MigrationType::Simple,
            include_str!("../migrations/postgres/0003_mlflow_tracking.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "mlflow_registry".into(),
            MigrationType::Simple,
            include_str!("../migrations/postgres/0004_mlflow_registry.sql").into_sql_str(),
            false,
        ),
    ])
}

pub(crate) async fn open(url: &str) -> Result<PgPool> {
    let location = redact(url);
    let options = PgConnectOptions::from_str(url).map_err(|error| CatalogError::Invalid {
        what: "PostgreSQL URL",
        value: location.clone(),
        expected: format!("postgres://user[:password]@host[:port]/database ({error})"),
    })?;
    // One direct connection first: an unreachable server, a wrong password
    // or a missing database fail here at once, where a pool would keep
    // retrying until its acquire timeout.
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(db(format!("connect to catalog at `{location}`")))?;
    // sqlx's PostgreSQL migrator holds a session advisory lock while it
    // checks and applies migrations, so concurrent openers take turns; the
    // lock goes with this connection, which is closed either way.
    let migrated = migrator().run_direct(None, &mut connection, false).await;
    connection.close().await.ok();
    migrated.map_err(|source| CatalogError::Migrate {
        location: location.clone(),
        source,
    })?;
    Ok(PgPoolOptions::new()
        .max_connections(4)
        .connect_lazy_with(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_and_passwords_redacted() {
        assert!(is_url("postgres://ada@127.0.0.1:5432/versa"));
        assert!(is_url("postgresql://localhost/versa"));
        assert!(!is_url(".versa/catalog.db"));
        assert!(!is_url("/tmp/postgres://x"));
        assert_eq!(
            redact("postgres://ada:secret@db:5432/versa?sslmode=disable"),
            "postgres://ada:***@db:5432/versa?sslmode=disable"
        );
        assert_eq!(redact("postgres://ada@db/versa"), "postgres://ada@db/versa");
        assert_eq!(redact("postgres://db/a@b"), "postgres://db/a@b");
    }
}
