//! MLflow's tracking REST API (`/api/2.0/mlflow/experiments/…`, `runs/…`,
//! `metrics/get-history`) plus `/health` and `/version`, over versa's
//! catalog: a run logged by the `mlflow` client is a versa run (listed by
//! `versa runs list`), and versa's own runs are readable by the client.
//!
//! Request and response shapes follow MLflow's `service.proto` as the
//! client's protobuf JSON encodes them: ids are strings, int64 fields are
//! numbers (strings accepted), enums are names (numbers accepted), and
//! metric values that are not finite travel as the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"` both ways (protobuf's JSON mapping; plain
//! JSON has no token for them). Validation and search live in the catalog;
//! this module only translates.
//!
//! Must not know SQL or how the catalog stores anything.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Serialize;
use serde_json::{Map, Value, json};
use versa_catalog::{
    ArtifactRoot, CatalogError, DatasetInput, ExperimentDetail, ExperimentSearch, LifecycleStage,
    MetricPoint, NewTrackedRun, Run, RunBatch, RunSearch, RunStatus, RunUpdate,
    SEARCH_MAX_RESULTS_DEFAULT, TrackedRun, ViewType,
};
use versa_core::RunId;

use super::{
    ErrorCode, KeyValuesWire, MlflowError, MlflowResult, Params, json, json_kind, json_of,
};
use crate::ServerState;

/// The MLflow server version versa answers `/version` with: the release
/// whose REST API this module follows (the client compares it to decide
/// which endpoints it may use).
const EMULATED_MLFLOW_VERSION: &str = "3.17.2";

type AppState = State<Arc<ServerState>>;

pub(super) fn routes() -> Router<Arc<ServerState>> {
    const API: &str = "/api/2.0/mlflow";
    let path = |tail: &str| format!("{API}/{tail}");
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route(&path("experiments/create"), post(create_experiment))
        .route(&path("experiments/get"), get(get_experiment))
        .route(
            &path("experiments/get-by-name"),
            get(get_experiment_by_name),
        )
        .route(
            &path("experiments/search"),
            get(search_experiments).post(search_experiments),
        )
        .route(&path("experiments/update"), post(update_experiment))
        .route(&path("experiments/delete"), post(delete_experiment))
        .route(&path("experiments/restore"), post(restore_experiment))
        .route(
            &path("experiments/set-experiment-tag"),
            post(set_experiment_tag),
        )
        .route(
            &path("experiments/delete-experiment-tag"),
            post(delete_experiment_tag),
        )
        .route(&path("runs/create"), post(create_run))
        .route(&path("runs/update"), post(update_run))
        .route(&path("runs/get"), get(get_run))
        .route(&path("runs/delete"), post(delete_run))
        .route(&path("runs/restore"), post(restore_run))
        .route(&path("runs/log-metric"), post(log_metric))
        .route(&path("runs/log-parameter"), post(log_param))
        .route(&path("runs/set-tag"), post(set_tag))
        .route(&path("runs/delete-tag"), post(delete_tag))
        .route(&path("runs/log-batch"), post(log_batch))
        .route(&path("runs/log-inputs"), post(log_inputs))
        .route(&path("runs/outputs"), post(log_outputs))
        .route(&path("runs/search"), get(search_runs).post(search_runs))
        .route(&path("metrics/get-history"), get(get_metric_history))
        // MLflow's answer for a path it does not serve, which the client
        // understands (it falls back between endpoints on this code).
        .route(&path("{*rest}"), any(endpoint_not_found))
}

async fn endpoint_not_found(uri: Uri) -> MlflowError {
    MlflowError::new(
        ErrorCode::EndpointNotFound,
        format!("no MLflow endpoint at `{}`", uri.path()),
    )
}

async fn health() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK").into_response()
}

async fn version() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        EMULATED_MLFLOW_VERSION,
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Reading requests.

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The run named by `run_id`, or by its deprecated twin `run_uuid`.
fn run_id_of(params: &Params) -> MlflowResult<RunId> {
    let text = match params.opt_str("run_id")?.filter(|id| !id.is_empty()) {
        Some(id) => id,
        None => params
            .opt_str("run_uuid")?
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                MlflowError::invalid("Missing value for required parameter 'run_id'.")
            })?,
    };
    // An id versa cannot even spell names no run it has.
    RunId::new(text).map_err(|_| MlflowError::not_found(format!("Run with id={text} not found")))
}

