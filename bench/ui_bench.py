#!/usr/bin/env python3
"""Web UI benchmark in headless Chromium (Debian's /usr/bin/chromium through Playwright), run by
bench/ui.sh against a fresh `cairn server` (and, for page weight, a fresh `mlflow server`).

Seeds over bare HTTP (log_batch, a thread pool): one experiment of --runs runs, each with --params params
and --metrics metrics; and --chart-runs runs of one metric with --chart-points steps each — unless the
server already holds a completed seeding of the same sizes (ui.sh DATA_DIR=... keeps one). Then, --repeats
times each (medians reported), in a fresh browser context (cold cache):
  grid_first_rows_ms   navigation start -> the first grid row visible on /experiments/ID
  grid_sort_ms         click a metric's header -> first row of the server-sorted grid visible
  grid_filter_ms       a filtered grid (metrics + params) loaded -> first row visible
  grid_dom_rows        grid rows in the DOM after load and after a scroll to the middle
  chart_first_frame_ms /compare of the chart runs -> the chart card's canvas drawn (series fetched,
                       downsampled in the server, drawn by uPlot)
  cold_js_css_gzip_kb  bytes of JS + CSS a cold visit of the run page transfers (as encoded on the wire)
"Visible" is the first animation frame after the element entered the DOM, timed in the page
(performance.timeOrigin + performance.now(); a click from the page's Date.now() just before it); each
*_wall_ms is the same measure on Playwright's clock, with its own round trips in it.
For --mlflow-url, the cold-visit JS + CSS of MLflow's UI (its own page, `/`) is measured the same way, and
(--peer-runs) both UIs' first grid rows on the same smaller experiment seeded into both servers:
  peer_cairn_first_rows_ms / peer_mlflow_first_rows_ms   navigation start -> first grid row visible
"""
import argparse
import json
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

API = "/api/2.0/mlflow/"


def post(s, base, path, body):
    r = s.post(base + API + path, json=body, timeout=600)
    r.raise_for_status()
    return r.json()


def existing(s, base, name):
    """The id of experiment `name` if a previous seeding on this data dir completed it (see ui.sh DATA_DIR)."""
    r = s.get(base + API + "experiments/get-by-name", params={"experiment_name": name}, timeout=60)
    if r.status_code != 200:
        return None
    exp = r.json()["experiment"]
    done = {t["key"]: t["value"] for t in exp.get("tags", [])}.get("ui-bench.seeded")
    return exp["experiment_id"] if done == "true" else None


def chart_run_ids(s, base, exp):
    return [r["info"]["run_id"] for r in post(s, base, "runs/search", {"experiment_ids": [exp], "max_results": 1000})["runs"]]


def fresh(s, base, name):
    """A new experiment `name` (a partial seeding left behind by an interrupted run keeps its name)."""
    suffix = "" if existing_any(s, base, name) is None else f"-{uuid.uuid4().hex[:8]}"
    return post(s, base, "experiments/create", {"name": name + suffix})["experiment_id"]


def mark_seeded(s, base, exp):
    post(s, base, "experiments/set-experiment-tag", {"experiment_id": exp, "key": "ui-bench.seeded", "value": "true"})


def seed_runs(base, name, runs, params, metrics, threads):
    """Experiment `name` of `runs` runs × `params` params × `metrics` metrics (reused when complete);
    returns its id and the seconds seeding took."""
    s = requests.Session()
    exp = existing(s, base, name)
    if exp is not None:
        return exp, 0.0
    exp = fresh(s, base, name)
    now = int(time.time() * 1000)

    def one(i):
        sess = requests.Session()
        rid = post(sess, base, "runs/create", {"experiment_id": exp, "run_name": f"r{i:06d}", "start_time": now + i})["run"]["info"]["run_id"]
        post(sess, base, "runs/log-batch", {
            "run_id": rid,
            "params": [{"key": f"p{j}", "value": str((i * 7 + j) % 97)} for j in range(params)],
            "metrics": [{"key": f"m{j}", "value": ((i * 31 + j * 17) % 1000) / 1000.0, "timestamp": now, "step": 0} for j in range(metrics)],
        })
        return rid

    t0 = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(runs)))
    mark_seeded(s, base, exp)
    return exp, time.time() - t0


