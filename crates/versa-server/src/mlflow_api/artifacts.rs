//! MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts…`): what the
//! client's `mlflow-artifacts:/` repository uploads, downloads, lists and
//! deletes. Bytes go to the blob store (content-addressed, verified on read);
//! the catalog's artifact index maps each path to its blob. versa never
//! parses, unpickles or runs an uploaded file: it returns the same bytes.
//!
//! Paths are the attack surface (MLflow's CVE-2023-1177, -2356, -2780,
//! -6730, CVE-2024-1560, -1593 were all path tricks), so they are decoded
//! here exactly once, from the raw request path rather than a router
//! extractor, and refused when anything in them could mean something other
//! than a plain relative name: `..` or `.` or empty segments, a leading `/`
//! or drive letter, a backslash, `;`, `#`, `?`, NUL or another control
//! character, or a `%XX` still present after the one decoding (a second
//! layer of encoding). The same rules apply to the `path` of a listing and to
//! registry sources (see `registry`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use versa_core::{Digest, Hasher};

use super::{MlflowError, MlflowResult, Params, json};
use crate::ServerState;

/// Where the proxy's routes live.
const PREFIX: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// The largest artifact one PUT may upload (the whole file is held in memory
/// while it is hashed and stored).
pub(super) const MAX_ARTIFACT_BYTES: usize = 512 * 1024 * 1024;

/// The URI scheme of artifacts served here.
pub(super) const SCHEME: &str = "mlflow-artifacts:";

pub(super) fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route(PREFIX, get(list))
        .route(
            &format!("{PREFIX}/{{*path}}"),
            get(download).put(upload).delete(delete),
        )
        .layer(DefaultBodyLimit::max(MAX_ARTIFACT_BYTES))
}

/// Decodes one raw URL path (or URI path part) exactly once and checks it is
/// a plain relative artifact path.
pub(crate) fn decode_artifact_path(raw: &str) -> MlflowResult<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let value = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| {
                    MlflowError::invalid(format!(
                        "invalid artifact path `{}`: `%` must be followed by two hex digits",
                        raw.escape_debug()
                    ))
                })?;
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| {
        MlflowError::invalid(format!(
            "invalid artifact path `{}`: it does not decode to UTF-8",
            raw.escape_debug()
        ))
    })?;
    check_artifact_path(&decoded)?;
    Ok(decoded)
}

/// Checks an already-decoded artifact path (see the module doc for the rules).
pub(crate) fn check_artifact_path(path: &str) -> MlflowResult<()> {
    let refuse = |why: &str| {
        Err(MlflowError::invalid(format!(
            "invalid artifact path `{}`: {why}; expected a relative path of `/`-separated names",
            path.escape_debug()
        )))
    };
    if path.is_empty() {
        return refuse("it is empty");
    }
    if path.starts_with('/') {
        return refuse("it is absolute");
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return refuse("it starts with a drive letter");
    }
    if let Some(bad) = path
        .chars()
        .find(|c| matches!(c, '\\' | ';' | '#' | '?') || c.is_control())
    {
        return refuse(&format!("it contains {:?}", bad));
    }
    let double_encoded = bytes
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit());
    if double_encoded {
        return refuse("it is percent-encoded twice");
    }
    for segment in path.split('/') {
        match segment {
            ".." => return refuse("it has a `..` segment"),
            "." => return refuse("it has a `.` segment"),
            "" => return refuse("it has an empty segment (`//` or a trailing `/`)"),
            _ => {}
        }
    }
    Ok(())
}

/// The artifact path inside an `mlflow-artifacts:/…` URI (`None` for other
/// schemes). The path part is decoded once and checked.
pub(crate) fn path_of_uri(uri: &str) -> MlflowResult<Option<String>> {
    let Some(rest) = uri.strip_prefix(SCHEME) else {
        return Ok(None);
    };
    // `mlflow-artifacts:/p`, `mlflow-artifacts:///p` or with an authority
    // (`mlflow-artifacts://host:port/p`), as MLflow's client accepts.
    let path = if let Some(after) = rest.strip_prefix("//") {
        after.split_once('/').map(|(_, path)| path).unwrap_or("")
    } else {
        rest.strip_prefix('/').unwrap_or(rest)
    };
    decode_artifact_path(path).map(Some)
}

/// The digest of every file under `directory` (relative path and blob
/// digest, sorted): what an MLflow-format version's digests record.
pub(crate) async fn tree_digest(state: &ServerState, directory: &str) -> MlflowResult<Digest> {
    let entries = state.models().catalog().artifacts_under(directory).await?;
    let mut hasher = Hasher::new();
    hasher.update(b"versa-artifact-tree/1\n");
    for entry in &entries {
        let relative = &entry.path[directory.len() + 1..];
        hasher
            .update(relative.as_bytes())
            .update(b"\0")
            .update(entry.digest.to_string().as_bytes())
            .update(b"\n");
    }
    Ok(hasher.finish())
}

/// The raw (still encoded) artifact path of a request under [`PREFIX`].
fn raw_path(uri: &Uri) -> &str {
    let path = uri.path();
    path.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or("")
}

