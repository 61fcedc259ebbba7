#!/usr/bin/env bash
# Training throughput and inference latency of versa's MLP engine against
# PyTorch (CPU), in one invocation. Sets up bench/.venv-torch on first use
# with `pip install torch numpy` from PyPI (the Linux wheel there is the CUDA
# build, several GB; it runs on CPU fine), builds versa's bench_train example
# in release mode, then measures both. Usage: bash bench/mlp/train_bench.sh [--rows N --epochs N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/bench/.venv-torch"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
  echo "== setting up $venv (torch, numpy; this downloads several GB)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet torch numpy
fi
echo "== building versa's bench_train (release)" >&2
(cd "$root" && cargo build --quiet --release -p versa-mlp --example bench_train)
"$venv/bin/python" "$here/train_bench.py" \
  --versa-bin "$root/target/release/examples/bench_train" \
  --out "$root/bench/out/mlp" "$@"
