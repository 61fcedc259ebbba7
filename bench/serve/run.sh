#!/usr/bin/env bash
# Serving benchmark: versa serve against MLflow's scoring server on the same
# task, in one invocation, loopback only. Not a test.
#
# Sets up what it needs on first use: `wrk` (apt-get; `oha` is used instead if
# it is on PATH) and bench/.venv-mlflow with mlflow + scikit-learn (pip; takes
# minutes). Then: builds versa (release), writes the quickstart workspace and
# its sample data, trains a scikit-learn MLPClassifier (64, 32) on that data
# and saves it with mlflow.sklearn.save_model, starts
# `mlflow models serve --env-manager local` and `versa serve` (batching off,
# and a second one with batching on), and measures single-row predictions for
# DURATION seconds each at concurrency 1 and 16: throughput, p50/p99 latency
# (as the load generator sees it), and server RSS from /proc/PID/status.
#
# The servers and the load generator share this machine's cores; to keep
# them from competing for the same core (which puts scheduler delays into
# the tail latency of whichever server is measured), every server is pinned
# to core 0 and the load generator to core 1 (taskset), the same for MLflow
# and versa. PIN=0 turns that off (servers and load generator float over all
# cores, the generator with 2 threads at c=16).
#
# Usage: bash bench/serve/run.sh            (DURATION=10 by default)
#        DURATION=5 BATCH_MAX_SIZE=16 BATCH_MAX_DELAY_US=250 PIN=0 bash bench/serve/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration="${DURATION:-10}"
pin="${PIN:-1}"
if [ "$pin" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  on_server_core=(taskset -c 0)
  on_load_core=(taskset -c 1)
else
  pin=0
  on_server_core=()
  on_load_core=()
fi
batch_max_size="${BATCH_MAX_SIZE:-16}"
batch_max_delay_us="${BATCH_MAX_DELAY_US:-250}"
port_mlflow="${PORT_MLFLOW:-18571}"
port_versa="${PORT_VERSA:-18572}"
port_batched="${PORT_VERSA_BATCHED:-18573}"
out="$root/bench/out/serve"
venv="$root/bench/.venv-mlflow"

if command -v oha >/dev/null; then
  loadgen=oha
else
  if ! command -v wrk >/dev/null; then
    echo "== installing wrk (apt-get)" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  fi
  loadgen=wrk
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import mlflow, sklearn, pandas" 2>/dev/null; then
  echo "== setting up $venv (mlflow, scikit-learn; this takes minutes)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet mlflow scikit-learn pandas
fi
echo "== building versa (release)" >&2
(cd "$root" && cargo build --quiet --release -p versa)
versa="${CARGO_TARGET_DIR:-$root/target}/release/versa"

rm -rf "$out" && mkdir -p "$out"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "== versa quickstart (sample data, two model versions, production alias)" >&2
"$versa" quickstart --dir "$out/workspace" >"$out/quickstart.txt"
csv="$(find "$out/workspace" -name 'customers.csv' | head -1)"
[ -n "$csv" ] || { echo "no customers.csv under $out/workspace" >&2; exit 1; }

echo "== training the scikit-learn MLPClassifier (64, 32) and saving it for MLflow" >&2
"$venv/bin/python" "$here/train_mlflow.py" "$csv" "$out/mlflow-model" "$out"

wait_for() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fs -o /dev/null "$1"; do
    if [ $SECONDS -ge $deadline ]; then echo "timed out waiting for $1" >&2; exit 1; fi
    sleep 0.2
  done
}

echo "== starting mlflow models serve on 127.0.0.1:$port_mlflow" >&2
PATH="$venv/bin:$PATH" "${on_server_core[@]}" "$venv/bin/mlflow" models serve -m "$out/mlflow-model" --env-manager local \
  -h 127.0.0.1 -p "$port_mlflow" >"$out/mlflow.log" 2>&1 &
pids+=($!); pid_mlflow=$!
echo "== starting versa serve on 127.0.0.1:$port_versa (batching off) and :$port_batched (batching on: $batch_max_size rows, ${batch_max_delay_us} µs)" >&2
"${on_server_core[@]}" "$versa" --workspace "$out/workspace" serve --addr "127.0.0.1:$port_versa" --models churn@production \
  >"$out/versa.log" 2>&1 &
pids+=($!); pid_versa=$!
"${on_server_core[@]}" "$versa" --workspace "$out/workspace" serve --addr "127.0.0.1:$port_batched" --models churn@production \
  --batch-max-size "$batch_max_size" --batch-max-delay-us "$batch_max_delay_us" >"$out/versa-batched.log" 2>&1 &
pids+=($!); pid_batched=$!
wait_for "http://127.0.0.1:$port_versa/healthz" 30
wait_for "http://127.0.0.1:$port_batched/healthz" 30
wait_for "http://127.0.0.1:$port_mlflow/ping" 180

# Every side must answer the body correctly before it is timed.
for url in "http://127.0.0.1:$port_versa/v1/models/churn@production/predict" \
           "http://127.0.0.1:$port_batched/v1/models/churn@production/predict"; do
  curl -fsS -H 'content-type: application/json' --data @"$out/versa_body.json" "$url" >"$out/check-versa.json"
