#!/usr/bin/env bash
# Conformance suite: the real `mlflow` Python client (pinned in requirements.txt)
# against `versa serve` on a free loopback port, with MLFLOW_TRACKING_URI pointed
# at it and nothing else changed. Usage: compat/mlflow/run.sh PATH/TO/versa
#
# Makes a fresh quickstart workspace (so versa's own `churn` model, alias
# `production`, is in the catalog), starts the server on it, runs pytest over
# compat/mlflow/test_*.py and prints `mlflow client: N passed, M failed`.
# Exits 1 if any test failed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
versa="$(realpath "$1")"
venv="$here/.venv"
# The venv is rebuilt when the pins change (a copy of the pins it was built
# from is kept inside it).
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$versa" quickstart --json --dir "$work/ws" > /dev/null
"$versa" serve --json --addr 127.0.0.1:0 --workspace "$work/ws" > "$work/serve.out" 2> "$work/serve.err" &
server_pid=$!
for _ in $(seq 1 100); do
  if [ -s "$work/serve.out" ]; then break; fi
  sleep 0.1
done
addr="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["addr"])' "$work/serve.out")"

export MLFLOW_TRACKING_URI="http://$addr"
export COMPAT_VERSA="$versa" COMPAT_WORKSPACE="$work/ws"
# A missing or failing endpoint must fail its test at once, not after minutes
# of the client's retries (and no test may hang CI: --timeout); the suite
# talks to nothing but the server.
export MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 MLFLOW_HTTP_REQUEST_TIMEOUT=60
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true PYTHONDONTWRITEBYTECODE=1
status=0
(cd "$here" && "$venv/bin/python" -m pytest -p no:cacheprovider -q -rfE --tb=short --timeout=180 \
  --junitxml="$work/junit.xml" --basetemp="$work/pytest" .) || status=$?
# Exit 1 is "some tests failed"; anything else (no tests collected, an
# internal error) must not be totalled as a pass.
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  echo "mlflow client: 0 passed, 1 failed (pytest exited $status)"
  exit 1
fi
"$venv/bin/python" - "$work/junit.xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(f"mlflow client: {total - failed - skipped} passed, {failed} failed")
sys.exit(1 if failed or total == 0 else 0)
EOF