def seed(base, runs, params, metrics, chart_runs, chart_points, threads):
    s = requests.Session()
    now = int(time.time() * 1000)
    exp, seeded = seed_runs(base, f"ui-bench-{runs}x{params}x{metrics}", runs, params, metrics, threads)
    chart_name = f"ui-bench-chart-{chart_runs}x{chart_points}"
    chart_exp = existing(s, base, chart_name)
    if chart_exp is not None:
        return exp, chart_run_ids(s, base, chart_exp), seeded
    chart_exp = fresh(s, base, chart_name)
    chart_ids = []
    for c in range(chart_runs):
        rid = post(s, base, "runs/create", {"experiment_id": chart_exp, "start_time": now})["run"]["info"]["run_id"]
        chart_ids.append(rid)

        def batch(start, rid=rid, c=c):
            sess = requests.Session()
            pts = [{"key": "loss", "value": 1.0 / (k + 1) + c * 0.01, "timestamp": now + k, "step": k} for k in range(start, min(start + 1000, chart_points))]
            post(sess, base, "runs/log-batch", {"run_id": rid, "metrics": pts})

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(batch, range(0, chart_points, 1000)))
    mark_seeded(s, base, chart_exp)
    return exp, chart_ids, seeded


def existing_any(s, base, name):
    r = s.get(base + API + "experiments/get-by-name", params={"experiment_name": name}, timeout=60)
    return r.json()["experiment"]["experiment_id"] if r.status_code == 200 else None


