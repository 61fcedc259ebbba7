//! The MLflow artifact proxy through the router (`oneshot`) over a real
//! workspace: uploads land in the blob store and the catalog's index, come
//! back byte for byte, list and delete; and every path trick from MLflow's
//! path-traversal CVEs is refused with 400 INVALID_PARAMETER_VALUE before
//! anything is read or written.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use versa_pipeline::Workspace;
use versa_server::{ServerState, app};

struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<ServerState>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(dir.path()).await.unwrap();
    let state = ServerState::new(workspace.catalog, workspace.blobs);
    Fixture { _dir: dir, state }
}

const ART: &str = "/api/2.0/mlflow-artifacts/artifacts";

async fn call(
    state: &Arc<ServerState>,
    method: &str,
    uri: &str,
    body: impl Into<Body>,
) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(body.into())
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}

fn as_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// Asserts a request is refused as an invalid parameter and nothing was stored.
async fn assert_refused(state: &Arc<ServerState>, method: &str, uri: &str) {
    let (status, body) = call(state, method, uri, "payload").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{method} {uri}: {:?}",
        as_json(&body)
    );
    assert_eq!(
        as_json(&body)["error_code"],
        "INVALID_PARAMETER_VALUE",
        "{method} {uri}"
    );
    let stored = state.models().catalog().artifacts_under("").await.unwrap();
    assert!(
        stored.iter().all(|entry| entry.path.starts_with("safe/")),
        "{method} {uri} stored {stored:?}"
    );
}

