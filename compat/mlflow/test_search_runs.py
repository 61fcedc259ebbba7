"""search_runs: filter strings over metrics, params, tags and attributes
(comparisons, LIKE, ILIKE, IN, AND), order_by, and paging by page token."""

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag

from conftest import unique

N_RUNS = 7


@pytest.fixture(scope="module")
def population(tracking_uri):
    """One experiment with seven finished runs:
    run i has metrics.acc = i/10, metrics.loss = 1 - i/10, params.lr = 0.00i,
    params.optimizer adam (even i) / sgd (odd i), tags.group a (i < 3) / b,
    run name run-i (run-6 failed)."""
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment_id = client.create_experiment(unique("search"))
    runs = {}
    for i in range(N_RUNS):
        run = client.create_run(experiment_id, run_name=f"run-{i}", start_time=1_700_000_000_000 + i * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 1_700_000_000_000, 0), Metric("loss", 1 - i / 10, 1_700_000_000_000, 0)],
            params=[Param("lr", f"0.00{i}"), Param("optimizer", "adam" if i % 2 == 0 else "sgd")],
            tags=[RunTag("group", "a" if i < 3 else "b")],
        )
        client.set_terminated(run.info.run_id, status="FAILED" if i == 6 else "FINISHED")
        runs[i] = run.info.run_id
    return experiment_id, runs


def names(found):
    return [r.info.run_name for r in found]


def search(client, population, **kwargs):
    experiment_id, _ = population
    return client.search_runs([experiment_id], **kwargs)


def test_all_runs_default_order_is_newest_start_first(client, population):
    found = search(client, population)
    assert names(found) == [f"run-{i}" for i in reversed(range(N_RUNS))]
    # search results carry the run's data, not just its id
    first = found[0]
    assert first.data.metrics["acc"] == 0.6
    assert first.data.params["optimizer"] == "adam"
    assert first.data.tags["group"] == "b"


def test_metric_comparison(client, population):
    found = search(client, population, filter_string="metrics.acc > 0.35")
    assert sorted(names(found)) == ["run-4", "run-5", "run-6"]
    found = search(client, population, filter_string="metrics.acc <= 0.1")
    assert sorted(names(found)) == ["run-0", "run-1"]
    found = search(client, population, filter_string="metrics.loss != 0.5")
    assert "run-5" not in names(found) and len(found) == N_RUNS - 1


def test_param_equality_and_like(client, population):
    found = search(client, population, filter_string="params.optimizer = 'sgd'")
    assert sorted(names(found)) == ["run-1", "run-3", "run-5"]
    found = search(client, population, filter_string="params.lr LIKE '0.00%'")
    assert len(found) == N_RUNS
    found = search(client, population, filter_string="params.optimizer ILIKE 'AD%'")
    assert sorted(names(found)) == ["run-0", "run-2", "run-4", "run-6"]


def test_tag_filter_and_conjunction(client, population):
    found = search(client, population, filter_string="tags.group = 'a' and metrics.acc >= 0.1")
    assert sorted(names(found)) == ["run-1", "run-2"]
    found = search(client, population, filter_string="tags.`group` = 'b' AND params.optimizer = 'adam'")
    assert sorted(names(found)) == ["run-4", "run-6"]


def test_attribute_filters(client, population):
    found = search(client, population, filter_string="attributes.status = 'FAILED'")
    assert names(found) == ["run-6"]
    found = search(client, population, filter_string="attributes.run_name LIKE 'run-%' AND status = 'FINISHED'")
    assert len(found) == N_RUNS - 1
    found = search(client, population, filter_string="run_name = 'run-3'")
    assert names(found) == ["run-3"]
    _, runs = population
    found = search(client, population, filter_string=f"attributes.run_id IN ('{runs[1]}', '{runs[4]}')")
    assert sorted(names(found)) == ["run-1", "run-4"]
    found = search(client, population, filter_string="attributes.start_time >= 1700000004000")
    assert sorted(names(found)) == ["run-4", "run-5", "run-6"]


def test_order_by_metric_param_and_attribute(client, population):
    found = search(client, population, order_by=["metrics.acc DESC"])
    assert names(found) == [f"run-{i}" for i in reversed(range(N_RUNS))]
    found = search(client, population, order_by=["metrics.loss DESC"])
    assert names(found) == [f"run-{i}" for i in range(N_RUNS)]
    found = search(client, population, order_by=["params.optimizer ASC", "metrics.acc DESC"])
    assert names(found) == ["run-6", "run-4", "run-2", "run-0", "run-5", "run-3", "run-1"]
    found = search(client, population, order_by=["attributes.start_time ASC"])
    assert names(found) == [f"run-{i}" for i in range(N_RUNS)]
    found = search(client, population, filter_string="tags.group = 'a'", order_by=["run_name DESC"])
    assert names(found) == ["run-2", "run-1", "run-0"]


def test_paging_with_max_results_and_page_token(client, population):
    pages = []
    token = None
    for _ in range(10):
        page = search(client, population, order_by=["metrics.acc ASC"], max_results=3, page_token=token)
        pages.append(names(page))
        token = page.token
        if not token:
            break
    assert pages == [["run-0", "run-1", "run-2"], ["run-3", "run-4", "run-5"], ["run-6"]]


def test_fluent_search_runs_returns_a_dataframe(tracking_uri, population):
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id, _ = population
    frame = mlflow.search_runs([experiment_id], filter_string="metrics.acc >= 0.5", order_by=["metrics.acc ASC"])
    assert list(frame["tags.mlflow.runName"]) == ["run-5", "run-6"]
    assert list(frame["metrics.acc"]) == [0.5, 0.6]
    assert list(frame["params.optimizer"]) == ["sgd", "adam"]


def test_search_across_experiments(client, population):
    experiment_id, _ = population
    other = client.create_experiment(unique("search-other"))
    marker = unique("m")
    client.create_run(other, tags={"marker": marker})
    run = client.create_run(experiment_id, tags={"marker": marker})
    found = client.search_runs([experiment_id, other], filter_string=f"tags.marker = '{marker}'")
    assert {r.info.experiment_id for r in found} == {experiment_id, other}
    client.delete_run(run.info.run_id)


def test_runs_missing_the_order_by_metric_come_last_both_ways(client):
    experiment_id = client.create_experiment(unique("search-nulls"))
    for name, score in [("low", 1.0), ("none", None), ("high", 2.0)]:
        run_id = client.create_run(experiment_id, run_name=name).info.run_id
        if score is not None:
            client.log_metric(run_id, "score", score)
    ascending = client.search_runs([experiment_id], order_by=["metrics.score ASC"])
    assert names(ascending) == ["low", "high", "none"]
    descending = client.search_runs([experiment_id], order_by=["metrics.score DESC"])
    assert names(descending) == ["high", "low", "none"]