fn experiment_id_of(params: &Params) -> MlflowResult<String> {
    match params.value("experiment_id") {
        Some(Value::Number(number)) => Ok(number.to_string()),
        _ => Ok(params.str("experiment_id")?.to_string()),
    }
}

/// A non-negative count field.
fn opt_count(params: &Params, key: &str) -> MlflowResult<Option<usize>> {
    match params.opt_i64(key)? {
        None => Ok(None),
        Some(value) => usize::try_from(value).map(Some).map_err(|_| {
            MlflowError::invalid(format!(
                "Invalid value {value} for parameter '{key}' supplied: expected zero or more"
            ))
        }),
    }
}

/// A metric value: a JSON number, or a string holding one or one of
/// protobuf's `NaN` / `Infinity` / `-Infinity`.
fn metric_value(value: Option<&Value>, field: &str) -> MlflowResult<f64> {
    let bad = |shown: String| {
        MlflowError::invalid(format!(
            "Invalid value {shown} for parameter '{field}' supplied: expected a number, \
             \"NaN\", \"Infinity\" or \"-Infinity\""
        ))
    };
    match value {
        None => Err(MlflowError::invalid(format!(
            "Missing value for required parameter '{field}'."
        ))),
        Some(Value::Number(number)) => number.as_f64().ok_or_else(|| bad(number.to_string())),
        Some(Value::String(text)) => match text.trim() {
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "inf" | "+Infinity" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            other => other.parse::<f64>().map_err(|_| bad(format!("\"{text}\""))),
        },
        Some(other) => Err(bad(other.to_string())),
    }
}

/// An int64 field inside a nested object: a number or a decimal string.
fn nested_i64(object: &Map<String, Value>, field: &str) -> MlflowResult<Option<i64>> {
    let bad = |value: &Value| {
        MlflowError::invalid(format!(
            "Invalid value {value} for parameter '{field}' supplied: expected an integer"
        ))
    };
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value @ Value::Number(number)) => number.as_i64().map(Some).ok_or_else(|| bad(value)),
        Some(value @ Value::String(text)) => text.trim().parse().map(Some).map_err(|_| bad(value)),
        Some(value) => Err(bad(value)),
    }
}

fn nested_str<'v>(
    object: &'v Map<String, Value>,
    field: &str,
    path: &str,
) -> MlflowResult<Option<&'v str>> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(MlflowError::invalid(format!(
            "Invalid value {other} for parameter '{path}.{field}' supplied: expected a string, got {}",
            json_kind(other)
        ))),
    }
}

/// A repeated message field (`metrics`, `tags`…) as its objects.
fn objects<'p>(params: &'p Params, key: &str) -> MlflowResult<Vec<&'p Map<String, Value>>> {
    match params.value(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                item.as_object().ok_or_else(|| {
                    MlflowError::invalid(format!(
                        "Invalid value {item} for parameter '{key}[{index}]' supplied: \
                         expected an object, got {}",
                        json_kind(item)
                    ))
                })
            })
            .collect(),
        Some(other) => Err(MlflowError::invalid(format!(
            "Invalid value {other} for parameter '{key}' supplied: expected a list, got {}",
            json_kind(other)
        ))),
    }
}

/// `[{"key": …, "value": …}]` as pairs; a missing value is empty (as
/// protobuf's default string).
fn key_values(params: &Params, field: &str) -> MlflowResult<Vec<(String, String)>> {
    objects(params, field)?
        .into_iter()
        .enumerate()
        .map(|(index, object)| key_value(object, &format!("{field}[{index}]")))
        .collect()
}

fn key_value(object: &Map<String, Value>, path: &str) -> MlflowResult<(String, String)> {
    let key = nested_str(object, "key", path)?.ok_or_else(|| {
        MlflowError::invalid(format!(
            "Missing value for required parameter '{path}.key'."
        ))
    })?;
    let value = nested_str(object, "value", path)?.unwrap_or("");
    Ok((key.to_string(), value.to_string()))
}

fn metric_point(object: &Map<String, Value>, path: &str) -> MlflowResult<MetricPoint> {
    let key = nested_str(object, "key", path)?.ok_or_else(|| {
        MlflowError::invalid(format!(
            "Missing value for required parameter '{path}.key'."
        ))
    })?;
    Ok(MetricPoint {
        key: key.to_string(),
        value: metric_value(object.get("value"), &format!("{path}.value"))?,
        timestamp: nested_i64(object, "timestamp")?.unwrap_or_else(now_ms),
        step: nested_i64(object, "step")?.unwrap_or(0),
    })
}

