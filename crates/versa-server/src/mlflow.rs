//! MLflow's scoring protocol (`mlflow models serve`): `POST /invocations` with
//! `dataframe_split`, `dataframe_records`, `instances` or `inputs`, and
//! `GET /ping`. Answers `{"predictions": [label, …]}` like an MLflow
//! classifier, from the server's default model (`versa serve --models`, or the
//! `production` alias of the only registered model). MLflow's body has no
//! place for a version, so the answering version (the canary's, when it
//! answered) is named in the [`VERSION_HEADER`] response header.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};
use versa_core::{Alias, ModelName, VersionSelector};

use crate::metrics::Protocol;
use crate::predict::{answer, check_row_count, json_kind, object_rows};
use crate::{ApiError, ServerState};

/// Response header naming the model version that answered `/invocations`.
pub(crate) const VERSION_HEADER: &str = "x-versa-model-version";

pub(crate) async fn ping() -> &'static str {
    "\n"
}

const ACCEPTED: &str = "expected JSON with one of `dataframe_split` ({\"columns\": […], \"data\": [[…]]}), `dataframe_records` ([{…}]), `instances` ([{…}]) or `inputs` ([{…}] or {\"column\": […]})";

pub(crate) async fn invocations(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<([(&'static str, String); 1], Json<Value>), ApiError> {
    let body = crate::predict::body(body)?;
    if let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && !content_type.starts_with("application/json")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content type `{content_type}` is not supported; send application/json ({ACCEPTED})"
            ),
        ));
    }
    let document: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("request body is not valid JSON: {e}; {ACCEPTED}"))
    })?;
    let rows = rows(document)?;
    check_row_count(rows.len())?;
    let (model, alias) = default_model(&state).await?;
    let (bundle, predictions) = answer(
        &state,
        &model,
        &VersionSelector::Alias(alias),
        rows,
        Protocol::Mlflow,
    )
    .await?;
    let labels: Vec<String> = predictions.into_iter().map(|p| p.label).collect();
    Ok((
        [(VERSION_HEADER, bundle.version.to_string())],
        Json(json!({ "predictions": labels })),
    ))
}

async fn default_model(state: &ServerState) -> Result<(ModelName, Alias), ApiError> {
    if let Some(model) = &state.default_model {
        return Ok(model.clone());
    }
    let models = state
        .models
        .catalog()
        .list_models()
        .await
        .map_err(ApiError::from_catalog)?;
    match models.as_slice() {
        [only] if only.aliases.contains_key("production") => Ok((
            only.name.clone(),
            Alias::new("production").map_err(|e| ApiError::bad_request(e.to_string()))?,
        )),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no default model for /invocations: start the server with --models NAME@ALIAS (or keep one model with a `production` alias)",
        )),
    }
}

fn rows(document: Value) -> Result<Vec<Map<String, Value>>, ApiError> {
    let Value::Object(mut object) = document else {
        return Err(ApiError::bad_request(format!(
            "the body is {}; {ACCEPTED}",
            json_kind(&document)
        )));
    };
    if let Some(split) = object.remove("dataframe_split") {
        return split_rows(split);
    }
    if let Some(records) = object.remove("dataframe_records") {
        return records_rows("dataframe_records", records);
    }
    for key in ["instances", "inputs"] {
        if let Some(value) = object.remove(key) {
            return match value {
                Value::Object(columns) => column_rows(key, columns),
                other => records_rows(key, other),
            };
        }
    }
    let keys: Vec<&String> = object.keys().collect();
    Err(ApiError::bad_request(format!(
        "no recognised field among {keys:?}; {ACCEPTED}"
    )))
}

fn records_rows(key: &str, value: Value) -> Result<Vec<Map<String, Value>>, ApiError> {
    match value {
        Value::Array(items) => object_rows(items),
        other => Err(ApiError::bad_request(format!(
            "`{key}` is {}; expected a list of objects",
            json_kind(&other)
        ))),
    }
}

fn split_rows(split: Value) -> Result<Vec<Map<String, Value>>, ApiError> {
    let Value::Object(mut split) = split else {
        return Err(ApiError::bad_request(
            "`dataframe_split` must be an object with `columns` and `data`",
        ));
    };
    let columns: Vec<String> = match split.remove("columns") {
        Some(Value::Array(columns)) => columns
            .into_iter()
            .map(|c| match c {
                Value::String(s) => Ok(s),
                other => Err(ApiError::bad_request(format!(
                    "`dataframe_split.columns` holds {}; expected column names",
                    json_kind(&other)
                ))),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ApiError::bad_request(
                "`dataframe_split.columns` is missing; expected a list of column names",
            ));
        }
    };
    let Some(Value::Array(data)) = split.remove("data") else {
        return Err(ApiError::bad_request(
            "`dataframe_split.data` is missing; expected a list of rows",
        ));
    };
    data.into_iter()
        .enumerate()
        .map(|(index, row)| match row {
            Value::Array(values) if values.len() == columns.len() => {
                Ok(columns.iter().cloned().zip(values).collect())
            }
            Value::Array(values) => Err(ApiError::bad_request(format!(
                "`dataframe_split.data` row {index} has {} values for {} columns",
                values.len(),
                columns.len()
            ))),
            other => Err(ApiError::bad_request(format!(
                "`dataframe_split.data` row {index} is {}; expected a list of values",
                json_kind(&other)
            ))),
        })
        .collect()
}

fn column_rows(
    key: &str,
    columns: Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let mut n_rows: Option<usize> = None;
    let mut lists = Vec::with_capacity(columns.len());
    for (name, value) in columns {
        let Value::Array(values) = value else {
            return Err(ApiError::bad_request(format!(
                "`{key}.{name}` is {}; expected a list",
                json_kind(&value)
            )));
        };
        match n_rows {
            Some(n) if n != values.len() => {
                return Err(ApiError::bad_request(format!(
                    "`{key}.{name}` has {} values but other columns have {n}",
                    values.len()
                )));
            }
            _ => n_rows = Some(values.len()),
        }
        lists.push((name, values));
    }
    let mut rows: Vec<Map<String, Value>> = (0..n_rows.unwrap_or(0)).map(|_| Map::new()).collect();
    for (name, values) in lists {
        for (row, value) in rows.iter_mut().zip(values) {
            row.insert(name.clone(), value);
        }
    }
    Ok(rows)
}
