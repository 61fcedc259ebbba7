#!/usr/bin/env bash
# Ingest throughput: versa (CSV decode with type inference + column statistics
# + content digest) against pandas (read_csv + describe(include="all")) on the
# same 1,000,000-row x 12-column CSV, in one invocation.
#
# Sets up bench/.venv-pandas (pandas, numpy, pyarrow from PyPI) on first use,
# writes the CSV to bench/out/ingest/ (kept between runs), builds versa's
# ingest_bench example and the versa binary in release mode, then measures:
#   versa library: ingest_bench (decode + stats + digest, file already in memory)
#   versa CLI:     `versa data add FILE --name bench` into a fresh workspace
#                  (process start, file read, decode, stats, digest, blob store
#                  write of the source and manifest, catalog row)
#   pandas:        read_csv + describe(include="all"), file already in memory
# Each is the best of --repeat runs (default 3). Usage:
#   bash bench/ingest/run.sh [--rows N] [--repeat N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/bench/.venv-pandas"
rows=1000000
repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    *) echo "unknown argument: $1 (accepted: --rows N, --repeat N)" >&2; exit 2 ;;
  esac
done
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pandas, numpy, pyarrow" 2>/dev/null; then
  echo "== setting up $venv (pandas, numpy, pyarrow)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet pandas numpy pyarrow
fi
out="$root/bench/out/ingest"
mkdir -p "$out"
data="$out/data-$rows.csv"
if [ ! -s "$data" ]; then
  echo "== writing $data" >&2
  "$venv/bin/python" "$here/make_data.py" --rows "$rows" --out "$data.tmp"
  mv "$data.tmp" "$data"
fi
echo "== building ingest_bench and versa (release)" >&2
(cd "$root" && cargo build --quiet --release -p versa-tabular --example ingest_bench && cargo build --quiet --release -p versa)
"$venv/bin/python" "$here/compare.py" \
  --data "$data" --repeat "$repeat" \
  --ingest-bench "$root/target/release/examples/ingest_bench" \
  --versa "$root/target/release/versa" \
  --pandas-side "$here/pandas_side.py" \
  --scratch "$out"
