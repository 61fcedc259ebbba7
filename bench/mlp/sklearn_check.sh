#!/usr/bin/env bash
# Accuracy check of versa's MLP engine against scikit-learn's MLPClassifier.
# Sets up bench/.venv-sklearn (numpy + scikit-learn from PyPI) on first use,
# builds versa's bench_train example in release mode, then runs both on the
# same generated data and split. Usage: bash bench/mlp/sklearn_check.sh [--epochs N --seeds N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/bench/.venv-sklearn"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import sklearn, numpy" 2>/dev/null; then
  echo "== setting up $venv (numpy, scikit-learn)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet numpy scikit-learn
fi
echo "== building versa's bench_train (release)" >&2
(cd "$root" && cargo build --quiet --release -p versa-mlp --example bench_train)
"$venv/bin/python" "$here/sklearn_check.py" \
  --versa-bin "$root/target/release/examples/bench_train" \
  --out "$root/bench/out/mlp" "$@"
