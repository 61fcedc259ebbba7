"""One catalog: what the mlflow client logs is what versa's own CLI reads from
the workspace's catalog, and versa's runs are visible to the mlflow client."""

import math

import mlflow


def test_mlflow_run_is_listed_by_versa(tracking_uri, client, experiment_id, versa):
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name="from-mlflow") as run:
        mlflow.log_param("optimizer", "adam")
        mlflow.log_metric("loss", 0.5, step=0)
        mlflow.log_metric("loss", 0.25, step=1)
    listed = {r["run_id"]: r for r in versa("runs", "list")["runs"]}
    assert run.info.run_id in listed
    row = listed[run.info.run_id]
    assert row["run_name"] == "from-mlflow"
    assert row["experiment_id"] == experiment_id
    assert row["status"] == "FINISHED"

    shown = versa("runs", "show", run.info.run_id)
    assert shown["run"]["params"]["optimizer"] == "adam"
    assert shown["run"]["latest_metrics"]["loss"] == 0.25
    assert [m["value"] for m in sorted(shown["metric_history"]["loss"], key=lambda m: m["step"])] == [0.5, 0.25]


def test_versa_training_run_is_visible_to_mlflow(client, versa):
    runs = versa("runs", "list")["runs"]
    trained = [r for r in runs if r["run_name"] == "churn-v2"]
    assert trained, runs
    run = client.get_run(trained[0]["run_id"])
    assert run.info.run_name == "churn-v2"
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == trained[0]["experiment_id"]
    assert 0.0 <= run.data.metrics["test_accuracy"] <= 1.0
    assert not math.isnan(run.data.metrics["train_loss"])
    history = client.get_metric_history(run.info.run_id, "val_loss")
    steps = [m.step for m in history]
    assert len(steps) >= 2 and len(set(steps)) == len(steps), steps
