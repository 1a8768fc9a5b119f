#!/usr/bin/env python3
"""Model-registry benchmark for an MLflow-REST-compatible server (run with the bench venv's python).

Run by bench/registry.sh against a fresh server; usable on its own too:
  python bench/registry_bench.py --tracking-uri http://127.0.0.1:PORT --out FILE

Client rows use the official `mlflow` client (MlflowClient / mlflow.register_model), so its own overhead
is included and identical for every server. Raw rows (`raw_*`, skipped with --no-raw) repeat the read paths
with one keep-alive `requests.Session` (proxies ignored), like bench/raw_http_bench.py: the request is built
before the clock starts and the response body is downloaded but not parsed while timed (for paged searches
only the next_page_token is picked out of the bytes), so they are the server's cost plus a small fixed
HTTP-client cost.

Order (every name below is prefixed rb<8hex>- so a reused server cannot collide):
  setup                      an experiment; --n-seed-runs (10) seed runs; one registration run with a
                             model/MLmodel artifact (uploaded through the server)
  seed_model_versions        (info, not a target) --n-models (10) registered models m0.. with
                             --versions-per-model (100) versions each, over raw HTTP (model-versions/create
                             with run_id and source <seed run's artifact_uri>/model; version v of every model
                             belongs to seed run v % n-seed-runs), --seed-concurrency (4) threads, one model
                             per thread at a time
  search_mv_name             --n-search (20) x client.search_model_versions(filter_string="name='<m3>'")
  search_mv_all_max1000      --n-search-all (10) x client.search_model_versions(max_results=1000), following
                             next_page_token to the end (one timed call = every page); runs before anything
                             else creates versions, so it pages through exactly the seeded versions
  search_mv_run_id           --n-search (20) x filter "run_id = '<seed run 3>'" (versions across all models)
  raw_search_mv_*            the same three over bare HTTP (GET model-versions/search with the parameters
                             the client sends: filter, max_results 10000 (the client's default) / 1000)
  create_model_version       --n-create (300) x MlflowClient.create_model_version(name, source, run_id) on one
                             registered model, source = the registration run's real artifact URI
                             (<artifact_uri>/model); the server validates it against the run
  register_model             --n-register (100) x mlflow.register_model("runs:/<run>/model", same name):
                             create_registered_model (already exists -> caught), get_run, list the run's
                             model/ artifacts, create_model_version -- what a user's call costs end to end
  get_mv_by_alias            alias `champion` set on the newest version, then --n-alias (500) x
                             client.get_model_version_by_alias(name, "champion"); raw_get_mv_by_alias the same
                             over bare HTTP (GET registered-models/alias)
  get_registered_model       --n-get-rm (500) x client.get_registered_model(name) (the registration model:
                             all its versions, one alias)
  search_registered_models_max100  --n-search-rm (50) x client.search_registered_models(max_results=100)

Every phase has --warmup (2) untimed calls first. Each prints one JSON line (phase, calls, wall_s,
calls_per_s, lat_ms_mean/p50/p95/p99/max, rows_returned, ...); all are written to --out as {"phases": [...]}.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from raw_http_bench import JSON_HEADERS, Api, report  # same percentile and record format

ALIAS = "champion"
ALL_PAGE = 1000  # max_results of the unfiltered, paged search_model_versions
TOKEN_RE = re.compile(rb'"next_page_token"\s*:\s*"([^"]*)"')
PHASE_GROUPS = ("search", "create", "register", "alias", "rm")


def timed_loop(n, fn):
    """Call fn() n times; return (per-call latencies in s, wall s, last result)."""
    lat, last = [], None
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        last = fn()
        lat.append(time.perf_counter() - t)
    return lat, time.perf_counter() - t0, last


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-create", type=int, default=300)
    ap.add_argument("--n-register", type=int, default=100)
    ap.add_argument("--n-alias", type=int, default=500)
    ap.add_argument("--n-models", type=int, default=10)
    ap.add_argument("--versions-per-model", type=int, default=100)
    ap.add_argument("--n-seed-runs", type=int, default=10)
    ap.add_argument("--seed-concurrency", type=int, default=4)
    ap.add_argument("--n-search", type=int, default=20)
    ap.add_argument("--n-search-all", type=int, default=10)
    ap.add_argument("--n-get-rm", type=int, default=500)
    ap.add_argument("--n-search-rm", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--no-raw", action="store_true", help="skip the raw HTTP phases")
    ap.add_argument("--skip", default="", help="comma list of phase groups to skip: " + ",".join(PHASE_GROUPS))
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(PHASE_GROUPS):
        ap.error(f"--skip: unknown group(s) {sorted(skip - set(PHASE_GROUPS))} (known: {', '.join(PHASE_GROUPS)})")
    if args.n_models < 4 or args.n_seed_runs < 4:
        ap.error("--n-models and --n-seed-runs must be at least 4 (the filters use m3 and seed run 3)")

    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow
    from mlflow import MlflowClient

    base = args.tracking_uri.rstrip("/")
    mlflow.set_tracking_uri(base)
    mlflow.set_registry_uri(base)
    client = MlflowClient(tracking_uri=base, registry_uri=base)
    sess = requests.Session()
    sess.trust_env = False  # loopback benchmark: never route through a proxy from the environment
    api = Api(sess, base)
    out = {"tracking_uri": base, "mlflow_client_version": mlflow.__version__,
           "requests_version": requests.__version__, "cpu_count": os.cpu_count(),
           "loadavg_at_start": os.getloadavg(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "args": vars(args), "phases": []}
    phases = out["phases"]

    # --- setup -------------------------------------------------------------------------------
    prefix = f"rb{uuid.uuid4().hex[:8]}"
    exp_id = client.create_experiment(f"{prefix}-registry")
    seed_runs = []
    for k in range(args.n_seed_runs):
        run = client.create_run(exp_id, run_name=f"seed-{k}")
        seed_runs.append((run.info.run_id, run.info.artifact_uri.rstrip("/") + "/model"))
    reg_run = client.create_run(exp_id, run_name="registration-source")
    reg_run_id = reg_run.info.run_id
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "MLmodel"), "w") as f:
            f.write(f"artifact_path: model\nrun_id: {reg_run_id}\nflavors:\n  python_function:\n"
                    "    loader_module: bench\n")
        client.log_artifact(reg_run_id, os.path.join(tmp, "MLmodel"), artifact_path="model")
    client.set_terminated(reg_run_id)
    for rid, _src in seed_runs:
        client.set_terminated(rid)
    reg_source = reg_run.info.artifact_uri.rstrip("/") + "/model"
    models = [f"{prefix}-m{i}" for i in range(args.n_models)]
    reg_name = f"{prefix}-reg"
    out["setup"] = {"prefix": prefix, "experiment_id": exp_id, "registration_run": reg_run_id,
                    "registration_source": reg_source, "models": models, "registration_model": reg_name}

    # --- seed (not a target; reported as info) -----------------------------------------------
    n_seed = args.n_models * args.versions_per_model
    if "search" not in skip and n_seed:
        for m in models:
            api.post("registered-models/create", {"name": m})
        local = threading.local()
        lat_lock, seed_lat = threading.Lock(), []

        def seed_model(m):
            s = getattr(local, "sess", None)
            if s is None:
                s = local.sess = requests.Session()
                s.trust_env = False
            url, mine = api.url("model-versions/create"), []
            for v in range(args.versions_per_model):
                rid, src = seed_runs[v % args.n_seed_runs]
                body = json.dumps({"name": m, "source": src, "run_id": rid})
                t = time.perf_counter()
                r = s.post(url, data=body, headers=JSON_HEADERS)
                mine.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise SystemExit(f"seed model-versions/create -> HTTP {r.status_code}: {r.text[:500]}")
            with lat_lock:
                seed_lat.extend(mine)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max(1, args.seed_concurrency)) as ex:
            list(ex.map(seed_model, models))
        wall = time.perf_counter() - t0
        phases.append(report("seed_model_versions", seed_lat, wall, versions=n_seed, models=args.n_models,
                             concurrency=args.seed_concurrency, versions_per_s=round(n_seed / wall, 1)))

    def client_phase(name, n, fn, rows=None, **extra):
        """Warm up, time n calls of fn, report; rows(last result) -> rows_returned (outside timing)."""
        if n <= 0:
            return None
        for _ in range(args.warmup):
            fn()
        lat, wall, last = timed_loop(n, fn)
        if rows is not None:
            extra.update(rows(last))
        rec = report(name, lat, wall, **extra)
        phases.append(rec)
        return last

    def raw_phase(name, n, endpoint, params, paged=False, **extra):
        """Time n GETs of endpoint?params (following next_page_token to the end when paged)."""
        if n <= 0 or args.no_raw:
            return
        url = api.url(endpoint)

        def call():
            bodies, token = [], None
            while True:
                q = dict(params, page_token=token) if token else params
                r = sess.get(url + "?" + urllib.parse.urlencode(q))
                r.content  # downloaded (requests reads eagerly); not parsed while timed
                if r.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {r.status_code}: {r.text[:500]}")
                bodies.append(r.content)
                mt = TOKEN_RE.search(r.content) if paged else None
                token = mt.group(1).decode() if mt else None
                if not token:
                    return bodies

        for _ in range(args.warmup):
            call()
        lat, wall, bodies = timed_loop(n, call)
        docs = [json.loads(b) for b in bodies]  # parsed once, outside timing
        key = "model_versions" if "model-versions" in endpoint else (
            "registered_models" if "registered-models/search" in endpoint else None)
        if key:
            extra["rows_returned"] = sum(len(d.get(key, [])) for d in docs)
        phases.append(report(name, lat, wall, pages=len(bodies),
                             response_bytes=sum(len(b) for b in bodies), **extra))

    def paged_rows(res_list):
        rows, pages = 0, 0
        for res in res_list:
            rows += len(res)
            pages += 1
        return {"rows_returned": rows, "pages": pages}

    # --- 3. search_model_versions over the seeded versions -----------------------------------
    if "search" not in skip:
        name_filter = f"name='{models[3]}'"
        run_filter = f"run_id = '{seed_runs[3][0]}'"

        def search_all():
            pages, token = [], None
            while True:
                res = client.search_model_versions(max_results=ALL_PAGE, page_token=token)
                pages.append(res)
                token = res.token
                if not token:
                    return pages

        client_phase("search_mv_name", args.n_search, lambda: client.search_model_versions(filter_string=name_filter),
                     rows=lambda r: paged_rows([r]), filter=name_filter)
        client_phase("search_mv_all_max1000", args.n_search_all, search_all, rows=paged_rows,
                     corpus_versions=n_seed)
        client_phase("search_mv_run_id", args.n_search, lambda: client.search_model_versions(filter_string=run_filter),
                     rows=lambda r: paged_rows([r]), filter="run_id = '<seed run 3>'")
        # The client's default max_results for search_model_versions is 10000; send what it sends.
        raw_phase("raw_search_mv_name", args.n_search, "model-versions/search",
                  {"filter": name_filter, "max_results": 10000})
        raw_phase("raw_search_mv_all_max1000", args.n_search_all, "model-versions/search",
                  {"max_results": ALL_PAGE}, paged=True, corpus_versions=n_seed)
        raw_phase("raw_search_mv_run_id", args.n_search, "model-versions/search",
                  {"filter": run_filter, "max_results": 10000})

    # --- 1. registration ---------------------------------------------------------------------
    newest = None
    if {"create", "register", "alias", "rm"} - skip:
        client.create_registered_model(reg_name)
    if "create" not in skip:
        mv = client_phase("create_model_version", args.n_create,
                          lambda: client.create_model_version(reg_name, reg_source, reg_run_id),
                          rows=lambda mv: {"last_version": int(mv.version), "status": mv.status},
                          source=reg_source)
        newest = mv.version if mv else newest
    if "register" not in skip:
        model_uri = f"runs:/{reg_run_id}/model"

        mv = client_phase("register_model", args.n_register, lambda: mlflow.register_model(model_uri, reg_name),
                          rows=lambda mv: {"last_version": int(mv.version), "source": mv.source},
                          model_uri=model_uri)
        newest = mv.version if mv else newest

    # --- 2. get by alias ---------------------------------------------------------------------
    if "alias" not in skip:
        if newest is None:
            newest = client.create_model_version(reg_name, reg_source, reg_run_id).version
        client.set_registered_model_alias(reg_name, ALIAS, newest)
        got = client.get_model_version_by_alias(reg_name, ALIAS)
        if str(got.version) != str(newest):
            raise SystemExit(f"alias {ALIAS} -> version {got.version}, expected {newest}")
        client_phase("get_mv_by_alias", args.n_alias, lambda: client.get_model_version_by_alias(reg_name, ALIAS),
                     alias_version=int(newest))
        raw_phase("raw_get_mv_by_alias", args.n_alias, "registered-models/alias", {"name": reg_name, "alias": ALIAS})

    # --- 4. registered models ----------------------------------------------------------------
    if "rm" not in skip:
        versions = len(client.search_model_versions(filter_string=f"name='{reg_name}'"))
        client_phase("get_registered_model", args.n_get_rm, lambda: client.get_registered_model(reg_name),
                     rows=lambda rm: {"aliases": len(rm.aliases or {}),
                                      "latest_versions": len(rm.latest_versions or [])},
                     model_versions=versions)
        client_phase("search_registered_models_max100", args.n_search_rm,
                     lambda: client.search_registered_models(max_results=100),
                     rows=lambda r: {"rows_returned": len(r), "next_page": bool(r.token)})

    out["loadavg_at_end"] = os.getloadavg()
    out["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
