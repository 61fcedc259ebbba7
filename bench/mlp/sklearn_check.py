"""Accuracy check: versa's MLP engine against scikit-learn's MLPClassifier on
the same data, the same split and the same architecture and optimiser
settings. Prints both test accuracies and their difference (goal: within
1 point). Run through sklearn_check.sh, which builds versa's side and the venv.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versa-bin", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--train-rows", type=int, default=8000)
    parser.add_argument("--test-rows", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3, help="training seeds to average over")
    args = parser.parse_args()

    hidden = (64, 32)
    lr, alpha, batch = 1e-3, 1e-4, 64
    os.makedirs(args.out, exist_ok=True)
    x, y = data.make(args.train_rows + args.test_rows, seed=2024)
    x_train, y_train = x[: args.train_rows], y[: args.train_rows]
    x_test, y_test = x[args.train_rows :], y[args.train_rows :]
    # Standardise with the training rows' statistics, once, for both engines.
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train = (x_train - mean) / std
    x_test = (x_test - mean) / std
    train_csv = os.path.join(args.out, "sklearn_train.csv")
    test_csv = os.path.join(args.out, "sklearn_test.csv")
    data.write_csv(train_csv, x_train, y_train)
    data.write_csv(test_csv, x_test, y_test)
    # Read back what was written, so both engines see the same rounded values.
    x_train = np.loadtxt(train_csv, delimiter=",", skiprows=1)[:, :-1]
    x_test = np.loadtxt(test_csv, delimiter=",", skiprows=1)[:, :-1]

    rows = []
    for seed in range(args.seeds):
        started = time.perf_counter()
        sk = MLPClassifier(
            hidden_layer_sizes=hidden,
            activation="relu",
            solver="adam",
            alpha=alpha,
            batch_size=batch,
            learning_rate_init=lr,
            max_iter=args.epochs,
            shuffle=True,
            early_stopping=False,
            tol=0.0,
            n_iter_no_change=args.epochs + 1,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            sk.fit(x_train, y_train)
        sk_seconds = time.perf_counter() - started
        sk_accuracy = float((sk.predict(x_test) == y_test).mean())

        command = [
            args.versa_bin, "accuracy", "--train", train_csv, "--test", test_csv,
            "--hidden", ",".join(map(str, hidden)), "--epochs", str(args.epochs),
            "--lr", str(lr), "--alpha", str(alpha), "--batch", str(batch), "--seed", str(seed),
            # scikit-learn's initialisation (weights and biases uniform in
            # ±sqrt(6 / (fan_in + fan_out))), so only the engines differ.
            "--init", "glorot-uniform",
        ]
        versa = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        rows.append((seed, versa["accuracy"], sk_accuracy, versa["train_seconds"], sk_seconds))

    print(f"data: {args.train_rows} train / {args.test_rows} test rows, 12 features, "
          f"positive rate {y.mean():.3f}; MLP 12 → 64 → 32 → 2 relu, adam lr {lr}, "
          f"alpha {alpha}, batch {batch}, {args.epochs} epochs, shuffle, no early stopping, "
          f"Glorot-uniform init (weights and biases) on both sides")
    print(f"{'seed':>4}  {'versa acc':>9}  {'sklearn acc':>11}  {'diff (pts)':>10}  "
          f"{'versa s':>8}  {'sklearn s':>9}")
    for seed, va, sa, vs, ss in rows:
        print(f"{seed:>4}  {va:>9.4f}  {sa:>11.4f}  {100 * (va - sa):>+10.2f}  {vs:>8.2f}  {ss:>9.2f}")
    versa_mean = float(np.mean([r[1] for r in rows]))
    sk_mean = float(np.mean([r[2] for r in rows]))
    diff = 100 * (versa_mean - sk_mean)
    print(f"{'mean':>4}  {versa_mean:>9.4f}  {sk_mean:>11.4f}  {diff:>+10.2f}  "
          f"{np.mean([r[3] for r in rows]):>8.2f}  {np.mean([r[4] for r in rows]):>9.2f}")
    verdict = "within" if abs(diff) <= 1.0 else "NOT within"
    print(f"goal: |versa − sklearn| ≤ 1 point on mean test accuracy → {verdict} ({diff:+.2f} points)")


if __name__ == "__main__":
    main()
