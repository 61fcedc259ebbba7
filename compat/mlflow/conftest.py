"""Shared fixtures for the mlflow conformance suite.

run.sh sets MLFLOW_TRACKING_URI to a `versa serve` on a loopback port, and
COMPAT_VERSA / COMPAT_WORKSPACE to the versa binary and the quickstart
workspace that server serves. Every test makes its own uniquely named
experiments and models, so tests do not depend on each other's order.
"""

import json
import os
import subprocess
import uuid

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def unique(prefix):
    """A name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_code(error):
    """The MLflow error code an MlflowException carries, as its name."""
    assert isinstance(error, MlflowException), repr(error)
    return error.error_code


@pytest.fixture(scope="session")
def tracking_uri():
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    assert uri.startswith("http://"), "run through compat/mlflow/run.sh (MLFLOW_TRACKING_URI)"
    return uri


@pytest.fixture
def client(tracking_uri):
    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def experiment_id(client):
    """A fresh experiment for one test."""
    return client.create_experiment(unique("compat-exp"))


@pytest.fixture
def run_id(client, experiment_id):
    """A fresh run (status RUNNING) in a fresh experiment."""
    return client.create_run(experiment_id).info.run_id


@pytest.fixture(scope="session")
def versa():
    """Runs the versa binary on the served workspace; returns its --json output."""
    binary = os.environ.get("COMPAT_VERSA")
    workspace = os.environ.get("COMPAT_WORKSPACE")
    assert binary and workspace, "run through compat/mlflow/run.sh (COMPAT_VERSA, COMPAT_WORKSPACE)"

    def run(*args):
        out = subprocess.run(
            [binary, *args, "--json", "--workspace", workspace],
            check=True, capture_output=True, text=True, timeout=60,
        )
        return json.loads(out.stdout)

    return run