async fn seed(state: &Arc<ServerState>) {
    let (status, _) = call(state, "PUT", &format!("{ART}/safe/secret.txt"), "s3cret").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn upload_download_list_delete_round_trip() {
    let f = fixture().await;
    let payload: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let (status, _) = call(
        &f.state,
        "PUT",
        &format!("{ART}/1/run/artifacts/model/model.pkl"),
        payload.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &f.state,
        "PUT",
        &format!("{ART}/1/run/artifacts/notes%20v1.txt"),
        "hi",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = call(
        &f.state,
        "GET",
        &format!("{ART}/1/run/artifacts/model/model.pkl"),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, payload, "bytes come back unchanged");

    let (_, listing) = call(
        &f.state,
        "GET",
        &format!("{ART}?path=1/run/artifacts"),
        Body::empty(),
    )
    .await;
    assert_eq!(
        as_json(&listing),
        json!({"files": [
            {"path": "model", "is_dir": true},
            {"path": "notes v1.txt", "is_dir": false, "file_size": 2}
        ]})
    );
    let (_, root) = call(&f.state, "GET", ART, Body::empty()).await;
    assert_eq!(
        as_json(&root),
        json!({"files": [{"path": "1", "is_dir": true}]})
    );
    let (_, missing) = call(
        &f.state,
        "GET",
        &format!("{ART}?path=nothing/here"),
        Body::empty(),
    )
    .await;
    assert_eq!(as_json(&missing), json!({"files": []}));

    // A name is a file or a directory, never both.
    let (status, _) = call(
        &f.state,
        "PUT",
        &format!("{ART}/1/run/artifacts/model"),
        "x",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = call(
        &f.state,
        "DELETE",
        &format!("{ART}/1/run/artifacts/model"),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &f.state,
        "GET",
        &format!("{ART}/1/run/artifacts/model/model.pkl"),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(as_json(&body)["error_code"], "RESOURCE_DOES_NOT_EXIST");
    let (status, _) = call(
        &f.state,
        "DELETE",
        &format!("{ART}/1/run/artifacts/model"),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uploads_above_the_json_body_limit_are_accepted() {
    let f = fixture().await;
    let big = vec![7u8; 6 * 1024 * 1024];
    let (status, body) = call(&f.state, "PUT", &format!("{ART}/big/blob.bin"), big.clone()).await;
    assert_eq!(status, StatusCode::OK, "{:?}", as_json(&body));
    let (_, back) = call(
        &f.state,
        "GET",
        &format!("{ART}/big/blob.bin"),
        Body::empty(),
    )
    .await;
    assert_eq!(back.len(), big.len());
}

/// CVE-2023-1177: a model version whose source is a local path, then read
/// through the server. Local sources are refused outright.
#[tokio::test]
async fn cve_2023_1177_local_path_sources_are_refused() {
    let f = fixture().await;
    let registry = "/api/2.0/mlflow";
    let create = json!({"name": "victim"}).to_string();
    let request = Request::builder()
        .method("POST")
        .uri(format!("{registry}/registered-models/create"))
        .body(Body::from(create))
        .unwrap();
    assert_eq!(
        app(f.state.clone())
            .oneshot(request)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    for source in [
        "file:///etc/",
        "/etc/",
        "file://localhost/etc/passwd",
        "etc/passwd",
        "C:\\Windows",
    ] {
        let body = json!({"name": "victim", "source": source}).to_string();
        let (status, answer) = call(
            &f.state,
            "POST",
            &format!("{registry}/model-versions/create"),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{source}");
        assert_eq!(
            as_json(&answer)["error_code"],
            "INVALID_PARAMETER_VALUE",
            "{source}"
        );
    }
}

/// CVE-2023-2356: relative traversal (`../`) inside an otherwise accepted
/// scheme's source, and in artifact paths.
#[tokio::test]
async fn cve_2023_2356_relative_traversal_is_refused() {
    let f = fixture().await;
    seed(&f.state).await;
    let registry = "/api/2.0/mlflow";
    call(
        &f.state,
        "POST",
        &format!("{registry}/registered-models/create"),
        json!({"name": "victim"}).to_string(),
    )
    .await;
    for source in [
        "mlflow-artifacts:/../../../../etc/passwd",
        "mlflow-artifacts:/safe/../../etc",
        "runs:/abc/../../../etc/passwd",
        "models:/victim/../../etc",
        "mlflow-artifacts:/safe/%2e%2e/%2e%2e/etc",
    ] {
        let body = json!({"name": "victim", "source": source}).to_string();
        let (status, answer) = call(
            &f.state,
            "POST",
            &format!("{registry}/model-versions/create"),
            body,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{source}: {:?}",
            as_json(&answer)
        );
        assert_eq!(
            as_json(&answer)["error_code"],
            "INVALID_PARAMETER_VALUE",
            "{source}"
        );
    }
    assert_refused(
        &f.state,
        "GET",
        &format!("{ART}/safe/..%2F..%2F..%2Fetc%2Fpasswd"),
    )
    .await;
    assert_refused(&f.state, "GET", &format!("{ART}?path=safe/../../etc")).await;
}

/// CVE-2023-2780: backslash traversal (`\..\..\file`), raw and encoded.
#[tokio::test]
async fn cve_2023_2780_backslash_traversal_is_refused() {
    let f = fixture().await;
    seed(&f.state).await;
    assert_refused(
        &f.state,
        "GET",
        &format!("{ART}/safe/%5C..%5C..%5Cetc%5Cpasswd"),
    )
    .await;
    assert_refused(&f.state, "PUT", &format!("{ART}/safe%5C..%5C..%5Cevil.txt")).await;
    assert_refused(&f.state, "GET", &format!("{ART}?path=safe%5C..%5Cetc")).await;
    let body =
        json!({"name": "victim", "source": "mlflow-artifacts:/safe\\..\\..\\etc"}).to_string();
    call(
        &f.state,
        "POST",
        "/api/2.0/mlflow/registered-models/create",
        json!({"name": "victim"}).to_string(),
    )
    .await;
    let (status, _) = call(
        &f.state,
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        body,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// CVE-2023-6730: double percent-encoding (`%252e%252e%252f`) that a
/// single-decode check let through.
#[tokio::test]
async fn cve_2023_6730_double_encoding_is_refused() {
    let f = fixture().await;
    seed(&f.state).await;
    assert_refused(
        &f.state,
        "GET",
        &format!("{ART}/safe/%252e%252e%252f%252e%252e%252fetc%252fpasswd"),
    )
    .await;
    assert_refused(&f.state, "PUT", &format!("{ART}/%252e%252e%252fevil.txt")).await;
    assert_refused(&f.state, "GET", &format!("{ART}?path=%252e%252e%252fetc")).await;
    assert_refused(
        &f.state,
        "DELETE",
        &format!("{ART}/safe%252f..%252f..%252f"),
    )
    .await;
}

/// CVE-2024-1560: traversal through the artifact delete path (and a
/// fragment trick hiding `..` from a URL parser).
#[tokio::test]
async fn cve_2024_1560_delete_traversal_is_refused() {
    let f = fixture().await;
    seed(&f.state).await;
    assert_refused(
        &f.state,
        "DELETE",
        &format!("{ART}/..%2F..%2F..%2Ftmp%2Fvictim"),
    )
    .await;
    assert_refused(
        &f.state,
        "DELETE",
        &format!("{ART}/safe%23%2F..%2F..%2Fetc"),
    )
    .await;
    assert_refused(&f.state, "DELETE", &format!("{ART}/%2Fetc%2Fpasswd")).await;
    // The seeded file survived every attempt.
    let (status, body) = call(
        &f.state,
        "GET",
        &format!("{ART}/safe/secret.txt"),
        Body::empty(),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, b"s3cret".to_vec()));
}

/// CVE-2024-1593: `;` path parameters (`..;/`) and NUL bytes that some
/// parsers strip after the check.
#[tokio::test]
async fn cve_2024_1593_semicolon_and_nul_tricks_are_refused() {
    let f = fixture().await;
    seed(&f.state).await;
    assert_refused(&f.state, "GET", &format!("{ART}/safe/..;/..;/etc/passwd")).await;
    assert_refused(&f.state, "GET", &format!("{ART}/safe/x%3B..%2F..%2Fetc")).await;
    assert_refused(&f.state, "PUT", &format!("{ART}/safe/evil%00.txt")).await;
    assert_refused(&f.state, "GET", &format!("{ART}?path=safe%3B..%2F")).await;
}
