//! Open Inference Protocol v2 (the KServe / Triton REST API) over JSON tensors.
//!
//! A versa model takes raw fields, so each input tensor is one field, shaped
//! `[N]` or `[N, 1]` (N rows); outputs are `label` (BYTES, `[N]`) and
//! `probabilities` (FP32, `[N, classes]`). A model is named `NAME` (its
//! `production` alias if set, else its newest version), `NAME@ALIAS`, or
//! `NAME` with `/versions/{v}`. The binary tensor extension is not supported:
//! a request that uses it is refused with a message saying so.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use versa_core::{Alias, ColumnType, ModelName, ModelRef, VersionSelector};
use versa_pipeline::bundle::ModelBundle;

use crate::metrics::Protocol;
use crate::predict::{answer, check_row_count, json_kind, parse_version};
use crate::{ApiError, ServerState};

/// The alias an unqualified model name means, when it exists.
const DEFAULT_ALIAS: &str = "production";

pub(crate) async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "versa",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": [],
    }))
}

pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

pub(crate) async fn ready(State(state): State<Arc<ServerState>>) -> Result<Json<Value>, ApiError> {
    state
        .models
        .catalog()
        .list_models()
        .await
        .map_err(ApiError::from_catalog)?;
    Ok(Json(json!({ "ready": true })))
}

/// `NAME`, `NAME@ALIAS` → a selector; an unqualified name means its
/// `production` alias, or its newest version when it has none.
async fn selector(
    state: &ServerState,
    name: &str,
) -> Result<(ModelName, VersionSelector), ApiError> {
    let not_found = |e: versa_core::IdError| ApiError::new(StatusCode::NOT_FOUND, e.to_string());
    if name.contains('@') {
        let reference = ModelRef::parse(name).map_err(not_found)?;
        return Ok((reference.name, reference.selector));
    }
    let model = ModelName::new(name).map_err(not_found)?;
    let versions = state
        .models
        .catalog()
        .list_versions(&model)
        .await
        .map_err(ApiError::from_catalog)?;
    let alias = Alias::new(DEFAULT_ALIAS).map_err(not_found)?;
    if versions.iter().any(|v| v.aliases.contains(&alias)) {
        return Ok((model, VersionSelector::Alias(alias)));
    }
    let newest = versions.iter().map(|v| v.version).max().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("model `{model}` has no versions"),
        )
    })?;
    Ok((model, VersionSelector::Version(newest)))
}

fn datatype(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::Integer => "INT64",
        ColumnType::Float => "FP64",
        ColumnType::Boolean => "BOOL",
        ColumnType::Categorical => "BYTES",
    }
}

fn metadata(bundle: &ModelBundle, name: &str, versions: Vec<String>) -> Value {
    let inputs: Vec<Value> = bundle
        .manifest
        .input_schema
        .iter()
        .map(|c| json!({ "name": c.name, "datatype": datatype(c.column_type), "shape": [-1] }))
        .collect();
    json!({
        "name": name,
        "versions": versions,
        "platform": "versa_mlp",
        "inputs": inputs,
        "outputs": [
            { "name": "label", "datatype": "BYTES", "shape": [-1] },
            { "name": "probabilities", "datatype": "FP32", "shape": [-1, bundle.manifest.class_labels.len()] },
        ],
    })
}

async fn metadata_for(
    state: &ServerState,
    name: &str,
    selector: Option<VersionSelector>,
) -> Result<Json<Value>, ApiError> {
    let (model, default) = match &selector {
        Some(_) => (
            ModelName::new(name)
                .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))?,
            None,
        ),
        None => {
            let (model, selector) = self::selector(state, name).await?;
            (model, Some(selector))
        }
    };
    let chosen = selector.or(default).unwrap_or(VersionSelector::Version(1));
    let bundle = state.models.get(&model, &chosen).await?;
    let versions = state
        .models
        .catalog()
        .list_versions(&model)
        .await
        .map_err(ApiError::from_catalog)?
        .iter()
        .map(|v| v.version.to_string())
        .collect();
    Ok(Json(metadata(&bundle, name, versions)))
}

pub(crate) async fn model_metadata(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    metadata_for(&state, &name, None).await
}

pub(crate) async fn version_metadata(
    State(state): State<Arc<ServerState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let version = parse_version(&version)?;
    metadata_for(&state, &name, Some(VersionSelector::Version(version))).await
}

pub(crate) async fn model_ready(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (model, selector) = selector(&state, &name).await?;
    state.models.get(&model, &selector).await?;
    Ok(Json(json!({ "name": name, "ready": true })))
}

pub(crate) async fn version_ready(
    State(state): State<Arc<ServerState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let version = parse_version(&version)?;
    let model =
        ModelName::new(&name).map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))?;
    state
        .models
        .get(&model, &VersionSelector::Version(version))
        .await?;
    Ok(Json(json!({ "name": name, "ready": true })))
}

pub(crate) async fn infer(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let (model, selector) = selector(&state, &name).await?;
    infer_with(&state, &name, model, selector, &headers, body).await
}

