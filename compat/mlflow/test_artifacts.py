"""Artifacts through the server's proxy: log_artifact, log_artifacts, log_text,
log_dict, list_artifacts, download_artifacts (bytes identical), and the
path-traversal payloads of MLflow's artifact CVEs refused."""

import os
import urllib.parse

import mlflow
import pytest
import requests

BINARY = bytes(range(256)) * 64 + b"\x00tail"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


def read(path):
    with open(path, "rb") as file:
        return file.read()


def test_artifact_uri_is_served_by_the_proxy(client, run_id):
    # With an http tracking URI and no local artifact store, the client must
    # be told to upload through the server, not to a path on the client.
    uri = client.get_run(run_id).info.artifact_uri
    assert uri.startswith("mlflow-artifacts:"), uri


def test_log_artifact_list_and_download_identical(client, run_id, tmp_path):
    source = tmp_path / "weights.bin"
    write(str(source), BINARY)
    client.log_artifact(run_id, str(source))
    client.log_artifact(run_id, str(source), artifact_path="nested/dir")

    top = {f.path: f for f in client.list_artifacts(run_id)}
    assert set(top) == {"weights.bin", "nested"}
    assert not top["weights.bin"].is_dir and top["weights.bin"].file_size == len(BINARY)
    assert top["nested"].is_dir
    inner = client.list_artifacts(run_id, "nested/dir")
    assert [(f.path, f.is_dir, f.file_size) for f in inner] == [("nested/dir/weights.bin", False, len(BINARY))]

    out = tmp_path / "out"
    out.mkdir()
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="weights.bin", dst_path=str(out))
    assert read(local) == BINARY
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="nested/dir/weights.bin", dst_path=str(out)
    )
    assert read(local) == BINARY


def test_log_artifacts_directory_round_trip(client, run_id, tmp_path):
    files = {
        "model/config.json": b'{"layers": [64, 32]}',
        "model/data/empty.txt": b"",
        "model/data/blob.bin": BINARY,
        "model/name with spaces.txt": "unicode ✓\n".encode(),
        "README.md": b"# compat\n",
    }
    source = tmp_path / "src"
    for rel, data in files.items():
        write(str(source / rel), data)
    client.log_artifacts(run_id, str(source), artifact_path="bundle")

    listed = client.list_artifacts(run_id, "bundle/model/data")
    # file_size 0 is proto3's default, so it may be left out (None)
    assert sorted((f.path, f.file_size or 0) for f in listed) == [
        ("bundle/model/data/blob.bin", len(BINARY)),
        ("bundle/model/data/empty.txt", 0),
    ]

    out = tmp_path / "out"
    out.mkdir()
    local_root = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bundle", dst_path=str(out))
    for rel, data in files.items():
        assert read(os.path.join(local_root, rel)) == data, rel


def test_log_text_and_dict_then_load(tracking_uri, experiment_id):
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_text("hello from compat\n", "notes/hello.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "notes/config.json")
    base = run.info.artifact_uri
    assert mlflow.artifacts.load_text(f"{base}/notes/hello.txt") == "hello from compat\n"
    assert mlflow.artifacts.load_dict(f"{base}/notes/config.json") == {"a": 1, "b": [1, 2]}


def test_list_of_a_missing_directory_is_empty(client, run_id):
    assert client.list_artifacts(run_id, "no/such/dir") == []


def test_overwriting_an_artifact_serves_the_new_bytes(client, run_id, tmp_path):
    path = tmp_path / "a.txt"
    write(str(path), b"first")
    client.log_artifact(run_id, str(path))
    write(str(path), b"second, longer")
    client.log_artifact(run_id, str(path))
    out = tmp_path / "out"
    out.mkdir()
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="a.txt", dst_path=str(out))
    assert read(local) == b"second, longer"


# Payloads in the spirit of CVE-2023-1177, CVE-2023-2356, CVE-2023-2780,
# CVE-2023-6730, CVE-2024-1560 and CVE-2024-1593: each must be refused, never
# read or written outside the artifact root. versa asks more than MLflow here:
# mlflow server 3.17.2 answers 200 to the backslash and `;` paths.
TRAVERSALS = [
    "../../../../etc/passwd",
    "a/../../b",
    "%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e/etc/passwd",
    "a\\..\\..\\b",
    "/etc/passwd",
    "a;b",
]


@pytest.mark.parametrize("payload", TRAVERSALS)
def test_traversal_in_list_path_is_refused(tracking_uri, payload):
    response = requests.get(
        f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts", params={"path": payload}, timeout=30
    )
    assert 400 <= response.status_code < 500, (payload, response.status_code, response.text[:200])
    assert "root:" not in response.text


@pytest.mark.parametrize("payload", TRAVERSALS)
def test_traversal_in_upload_path_is_refused(tracking_uri, payload):
    quoted = payload if "%" in payload else urllib.parse.quote(payload, safe="/")
    response = requests.put(
        f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{quoted}", data=b"x", timeout=30
    )
    assert 400 <= response.status_code < 500, (payload, response.status_code, response.text[:200])


def test_delete_artifacts_through_the_proxy(client, run_id, tmp_path):
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    for name in ("keep.txt", "drop/one.txt", "drop/two.txt"):
        write(str(tmp_path / "src" / name), name.encode())
    client.log_artifacts(run_id, str(tmp_path / "src"))
    repository = get_artifact_repository(client.get_run(run_id).info.artifact_uri)
    repository.delete_artifacts("drop/one.txt")
    assert [f.path for f in client.list_artifacts(run_id, "drop")] == ["drop/two.txt"]
    assert {f.path for f in client.list_artifacts(run_id)} == {"keep.txt", "drop"}
