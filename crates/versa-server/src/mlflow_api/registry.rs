//! MLflow's model registry (`/api/2.0/mlflow/registered-models/…`,
//! `/model-versions/…`) and MLflow 3 logged models (`/logged-models…`), over
//! versa's catalog.
//!
//! versa's own versions (trained by versa, format `versa`) appear in the same
//! shape as versions registered through this API (format `mlflow`, opaque
//! artifacts in the proxy), so `get_model_version_by_alias("churn",
//! "production")` finds what `versa quickstart` deployed. Aliases set here go
//! through the catalog's compare-and-swap with actor `mlflow-api`, so they
//! appear in `versa models alias-history` and running servers pick them up.
//!
//! A version's source is never a path on this machine: only `models:/…`,
//! `runs:/…` and `mlflow-artifacts:/…` are accepted, each resolved to an
//! `mlflow-artifacts:/` storage location served by the artifact proxy.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use serde_json::{Value, json};
use versa_catalog::{
    LoggedModel, LoggedModelStatus, ModelFormat, NewLoggedModel, NewMlflowVersion,
    OtherVersionsInStage, RegisteredModel, RegistryVersion, Stage,
};
use versa_core::{Alias, ModelName, RunId};

use super::artifacts::{self, Naming};
use super::{ErrorCode, KeyValuesWire, MlflowError, MlflowResult, Params, json};
use crate::ServerState;

/// Who alias moves made through this API are recorded as.
const ACTOR: &str = "mlflow-api";

const API: &str = "/api/2.0/mlflow";

pub(super) fn routes() -> Router<Arc<ServerState>> {
    let r = |path: &str| format!("{API}/{path}");
    Router::new()
        .route(
            &r("registered-models/create"),
            post(create_registered_model),
        )
        .route(&r("registered-models/get"), get(get_registered_model))
        .route(
            &r("registered-models/search"),
            get(search_registered_models).post(search_registered_models),
        )
        .route(
            &r("registered-models/update"),
            patch(update_registered_model),
        )
        .route(
            &r("registered-models/rename"),
            post(rename_registered_model),
        )
        .route(
            &r("registered-models/delete"),
            delete(delete_registered_model),
        )
        .route(
            &r("registered-models/set-tag"),
            post(set_registered_model_tag),
        )
        .route(
            &r("registered-models/delete-tag"),
            delete(delete_registered_model_tag),
        )
        .route(
            &r("registered-models/get-latest-versions"),
            post(get_latest_versions).get(get_latest_versions),
        )
        .route(
            &r("registered-models/alias"),
            get(get_version_by_alias)
                .post(set_alias)
                .delete(delete_alias),
        )
        .route(&r("model-versions/create"), post(create_model_version))
        .route(&r("model-versions/get"), get(get_model_version))
        .route(
            &r("model-versions/search"),
            get(search_model_versions).post(search_model_versions),
        )
        .route(&r("model-versions/update"), patch(update_model_version))
        .route(&r("model-versions/delete"), delete(delete_model_version))
        .route(&r("model-versions/set-tag"), post(set_model_version_tag))
        .route(
            &r("model-versions/delete-tag"),
            delete(delete_model_version_tag),
        )
        .route(&r("model-versions/get-download-uri"), get(get_download_uri))
        .route(
            &r("model-versions/transition-stage"),
            post(transition_stage),
        )
        .route(&r("logged-models"), post(create_logged_model))
        .route(&r("logged-models/search"), post(search_logged_models))
        .route(
            &r("logged-models/{model_id}"),
            get(get_logged_model)
                .patch(finalize_logged_model)
                .delete(delete_logged_model),
        )
        .route(
            &r("logged-models/{model_id}/tags"),
            patch(set_logged_model_tags),
        )
        .route(
            &r("logged-models/{model_id}/tags/{tag_key}"),
            delete(delete_logged_model_tag),
        )
        .route(
            &r("logged-models/{model_id}/params"),
            post(log_logged_model_params),
        )
        .route(
            &r("logged-models/{model_id}/artifacts/directories"),
            get(list_logged_model_artifacts),
        )
        .route(
            &r("logged-models/{model_id}/artifacts/files"),
            get(download_logged_model_artifact),
        )
}

// ---------------------------------------------------------------- shapes