done
curl -fsS -H 'content-type: application/json' --data @"$out/mlflow_body.json" \
  "http://127.0.0.1:$port_mlflow/invocations" >"$out/check-mlflow.json"
echo "   versa answers: $(cut -c1-160 "$out/check-versa.json")" >&2
echo "   mlflow answers: $(cat "$out/check-mlflow.json")" >&2

cat >"$out/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open(os.getenv("BODY_FILE"), "r")
wrk.body = file:read("*a")
file:close()
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %.1f %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), errors, summary.requests))
end
LUA

tree_rss_kb() { # pid: VmRSS of the process and all its descendants, in kB
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" 2>/dev/null) $(for c in $(pgrep -P "$1" 2>/dev/null); do pgrep -P "$c"; done); do
    local kb
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

measure() { # name, url, body file, concurrency
  local name=$1 url=$2 body=$3 conc=$4 threads=1 line
  # One generator thread per core it may use.
  [ "$conc" -gt 1 ] && [ "$pin" = 0 ] && threads=2
  echo "== $name: c=$conc for ${duration}s" >&2
  if [ "$loadgen" = wrk ]; then
    line=$(BODY_FILE="$body" "${on_load_core[@]}" wrk -t"$threads" -c"$conc" -d"${duration}s" -s "$out/post.lua" "$url" | grep '^RESULT')
    echo "$name $conc ${line#RESULT }" >>"$out/results.txt"
  else
    "${on_load_core[@]}" oha --no-tui -z "${duration}s" -c "$conc" -m POST -H 'content-type: application/json' -D "$body" \
      --output-format json "$url" >"$out/oha.json"
    python3 - "$name" "$conc" "$out/oha.json" >>"$out/results.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[3]))
ok = r["statusCodeDistribution"].get("200", 0)
total = sum(r["statusCodeDistribution"].values())
print(sys.argv[1], sys.argv[2], r["summary"]["requestsPerSec"],
      int(r["latencyPercentiles"]["p50"] * 1e6), int(r["latencyPercentiles"]["p99"] * 1e6), total - ok, total)
PY
  fi
}

: >"$out/results.txt"
versa_url="/v1/models/churn@production/predict"
for conc in 1 16; do
  measure mlflow "http://127.0.0.1:$port_mlflow/invocations" "$out/mlflow_body.json" "$conc"
  measure versa "http://127.0.0.1:$port_versa$versa_url" "$out/versa_body.json" "$conc"
  measure versa-batched "http://127.0.0.1:$port_batched$versa_url" "$out/versa_body.json" "$conc"
done
{
  echo "mlflow $(tree_rss_kb "$pid_mlflow")"
  echo "versa $(tree_rss_kb "$pid_versa")"
  echo "versa-batched $(tree_rss_kb "$pid_batched")"
} >"$out/rss.txt"
curl -fsS "http://127.0.0.1:$port_batched/metrics" | grep -E '^versa_batch' >"$out/batches.txt" || true

python3 - "$out" "$duration" "$batch_max_size" "$batch_max_delay_us" "$pin" <<'PY'
import sys
out, duration, size, delay, pin = sys.argv[1:6]
rows = {}
for line in open(f"{out}/results.txt"):
    name, conc, rps, p50, p99, errors, total = line.split()
    rows[(name, int(conc))] = (float(rps), int(p50), int(p99), int(errors), int(total))
rss = {name: int(kb) for name, kb in (l.split() for l in open(f"{out}/rss.txt"))}
print(f"\nsingle-row predictions, {duration} s per cell, loopback; latency as the load generator sees it")
print("cores: " + ("servers pinned to core 0, load generator to core 1" if pin == "1"
                   else "not pinned: servers and load generator share all cores"))
print(f"versa batched: --batch-max-size {size} --batch-max-delay-us {delay}\n")
header = f"{'server':<14}{'c':>3}{'req/s':>11}{'p50 µs':>9}{'p99 µs':>9}{'errors':>8}{'× mlflow req/s':>16}"
print(header)
print("-" * len(header))
for conc in (1, 16):
    base = rows[("mlflow", conc)][0]
    for name in ("mlflow", "versa", "versa-batched"):
        rps, p50, p99, errors, _ = rows[(name, conc)]
        print(f"{name:<14}{conc:>3}{rps:>11.0f}{p50:>9}{p99:>9}{errors:>8}{rps / base:>15.1f}×")
print()
for name, kb in rss.items():
    print(f"RSS {name:<14}{kb / 1024:>8.1f} MB" + ("  (process tree)" if name == "mlflow" else ""))
print(f"RSS ratio mlflow / versa: {rss['mlflow'] / rss['versa']:.1f}×")
for line in open(f"{out}/batches.txt"):
    print(line.rstrip())
v16, m16 = rows[("versa", 16)], rows[("mlflow", 16)]
print("\ngoals: throughput ≥ 50× mlflow at c=16: "
      f"{'met' if v16[0] >= 50 * m16[0] else 'NOT met'} ({v16[0] / m16[0]:.1f}×); "
      f"p99 < 2 ms at c=16: {'met' if v16[2] < 2000 else 'NOT met'} ({v16[2]} µs); "
      f"versa RSS < 50 MB: {'met' if rss['versa'] < 50 * 1024 else 'NOT met'} ({rss['versa'] / 1024:.1f} MB)")
PY
