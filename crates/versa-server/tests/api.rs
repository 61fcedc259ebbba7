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
    dir: tempfile::TempDir,
    state: Arc<ServerState>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(dir.path()).await.unwrap();
    run_scenario(&workspace, ScenarioConfig::default(), &mut NoopObserver)
        .await
        .unwrap();
    let state = ServerState::new(workspace.catalog, workspace.blobs);
    Fixture { dir, state }
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

/// The server and `versa predict` (which calls `ModelBundle::predict_row`)
/// must give the same probabilities to the last bit, for a lone row and for
/// rows sharing a request.
#[tokio::test]
async fn server_answers_equal_single_row_predictions_bit_for_bit() {
    let fixture = fixture().await;
    let workspace = Workspace::open(fixture.dir.path()).await.unwrap();
    let name = versa_core::ModelName::new("churn").unwrap();
    let production =
        versa_core::VersionSelector::Alias(versa_core::Alias::new("production").unwrap());
    let bundle = versa_pipeline::bundle::ModelBundle::load(
        &workspace.catalog,
        &workspace.blobs,
        &name,
        &production,
    )
    .await
    .unwrap();
    let rows: Vec<Value> = (0..5)
        .map(|i| {
            let mut row = customer();
            row["age"] = json!(25 + 9 * i);
            row["monthly_charges"] = json!(20.0 + 17.5 * i as f64);
            row["contract"] = json!(["month-to-month", "one-year", "two-year"][i % 3]);
            row
        })
        .collect();
    let (status, _, answer) = post(
        &fixture.state,
        "/v1/models/churn@production/predict",
        json!({ "rows": rows }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for (index, row) in rows.iter().enumerate() {
        let alone = bundle.predict_row(row.as_object().unwrap()).unwrap();
        let served = &answer["predictions"][index];
        assert_eq!(served["label"], json!(alone.label), "row {index}");
        for (class, probability) in &alone.probabilities {
            let served = served["probabilities"][class].as_f64().unwrap() as f32;
            assert_eq!(
                served.to_bits(),
                probability.to_bits(),
                "row {index} class {class}"
            );
        }
    }
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

#[tokio::test]
async fn open_inference_protocol_v2() {
    let f = fixture().await;
    let s = &f.state;
    let (status, _, body) = call(s, "GET", "/v2", Body::empty()).await;
    assert_eq!(
        (status, body["name"].as_str()),
        (StatusCode::OK, Some("versa"))
    );
    assert_eq!(
        call(s, "GET", "/v2/health/live", Body::empty()).await.2["live"],
        true
    );
    assert_eq!(
        call(s, "GET", "/v2/health/ready", Body::empty()).await.2["ready"],
        true
    );

    let (status, _, meta) = call(s, "GET", "/v2/models/churn", Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(meta["versions"], json!(["1", "2"]));
    let inputs = meta["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 10);
    let age = inputs.iter().find(|i| i["name"] == "age").unwrap();
    assert_eq!(age["datatype"], "INT64");
    let contract = inputs.iter().find(|i| i["name"] == "contract").unwrap();
    assert_eq!(contract["datatype"], "BYTES");
    assert_eq!(meta["outputs"][1]["shape"], json!([-1, 2]));
    assert_eq!(
        call(s, "GET", "/v2/models/churn/versions/1", Body::empty())
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(s, "GET", "/v2/models/churn/ready", Body::empty())
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(s, "GET", "/v2/models/churn/versions/2/ready", Body::empty())
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &call(s, "GET", "/v2/models/nope/ready", Body::empty()).await,
        StatusCode::NOT_FOUND,
        "nope",
    );
    assert_error(
        &call(s, "GET", "/v2/models/churn/versions/7/ready", Body::empty()).await,
        StatusCode::NOT_FOUND,
        "7",
    );

    // One tensor per raw field, two rows; the second row as [N, 1] nested data.
    let c = customer();
    let mut inputs = Vec::new();
    for (name, value) in c.as_object().unwrap() {
        let datatype = match value {
            Value::String(_) => "BYTES",
            Value::Number(n) if n.is_i64() => "INT64",
            _ => "FP64",
        };
        inputs.push(json!({"name": name, "shape": [2, 1], "datatype": datatype, "data": [[value], [value]]}));
    }
    let request = json!({"id": "r1", "inputs": inputs});
    let (status, _, body) = post(s, "/v2/models/churn/infer", request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "r1");
    assert_eq!(body["model_version"], "2");
    assert_eq!(body["outputs"][0]["name"], "label");
    assert_eq!(body["outputs"][0]["shape"], json!([2]));
    assert_eq!(body["outputs"][1]["shape"], json!([2, 2]));
    let p: Vec<f64> = body["outputs"][1]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!((p[0] + p[1] - 1.0).abs() < 1e-5);
    // The same answer as the native API for the same row.
    let (_, _, native) = post(
        s,
        "/v1/models/churn@production/predict",
        json!({"rows": [customer()]}),
    )
    .await;
    assert_eq!(
        body["outputs"][0]["data"][0],
        native["predictions"][0]["label"]
    );
    let (status, _, body) = post(s, "/v2/models/churn/versions/1/infer", request.clone()).await;
    assert_eq!(
        (status, body["model_version"].as_str()),
        (StatusCode::OK, Some("1"))
    );
    // Only the requested output.
    let mut only_label = request.clone();
    only_label["outputs"] = json!([{"name": "label"}]);
    let (_, _, body) = post(s, "/v2/models/churn/infer", only_label).await;
    assert_eq!(body["outputs"].as_array().unwrap().len(), 1);

    // Errors.
    let mut bad = request.clone();
    bad["outputs"] = json!([{"name": "logits"}]);
    assert_error(
        &post(s, "/v2/models/churn/infer", bad).await,
        StatusCode::BAD_REQUEST,
        "unknown output `logits`",
    );
    let mut bad = request.clone();
    bad["inputs"][0]["shape"] = json!([3]);
    assert_error(
        &post(s, "/v2/models/churn/infer", bad).await,
        StatusCode::BAD_REQUEST,
        "shape says 3 values",
    );
    let mut bad = request.clone();
    bad["inputs"][0]["datatype"] = json!("FLOAT");
    assert_error(
        &post(s, "/v2/models/churn/infer", bad).await,
        StatusCode::BAD_REQUEST,
        "unknown datatype `FLOAT`",
    );
    let mut bad = request.clone();
    bad["inputs"][0]["shape"] = json!([1, 2]);
    assert_error(
        &post(s, "/v2/models/churn/infer", bad).await,
        StatusCode::BAD_REQUEST,
        "expected [N] or [N, 1]",
    );
    assert_error(
        &post(s, "/v2/models/churn/infer", json!({"inputs": []})).await,
        StatusCode::BAD_REQUEST,
        "`inputs` is empty",
    );
    assert_error(
        &post(s, "/v2/models/churn/infer", json!({"nothing": 1})).await,
        StatusCode::BAD_REQUEST,
        "missing field `inputs`",
    );
    let age_as_text =
        json!({"inputs": [{"name": "age", "shape": [1], "datatype": "BYTES", "data": ["old"]}]});
    assert_error(
        &post(s, "/v2/models/churn/infer", age_as_text).await,
        StatusCode::BAD_REQUEST,
        "age",
    );
    let request = Request::builder()
        .method("POST")
        .uri("/v2/models/churn/infer")
        .header("inference-header-content-length", "10")
        .body(Body::from("{}"))
        .unwrap();
    let response = app(s.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn mlflow_scoring_protocol() {
    let f = fixture().await;
    let s = &f.state;
    let (status, _, _) = call(s, "GET", "/ping", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let c = customer();
    let object = c.as_object().unwrap();
    let columns: Vec<&String> = object.keys().collect();
    let values: Vec<&Value> = object.values().collect();
    let column_lists: serde_json::Map<String, Value> = object
        .iter()
        .map(|(k, v)| (k.clone(), json!([v, v])))
        .collect();
    for body in [
        json!({"dataframe_split": {"columns": columns, "data": [values.clone(), values]}}),
        json!({"dataframe_records": [c.clone(), c.clone()]}),
        json!({"instances": [c.clone(), c.clone()]}),
        json!({"inputs": [c.clone(), c.clone()]}),
        json!({"inputs": column_lists}),
    ] {
        let (status, _, answer) = post(s, "/invocations", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body} → {answer}");
        let predictions = answer["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), 2);
        assert!(predictions.iter().all(|p| p == "yes" || p == "no"));
    }
    assert_error(
        &post(s, "/invocations", json!({"records": []})).await,
        StatusCode::BAD_REQUEST,
        "no recognised field",
    );
    assert_error(
        &post(
            s,
            "/invocations",
            json!({"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "has 2 values for 1 columns",
    );
    assert_error(
        &post(s, "/invocations", json!([1, 2])).await,
        StatusCode::BAD_REQUEST,
        "the body is an array",
    );
    assert_error(
        &call(s, "POST", "/invocations", Body::from("a,b\n1,2")).await,
        StatusCode::BAD_REQUEST,
        "not valid JSON",
    );
    let request = Request::builder()
        .method("POST")
        .uri("/invocations")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from("a,b\n1,2"))
        .unwrap();
    let response = app(s.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn metrics_count_requests_per_version() {
    let f = fixture().await;
    let s = &f.state;
    post(
        s,
        "/v1/models/churn@production/predict",
        json!({"rows": [customer()]}),
    )
    .await;
    post(
        s,
        "/v1/models/churn/versions/1/predict",
        json!({"rows": [{"age": "x"}]}),
    )
    .await;
    post(
        s,
        "/v1/models/ghost@production/predict",
        json!({"rows": [customer()]}),
    )
    .await;
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = app(s.clone()).oneshot(request).await.unwrap();
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("versa_requests_total{model=\"churn\",version=\"2\",protocol=\"native\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "versa_request_errors_total{model=\"churn\",version=\"1\",protocol=\"native\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "versa_request_errors_total{model=\"_unresolved\",version=\"\",protocol=\"native\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("versa_request_duration_seconds_count{model=\"churn\",version=\"2\",protocol=\"native\"} 1"), "{text}");
}

#[tokio::test]
async fn alias_moves_are_served_after_refresh_and_a_broken_version_keeps_the_old_one() {
    use versa_catalog::{AliasExpectation, NewModelVersion};
    use versa_core::{Alias, Digest, ModelName};

    let f = fixture().await;
    let s = &f.state;
    let served = |body: &Value| body["version"].as_u64().unwrap();
    let (_, _, body) = post(
        s,
        "/v1/models/churn@production/predict",
        json!({"rows": [customer()]}),
    )
    .await;
    assert_eq!(served(&body), 2);
    let in_flight = s
        .models()
        .get(
            &ModelName::new("churn").unwrap(),
            &versa_core::VersionSelector::Alias(Alias::new("production").unwrap()),
        )
        .await
        .unwrap();

    // Another writer moves the alias to v1: the next refresh serves v1, while
    // a request that already holds v2 keeps it.
    let catalog = s.models().catalog();
    let churn = ModelName::new("churn").unwrap();
    let production = Alias::new("production").unwrap();
    catalog
        .set_alias(&churn, &production, 1, AliasExpectation::Version(2), "test")
        .await
        .unwrap();
    s.models().refresh().await;
    let (_, _, body) = post(
        s,
        "/v1/models/churn@production/predict",
        json!({"rows": [customer()]}),
    )
    .await;
    assert_eq!(served(&body), 1);
    assert_eq!(in_flight.version, 2);

    // A version whose blobs are missing cannot load: v1 keeps serving and the failure is reported.
    let broken = catalog
        .create_model_version(NewModelVersion {
            name: churn.clone(),
            run_id: None,
            manifest_digest: Digest::of(b"no such manifest"),
            weights_digest: Digest::of(b"no such weights"),
            transform_digest: None,
            dataset_digest: None,
            description: None,
            metrics: vec![],
        })
        .await
        .unwrap();
    catalog
        .set_alias(
            &churn,
            &production,
            broken.version,
            AliasExpectation::Version(1),
            "test",
        )
        .await
        .unwrap();
    s.models().refresh().await;
    let (status, _, body) = post(
        s,
        "/v1/models/churn@production/predict",
        json!({"rows": [customer()]}),
    )
    .await;
    assert_eq!((status, served(&body)), (StatusCode::OK, 1));
    let (_, _, listing) = call(s, "GET", "/v1/models", Body::empty()).await;
    let failures = listing["failed_swaps"].as_object().unwrap();
    assert!(
        failures.keys().any(|k| k.contains("churn@production → v3")),
        "{listing}"
    );
    assert_eq!(listing["serving"][0]["version"], 1);
}
