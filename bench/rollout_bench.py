#!/usr/bin/env python3
"""Roll-out delay after an alias move, on `cairn server` and on a `cairn serve --deployment` replica
(run with the bench venv's python; driven by bench/rollout.sh).

  python bench/rollout_bench.py setup   --server URL --model NAME
  python bench/rollout_bench.py measure --server URL --replica URL --deployment D --model NAME --out FILE

setup     logs two ONNX model versions of NAME with the official mlflow client (skl2onnx exports of a
          logistic regression (version 1) and a decision tree (version 2) on iris, `zipmap` off,
          `mlflow.onnx.log_model(..., registered_model_name=NAME, signature=infer_signature(X))`) and
          points the alias `champion` at version 1.
measure   --n times: move `champion` to the other version through the MLflow REST API
          (POST /api/2.0/mlflow/registered-models/alias) and take t0 right after its 200; two threads, one
          per endpoint (the server's and the replica's /v2/models/D/infer), poll in a tight loop with a
          one-row OIP request on their own keep-alive session; the delay of an endpoint is the arrival
          time of its first answer whose `model_version` is the new version, among requests sent after
          t0, minus t0. Then waits --gap s (plus up to 50% jitter) before the next move. Prints one JSON
          line per move and writes {"moves": [...], "summary": {...}} to --out.
"""
import argparse
import json
import os
import random
import statistics
import sys
import threading
import time

import requests

ALIAS = "champion"
ROW = [5.1, 3.5, 1.4, 0.2]


def session():
    s = requests.Session()
    s.trust_env = False  # loopback benchmark: never route through a proxy from the environment
    return s


def setup(args):
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow
    import mlflow.onnx
    import numpy as np
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    mlflow.set_tracking_uri(args.server)
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    for est in (LogisticRegression(max_iter=300), DecisionTreeClassifier(max_depth=3, random_state=0)):
        onx = to_onnx(est.fit(X, y), X[:1], options={"zipmap": False})
        with mlflow.start_run():
            mlflow.onnx.log_model(onx, name="model", registered_model_name=args.model,
                                  signature=infer_signature(X))
    MlflowClient(args.server).set_registered_model_alias(args.model, ALIAS, "1")


def infer_body(input_name):
    return json.dumps({"inputs": [{"name": input_name, "shape": [1, 4], "datatype": "FP32", "data": ROW}]})


class Poller(threading.Thread):
    """Polls one infer URL in a tight loop; reports the first answer with the wanted version."""

    def __init__(self, name, url, body):
        super().__init__(daemon=True, name=name)
        self.url, self.body, self.sess = url, body, session()
        self.cv = threading.Condition()
        self.want = None        # (version, t0) while a move is being watched
        self.result = None      # (delay_s, polls) once seen
        self.stop = False
        self.errors = 0

    def call(self):
        r = self.sess.post(self.url, data=self.body, headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            self.errors += 1
            return None
        return r.json().get("model_version")

    def watch(self, version, t0):
        with self.cv:
            self.want, self.result = (str(version), t0), None
            self.cv.notify()

    def wait_result(self, timeout):
        deadline = time.perf_counter() + timeout
        with self.cv:
            while self.result is None:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cv.wait(left)
            return self.result

    def run(self):
        while not self.stop:
            with self.cv:
                while self.want is None and not self.stop:
                    self.cv.wait()
                if self.stop:
                    return
                version, t0 = self.want
            polls = 0
            while True:
                sent = time.perf_counter()
                try:
                    got = self.call()
                except requests.RequestException:
                    self.errors += 1
                    got = None
                arrived = time.perf_counter()
                polls += 1
                if sent >= t0 and got == version:
                    with self.cv:
                        self.result = (arrived - t0, polls)
                        self.want = None
                        self.cv.notify_all()
                    break
                with self.cv:
                    if self.want is None or self.stop:  # given up on
                        break


def pct(xs, q):
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]


def summarize(ms):
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p90_ms": round(pct(ms, 90), 2),
            "max_ms": round(max(ms), 2), "min_ms": round(min(ms), 2), "mean_ms": round(statistics.fmean(ms), 2)}


def measure(args):
    base = args.server.rstrip("/")
    targets = {"server": f"{base}/v2/models/{args.deployment}/infer",
               "replica": f"{args.replica.rstrip('/')}/v2/models/{args.deployment}/infer"}
    meta = session().get(f"{base}/v2/models/{args.deployment}", timeout=10).json()
    input_name = meta["inputs"][0]["name"]
    body = infer_body(input_name)
    pollers = {k: Poller(k, u, body) for k, u in targets.items()}
    # Both must serve the alias's current version before the first move.
    alias_url = f"{base}/api/2.0/mlflow/registered-models/alias"
    ctl = session()
    cur = ctl.get(alias_url, params={"name": args.model, "alias": ALIAS}, timeout=10).json()["model_version"]["version"]
    deadline = time.time() + 60
    for k, p in pollers.items():
        while p.call() != str(cur):
            if time.time() > deadline:
                raise SystemExit(f"{k} does not serve version {cur} of {args.model}")
            time.sleep(0.1)
    for p in pollers.values():
        p.start()
    for _ in range(args.warmup):
        ctl.get(alias_url, params={"name": args.model, "alias": ALIAS}, timeout=10)
    moves = []
    rng = random.Random(args.seed)
    for i in range(args.n):
        nxt = "2" if str(cur) == "1" else "1"
        r = ctl.post(alias_url, data=json.dumps({"name": args.model, "alias": ALIAS, "version": nxt}),
                     headers={"Content-Type": "application/json"}, timeout=30)
        t0 = time.perf_counter()
        if r.status_code != 200:
            raise SystemExit(f"alias move -> HTTP {r.status_code}: {r.text[:300]}")
        for p in pollers.values():
            p.watch(nxt, t0)
        rec = {"move": i + 1, "to": nxt}
        for k, p in pollers.items():
            res = p.wait_result(args.timeout)
            if res is None:
                with p.cv:
                    p.want = None
                rec[k + "_ms"], rec[k + "_polls"] = None, None
            else:
                rec[k + "_ms"], rec[k + "_polls"] = round(res[0] * 1000, 2), res[1]
        moves.append(rec)
        print(json.dumps(rec), flush=True)
        cur = nxt
        time.sleep(args.gap * (1 + 0.5 * rng.random()))
    for p in pollers.values():
        with p.cv:
            p.stop = True
            p.cv.notify_all()
    summary = {k: summarize([m[k + "_ms"] for m in moves if m[k + "_ms"] is not None]) for k in targets}
    for k in targets:
        summary[k]["timeouts"] = sum(1 for m in moves if m[k + "_ms"] is None)
        summary[k]["errors"] = pollers[k].errors
    out = {"args": vars(args), "input_name": input_name, "loadavg_end": os.getloadavg(), "moves": moves,
           "summary": summary}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({"summary": summary}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--server", required=True)
    s.add_argument("--model", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--server", required=True)
    m.add_argument("--replica", required=True)
    m.add_argument("--deployment", required=True)
    m.add_argument("--model", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--n", type=int, default=30, help="alias moves")
    m.add_argument("--gap", type=float, default=0.5, help="pause between moves, s (+ up to 50%% jitter)")
    m.add_argument("--timeout", type=float, default=15.0, help="give up on one endpoint after this many s")
    m.add_argument("--warmup", type=int, default=3)
    m.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    setup(args) if args.cmd == "setup" else measure(args)


if __name__ == "__main__":
    sys.exit(main())
