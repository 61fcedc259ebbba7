"""The model registry: mlflow.sklearn.log_model → register_model → alias →
pyfunc.load_model and predict in the client; versa's own quickstart model
found by alias; registered models and versions: search, tags, descriptions,
rename, stages, latest versions, download URI, deletes."""

import os

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from conftest import error_code, unique


@pytest.fixture(scope="module")
def sklearn_model():
    features, labels = make_classification(n_samples=200, n_features=6, n_informative=4, random_state=7)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    return model, features


@pytest.fixture
def model_source(client, run_id, tmp_path):
    """A model directory logged as a run artifact; returns (run_id, source URI)."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n")
    client.log_artifacts(run_id, str(tmp_path / "model"), artifact_path="model")
    return run_id, f"{client.get_run(run_id).info.artifact_uri}/model"


@pytest.fixture
def registered(client, model_source):
    """A registered model with two versions from one run's artifacts."""
    run_id, source = model_source
    name = unique("reg")
    client.create_registered_model(name, description="first description", tags={"team": "compat"})
    client.create_model_version(name, source, run_id=run_id, description="v1")
    client.create_model_version(name, source, run_id=run_id, description="v2")
    return name


def test_log_model_register_alias_load_and_predict(tracking_uri, client, experiment_id, sklearn_model):
    mlflow.set_tracking_uri(tracking_uri)
    model, features = sklearn_model
    name = unique("sk")
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(model, name="model", input_example=features[:3])
    version = mlflow.register_model(info.model_uri, name)
    assert version.name == name and version.version == "1"

    client.set_registered_model_alias(name, "champion", version.version)
    by_alias = client.get_model_version_by_alias(name, "champion")
    assert by_alias.version == "1"
    assert "champion" in client.get_registered_model(name).aliases

    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    predictions = np.asarray(loaded.predict(features[:50]))
    assert np.array_equal(predictions, model.predict(features[:50]))

    by_number = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert np.array_equal(by_number.predict_proba(features[:50]), model.predict_proba(features[:50]))


def test_versa_quickstart_model_is_found_by_alias(client, versa):
    shown = versa("models", "show", "churn")
    production = [v["version"] for v in shown["versions"] if "production" in v["aliases"]]
    assert len(production) == 1, shown
    version = client.get_model_version_by_alias("churn", "production")
    assert version.name == "churn"
    assert version.version == str(production[0])
    assert "production" in version.aliases
    registered = client.get_registered_model("churn")
    assert registered.aliases.get("production") == str(production[0])


def test_versa_quickstart_models_are_searchable(client, versa):
    listed = {m.name for m in client.search_registered_models(filter_string="name = 'churn'")}
    assert listed == {"churn"}
    versions = client.search_model_versions("name = 'churn'")
    shown = versa("models", "show", "churn")
    assert sorted(int(v.version) for v in versions) == sorted(v["version"] for v in shown["versions"])


def test_create_get_and_versions(client, registered, model_source):
    run_id, _ = model_source
    model = client.get_registered_model(registered)
    assert model.name == registered
    assert model.description == "first description"
    assert model.tags == {"team": "compat"}
    assert sorted(v.version for v in client.search_model_versions(f"name = '{registered}'")) == ["1", "2"]

    version = client.get_model_version(registered, "2")
    assert version.version == "2" and version.run_id == run_id and version.description == "v2"
    assert version.status == "READY"
    assert version.current_stage == "None"


def test_search_registered_models_by_name_and_like(client, registered):
    found = client.search_registered_models(filter_string=f"name = '{registered}'")
    assert [m.name for m in found] == [registered]
    prefix = registered[:-4]
    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'")
    assert registered in {m.name for m in found}


def test_search_registered_models_pages(client):
    prefix = unique("paged-reg")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        client.create_registered_model(name)
    seen = []
    token = None
    for _ in range(10):
        page = client.search_registered_models(
            filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"], max_results=2, page_token=token
        )
        seen.extend(m.name for m in page)
        token = page.token
        if not token:
            break
    assert seen == names


def test_search_model_versions_by_run_id(client, registered, model_source):
    run_id, _ = model_source
    found = client.search_model_versions(f"run_id = '{run_id}'")
    assert sorted((v.name, v.version) for v in found) == [(registered, "1"), (registered, "2")]