fn version_json(entry: &RegistryVersion) -> Value {
    let version = &entry.version;
    let mut out = json!({
        "name": version.name.as_str(),
        "version": version.version.to_string(),
        "creation_timestamp": version.created_at,
        "last_updated_timestamp": entry.updated_at,
        "current_stage": entry.current_stage.as_str(),
        "description": version.description.clone().unwrap_or_default(),
        "source": version.source,
        "status": version.status.as_str(),
        "tags": KeyValuesWire(&version.tags),
        "aliases": version.aliases.iter().map(Alias::as_str).collect::<Vec<_>>(),
    });
    let fields = out.as_object_mut().expect("a JSON object literal");
    if let Some(run_id) = &version.run_id {
        fields.insert("run_id".into(), json!(run_id.as_str()));
    }
    if let Some(link) = &entry.run_link {
        fields.insert("run_link".into(), json!(link));
    }
    if let Some(model_id) = &entry.model_id {
        fields.insert("model_id".into(), json!(model_id));
    }
    // versa's test-set metrics, where MLflow 3 keeps a version's metrics.
    let metrics: Vec<Value> = version
        .metrics
        .iter()
        .filter(|(_, value)| value.is_finite())
        .map(|(key, value)| {
            json!({"key": key, "value": value, "timestamp": version.created_at, "step": 0})
        })
        .collect();
    if !metrics.is_empty() {
        fields.insert("model_metrics".into(), Value::Array(metrics));
    }
    out
}

fn registered_model_json(model: &RegisteredModel) -> Value {
    json!({
        "name": model.name.as_str(),
        "creation_timestamp": model.created_at,
        "last_updated_timestamp": model.updated_at,
        "description": model.description.clone().unwrap_or_default(),
        "latest_versions": model.latest_versions.iter().map(version_json).collect::<Vec<_>>(),
        "tags": KeyValuesWire(&model.tags),
        "aliases": model.aliases.iter()
            .map(|(alias, version)| json!({"alias": alias, "version": version.to_string()}))
            .collect::<Vec<_>>(),
    })
}

fn logged_model_json(model: &LoggedModel) -> Value {
    let mut info = json!({
        "model_id": model.model_id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.created_at,
        "last_updated_timestamp_ms": model.updated_at,
        "artifact_uri": model.artifact_location,
        "status": model.status.as_str(),
        "tags": KeyValuesWire(&model.tags),
        "registrations": [],
    });
    let fields = info.as_object_mut().expect("a JSON object literal");
    for (key, value) in [
        ("model_type", &model.model_type),
        ("source_run_id", &model.source_run_id),
        ("status_message", &model.status_message),
    ] {
        if let Some(value) = value {
            fields.insert(key.into(), json!(value));
        }
    }
    json!({
        "info": info,
        "data": {"params": KeyValuesWire(&model.params), "metrics": []},
    })
}

// ---------------------------------------------------------------- parameters

fn model_name(text: &str) -> MlflowResult<ModelName> {
    ModelName::new(text).map_err(|e| MlflowError::invalid(format!("invalid model name: {e}")))
}

fn alias_name(text: &str) -> MlflowResult<Alias> {
    Alias::new(text).map_err(|e| MlflowError::invalid(format!("invalid alias: {e}")))
}

fn version_number(params: &Params) -> MlflowResult<u32> {
    let text = match params.value("version") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => params.str("version")?.to_string(),
    };
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            MlflowError::invalid(format!(
                "Invalid value {text:?} for parameter 'version': expected a version number from 1"
            ))
        })
}

/// `[{key, value}]` pairs (tags, params).
fn pairs(params: &Params, field: &str) -> MlflowResult<Vec<(String, String)>> {
    let Some(value) = params.value(field) else {
        return Ok(Vec::new());
    };
    let bad = || {
        MlflowError::invalid(format!(
            "Invalid value for parameter '{field}': expected a list of {{\"key\": string, \"value\": string}}"
        ))
    };
    let items = value.as_array().ok_or_else(bad)?;
    items
        .iter()
        .map(|item| {
            let key = item.get("key").and_then(Value::as_str).ok_or_else(bad)?;
            let value = match item.get("value") {
                None | Some(Value::Null) => "",
                Some(Value::String(s)) => s.as_str(),
                Some(_) => return Err(bad()),
            };
            if key.is_empty() {
                return Err(MlflowError::invalid(format!("a key in '{field}' is empty")));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

fn max_results(params: &Params, default: i64) -> MlflowResult<usize> {
    let max = params.opt_i64("max_results")?.unwrap_or(default);
    if !(1..=200_000).contains(&max) {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max} for parameter 'max_results': expected 1 to 200000"
        )));
    }
    Ok(usize::try_from(max).unwrap_or(usize::MAX))
}

fn page_start(params: &Params) -> MlflowResult<usize> {
    match params.opt_str("page_token")? {
        None | Some("") => Ok(0),
        Some(token) => token.parse().map_err(|_| {
            MlflowError::invalid(format!(
                "Invalid page token {token:?}: not one this server gave"
            ))
        }),
    }
}

