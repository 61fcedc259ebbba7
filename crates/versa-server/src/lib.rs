//! versa's HTTP server: the axum app over a workspace's catalog and blob store.
//!
//! [`app`] builds the router without binding a socket, so tests drive it with
//! `oneshot`; [`serve`] runs it on a listener until a shutdown signal. The
//! server holds no state of its own beyond a cache of loaded model versions:
//! aliases are resolved in the catalog on every request, so a moved alias is
//! served by the next request, and several replicas over one catalog agree.
//!
//! Endpoints:
//! - `GET /healthz` — the process is up.
//! - `GET /readyz` — the catalog answers.
//! - `GET /v1/models` — registered models, their versions and aliases.
//! - `POST /v1/models/{name}@{alias}/predict` and
//!   `POST /v1/models/{name}/versions/{n}/predict` — raw rows in, labels and
//!   class probabilities out, with the model version and digest that answered.
//!
//! Errors are `{"error": "..."}` with `content-type: application/json`.

mod error;
mod predict;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use versa_blobs::BlobStore;
use versa_catalog::Catalog;
use versa_pipeline::bundle::ModelBundle;

pub use error::ApiError;
pub use predict::{PredictRequest, PredictResponse};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most rows accepted in one prediction request.
pub const MAX_ROWS: usize = 10_000;

/// What every handler shares.
pub struct ServerState {
    catalog: Catalog,
    blobs: BlobStore,
    /// Loaded versions by (model name, version). Versions are immutable, so a
    /// cached bundle never goes stale; only aliases move.
    bundles: Mutex<HashMap<(String, u32), Arc<ModelBundle>>>,
}

impl ServerState {
    /// State over a catalog and blob store.
    pub fn new(catalog: Catalog, blobs: BlobStore) -> Arc<ServerState> {
        Arc::new(ServerState {
            catalog,
            blobs,
            bundles: Mutex::new(HashMap::new()),
        })
    }
}

/// The router, with every endpoint and limit.
pub fn app(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/models", get(predict::list_models))
        .route(
            "/v1/models/{model_ref}/predict",
            post(predict::predict_by_ref),
        )
        .route(
            "/v1/models/{name}/versions/{version}/predict",
            post(predict::predict_by_version),
        )
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes; in-flight
/// requests are allowed to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ServerState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(
    State(state): State<Arc<ServerState>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    state
        .catalog
        .list_models()
        .await
        .map_err(ApiError::from_catalog)?;
    Ok(axum::Json(serde_json::json!({ "status": "ready" })))
}
