#!/usr/bin/env python3
"""Server-side tracking benchmark over bare HTTP (stdlib + requests; run with the bench venv's python).

Run by bench/tracking.sh against a server the shared client (mlflow_client_bench.py) has just populated.
Everything goes through one keep-alive `requests.Session` (proxies ignored); request bodies are
serialised with json.dumps before the clock starts and responses are downloaded but not parsed while
timed, so the figures are the HTTP round trip plus the server's own work -- none of the mlflow Python
client's serialisation (MessageToJson) or result parsing.

Usage:
  python bench/raw_http_bench.py --tracking-uri http://127.0.0.1:PORT --out FILE

Phases (sequential, one connection):
  raw_log_metric           --n-log-metric (1000) POST runs/log-metric, one metric each (key `m`, distinct
                           steps), into a fresh run in the same fresh experiment
  raw_log_batch            --n-batch-calls (50) POST runs/log-batch, --batch-size (1000) metrics each
                           (keys k0..k9, distinct steps), into a fresh run in a fresh experiment
  raw_search_runs_max<N>   --n-search-calls (20) POST runs/search per page size in --search-max-results
                           (100,1000) over the shared client's corpus (experiment 'bench-<8hex>-search',
                           found via experiments/search), filter `metrics.score > 0.5`, order_by
                           `metrics.score DESC`, first page only; rows counted once, outside timing
  raw_get_run              --n-get-run (500) GET runs/get of one small run (1 metric, 1 param)

Each phase prints one JSON line (phase, calls, wall_s, calls_per_s, lat_ms_mean/p50/p95/p99/max, ...);
all are written to --out as {"phases": [...], ...}.
"""
import argparse
import json
import math
import os
import sys
import time
import urllib.parse
import uuid

import requests

API = "/api/2.0/mlflow/"
JSON_HEADERS = {"Content-Type": "application/json"}


def percentile(values, p):
    """Linear interpolation between closest ranks (numpy's default 'linear' method)."""
    s = sorted(values)
    if not s:
        return math.nan
    pos = (len(s) - 1) * p / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def report(phase, lat_s, wall_s, **extra):
    ms = [x * 1e3 for x in lat_s]
    rec = {
        "phase": phase,
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        "calls": len(ms),
        "wall_s": round(wall_s, 3),
        "calls_per_s": round(len(ms) / wall_s, 2) if wall_s > 0 else None,
        "lat_ms_mean": round(sum(ms) / len(ms), 3) if ms else None,
        "lat_ms_p50": round(percentile(ms, 50), 3),
        "lat_ms_p95": round(percentile(ms, 95), 3),
        "lat_ms_p99": round(percentile(ms, 99), 3),
        "lat_ms_max": round(max(ms), 3) if ms else None,
    }
    rec.update(extra)
    print(json.dumps(rec), flush=True)
    return rec


class Api:
    """Untimed helper calls (setup / lookups); these parse JSON and fail loudly."""

    def __init__(self, sess, base):
        self.sess, self.base = sess, base

    def url(self, endpoint):
        return self.base + API + endpoint

    def post(self, endpoint, body):
        r = self.sess.post(self.url(endpoint), data=json.dumps(body), headers=JSON_HEADERS)
        if r.status_code != 200:
            raise SystemExit(f"POST {endpoint} -> HTTP {r.status_code}: {r.text[:500]}")
        return r.json()


def find_search_experiment(api, pattern):
    exps, token = [], None
    while True:
        body = {"filter": f"name LIKE '{pattern}'", "max_results": 1000, "view_type": "ACTIVE_ONLY"}
        if token:
            body["page_token"] = token
        res = api.post("experiments/search", body)
        exps += res.get("experiments", [])
        token = res.get("next_page_token")
        if not token:
            break
    if len(exps) > 1:
        print(f"raw_http_bench: {len(exps)} experiments match {pattern!r}; using the newest", file=sys.stderr)
    exps.sort(key=lambda e: int(e.get("creation_time") or 0))
    return exps[-1] if exps else None


def timed(requests_, phase):
    """Sends each request (a no-argument callable returning the response) in turn: per-call latencies
    (s, body read included), the wall time and the last response; any non-200 ends the run."""
    lat, codes, r = [], [], None
    t0 = time.perf_counter()
    for send in requests_:
        t = time.perf_counter()
        r = send()
        r.content
        lat.append(time.perf_counter() - t)
        codes.append(r.status_code)
    wall = time.perf_counter() - t0
    bad = [c for c in codes if c != 200]
    if bad:
        raise SystemExit(f"{phase}: {len(bad)} non-200 responses (first {bad[0]})")
    return lat, wall, r