/// One page of `items` and the token of the next (empty when none).
fn page<T>(items: Vec<T>, start: usize, max: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = start.saturating_add(max).min(total);
    let next = (end < total).then(|| end.to_string());
    (items.into_iter().skip(start).take(max).collect(), next)
}

// ---------------------------------------------------------------- filters

/// One `key op value` clause of an MLflow search filter (clauses joined by AND).
#[derive(Debug)]
struct Clause {
    key: String,
    op: String,
    values: Vec<String>,
}

/// Parses `name = 'a' AND tags.k LIKE 'x%' AND run_id IN ('1', '2')`.
fn parse_filter(filter: &str) -> MlflowResult<Vec<Clause>> {
    let bad = |why: String| MlflowError::invalid(format!("Invalid filter {filter:?}: {why}"));
    let chars: Vec<char> = filter.chars().collect();
    let mut i = 0;
    let mut clauses = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len()
            && (chars[*i].is_alphanumeric() || matches!(chars[*i], '_' | '.' | '`' | '"' | '-'))
        {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    let quoted = |i: &mut usize| -> MlflowResult<String> {
        let quote = chars[*i];
        *i += 1;
        let start = *i;
        while *i < chars.len() && chars[*i] != quote {
            *i += 1;
        }
        if *i >= chars.len() {
            return Err(bad("an unterminated string".into()));
        }
        let text = chars[start..*i].iter().collect();
        *i += 1;
        Ok(text)
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        let key = word(&mut i).replace(['`', '"'], "");
        if key.is_empty() {
            return Err(bad(format!("expected a key at character {i}")));
        }
        skip_ws(&mut i);
        let op = if i < chars.len() && matches!(chars[i], '=' | '!' | '<' | '>') {
            let start = i;
            while i < chars.len() && matches!(chars[i], '=' | '!' | '<' | '>') {
                i += 1;
            }
            chars[start..i].iter().collect::<String>()
        } else {
            word(&mut i).to_ascii_uppercase()
        };
        skip_ws(&mut i);
        let mut values = Vec::new();
        if i < chars.len() && chars[i] == '(' {
            i += 1;
            loop {
                skip_ws(&mut i);
                if i < chars.len() && matches!(chars[i], '\'' | '"') {
                    values.push(quoted(&mut i)?);
                } else {
                    return Err(bad("expected a quoted value in the list".into()));
                }
                skip_ws(&mut i);
                match chars.get(i) {
                    Some(',') => i += 1,
                    Some(')') => {
                        i += 1;
                        break;
                    }
                    _ => return Err(bad("expected `,` or `)` in the list".into())),
                }
            }
        } else if i < chars.len() && matches!(chars[i], '\'' | '"') {
            values.push(quoted(&mut i)?);
        } else {
            let number = word(&mut i);
            if number.is_empty() {
                return Err(bad(format!("expected a value after `{key} {op}`")));
            }
            values.push(number);
        }
        if !matches!(op.as_str(), "=" | "!=" | "LIKE" | "ILIKE" | "IN") {
            return Err(bad(format!(
                "unsupported comparison `{op}`; use =, !=, LIKE, ILIKE or IN"
            )));
        }
        clauses.push(Clause { key, op, values });
        skip_ws(&mut i);
        if i < chars.len() {
            let joiner = word(&mut i);
            if !joiner.eq_ignore_ascii_case("and") {
                return Err(bad(format!(
                    "expected AND between clauses, found `{joiner}`"
                )));
            }
        }
    }
    Ok(clauses)
}

/// SQL LIKE: `%` any run, `_` one character.
fn like(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|skip| like(rest, &text[skip..])),
        Some(('_', rest)) => !text.is_empty() && like(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && like(rest, &text[1..]),
    }
}

impl Clause {
    fn matches(&self, actual: Option<&str>) -> bool {
        let Some(actual) = actual else {
            return self.op == "!=";
        };
        match self.op.as_str() {
            "=" => self.values.iter().any(|v| v == actual),
            "!=" => self.values.iter().all(|v| v != actual),
            "IN" => self.values.iter().any(|v| v == actual),
            "LIKE" => {
                let text: Vec<char> = actual.chars().collect();
                self.values
                    .iter()
                    .any(|v| like(&v.chars().collect::<Vec<_>>(), &text))
            }
            _ => {
                let text: Vec<char> = actual.to_lowercase().chars().collect();
                self.values
                    .iter()
                    .any(|v| like(&v.to_lowercase().chars().collect::<Vec<_>>(), &text))
            }
        }
    }