pub(crate) async fn version_infer(
    State(state): State<Arc<ServerState>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let version = parse_version(&version)?;
    let model =
        ModelName::new(&name).map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))?;
    infer_with(
        &state,
        &name,
        model,
        VersionSelector::Version(version),
        &headers,
        body,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct InferRequest {
    id: Option<String>,
    inputs: Vec<InputTensor>,
    #[serde(default)]
    outputs: Vec<RequestedOutput>,
    #[serde(default)]
    #[allow(dead_code)]
    parameters: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
struct InputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

const KNOWN_DATATYPES: [&str; 13] = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
    "FP32", "FP64", "BYTES",
];

async fn infer_with(
    state: &ServerState,
    requested_name: &str,
    model: ModelName,
    selector: VersionSelector,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = crate::predict::body(body)?;
    if headers.contains_key("inference-header-content-length") {
        return Err(ApiError::bad_request(
            "the binary tensor extension is not supported; send JSON tensors with `data` (tritonclient: binary_data=False)",
        ));
    }
    let request: InferRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "inference request is not valid: {e}; expected {{\"inputs\": [{{\"name\", \"shape\", \"datatype\", \"data\"}}]}}"
        ))
    })?;
    let rows = tensors_to_rows(&request.inputs)?;
    for output in &request.outputs {
        if output.name != "label" && output.name != "probabilities" {
            return Err(ApiError::bad_request(format!(
                "unknown output `{}`; this model produces `label` and `probabilities`",
                output.name
            )));
        }
        if binary(&output.parameters) {
            return Err(ApiError::bad_request(format!(
                "output `{}` asks for binary_data, which is not supported; request JSON outputs",
                output.name
            )));
        }
    }
    let n_rows = rows.len();
    let (bundle, predictions) =
        answer(state, &model, &selector, rows, Protocol::OpenInference).await?;
    let wanted =
        |name: &str| request.outputs.is_empty() || request.outputs.iter().any(|o| o.name == name);
    let mut outputs = Vec::new();
    if wanted("label") {
        let labels: Vec<&str> = predictions.iter().map(|p| p.label.as_str()).collect();
        outputs.push(
            json!({ "name": "label", "datatype": "BYTES", "shape": [n_rows], "data": labels }),
        );
    }
    if wanted("probabilities") {
        let classes = &bundle.manifest.class_labels;
        let data: Vec<f32> = predictions
            .iter()
            .flat_map(|p| {
                classes
                    .iter()
                    .map(|c| p.probabilities.get(c).copied().unwrap_or(0.0))
            })
            .collect();
        outputs.push(json!({
            "name": "probabilities", "datatype": "FP32", "shape": [n_rows, classes.len()], "data": data,
            "parameters": { "classes": classes.join(",") },
        }));
    }
    let mut response = json!({
        "model_name": requested_name,
        "model_version": bundle.version.to_string(),
        "outputs": outputs,
    });
    if let Some(id) = request.id {
        response["id"] = Value::String(id);
    }
    Ok(Json(response))
}

fn binary(parameters: &Option<Map<String, Value>>) -> bool {
    parameters
        .as_ref()
        .and_then(|p| p.get("binary_data"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Columnar tensors (one per field) → row objects.
fn tensors_to_rows(inputs: &[InputTensor]) -> Result<Vec<Map<String, Value>>, ApiError> {
    if inputs.is_empty() {
        return Err(ApiError::bad_request(
            "`inputs` is empty; send one tensor per input field",
        ));
    }
    let mut n_rows: Option<usize> = None;
    let mut columns: Vec<(&str, Vec<Value>)> = Vec::with_capacity(inputs.len());
    for tensor in inputs {
        let name = tensor.name.as_str();
        if !KNOWN_DATATYPES.contains(&tensor.datatype.as_str()) {
            return Err(ApiError::bad_request(format!(
                "input `{name}`: unknown datatype `{}`; expected one of {}",
                tensor.datatype,
                KNOWN_DATATYPES.join(", ")
            )));
        }
        if binary(&tensor.parameters) || tensor.data.is_none() {
            return Err(ApiError::bad_request(format!(
                "input `{name}` has no JSON `data` (binary tensor data is not supported)"
            )));
        }
        let rows = match tensor.shape.as_slice() {
            [n] | [n, 1] if *n >= 0 => *n as usize,
            other => {
                return Err(ApiError::bad_request(format!(
                    "input `{name}`: shape {other:?} is not supported; expected [N] or [N, 1], one value per row"
                )));
            }
        };
        let mut values = Vec::with_capacity(rows);
        flatten(
            tensor.data.clone().unwrap_or(Value::Null),
            &mut values,
            name,
        )?;
        if values.len() != rows {
            return Err(ApiError::bad_request(format!(
                "input `{name}`: shape says {rows} values but `data` holds {}",
                values.len()
            )));
        }
        match n_rows {
            None => n_rows = Some(rows),
            Some(n) if n != rows => {
                return Err(ApiError::bad_request(format!(
                    "input `{name}` has {rows} rows but earlier inputs have {n}; every input needs one value per row"
                )));
            }
            Some(_) => {}
        }
        if columns.iter().any(|(existing, _)| *existing == name) {
            return Err(ApiError::bad_request(format!(
                "input `{name}` appears twice"
            )));
        }
        columns.push((name, values));
    }
    let n_rows = n_rows.unwrap_or(0);
    check_row_count(n_rows)?;
    let mut rows: Vec<Map<String, Value>> = (0..n_rows)
        .map(|_| Map::with_capacity(columns.len()))
        .collect();
    for (name, values) in columns {
        for (row, value) in rows.iter_mut().zip(values) {
            row.insert(name.to_string(), value);
        }
    }
    Ok(rows)
}

/// Row-major nested arrays → a flat list of scalars.
fn flatten(value: Value, out: &mut Vec<Value>, name: &str) -> Result<(), ApiError> {
    match value {
        Value::Array(items) => {
            for item in items {
                flatten(item, out, name)?;
            }
            Ok(())
        }
        Value::Object(_) => Err(ApiError::bad_request(format!(
            "input `{name}`: `data` holds {}, expected numbers, strings or booleans",
            json_kind(&value)
        ))),
        scalar => {
            out.push(scalar);
            Ok(())
        }
    }
}