def post_timed(sess, url, bodies, phase):
    """POSTs each prepared body in turn on one connection (see `timed`)."""
    lat, wall, _ = timed([lambda b=b: sess.post(url, data=b, headers=JSON_HEADERS) for b in bodies], phase)
    return lat, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-log-metric", type=int, default=1000)
    ap.add_argument("--n-batch-calls", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--n-search-calls", type=int, default=20)
    ap.add_argument("--search-max-results", default="100,1000")
    ap.add_argument("--search-experiment", default="bench-%-search",
                    help="LIKE pattern naming the shared client's search corpus experiment")
    ap.add_argument("--n-get-run", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed requests before each phase (log-batch warm-up goes to a separate run)")
    args = ap.parse_args()

    base = args.tracking_uri.rstrip("/")
    sess = requests.Session()
    # With authentication on (bench/tracking.sh AUTH=1), the API token the shared client uses too.
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        sess.headers["Authorization"] = "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]
    sess.trust_env = False  # loopback benchmark: never route through a proxy from the environment
    api = Api(sess, base)
    out = {"tracking_uri": base, "requests_version": requests.__version__,
           "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "args": vars(args), "phases": []}

    exp_name = f"raw-bench-{uuid.uuid4().hex[:8]}"
    exp_id = api.post("experiments/create", {"name": exp_name})["experiment_id"]
    out["experiment"] = {"name": exp_name, "id": exp_id}

    def new_run(name):
        body = {"experiment_id": exp_id, "run_name": name, "start_time": int(time.time() * 1000)}
        return api.post("runs/create", body)["run"]["info"]["run_id"]

    ts = int(time.time() * 1000)

    # --- raw_log_metric ----------------------------------------------------------------------
    if args.n_log_metric > 0:
        url = api.url("runs/log-metric")

        def metric_body(run_id, i):
            return json.dumps({"run_id": run_id, "key": "m", "value": 1.0 / (i + 1), "timestamp": ts + i,
                               "step": i})

        warm_run = new_run("raw-log-metric-warmup")
        for i in range(args.warmup):
            sess.post(url, data=metric_body(warm_run, i), headers=JSON_HEADERS).raise_for_status()
        run_id = new_run("raw-log-metric")
        bodies = [metric_body(run_id, i) for i in range(args.n_log_metric)]  # serialised before timing
        lat, wall = post_timed(sess, url, bodies, "raw_log_metric")
        out["phases"].append(report("raw_log_metric", lat, wall, body_bytes=len(bodies[0])))

    # --- raw_log_batch -----------------------------------------------------------------------
    url = api.url("runs/log-batch")

    def batch_body(run_id, c):
        return json.dumps({"run_id": run_id, "metrics": [
            {"key": f"k{j % 10}", "value": float(j), "timestamp": ts + c, "step": c * args.batch_size + j}
            for j in range(args.batch_size)]})

    if args.n_batch_calls > 0:
        warm_run = new_run("raw-log-batch-warmup")
        for c in range(args.warmup):
            sess.post(url, data=batch_body(warm_run, c), headers=JSON_HEADERS).raise_for_status()
        run_id = new_run("raw-log-batch")
        bodies = [batch_body(run_id, c) for c in range(args.n_batch_calls)]  # serialised before timing
        lat, wall = post_timed(sess, url, bodies, "raw_log_batch")
        n = args.n_batch_calls * args.batch_size
        out["phases"].append(report("raw_log_batch", lat, wall, metrics_per_call=args.batch_size,
                                    metrics_per_s=round(n / wall, 1), body_bytes=len(bodies[0])))

    # --- raw_search_runs_max<N> --------------------------------------------------------------
    sizes = [int(x) for x in args.search_max_results.split(",") if x.strip()]
    sexp = find_search_experiment(api, args.search_experiment) if sizes and args.n_search_calls > 0 else None
    if sizes and args.n_search_calls > 0 and sexp is None:
        print(f"raw_http_bench: no experiment matches {args.search_experiment!r} "
              "(did the shared client skip its search phase?); skipping raw_search_runs", file=sys.stderr)
    if sexp is not None:
        out["search_experiment"] = {"name": sexp.get("name"), "id": sexp.get("experiment_id")}
        url = api.url("runs/search")
        for mr in sizes:
            body = json.dumps({"experiment_ids": [sexp["experiment_id"]], "filter": "metrics.score > 0.5",
                               "order_by": ["metrics.score DESC"], "max_results": mr,
                               "run_view_type": "ACTIVE_ONLY"})
            for _ in range(args.warmup):
                sess.post(url, data=body, headers=JSON_HEADERS).raise_for_status()
            lat, last = [], None
            t0 = time.perf_counter()
            for _ in range(args.n_search_calls):
                t = time.perf_counter()
                r = sess.post(url, data=body, headers=JSON_HEADERS)
                r.content  # body fully downloaded (requests reads it eagerly); not parsed while timed
                lat.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise SystemExit(f"raw_search_runs_max{mr}: HTTP {r.status_code}: {r.text[:500]}")
                last = r
            wall = time.perf_counter() - t0
            rows = len(last.json().get("runs", []))  # parsed once, outside timing
            out["phases"].append(report(f"raw_search_runs_max{mr}", lat, wall, rows_returned=rows,
                                        response_bytes=len(last.content), filter="metrics.score > 0.5"))

    # --- raw_get_run -------------------------------------------------------------------------
    if args.n_get_run > 0:
        rid = new_run("raw-get-run")
        api.post("runs/log-batch", {"run_id": rid,
                                    "metrics": [{"key": "score", "value": 0.5, "timestamp": ts, "step": 0}],
                                    "params": [{"key": "idx", "value": "0"}]})
        url = api.url("runs/get") + "?" + urllib.parse.urlencode({"run_id": rid})
        for _ in range(args.warmup):
            sess.get(url).raise_for_status()
        lat, wall, r = timed([lambda: sess.get(url)] * args.n_get_run, "raw_get_run")
        out["phases"].append(report("raw_get_run", lat, wall, response_bytes=len(r.content)))

    out["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
