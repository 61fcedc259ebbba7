"""Tracking-server benchmark: one client script against a real `mlflow server`
(SQLite backend, local artifact store) and against `versa serve`, started
here one after the other in the same invocation, on loopback ports.

For each server: start-up time (process start → first 200 from GET /health),
runs/s creating runs with log_batch, latency of log_metric, search_runs (a
filter over metrics and params, ordered by a metric) and
get_model_version_by_alias, each through the real MlflowClient and again as
the bare HTTP request on a kept-alive connection (what the server costs
without the Python client), and the server's RSS after the workload (VmRSS
summed over its whole process tree: mlflow's uvicorn workers and job
runners count). After start-up each server is pinned to core 0 and this
client to core 1 (PIN=0 turns that off). Prints one table with the ratios;
writes results.json.

Usage (run.sh does this):
  python bench.py --versa target/release/versa --workspace WS --out DIR
"""

import argparse
import contextlib
import http.client
import io
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

from mlflow import MlflowClient
from mlflow.entities import Metric, Param

N_RUNS = int(os.environ.get("N_RUNS", 200))
N_PARAMS = int(os.environ.get("N_PARAMS", 10))
N_METRICS = int(os.environ.get("N_METRICS", 50))
N_LOG_METRIC = int(os.environ.get("N_LOG_METRIC", 1000))
N_SEARCH = int(os.environ.get("N_SEARCH", 100))
N_ALIAS = int(os.environ.get("N_ALIAS", 500))
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p1 = 'a'"
SEARCH_ORDER = ["metrics.m1 DESC"]
KEYS = ["runs_per_s", "wire_runs_per_s", "log_metric", "search_hits", "search_runs", "alias_version", "alias",
        "wire_log_metric", "wire_search_runs", "wire_alias"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health_status(port):
    """GET /health's status code, or None when nothing answers yet."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/health")
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


def start(cmd, port, log_path, cwd):
    """Starts a server in its own session; returns (process, seconds until
    GET /health first answered 200, or None when it never did but the port
    is open, so the rest can still be measured)."""
    log = open(log_path, "wb")
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    deadline = started + 180
    while time.perf_counter() < deadline:
        status = health_status(port)
        if status == 200:
            return process, time.perf_counter() - started
        if status == 404:
            print("   GET /health is not served (404); start-up not measured", file=sys.stderr)
            return process, None
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode} before answering /health; see {log_path}")
        time.sleep(0.001)
    stop(process)
    sys.exit(f"server not healthy after 180 s; see {log_path}")


def proc_table():
    """pid -> (ppid, session id) for every process we can read."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
            table[int(entry)] = (int(fields[1]), int(fields[3]))
        except (OSError, IndexError, ValueError):
            pass
    return table


def server_pids(root):
    """The server's process tree: its descendants, plus anything left in its
    session (mlflow's job runners can outlive their parent)."""
    table = proc_table()
    pids = {root}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, sid) in table.items():
            if pid not in pids and (ppid in pids or sid == root):
                pids.add(pid)
                changed = True
    return {pid for pid in pids if pid in table}


def rss_mb(root):
    total_kb = 0
    for pid in server_pids(root):
        try:
            with open(f"/proc/{pid}/status") as file:
                for line in file:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


