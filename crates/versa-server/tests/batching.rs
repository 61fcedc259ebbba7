//! Dynamic batching through the router (`oneshot`, no socket) over a real
//! workspace: answers with batching on must equal answers with batching off
//! bit for bit, concurrent requests must each get their own answer, and a bad
//! row must fail only the request it came in.

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
use versa_server::{BatchConfig, BatchConfigError, ServerState, app};

const URI: &str = "/v1/models/churn@production/predict";

/// Two servers over one workspace: batching off, and batching on.
struct Fixture {
    _dir: tempfile::TempDir,
    unbatched: Arc<ServerState>,
    batched: Arc<ServerState>,
}

async fn fixture(config: BatchConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(dir.path()).await.unwrap();
    run_scenario(&workspace, ScenarioConfig::default(), &mut NoopObserver)
        .await
        .unwrap();
    let unbatched = ServerState::new(workspace.catalog, workspace.blobs);
    let again = Workspace::open(dir.path()).await.unwrap();
    let batched = ServerState::with_batching(again.catalog, again.blobs, None, Some(config));
    let production = [(
        ModelName::new("churn").unwrap(),
        Alias::new("production").unwrap(),
    )];
    batched.models().preload(&production).await.unwrap();
    Fixture {
        _dir: dir,
        unbatched,
        batched,
    }
}

/// Distinct customers, so swapped answers would show.
fn customer(index: usize) -> Value {
    let contracts = ["month-to-month", "one-year", "two-year"];
    let plans = ["basic", "standard", "premium"];
    let regions = ["north", "south", "east", "west"];
    json!({
        "age": 19 + (index * 7) % 60,
        "income": 20.0 + index as f64 * 3.25,
        "debt": (index * 13 % 50) as f64 + 0.5,
        "tenure_months": (index * 5) % 72,
        "monthly_charges": 30.0 + (index * 11 % 90) as f64,
        "support_calls": index % 9,
        "last_login_days": (index * 3) % 60,
        "contract": contracts[index % 3],
        "plan": plans[index % 3],
        "region": regions[index % 4],
    })
}

