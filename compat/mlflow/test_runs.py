"""Runs: create, get, update, terminate, delete, restore; params, metrics
(including NaN and ±inf), tags, log_batch and metric history."""

import math
import time

import mlflow
from mlflow.entities import Metric, Param, RunTag, ViewType


def test_create_and_get(client, experiment_id):
    before = int(time.time() * 1000)
    run = client.create_run(experiment_id, run_name="compat-run", tags={"team": "compat"})
    info = run.info
    assert len(info.run_id) == 32 and info.run_id.isalnum()
    assert info.experiment_id == experiment_id
    assert info.run_name == "compat-run"
    assert info.status == "RUNNING"
    assert info.lifecycle_stage == "active"
    assert info.start_time >= before - 60_000
    assert info.artifact_uri

    fetched = client.get_run(info.run_id)
    assert fetched.info.run_id == info.run_id
    assert fetched.info.run_name == "compat-run"
    assert fetched.data.tags.get("team") == "compat"
    # MLflow keeps the run name as the mlflow.runName tag too.
    assert fetched.data.tags.get("mlflow.runName") == "compat-run"


def test_terminate_sets_status_and_end_time(client, run_id):
    client.set_terminated(run_id, status="FAILED")
    info = client.get_run(run_id).info
    assert info.status == "FAILED"
    assert info.end_time is not None and info.end_time >= info.start_time


def test_update_run_renames(client, run_id):
    client.update_run(run_id, name="renamed-run")
    run = client.get_run(run_id)
    assert run.info.run_name == "renamed-run"
    assert run.data.tags.get("mlflow.runName") == "renamed-run"


def test_params(client, run_id):
    client.log_param(run_id, "learning_rate", 0.01)
    client.log_param(run_id, "optimizer", "adam")
    client.log_param(run_id, "layers", [64, 32])
    params = client.get_run(run_id).data.params
    # The client sends every value as a string.
    assert params == {"learning_rate": "0.01", "optimizer": "adam", "layers": "[64, 32]"}


def test_logging_the_same_param_value_again_is_accepted(client, run_id):
    client.log_param(run_id, "seed", "7")
    client.log_param(run_id, "seed", "7")
    assert client.get_run(run_id).data.params["seed"] == "7"


def test_metrics_latest_value_and_history(client, run_id):
    for step, value in enumerate([0.9, 0.5, 0.25]):
        client.log_metric(run_id, "loss", value, timestamp=1_700_000_000_000 + step, step=step)
    run = client.get_run(run_id)
    # The run's metric is the value at the highest step.
    assert run.data.metrics["loss"] == 0.25

    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in sorted(history, key=lambda m: m.step)] == [
        (0, 0.9, 1_700_000_000_000),
        (1, 0.5, 1_700_000_000_001),
        (2, 0.25, 1_700_000_000_002),
    ]
    assert all(m.key == "loss" for m in history)


def test_metric_history_of_unlogged_key_is_empty(client, run_id):
    assert list(client.get_metric_history(run_id, "never-logged")) == []


def test_nan_and_infinite_metrics_round_trip(client, run_id):
    # MLflow's file store keeps ±inf; its SQL store clamps them to ±float max
    # (a limit of the databases it supports). versa stores f64 as is.
    client.log_metric(run_id, "nan_metric", float("nan"), step=0)
    client.log_metric(run_id, "pos_inf", float("inf"), step=0)
    client.log_metric(run_id, "neg_inf", float("-inf"), step=0)
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan_metric"])
    assert metrics["pos_inf"] == math.inf
    assert metrics["neg_inf"] == -math.inf

    history = client.get_metric_history(run_id, "pos_inf")
    assert [m.value for m in history] == [math.inf]
    history = client.get_metric_history(run_id, "nan_metric")
    assert len(history) == 1 and math.isnan(history[0].value)


