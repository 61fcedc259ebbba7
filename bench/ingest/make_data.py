"""Writes the ingest benchmark's CSV: N rows x 12 columns, mixed numeric and
categorical, about 3% missing cells, from a fixed seed (numpy only)."""
import argparse

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    n = args.rows
    frame = pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "age": rng.integers(18, 90, n),
            "income": np.round(rng.lognormal(3.5, 0.6, n), 2),
            "debt": np.round(rng.gamma(2.0, 8.0, n), 2),
            "tenure_months": rng.integers(0, 120, n),
            "monthly_charges": np.round(rng.normal(70, 25, n), 2),
            "support_calls": rng.poisson(1.5, n),
            "score": rng.random(n),
            "contract": rng.choice(["month-to-month", "one-year", "two-year"], n),
            "plan": rng.choice(["basic", "standard", "premium", "family"], n),
            "region": rng.choice(["north", "south", "east", "west", "central"], n),
            "churned": rng.choice(["no", "yes"], n, p=[0.7, 0.3]),
        }
    )
    # Missing values in some numeric and categorical columns (not the id or label).
    for column in ["age", "income", "debt", "monthly_charges", "contract", "region"]:
        mask = rng.random(n) < 0.03
        frame[column] = frame[column].astype(object).where(~mask, None)
    frame.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
