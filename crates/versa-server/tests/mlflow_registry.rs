//! MLflow's model registry and logged-model endpoints through the router
//! (`oneshot`) over a real workspace: every endpoint's answer shape and error
//! codes, aliases through the catalog's compare-and-swap (visible in the
//! alias history as `mlflow-api`), MLflow-format versions that versa refuses
//! to load, and a version versa trained itself found by alias in MLflow's shape.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use versa_core::{Alias, ModelName, VersionSelector};
use versa_pipeline::bundle::ModelBundle;
use versa_pipeline::scenario::{ScenarioConfig, run_scenario};
use versa_pipeline::{NoopObserver, Workspace};
use versa_server::{ServerState, app};

struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<ServerState>,
}

async fn fixture(trained: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(dir.path()).await.unwrap();
    if trained {
        run_scenario(&workspace, ScenarioConfig::default(), &mut NoopObserver)
            .await
            .unwrap();
    }
    let state = ServerState::new(workspace.catalog, workspace.blobs);
    Fixture { _dir: dir, state }
}

const API: &str = "/api/2.0/mlflow";

async fn call(
    state: &Arc<ServerState>,
    method: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    let request = Request::builder()
        .method(method)
        .uri(format!("{API}/{path}"))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn ok(state: &Arc<ServerState>, method: &str, path: &str, body: Value) -> Value {
    let (status, answer) = call(state, method, path, body).await;
    assert_eq!(status, StatusCode::OK, "{method} {path}: {answer}");
    answer
}

async fn put_artifact(state: &Arc<ServerState>, path: &str, bytes: &'static str) {
    let request = Request::builder()
        .method("PUT")
        .uri(format!("/api/2.0/mlflow-artifacts/artifacts/{path}"))
        .body(Body::from(bytes))
        .unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn versa_trained_version_is_found_by_alias_in_mlflow_shape() {
    let f = fixture(true).await;
    let answer = ok(
        &f.state,
        "GET",
        "registered-models/alias?name=churn&alias=production",
        Value::Null,
    )
    .await;
    let version = &answer["model_version"];
    assert_eq!(version["name"], "churn");
    assert_eq!(version["status"], "READY");
    assert_eq!(version["current_stage"], "None");
    assert!(
        version["version"].is_string(),
        "versions are strings: {version}"
    );
    assert!(version["source"].as_str().unwrap().starts_with("blob:b3:"));
    assert!(
        version["aliases"]
            .as_array()
            .unwrap()
            .contains(&json!("production"))
    );
    assert!(version["run_id"].is_string());
    assert!(
        version["model_metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == "accuracy")
    );

    let model = ok(
        &f.state,
        "GET",
        "registered-models/get?name=churn",
        Value::Null,
    )
    .await;
    let aliases = model["registered_model"]["aliases"].as_array().unwrap();
    assert!(aliases.iter().any(|a| a["alias"] == "production"));
    // A versa version has no MLflow artifacts to download.
    let number = version["version"].as_str().unwrap();
    let (status, error) = call(
        &f.state,
        "GET",
        &format!("model-versions/get-download-uri?name=churn&version={number}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().contains("versa model"),
        "{error}"
    );

    // Moving the alias through MLflow is a recorded compare-and-swap.
    ok(
        &f.state,
        "POST",
        "registered-models/alias",
        json!({"name": "churn", "alias": "production", "version": "1"}),
    )
    .await;
    let history = f
        .state
        .models()
        .catalog()
        .alias_history(
            &ModelName::new("churn").unwrap(),
            &Alias::new("production").unwrap(),
        )
        .await
        .unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.to_version, last.actor.as_str()),
        (Some(1), "mlflow-api")
    );
}

#[tokio::test]
async fn registered_model_lifecycle_and_errors() {
    let f = fixture(false).await;
    let created = ok(
        &f.state,
        "POST",
        "registered-models/create",
        json!({"name": "sk", "description": "d", "tags": [{"key": "team", "value": "ml"}]}),
    )
    .await;
    assert_eq!(created["registered_model"]["name"], "sk");
    assert_eq!(
        created["registered_model"]["tags"],
        json!([{"key": "team", "value": "ml"}])
    );

    let (status, duplicate) = call(
        &f.state,
        "POST",
        "registered-models/create",
        json!({"name": "sk"}),
    )
    .await;
    assert_eq!(
        (status, duplicate["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("RESOURCE_ALREADY_EXISTS"))
    );
    let (status, missing) = call(
        &f.state,
        "GET",
        "registered-models/get?name=nope",
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, missing["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    let (status, invalid) = call(&f.state, "POST", "registered-models/create", json!({})).await;
    assert_eq!(
        (status, invalid["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER_VALUE"))
    );

    ok(
        &f.state,
        "PATCH",
        "registered-models/update",
        json!({"name": "sk", "description": "new"}),
    )
    .await;
    ok(
        &f.state,
        "POST",
        "registered-models/set-tag",
        json!({"name": "sk", "key": "k", "value": "v"}),
    )
    .await;
    ok(
        &f.state,
        "DELETE",
        "registered-models/delete-tag",
        json!({"name": "sk", "key": "team"}),
    )
    .await;
    let (status, _) = call(
        &f.state,
        "DELETE",
        "registered-models/delete-tag",
        json!({"name": "sk", "key": "team"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let got = ok(
        &f.state,
        "GET",
        "registered-models/get?name=sk",
        Value::Null,
    )
    .await;
    assert_eq!(got["registered_model"]["description"], "new");
    assert_eq!(
        got["registered_model"]["tags"],
        json!([{"key": "k", "value": "v"}])
    );

    ok(
        &f.state,
        "POST",
        "registered-models/create",
        json!({"name": "other"}),
    )
    .await;
    let found = ok(
        &f.state,
        "GET",
        "registered-models/search?filter=name+LIKE+%27s%25%27",
        Value::Null,
    )
    .await;
    let names: Vec<&str> = found["registered_models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sk"]);
    let paged = ok(
        &f.state,
        "GET",
        "registered-models/search?max_results=1",
        Value::Null,
    )
    .await;
    assert_eq!(paged["registered_models"].as_array().unwrap().len(), 1);
    assert_eq!(paged["next_page_token"], "1");

    ok(
        &f.state,
        "POST",
        "registered-models/rename",
        json!({"name": "sk", "new_name": "sk2"}),
    )
    .await;
    let (status, _) = call(
        &f.state,
        "GET",
        "registered-models/get?name=sk",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, taken) = call(
        &f.state,
        "POST",
        "registered-models/rename",
        json!({"name": "sk2", "new_name": "other"}),
    )
    .await;
    assert_eq!(
        (status, taken["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("RESOURCE_ALREADY_EXISTS"))
    );
    ok(
        &f.state,
        "DELETE",
        "registered-models/delete",
        json!({"name": "sk2"}),
    )
    .await;
    let (status, _) = call(
        &f.state,
        "DELETE",
        "registered-models/delete",
        json!({"name": "sk2"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn logged_model_to_registered_version_to_alias_and_back() {
    let f = fixture(false).await;
    // What mlflow.sklearn.log_model does: create, upload, finalize.
    let created = ok(&f.state, "POST", "logged-models", json!({"experiment_id": "0", "name": "model", "model_type": "sklearn", "params": [{"key": "C", "value": "1"}]})).await;
    let info = &created["model"]["info"];
    let model_id = info["model_id"].as_str().unwrap().to_string();
    assert!(
        model_id.starts_with("m-") && model_id.len() == 34,
        "{model_id}"
    );
    assert_eq!(info["status"], "LOGGED_MODEL_PENDING");
    let location = info["artifact_uri"].as_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("mlflow-artifacts:/0/models/{model_id}/artifacts")
    );
    let root = location
        .strip_prefix("mlflow-artifacts:/")
        .unwrap()
        .to_string();
    put_artifact(
        &f.state,
        Box::leak(format!("{root}/MLmodel").into_boxed_str()),
        "flavors: {}",
    )
    .await;
    put_artifact(
        &f.state,
        Box::leak(format!("{root}/sub/model.pkl").into_boxed_str()),
        "bytes",
    )
    .await;
    let finalized = ok(
        &f.state,
        "PATCH",
        &format!("logged-models/{model_id}"),
        json!({"model_id": model_id, "status": "LOGGED_MODEL_READY"}),
    )
    .await;
    assert_eq!(finalized["model"]["info"]["status"], "LOGGED_MODEL_READY");
    ok(
        &f.state,
        "PATCH",
        &format!("logged-models/{model_id}/tags"),
        json!({"tags": [{"key": "t", "value": "1"}]}),
    )
    .await;
    ok(
        &f.state,
        "POST",
        &format!("logged-models/{model_id}/params"),
        json!({"params": [{"key": "D", "value": "2"}]}),
    )
    .await;
    let got = ok(
        &f.state,
        "GET",
        &format!("logged-models/{model_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(
        got["model"]["data"]["params"],
        json!([{"key": "C", "value": "1"}, {"key": "D", "value": "2"}])
    );
    let searched = ok(
        &f.state,
        "POST",
        "logged-models/search",
        json!({"experiment_ids": ["0"], "filter": "name = 'model'"}),
    )
    .await;
    assert_eq!(searched["models"].as_array().unwrap().len(), 1);
    let listed = ok(
        &f.state,
        "GET",
        &format!("logged-models/{model_id}/artifacts/directories"),
        Value::Null,
    )
    .await;
    assert_eq!(
        listed["files"],
        json!([{"path": "MLmodel", "is_dir": false, "file_size": 11}, {"path": "sub", "is_dir": true}])
    );
    let listed = ok(
        &f.state,
        "GET",
        &format!("logged-models/{model_id}/artifacts/directories?artifact_directory_path=sub"),
        Value::Null,
    )
    .await;
    assert_eq!(
        listed["files"],
        json!([{"path": "sub/model.pkl", "is_dir": false, "file_size": 5}])
    );

    ok(
        &f.state,
        "POST",
        "registered-models/create",
        json!({"name": "sk"}),
    )
    .await;
    let version = ok(
        &f.state,
        "POST",
        "model-versions/create",
        json!({"name": "sk", "source": format!("models:/{model_id}"), "model_id": model_id}),
    )
    .await;
    assert_eq!(version["model_version"]["version"], "1");
    assert_eq!(version["model_version"]["model_id"], model_id.as_str());
    let uri = ok(
        &f.state,
        "GET",
        "model-versions/get-download-uri?name=sk&version=1",
        Value::Null,
    )
    .await;
    assert_eq!(uri["artifact_uri"], location.as_str());

    ok(
        &f.state,
        "POST",
        "registered-models/alias",
        json!({"name": "sk", "alias": "champion", "version": "1"}),
    )
    .await;
    let by_alias = ok(
        &f.state,
        "GET",
        "registered-models/alias?name=sk&alias=champion",
        Value::Null,
    )
    .await;
    assert_eq!(by_alias["model_version"]["aliases"], json!(["champion"]));
    // versa refuses to load an MLflow-format version, clearly.
    let catalog = f.state.models().catalog();
    let error = ModelBundle::load(
        catalog,
        f.state.models().blobs(),
        &ModelName::new("sk").unwrap(),
        &VersionSelector::Version(1),
    )
    .await
    .err()
    .expect("an MLflow version is not a versa bundle");
    assert!(
        error
            .to_string()
            .contains("registered through the MLflow API"),
        "{error}"
    );

    ok(
        &f.state,
        "POST",
        "model-versions/set-tag",
        json!({"name": "sk", "version": "1", "key": "k", "value": "v"}),
    )
    .await;
    ok(
        &f.state,
        "PATCH",
        "model-versions/update",
        json!({"name": "sk", "version": "1", "description": "first"}),
    )
    .await;
    let staged = ok(&f.state, "POST", "model-versions/transition-stage", json!({"name": "sk", "version": "1", "stage": "production", "archive_existing_versions": false})).await;
    assert_eq!(staged["model_version"]["current_stage"], "Production");
    let latest = ok(
        &f.state,
        "POST",
        "registered-models/get-latest-versions",
        json!({"name": "sk", "stages": ["Production"]}),
    )
    .await;
    assert_eq!(latest["model_versions"][0]["description"], "first");
    let searched = ok(
        &f.state,
        "GET",
        "model-versions/search?filter=name%3D%27sk%27+AND+tags.k%3D%27v%27",
        Value::Null,
    )
    .await;
    assert_eq!(searched["model_versions"].as_array().unwrap().len(), 1);
    ok(
        &f.state,
        "DELETE",
        "model-versions/delete-tag",
        json!({"name": "sk", "version": "1", "key": "k"}),
    )
    .await;

    ok(
        &f.state,
        "DELETE",
        "registered-models/alias",
        json!({"name": "sk", "alias": "champion"}),
    )
    .await;
    // MLflow's stores answer a deleted (unknown) alias of a known model with
    // INVALID_PARAMETER_VALUE, and an unknown model with RESOURCE_DOES_NOT_EXIST.
    let (status, body) = call(
        &f.state,
        "GET",
        "registered-models/alias?name=sk&alias=champion",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_code"], "INVALID_PARAMETER_VALUE");
    assert_eq!(
        body["message"],
        "Registered model alias champion not found."
    );
    let (status, body) = call(
        &f.state,
        "GET",
        "registered-models/alias?name=no-such-model&alias=champion",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
    ok(
        &f.state,
        "DELETE",
        "model-versions/delete",
        json!({"name": "sk", "version": "1"}),
    )
    .await;
    let (status, gone) = call(
        &f.state,
        "GET",
        "model-versions/get?name=sk&version=1",
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, gone["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    // A deleted number is never given again.
    let again = ok(
        &f.state,
        "POST",
        "model-versions/create",
        json!({"name": "sk", "source": format!("models:/{model_id}")}),
    )
    .await;
    assert_eq!(again["model_version"]["version"], "2");

    ok(
        &f.state,
        "DELETE",
        &format!("logged-models/{model_id}/tags/t"),
        Value::Null,
    )
    .await;
    ok(
        &f.state,
        "DELETE",
        &format!("logged-models/{model_id}"),
        Value::Null,
    )
    .await;
    let (status, _) = call(
        &f.state,
        "GET",
        &format!("logged-models/{model_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn version_errors_name_the_problem() {
    let f = fixture(false).await;
    let (status, answer) = call(
        &f.state,
        "POST",
        "model-versions/create",
        json!({"name": "ghost", "source": "mlflow-artifacts:/x"}),
    )
    .await;
    assert_eq!(
        (status, answer["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    ok(
        &f.state,
        "POST",
        "registered-models/create",
        json!({"name": "m"}),
    )
    .await;
    let (status, answer) = call(
        &f.state,
        "GET",
        "model-versions/get?name=m&version=zero",
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, answer["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, answer) = call(
        &f.state,
        "POST",
        "model-versions/transition-stage",
        json!({"name": "m", "version": "1", "stage": "Shipping"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = call(
        &f.state,
        "POST",
        "registered-models/alias",
        json!({"name": "m", "alias": "latest", "version": "1"}),
    )
    .await;
    assert_eq!(
        (status, answer["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, _) = call(
        &f.state,
        "GET",
        "model-versions/search?filter=bogus_key%3D%27x%27",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