    /// The tag key, for `tags.k` / `tag.k`.
    fn tag_key(&self) -> Option<&str> {
        self.key
            .strip_prefix("tags.")
            .or_else(|| self.key.strip_prefix("tag."))
    }
}

fn unsupported_key(clause: &Clause, accepted: &str) -> MlflowError {
    MlflowError::invalid(format!(
        "Invalid filter: unsupported key `{}`; accepted: {accepted}",
        clause.key
    ))
}

fn version_matches(clauses: &[Clause], entry: &RegistryVersion) -> MlflowResult<bool> {
    let version = &entry.version;
    for clause in clauses {
        let number = version.version.to_string();
        let actual: Option<&str> = match clause.key.as_str() {
            "name" => Some(version.name.as_str()),
            "run_id" => version.run_id.as_ref().map(RunId::as_str),
            "source_path" | "source" => Some(&version.source),
            "version_number" | "version" => Some(&number),
            "current_stage" => Some(entry.current_stage.as_str()),
            _ => match clause.tag_key() {
                Some(key) => version.tags.get(key).map(String::as_str),
                None => {
                    return Err(unsupported_key(
                        clause,
                        "name, run_id, source_path, version_number, tags.<key>",
                    ));
                }
            },
        };
        if !clause.matches(actual) {
            return Ok(false);
        }
    }
    Ok(true)
}

// ---------------------------------------------------------------- registered models

async fn create_registered_model(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let tags = pairs(&params, "tags")?;
    let model = state
        .models()
        .catalog()
        .create_registered_model(&name, params.opt_str("description")?, &tags)
        .await?;
    Ok(json(
        json!({"registered_model": registered_model_json(&model)}),
    ))
}

async fn get_registered_model(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let model = state.models().catalog().registered_model(&name).await?;
    Ok(json(
        json!({"registered_model": registered_model_json(&model)}),
    ))
}

async fn search_registered_models(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let clauses = parse_filter(params.opt_str("filter")?.unwrap_or(""))?;
    let max = max_results(&params, 100)?;
    let start = page_start(&params)?;
    let mut models = Vec::new();
    for model in state.models().catalog().registered_models().await? {
        let mut keep = true;
        for clause in &clauses {
            let actual = match (clause.key.as_str(), clause.tag_key()) {
                ("name", _) => Some(model.name.as_str()),
                (_, Some(key)) => model.tags.get(key).map(String::as_str),
                _ => return Err(unsupported_key(clause, "name, tags.<key>")),
            };
            keep &= clause.matches(actual);
        }
        if keep {
            models.push(model);
        }
    }
    for order in params.strings("order_by")?.iter().rev() {
        let mut words = order.split_whitespace();
        let key = words.next().unwrap_or("");
        let descending = words.next().is_some_and(|w| w.eq_ignore_ascii_case("desc"));
        match key {
            "name" => models.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str())),
            "last_updated_timestamp" | "timestamp" => models.sort_by_key(|m| m.updated_at),
            other => {
                return Err(MlflowError::invalid(format!(
                    "Invalid order_by key `{other}`: use name, last_updated_timestamp or timestamp"
                )));
            }
        }
        if descending {
            models.reverse();
        }
    }
    let (models, next) = page(models, start, max);
    let mut out = json!({
        "registered_models": models.iter().map(registered_model_json).collect::<Vec<_>>()
    });
    if let Some(token) = next {
        out["next_page_token"] = json!(token);
    }
    Ok(json(out))
}

async fn update_registered_model(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let description = params.opt_str("description")?.unwrap_or("");
    let model = state
        .models()
        .catalog()
        .update_registered_model(&name, description)
        .await?;
    Ok(json(
        json!({"registered_model": registered_model_json(&model)}),
    ))
}

async fn rename_registered_model(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let new_name = model_name(params.str("new_name")?)?;
    let model = state
        .models()
        .catalog()
        .rename_registered_model(&name, &new_name)
        .await?;
    Ok(json(
        json!({"registered_model": registered_model_json(&model)}),
    ))
}

async fn delete_registered_model(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    state
        .models()
        .catalog()
        .delete_registered_model(&name, ACTOR)
        .await?;
    Ok(json(json!({})))
}

async fn set_registered_model_tag(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let key = params.str("key")?;
    let value = params.opt_str("value")?.unwrap_or("");
    state
        .models()
        .catalog()
        .set_registered_model_tag(&name, key, value)
        .await?;
    Ok(json(json!({})))
}

async fn delete_registered_model_tag(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    state
        .models()
        .catalog()
        .delete_registered_model_tag(&name, params.str("key")?)
        .await?;
    Ok(json(json!({})))
}

