#!/usr/bin/env bash
# Pipeline cache benchmark: how long a re-run takes when nothing changed.
# versa: `versa init --example churn`, one `versa run` (trains), then N timed
# `versa run` with every stage cached. Anchor (when `pip install dvc` works in
# bench/.venv-pipeline): an equivalent two-stage dvc.yaml (prepare → train,
# each a small python step) in its own git repo, one `dvc repro`, then N timed
# `dvc repro` with everything up to date. Prints mean ms per re-run and the
# dvc/versa ratio. Uses hyperfine when installed, else a timed loop.
#
# Usage: bash bench/pipeline/run.sh [N]   (N re-runs, default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20}
ROOT=$(pwd)

echo "== building versa (release)"
cargo build --release -p versa >/dev/null
VERSA="$ROOT/target/release/versa"
WORK=$(mktemp -d /tmp/versa-pipeline-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# mean wall time in ms of N runs of "$@" in the current directory
mean_ms() {
  if command -v hyperfine >/dev/null 2>&1; then
    hyperfine --warmup 2 --runs "$N" --export-json "$WORK/h.json" -N "$*" >/dev/null 2>&1 || \
      hyperfine --warmup 2 --runs "$N" --export-json "$WORK/h.json" "$*" >/dev/null
    python3 -c "import json;print(round(json.load(open('$WORK/h.json'))['results'][0]['mean']*1e3,1))"
  else
    python3 - "$N" "$@" <<'PY'
import subprocess, sys, time
n = int(sys.argv[1]); cmd = sys.argv[2:]
for _ in range(2): subprocess.run(cmd, check=True, capture_output=True)
start = time.perf_counter()
for _ in range(n): subprocess.run(cmd, check=True, capture_output=True)
print(round((time.perf_counter() - start) / n * 1e3, 1))
PY
  fi
}

echo "== versa: init, first run, then $N all-cached re-runs"
mkdir -p "$WORK/versa" && cd "$WORK/versa"
"$VERSA" init --example churn >/dev/null
"$VERSA" --json run >/dev/null
CACHED=$("$VERSA" --json run | python3 -c "import json,sys;r=json.load(sys.stdin);print(sum(s['cached'] for s in r['stages']),'/',len(r['stages']))")
VERSA_MS=$(mean_ms "$VERSA" run)
echo "versa run (stages cached: $CACHED): $VERSA_MS ms"

DVC_MS=""
VENV="$ROOT/bench/.venv-pipeline"
if [ ! -x "$VENV/bin/dvc" ]; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q dvc >/dev/null 2>&1 || echo "(dvc not installable here; versa side only)"
fi
if [ -x "$VENV/bin/dvc" ]; then
  echo "== dvc: same data, two stages (prepare → train), then $N up-to-date re-runs"
  mkdir -p "$WORK/dvc" && cd "$WORK/dvc"
  git init -q . && "$VENV/bin/dvc" init -q
  mkdir -p data && cp "$WORK/versa/data/customers.csv" data/
  cat > prepare.py <<'PY'
import csv, json, random
rows = list(csv.DictReader(open("data/customers.csv")))
random.Random(42).shuffle(rows)
json.dump({"train": rows[:600], "test": rows[800:]}, open("prepared.json", "w"))
PY
  cat > train.py <<'PY'
import json
data = json.load(open("prepared.json"))
rate = sum(r["churned"] in ("true", "1", "yes") for r in data["train"]) / len(data["train"])
json.dump({"churn_rate": rate}, open("model.json", "w"))
PY
  cat > dvc.yaml <<'Y'
stages:
  prepare:
    cmd: python prepare.py
    deps: [data/customers.csv, prepare.py]
    outs: [prepared.json]
  train:
    cmd: python train.py
    deps: [prepared.json, train.py]
    outs: [model.json]
Y
  PATH="$VENV/bin:$PATH" dvc repro -q >/dev/null
  DVC_MS=$(PATH="$VENV/bin:$PATH" mean_ms "$VENV/bin/dvc" repro -q)
  echo "dvc repro (all up to date): $DVC_MS ms"
fi

echo
printf "%-34s %10s\n" "all-cached re-run" "mean ms"
printf "%-34s %10s\n" "versa run (6 stages)" "$VERSA_MS"
if [ -n "$DVC_MS" ]; then
  printf "%-34s %10s\n" "dvc repro (2 stages)" "$DVC_MS"
  python3 -c "print(f'dvc / versa = {$DVC_MS / $VERSA_MS:.1f}x')"
fi
