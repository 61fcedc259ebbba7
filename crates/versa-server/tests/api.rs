//! The HTTP API through the router (`oneshot`, no socket) over a real
//! workspace: a SQLite catalog and blob directory in a temp dir, with the
//! reference scenario's two model versions trained into it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use versa_pipeline::scenario::{ScenarioConfig, run_scenario};
use versa_pipeline::{NoopObserver, Workspace};
use versa_server::{ServerState, app};

struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<ServerState>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(dir.path()).await.unwrap();
    run_scenario(&workspace, ScenarioConfig::default(), &mut NoopObserver)
        .await
        .unwrap();
    let state = ServerState::new(workspace.catalog, workspace.blobs);
    Fixture { _dir: dir, state }
}

fn customer() -> Value {
    json!({
        "age": 41, "income": 52.5, "debt": 20.1, "tenure_months": 3,
        "monthly_charges": 99.5, "support_calls": 6, "last_login_days": 30,
        "contract": "month-to-month", "plan": "basic", "region": "north"
    })
}

async fn call(
    state: &Arc<ServerState>,
    method: &str,
    uri: &str,
    body: Body,
) -> (StatusCode, String, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, content_type, value)
}

async fn post(state: &Arc<ServerState>, uri: &str, body: Value) -> (StatusCode, String, Value) {
    call(state, "POST", uri, Body::from(body.to_string())).await
}

fn assert_error(result: &(StatusCode, String, Value), status: StatusCode, needle: &str) {
    assert_eq!(result.0, status, "{:?}", result.2);
    assert_eq!(result.1, "application/json");
    let message = result.2["error"].as_str().expect("error body has `error`");
    assert!(message.contains(needle), "`{message}` lacks `{needle}`");
}

#[tokio::test]
async fn endpoints_answer_and_errors_are_precise() {
    let f = fixture().await;
    let s = &f.state;

    let (status, _, body) = call(s, "GET", "/healthz", Body::empty()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _, body) = call(s, "GET", "/readyz", Body::empty()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    let (status, _, body) = call(s, "GET", "/v1/models", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["models"][0]["name"], "churn");
    assert_eq!(body["models"][0]["aliases"]["production"], 2);

    // By alias and by version number; the answer names the version.
    let (status, _, body) = post(
        s,
        "/v1/models/churn@production/predict",
        json!({"rows": [customer()]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["alias"], "production");
    assert!(body["digest"].as_str().unwrap().starts_with("b3:"));
    let label = body["predictions"][0]["label"].as_str().unwrap();
    assert!(label == "yes" || label == "no");
    let (status, _, body) = post(
        s,
        "/v1/models/churn/versions/1/predict",
        json!({"rows": [customer(), customer()]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 1);
    assert_eq!(body["predictions"].as_array().unwrap().len(), 2);
    // Missing values (null) are imputed, as in training.
    let mut sparse = customer();
    sparse["income"] = Value::Null;
    let (status, _, body) = post(
        s,
        "/v1/models/churn@production/predict",
        json!({"rows": [sparse]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Unknown model, alias, version, endpoint → 404.
    assert_error(
        &post(
            s,
            "/v1/models/nope@production/predict",
            json!({"rows": [customer()]}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "nope",
    );
    assert_error(
        &post(
            s,
            "/v1/models/churn@staging/predict",
            json!({"rows": [customer()]}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "staging",
    );
    assert_error(
        &post(
            s,
            "/v1/models/churn/versions/9/predict",
            json!({"rows": [customer()]}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "9",
    );
    assert_error(
        &post(
            s,
            "/v1/models/churn/versions/x/predict",
            json!({"rows": [customer()]}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not a version number",
    );
    assert_error(
        &post(s, "/v1/models/churn/predict", json!({"rows": [customer()]})).await,
        StatusCode::NOT_FOUND,
        "NAME@ALIAS",
    );
    assert_error(
        &call(s, "GET", "/v2/nothing", Body::empty()).await,
        StatusCode::NOT_FOUND,
        "no endpoint",
    );

    // Malformed and wrong-shaped bodies → 400 saying what is accepted.
    assert_error(
        &call(
            s,
            "POST",
            "/v1/models/churn@production/predict",
            Body::from("{\"rows\": ["),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "expected JSON like",
    );
    assert_error(
        &call(
            s,
            "POST",
            "/v1/models/churn@production/predict",
            Body::empty(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "empty request body",
    );
    assert_error(
        &post(
            s,
            "/v1/models/churn@production/predict",
            json!({"rows": []}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "`rows` is empty",
    );
    assert_error(
        &post(
            s,
            "/v1/models/churn@production/predict",
            json!({"instances": []}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown field",
    );
    assert_error(
        &post(
            s,
            "/v1/models/churn@production/predict",
            json!({"rows": [5]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "row 0: expected an object",
    );

    // Field validation names the field.
    let mut bad = customer();
    bad["age"] = json!("forty");
    assert_error(
        &post(
            s,
            "/v1/models/churn@production/predict",
            json!({"rows": [customer(), bad]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "row 1",
    );
    let mut bad = customer();
    bad["age"] = json!("forty");
    assert_error(
        &post(
            s,
            "/v1/models/churn@production/predict",
            json!({"rows": [bad]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "age",
    );
    let mut bad = customer();
    bad["favourite_colour"] = json!("blue");
    assert_error(
        &post(
            s,
            "/v1/models/churn@production/predict",
            json!({"rows": [bad]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "favourite_colour",
    );

    // Limits: too many rows, too large a body.
    let many: Vec<Value> = (0..versa_server::MAX_ROWS + 1).map(|_| json!({})).collect();
    assert_error(
        &post(
            s,
            "/v1/models/churn@production/predict",
            json!({"rows": many}),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "at most",
    );
    let huge = format!(
        "{{\"rows\": [\"{}\"]}}",
        "x".repeat(versa_server::MAX_BODY_BYTES + 1)
    );
    let result = call(
        s,
        "POST",
        "/v1/models/churn@production/predict",
        Body::from(huge),
    )
    .await;
    assert_eq!(result.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(result.1, "application/json");
}
