//! Where a conformance test's catalog lives — a SQLite file in a temporary
//! directory or a fresh PostgreSQL database — and the macro that runs one
//! test body against both.
//!
//! Shared by several test binaries; each uses a subset, hence the
//! `dead_code` allowance.
#![allow(dead_code)]

pub(crate) mod pg;

use std::path::PathBuf;

use versa_catalog::Catalog;

/// One catalog location a test can open as many times as it likes.
pub(crate) enum Store {
    /// A SQLite file (not created until first opened).
    Sqlite {
        /// Keeps the directory alive for the test.
        dir: tempfile::TempDir,
        /// The catalog file.
        path: PathBuf,
    },
    /// A fresh, empty PostgreSQL database.
    Postgres {
        /// Its URL.
        url: String,
    },
}

impl Store {
    pub(crate) fn sqlite() -> Store {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("catalog.sqlite");
        Store::Sqlite { dir, path }
    }

    /// A fresh PostgreSQL database, or `None` when the PostgreSQL cases were
    /// explicitly skipped (see [`pg`]).
    pub(crate) async fn postgres() -> Option<Store> {
        if pg::skip_requested() {
            eprintln!("skipped: VERSA_TEST_SKIP_POSTGRES=1");
            return None;
        }
        Some(Store::Postgres {
            url: pg::fresh_database().await,
        })
    }

    /// The path or URL, as `Catalog::open` and the stress helper take it.
    pub(crate) fn location(&self) -> String {
        match self {
            Store::Sqlite { path, .. } => path.display().to_string(),
            Store::Postgres { url } => url.clone(),
        }
    }

    /// Opens (and on first use creates and migrates) the catalog.
    pub(crate) async fn open(&self) -> Catalog {
        Catalog::open(&self.location())
            .await
            .unwrap_or_else(|error| panic!("open catalog at {}: {error}", self.location()))
    }
}

/// Generates `sqlite::NAME` and `postgres::NAME` test cases from
/// `async fn NAME(store: Store)` bodies in the calling test file.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::Store::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = super::support::Store::postgres().await {
                        super::$name(store).await;
                    }
                }
            )*
        }
    };
}
