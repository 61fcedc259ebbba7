"""The one synthetic dataset both MLP benchmarks use: learnable, non-linear,
deterministic for a seed. Needs only numpy.

12 standard-normal features; the label is drawn from a logistic model whose
logit mixes linear terms, an interaction, a square, a sine and an absolute
value, so a hidden layer helps and the Bayes accuracy is about 85-90%.
"""

import numpy as np

N_FEATURES = 12


def make(n_rows: int, seed: int):
    """Returns (x float32 [n_rows, 12], y int64 [n_rows])."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, N_FEATURES))
    logit = (
        1.5 * x[:, 0]
        - 1.0 * x[:, 1]
        + 1.2 * x[:, 2] * x[:, 3]
        + 0.8 * (x[:, 4] ** 2 - 1.0)
        + np.sin(2.0 * x[:, 5])
        - 0.8 * (np.abs(x[:, 6]) - 0.8)
        + 0.3 * x[:, 7]
        + 0.2
    )
    probability = 1.0 / (1.0 + np.exp(-2.0 * logit))
    y = (rng.random(n_rows) < probability).astype(np.int64)
    return x.astype(np.float32), y


def write_csv(path, x, y):
    """Header `f0..f11,label`, then one row per sample; the format bench_train reads."""
    header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["label"])
    table = np.concatenate([x.astype(np.float64), y[:, None].astype(np.float64)], axis=1)
    fmt = ["%.7g"] * x.shape[1] + ["%d"]
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt=fmt)
