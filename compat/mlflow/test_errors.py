"""Error cases: MLflow's error codes reach the client as MlflowException with
the right error_code, and the HTTP statuses and JSON error bodies match
MLflow's server (RESOURCE_DOES_NOT_EXIST → 404; INVALID_PARAMETER_VALUE and
RESOURCE_ALREADY_EXISTS → 400)."""

import pytest
import requests
from mlflow.exceptions import MlflowException

from conftest import error_code, unique

UNKNOWN_RUN = "0" * 32


def test_unknown_run_is_resource_does_not_exist(client):
    with pytest.raises(MlflowException) as raised:
        client.get_run(UNKNOWN_RUN)
    assert error_code(raised.value) == "RESOURCE_DOES_NOT_EXIST"


def test_logging_to_an_unknown_run_is_resource_does_not_exist(client):
    with pytest.raises(MlflowException) as raised:
        client.log_metric(UNKNOWN_RUN, "m", 1.0)
    assert error_code(raised.value) == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_experiment_is_resource_does_not_exist(client):
    with pytest.raises(MlflowException) as raised:
        client.get_experiment("987654321")
    assert error_code(raised.value) == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_registered_model_is_resource_does_not_exist(client):
    with pytest.raises(MlflowException) as raised:
        client.get_registered_model(unique("no-such-model"))
    assert error_code(raised.value) == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_alias_is_invalid_parameter_value(client):
    # MLflow's registry stores (SQL and file) answer a missing alias this way.
    name = unique("no-alias")
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as raised:
        client.get_model_version_by_alias(name, "no-such-alias")
    assert error_code(raised.value) == "INVALID_PARAMETER_VALUE"


def test_duplicate_experiment_is_resource_already_exists(client):
    name = unique("dup")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as raised:
        client.create_experiment(name)
    assert error_code(raised.value) == "RESOURCE_ALREADY_EXISTS"


@pytest.mark.parametrize("bad_filter", [
    "metrics.acc >>> 1",
    "metrics.acc > 'not a number'",
    "nosuchprefix.x = '1'",
    "params.lr = ",
])
def test_bad_filter_is_invalid_parameter_value(client, experiment_id, bad_filter):
    with pytest.raises(MlflowException) as raised:
        client.search_runs([experiment_id], filter_string=bad_filter)
    assert error_code(raised.value) == "INVALID_PARAMETER_VALUE"


def test_bad_order_by_is_invalid_parameter_value(client, experiment_id):
    with pytest.raises(MlflowException) as raised:
        client.search_runs([experiment_id], order_by=["metrics.acc SIDEWAYS"])
    assert error_code(raised.value) == "INVALID_PARAMETER_VALUE"


def test_changing_a_logged_param_is_invalid_parameter_value(client, run_id):
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(MlflowException) as raised:
        client.log_param(run_id, "lr", "0.2")
    assert error_code(raised.value) == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run_id).data.params["lr"] == "0.1"


def test_log_batch_over_the_param_limit_is_invalid_parameter_value(tracking_uri, run_id):
    # The client splits big batches itself, so send the raw request: MLflow
    # accepts at most 100 params in one log-batch.
    body = {"run_id": run_id, "params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}
    response = requests.post(f"{tracking_uri}/api/2.0/mlflow/runs/log-batch", json=body, timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_error_bodies_and_statuses(tracking_uri):
    response = requests.get(
        f"{tracking_uri}/api/2.0/mlflow/runs/get", params={"run_id": UNKNOWN_RUN}, timeout=30
    )
    assert response.status_code == 404
    body = response.json()
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert isinstance(body.get("message"), str) and body["message"]

    response = requests.post(
        f"{tracking_uri}/api/2.0/mlflow/experiments/create", json={"name": ""}, timeout=30
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_run_uuid_is_accepted_for_run_id(tracking_uri, run_id):
    # Old clients send run_uuid; MLflow accepts either field.
    response = requests.get(
        f"{tracking_uri}/api/2.0/mlflow/runs/get", params={"run_uuid": run_id}, timeout=30
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["run"]["info"]["run_id"] == run_id


def test_bad_page_token_is_invalid_parameter_value(client, experiment_id):
    with pytest.raises(MlflowException) as raised:
        client.search_runs([experiment_id], page_token="not-a-token")
    assert error_code(raised.value) == "INVALID_PARAMETER_VALUE"


def test_log_batch_over_the_metric_limit_is_invalid_parameter_value(tracking_uri, run_id):
    # MLflow accepts at most 1000 metrics in one log-batch.
    metrics = [{"key": "m", "value": 1.0, "timestamp": 1_700_000_000_000, "step": i} for i in range(1001)]
    response = requests.post(
        f"{tracking_uri}/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": metrics}, timeout=30
    )
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"