async fn get_latest_versions(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let stages: Vec<Stage> = params
        .strings("stages")?
        .iter()
        .map(|s| s.parse::<Stage>())
        .collect::<Result<_, _>>()?;
    let model = state.models().catalog().registered_model(&name).await?;
    let versions: Vec<Value> = model
        .latest_versions
        .iter()
        .filter(|v| stages.is_empty() || stages.contains(&v.current_stage))
        .map(version_json)
        .collect();
    Ok(json(json!({"model_versions": versions})))
}

// ---------------------------------------------------------------- aliases

async fn set_alias(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let alias = alias_name(params.str("alias")?)?;
    let version = version_number(&params)?;
    state
        .models()
        .catalog()
        .set_alias(
            &name,
            &alias,
            version,
            versa_catalog::AliasExpectation::Any,
            ACTOR,
        )
        .await?;
    Ok(json(json!({})))
}

async fn delete_alias(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let alias = alias_name(params.str("alias")?)?;
    state
        .models()
        .catalog()
        .delete_alias(&name, &alias, ACTOR)
        .await?;
    Ok(json(json!({})))
}

async fn get_version_by_alias(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let alias = alias_name(params.str("alias")?)?;
    let catalog = state.models().catalog();
    // As MLflow's stores do: an unknown model is RESOURCE_DOES_NOT_EXIST,
    // an unknown alias of a known model INVALID_PARAMETER_VALUE.
    catalog.registered_model(&name).await?;
    let version = catalog
        .resolve(&name, &versa_core::VersionSelector::Alias(alias.clone()))
        .await
        .map_err(|error| match error {
            versa_catalog::CatalogError::NotFound { .. } => {
                MlflowError::invalid(format!("Registered model alias {alias} not found."))
            }
            other => MlflowError::from(other),
        })?;
    let entry = catalog.registry_version(&name, version.version).await?;
    Ok(json(json!({"model_version": version_json(&entry)})))
}

// ---------------------------------------------------------------- model versions

/// Where a version's artifacts are, from its source (see the module doc).
async fn storage_of_source(
    state: &ServerState,
    source: &str,
    model_id: Option<&str>,
) -> MlflowResult<(String, Option<String>, Option<RunId>)> {
    let refuse = |why: &str| {
        MlflowError::invalid(format!(
            "Invalid model version source: '{source}': {why}; accepted: models:/<model_id>, \
             models:/<name>/<version>, runs:/<run_id>/<path>, mlflow-artifacts:/<path>"
        ))
    };
    let catalog = state.models().catalog();
    if let Some(rest) = source.strip_prefix("models:/") {
        let rest = artifacts::decode_artifact_path(rest)?;
        if rest.starts_with("m-") && !rest.contains('/') {
            let model = catalog.logged_model(&rest).await?;
            if model_id.is_some_and(|id| id != rest) {
                return Err(refuse(
                    "the model_id parameter names a different logged model",
                ));
            }
            let run = model
                .source_run_id
                .as_deref()
                .and_then(|id| RunId::new(id).ok());
            return Ok((model.artifact_location, Some(rest), run));
        }
        let (name, version) = rest
            .split_once('/')
            .ok_or_else(|| refuse("expected models:/<name>/<version>"))?;
        let name = model_name(name)?;
        let version: u32 = version
            .parse()
            .map_err(|_| refuse("the version is not a number"))?;
        let entry = catalog.registry_version(&name, version).await?;
        let location = entry.storage_location.ok_or_else(|| {
            refuse("that version is a versa model, which has no MLflow artifacts")
        })?;
        return Ok((location, entry.model_id, entry.version.run_id));
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let rest = artifacts::decode_artifact_path(rest)?;
        let (run_id, path) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
        let run_id = RunId::new(run_id).map_err(|e| refuse(&e.to_string()))?;
        let run = catalog.run(&run_id).await?;
        let root = artifacts::path_of_uri(&run.run.artifact_uri)?.ok_or_else(|| {
            refuse("the run's artifacts are not stored in this server's artifact proxy")
        })?;
        let location = if path.is_empty() {
            format!("{}/{root}", artifacts::SCHEME)
        } else {
            format!("{}/{root}/{path}", artifacts::SCHEME)
        };
        return Ok((location, None, Some(run_id)));
    }
    if source.starts_with(artifacts::SCHEME) {
        let path = artifacts::path_of_uri(source)?.ok_or_else(|| refuse("no path"))?;
        return Ok((format!("{}/{path}", artifacts::SCHEME), None, None));
    }
    Err(refuse(
        "only sources stored in this server are accepted, never a local path",
    ))
}

