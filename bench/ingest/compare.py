"""Runs both sides of the ingest benchmark and prints rows/s and ratios.
Called by run.sh; every measurement is the best of --repeat runs."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def best_cli_seconds(versa: str, data: str, repeat: int, scratch: str) -> tuple[float, dict]:
    best, report = float("inf"), {}
    for _ in range(repeat):
        workspace = tempfile.mkdtemp(prefix="ws-", dir=scratch)
        try:
            start = time.perf_counter()
            done = subprocess.run(
                [versa, "--workspace", workspace, "data", "add", data, "--name", "bench", "--json"],
                check=True,
                capture_output=True,
            )
            best = min(best, time.perf_counter() - start)
            report = json.loads(done.stdout)
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
    return best, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ingest-bench", required=True)
    parser.add_argument("--versa", required=True)
    parser.add_argument("--pandas-side", required=True)
    parser.add_argument("--scratch", required=True)
    args = parser.parse_args()

    library = json.loads(
        subprocess.run(
            [args.ingest_bench, args.data, "--repeat", str(args.repeat)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    cli_s, cli = best_cli_seconds(args.versa, args.data, args.repeat, args.scratch)
    pandas = json.loads(
        subprocess.run(
            [sys.executable, args.pandas_side, args.data, "--repeat", str(args.repeat)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    rows = library["rows"]
    assert rows == pandas["rows"] == cli["n_rows"], (library, pandas, cli)
    assert library["digest"] == cli["content_digest"], "library and CLI digests differ"

    size_mb = os.path.getsize(args.data) / 1e6
    print(f"ingest benchmark: {rows:,} rows x {library['columns']} columns, {size_mb:.1f} MB CSV; "
          f"best of {args.repeat}; {os.cpu_count()} CPUs; pandas {pandas['pandas']}")
    print(f"  versa library  decode {library['decode_s']:.3f} s + stats {library['stats_s']:.3f} s + digest "
          f"{library['digest_s']:.3f} s = {library['total_s']:.3f} s  {rows / library['total_s']:>12,.0f} rows/s")
    print(f"  versa CLI      data add (process, read, ingest, store, catalog) = {cli_s:.3f} s  "
          f"{rows / cli_s:>12,.0f} rows/s")
    print(f"  pandas         read_csv {pandas['read_csv_s']:.3f} s + describe {pandas['describe_s']:.3f} s "
          f"= {pandas['total_s']:.3f} s  {rows / pandas['total_s']:>12,.0f} rows/s")
    print(f"  speed-up vs pandas: library {pandas['total_s'] / library['total_s']:.2f}x, "
          f"CLI {pandas['total_s'] / cli_s:.2f}x (goal >= 3x)")


if __name__ == "__main__":
    main()
