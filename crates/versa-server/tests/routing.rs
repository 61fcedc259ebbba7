//! Canary and shadow routing and the prediction log, through the router
//! (`oneshot`) over a real workspace with the reference scenario's two
//! versions (`churn@production` → v2; v1 is the candidate).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use versa_core::{Alias, ModelName};
use versa_pipeline::scenario::{ScenarioConfig, run_scenario};
use versa_pipeline::{NoopObserver, Workspace};
use versa_server::predlog::{PredictionLogConfig, PredictionRecord, Role};
use versa_server::{ServerState, app};

struct Fixture {
    dir: tempfile::TempDir,
    workspace: Workspace,
    state: Arc<ServerState>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(dir.path()).await.unwrap();
    run_scenario(&workspace, ScenarioConfig::default(), &mut NoopObserver)
        .await
        .unwrap();
    let state = ServerState::new(workspace.catalog.clone(), workspace.blobs.clone());
    state
        .enable_prediction_log(PredictionLogConfig {
            dir: dir.path().join(".versa/predictions"),
            sample_rate: 1.0,
        })
        .unwrap();
    Fixture {
        dir,
        workspace,
        state,
    }
}

fn customer() -> Value {
    json!({
        "age": 41, "income": 52.5, "debt": 20.1, "tenure_months": 3,
        "monthly_charges": 99.5, "support_calls": 6, "last_login_days": 30,
        "contract": "month-to-month", "plan": "basic", "region": "north"
    })
}

async fn post(state: &Arc<ServerState>, uri: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn route(f: &Fixture, canary: Option<(u32, u8)>, shadow: Option<u32>) {
    f.workspace
        .catalog
        .set_alias_route(
            &ModelName::new("churn").unwrap(),
            &Alias::new("production").unwrap(),
            canary,
            shadow,
            "test",
        )
        .await
        .unwrap();
    f.state.models().refresh().await;
}

/// Versions answering `n` native requests to `churn@production`.
async fn versions(f: &Fixture, n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (status, body) = post(
            &f.state,
            "/v1/models/churn@production/predict",
            json!({"rows": [customer()]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        out.push(body["version"].as_u64().unwrap());
    }
    out
}

/// Every record in the log of `churn`, waiting (bounded) until at least `n` are written.
async fn log_records(dir: &Path, n: usize) -> Vec<PredictionRecord> {
    let model_dir = dir.join(".versa/predictions/churn");
    for _ in 0..300 {
        let mut records = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&model_dir) {
            for entry in entries {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                records.extend(
                    text.lines()
                        .map(|line| serde_json::from_str::<PredictionRecord>(line).unwrap()),
                );
            }
        }
        if records.len() >= n {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} records appeared in {}", model_dir.display());
}

#[tokio::test]
async fn canary_share_follows_the_percent_and_clear_restores_the_alias() {
    let f = fixture().await;
    route(&f, Some((1, 100)), None).await;
    assert!(versions(&f, 20).await.iter().all(|v| *v == 1));

    route(&f, Some((1, 0)), None).await;
    assert!(versions(&f, 20).await.iter().all(|v| *v == 2));

    route(&f, Some((1, 30)), None).await;
    let answered = versions(&f, 1000).await;
    let canary = answered.iter().filter(|v| **v == 1).count();
    assert!((200..=400).contains(&canary), "{canary} canary answers");
    // The counter is deterministic: exactly 30 of every 100.
    assert_eq!(canary, 300);

    // OIP names the canary version when it answered.
    route(&f, Some((1, 100)), None).await;
    let inputs: Vec<Value> = customer()
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| {
            let datatype = match value {
                Value::String(_) => "BYTES",
                Value::Number(n) if n.is_i64() => "INT64",
                _ => "FP64",
            };
            json!({"name": name, "shape": [1], "datatype": datatype, "data": [value]})
        })
        .collect();
    let (status, body) = post(
        &f.state,
        "/v2/models/churn/infer",
        json!({"inputs": inputs}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model_version"], "1");

    // MLflow's body has no version; the header names the canary.
    let request = Request::builder()
        .method("POST")
        .uri("/invocations")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"dataframe_records": [customer()]}).to_string(),
        ))
        .unwrap();
    let response = app(f.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-versa-model-version"], "1");

    route(&f, None, None).await;
    assert!(versions(&f, 20).await.iter().all(|v| *v == 2));

    // The log names each answer's version and role.
    let records = log_records(f.dir.path(), 1062).await;
    assert_eq!(records.len(), 1062);
    let canary_records = records.iter().filter(|r| r.role == Role::Canary).count();
    assert_eq!(canary_records, 20 + 300 + 2);
    assert!(
        records
            .iter()
            .all(|r| (r.role == Role::Canary) == (r.version == 1))
    );
}

#[tokio::test]
async fn shadow_never_changes_answers_and_is_logged() {
    let f = fixture().await;
    let rows = json!({"rows": [customer(), customer(), customer()]});
    let (_, plain) = post(
        &f.state,
        "/v1/models/churn@production/predict",
        rows.clone(),
    )
    .await;
    route(&f, None, Some(1)).await;
    for _ in 0..5 {
        let (status, shadowed) = post(
            &f.state,
            "/v1/models/churn@production/predict",
            rows.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shadowed, plain);
    }
    // 6 primary requests and 5 shadowed ones, 3 rows each.
    let records = log_records(f.dir.path(), 33).await;
    let shadow: Vec<&PredictionRecord> =
        records.iter().filter(|r| r.role == Role::Shadow).collect();
    assert_eq!(shadow.len(), 15);
    assert!(shadow.iter().all(|r| r.version == 1));
    assert_eq!(shadow[0].input, *customer().as_object().unwrap());
    let primary = records.iter().filter(|r| r.role == Role::Primary).count();
    assert_eq!(primary, 18);
    assert!(
        records
            .iter()
            .filter(|r| r.role == Role::Primary)
            .all(|r| r.version == 2)
    );

    // Nothing was dropped at this load, and /metrics says so.
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = app(f.state.clone()).oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        text.contains("versa_prediction_log_dropped_total 0\n"),
        "{text}"
    );
}