async fn create_model_version(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let source = params.str("source")?.to_string();
    let model_id = params.opt_str("model_id")?.filter(|id| !id.is_empty());
    let (storage_location, found_model_id, source_run) =
        storage_of_source(&state, &source, model_id).await?;
    let run_id = match params.opt_str("run_id")?.filter(|id| !id.is_empty()) {
        Some(id) => Some(RunId::new(id).map_err(|e| MlflowError::invalid(e.to_string()))?),
        None => source_run,
    };
    let directory = artifacts::path_of_uri(&storage_location)?.unwrap_or_default();
    let tree_digest = artifacts::tree_digest(&state, &directory).await?;
    let entry = state
        .models()
        .catalog()
        .create_mlflow_version(NewMlflowVersion {
            name,
            source,
            storage_location,
            tree_digest,
            run_id,
            model_id: model_id.map(str::to_string).or(found_model_id),
            run_link: params.opt_str("run_link")?.map(str::to_string),
            description: params.opt_str("description")?.map(str::to_string),
            tags: pairs(&params, "tags")?,
        })
        .await?;
    Ok(json(json!({"model_version": version_json(&entry)})))
}

async fn get_model_version(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let version = version_number(&params)?;
    let entry = state
        .models()
        .catalog()
        .registry_version(&name, version)
        .await?;
    Ok(json(json!({"model_version": version_json(&entry)})))
}

async fn search_model_versions(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let clauses = parse_filter(params.opt_str("filter")?.unwrap_or(""))?;
    // Unknown keys are refused even when there is nothing to compare them with.
    for clause in &clauses {
        let known = [
            "name",
            "run_id",
            "source_path",
            "source",
            "version_number",
            "version",
            "current_stage",
        ];
        if !known.contains(&clause.key.as_str()) && clause.tag_key().is_none() {
            return Err(unsupported_key(
                clause,
                "name, run_id, source_path, version_number, tags.<key>",
            ));
        }
    }
    let max = max_results(&params, 10_000)?;
    let start = page_start(&params)?;
    let catalog = state.models().catalog();
    // A `name = 'x'` clause narrows the scan to one model.
    let names: Vec<ModelName> = match clauses.iter().find(|c| c.key == "name" && c.op == "=") {
        Some(clause) => clause
            .values
            .iter()
            .filter_map(|v| ModelName::new(v).ok())
            .collect(),
        None => catalog
            .list_models()
            .await?
            .into_iter()
            .map(|m| m.name)
            .collect(),
    };
    let mut found = Vec::new();
    for name in names {
        let versions = match catalog.registry_versions(&name).await {
            Ok(versions) => versions,
            Err(versa_catalog::CatalogError::NotFound { .. }) => continue,
            Err(other) => return Err(other.into()),
        };
        for entry in versions {
            if version_matches(&clauses, &entry)? {
                found.push(entry);
            }
        }
    }
    // MLflow's default order: newest first.
    found.sort_by(|a, b| {
        (
            b.version.created_at,
            b.version.name.as_str(),
            b.version.version,
        )
            .cmp(&(
                a.version.created_at,
                a.version.name.as_str(),
                a.version.version,
            ))
    });
    let (found, next) = page(found, start, max);
    let mut out = json!({"model_versions": found.iter().map(version_json).collect::<Vec<_>>()});
    if let Some(token) = next {
        out["next_page_token"] = json!(token);
    }
    Ok(json(out))
}

async fn update_model_version(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let version = version_number(&params)?;
    let description = params.opt_str("description")?.unwrap_or("");
    let entry = state
        .models()
        .catalog()
        .update_model_version(&name, version, description)
        .await?;
    Ok(json(json!({"model_version": version_json(&entry)})))
}

async fn delete_model_version(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let version = version_number(&params)?;
    state
        .models()
        .catalog()
        .delete_model_version(&name, version, ACTOR)
        .await?;
    Ok(json(json!({})))
}

async fn set_model_version_tag(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let version = version_number(&params)?;
    let key = params.str("key")?;
    let value = params.opt_str("value")?.unwrap_or("");
    state
        .models()
        .catalog()
        .set_model_version_tag(&name, version, key, value)
        .await?;
    Ok(json(json!({})))
}

async fn delete_model_version_tag(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let version = version_number(&params)?;
    state
        .models()
        .catalog()
        .delete_model_version_tag(&name, version, params.str("key")?)
        .await?;
    Ok(json(json!({})))
}

