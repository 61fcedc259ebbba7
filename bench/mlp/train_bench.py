"""Training throughput and inference latency: versa's MLP engine against
PyTorch on CPU, on the same generated data (12 → 64 → 32 → 2 relu, Adam,
batch 64, 200,000 rows, 5 epochs). PyTorch runs twice: with one thread (as
versa, which never runs in parallel) and with its default thread count.
Prints a table with ratios. Run through train_bench.sh.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

HIDDEN = (64, 32)
LR, ALPHA, BATCH = 1e-3, 1e-4, 64


def torch_model(n_features, seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, HIDDEN[0]),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN[0], HIDDEN[1]),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN[1], 2),
    )


def torch_side(x_np, y_np, epochs, threads, single_rows, batches):
    torch.set_num_threads(threads)
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    model = torch_model(x.shape[1], seed=0)
    # Adam's weight_decay is plain L2 on the gradient, the closest match to
    # versa's alpha (it also decays biases; the cost is the same).
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=ALPHA)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    n = x.shape[0]
    model.train()
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, BATCH):
            index = order[start : start + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
    train_seconds = time.perf_counter() - started

    model.eval()
    checksum = 0.0
    with torch.inference_mode():
        for i in range(1000):
            torch.softmax(model(x[i : i + 1]), dim=1)
        started = time.perf_counter()
        for i in range(single_rows):
            row = i % n
            checksum += float(torch.softmax(model(x[row : row + 1]), dim=1)[0, 0])
        single_seconds = time.perf_counter() - started
        rows = min(1024, n)
        started = time.perf_counter()
        for b in range(batches):
            start = (b * rows) % (n - rows + 1)
            checksum += float(torch.softmax(model(x[start : start + rows]), dim=1)[0, 0])
        batch_seconds = time.perf_counter() - started
    return {
        "engine": f"torch ({threads} thread{'s' if threads > 1 else ''})",
        "threads": threads,
        "train_seconds": train_seconds,
        "train_samples_per_second": n * epochs / train_seconds,
        "single_row_microseconds": single_seconds / single_rows * 1e6,
        "batch_microseconds": batch_seconds / batches * 1e6,
        "checksum": checksum,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versa-bin", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--single-rows", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    x, y = data.make(args.rows, seed=7)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    path = os.path.join(args.out, "train_bench.csv")
    data.write_csv(path, x, y)
    # Both engines train on the values as written.
    x = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)[:, :-1].astype(np.float32)

    command = [
        args.versa_bin, "speed", "--train", path, "--epochs", str(args.epochs),
        "--hidden", ",".join(map(str, HIDDEN)), "--lr", str(LR), "--alpha", str(ALPHA),
        "--batch", str(BATCH), "--single-rows", str(args.single_rows * 5),
        "--batches", str(args.batches),
    ]
    versa = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    versa["engine"] = "versa (1 thread)"
    default_threads = torch.get_num_threads()
    results = [versa, torch_side(x, y, args.epochs, 1, args.single_rows, args.batches)]
    if default_threads != 1:
        results.append(torch_side(x, y, args.epochs, default_threads, args.single_rows, args.batches))

    print(f"data: {args.rows} rows × 12 features, 2 classes; MLP 12 → 64 → 32 → 2 relu, "
          f"Adam lr {LR}, L2 {ALPHA}, batch {BATCH}, {args.epochs} epochs; torch {torch.__version__}, "
          f"default threads {default_threads}, {os.cpu_count()} CPUs")
    header = f"{'engine':<20} {'train samples/s':>16} {'single row µs':>14} {'1024 rows µs':>13}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['engine']:<20} {r['train_samples_per_second']:>16,.0f} "
              f"{r['single_row_microseconds']:>14.2f} {r['batch_microseconds']:>13.1f}")
    print()
    print("ratios (versa advantage: torch time / versa time)")
    for r in results[1:]:
        print(f"  vs {r['engine']:<18} training ×{versa['train_samples_per_second'] / r['train_samples_per_second']:.1f}"
              f"   single row ×{r['single_row_microseconds'] / versa['single_row_microseconds']:.1f}"
              f"   1024 rows ×{r['batch_microseconds'] / versa['batch_microseconds']:.1f}")
    best_torch = max(r["train_samples_per_second"] for r in results[1:])
    ratio = versa["train_samples_per_second"] / best_torch
    print(f"goal: training ≥ 5× PyTorch's best → ×{ratio:.1f} ({'met' if ratio >= 5 else 'NOT met'})")
    single = versa["single_row_microseconds"]
    print(f"goal: single-row inference < 5 µs → {single:.2f} µs ({'met' if single < 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