def test_large_and_tiny_metric_values_keep_their_bits(client, run_id):
    values = {"big": 1.7976931348623157e308, "tiny": 5e-324, "third": 1 / 3}
    for key, value in values.items():
        client.log_metric(run_id, key, value)
    metrics = client.get_run(run_id).data.metrics
    for key, value in values.items():
        assert metrics[key] == value, key


def test_tags_set_overwrite_and_delete(client, run_id):
    client.set_tag(run_id, "stage", "dev")
    client.set_tag(run_id, "stage", "prod")
    client.set_tag(run_id, "note", "unicode ✓ and spaces")
    tags = client.get_run(run_id).data.tags
    assert tags["stage"] == "prod"
    assert tags["note"] == "unicode ✓ and spaces"

    client.delete_tag(run_id, "stage")
    tags = client.get_run(run_id).data.tags
    assert "stage" not in tags
    assert tags["note"] == "unicode ✓ and spaces"


def test_log_batch(client, run_id):
    timestamp = 1_700_000_000_000
    metrics = [Metric(f"m{i}", i * 0.5, timestamp, step) for i in range(10) for step in range(3)]
    params = [Param(f"p{i}", str(i)) for i in range(10)]
    tags = [RunTag(f"t{i}", f"v{i}") for i in range(5)]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    data = client.get_run(run_id).data
    assert data.params == {f"p{i}": str(i) for i in range(10)}
    assert {k: v for k, v in data.metrics.items()} == {f"m{i}": i * 0.5 for i in range(10)}
    for i in range(5):
        assert data.tags[f"t{i}"] == f"v{i}"
    history = client.get_metric_history(run_id, "m3")
    assert sorted(m.step for m in history) == [0, 1, 2]


def test_log_batch_of_many_metrics_is_split_by_the_client_and_all_arrive(client, run_id):
    # The client splits batches above MLflow's limit (1000 metrics per request).
    metrics = [Metric("curve", float(step), 1_700_000_000_000 + step, step) for step in range(2500)]
    client.log_batch(run_id, metrics=metrics)
    history = client.get_metric_history(run_id, "curve")
    assert len(history) == 2500
    assert sorted(m.step for m in history) == list(range(2500))
    assert client.get_run(run_id).data.metrics["curve"] == 2499.0


def test_delete_and_restore_run(client, experiment_id, run_id):
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    active = client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    assert run_id not in {r.info.run_id for r in active}
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert run_id in {r.info.run_id for r in deleted}

    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    active = client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    assert run_id in {r.info.run_id for r in active}


def test_fluent_api_run(tracking_uri, client, experiment_id):
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name="fluent") as run:
        mlflow.log_params({"alpha": 0.5, "kind": "ridge"})
        mlflow.log_metrics({"rmse": 1.25, "r2": 0.75}, step=3)
        mlflow.set_tags({"source": "compat"})
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.status == "FINISHED"
    assert fetched.data.params == {"alpha": "0.5", "kind": "ridge"}
    assert fetched.data.metrics == {"rmse": 1.25, "r2": 0.75}
    assert fetched.data.tags["source"] == "compat"


def test_fluent_run_that_raises_is_failed(tracking_uri, client, experiment_id):
    mlflow.set_tracking_uri(tracking_uri)
    run_id = None
    try:
        with mlflow.start_run(experiment_id=experiment_id) as run:
            run_id = run.info.run_id
            raise RuntimeError("training blew up")
    except RuntimeError:
        pass
    assert client.get_run(run_id).info.status == "FAILED"


def test_log_inputs_dataset(tracking_uri, client, experiment_id):
    import pandas as pd

    mlflow.set_tracking_uri(tracking_uri)
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="compat-data", targets="y")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(dataset, context="training")
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [d.dataset.name for d in inputs] == ["compat-data"]
    assert inputs[0].dataset.digest == dataset.digest
    assert {t.key: t.value for t in inputs[0].tags}.get("mlflow.data.context") == "training"
