"""The anchor side of the ingest benchmark: pandas read_csv + describe(include="all")
on the same file, best of --repeat runs, the file read into memory first like
versa's side. Prints one JSON object."""
import argparse
import io
import json
import time

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with open(args.file, "rb") as f:
        data = f.read()
    best_read = best_describe = best_total = float("inf")
    shape = (0, 0)
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        frame = pd.read_csv(io.BytesIO(data))
        read_at = time.perf_counter()
        frame.describe(include="all")
        end = time.perf_counter()
        best_read = min(best_read, read_at - start)
        best_describe = min(best_describe, end - read_at)
        best_total = min(best_total, end - start)
        shape = frame.shape
    print(
        json.dumps(
            {
                "rows": shape[0],
                "columns": shape[1],
                "read_csv_s": round(best_read, 4),
                "describe_s": round(best_describe, 4),
                "total_s": round(best_total, 4),
                "pandas": pd.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