async fn upload(State(state): State<Arc<ServerState>>, uri: Uri, body: Body) -> Response {
    let result = async {
        let path = decode_artifact_path(raw_path(&uri))?;
        let bytes = axum::body::to_bytes(body, MAX_ARTIFACT_BYTES)
            .await
            .map_err(|e| {
                MlflowError::invalid(format!(
                    "cannot read the upload of `{path}` (at most {MAX_ARTIFACT_BYTES} bytes): {e}"
                ))
            })?;
        let size = bytes.len() as u64;
        let digest = state.models().blobs().put(bytes).await.map_err(|e| {
            tracing::error!(error = %e, path, "cannot store an uploaded artifact");
            MlflowError::new(
                super::ErrorCode::InternalError,
                format!("cannot store `{path}`: {e}"),
            )
        })?;
        // The blob is durable before the index names it.
        state
            .models()
            .catalog()
            .put_artifact(&path, &digest, size)
            .await?;
        Ok::<_, MlflowError>(json(json!({})))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn download(State(state): State<Arc<ServerState>>, uri: Uri) -> Response {
    let result = async {
        let path = decode_artifact_path(raw_path(&uri))?;
        let bytes = read_artifact(&state, &path).await?;
        Ok::<_, MlflowError>(file_response(&path, bytes))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The bytes of one stored file, verified against its digest.
pub(crate) async fn read_artifact(
    state: &ServerState,
    path: &str,
) -> MlflowResult<axum::body::Bytes> {
    let entry = state
        .models()
        .catalog()
        .artifact(path)
        .await?
        .ok_or_else(|| MlflowError::not_found(format!("artifact `{path}` does not exist")))?;
    state
        .models()
        .blobs()
        .get(&entry.digest)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, path, "cannot read a stored artifact");
            MlflowError::new(
                super::ErrorCode::InternalError,
                format!("cannot read `{path}`: {e}"),
            )
        })
}

/// Bytes as a download: never rendered by a browser (no sniffing, attachment).
pub(crate) fn file_response(path: &str, bytes: axum::body::Bytes) -> Response {
    let file_name = path.rsplit('/').next().unwrap_or(path).replace('"', "_");
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}

async fn delete(State(state): State<Arc<ServerState>>, uri: Uri) -> Response {
    let result = async {
        let path = decode_artifact_path(raw_path(&uri))?;
        let removed = state.models().catalog().delete_artifacts(&path).await?;
        if removed == 0 {
            return Err(MlflowError::not_found(format!(
                "artifact `{path}` does not exist"
            )));
        }
        Ok(json(json!({})))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn list(State(state): State<Arc<ServerState>>, params: Params) -> MlflowResult<Response> {
    let directory = match params.opt_str("path")? {
        None | Some("") => String::new(),
        Some(path) => {
            check_artifact_path(path)?;
            path.to_string()
        }
    };
    Ok(json(
        json!({ "files": list_directory(&state, &directory, Naming::BaseName).await? }),
    ))
}

/// How a listing names its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    /// The name inside the listed directory (the artifact proxy's answer).
    BaseName,
    /// The path below `root`, for listings relative to a logged model's root.
    RelativeTo(usize),
}

/// The direct children of `directory` (files with sizes, then implied
/// subdirectories), MLflow `FileInfo`s. A missing directory is empty, as in
/// MLflow.
pub(crate) async fn list_directory(
    state: &ServerState,
    directory: &str,
    naming: Naming,
) -> MlflowResult<Vec<Value>> {
    let entries = state.models().catalog().artifacts_under(directory).await?;
    let skip = if directory.is_empty() {
        0
    } else {
        directory.len() + 1
    };
    let mut files: Vec<Value> = Vec::new();
    let mut last_dir: Option<String> = None;
    for entry in &entries {
        let below = &entry.path[skip..];
        let (name, is_dir) = match below.split_once('/') {
            Some((first, _)) => (first, true),
            None => (below, false),
        };
        if is_dir && last_dir.as_deref() == Some(name) {
            continue;
        }
        let full = if directory.is_empty() {
            name.to_string()
        } else {
            format!("{directory}/{name}")
        };
        let shown = match naming {
            Naming::BaseName => name.to_string(),
            Naming::RelativeTo(root_len) => full
                .get(root_len..)
                .unwrap_or("")
                .trim_start_matches('/')
                .to_string(),
        };
        if is_dir {
            last_dir = Some(name.to_string());
            files.push(json!({ "path": shown, "is_dir": true }));
        } else {
            files.push(json!({ "path": shown, "is_dir": false, "file_size": entry.size_bytes }));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once_and_keeps_plain_paths() {
        assert_eq!(
            decode_artifact_path("1/abc/artifacts/model%20dir/MLmodel").unwrap(),
            "1/abc/artifacts/model dir/MLmodel"
        );
        assert_eq!(decode_artifact_path("a/%25").unwrap(), "a/%");
    }

    #[test]
    fn refuses_traversal_and_double_encoding() {
        for raw in [
            "..%2F..%2Fetc%2Fpasswd",
            "%252e%252e%252fetc",
            "a/%2e%2e/b",
            "%2Fetc%2Fpasswd",
            "a%5Cb",
            "a;b",
            "a%00b",
            "a//b",
            "C:%5Cwindows",
        ] {
            assert!(decode_artifact_path(raw).is_err(), "{raw} must be refused");
        }
    }

    #[test]
    fn uri_paths_are_checked_too() {
        assert_eq!(
            path_of_uri("mlflow-artifacts:/1/m/artifacts").unwrap(),
            Some("1/m/artifacts".to_string())
        );
        assert_eq!(
            path_of_uri("mlflow-artifacts://host:5000/1/x").unwrap(),
            Some("1/x".to_string())
        );
        assert!(path_of_uri("mlflow-artifacts:/1/../../x").is_err());
        assert_eq!(path_of_uri("s3://bucket/x").unwrap(), None);
    }
}