fn view_type(params: &Params, key: &str) -> MlflowResult<ViewType> {
    let text = match params.value(key) {
        None => return Ok(ViewType::ActiveOnly),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => {
            return Err(MlflowError::invalid(format!(
                "Invalid value {other} for parameter '{key}' supplied: expected ACTIVE_ONLY, \
                 DELETED_ONLY or ALL"
            )));
        }
    };
    text.parse::<ViewType>().map_err(MlflowError::from)
}

fn run_status(value: &Value) -> MlflowResult<RunStatus> {
    // Protobuf's enum numbers: RUNNING = 1 … KILLED = 5.
    let text = match value {
        Value::Number(number) => match number.as_i64() {
            Some(1) => "RUNNING".to_string(),
            Some(2) => "SCHEDULED".to_string(),
            Some(3) => "FINISHED".to_string(),
            Some(4) => "FAILED".to_string(),
            Some(5) => "KILLED".to_string(),
            _ => number.to_string(),
        },
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    text.parse::<RunStatus>().map_err(MlflowError::from)
}

fn max_results(params: &Params) -> MlflowResult<usize> {
    Ok(opt_count(params, "max_results")?.unwrap_or(SEARCH_MAX_RESULTS_DEFAULT))
}

fn page_token(params: &Params) -> MlflowResult<Option<String>> {
    Ok(params
        .opt_str("page_token")?
        .filter(|token| !token.is_empty())
        .map(str::to_owned))
}

// ---------------------------------------------------------------------------
// Writing responses.

fn experiment_json(detail: &ExperimentDetail) -> Value {
    let experiment = &detail.experiment;
    json!({
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage.as_str(),
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "tags": KeyValuesWire(&detail.tags),
    })
}

/// MLflow's `RunInfo`, borrowed from the catalog's record.
///
/// Runs, their metrics and their key-value pairs are serialized straight
/// from these borrowed shapes into the response body rather than through a
/// `serde_json::Value` tree: a search page holds thousands of entries, and
/// building (and cloning, and dropping) that tree cost more than the
/// database reads (a profile of `runs/search` put it at 40% of the server's
/// CPU time).
#[derive(Serialize)]
struct RunInfoWire<'a> {
    run_id: &'a str,
    run_uuid: &'a str,
    run_name: &'a str,
    experiment_id: &'a str,
    user_id: &'a str,
    status: &'static str,
    start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    artifact_uri: &'a str,
    lifecycle_stage: &'static str,
}

impl<'a> RunInfoWire<'a> {
    fn of(run: &'a Run) -> RunInfoWire<'a> {
        RunInfoWire {
            run_id: run.run_id.as_str(),
            run_uuid: run.run_id.as_str(),
            run_name: &run.run_name,
            experiment_id: &run.experiment_id,
            user_id: &run.user_id,
            status: run.status.as_str(),
            start_time: run.start_time,
            end_time: run.end_time,
            artifact_uri: &run.artifact_uri,
            lifecycle_stage: run.lifecycle_stage.as_str(),
        }
    }
}

/// MLflow's `Metric`; a value that is not finite is a string (see the module doc).
#[derive(Serialize)]
struct MetricWire<'a> {
    key: &'a str,
    #[serde(serialize_with = "serialize_metric_value")]
    value: f64,
    timestamp: i64,
    step: i64,
}

impl<'a> MetricWire<'a> {
    fn of(point: &'a MetricPoint) -> MetricWire<'a> {
        MetricWire {
            key: &point.key,
            value: point.value,
            timestamp: point.timestamp,
            step: point.step,
        }
    }
}

fn serialize_metric_value<S: serde::Serializer>(
    value: &f64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_str("NaN")
    } else if *value == f64::INFINITY {
        serializer.serialize_str("Infinity")
    } else if *value == f64::NEG_INFINITY {
        serializer.serialize_str("-Infinity")
    } else {
        serializer.serialize_f64(*value)
    }
}

#[derive(Serialize)]
struct RunDataWire<'a> {
    metrics: Vec<MetricWire<'a>>,
    params: KeyValuesWire<'a>,
    tags: KeyValuesWire<'a>,
}