async fn post(state: &Arc<ServerState>, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri(URI)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Sends every body at once and returns the answers in the same order.
async fn post_concurrently(
    state: &Arc<ServerState>,
    bodies: Vec<Value>,
) -> Vec<(StatusCode, Value)> {
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let state = state.clone();
            tokio::spawn(async move { post(&state, body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn batched_answers_equal_unbatched_answers_bit_for_bit() {
    let config = BatchConfig::new(8, Duration::from_millis(50)).unwrap();
    let f = fixture(config).await;
    let n_requests = 40;
    // Single-row requests plus a few small multi-row ones, all concurrent.
    let bodies: Vec<Value> = (0..n_requests)
        .map(|i| {
            if i % 10 == 9 {
                json!({"rows": [customer(i), customer(i + 100)]})
            } else {
                json!({"rows": [customer(i)]})
            }
        })
        .collect();
    let batched = post_concurrently(&f.batched, bodies.clone()).await;
    let mut distinct = std::collections::BTreeSet::new();
    for (body, (status, answer)) in bodies.into_iter().zip(batched) {
        assert_eq!(status, StatusCode::OK, "{answer}");
        let (_, expected) = post(&f.unbatched, body).await;
        // Value equality compares each f32 as printed, so any bit differs.
        assert_eq!(answer, expected);
        distinct.insert(answer["predictions"].to_string());
    }
    assert_eq!(
        distinct.len(),
        n_requests,
        "the customers must differ for the test to catch swapped answers"
    );
    let counts = f.batched.batch_counts();
    assert_eq!(counts.rows(), n_requests as u64 + 4);
    assert!(
        counts.batches() < n_requests as u64,
        "{} batches for {n_requests} concurrent requests: nothing was batched",
        counts.batches()
    );
    assert_eq!(f.unbatched.batch_counts().batches(), 0);

    // Requests of max_size rows or more skip the queue, with the same answers.
    let rows: Vec<Value> = (0..20).map(customer).collect();
    let (status, big) = post(&f.batched, json!({ "rows": rows })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(big, post(&f.unbatched, json!({ "rows": rows })).await.1);
    assert_eq!(f.batched.batch_counts().rows(), n_requests as u64 + 4);
}

#[tokio::test]
async fn a_bad_row_fails_only_its_own_request() {
    // One batch can hold every request below, so they share it.
    let config = BatchConfig::new(64, Duration::from_millis(50)).unwrap();
    let f = fixture(config).await;
    let mut wrong_type = customer(1);
    wrong_type["age"] = json!("forty");
    let mut unknown_field = customer(2);
    unknown_field["favourite_colour"] = json!("green");
    let bodies = vec![
        json!({"rows": [customer(0)]}),
        json!({"rows": [wrong_type]}),
        json!({"rows": [customer(3)]}),
        json!({"rows": [customer(4), unknown_field]}),
        json!({"rows": [customer(5), customer(6)]}),
    ];
    let batched = post_concurrently(&f.batched, bodies.clone()).await;
    for (body, (status, answer)) in bodies.into_iter().zip(&batched) {
        let (expected_status, expected) = post(&f.unbatched, body).await;
        assert_eq!((*status, answer), (expected_status, &expected));
    }
    let statuses: Vec<StatusCode> = batched.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::OK
        ]
    );
    let message = |i: usize| batched[i].1["error"].as_str().unwrap().to_string();
    assert!(
        message(1).starts_with("row 0: field `age`"),
        "{}",
        message(1)
    );
    assert!(
        message(3).starts_with("row 1: unknown field `favourite_colour`"),
        "{}",
        message(3)
    );
    assert_eq!(batched[4].1["predictions"].as_array().unwrap().len(), 2);
    assert_eq!(f.batched.batch_counts().batches(), 1);
}

/// One raw HTTP/1.1 request on its own connection; the status code and body.
async fn raw_post(addr: std::net::SocketAddr, body: String) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {URI} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A graceful shutdown while requests wait in the batch queue answers every
/// one of them (no drop, no 503) and then stops the server.
#[tokio::test]
async fn shutdown_answers_requests_waiting_in_the_batch_queue() {
    const N_REQUESTS: usize = 8;
    let fixture = fixture(BatchConfig::new(64, Duration::from_millis(100)).unwrap()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(versa_server::serve(
        listener,
        fixture.batched.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let requests: Vec<_> = (0..N_REQUESTS)
        .map(|index| {
            let body = json!({ "rows": [customer(index)] }).to_string();
            tokio::spawn(raw_post(addr, body))
        })
        .collect();
    // Wait (bounded, as a hang guard) until every request is in the queue,
    // then ask the server to stop while the batch is still collecting.
    let counts = fixture.batched.batch_counts();
    for _ in 0..1000 {
        if counts.jobs() >= N_REQUESTS as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counts.jobs(), N_REQUESTS as u64, "every request was queued");
    stop.send(()).unwrap();
    for (index, request) in requests.into_iter().enumerate() {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200, "request {index}: {body}");
        assert_eq!(
            body["predictions"].as_array().map(Vec::len),
            Some(1),
            "{body}"
        );
    }
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server stops after answering")
        .unwrap()
        .unwrap();
    assert_eq!(
        counts.rows(),
        N_REQUESTS as u64,
        "every queued row was predicted"
    );
}

#[test]
fn batch_config_rejects_settings_out_of_range() {
    assert_eq!(
        BatchConfig::new(0, Duration::ZERO),
        Err(BatchConfigError::Size(0))
    );
    assert!(matches!(
        BatchConfig::new(8, Duration::from_secs(1)),
        Err(BatchConfigError::Delay(_))
    ));
    let config = BatchConfig::new(32, Duration::from_micros(500)).unwrap();
    assert_eq!(
        (config.max_size(), config.max_delay()),
        (32, Duration::from_micros(500))
    );
}
