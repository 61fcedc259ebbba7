//! versa's HTTP server: the axum app over a workspace's catalog and blob store.
//!
//! [`app`] builds the router without binding a socket, so tests drive it with
//! `oneshot`; [`serve`] runs it on a listener, with the alias refresher that
//! gives hot swap (see [`models`]), until a shutdown signal.
//!
//! Three protocols answer predictions through one path ([`predict::answer`]):
//! - native JSON: `POST /v1/models/{name}@{alias}/predict`,
//!   `POST /v1/models/{name}/versions/{n}/predict`, `GET /v1/models`;
//! - Open Inference Protocol v2 (KServe, Triton): `GET /v2`, `/v2/health/live`,
//!   `/v2/health/ready`, `/v2/models/{name}[/versions/{v}]`, `…/ready`,
//!   `POST …/infer` with JSON tensors;
//! - MLflow scoring: `POST /invocations`, `GET /ping`.
//!
//! The MLflow tracking, registry and artifact REST API (`/api/2.0/mlflow/…`,
//! `/api/2.0/mlflow-artifacts/…`, `/health`, `/version`) is served from the
//! same catalog and blob store (see `mlflow_api`), so the `mlflow` client can
//! log to versa.
//!
//! Operations: `/healthz`, `/readyz`, `/metrics` (Prometheus).
//!
//! Errors are `{"error": "..."}` with `content-type: application/json`; no
//! input can panic a handler (bodies are parsed by hand, limits apply first).

pub mod batch;
mod error;
pub mod metrics;
mod mlflow;
mod mlflow_api;
pub mod models;
mod oip;
mod predict;
pub mod predlog;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use versa_blobs::BlobStore;
use versa_catalog::Catalog;
use versa_core::{Alias, ModelName};

pub use batch::{BatchConfig, BatchConfigError, BatchCounts};
pub use error::ApiError;
pub use metrics::{Metrics, Protocol};
pub use models::Models;
pub use predict::{PredictRequest, PredictResponse};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most rows accepted in one prediction request.
pub const MAX_ROWS: usize = 10_000;

/// What every handler shares.
pub struct ServerState {
    models: Models,
    metrics: Metrics,
    /// The model `/invocations` and unqualified lookups answer with.
    default_model: Option<(ModelName, Alias)>,
    /// Per-version request queues when dynamic batching is on.
    batcher: batch::Batcher,
    /// The prediction log, once enabled ([`ServerState::enable_prediction_log`]).
    prediction_log: std::sync::OnceLock<Arc<predlog::PredictionLog>>,
}

impl ServerState {
    /// State over a catalog and blob store.
    pub fn new(catalog: Catalog, blobs: BlobStore) -> Arc<ServerState> {
        ServerState::with_default_model(catalog, blobs, None)
    }

    /// State with the model that `/invocations` (MLflow scoring) answers with.
    pub fn with_default_model(
        catalog: Catalog,
        blobs: BlobStore,
        default_model: Option<(ModelName, Alias)>,
    ) -> Arc<ServerState> {
        ServerState::with_batching(catalog, blobs, default_model, None)
    }

    /// State with a default model and dynamic batching (`None`: off, each
    /// request is predicted on its own; see [`batch`]).
    pub fn with_batching(
        catalog: Catalog,
        blobs: BlobStore,
        default_model: Option<(ModelName, Alias)>,
        batching: Option<BatchConfig>,
    ) -> Arc<ServerState> {
        Arc::new(ServerState {
            models: Models::new(catalog, blobs),
            metrics: Metrics::default(),
            default_model,
            batcher: batch::Batcher::new(batching),
            prediction_log: std::sync::OnceLock::new(),
        })
    }

    /// Starts logging sampled predictions (see [`predlog`]); a second call
    /// keeps the first log.
    pub fn enable_prediction_log(
        &self,
        config: predlog::PredictionLogConfig,
    ) -> std::io::Result<()> {
        let log = predlog::PredictionLog::start(config)?;
        let _ = self.prediction_log.set(Arc::new(log));
        Ok(())
    }

    /// Loaded versions and the alias table.
    pub fn models(&self) -> &Models {
        &self.models
    }

    /// Batches run so far (all zero when batching is off).
    pub fn batch_counts(&self) -> &BatchCounts {
        self.batcher.counts()
    }
}

/// The router, with every endpoint and limit.
pub fn app(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/v1/models", get(predict::list_models))
        .route(
            "/v1/models/{model_ref}/predict",
            post(predict::predict_by_ref),
        )
        .route(
            "/v1/models/{name}/versions/{version}/predict",
            post(predict::predict_by_version),
        )
        .route("/v2", get(oip::server_metadata))
        .route("/v2/health/live", get(oip::live))
        .route("/v2/health/ready", get(oip::ready))
        .route("/v2/models/{name}", get(oip::model_metadata))
        .route("/v2/models/{name}/ready", get(oip::model_ready))
        .route("/v2/models/{name}/infer", post(oip::infer))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(oip::version_metadata),
        )
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(oip::version_ready),
        )
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(oip::version_infer),
        )
        .route("/invocations", post(mlflow::invocations))
        .route("/ping", get(mlflow::ping))
        .merge(mlflow_api::routes())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes; in-flight
/// requests finish. Meanwhile the alias table is refreshed every
/// [`models::REFRESH_INTERVAL`] (hot swap).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ServerState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let refresher = tokio::spawn({
        let state = state.clone();
        async move {
            let mut tick = tokio::time::interval(models::REFRESH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                state.models.refresh().await;
            }
        }
    });
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    refresher.abort();
    result
}

async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(
    State(state): State<Arc<ServerState>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    state
        .models
        .catalog()
        .list_models()
        .await
        .map_err(ApiError::from_catalog)?;
    Ok(axum::Json(serde_json::json!({ "status": "ready" })))
}

async fn metrics_text(State(state): State<Arc<ServerState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut text = state.metrics.render();
            text.push_str(&batch_metrics(&state));
            if let Some(log) = state.prediction_log.get() {
                text.push_str("# HELP versa_prediction_log_dropped_total Prediction log records dropped because the writer fell behind.\n");
                text.push_str("# TYPE versa_prediction_log_dropped_total counter\n");
                text.push_str(&format!(
                    "versa_prediction_log_dropped_total {}\n",
                    log.dropped()
                ));
            }
            text
        },
    )
}

/// Batching counters in the text exposition format (none when batching is off).
fn batch_metrics(state: &ServerState) -> String {
    if state.batcher.config().is_none() {
        return String::new();
    }
    let counts = state.batcher.counts();
    format!(
        "# HELP versa_batches_total Batches predicted by the dynamic batcher.\n\
         # TYPE versa_batches_total counter\n\
         versa_batches_total {}\n\
         # HELP versa_batched_rows_total Rows predicted in those batches.\n\
         # TYPE versa_batched_rows_total counter\n\
         versa_batched_rows_total {}\n",
        counts.batches(),
        counts.rows()
    )
}
