#!/usr/bin/env bash
# Runs the real tritonclient[http] Python client against `versa serve` on a
# loopback port. Usage: compat/tritonclient/run.sh PATH/TO/versa
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
versa="$(realpath "$1")"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "tritonclient[http]==2.73.0"
fi
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$versa" quickstart --json --dir "$work/ws" > /dev/null
"$versa" serve --json --addr 127.0.0.1:0 --workspace "$work/ws" > "$work/serve.out" &
server_pid=$!
for _ in $(seq 1 100); do
  if [ -s "$work/serve.out" ]; then break; fi
  sleep 0.1
done
addr="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["addr"])' "$work/serve.out")"
"$venv/bin/python" "$here/check.py" "$addr"
