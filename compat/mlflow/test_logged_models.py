"""MLflow 3 logged models: what log_model creates is a logged model the
client can read back, search, tag, and link to its run."""

import mlflow
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import RidgeClassifier


@pytest.fixture(scope="module")
def logged(tracking_uri):
    """A ridge classifier logged with mlflow.sklearn.log_model in a fresh
    experiment; returns (experiment_id, run_id, ModelInfo, model, features)."""
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    from conftest import unique

    experiment_id = client.create_experiment(unique("logged-models"))
    features, labels = make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0,
                                           random_state=3)
    model = RidgeClassifier(alpha=3.0).fit(features, labels)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(model, name="ridge", params={"alpha": "3.0"})
    return experiment_id, run.info.run_id, info, model, features


def test_log_model_creates_a_ready_logged_model(client, logged):
    experiment_id, run_id, info, _, _ = logged
    assert info.model_id and info.model_uri == f"models:/{info.model_id}"
    found = client.get_logged_model(info.model_id)
    assert found.model_id == info.model_id
    assert found.name == "ridge"
    assert found.experiment_id == experiment_id
    assert found.source_run_id == run_id
    assert str(found.status).endswith("READY")
    assert found.params == {"alpha": "3.0"}


def test_logged_model_loads_by_its_model_uri(logged):
    _, _, info, model, features = logged
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert np.array_equal(np.asarray(loaded.predict(features)), model.predict(features))


def test_search_logged_models_in_the_experiment(client, logged):
    experiment_id, _, info, _, _ = logged
    found = client.search_logged_models([experiment_id])
    assert [m.model_id for m in found] == [info.model_id]
    found = client.search_logged_models([experiment_id], filter_string="name = 'ridge'")
    assert [m.model_id for m in found] == [info.model_id]
    found = client.search_logged_models([experiment_id], filter_string="name = 'no-such-model'")
    assert list(found) == []


def test_logged_model_tags(client, logged):
    _, _, info, _, _ = logged
    client.set_logged_model_tags(info.model_id, {"reviewed": "yes"})
    assert client.get_logged_model(info.model_id).tags.get("reviewed") == "yes"
    client.delete_logged_model_tag(info.model_id, "reviewed")
    assert "reviewed" not in client.get_logged_model(info.model_id).tags


def test_run_lists_its_logged_model_as_output(client, logged):
    _, run_id, info, _, _ = logged
    outputs = client.get_run(run_id).outputs
    assert outputs is not None
    assert [m.model_id for m in outputs.model_outputs] == [info.model_id]
