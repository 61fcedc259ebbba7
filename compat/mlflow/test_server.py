"""The server's own endpoints the client and tooling probe: /health, /version."""

import mlflow
import requests


def test_health(tracking_uri):
    response = requests.get(f"{tracking_uri}/health", timeout=30)
    assert response.status_code == 200
    assert response.text.strip() == "OK"


def test_version_is_an_mlflow_version(tracking_uri):
    response = requests.get(f"{tracking_uri}/version", timeout=30)
    assert response.status_code == 200
    major = response.text.strip().split(".")[0]
    assert major.isdigit() and int(major) >= 2, response.text
    assert mlflow.__version__ == "3.17.2"