async fn get_download_uri(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let version = version_number(&params)?;
    let entry = state
        .models()
        .catalog()
        .registry_version(&name, version)
        .await?;
    match (entry.version.format, entry.storage_location) {
        (ModelFormat::Mlflow, Some(location)) => Ok(json(json!({"artifact_uri": location}))),
        _ => Err(MlflowError::invalid(format!(
            "model version {name}/{version} is a versa model (source {}), which has no MLflow \
             artifacts to download; serve it with `versa serve` (POST /invocations) or predict \
             with `versa predict {name}/{version}`",
            entry.version.source
        ))),
    }
}

async fn transition_stage(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let name = model_name(params.str("name")?)?;
    let version = version_number(&params)?;
    let stage: Stage = params.str("stage")?.parse()?;
    let archive = match params.value("archive_existing_versions") {
        Some(Value::Bool(true)) => OtherVersionsInStage::Archive,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => OtherVersionsInStage::Archive,
        _ => OtherVersionsInStage::Keep,
    };
    let entry = state
        .models()
        .catalog()
        .transition_stage(&name, version, stage, archive)
        .await?;
    Ok(json(json!({"model_version": version_json(&entry)})))
}

// ---------------------------------------------------------------- logged models

async fn create_logged_model(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let experiment_id = params.str("experiment_id")?.to_string();
    let catalog = state.models().catalog();
    let experiment = catalog
        .list_experiments()
        .await?
        .into_iter()
        .find(|e| e.experiment_id == experiment_id)
        .ok_or_else(|| {
            MlflowError::not_found(format!("No Experiment with id={experiment_id} exists"))
        })?;
    // Logged models' artifacts always go to the proxy, under the
    // experiment's root when that is a proxy URI.
    let root = match artifacts::path_of_uri(&experiment.artifact_location) {
        Ok(Some(path)) => format!("{}/{path}", artifacts::SCHEME),
        _ => format!("{}/{experiment_id}", artifacts::SCHEME),
    };
    let name = params
        .opt_str("name")?
        .filter(|n| !n.is_empty())
        .unwrap_or("model")
        .to_string();
    let model = catalog
        .create_logged_model(
            NewLoggedModel {
                experiment_id,
                name,
                model_type: params.opt_str("model_type")?.map(str::to_string),
                source_run_id: params.opt_str("source_run_id")?.map(str::to_string),
                params: pairs(&params, "params")?,
                tags: pairs(&params, "tags")?,
            },
            &root,
        )
        .await?;
    Ok(json(json!({"model": logged_model_json(&model)})))
}

async fn get_logged_model(
    State(state): State<Arc<ServerState>>,
    Path(model_id): Path<String>,
) -> MlflowResult<Response> {
    let model = state.models().catalog().logged_model(&model_id).await?;
    Ok(json(json!({"model": logged_model_json(&model)})))
}

async fn finalize_logged_model(
    State(state): State<Arc<ServerState>>,
    Path(model_id): Path<String>,
    params: Params,
) -> MlflowResult<Response> {
    let status = match params.value("status") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(1) => LoggedModelStatus::Pending,
            Some(2) => LoggedModelStatus::Ready,
            Some(3) => LoggedModelStatus::UploadFailed,
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid logged model status {n}"
                )));
            }
        },
        _ => params.str("status")?.parse()?,
    };
    let model = state
        .models()
        .catalog()
        .set_logged_model_status(&model_id, status, params.opt_str("status_message")?)
        .await?;
    Ok(json(json!({"model": logged_model_json(&model)})))
}

async fn delete_logged_model(
    State(state): State<Arc<ServerState>>,
    Path(model_id): Path<String>,
) -> MlflowResult<Response> {
    state
        .models()
        .catalog()
        .delete_logged_model(&model_id)
        .await?;
    Ok(json(json!({})))
}

async fn search_logged_models(
    State(state): State<Arc<ServerState>>,
    params: Params,
) -> MlflowResult<Response> {
    let clauses = parse_filter(params.opt_str("filter")?.unwrap_or(""))?;
    let max = max_results(&params, 100)?;
    let start = page_start(&params)?;
    let experiment_ids = params.strings("experiment_ids")?;
    let mut found = Vec::new();
    for model in state
        .models()
        .catalog()
        .logged_models(&experiment_ids)
        .await?
    {
        let mut keep = true;
        for clause in &clauses {
            let actual = match (clause.key.as_str(), clause.tag_key()) {
                ("name", _) => Some(model.name.as_str()),
                ("model_id", _) => Some(model.model_id.as_str()),
                ("source_run_id", _) => model.source_run_id.as_deref(),
                ("status", _) => Some(model.status.as_str()),
                ("model_type", _) => model.model_type.as_deref(),
                (_, Some(key)) => model.tags.get(key).map(String::as_str),
                _ => match clause.key.strip_prefix("params.") {
                    Some(key) => model.params.get(key).map(String::as_str),
                    None => {
                        return Err(unsupported_key(
                            clause,
                            "name, model_id, source_run_id, status, model_type, tags.<key>, params.<key>",
                        ));
                    }
                },
            };
            keep &= clause.matches(actual);
        }
        if keep {
            found.push(model);
        }
    }
    let (found, next) = page(found, start, max);
    let mut out = json!({"models": found.iter().map(logged_model_json).collect::<Vec<_>>()});
    if let Some(token) = next {
        out["next_page_token"] = json!(token);
    }
    Ok(json(out))
}