#[derive(Serialize)]
struct RunInputsWire {
    dataset_inputs: Vec<Value>,
}

/// A response holding one run.
#[derive(Serialize)]
struct Wrapped<'a> {
    run: RunWire<'a>,
}

/// MLflow's `Run`.
#[derive(Serialize)]
struct RunWire<'a> {
    info: RunInfoWire<'a>,
    data: RunDataWire<'a>,
    inputs: RunInputsWire,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs: Option<Value>,
}

impl<'a> RunWire<'a> {
    fn of(run: &'a TrackedRun) -> RunWire<'a> {
        RunWire {
            info: RunInfoWire::of(&run.run),
            data: RunDataWire {
                metrics: run.metrics.iter().map(MetricWire::of).collect(),
                params: KeyValuesWire(&run.params),
                tags: KeyValuesWire(&run.tags),
            },
            inputs: RunInputsWire {
                dataset_inputs: run.dataset_inputs.iter().map(dataset_input_json).collect(),
            },
            outputs: None,
        }
    }
}

fn dataset_input_json(input: &DatasetInput) -> Value {
    let mut dataset = json!({
        "name": input.name,
        "digest": input.digest,
        "source_type": input.source_type,
        "source": input.source,
    });
    if let Some(object) = dataset.as_object_mut() {
        if let Some(schema) = &input.schema {
            object.insert("schema".to_string(), json!(schema));
        }
        if let Some(profile) = &input.profile {
            object.insert("profile".to_string(), json!(profile));
        }
    }
    json!({"tags": KeyValuesWire(&input.tags), "dataset": dataset})
}

fn with_page_token(mut body: Value, token: Option<String>) -> Value {
    if let (Some(token), Some(object)) = (token, body.as_object_mut()) {
        object.insert("next_page_token".to_string(), json!(token));
    }
    body
}

fn empty() -> Response {
    json(json!({}))
}

// ---------------------------------------------------------------------------
// Experiments.

async fn create_experiment(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let name = params.str("name")?;
    let artifact_root = match params.opt_str("artifact_location")? {
        Some(location) if !location.is_empty() => ArtifactRoot::Given(location.to_string()),
        _ => ArtifactRoot::Proxied,
    };
    let tags = key_values(&params, "tags")?;
    let experiment = state
        .models()
        .catalog()
        .create_experiment(name, artifact_root, &tags)
        .await
        .map_err(|error| match error {
            // MLflow's own wording first, which scripts match on; then versa's hint.
            CatalogError::AlreadyExists { .. } => MlflowError::already_exists(format!(
                "Experiment(name={name}) already exists. {error}"
            )),
            other => other.into(),
        })?;
    Ok(json(json!({"experiment_id": experiment.experiment_id})))
}

async fn get_experiment(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let id = experiment_id_of(&params)?;
    let detail = state.models().catalog().experiment(&id).await?;
    Ok(json(json!({"experiment": experiment_json(&detail)})))
}

async fn get_experiment_by_name(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let name = params.str("experiment_name")?;
    let detail = state
        .models()
        .catalog()
        .experiment_by_name(name)
        .await
        .map_err(|error| match error {
            CatalogError::NotFound { .. } => {
                MlflowError::not_found(format!("Could not find experiment with name '{name}'"))
            }
            other => other.into(),
        })?;
    Ok(json(json!({"experiment": experiment_json(&detail)})))
}

async fn search_experiments(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let search = ExperimentSearch {
        filter: params.opt_str("filter")?.unwrap_or("").to_string(),
        view: view_type(&params, "view_type")?,
        max_results: max_results(&params)?,
        order_by: params.strings("order_by")?,
        page_token: page_token(&params)?,
    };
    let page = state.models().catalog().search_experiments(&search).await?;
    let experiments: Vec<Value> = page.experiments.iter().map(experiment_json).collect();
    Ok(json(with_page_token(
        json!({"experiments": experiments}),
        page.next_page_token,
    )))
}

async fn update_experiment(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let id = experiment_id_of(&params)?;
    if let Some(new_name) = params.opt_str("new_name")? {
        state
            .models()
            .catalog()
            .rename_experiment(&id, new_name)
            .await?;
    } else {
        // Nothing to change; still say whether the experiment exists.
        state.models().catalog().experiment(&id).await?;
    }
    Ok(empty())
}

async fn delete_experiment(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let id = experiment_id_of(&params)?;
    state
        .models()
        .catalog()
        .set_experiment_lifecycle(&id, LifecycleStage::Deleted)
        .await?;
    Ok(empty())
}

async fn restore_experiment(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let id = experiment_id_of(&params)?;
    state
        .models()
        .catalog()
        .set_experiment_lifecycle(&id, LifecycleStage::Active)
        .await?;
    Ok(empty())
}

async fn set_experiment_tag(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let id = experiment_id_of(&params)?;
    let key = params.str("key")?;
    let value = params.opt_str("value")?.unwrap_or("");
    state
        .models()
        .catalog()
        .set_experiment_tag(&id, key, value)
        .await?;
    Ok(empty())
}

async fn delete_experiment_tag(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let id = experiment_id_of(&params)?;
    let key = params.str("key")?;
    state
        .models()
        .catalog()
        .delete_experiment_tag(&id, key)
        .await?;
    Ok(empty())
}

// ---------------------------------------------------------------------------
// Runs.

async fn create_run(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let experiment_id = match params.value("experiment_id") {
        None => "0".to_string(),
        Some(_) => experiment_id_of(&params)?,
    };
    let new = NewTrackedRun {
        experiment_id,
        user_id: params.opt_str("user_id")?.unwrap_or("").to_string(),
        run_name: params.opt_str("run_name")?.map(str::to_owned),
        start_time: params.opt_i64("start_time")?.unwrap_or_else(now_ms),
        tags: key_values(&params, "tags")?,
        host: String::new(),
        versa_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let run = state.models().catalog().start_tracked_run(new).await?;
    Ok(json_of(&Wrapped {
        run: RunWire::of(&run),
    }))
}

async fn update_run(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let update = RunUpdate {
        status: params.value("status").map(run_status).transpose()?,
        end_time: params.opt_i64("end_time")?,
        run_name: params.opt_str("run_name")?.map(str::to_owned),
    };
    let run = state.models().catalog().update_run(&run_id, update).await?;
    Ok(json(json!({"run_info": RunInfoWire::of(&run)})))
}

async fn get_run(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let catalog = state.models().catalog();
    let run = catalog.tracked_run(&run_id).await?;
    let mut body = RunWire::of(&run);
    // A run's outputs are the logged models it produced (their source run).
    let models = catalog
        .logged_models(std::slice::from_ref(&run.run.experiment_id))
        .await?;
    let outputs: Vec<Value> = models
        .iter()
        .filter(|model| model.source_run_id.as_deref() == Some(run_id.as_str()))
        .map(|model| json!({"model_id": model.model_id, "step": 0}))
        .collect();
    body.outputs = Some(json!({"model_outputs": outputs}));
    Ok(json_of(&Wrapped { run: body }))
}

async fn delete_run(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    state
        .models()
        .catalog()
        .set_run_lifecycle(&run_id, LifecycleStage::Deleted)
        .await?;
    Ok(empty())
}

async fn restore_run(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    state
        .models()
        .catalog()
        .set_run_lifecycle(&run_id, LifecycleStage::Active)
        .await?;
    Ok(empty())
}

async fn log_metric(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let point = metric_point(&params.0, "metric")?;
    let batch = RunBatch {
        metrics: vec![point],
        ..RunBatch::default()
    };
    state.models().catalog().log_batch(&run_id, &batch).await?;
    Ok(empty())
}

async fn log_param(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let batch = RunBatch {
        params: vec![key_value(&params.0, "param")?],
        ..RunBatch::default()
    };
    state.models().catalog().log_batch(&run_id, &batch).await?;
    Ok(empty())
}

async fn set_tag(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let batch = RunBatch {
        tags: vec![key_value(&params.0, "tag")?],
        ..RunBatch::default()
    };
    state.models().catalog().log_batch(&run_id, &batch).await?;
    Ok(empty())
}

async fn delete_tag(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let key = params.str("key")?;
    state
        .models()
        .catalog()
        .delete_run_tag(&run_id, key)
        .await?;
    Ok(empty())
}

async fn log_batch(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let metrics = objects(&params, "metrics")?
        .into_iter()
        .enumerate()
        .map(|(index, object)| metric_point(object, &format!("metrics[{index}]")))
        .collect::<MlflowResult<Vec<_>>>()?;
    let batch = RunBatch {
        metrics,
        params: key_values(&params, "params")?,
        tags: key_values(&params, "tags")?,
    };
    state.models().catalog().log_batch(&run_id, &batch).await?;
    Ok(empty())
}

async fn log_inputs(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let mut inputs = Vec::new();
    for (index, object) in objects(&params, "datasets")?.into_iter().enumerate() {
        let path = format!("datasets[{index}]");
        let dataset = match object.get("dataset") {
            Some(Value::Object(dataset)) => dataset,
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Missing value for required parameter '{path}.dataset'."
                )));
            }
        };
        let dataset_path = format!("{path}.dataset");
        let required = |field: &str| -> MlflowResult<String> {
            nested_str(dataset, field, &dataset_path)?
                .map(str::to_owned)
                .ok_or_else(|| {
                    MlflowError::invalid(format!(
                        "Missing value for required parameter '{dataset_path}.{field}'."
                    ))
                })
        };
        let mut tags = std::collections::BTreeMap::new();
        if let Some(Value::Array(items)) = object.get("tags") {
            for (tag_index, item) in items.iter().enumerate() {
                let tag_path = format!("{path}.tags[{tag_index}]");
                let tag = item.as_object().ok_or_else(|| {
                    MlflowError::invalid(format!(
                        "Invalid value {item} for parameter '{tag_path}' supplied: expected an object"
                    ))
                })?;
                let (key, value) = key_value(tag, &tag_path)?;
                tags.insert(key, value);
            }
        }
        inputs.push(DatasetInput {
            name: required("name")?,
            digest: required("digest")?,
            source_type: required("source_type")?,
            source: required("source")?,
            schema: nested_str(dataset, "schema", &dataset_path)?.map(str::to_owned),
            profile: nested_str(dataset, "profile", &dataset_path)?.map(str::to_owned),
            tags,
        });
    }
    // Model inputs (`models`) name logged models, which the registry side
    // records; a run's dataset inputs are what is stored here.
    state
        .models()
        .catalog()
        .log_dataset_inputs(&run_id, &inputs)
        .await?;
    Ok(empty())
}