def test_update_descriptions(client, registered):
    client.update_registered_model(registered, description="changed")
    assert client.get_registered_model(registered).description == "changed"
    client.update_model_version(registered, "1", description="first version, edited")
    assert client.get_model_version(registered, "1").description == "first version, edited"


def test_registered_model_and_version_tags(client, registered):
    client.set_registered_model_tag(registered, "owner", "ml-team")
    assert client.get_registered_model(registered).tags["owner"] == "ml-team"
    client.delete_registered_model_tag(registered, "owner")
    assert "owner" not in client.get_registered_model(registered).tags

    client.set_model_version_tag(registered, "2", "validated", "yes")
    assert client.get_model_version(registered, "2").tags == {"validated": "yes"}
    found = client.search_model_versions(f"name = '{registered}' and tags.validated = 'yes'")
    assert [v.version for v in found] == ["2"]
    client.delete_model_version_tag(registered, "2", "validated")
    assert client.get_model_version(registered, "2").tags == {}


def test_aliases_set_move_and_delete(client, registered):
    client.set_registered_model_alias(registered, "prod", "1")
    assert client.get_model_version_by_alias(registered, "prod").version == "1"
    client.set_registered_model_alias(registered, "prod", "2")
    assert client.get_model_version_by_alias(registered, "prod").version == "2"
    assert client.get_model_version(registered, "2").aliases == ["prod"]
    assert client.get_model_version(registered, "1").aliases == []

    client.delete_registered_model_alias(registered, "prod")
    assert client.get_registered_model(registered).aliases == {}
    with pytest.raises(MlflowException) as raised:
        client.get_model_version_by_alias(registered, "prod")
    # MLflow's stores answer a missing alias with INVALID_PARAMETER_VALUE.
    assert error_code(raised.value) == "INVALID_PARAMETER_VALUE"


def test_transition_stage_and_latest_versions(client, registered):
    staged = client.transition_model_version_stage(registered, "1", "Staging")
    assert staged.current_stage == "Staging"
    client.transition_model_version_stage(registered, "2", "Production")
    assert client.get_model_version(registered, "2").current_stage == "Production"

    latest = {v.current_stage: v.version for v in client.get_latest_versions(registered)}
    assert latest == {"Staging": "1", "Production": "2"}
    assert [v.version for v in client.get_latest_versions(registered, stages=["Staging"])] == ["1"]

    client.transition_model_version_stage(registered, "1", "Production", archive_existing_versions=True)
    assert client.get_model_version(registered, "2").current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions(registered, stages=["Production"])] == ["1"]


def test_rename_registered_model(client, registered):
    new_name = unique("renamed-reg")
    client.rename_registered_model(registered, new_name)
    assert client.get_registered_model(new_name).name == new_name
    assert sorted(v.version for v in client.search_model_versions(f"name = '{new_name}'")) == ["1", "2"]
    with pytest.raises(MlflowException) as raised:
        client.get_registered_model(registered)
    assert error_code(raised.value) == "RESOURCE_DOES_NOT_EXIST"


def test_download_uri_is_not_a_client_path(client, registered):
    uri = client.get_model_version_download_uri(registered, "1")
    assert uri and not os.path.isabs(uri) and not uri.startswith("file:"), uri


def test_local_path_source_is_refused(client, tmp_path):
    name = unique("local-src")
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as raised:
        client.create_model_version(name, str(tmp_path), run_id=None)
    assert error_code(raised.value) == "INVALID_PARAMETER_VALUE"


def test_delete_model_version(client, registered):
    client.delete_model_version(registered, "1")
    assert [v.version for v in client.search_model_versions(f"name = '{registered}'")] == ["2"]
    with pytest.raises(MlflowException) as raised:
        client.get_model_version(registered, "1")
    assert error_code(raised.value) == "RESOURCE_DOES_NOT_EXIST"


def test_delete_registered_model(client, registered):
    client.delete_registered_model(registered)
    with pytest.raises(MlflowException) as raised:
        client.get_registered_model(registered)
    assert error_code(raised.value) == "RESOURCE_DOES_NOT_EXIST"
    assert client.search_model_versions(f"name = '{registered}'") == []


def test_duplicate_registered_model_is_resource_already_exists(client, registered):
    with pytest.raises(MlflowException) as raised:
        client.create_registered_model(registered)
    assert error_code(raised.value) == "RESOURCE_ALREADY_EXISTS"
