#!/usr/bin/env bash
# Tracking-server benchmark: the same mlflow client script (bench.py) against
# a real `mlflow server` (SQLite backend store, local artifact destination)
# and against `versa serve` on a fresh quickstart workspace, in one
# invocation, loopback only. Not a test; not run in CI.
#
# Uses bench/.venv-mlflow when it has mlflow 3.17.2 (bench/serve/run.sh makes
# it; its packages are not changed here), else makes bench/.venv-mlflowbench
# with mlflow==3.17.2 pinned. Builds versa (release).
#
# Usage: bash bench/mlflow/run.sh
#        N_RUNS=200 N_LOG_METRIC=1000 N_SEARCH=100 N_ALIAS=500 PIN=1 bash bench/mlflow/run.sh
# (PIN=1, the default: after start-up the server runs on core 0, the client on
# core 1, for both servers; PIN=0 lets them float.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/bench/out/mlflow"

venv="$root/bench/.venv-mlflow"
if ! "$venv/bin/python" -c 'import mlflow, sys; sys.exit(mlflow.__version__ != "3.17.2")' 2>/dev/null; then
  venv="$root/bench/.venv-mlflowbench"
  if ! "$venv/bin/python" -c 'import mlflow, sys; sys.exit(mlflow.__version__ != "3.17.2")' 2>/dev/null; then
    echo "== setting up $venv (mlflow 3.17.2; takes a minute or two)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "mlflow==3.17.2"
  fi
fi

echo "== building versa (release)" >&2
(cd "$root" && cargo build --quiet --release -p versa)
versa="${CARGO_TARGET_DIR:-$root/target}/release/versa"

rm -rf "$out" && mkdir -p "$out"
echo "== versa quickstart (churn, alias production)" >&2
"$versa" quickstart --json --dir "$out/workspace" > "$out/quickstart.json"

MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 \
  "$venv/bin/python" "$here/bench.py" --versa "$versa" --workspace "$out/workspace" \
  --mlflow "$venv/bin/mlflow" --out "$out" | tee "$out/table.txt"
