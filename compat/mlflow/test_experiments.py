"""Experiments: create, get, get by name, search, rename, tags, delete, restore."""

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from conftest import error_code, unique


def test_create_then_get_by_id_and_by_name(client):
    name = unique("exp")
    experiment_id = client.create_experiment(name, tags={"team": "compat"})
    assert isinstance(experiment_id, str) and experiment_id

    by_id = client.get_experiment(experiment_id)
    assert by_id.experiment_id == experiment_id
    assert by_id.name == name
    assert by_id.lifecycle_stage == "active"
    assert by_id.tags.get("team") == "compat"
    assert by_id.artifact_location, "an experiment needs an artifact location for log_artifact"

    by_name = client.get_experiment_by_name(name)
    assert by_name is not None and by_name.experiment_id == experiment_id


def test_get_by_name_of_unknown_experiment_is_none(client):
    assert client.get_experiment_by_name(unique("no-such-exp")) is None


def test_default_experiment_zero_exists(client):
    # mlflow.start_run() with no experiment set logs into experiment "0".
    default = client.get_experiment("0")
    assert default.experiment_id == "0"
    assert default.name == "Default"


def test_search_by_name_filter(client):
    prefix = unique("search-exp")
    ids = {client.create_experiment(f"{prefix}-{i}") for i in range(3)}
    client.create_experiment(unique("other-exp"))

    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'")
    assert {e.experiment_id for e in found} == ids

    exact = client.search_experiments(filter_string=f"name = '{prefix}-1'")
    assert [e.name for e in exact] == [f"{prefix}-1"]


def test_search_orders_and_pages(client):
    prefix = unique("paged-exp")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        client.create_experiment(name)

    seen = []
    token = None
    for _ in range(10):
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"],
            max_results=2, page_token=token,
        )
        assert len(page) <= 2
        seen.extend(e.name for e in page)
        token = page.token
        if not token:
            break
    assert seen == sorted(names, reverse=True)


def test_search_by_tag(client):
    marker = unique("marker")
    tagged = client.create_experiment(unique("tagged-exp"), tags={"marker": marker})
    client.create_experiment(unique("untagged-exp"))
    found = client.search_experiments(filter_string=f"tags.marker = '{marker}'")
    assert [e.experiment_id for e in found] == [tagged]


def test_rename(client, experiment_id):
    new_name = unique("renamed-exp")
    client.rename_experiment(experiment_id, new_name)
    assert client.get_experiment(experiment_id).name == new_name
    assert client.get_experiment_by_name(new_name).experiment_id == experiment_id


def test_set_and_delete_experiment_tag(client, experiment_id):
    client.set_experiment_tag(experiment_id, "owner", "compat")
    assert client.get_experiment(experiment_id).tags.get("owner") == "compat"
    client.delete_experiment_tag(experiment_id, "owner")
    assert "owner" not in client.get_experiment(experiment_id).tags


def test_delete_and_restore(client):
    name = unique("deleted-exp")
    experiment_id = client.create_experiment(name)

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    active = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, filter_string=f"name = '{name}'")
    assert active == []
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in deleted] == [experiment_id]

    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    active = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in active] == [experiment_id]


def test_fluent_set_experiment_creates_it(tracking_uri):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    name = unique("fluent-exp")
    experiment = mlflow.set_experiment(name)
    assert experiment.name == name
    with mlflow.start_run() as run:
        mlflow.log_param("p", "1")
    assert run.info.experiment_id == experiment.experiment_id
    assert mlflow.get_run(run.info.run_id).info.status == "FINISHED"


def test_create_duplicate_name_is_resource_already_exists(client):
    name = unique("dup-exp")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as raised:
        client.create_experiment(name)
    assert error_code(raised.value) == "RESOURCE_ALREADY_EXISTS"