def stop(process):
    pids = server_pids(process.pid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    time.sleep(0.5)
    for pid in server_pids(process.pid) | pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timed(call, n):
    samples = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
    return samples


def wire(port, method, path, body=None):
    """A kept-alive connection sending one fixed request; returns a call(i)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"content-type": "application/json"} if payload is not None else {}

    def call(_i):
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")

    return call


def register_churn_production(client):
    """On mlflow: a registered model `churn` with one version under alias
    `production` (versa's quickstart already has it)."""
    experiment_id = client.create_experiment("bench-registry")
    run = client.create_run(experiment_id)
    client.log_text(run.info.run_id, "flavors: {}\n", "model/MLmodel")
    client.create_registered_model("churn")
    version = client.create_model_version("churn", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_registered_model_alias("churn", "production", version.version)


def phase(result, key, call):
    """Runs one measured phase; a failure (an endpoint missing, say) is
    recorded and reported as n/a instead of ending the benchmark."""
    try:
        result[key] = call()
    except Exception as error:  # the client raises several kinds
        print(f"   {key}: failed: {str(error)[:300]}", file=sys.stderr, flush=True)
        result[key] = None


def workload(port, register):
    uri = f"http://127.0.0.1:{port}"
    client = MlflowClient(tracking_uri=uri)
    result = {}
    if register:
        register_churn_production(client)
    rng = random.Random(42)
    experiment_id = client.create_experiment("bench")

    def log_batch_runs():
        started = time.perf_counter()
        for i in range(N_RUNS):
            run_id = client.create_run(experiment_id, run_name=f"run-{i}").info.run_id
            client.log_batch(
                run_id,
                metrics=[Metric(f"m{j}", rng.random(), 1_700_000_000_000 + i, 0) for j in range(N_METRICS)],
                params=[Param(f"p{j}", "a" if (i + j) % 2 == 0 else "b") for j in range(N_PARAMS)],
            )
            client.set_terminated(run_id)
        return N_RUNS / (time.perf_counter() - started)

    phase(result, "runs_per_s", log_batch_runs)
    run_id = client.create_run(experiment_id, run_name="latency").info.run_id
    phase(result, "log_metric",
          lambda: timed(lambda i: client.log_metric(run_id, "lat", float(i), step=i), N_LOG_METRIC))

    def search(_i=None):
        return client.search_runs([experiment_id], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER,
                                  max_results=1000)

    phase(result, "search_hits", lambda: len(search()))
    phase(result, "search_runs", lambda: timed(search, N_SEARCH))
    phase(result, "alias_version", lambda: client.get_model_version_by_alias("churn", "production").version)
    phase(result, "alias",
          lambda: timed(lambda _i: client.get_model_version_by_alias("churn", "production"), N_ALIAS))

    # The same requests without the Python client in the way.
    phase(result, "wire_runs_per_s", lambda: wire_log_batch_runs(port, experiment_id, rng))
    phase(result, "wire_log_metric", lambda: timed(wire_log_metric(port, run_id), N_LOG_METRIC))
    phase(result, "wire_search_runs", lambda: timed(wire(port, "POST", "/api/2.0/mlflow/runs/search", {
        "experiment_ids": [experiment_id], "filter": SEARCH_FILTER, "order_by": SEARCH_ORDER, "max_results": 1000,
    }), N_SEARCH))
    phase(result, "wire_alias", lambda: timed(wire(
        port, "GET", "/api/2.0/mlflow/registered-models/alias?name=churn&alias=production"), N_ALIAS))
    return result


def wire_log_batch_runs(port, experiment_id, rng):
    """runs/s for create → log-batch → update(FINISHED) as bare requests."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(path, body):
        conn.request("POST", path, body=json.dumps(body).encode(), headers={"content-type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {data[:200]!r}")
        return json.loads(data)

    started = time.perf_counter()
    for i in range(N_RUNS):
        run = post("/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id, "run_name": f"wire-{i}",
                                                   "start_time": 1_700_000_000_000 + i})
        run_id = run["run"]["info"]["run_id"]
        post("/api/2.0/mlflow/runs/log-batch", {
            "run_id": run_id,
            "metrics": [{"key": f"m{j}", "value": rng.random(), "timestamp": 1_700_000_000_000 + i, "step": 0}
                        for j in range(N_METRICS)],
            "params": [{"key": f"p{j}", "value": "a" if (i + j) % 2 == 0 else "b"} for j in range(N_PARAMS)],
        })
        post("/api/2.0/mlflow/runs/update", {"run_id": run_id, "status": "FINISHED",
                                             "end_time": 1_700_000_000_000 + i + 1})
    return N_RUNS / (time.perf_counter() - started)


def wire_log_metric(port, run_id):
    """log-metric on a kept-alive connection, a new step each call."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(i):
        body = json.dumps({"run_id": run_id, "key": "wire", "value": float(i), "timestamp": 1_700_000_000_000 + i,
                           "step": i}).encode()
        conn.request("POST", "/api/2.0/mlflow/runs/log-metric", body=body,
                     headers={"content-type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"log-metric: {response.status} {data[:200]!r}")

    return call


def pin_tree(root, cores):
    """Moves every thread of the server's process tree onto `cores` (new
    threads and processes inherit it)."""
    for pid in server_pids(root):
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cores)
            except OSError:
                pass


def measure(name, cmd, port, out, cwd, register, pin):
    print(f"== {name}: starting", file=sys.stderr, flush=True)
    process, startup = start(cmd, port, os.path.join(out, f"{name}.log"), cwd)
    try:
        if pin:
            pin_tree(process.pid, {0})
        shown = "n/a" if startup is None else f"{startup * 1000:.0f} ms"
        print(f"== {name}: up (start-up {shown}); running the workload", file=sys.stderr, flush=True)
        # The client prints a "View run" line per finished run; keep stdout for the table.
        with contextlib.redirect_stdout(sys.stderr if os.environ.get("BENCH_VERBOSE") else io.StringIO()):
            result = dict.fromkeys(KEYS)
            try:
                result.update(workload(port, register))
            except Exception as error:  # e.g. experiments not served yet: report what was measured
                print(f"   workload stopped: {str(error)[:300]}", file=sys.stderr, flush=True)
        result["startup_s"] = startup
        result["rss_mb"] = rss_mb(process.pid)
        result["n_processes"] = len(server_pids(process.pid))
        return result
    finally:
        stop(process)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--versa", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--mlflow", required=True, help="the mlflow command-line entry point")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    for key in ("versa", "workspace", "mlflow", "out"):
        setattr(args, key, os.path.abspath(getattr(args, key)))
    os.makedirs(args.out, exist_ok=True)
    # As bench/serve: after start-up (which may use every core) the server
    # runs on core 0 and this client on core 1, the same for both; PIN=0
    # lets everything float.
    pin = os.environ.get("PIN", "1") == "1" and len(os.sched_getaffinity(0)) >= 2
    if pin:
        os.sched_setaffinity(0, {1})
    mlflow_dir = os.path.join(args.out, "mlflow-server")
    shutil.rmtree(mlflow_dir, ignore_errors=True)  # a fresh database and artifact store every time
    os.makedirs(mlflow_dir)

    port = free_port()
    mlflow_cmd = [
        args.mlflow, "server", "--backend-store-uri", f"sqlite:///{mlflow_dir}/mlflow.db",
        "--artifacts-destination", f"{mlflow_dir}/artifacts", "--host", "127.0.0.1", "--port", str(port),
    ]
    results = {"mlflow": measure("mlflow", mlflow_cmd, port, args.out, mlflow_dir, register=True, pin=pin)}
    port = free_port()
    versa_cmd = [args.versa, "serve", "--addr", f"127.0.0.1:{port}", "--workspace", args.workspace]
    results["versa"] = measure("versa", versa_cmd, port, args.out, args.workspace, register=False, pin=pin)
    results["config"] = {
        "n_runs": N_RUNS, "n_params": N_PARAMS, "n_metrics": N_METRICS, "n_log_metric": N_LOG_METRIC,
        "n_search": N_SEARCH, "n_alias": N_ALIAS, "pinned": pin, "search_filter": SEARCH_FILTER, "search_order": SEARCH_ORDER,
    }
    with open(os.path.join(args.out, "results.json"), "w") as file:
        json.dump(results, file, indent=1)
    report(results)


def report(results):
    m, v = results["mlflow"], results["versa"]

    def ms(value):
        return None if value is None else value * 1000

    def pct(samples, q):
        return None if samples is None else percentile(samples, q) * 1000

    rows = [("start-up (process → /health 200)", ms(m["startup_s"]), ms(v["startup_s"]), "ms", "lower")]
    for prefix, where in [("", "client"), ("wire_", "wire")]:
        rows.append((f"log_batch runs/s ({N_RUNS} runs × {N_PARAMS} params, {N_METRICS} metrics; {where})",
                     m[prefix + "runs_per_s"], v[prefix + "runs_per_s"], "runs/s", "higher"))
    for key, label in [("log_metric", "log_metric"), ("search_runs", "search_runs"),
                       ("alias", "get_model_version_by_alias")]:
        for prefix, where in [("", "client"), ("wire_", "wire")]:
            for q in (0.5, 0.99):
                rows.append((f"{label} p{int(q * 100)} ({where})", pct(m[prefix + key], q),
                             pct(v[prefix + key], q), "ms", "lower"))
    rows.append((f"server RSS after workload ({m['n_processes']} vs {v['n_processes']} processes)",
                 m["rss_mb"], v["rss_mb"], "MB", "lower"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'mlflow':>10}  {'versa':>10}  {'unit':<7}  versa better by")
    for label, mv, vv, unit, better in rows:
        if mv is None or vv is None or mv <= 0 or vv <= 0:
            ratio = "n/a"
        else:
            ratio = f"×{(mv / vv if better == 'lower' else vv / mv):.1f}"
        cells = ["n/a".rjust(10) if x is None else f"{x:>10.3f}" for x in (mv, vv)]
        print(f"{label.ljust(width)}  {cells[0]}  {cells[1]}  {unit:<7}  {ratio}")
    print("client: through mlflow.MlflowClient 3.17.2 (includes the Python client's own cost); "
          "wire: the same request on a kept-alive http.client connection")
    print("cores: " + ("server on core 0 after start-up, client on core 1" if results["config"]["pinned"]
                       else "not pinned"))
    print(f"search_runs hits: mlflow {m['search_hits']}, versa {v['search_hits']}; "
          f"churn@production: mlflow v{m['alias_version']}, versa v{v['alias_version']}")


if __name__ == "__main__":
    main()
