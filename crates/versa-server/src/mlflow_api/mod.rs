//! MLflow's tracking, registry and artifact REST API, served from versa's own
//! catalog and blob store, so the `mlflow` Python client can point
//! `MLFLOW_TRACKING_URI` at `versa serve` and change nothing else.
//!
//! Shapes follow MLflow's published protos (`service.proto`,
//! `model_registry.proto`, `mlflow_artifacts.proto`): ids are strings, times
//! are milliseconds, errors are `{"error_code": "...", "message": "..."}` with
//! MLflow's status for each code. GET endpoints read their parameters from the
//! query string, the rest from a JSON body; [`Params`] gives both one face.
//!
//! Submodules own one area each: `tracking` (experiments, runs, metrics,
//! search), `registry` (registered models, versions, aliases, logged models)
//! and `artifacts` (the artifact proxy, content-addressed in the blob store).
//! This module knows no endpoint; it holds what they share.

mod artifacts;
mod registry;
mod tracking;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use versa_catalog::CatalogError;

use crate::ServerState;

/// Every MLflow endpoint, to be merged into [`crate::app`].
pub(crate) fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .merge(tracking::routes())
        .merge(registry::routes())
        .merge(artifacts::routes())
}

/// MLflow's error codes that versa answers with (`databricks.proto`'s
/// `ErrorCode`), each with the HTTP status MLflow's server gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    BadRequest,
    EndpointNotFound,
    InvalidState,
    InternalError,
}

impl ErrorCode {
    fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidParameterValue
            | ErrorCode::ResourceAlreadyExists
            | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidState | ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An MLflow error answer.
#[derive(Debug)]
pub(crate) struct MlflowError {
    code: ErrorCode,
    message: String,
}

impl MlflowError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> MlflowError {
        MlflowError {
            code,
            message: message.into(),
        }
    }

    /// `INVALID_PARAMETER_VALUE` (400).
    pub(crate) fn invalid(message: impl Into<String>) -> MlflowError {
        MlflowError::new(ErrorCode::InvalidParameterValue, message)
    }

    /// `RESOURCE_DOES_NOT_EXIST` (404).
    pub(crate) fn not_found(message: impl Into<String>) -> MlflowError {
        MlflowError::new(ErrorCode::ResourceDoesNotExist, message)
    }

    /// `RESOURCE_ALREADY_EXISTS` (400).
    pub(crate) fn already_exists(message: impl Into<String>) -> MlflowError {
        MlflowError::new(ErrorCode::ResourceAlreadyExists, message)
    }

    /// The code, for tests and logs.
    #[allow(dead_code)]
    pub(crate) fn code(&self) -> ErrorCode {
        self.code
    }
}

impl From<CatalogError> for MlflowError {
    fn from(error: CatalogError) -> MlflowError {
        let code = match &error {
            CatalogError::NotFound { .. } => ErrorCode::ResourceDoesNotExist,
            CatalogError::AlreadyExists { .. } => ErrorCode::ResourceAlreadyExists,
            CatalogError::ParamConflict { .. } | CatalogError::Invalid { .. } => {
                ErrorCode::InvalidParameterValue
            }
            CatalogError::AliasConflict { .. } => ErrorCode::InvalidState,
            _ => ErrorCode::InternalError,
        };
        if code == ErrorCode::InternalError {
            tracing::error!(error = %error, "catalog failure behind the MLflow API");
        }
        MlflowError::new(code, error.to_string())
    }
}

impl IntoResponse for MlflowError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error_code": self.code.as_str(),
            "message": self.message,
        });
        (
            self.code.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// What an MLflow handler returns.
pub(crate) type MlflowResult<T> = Result<T, MlflowError>;

/// A JSON answer with `content-type: application/json`.
pub(crate) fn json(value: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// A 200 response with `value` serialized straight to the body, for
/// responses large enough that building a [`Value`] first would cost (a
/// failure to serialize, which the wire types cannot produce, is a 500).
pub(crate) fn json_of(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(error) => MlflowError::new(
            ErrorCode::InternalError,
            format!("could not write the response: {error}"),
        )
        .into_response(),
    }
}

/// Params or tags as MLflow's repeated `{key, value}` messages, in key
/// order, serialized without building a [`Value`] per pair.
pub(crate) struct KeyValuesWire<'a>(pub(crate) &'a std::collections::BTreeMap<String, String>);

impl serde::Serialize for KeyValuesWire<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Pair<'a> {
            key: &'a str,
            value: &'a str,
        }
        serializer.collect_seq(self.0.iter().map(|(key, value)| Pair { key, value }))
    }
}