/// `LogOutputs`: the run must be active and each model must exist. The
/// association itself is the logged model's `source_run_id` (set when the
/// client creates it for this run), which `runs/get` reads back; a model
/// from another run is accepted but not listed.
async fn log_outputs(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let catalog = state.models().catalog();
    let run = catalog.tracked_run(&run_id).await?;
    if run.run.lifecycle_stage != LifecycleStage::Active {
        return Err(MlflowError::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is deleted."
        )));
    }
    for (index, object) in objects(&params, "models")?.into_iter().enumerate() {
        let path = format!("models[{index}]");
        let model_id = nested_str(object, "model_id", &path)?.ok_or_else(|| {
            MlflowError::invalid(format!(
                "Missing value for required parameter '{path}.model_id'."
            ))
        })?;
        catalog.logged_model(model_id).await?;
    }
    Ok(empty())
}

async fn search_runs(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let search = RunSearch {
        experiment_ids: params.strings("experiment_ids")?,
        filter: params.opt_str("filter")?.unwrap_or("").to_string(),
        view: view_type(&params, "run_view_type")?,
        max_results: max_results(&params)?,
        order_by: params.strings("order_by")?,
        page_token: page_token(&params)?,
    };
    let page = state.models().catalog().search_runs(&search).await?;
    #[derive(Serialize)]
    struct Page<'a> {
        runs: Vec<RunWire<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<String>,
    }
    Ok(json_of(&Page {
        runs: page.runs.iter().map(RunWire::of).collect(),
        next_page_token: page.next_page_token,
    }))
}

async fn get_metric_history(State(state): AppState, params: Params) -> MlflowResult<Response> {
    let run_id = run_id_of(&params)?;
    let key = params.str("metric_key")?;
    let page = state
        .models()
        .catalog()
        .metric_history_page(
            &run_id,
            key,
            opt_count(&params, "max_results")?,
            page_token(&params)?.as_deref(),
        )
        .await?;
    #[derive(Serialize)]
    struct Page<'a> {
        metrics: Vec<MetricWire<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<String>,
    }
    Ok(json_of(&Page {
        metrics: page.points.iter().map(MetricWire::of).collect(),
        next_page_token: page.next_page_token,
    }))
}