async fn set_logged_model_tags(
    State(state): State<Arc<ServerState>>,
    Path(model_id): Path<String>,
    params: Params,
) -> MlflowResult<Response> {
    state
        .models()
        .catalog()
        .set_logged_model_tags(&model_id, &pairs(&params, "tags")?)
        .await?;
    Ok(json(json!({})))
}

async fn delete_logged_model_tag(
    State(state): State<Arc<ServerState>>,
    Path((model_id, tag_key)): Path<(String, String)>,
) -> MlflowResult<Response> {
    state
        .models()
        .catalog()
        .delete_logged_model_tag(&model_id, &tag_key)
        .await?;
    Ok(json(json!({})))
}

async fn log_logged_model_params(
    State(state): State<Arc<ServerState>>,
    Path(model_id): Path<String>,
    params: Params,
) -> MlflowResult<Response> {
    state
        .models()
        .catalog()
        .log_logged_model_params(&model_id, &pairs(&params, "params")?)
        .await?;
    Ok(json(json!({})))
}

/// The proxy directory of a logged model's artifacts.
async fn logged_model_root(
    state: &ServerState,
    model_id: &str,
) -> MlflowResult<(LoggedModel, String)> {
    let model = state.models().catalog().logged_model(model_id).await?;
    let root = artifacts::path_of_uri(&model.artifact_location)?.ok_or_else(|| {
        MlflowError::new(
            ErrorCode::InvalidState,
            format!(
                "logged model {model_id} keeps its artifacts at {}, outside this server",
                model.artifact_location
            ),
        )
    })?;
    Ok((model, root))
}

async fn list_logged_model_artifacts(
    State(state): State<Arc<ServerState>>,
    Path(model_id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> MlflowResult<Response> {
    let (model, root) = logged_model_root(&state, &model_id).await?;
    let directory = match query.get("artifact_directory_path").map(String::as_str) {
        None | Some("") => root.clone(),
        Some(path) => {
            artifacts::check_artifact_path(path)?;
            format!("{root}/{path}")
        }
    };
    let files =
        artifacts::list_directory(&state, &directory, Naming::RelativeTo(root.len())).await?;
    Ok(json(
        json!({"root_uri": model.artifact_location, "files": files}),
    ))
}

async fn download_logged_model_artifact(
    State(state): State<Arc<ServerState>>,
    Path(model_id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> MlflowResult<Response> {
    let (_, root) = logged_model_root(&state, &model_id).await?;
    let path = query.get("artifact_file_path").ok_or_else(|| {
        MlflowError::invalid("Missing value for required parameter 'artifact_file_path'.")
    })?;
    artifacts::check_artifact_path(path)?;
    let full = format!("{root}/{path}");
    let bytes = artifacts::read_artifact(&state, &full).await?;
    Ok(artifacts::file_response(&full, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_match() {
        let clauses =
            parse_filter("name = 'churn' AND tags.team LIKE 'ml%' and run_id IN ('a', 'b')")
                .unwrap();
        assert_eq!(clauses.len(), 3);
        assert!(clauses[0].matches(Some("churn")));
        assert!(!clauses[0].matches(Some("churn2")));
        assert!(clauses[1].matches(Some("ml-platform")));
        assert!(!clauses[1].matches(None));
        assert!(clauses[2].matches(Some("b")));
        assert!(parse_filter("name ~ 'x'").is_err());
        assert!(parse_filter("name = 'x").is_err());
        assert!(parse_filter("name = 'x' OR name = 'y'").is_err());
    }

    #[test]
    fn pages_carry_a_next_token_only_when_more_remain() {
        let (first, next) = page((1..=5).collect(), 0, 2);
        assert_eq!((first, next.as_deref()), (vec![1, 2], Some("2")));
        let (last, next) = page((1..=5).collect(), 4, 2);
        assert_eq!((last, next), (vec![5], None));
    }
}
