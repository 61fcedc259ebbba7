//! The native prediction API: raw rows (before preprocessing) in, labels and
//! class probabilities out, naming the model version that answered.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use versa_core::{ModelName, ModelRef, VersionSelector};
use versa_pipeline::bundle::{ModelBundle, Prediction};

use crate::{ApiError, MAX_ROWS, ServerState};

/// Body of a predict request.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Raw rows: field name → value, as in the training data.
    pub rows: Vec<serde_json::Value>,
}

/// Body of a predict response.
#[derive(Debug, Deserialize, Serialize)]
pub struct PredictResponse {
    /// Model name.
    pub model: String,
    /// The version that answered.
    pub version: u32,
    /// The alias the request named, if any.
    pub alias: Option<String>,
    /// Digest of the answering version's manifest.
    pub digest: String,
    /// One prediction per input row, in order.
    pub predictions: Vec<Prediction>,
}

pub(crate) async fn predict_by_ref(
    State(state): State<Arc<ServerState>>,
    Path(model_ref): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PredictResponse>, ApiError> {
    let reference = ModelRef::parse(&model_ref)
        .map_err(|e| ApiError::new(axum::http::StatusCode::NOT_FOUND, e.to_string()))?;
    predict(&state, &reference.name, &reference.selector, body).await
}

pub(crate) async fn predict_by_version(
    State(state): State<Arc<ServerState>>,
    Path((name, version)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PredictResponse>, ApiError> {
    let not_found = |message: String| ApiError::new(axum::http::StatusCode::NOT_FOUND, message);
    let name = ModelName::new(&name).map_err(|e| not_found(e.to_string()))?;
    let version: u32 = version.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
        not_found(format!(
            "version `{version}` is not a version number; expected 1, 2, …"
        ))
    })?;
    predict(&state, &name, &VersionSelector::Version(version), body).await
}

async fn predict(
    state: &ServerState,
    name: &ModelName,
    selector: &VersionSelector,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PredictResponse>, ApiError> {
    let body =
        body.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    let request = parse_request(&body)?;
    let bundle = bundle(state, name, selector).await?;
    let rows = request.rows;
    let predict_all = move |bundle: Arc<ModelBundle>| -> Result<PredictResponse, ApiError> {
        let mut predictions = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let object = row.as_object().ok_or_else(|| {
                ApiError::bad_request(format!(
                    "row {index}: expected an object of field name → value, got {}",
                    json_kind(row)
                ))
            })?;
            let prediction = bundle
                .predict_row(object)
                .map_err(|e| ApiError::bad_request(format!("row {index}: {e}")))?;
            predictions.push(prediction);
        }
        Ok(PredictResponse {
            model: bundle.name.to_string(),
            version: bundle.version,
            alias: None,
            digest: bundle.manifest_digest.to_string(),
            predictions,
        })
    };
    // Small requests are answered inline; big ones must not stall the
    // async workers.
    let mut response = if request_is_small(&body) {
        predict_all(bundle)?
    } else {
        tokio::task::spawn_blocking(move || predict_all(bundle))
            .await
            .map_err(|e| {
                ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            })??
    };
    if let VersionSelector::Alias(alias) = selector {
        response.alias = Some(alias.to_string());
    }
    Ok(Json(response))
}

fn request_is_small(body: &Bytes) -> bool {
    body.len() < 16 * 1024
}

fn parse_request(body: &[u8]) -> Result<PredictRequest, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty request body; expected JSON like {\"rows\": [{\"field\": value, …}]}",
        ));
    }
    let request: PredictRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "request body is not valid: {e}; expected JSON like {{\"rows\": [{{\"field\": value, …}}]}}"
        ))
    })?;
    if request.rows.is_empty() {
        return Err(ApiError::bad_request(
            "`rows` is empty; send at least one row",
        ));
    }
    if request.rows.len() > MAX_ROWS {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} rows in one request; at most {MAX_ROWS} are accepted, split the request",
                request.rows.len()
            ),
        ));
    }
    Ok(request)
}

async fn bundle(
    state: &ServerState,
    name: &ModelName,
    selector: &VersionSelector,
) -> Result<Arc<ModelBundle>, ApiError> {
    let version = state
        .catalog
        .resolve(name, selector)
        .await
        .map_err(ApiError::from_catalog)?
        .version;
    let key = (name.to_string(), version);
    if let Some(bundle) = state.bundles.lock().map_err(poisoned)?.get(&key) {
        return Ok(bundle.clone());
    }
    let loaded = ModelBundle::load(
        &state.catalog,
        &state.blobs,
        name,
        &VersionSelector::Version(version),
    )
    .await
    .map_err(ApiError::from_pipeline)?;
    let loaded = Arc::new(loaded);
    tracing::info!(model = %name, version, "loaded model version");
    state
        .bundles
        .lock()
        .map_err(poisoned)?
        .entry(key)
        .or_insert_with(|| loaded.clone());
    Ok(loaded)
}

fn poisoned<T>(_: T) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "model cache lock poisoned",
    )
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A registered model as `GET /v1/models` lists it.
#[derive(Debug, Serialize)]
pub(crate) struct ModelListing {
    name: String,
    latest_version: Option<u32>,
    aliases: BTreeMap<String, u32>,
}

pub(crate) async fn list_models(
    State(state): State<Arc<ServerState>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let models = state
        .catalog
        .list_models()
        .await
        .map_err(ApiError::from_catalog)?;
    let listing: Vec<ModelListing> = models
        .into_iter()
        .map(|m| ModelListing {
            name: m.name.to_string(),
            latest_version: m.latest_version,
            aliases: m.aliases,
        })
        .collect();
    Ok(Json(serde_json::json!({ "models": listing })))
}
