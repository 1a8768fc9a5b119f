#!/usr/bin/env python3
"""runs/search at scale over bare HTTP (stdlib + requests), the same code against any MLflow-REST server.

Run by bench/search.sh against a fresh server: populates one experiment with --runs runs (the same data
for every server: a seeded generator, run i named run-<i> with start_time T0 + i), then times
POST runs/search for each query below, max_results --max-results (100), first page only.

Usage:
  python bench/search_bench.py --tracking-uri http://127.0.0.1:PORT --runs 10000 --out FILE

Population (not timed as a phase, but reported): --threads (8) keep-alive sessions, each run one
runs/create (start_time given) and one runs/log-batch: metrics acc, loss (uniform in [0, 1), step 0),
params lr (5 values), optimizer (adam, sgd, rmsprop), tag team (4 values).

Queries (each --calls (30) timed calls after --warmup (3), one connection):
  filter_order   filter `metrics.acc > 0.5 AND params.optimizer = 'adam'`, order_by `metrics.loss ASC`
  order_only     no filter, order_by `metrics.acc DESC`
  filter_default filter `params.optimizer = 'sgd' AND tags.team = 'vision'`, default order
The run names of each answer are recorded (`names_sha1`) so that answers compare across servers.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import sys
import time
import uuid

import requests

from raw_http_bench import percentile  # the same interpolation as the tracking bench

API = "/api/2.0/mlflow/"
T0 = 1_700_000_000_000

QUERIES = {
    "filter_order": {
        "filter": "metrics.acc > 0.5 AND params.optimizer = 'adam'",
        "order_by": ["metrics.loss ASC"],
    },
    "order_only": {"filter": "", "order_by": ["metrics.acc DESC"]},
    "filter_default": {
        "filter": "params.optimizer = 'sgd' AND tags.team = 'vision'",
        "order_by": [],
    },
}


def session():
    s = requests.Session()
    s.trust_env = False
    return s


def post(sess, base, endpoint, body):
    r = sess.post(base + API + endpoint, data=json.dumps(body),
                  headers={"Content-Type": "application/json"}, timeout=600)
    if r.status_code != 200:
        raise SystemExit(f"{endpoint}: HTTP {r.status_code}: {r.text[:500]}")
    return r.json()


def run_data(i, seed):
    rng = random.Random(seed * 1_000_003 + i)
    return {
        "acc": rng.random(),
        "loss": rng.random(),
        "lr": rng.choice(["0.1", "0.03", "0.01", "0.003", "0.001"]),
        "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
        "team": rng.choice(["vision", "nlp", "speech", "tabular"]),
    }


def populate(base, exp_id, n, threads, seed):
    local = __import__("threading").local()

    def one(i):
        if not hasattr(local, "sess"):
            local.sess = session()
        d = run_data(i, seed)
        run = post(local.sess, base, "runs/create", {
            "experiment_id": exp_id, "run_name": f"run-{i}", "start_time": T0 + i, "tags": []})
        run_id = run["run"]["info"]["run_id"]
        post(local.sess, base, "runs/log-batch", {
            "run_id": run_id,
            "metrics": [{"key": k, "value": d[k], "timestamp": T0 + i, "step": 0} for k in ("acc", "loss")],
            "params": [{"key": k, "value": d[k]} for k in ("lr", "optimizer")],
            "tags": [{"key": "team", "value": d["team"]}],
        })

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for f in concurrent.futures.as_completed([pool.submit(one, i) for i in range(n)]):
            f.result()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--max-results", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    base = args.tracking_uri.rstrip("/")

    sess = session()
    name = f"search-bench-{uuid.uuid4().hex[:8]}"
    exp_id = post(sess, base, "experiments/create", {"name": name})["experiment_id"]
    started = time.perf_counter()
    populate(base, exp_id, args.runs, args.threads, args.seed)
    populate_s = time.perf_counter() - started
    print(json.dumps({"populate": args.runs, "seconds": round(populate_s, 1)}), flush=True)

    out = {"runs": args.runs, "populate_s": round(populate_s, 1), "phases": []}
    for qname, q in QUERIES.items():
        body = json.dumps({"experiment_ids": [exp_id], "filter": q["filter"], "order_by": q["order_by"],
                           "max_results": args.max_results})
        url = base + API + "runs/search"
        headers = {"Content-Type": "application/json"}
        first = None
        for _ in range(args.warmup):
            r = sess.post(url, data=body, headers=headers, timeout=600)
            r.raise_for_status()
            first = r.json()
        lat = []
        wall0 = time.perf_counter()
        for _ in range(args.calls):
            t = time.perf_counter()
            r = sess.post(url, data=body, headers=headers, timeout=600)
            _ = r.content
            lat.append(time.perf_counter() - t)
            if r.status_code != 200:
                raise SystemExit(f"{qname}: HTTP {r.status_code}: {r.text[:500]}")
        wall = time.perf_counter() - wall0
        runs = (first or {}).get("runs", [])
        names = [r["info"].get("run_name", "") for r in runs]
        ms = [x * 1e3 for x in lat]
        rec = {
            "phase": qname,
            "calls": len(ms),
            "calls_per_s": round(len(ms) / wall, 2),
            "lat_ms_p50": round(percentile(ms, 50), 3),
            "lat_ms_p95": round(percentile(ms, 95), 3),
            "rows": len(runs),
            "names_sha1": hashlib.sha1("\n".join(names).encode()).hexdigest()[:12],
            "first_names": names[:3],
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(rec), flush=True)
        out["phases"].append(rec)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
