//! MLflow's tracking REST API through the router (`oneshot`, no socket) over
//! a real, empty workspace (SQLite catalog in a temp dir): every endpoint,
//! MLflow's error codes and statuses, GET parameters in the query string,
//! the `run_uuid` twin of `run_id`, NaN and infinities as protobuf's JSON
//! strings, and page tokens.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
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

/// Status, raw body text and the body as JSON (`Null` when it is not JSON).
async fn call(
    state: &Arc<ServerState>,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, value)
}

const API: &str = "/api/2.0/mlflow";

async fn post(state: &Arc<ServerState>, path: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, value) = call(state, "POST", &format!("{API}/{path}"), Some(body)).await;
    (status, value)
}

async fn get(state: &Arc<ServerState>, path_and_query: &str) -> (StatusCode, Value) {
    let (status, _, value) = call(state, "GET", &format!("{API}/{path_and_query}"), None).await;
    (status, value)
}

/// Asserts an MLflow error answer: status, `error_code` and a message part.
fn assert_mlflow_error(answer: &(StatusCode, Value), status: StatusCode, code: &str, needle: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error_code"], code, "{}", answer.1);
    let message = answer.1["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "`{message}` lacks `{needle}`");
}

async fn create_run(
    state: &Arc<ServerState>,
    experiment_id: &str,
    name: &str,
    start: i64,
) -> String {
    let (status, body) = post(
        state,
        "runs/create",
        json!({"experiment_id": experiment_id, "run_name": name, "start_time": start, "user_id": "ada"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn health_and_version_answer_plain_text() {
    let f = fixture().await;
    let (status, text, _) = call(&f.state, "GET", "/health", None).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    let (status, text, _) = call(&f.state, "GET", "/version", None).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "3.17.2"));
}

#[tokio::test]
async fn experiments_create_read_rename_tag_delete_restore_and_search() {
    let f = fixture().await;
    let s = &f.state;

    // The Default experiment exists, readable with GET parameters in the query.
    let (status, body) = get(s, "experiments/get?experiment_id=0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["experiment"]["name"], "Default");

    let (status, body) = post(
        s,
        "experiments/create",
        json!({"name": "churn", "tags": [{"key": "team", "value": "ml"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"experiment_id": "1"}));
    assert_mlflow_error(
        &post(s, "experiments/create", json!({"name": "churn"})).await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        "Experiment(name=churn) already exists",
    );
    assert_mlflow_error(
        &post(s, "experiments/create", json!({})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "'name'",
    );

    let (status, body) = get(s, "experiments/get-by-name?experiment_name=churn").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let experiment = &body["experiment"];
    assert_eq!(experiment["experiment_id"], "1");
    assert_eq!(experiment["artifact_location"], "mlflow-artifacts:/1");
    assert_eq!(experiment["lifecycle_stage"], "active");
    assert_eq!(experiment["tags"], json!([{"key": "team", "value": "ml"}]));
    assert!(experiment["creation_time"].is_i64());
    assert_mlflow_error(
        &get(s, "experiments/get-by-name?experiment_name=nope").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "nope",
    );
    assert_mlflow_error(
        &get(s, "experiments/get?experiment_id=99").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "99",
    );

    let (status, body) = post(
        s,
        "experiments/update",
        json!({"experiment_id": "1", "new_name": "churn-v2"}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    post(
        s,
        "experiments/set-experiment-tag",
        json!({"experiment_id": "1", "key": "owner", "value": "ada"}),
    )
    .await;
    post(
        s,
        "experiments/delete-experiment-tag",
        json!({"experiment_id": "1", "key": "team"}),
    )
    .await;
    let (_, body) = get(s, "experiments/get?experiment_id=1").await;
    assert_eq!(body["experiment"]["name"], "churn-v2");
    assert_eq!(
        body["experiment"]["tags"],
        json!([{"key": "owner", "value": "ada"}])
    );

    // Search by POST body and by GET query (repeated keys are lists).
    let (status, body) = post(
        s,
        "experiments/search",
        json!({"filter": "name LIKE 'churn%' and tags.owner = 'ada'", "max_results": 10}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["experiments"].as_array().unwrap().len(), 1);
    let (status, body) = get(
        s,
        "experiments/search?order_by=name+DESC&order_by=experiment_id",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["churn-v2", "Default"]);
    let (status, body) = post(s, "experiments/search", json!({"max_results": 1})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["next_page_token"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (_, body) = post(
        s,
        "experiments/search",
        json!({"max_results": 1, "page_token": token}),
    )
    .await;
    assert_eq!(body["experiments"].as_array().unwrap().len(), 1);
    assert!(body.get("next_page_token").is_none(), "{body}");
    assert_mlflow_error(
        &post(s, "experiments/search", json!({"filter": "name === 'x'"})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "at character",
    );

    post(s, "experiments/delete", json!({"experiment_id": "1"})).await;
    let (_, body) = post(
        s,
        "experiments/search",
        json!({"view_type": "DELETED_ONLY"}),
    )
    .await;
    assert_eq!(body["experiments"][0]["name"], "churn-v2");
    assert_eq!(body["experiments"][0]["lifecycle_stage"], "deleted");
    let (_, body) = post(s, "experiments/search", json!({})).await;
    assert_eq!(body["experiments"].as_array().unwrap().len(), 1);
    post(s, "experiments/restore", json!({"experiment_id": "1"})).await;
    let (_, body) = post(s, "experiments/search", json!({"view_type": 1})).await;
    assert_eq!(body["experiments"].as_array().unwrap().len(), 2);
    assert_mlflow_error(
        &post(s, "experiments/delete", json!({"experiment_id": "42"})).await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "42",
    );
}

#[tokio::test]
async fn runs_are_created_logged_updated_read_and_deleted() {
    let f = fixture().await;
    let s = &f.state;
    let (status, body) = post(
        s,
        "runs/create",
        json!({
            "experiment_id": "0",
            "user_id": "ada",
            "start_time": "1700000000000",
            "tags": [{"key": "mlflow.runName", "value": "from-tag"}, {"key": "team", "value": "ml"}],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let info = &body["run"]["info"];
    let run_id = info["run_id"].as_str().unwrap().to_string();
    assert_eq!(info["run_uuid"], info["run_id"]);
    assert_eq!(info["run_name"], "from-tag");
    assert_eq!(info["status"], "RUNNING");
    assert_eq!(info["start_time"], 1_700_000_000_000_i64);
    assert_eq!(info["lifecycle_stage"], "active");
    assert_eq!(
        info["artifact_uri"],
        format!("mlflow-artifacts:/0/{run_id}/artifacts")
    );
    assert!(info.get("end_time").is_none(), "{info}");

    let ok = |answer: (StatusCode, Value)| {
        assert_eq!(answer, (StatusCode::OK, json!({})));
    };
    ok(post(
        s,
        "runs/log-parameter",
        json!({"run_id": run_id, "key": "lr", "value": "0.01"}),
    )
    .await);
    ok(post(
        s,
        "runs/log-metric",
        json!({"run_uuid": run_id, "key": "acc", "value": 0.9, "timestamp": 5, "step": 1}),
    )
    .await);
    ok(post(
        s,
        "runs/set-tag",
        json!({"run_id": run_id, "key": "stage", "value": "dev"}),
    )
    .await);
    ok(post(
        s,
        "runs/log-batch",
        json!({
            "run_id": run_id,
            "metrics": [{"key": "loss", "value": 0.3, "timestamp": 6, "step": 2}],
            "params": [{"key": "layers", "value": "3"}],
            "tags": [{"key": "extra", "value": "x"}],
        }),
    )
    .await);
    ok(post(
        s,
        "runs/delete-tag",
        json!({"run_id": run_id, "key": "extra"}),
    )
    .await);

    // GET by run_id, and by the deprecated run_uuid, in the query string.
    let (status, by_id) = get(s, &format!("runs/get?run_id={run_id}")).await;
    assert_eq!(status, StatusCode::OK, "{by_id}");
    let (_, by_uuid) = get(s, &format!("runs/get?run_uuid={run_id}")).await;
    assert_eq!(by_id, by_uuid);
    let data = &by_id["run"]["data"];
    assert_eq!(
        data["params"],
        json!([{"key": "layers", "value": "3"}, {"key": "lr", "value": "0.01"}])
    );
    assert_eq!(
        data["metrics"],
        json!([
            {"key": "acc", "value": 0.9, "timestamp": 5, "step": 1},
            {"key": "loss", "value": 0.3, "timestamp": 6, "step": 2},
        ])
    );
    let tags: Vec<&str> = data["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["mlflow.runName", "stage", "team"]);

    // Errors: changed param, over the batch limit, bad key, unknown run, missing id.
    assert_mlflow_error(
        &post(
            s,
            "runs/log-parameter",
            json!({"run_id": run_id, "key": "lr", "value": "0.1"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "immutable",
    );
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"key": format!("p{i}"), "value": "v"}))
        .collect();
    assert_mlflow_error(
        &post(
            s,
            "runs/log-batch",
            json!({"run_id": run_id, "params": too_many}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "100 params",
    );
    assert_mlflow_error(
        &post(
            s,
            "runs/log-batch",
            json!({"run_id": run_id, "params": [{"key": "p", "value": "x".repeat(6001)}]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "6000",
    );
    assert_mlflow_error(
        &post(
            s,
            "runs/set-tag",
            json!({"run_id": run_id, "key": "a//b", "value": "x"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "a//b",
    );
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_mlflow_error(
        &get(s, &format!("runs/get?run_id={unknown}")).await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        unknown,
    );
    assert_mlflow_error(
        &post(
            s,
            "runs/log-metric",
            json!({"run_id": unknown, "key": "a", "value": 1, "timestamp": 1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        unknown,
    );
    assert_mlflow_error(
        &get(s, "runs/get?run_id=not%20an%20id").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "not an id",
    );
    assert_mlflow_error(
        &get(s, "runs/get").await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "'run_id'",
    );
    assert_mlflow_error(
        &post(s, "runs/create", json!({"experiment_id": "77"})).await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "77",
    );
    assert_mlflow_error(
        &post(
            s,
            "runs/delete-tag",
            json!({"run_id": run_id, "key": "never-set"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "never-set",
    );

    // Finish, rename, delete, restore.
    let (status, body) = post(
        s,
        "runs/update",
        json!({"run_id": run_id, "status": "FINISHED", "end_time": 1_700_000_000_500_i64, "run_name": "final"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["run_info"]["status"], "FINISHED");
    assert_eq!(body["run_info"]["end_time"], 1_700_000_000_500_i64);
    assert_eq!(body["run_info"]["run_name"], "final");
    // Protobuf's enum number is accepted too (4 = FAILED).
    let (_, body) = post(s, "runs/update", json!({"run_uuid": run_id, "status": 4})).await;
    assert_eq!(body["run_info"]["status"], "FAILED");
    ok(post(s, "runs/delete", json!({"run_id": run_id})).await);
    let (_, body) = get(s, &format!("runs/get?run_id={run_id}")).await;
    assert_eq!(body["run"]["info"]["lifecycle_stage"], "deleted");
    assert_mlflow_error(
        &post(
            s,
            "runs/set-tag",
            json!({"run_id": run_id, "key": "k", "value": "v"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "deleted",
    );
    ok(post(s, "runs/restore", json!({"run_id": run_id})).await);
    let (_, body) = get(s, &format!("runs/get?run_id={run_id}")).await;
    assert_eq!(body["run"]["info"]["lifecycle_stage"], "active");

    // The MLflow run is one of versa's runs.
    let runs = f.state.models().catalog().list_runs(None).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id.as_str(), run_id);
    assert_eq!(runs[0].run_name, "final");
}

#[tokio::test]
async fn nan_and_infinities_travel_as_protobuf_strings() {
    let f = fixture().await;
    let s = &f.state;
    let run_id = create_run(s, "0", "r", 1).await;
    for (key, value) in [
        ("nan", json!("NaN")),
        ("inf", json!("Infinity")),
        ("ninf", json!("-Infinity")),
        ("text", json!("2.5")),
    ] {
        let (status, body) = post(
            s,
            "runs/log-metric",
            json!({"run_id": run_id, "key": key, "value": value, "timestamp": 1, "step": 0}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{key}: {body}");
    }
    post(
        s,
        "runs/log-batch",
        json!({"run_id": run_id, "metrics": [{"key": "nan", "value": 1.5, "timestamp": 2, "step": 1}]}),
    )
    .await;
    let (status, text, body) =
        call(s, "GET", &format!("{API}/runs/get?run_id={run_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !text.contains("null"),
        "non-finite values must not become null: {text}"
    );
    let values: Vec<(&str, &Value)> = body["run"]["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["key"].as_str().unwrap(), &m["value"]))
        .collect();
    assert_eq!(
        values,
        [
            ("inf", &json!("Infinity")),
            ("nan", &json!(1.5)),
            ("ninf", &json!("-Infinity")),
            ("text", &json!(2.5)),
        ]
    );
    let (status, body) = get(
        s,
        &format!("metrics/get-history?run_id={run_id}&metric_key=nan"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["metrics"][0]["value"], "NaN");
    assert_eq!(body["metrics"][1]["value"], 1.5);
    assert_mlflow_error(
        &post(
            s,
            "runs/log-metric",
            json!({"run_id": run_id, "key": "bad", "value": "lots", "timestamp": 1}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "\"NaN\"",
    );
}

#[tokio::test]
async fn runs_search_and_metric_history_page_with_tokens() {
    let f = fixture().await;
    let s = &f.state;
    let (_, body) = post(s, "experiments/create", json!({"name": "e"})).await;
    let experiment_id = body["experiment_id"].as_str().unwrap().to_string();
    for (name, start, acc, lr) in [
        ("a", 1, 0.9, "0.01"),
        ("b", 2, 0.7, "0.1"),
        ("c", 3, 0.95, "0.01"),
    ] {
        let run_id = create_run(s, &experiment_id, name, start).await;
        post(
            s,
            "runs/log-batch",
            json!({
                "run_id": run_id,
                "metrics": [{"key": "acc", "value": acc, "timestamp": 1, "step": 0}],
                "params": [{"key": "lr", "value": lr}],
            }),
        )
        .await;
    }
    let run_names = |body: &Value| -> Vec<String> {
        body["runs"]
            .as_array()
            .map(|runs| {
                runs.iter()
                    .map(|r| r["info"]["run_name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (status, body) = post(
        s,
        "runs/search",
        json!({
            "experiment_ids": [experiment_id],
            "filter": "metrics.acc > 0.8 and params.lr = '0.01'",
            "order_by": ["metrics.acc DESC"],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(run_names(&body), ["c", "a"]);
    assert_eq!(
        body["runs"][0]["data"]["params"],
        json!([{"key": "lr", "value": "0.01"}])
    );

    // Page by page.
    let mut seen = Vec::new();
    let mut request = json!({"experiment_ids": [experiment_id], "max_results": 2, "run_view_type": "ACTIVE_ONLY"});
    loop {
        let (status, body) = post(s, "runs/search", request.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(run_names(&body));
        match body.get("next_page_token").and_then(Value::as_str) {
            Some(token) => request["page_token"] = json!(token),
            None => break,
        }
    }
    assert_eq!(seen, ["c", "b", "a"]);
    // A token from another search is refused.
    let (_, first) = post(
        s,
        "runs/search",
        json!({"experiment_ids": [experiment_id], "max_results": 1}),
    )
    .await;
    let token = first["next_page_token"].as_str().unwrap();
    assert_mlflow_error(
        &post(
            s,
            "runs/search",
            json!({"experiment_ids": [experiment_id], "max_results": 1, "filter": "params.lr = '0.1'", "page_token": token}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "different search",
    );
    assert_mlflow_error(
        &post(
            s,
            "runs/search",
            json!({"experiment_ids": [experiment_id], "filter": "metrics.acc >> 1"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "at character 14",
    );
    assert_mlflow_error(
        &post(
            s,
            "runs/search",
            json!({"experiment_ids": [experiment_id], "max_results": 50001}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "50000",
    );
    // Searching by GET, with the query string.
    let (status, body) = get(
        s,
        &format!("runs/search?experiment_ids={experiment_id}&experiment_ids=0&filter=params.lr+%3D+%270.1%27"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(run_names(&body), ["b"]);
    let (_, body) = post(s, "runs/search", json!({"experiment_ids": ["0"]})).await;
    assert_eq!(run_names(&body), Vec::<String>::new());

    // Metric history, two points a page.
    let run_id = create_run(s, "0", "hist", 1).await;
    let metrics: Vec<Value> = (0..5)
        .map(|step| json!({"key": "loss", "value": step as f64, "timestamp": 10 + step, "step": step}))
        .collect();
    post(
        s,
        "runs/log-batch",
        json!({"run_id": run_id, "metrics": metrics}),
    )
    .await;
    let mut steps = Vec::new();
    let mut query = format!("metrics/get-history?run_uuid={run_id}&metric_key=loss&max_results=2");
    loop {
        let (status, body) = get(s, &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        steps.extend(
            body["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["step"].as_i64().unwrap()),
        );
        match body.get("next_page_token").and_then(Value::as_str) {
            Some(token) => {
                query = format!(
                    "metrics/get-history?run_uuid={run_id}&metric_key=loss&max_results=2&page_token={token}"
                );
            }
            None => break,
        }
    }
    assert_eq!(steps, [0, 1, 2, 3, 4]);
    let (_, body) = get(
        s,
        &format!("metrics/get-history?run_id={run_id}&metric_key=loss"),
    )
    .await;
    assert_eq!(body["metrics"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn dataset_inputs_are_stored_and_returned() {
    let f = fixture().await;
    let s = &f.state;
    let run_id = create_run(s, "0", "r", 1).await;
    let (status, body) = post(
        s,
        "runs/log-inputs",
        json!({
            "run_id": run_id,
            "datasets": [{
                "tags": [{"key": "mlflow.data.context", "value": "train"}],
                "dataset": {"name": "tiny", "digest": "abc", "source_type": "local",
                            "source": "{\"uri\": \"/d\"}", "schema": "{}"},
            }],
        }),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (_, body) = get(s, &format!("runs/get?run_id={run_id}")).await;
    assert_eq!(
        body["run"]["inputs"]["dataset_inputs"],
        json!([{
            "tags": [{"key": "mlflow.data.context", "value": "train"}],
            "dataset": {"name": "tiny", "digest": "abc", "source_type": "local",
                        "source": "{\"uri\": \"/d\"}", "schema": "{}"},
        }])
    );
    assert_mlflow_error(
        &post(
            s,
            "runs/log-inputs",
            json!({"run_id": run_id, "datasets": [{"tags": []}]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "datasets[0].dataset",
    );
}

#[tokio::test]
async fn run_outputs_list_the_logged_models_the_run_produced() {
    let f = fixture().await;
    let s = &f.state;
    let run_id = create_run(s, "0", "r", 1).await;
    let (status, body) = post(
        s,
        "logged-models",
        json!({"experiment_id": "0", "name": "m", "source_run_id": run_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let model_id = body["model"]["info"]["model_id"]
        .as_str()
        .or_else(|| body["model"]["model_id"].as_str())
        .expect("a model id")
        .to_string();
    let (status, body) = post(
        s,
        "runs/outputs",
        json!({"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (_, body) = get(s, &format!("runs/get?run_id={run_id}")).await;
    assert_eq!(
        body["run"]["outputs"],
        json!({"model_outputs": [{"model_id": model_id, "step": 0}]})
    );
    assert_mlflow_error(
        &post(
            s,
            "runs/outputs",
            json!({"run_id": run_id, "models": [{"model_id": "m-nope"}]}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "m-nope",
    );
}

#[tokio::test]
async fn unknown_mlflow_paths_answer_endpoint_not_found() {
    let f = fixture().await;
    assert_mlflow_error(
        &post(&f.state, "runs/no-such-thing", json!({})).await,
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        "runs/no-such-thing",
    );
    // Routes still answer: the fallback covers only what is not served.
    let (status, _) = get(&f.state, "experiments/get?experiment_id=0").await;
    assert_eq!(status, StatusCode::OK);
}