# Injected before any page script: for each selector, the epoch ms of the first animation frame after an
# element matching it entered the DOM (the frame that shows it).
FIRST_FRAME = """
window.__firstFrame = {};
const wanted = %s;
new MutationObserver(() => {
  for (const w of wanted) {
    if (!(w in window.__firstFrame) && document.querySelector(w)) {
      window.__firstFrame[w] = 0;
      requestAnimationFrame(() => { window.__firstFrame[w] = performance.timeOrigin + performance.now(); });
    }
  }
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def transferred(page_responses):
    """JS + CSS bytes as they crossed the wire (encoded), from the responses' sizes."""
    total = 0
    for resp in page_responses:
        kind = resp.request.resource_type
        if kind in ("script", "stylesheet"):
            try:
                total += resp.request.sizes()["responseBodySize"]
            except Exception:
                total += len(resp.body())
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--mlflow-url")
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--params", type=int, default=50)
    ap.add_argument("--metrics", type=int, default=50)
    ap.add_argument("--chart-runs", type=int, default=10)
    ap.add_argument("--chart-points", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--peer-runs", type=int, default=2000,
                    help="with --mlflow-url: runs (× 10 params × 10 metrics) seeded into both servers to time the "
                         "first grid rows of each UI on the same data (0 skips)")
    ap.add_argument("--seed-only", action="store_true", help="seed (for a later run on the same DATA_DIR) and stop")
    ap.add_argument("--peer-only", action="store_true",
                    help="only the measures against --mlflow-url (ui.sh runs them once Cairn's are done, so that "
                         "mlflow server's background workers are not running during Cairn's)")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    exp, chart_ids, seeded = seed(a.server, a.runs, a.params, a.metrics, a.chart_runs, a.chart_points, a.threads)
    print(f"seeded {a.runs} runs in {seeded:.1f}s", file=sys.stderr)
    if a.seed_only:
        return
    res = {"runs": a.runs, "params": a.params, "metrics": a.metrics, "chart_runs": a.chart_runs,
           "chart_points": a.chart_points, "seed_s": round(seeded, 1)}
    timings = {k: [] for k in ("grid_first_rows_ms", "grid_sort_ms", "grid_filter_ms", "chart_first_frame_ms")}
    wall = {k: [] for k in timings}
    row, chart = "#grid .grid-row", "figure.chart-card[data-mounted=true] canvas"

    def first_frame(pg, what, since=None):
        """In-page ms from navigation start (or from `since`, epoch ms) to the first animation frame
        after `what` appeared (FIRST_FRAME's observer): what the user sees, without Playwright's own
        round trips."""
        pg.locator(what).first.wait_for()
        pg.wait_for_function("(w) => window.__firstFrame && window.__firstFrame[w]", arg=what)
        at, origin = pg.evaluate("(w) => [window.__firstFrame[w], performance.timeOrigin]", what)
        return at - (origin if since is None else since)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--disable-gpu", "--disable-dev-shm-usage"])
        for _ in range(0 if a.peer_only else a.repeats):
            ctx = b.new_context(viewport={"width": 1400, "height": 900})
            ctx.add_init_script(FIRST_FRAME % json.dumps([row, chart]))
            pg = ctx.new_page()
            t = time.perf_counter()
            pg.goto(f"{a.server}/experiments/{exp}", wait_until="commit")
            timings["grid_first_rows_ms"].append(first_frame(pg, row))
            wall["grid_first_rows_ms"].append((time.perf_counter() - t) * 1000)
            res["grid_dom_rows"] = pg.locator(row).count()
            link = pg.locator("#grid .grid-head .cell", has_text="m7").get_by_role("link")
            link.wait_for()
            t = time.perf_counter()
            clicked = pg.evaluate("Date.now()")
            link.click(no_wait_after=True)
            pg.wait_for_url("**order=*", wait_until="commit")
            timings["grid_sort_ms"].append(first_frame(pg, row, since=clicked))
            wall["grid_sort_ms"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            pg.goto(f"{a.server}/experiments/{exp}?filter=" + requests.utils.quote("metrics.m3 > 0.5 and params.p1 = '10'"), wait_until="commit")
            timings["grid_filter_ms"].append(first_frame(pg, row))
            wall["grid_filter_ms"].append((time.perf_counter() - t) * 1000)
            ctx.close()
            ctx = b.new_context(viewport={"width": 1400, "height": 900})
            ctx.add_init_script(FIRST_FRAME % json.dumps([row, chart]))
            pg = ctx.new_page()
            t = time.perf_counter()
            pg.goto(f"{a.server}/compare?runs=" + ",".join(chart_ids), wait_until="commit")
            timings["chart_first_frame_ms"].append(first_frame(pg, chart))
            wall["chart_first_frame_ms"].append((time.perf_counter() - t) * 1000)
            ctx.close()
        if not a.peer_only:
            # Cold visit of the heaviest page (a run page: charts), JS + CSS on the wire.
            ctx = b.new_context()
            pg = ctx.new_page()
            seen = []
            pg.on("response", lambda r: seen.append(r))
            pg.goto(f"{a.server}/experiments/{exp}", wait_until="networkidle")
            pg.goto(f"{a.server}/runs/{chart_ids[0]}", wait_until="networkidle")
            res["cold_js_css_gzip_kb"] = round(transferred(seen) / 1024, 1)
            ctx.close()
        if a.mlflow_url and a.peer_runs:
            # The same data in both servers, the same navigation: until the first grid row is visible.
            name = f"ui-bench-peer-{a.peer_runs}"
            ours, _ = seed_runs(a.server, name, a.peer_runs, 10, 10, a.threads)
            theirs, took = seed_runs(a.mlflow_url, name, a.peer_runs, 10, 10, a.threads)
            print(f"seeded {a.peer_runs} runs into mlflow server in {took:.1f}s", file=sys.stderr)
            peer = {"cairn": [], "mlflow": []}
            for _ in range(a.repeats):
                for who, url, sel in (("cairn", f"{a.server}/experiments/{ours}", row),
                                      # MLflow 3 opens a GenAI overview unless asked for the runs table (ag-grid).
                                      ("mlflow", f"{a.mlflow_url}/#/experiments/{theirs}/runs?workflowType=machine_learning",
                                       ".ag-pinned-left-cols-container .ag-row a")):
                    ctx = b.new_context(viewport={"width": 1400, "height": 900})
                    ctx.add_init_script(FIRST_FRAME % json.dumps([sel]))
                    pg = ctx.new_page()
                    pg.goto(url, wait_until="commit")
                    pg.locator(sel).first.wait_for(timeout=120_000)
                    peer[who].append(first_frame(pg, sel))
                    ctx.close()
            res["peer_runs"] = a.peer_runs
            for who, v in peer.items():
                res[f"peer_{who}_first_rows_ms"] = round(statistics.median(v), 1)
                res[f"peer_{who}_first_rows_ms_all"] = [round(x, 1) for x in v]
        if a.mlflow_url:
            ctx = b.new_context()
            pg = ctx.new_page()
            seen = []
            pg.on("response", lambda r: seen.append(r))
            pg.goto(a.mlflow_url + "/", wait_until="load", timeout=120_000)
            pg.wait_for_timeout(5000)  # its UI polls, so it is never network-idle: give the lazy chunks time
            res["mlflow_cold_js_css_gzip_kb"] = round(transferred(seen) / 1024, 1)
            ctx.close()
        b.close()
    for k, v in timings.items():
        if not v:
            continue
        res[k] = round(statistics.median(v), 1)
        res[k + "_all"] = [round(x, 1) for x in v]
        res[k.replace("_ms", "_wall_ms")] = round(statistics.median(wall[k]), 1)
    print(json.dumps(res, indent=2))
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
