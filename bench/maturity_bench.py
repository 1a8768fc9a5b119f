#!/usr/bin/env python3
"""Maturity-tracker latency over many models with their runs and deployments (run with the bench venv's
python; driven by bench/maturity.sh).

  python bench/maturity_bench.py --server URL --out FILE [--models 1000 --deployed 100 ...]

Seed (raw MLflow REST over keep-alive sessions, --concurrency threads; timed, reported as info):
  an experiment; per model i of --models: runs/create, runs/log-batch (one param, one metric),
  registered-models/create `mat-<i>`, model-versions/create with run_id and source
  `<run artifact_uri>/model`. The first --deployed models are real ONNX models: before registering,
  MLmodel (onnx flavour) and model.onnx (an iris logistic regression, skl2onnx, zipmap off) are
  uploaded into the run's `model/` folder through PUT /api/2.0/mlflow-artifacts/artifacts/...; then
  alias `champion` -> 1 and POST /api/cairn/v1/deployments {name: dep-<i>, model: models:/mat-<i>@champion}.
  With --rollouts (default on), each deployed model then gets version 2 (same source) and `champion`
  moves to it, so its deployment rolls out once (a `rolled_out` event; level-3 evidence).
Timed (one keep-alive session, the URL built before the clock starts, the body downloaded while timed
and parsed after), each after --warmup untimed calls:
  overview      --n-overview x GET /api/cairn/v1/maturity (every model)
  one_deployed  --n-one x GET /api/cairn/v1/maturity/mat-0 (a deployed model, with history)
  one_plain     --n-one x GET /api/cairn/v1/maturity/mat-<models-1> (a model without deployment)
Client-side over loopback: each latency is an upper bound of the server-side time.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

H = {"Content-Type": "application/json"}
_local = threading.local()


def session():
    s = getattr(_local, "s", None)
    if s is None:
        s = _local.s = requests.Session()
        s.trust_env = False  # loopback benchmark: never route through a proxy from the environment
    return s


def pct(xs, q):
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]


def onnx_files():
    """(MLmodel text, model.onnx bytes) of a small ONNX-flavour MLflow model."""
    import tempfile

    import mlflow.onnx
    import numpy as np
    from mlflow.models import infer_signature
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    onx = to_onnx(LogisticRegression(max_iter=300).fit(X, y), X[:1], options={"zipmap": False})
    with tempfile.TemporaryDirectory() as d:
        mlflow.onnx.save_model(onx, f"{d}/m", signature=infer_signature(X))
        return open(f"{d}/m/MLmodel").read(), open(f"{d}/m/model.onnx", "rb").read()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--deployed", type=int, default=100)
    ap.add_argument("--no-rollouts", dest="rollouts", action="store_false")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--n-overview", type=int, default=50)
    ap.add_argument("--n-one", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    if not 0 < args.deployed < args.models:
        ap.error("need 0 < --deployed < --models")
    base = args.server.rstrip("/")
    mlf, cairn = f"{base}/api/2.0/mlflow", f"{base}/api/cairn/v1"

    def post(url, body, ok=(200,)):
        r = session().post(url, data=json.dumps(body), headers=H)
        if r.status_code not in ok:
            raise SystemExit(f"POST {url} -> HTTP {r.status_code}: {r.text[:400]}")
        return r.json() if r.content else {}

    mlmodel, onnx_bytes = onnx_files()
    prefix = uuid.uuid4().hex[:6]
    exp = post(f"{mlf}/experiments/create", {"name": f"maturity-{prefix}"})["experiment_id"]
    names = [f"mat-{i}" for i in range(args.models)]

    def seed(i):
        name = names[i]
        run = post(f"{mlf}/runs/create", {"experiment_id": exp, "run_name": f"train-{i}",
                                          "start_time": int(time.time() * 1000)})["run"]["info"]
        rid, art = run["run_id"], run["artifact_uri"].rstrip("/")
        now = int(time.time() * 1000)
        post(f"{mlf}/runs/log-batch", {"run_id": rid, "params": [{"key": "C", "value": "1.0"}],
                                       "metrics": [{"key": "accuracy", "value": 0.95, "timestamp": now, "step": 0}]})
        if i < args.deployed:
            # mlflow-artifacts:/<path> -> PUT /api/2.0/mlflow-artifacts/artifacts/<path>
            path = urllib.parse.urlsplit(art).path.lstrip("/")
            for fname, data in (("MLmodel", mlmodel.encode()), ("model.onnx", onnx_bytes)):
                r = session().put(f"{base}/api/2.0/mlflow-artifacts/artifacts/{path}/model/{fname}", data=data)
                if r.status_code != 200:
                    raise SystemExit(f"artifact upload {fname} -> HTTP {r.status_code}: {r.text[:400]}")
        post(f"{mlf}/registered-models/create", {"name": name})
        post(f"{mlf}/model-versions/create", {"name": name, "source": f"{art}/model", "run_id": rid})
        if i < args.deployed:
            post(f"{mlf}/registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
            post(f"{cairn}/deployments", {"name": f"dep-{i}", "model": f"models:/{name}@champion"})
            if args.rollouts:
                post(f"{mlf}/model-versions/create", {"name": name, "source": f"{art}/model", "run_id": rid})
                post(f"{mlf}/registered-models/alias", {"name": name, "alias": "champion", "version": "2"})

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as ex:
        list(ex.map(seed, range(args.models)))
    seed_s = time.perf_counter() - t0
    print(json.dumps({"seed_s": round(seed_s, 1), "models": args.models, "deployed": args.deployed}), flush=True)
    # Let the deployment controller settle (roll-outs recorded) before timing.
    time.sleep(2)

    sess = session()
    phases, bodies = [], {}

    def timed(phase, url, n):
        for _ in range(args.warmup):
            sess.get(url).content
        lat, last = [], None
        for _ in range(n):
            t = time.perf_counter()
            r = sess.get(url)
            r.content
            lat.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"{phase}: HTTP {r.status_code}: {r.text[:400]}")
            last = r
        doc = last.json()
        bodies[phase] = doc
        rec = {"phase": phase, "calls": n, "p50_ms": round(statistics.median(lat), 2),
               "p90_ms": round(pct(lat, 90), 2), "p99_ms": round(pct(lat, 99), 2), "max_ms": round(max(lat), 2),
               "min_ms": round(min(lat), 2), "response_bytes": len(last.content)}
        phases.append(rec)
        print(json.dumps(rec), flush=True)
        return doc

    doc = timed("overview", f"{cairn}/maturity", args.n_overview)
    one_dep = timed("one_deployed", f"{cairn}/maturity/{names[0]}", args.n_one)
    one_plain = timed("one_plain", f"{cairn}/maturity/{names[-1]}", args.n_one)
    check = {"models_listed": len(doc.get("models", [])), "per_level": doc.get("per_level"),
             "one_deployed_level": one_dep.get("level"), "one_deployed_history": one_dep.get("history"),
             "one_plain_level": one_plain.get("level")}
    print(json.dumps(check), flush=True)
    if check["models_listed"] != args.models:
        raise SystemExit(f"overview lists {check['models_listed']} models, expected {args.models}")
    with open(args.out, "w") as f:
        json.dump({"args": vars(args), "seed_s": seed_s, "loadavg_end": os.getloadavg(), "phases": phases,
                   "check": check, "sample_one_deployed": one_dep}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