/// A request's parameters: the query string for GET (and DELETE without a
/// body), the JSON object body otherwise. Query values are strings; a key
/// given more than once becomes an array, as MLflow's repeated fields
/// (`experiment_ids`, `run_view_type`…) arrive that way.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(pub(crate) Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = MlflowError;

    async fn from_request(request: Request, state: &S) -> Result<Params, MlflowError> {
        let method = request.method().clone();
        let query = request.uri().query().map(str::to_owned);
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| MlflowError::invalid(format!("cannot read the request body: {e}")))?;
        if method == Method::GET || body.iter().all(u8::is_ascii_whitespace) {
            return Params::from_query(query.as_deref().unwrap_or(""));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(Params(map)),
            Ok(other) => Err(MlflowError::new(
                ErrorCode::BadRequest,
                format!(
                    "the request body must be a JSON object, got {}",
                    json_kind(&other)
                ),
            )),
            Err(e) => Err(MlflowError::new(
                ErrorCode::BadRequest,
                format!("the request body is not valid JSON: {e}"),
            )),
        }
    }
}

impl Params {
    /// Parses `a=1&b=x&b=y` (percent-decoded once, `+` as space).
    pub(crate) fn from_query(query: &str) -> Result<Params, MlflowError> {
        let mut map = Map::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode_query(key)?;
            let value = Value::String(percent_decode_query(value)?);
            match map.get_mut(&key) {
                None => {
                    map.insert(key, value);
                }
                Some(Value::Array(values)) => values.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
            }
        }
        Ok(Params(map))
    }

    /// A required string field.
    pub(crate) fn str(&self, key: &str) -> MlflowResult<&str> {
        self.opt_str(key)?.ok_or_else(|| {
            MlflowError::invalid(format!("Missing value for required parameter '{key}'."))
        })
    }

    /// An optional string field (a JSON string; numbers are not strings).
    pub(crate) fn opt_str(&self, key: &str) -> MlflowResult<Option<&str>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(MlflowError::invalid(format!(
                "Invalid value {other} for parameter '{key}' supplied: expected a string, got {}",
                json_kind(other)
            ))),
        }
    }

    /// An optional integer field, given as a JSON number or (from a query
    /// string, or as protobuf's JSON encodes int64) a decimal string.
    pub(crate) fn opt_i64(&self, key: &str) -> MlflowResult<Option<i64>> {
        let bad = |v: &Value| {
            MlflowError::invalid(format!(
                "Invalid value {v} for parameter '{key}' supplied: expected an integer"
            ))
        };
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(v)),
            Some(v @ Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(v)),
            Some(other) => Err(bad(other)),
        }
    }

    /// A repeated string field: a JSON array of strings, or one or more
    /// query values. Absent is empty.
    pub(crate) fn strings(&self, key: &str) -> MlflowResult<Vec<String>> {
        let bad = |v: &Value| {
            MlflowError::invalid(format!(
                "Invalid value {v} for parameter '{key}' supplied: expected a list of strings"
            ))
        };
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| bad(item)))
                .collect(),
            Some(other) => Err(bad(other)),
        }
    }

    /// The raw value, for fields with structure (`metrics`, `tags`…).
    pub(crate) fn value(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }
}

/// The JSON type name, for messages.
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

/// Decodes one query-string component: `+` is a space, `%XX` a byte; the
/// result must be UTF-8.
fn percent_decode_query(component: &str) -> MlflowResult<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        MlflowError::invalid(format!(
                            "malformed percent-encoding in query component `{component}`: \
                             `%` must be followed by two hex digits"
                        ))
                    })?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| {
        MlflowError::invalid(format!(
            "query component `{component}` does not decode to UTF-8"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_repeats_become_arrays_and_decode_once() {
        let params = Params::from_query("experiment_ids=1&experiment_ids=2&name=a+b%2Fc%2525")
            .expect("valid query");
        assert_eq!(params.strings("experiment_ids").unwrap(), ["1", "2"]);
        assert_eq!(params.str("name").unwrap(), "a b/c%25");
    }

    #[test]
    fn numbers_arrive_as_numbers_or_strings() {
        let params = Params::from_query("max_results=50").unwrap();
        assert_eq!(params.opt_i64("max_results").unwrap(), Some(50));
        let bad = Params::from_query("max_results=lots").unwrap();
        let error = bad.opt_i64("max_results").unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidParameterValue);
    }

    #[test]
    fn bad_percent_encoding_is_rejected() {
        let error = Params::from_query("path=%zz").unwrap_err();
        assert!(
            error.message.contains("two hex digits"),
            "{}",
            error.message
        );
    }

    #[test]
    fn missing_required_field_says_which() {
        let error = Params::default().str("run_id").unwrap_err();
        assert_eq!(error.code().status(), StatusCode::BAD_REQUEST);
        assert!(error.message.contains("'run_id'"));
    }
}
