//! The one prediction path every protocol uses ([`answer`]), and the native
//! JSON API on top of it: raw rows (before preprocessing) in, labels and class
//! probabilities out, naming the model version that answered.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use versa_core::{ModelName, ModelRef, VersionSelector};
use versa_pipeline::bundle::{ModelBundle, Prediction};

use crate::metrics::Protocol;
use crate::models::Pick;
use crate::predlog::{self, PredictionLog, Role};
use crate::{ApiError, MAX_ROWS, ServerState};

/// Body of a native predict request.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Raw rows: field name → value, as in the training data.
    pub rows: Vec<Value>,
}

/// Body of a native predict response.
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

/// Resolves the version, validates and predicts every row, and records metrics.
pub(crate) async fn answer(
    state: &ServerState,
    name: &ModelName,
    selector: &VersionSelector,
    rows: Vec<Map<String, Value>>,
    protocol: Protocol,
) -> Result<(Arc<ModelBundle>, Vec<Prediction>), ApiError> {
    let started = Instant::now();
    let pick = match state.models.pick(name, selector).await {
        Ok(pick) => pick,
        Err(error) => {
            state
                .metrics
                .observe(None, protocol, false, started.elapsed());
            return Err(error);
        }
    };
    let bundle = pick.bundle.clone();
    let log = state
        .prediction_log
        .get()
        .filter(|log| log.sample())
        .cloned();
    let kept_rows = (log.is_some() || pick.shadow.is_some()).then(|| rows.clone());
    let result = state.batcher.predict(&bundle, rows).await;
    state.metrics.observe(
        Some((bundle.name.as_str(), bundle.version)),
        protocol,
        result.is_ok(),
        started.elapsed(),
    );
    if let (Ok(predictions), Some(rows)) = (&result, kept_rows) {
        after_answer(pick, log, started.elapsed(), rows, predictions);
    }
    Ok((bundle, result?))
}

/// Logs the answer (when sampled) and runs the shadow, if any, on the same
/// rows — spawned, so it never delays or changes the response; its answer is
/// logged and traced, never returned.
fn after_answer(
    pick: Pick,
    log: Option<Arc<PredictionLog>>,
    latency: std::time::Duration,
    rows: Vec<Map<String, Value>>,
    predictions: &[Prediction],
) {
    if let Some(log) = &log {
        let name = pick.bundle.name.as_str();
        log.record(predlog::records(
            name,
            pick.bundle.version,
            pick.role,
            latency,
            &rows,
            predictions,
        ));
    }
    let Some(shadow) = pick.shadow else {
        return;
    };
    tokio::spawn(async move {
        let started = Instant::now();
        let shadow_for_rows = shadow.clone();
        let predicted = tokio::task::spawn_blocking(move || {
            let answers: Result<Vec<Prediction>, String> = rows
                .iter()
                .enumerate()
                .map(|(index, row)| {
                    shadow_for_rows
                        .predict_row(row)
                        .map_err(|e| format!("row {index}: {e}"))
                })
                .collect();
            (rows, answers)
        })
        .await;
        let (rows, answers) = match predicted {
            Ok((rows, Ok(answers))) => (rows, answers),
            Ok((_, Err(error))) => {
                tracing::warn!(model = %shadow.name, version = shadow.version, %error, "shadow version could not answer");
                return;
            }
            Err(error) => {
                tracing::warn!(model = %shadow.name, version = shadow.version, %error, "shadow prediction task failed");
                return;
            }
        };
        let latency = started.elapsed();
        let labels: Vec<&str> = answers.iter().map(|a| a.label.as_str()).collect();
        tracing::info!(model = %shadow.name, version = shadow.version, role = "shadow", ?labels, latency_us = latency.as_micros() as u64, "shadow answered");
        if let Some(log) = log {
            log.record(predlog::records(
                shadow.name.as_str(),
                shadow.version,
                Role::Shadow,
                latency,
                &rows,
                &answers,
            ));
        }
    });
}

/// Checks a row count against [`MAX_ROWS`].
pub(crate) fn check_row_count(n_rows: usize) -> Result<(), ApiError> {
    if n_rows == 0 {
        return Err(ApiError::bad_request(
            "no rows in the request; send at least one",
        ));
    }
    if n_rows > MAX_ROWS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{n_rows} rows in one request; at most {MAX_ROWS} are accepted, split the request"
            ),
        ));
    }
    Ok(())
}

/// Turns a body rejection (e.g. over the size limit) into a JSON error.
pub(crate) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))
}

/// Rows given as JSON values must be objects.
pub(crate) fn object_rows(rows: Vec<Value>) -> Result<Vec<Map<String, Value>>, ApiError> {
    rows.into_iter()
        .enumerate()
        .map(|(index, row)| match row {
            Value::Object(object) => Ok(object),
            other => Err(ApiError::bad_request(format!(
                "row {index}: expected an object of field name → value, got {}",
                json_kind(&other)
            ))),
        })
        .collect()
}

pub(crate) async fn predict_by_ref(
    State(state): State<Arc<ServerState>>,
    Path(model_ref): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PredictResponse>, ApiError> {
    let reference = ModelRef::parse(&model_ref)
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))?;
    predict(&state, &reference.name, &reference.selector, body).await
}

pub(crate) async fn predict_by_version(
    State(state): State<Arc<ServerState>>,
    Path((name, version)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PredictResponse>, ApiError> {
    let name =
        ModelName::new(&name).map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))?;
    let version = parse_version(&version)?;
    predict(&state, &name, &VersionSelector::Version(version), body).await
}

/// Parses a version number from a path segment (404 when it is not one).
pub(crate) fn parse_version(text: &str) -> Result<u32, ApiError> {
    text.parse::<u32>().ok().filter(|v| *v > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("version `{text}` is not a version number; expected 1, 2, …"),
        )
    })
}

async fn predict(
    state: &ServerState,
    name: &ModelName,
    selector: &VersionSelector,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PredictResponse>, ApiError> {
    let body = self::body(body)?;
    let request = parse_request(&body)?;
    let rows = object_rows(request.rows)?;
    let (bundle, predictions) = answer(state, name, selector, rows, Protocol::Native).await?;
    Ok(Json(PredictResponse {
        model: bundle.name.to_string(),
        version: bundle.version,
        alias: match selector {
            VersionSelector::Alias(alias) => Some(alias.to_string()),
            VersionSelector::Version(_) => None,
        },
        digest: bundle.manifest_digest.to_string(),
        predictions,
    }))
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
    check_row_count(request.rows.len())?;
    Ok(request)
}

/// A JSON value's kind, for messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) async fn list_models(
    State(state): State<Arc<ServerState>>,
) -> Result<Json<Value>, ApiError> {
    let models = state
        .models
        .catalog()
        .list_models()
        .await
        .map_err(ApiError::from_catalog)?;
    let listing: Vec<Value> = models
        .into_iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name,
                "latest_version": m.latest_version,
                "aliases": m.aliases,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "models": listing,
        "serving": state.models.served(),
        "failed_swaps": state.models.failures(),
    })))
}
