"""The web UI in real Chromium (Debian's /usr/bin/chromium driven by Playwright): data logged through the
real mlflow client, pages asserted by DOM facts with auto-waiting locators, never pixels. A failing test
keeps a screenshot under target/e2e-screenshots/. With CAIRN_UPDATE_SCREENSHOTS=1 the README's
screenshots (docs/screenshots/) are written from here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from conftest import cairn_bin

pytestmark = pytest.mark.cairn_only

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "target" / "e2e-screenshots"
README_SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CAIRN_CHROMIUM", "/usr/bin/chromium")
expect = None  # playwright's `expect`, imported with the browser


@pytest.fixture(scope="session")
def browser():
    global expect
    sync = pytest.importorskip("playwright.sync_api")
    expect = sync.expect
    expect.set_options(timeout=30_000)
    with sync.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        print(f"chromium {b.version}")
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_navigation_timeout(60_000)
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text} at {m.location.get('url')}") if m.type == "error" else None)
    pg.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    pg.problems = problems
    yield pg
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    if not failed:
        assert not problems, problems


def snap(page, name: str) -> None:
    """The README's screenshots, written only when asked to (CAIRN_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("CAIRN_UPDATE_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOTS / f"{name}.png"))


def batch_runs(client: MlflowClient, experiment_id: str, n: int, params: int = 2, metrics: int = 2) -> list[str]:
    """n runs with a few params, metrics and a tag each, through the client's log_batch."""
    ids = []
    now = int(time.time() * 1000)
    for i in range(n):
        run = client.create_run(experiment_id, run_name=f"r{i:04d}")
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric(f"m{j}", float(i * (j + 1)), now, 0) for j in range(metrics)],
            params=[Param(f"p{j}", str(i % (j + 2))) for j in range(params)],
            tags=[RunTag("team", "blue" if i % 2 else "red")],
        )
        client.set_terminated(rid)
        ids.append(rid)
    return ids


# --------------------------------------------------------------------------------------------------
# The mlflow client's "View run" link, and the experiments page
# --------------------------------------------------------------------------------------------------

def test_the_clients_view_run_link_opens_the_run_page(cairn_server, page, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run(run_name="linked") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("rmse", 0.25)
    rid = run.info.run_id
    # What the client prints: "🏃 View run linked at: http://host/#/experiments/ID/runs/RUN_ID".
    page.goto(f"{cairn_server.url}/#/experiments/{experiment_id}/runs/{rid}")
    expect(page).to_have_url(re.compile(f"/experiments/{experiment_id}/runs/{rid}$"))
    expect(page.locator("#run-header")).to_contain_text(rid)
    expect(page.locator("#params")).to_contain_text("alpha")
    expect(page.locator("#metric-table")).to_contain_text("rmse")
    # "View experiment" too.
    page.goto(f"{cairn_server.url}/#/experiments/{experiment_id}")
    expect(page).to_have_url(re.compile(f"/experiments/{experiment_id}$"))
    expect(page.locator("#grid .grid-row")).to_have_count(1)


def test_experiments_are_listed_created_renamed_deleted_and_restored(cairn_server, page, client, unique_name):
    name = unique_name()
    exp = client.create_experiment(name)
    batch_runs(client, exp, 3)
    page.goto(f"{cairn_server.url}/experiments?q={name}")
    row = page.locator(f"#experiments tr[data-experiment='{exp}']")
    expect(row).to_contain_text(name)
    expect(row.locator("td.num")).to_have_text("3")
    snap(page, "experiments")

    created = unique_name()
    page.get_by_text("New experiment").click()
    page.get_by_label("Experiment name").fill(created)
    page.get_by_role("button", name="Create").click()
    expect(page.locator("nav.crumbs h1")).to_have_text(created)
    new_id = page.url.rstrip("/").rsplit("/", 1)[1]
    assert client.get_experiment(new_id).name == created

    page.goto(f"{cairn_server.url}/experiments?q={created}")
    page.locator(f"tr[data-experiment='{new_id}'] summary").click()
    page.get_by_label("New name").fill(created + "-renamed")
    page.get_by_role("button", name="Save").click()
    assert client.get_experiment(new_id).name == created + "-renamed"

    page.goto(f"{cairn_server.url}/experiments?q={created}")
    page.locator(f"tr[data-experiment='{new_id}']").get_by_role("button", name="Delete").click()
    expect(page.locator(f"tr[data-experiment='{new_id}']")).to_be_visible()  # now in the deleted view
    assert client.get_experiment(new_id).lifecycle_stage == "deleted"
    page.locator(f"tr[data-experiment='{new_id}']").get_by_role("button", name="Restore").click()
    assert client.get_experiment(new_id).lifecycle_stage == "active"

    # A taken name is a 400 page saying so, never a 5xx.
    r = requests.post(f"{cairn_server.url}/experiments", data={"name": name}, allow_redirects=False)
    assert r.status_code == 400 and "already exists" in r.text


# --------------------------------------------------------------------------------------------------
# The runs grid
# --------------------------------------------------------------------------------------------------

def test_the_runs_grid_pages_virtualises_sorts_filters_and_exports(cairn_server, page, client, unique_name):
    exp = client.create_experiment(unique_name())
    n = 450
    batch_runs(client, exp, n)
    page.goto(f"{cairn_server.url}/experiments/{exp}")
    grid = page.locator("#grid")
    expect(grid.locator(".grid-row").first).to_be_visible()
    # Params and metrics are columns by default, as in MLflow.
    for col in ("p0", "p1", "m0", "m1"):
        expect(grid.locator(".grid-head .cell", has_text=re.compile(f"^{col}$"))).to_have_count(1)
    snap(page, "runs-grid")
    # Only the rows in view are in the DOM, however many runs; scrolling to the end loads every page.
    assert grid.locator(".grid-row").count() <= 100
    for _ in range(20):
        grid.evaluate("g => g.scrollTop = g.scrollHeight")
        if page.locator("#grid-status").inner_text() == f"{n} runs":
            break
        page.wait_for_timeout(250)
    expect(page.locator("#grid-status")).to_have_text(f"{n} runs")
    grid.evaluate("g => g.scrollTop = g.scrollHeight")  # the last page made the body taller
    expect(grid.locator(".grid-row").last).to_contain_text("r0000")
    assert grid.locator(".grid-row").count() <= 100

    # Sort on a metric: the server orders, the URL keeps it.
    grid.locator(".grid-head .cell", has_text=re.compile("^m1$")).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"order=metrics\.%60m1%60(\+|%20)DESC"))
    expect(grid.locator(".grid-row").first).to_contain_text(f"r{n - 1:04d}")
    page.go_back()
    expect(page).not_to_have_url(re.compile("order="))

    # Filter in MLflow's syntax.
    page.locator("#filter").fill("metrics.m0 >= 440 and params.p0 = '0'")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#grid-status")).to_have_text("5 runs")

    # Keyboard: arrows move, space selects; two selected runs → compare.
    grid.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    expect(page.locator("#grid-status")).to_contain_text("2 selected")
    series = []
    page.on("request", lambda r: series.append(r.url) if "/ui/series" in r.url else None)
    page.locator("#compare").click()
    expect(page.locator("#compare-table")).to_be_visible()
    # Each chart card draws the series the page preloaded: one request per card, not two.
    expect(page.locator("figure.chart-card[data-mounted=true]")).to_have_count(2)
    assert len(series) == 2 and len(set(series)) == 2, series
    expect(page.locator("#compare-table thead th")).to_have_count(3)
    page.locator("#diff-toggle").click()
    expect(page.locator("#compare-table tbody tr").first).to_have_class("differs")
    expect(page.locator("#parallel")).to_be_visible()

    # CSV of the whole filter.
    r = requests.get(f"{cairn_server.url}/ui/experiments/{exp}/runs.csv", params={"filter": "params.p1 = '0'"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("run_id,name,status") and len(lines) == 1 + n // 3, len(lines)


def test_a_bad_filter_is_an_inline_message_not_a_5xx(cairn_server, page, client, unique_name):
    exp = client.create_experiment(unique_name())
    batch_runs(client, exp, 2)
    page.goto(f"{cairn_server.url}/experiments/{exp}?filter=metrics.m0+%3E%3E%3E+1")
    error = page.locator("#filter-error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    r = requests.get(f"{cairn_server.url}/ui/experiments/{exp}/runs", params={"filter": "params.x LIKE"})
    assert r.status_code == 400 and r.json()["error"], r.text
    # Malformed requests of the UI are 4xx in its own formats too: a JSON body for data, a page for pages.
    r = requests.get(f"{cairn_server.url}/ui/series", params={"runs": "x"})
    assert r.status_code == 400 and "key" in r.json()["error"], r.text
    r = requests.get(f"{cairn_server.url}/ui/series", params={"runs": "0" * 32, "key": "m", "width": "wide"})
    assert r.status_code == 400 and r.json()["error"], r.text
    r = requests.post(f"{cairn_server.url}/experiments", data={})
    assert r.status_code == 400 and "text/html" in r.headers["content-type"], r.text
    r = requests.get(f"{cairn_server.url}/experiments/not-a-number")
    assert r.status_code in (400, 404) and "text/html" in r.headers["content-type"], r.text
    r = requests.get(f"{cairn_server.url}/compare")
    assert r.status_code == 400, r.text
    page.problems.clear()  # the 400 the page fetched is the point of this test


def test_an_empty_experiment_says_so(cairn_server, page, client, unique_name):
    exp = client.create_experiment(unique_name())
    page.goto(f"{cairn_server.url}/experiments/{exp}")
    expect(page.locator("#grid-status")).to_have_text("No runs match.")
    expect(page.locator("#grid .grid-row")).to_have_count(0)


def test_nested_runs_show_under_their_parent(cairn_server, page, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="kid", nested=True):
            mlflow.log_metric("x", 1)
    page.goto(f"{cairn_server.url}/experiments/{experiment_id}")
    expect(page.locator("#grid .grid-row.child")).to_contain_text("kid")
    page.goto(f"{cairn_server.url}/experiments/{experiment_id}/runs/{parent.info.run_id}")
    expect(page.locator("#children")).to_contain_text("kid")


# --------------------------------------------------------------------------------------------------
# The run page, charts, artifacts
# --------------------------------------------------------------------------------------------------

def test_a_run_with_5000_metric_keys_pages_its_metrics_and_mounts_charts_lazily(cairn_server, page, client, experiment_id):
    rid = client.create_run(experiment_id, run_name="wide").info.run_id
    now = int(time.time() * 1000)
    for start in range(0, 5000, 1000):
        client.log_batch(rid, metrics=[Metric(f"k{i:04d}", float(i), now, 0) for i in range(start, start + 1000)])
    page.goto(f"{cairn_server.url}/experiments/{experiment_id}/runs/{rid}")
    expect(page.locator("#metrics h2").first).to_have_text("Metrics (5000)")
    expect(page.locator("#metric-table tbody tr")).to_have_count(100)
    # Only cards in view are mounted: none until the charts are scrolled to.
    assert page.locator("figure.chart-card[data-mounted=true]").count() == 0
    page.locator(".charts").scroll_into_view_if_needed()
    expect(page.locator("figure.chart-card[data-mounted=true]").first).to_be_attached()
    assert page.locator("figure.chart-card[data-mounted=true]").count() < 30
    page.get_by_label("Filter metric keys").fill("k4999")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#metric-table tbody tr")).to_have_count(1)
    expect(page.locator("#metric-table")).to_contain_text("4999")


def test_a_long_metric_is_downsampled_per_pixel_and_zoom_reads_full_resolution(cairn_server, page, client, experiment_id):
    rid = client.create_run(experiment_id, run_name="long").info.run_id
    now = int(time.time() * 1000)
    for start in range(0, 20_000, 1000):
        client.log_batch(rid, metrics=[Metric("loss", 1.0 / (s + 1) if s != 12_345 else 50.0, now + s, s) for s in range(start, start + 1000)])
    r = requests.get(f"{cairn_server.url}/ui/series", params={"runs": rid, "key": "loss", "width": 400}).json()
    s = r["series"][0]
    assert s["points"] == 20_000 and not s["raw"] and len(s["x"]) <= 400
    assert max(v for v in s["max"] if v is not None) == 50.0  # the spike survives downsampling
    z = requests.get(f"{cairn_server.url}/ui/series", params={"runs": rid, "key": "loss", "width": 400, "min": 100, "max": 399}).json()
    assert z["series"][0]["raw"] and z["series"][0]["x"] == list(range(100, 400))
    # The time axes read the same summary: the whole run downsampled, a zoom at full resolution.
    rel = requests.get(f"{cairn_server.url}/ui/series", params={"runs": rid, "key": "loss", "width": 400, "x": "relative"}).json()["series"][0]
    assert rel["points"] == 20_000 and not rel["raw"] and 0 < len(rel["x"]) <= 400 and rel["x"][0] >= 0
    assert max(v for v in rel["max"] if v is not None) == 50.0
    tz = requests.get(f"{cairn_server.url}/ui/series", params={"runs": rid, "key": "loss", "width": 400, "x": "time", "min": now + 100, "max": now + 399}).json()["series"][0]
    assert tz["raw"] and tz["x"] == [now + s for s in range(100, 400)]
    page.goto(f"{cairn_server.url}/experiments/{experiment_id}/runs/{rid}")
    card = page.locator("figure.chart-card[data-key=loss]")
    expect(card).to_have_attribute("data-mounted", "true")
    assert int(card.get_attribute("data-points")) <= 2 * 1400
    expect(card.locator("canvas").first).to_be_visible()
    expect(page.locator(".sparkline canvas")).to_be_visible()
    snap(page, "run")


def grid_cells(page):
    """The first grid row as {column label: cell text}."""
    return page.evaluate("""() => {
        const head = [...document.querySelectorAll('#grid .grid-head .cell')].map((c) => c.textContent);
        const cells = document.querySelector('#grid .grid-row').querySelectorAll('.cell');
        return Object.fromEntries([...cells].map((c) => [head[+c.getAttribute('aria-colindex') - 1], c.textContent]));
    }""")


def test_the_grid_shows_a_metrics_min_and_max_on_request(cairn_server, page, client, unique_name):
    exp = client.create_experiment(unique_name())
    rid = client.create_run(exp, run_name="extremes").info.run_id
    now = int(time.time() * 1000)
    client.log_batch(rid, metrics=[Metric("loss", v, now + i, i) for i, v in enumerate([3.0, 0.5, 2.0])])
    # Not shown by default (MLflow shows the latest value); the column chooser adds them.
    page.goto(f"{cairn_server.url}/experiments/{exp}")
    expect(page.locator("#grid .grid-row").first).to_be_visible()
    assert grid_cells(page)["loss"] == "2" and "loss (max)" not in grid_cells(page)
    page.locator("#columns summary").click()
    page.locator("#column-list label", has_text="max.loss").locator("input").check()
    expect(page.locator("#grid .grid-head .cell", has_text="loss (max)")).to_have_count(1)
    # The rows are read again, with the extremes.
    page.wait_for_function("() => [...document.querySelectorAll('#grid .grid-row .cell')].some((c) => c.textContent === '3')")
    assert grid_cells(page)["loss (max)"] == "3"
    # The choice is in the URL: a fresh visit shows it, rows and all.
    assert "max.loss" in page.url
    page.goto(f"{cairn_server.url}/experiments/{exp}?cols=metrics.loss,min.loss,max.loss")
    expect(page.locator("#grid .grid-row").first).to_be_visible()
    cells = grid_cells(page)
    assert (cells["loss"], cells["loss (min)"], cells["loss (max)"]) == ("2", "0.5", "3"), cells
    # Only the columns in view are in the DOM: 120 params make 120 head cells, far fewer row cells.
    for start in (0, 60):  # MLflow takes at most 100 params a batch
        client.log_batch(rid, params=[Param(f"q{i:03d}", str(i)) for i in range(start, start + 60)])
    page.goto(f"{cairn_server.url}/experiments/{exp}")
    expect(page.locator("#grid .grid-row").first).to_be_visible()
    heads = page.locator("#grid .grid-head .cell").count()
    assert heads > 120 and page.locator("#grid .grid-row").first.locator(".cell").count() < 30
    page.locator("#grid").evaluate("g => g.scrollLeft = g.scrollWidth")
    expect(page.locator(f"#grid .grid-row .cell[aria-colindex='{heads}']")).to_have_count(1)
    r = requests.get(f"{cairn_server.url}/ui/experiments/{exp}/runs", params={"extremes": "1"}).json()
    assert r["rows"][0]["min"] == {"loss": 0.5} and r["rows"][0]["max"] == {"loss": 3.0}
    r = requests.get(f"{cairn_server.url}/ui/experiments/{exp}/runs").json()
    assert "min" not in r["rows"][0]


def test_artifacts_are_browsed_lazily_and_previews_never_read_past_a_megabyte(cairn_server, page, experiment_id, tmp_path):
    mlflow.set_experiment(experiment_id=experiment_id)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("city,temp\nOslo,3\nLima,19\n")
    (tmp_path / "config.json").write_text(json.dumps({"layers": [64, 32], "dropout": 0.1}))
    (tmp_path / "notes.txt").write_text("trained on the small split\n")
    big = tmp_path / "weights.bin"
    with open(big, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path))
    rid = run.info.run_id
    fetched: list[int] = []
    page.on("response", lambda r: fetched.append(int(r.headers.get("content-length", "0") or 0)))
    base = f"{cairn_server.url}/experiments/{experiment_id}/runs/{rid}/artifacts"
    page.goto(base)
    tree = page.locator("#artifact-tree")
    expect(tree).to_contain_text("weights.bin")
    expect(tree).to_contain_text("50.0 MB")
    tree.get_by_role("link", name="📁 data").click()
    tree.get_by_role("link", name="table.csv").click()
    expect(page.locator("#artifact-preview table.csv tbody tr")).to_have_count(2)
    expect(page.locator("#artifact-preview")).to_contain_text("Lima")
    page.goto(base + "?file=config.json")
    expect(page.locator("#artifact-preview pre")).to_contain_text('"dropout": 0.1')
    page.goto(base + "?file=weights.bin")
    expect(page.locator("#too-large")).to_contain_text("50.0 MB")
    assert max(fetched) < 1024 * 1024, max(fetched)
    dl = requests.get(f"{cairn_server.url}/ui/runs/{rid}/artifact", params={"path": "weights.bin"}, stream=True)
    assert dl.status_code == 200 and int(dl.headers["content-length"]) == 50 * 1024 * 1024
    dl.close()


# --------------------------------------------------------------------------------------------------
# Models, deployments, maturity
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def iris_onnx():
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    return to_onnx(LogisticRegression(max_iter=300).fit(X, y), X[:1], options={"zipmap": False})


def test_models_deployments_and_maturity_pages(cairn_server, page, experiment_id, iris_onnx):
    import mlflow.onnx

    base, name, dep = cairn_server.url, f"ui-{uuid.uuid4().hex[:8]}", f"ui-dep-{uuid.uuid4().hex[:6]}"
    mlflow.set_experiment(experiment_id=experiment_id)
    for c in ("1.0", "0.5"):
        with mlflow.start_run():
            mlflow.log_param("C", c)
            mlflow.log_metric("accuracy", 0.9)
            mlflow.onnx.log_model(iris_onnx, name="model", registered_model_name=name, pip_requirements=["onnxruntime"])
    client = MlflowClient()
    client.set_registered_model_alias(name, "champion", "1")
    r = requests.post(f"{base}/api/cairn/v1/deployments", json={"name": dep, "model": f"models:/{name}@champion"})
    assert r.status_code == 200, r.text
    client.set_registered_model_alias(name, "champion", "2")

    page.goto(f"{base}/models?q={name}")
    expect(page.locator("#models")).to_contain_text(name)
    page.get_by_role("link", name=name).click()
    timeline = page.locator("#alias-timeline li")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(0)).to_contain_text("set @champion to v1")
    expect(timeline.nth(1)).to_contain_text("moved @champion from v1 to v2")
    expect(page.locator("#aliases")).to_contain_text(f"deployed by {dep}")
    expect(page.locator("#maturity .rungs li[data-level='1']")).to_have_class("reached")
    snap(page, "model")
    page.locator("#versions").get_by_role("link", name="v2").click()
    expect(page.locator("#version-header")).to_contain_text("@champion")
    expect(page.locator("#source-metrics")).to_contain_text("accuracy")

    # The deployment rolls the alias move out by itself; its page shows it, and rollback asks first.
    deadline = time.time() + 20
    while requests.get(f"{base}/api/cairn/v1/deployments/{dep}").json()["deployment"]["serving"]["primary"]["version"] != "2":
        assert time.time() < deadline, "the alias move was not rolled out"
        time.sleep(0.2)
    X = np.ones((1, 4), dtype=np.float32)
    for _ in range(3):
        body = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": X[0].tolist()}]}
        assert requests.post(f"{base}/v2/models/{dep}/infer", json=body, timeout=10).status_code == 200
    page.goto(f"{base}/deployments")
    expect(page.locator("#deployments")).to_contain_text(dep)
    page.get_by_role("link", name=dep).click()
    expect(page.locator("#deployment-header")).to_contain_text("v2")
    expect(page.locator("#deployment-history")).to_contain_text("rolled_out")
    expect(page.locator("#traffic #requests")).to_have_text("3")
    expect(page.locator("#traffic #errors")).to_have_text("0")
    page.get_by_role("link", name="Roll back…").click()
    page.locator("#confirm-rollback").click()
    expect(page.locator("#deployment-history")).to_contain_text("rolled_back")
    expect(page.locator("#deployment-header")).to_contain_text(f"{name} v1")

    page.goto(f"{base}/maturity")
    expect(page.locator("#tracker")).to_contain_text(name)
    expect(page.locator("#rollup tr")).to_have_count(7)


def test_pipelines_page_shows_runs_their_dag_timeline_and_gates(cairn_server, page, client, experiment_id):
    """Pipeline runs as `cairn run` records them on the native API (start with the DAG, finish with the
    report): the list, one run's stages by DAG depth with their cache results, the timeline from the
    stage runs' own times, and the gates."""
    base = cairn_server.url
    parent = client.create_run(experiment_id).info.run_id
    stages = []
    for name, status in (("prepare", "cached"), ("train", "ran"), ("evaluate", "ran")):
        r = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent})
        time.sleep(0.05)
        client.set_terminated(r.info.run_id)
        stages.append({"name": name, "status": status, "run_id": r.info.run_id, "duration_ms": 50,
                       "reason": "params.train.C 1.0 → 0.5" if name == "train" else ""})
    dag = [{"name": "prepare", "needs": []}, {"name": "train", "needs": ["prepare"]}, {"name": "evaluate", "needs": ["train"]}]
    api = f"{base}/api/cairn/v1/pipeline-runs"
    name = f"ui-pipe-{uuid.uuid4().hex[:6]}"
    r = requests.post(api, json={"run_id": parent, "pipeline": name, "experiment_id": experiment_id, "dag": dag})
    assert r.status_code == 200, r.text
    gates = [{"name": "accuracy >= 0.8", "passed": True, "observed": 0.91, "threshold": 0.8, "baseline": None},
             {"name": "accuracy vs @champion", "passed": False, "observed": 0.91, "threshold": 0.93, "baseline": 0.93}]
    report = {"pipeline_run_id": parent, "stages": stages, "gates": gates, "promotion": None}
    r = requests.post(f"{api}/{parent}/finish", json={"status": "failed", "exit_code": 1, "report": report})
    assert r.status_code == 200, r.text

    page.goto(f"{base}/pipelines")
    row = page.locator("#pipeline-runs tr", has_text=name)
    expect(row).to_contain_text("1 cached · 2 ran")
    expect(row).to_contain_text("1/2 passed")
    row.get_by_role("link").first.click()
    expect(page.locator("#pipeline-run-header")).to_contain_text("failed")
    cols = page.locator("#dag .dag-col")
    expect(cols).to_have_count(3)
    expect(cols.nth(0).locator(".stage")).to_have_class(re.compile("cached"))
    expect(cols.nth(1).locator(".stage")).to_contain_text("params.train.C 1.0 → 0.5")
    expect(page.locator("#timeline .tl-bar")).to_have_count(3)
    expect(page.locator("#gates tr.gate.failed")).to_contain_text("accuracy vs @champion")
    snap(page, "pipeline-run")
    # The stage's name links its MLflow run.
    cols.nth(1).get_by_role("link", name="train").click()
    expect(page).to_have_url(re.compile(f"/runs/{stages[1]['run_id']}"))


def test_pipelines_page_lists_triggers_their_next_fire_and_last_fires(cairn_server, page, tmp_path):
    """A registered pipeline's triggers: what each follows, paused or not, the next cron slot, and the
    latest firings with their cause and run."""
    base = cairn_server.url
    name = f"ui-trig-{uuid.uuid4().hex[:6]}"
    (tmp_path / "make.py").write_text("open('out.txt', 'w').write('x')\n")
    (tmp_path / "cairn.yaml").write_text(
        f"name: {name}\nstages:\n  make:\n    cmd: python3 make.py\n    deps: [make.py]\n    outs: [out.txt]\n"
        "triggers:\n  nightly: {cron: '0 3 * * *', timezone: Europe/Berlin}\n  by-hand: {}\n"
    )
    def cairn(*args):
        out = subprocess.run([str(cairn_bin()), *args, "--server", base], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout
    cairn("pipeline", "register", name)
    fired = json.loads(cairn("trigger", "fire", name, "by-hand", "--idempotency-key", "ui-1", "--json"))
    cairn("trigger", "pause", name, "nightly")

    page.goto(f"{base}/pipelines")
    nightly = page.locator(f"#triggers tr[data-trigger='{name}/nightly']")
    expect(nightly).to_contain_text("cron 0 3 * * * (Europe/Berlin)")
    expect(nightly).to_contain_text("paused")
    by_hand = page.locator(f"#triggers tr[data-trigger='{name}/by-hand']")
    expect(by_hand).to_contain_text("by hand")
    expect(by_hand).to_contain_text("manual key ui-1")
    by_hand.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(f"/pipelines/runs/{fired['pipeline_run_id']}"))


def test_cold_visit_assets_stay_within_budget(cairn_server):
    """JS + CSS a cold visit of the heaviest page loads, gzip as served: ≤ 60 KB (MLflow 3.17's UI: 1.32 MB)."""
    html = requests.get(f"{cairn_server.url}/experiments/0").text
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    run_page_assets = ["/static/charts.js", "/static/uplot.js", "/static/uplot.css"]
    total = 0
    for u in set(urls) | set(run_page_assets):
        r = requests.get(cairn_server.url + u, headers={"Accept-Encoding": "gzip"}, stream=True)
        assert r.status_code == 200, u
        assert "immutable" in r.headers["cache-control"]
        total += len(r.raw.read())
    assert total <= 60 * 1024, total


def test_monitor_pages_show_the_timeline_a_column_drilldown_and_alerts(cairn_server, page, experiment_id, iris_onnx, tmp_path):
    import mlflow.onnx
    import pandas as pd
    from sklearn.datasets import load_iris

    from test_monitoring import cairn as cli
    from test_monitoring import run_until_rows

    base, name = cairn_server.url, f"ui-mon-{uuid.uuid4().hex[:8]}"
    dep, mon = f"ui-md-{uuid.uuid4().hex[:6]}", f"ui-m-{uuid.uuid4().hex[:6]}"
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run():
        mlflow.onnx.log_model(iris_onnx, name="model", registered_model_name=name, pip_requirements=["onnxruntime"])
    r = requests.post(f"{base}/api/cairn/v1/deployments", json={"name": dep, "model": f"models:/{name}/1"})
    assert r.status_code == 200, r.text
    deadline = time.time() + 30
    while requests.get(f"{base}/v2/models/{dep}/ready", timeout=5).status_code != 200:
        assert time.time() < deadline
        time.sleep(0.1)
    X = load_iris().data.astype(np.float32)
    rng = np.random.default_rng(3)
    # Without a signature the logged columns are the input's name and index: X_0 … X_3.
    ref = pd.DataFrame(X[rng.integers(0, len(X), 300)], columns=[f"X_{j}" for j in range(4)])
    ref.to_csv(tmp_path / "ref.csv", index=False)
    assert cli("monitor", "create", mon, "--deployment", dep, "--reference", str(tmp_path / "ref.csv"), "--rows", "200", server=base).returncode == 0
    assert cli("monitor", "alert", mon, "drift", "--when", "dataset.share >= 0.5", server=base).returncode == 0

    def send(rows):
        body = {"inputs": [{"name": "X", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]}
        assert requests.post(f"{base}/v2/models/{dep}/infer", json=body, timeout=10).status_code == 200

    for _ in range(20):
        send(X[rng.integers(0, len(X), 10)])
    run_until_rows(base, mon, 200)
    for _ in range(20):
        send(X[rng.integers(0, len(X), 10)] + 3 * X.std(axis=0))
    deadline = time.time() + 60
    while requests.post(f"{base}/api/cairn/v1/monitors/{mon}/run", timeout=60).json()["snapshot"]["values"].get("dataset.drifted") != 1:
        assert time.time() < deadline, "the shifted traffic never drifted"
        time.sleep(0.5)

    page.goto(f"{base}/monitors")
    expect(page.locator("#monitors")).to_contain_text(mon)
    expect(page.locator("#monitors")).to_contain_text("drift 4/4")
    expect(page.locator("#alerts")).to_contain_text(mon)
    page.locator("#monitors").get_by_role("link", name=mon).click()
    expect(page.locator("#column-scores tbody tr")).to_have_count(4)
    expect(page.locator("#timeline tbody tr").first).to_contain_text("drift")
    assert page.locator("#timeline tbody tr").count() >= 2
    expect(page.locator("#timeline svg.sparkline")).to_have_count(1)
    expect(page.locator("#monitor-alerts")).to_contain_text("dataset.share >= 0.5")
    snap(page, "monitor")
    page.locator("#column-scores").get_by_role("link", name="X_2").click()
    expect(page.locator("#histogram svg rect").first).to_be_attached()
    assert page.locator("#histogram svg rect").count() >= 4
    expect(page.locator("main")).to_contain_text("drift")


def test_governance_sign_in_approve_audit_lineage_and_card(tmp_root, page, tmp_path):
    """With --auth: the UI sends a browser to its sign-in page; the approver signs in, sees the pending
    request and approves it with a click; the audit section verifies; the card and lineage pages render."""
    from conftest import CairnServer

    admin = ("e2e-admin", "e2e-admin-pass")
    server = CairnServer(tmp_root / f"ui-gov-{uuid.uuid4().hex[:8]}", extra_args=["--auth"],
                         env={"CAIRN_ADMIN_USERNAME": admin[0], "CAIRN_ADMIN_PASSWORD": admin[1]})
    server.start()
    try:
        base = server.url
        model, alice, bob = f"gov-{uuid.uuid4().hex[:6]}", f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"

        def api(method, path, auth=admin, **kw):
            r = requests.request(method, f"{base}/api/cairn/v1{path}", auth=auth, timeout=30, **kw)
            assert r.status_code < 300, (method, path, r.status_code, r.text)
            return r.json()

        for user in (alice, bob):
            api("POST", "/users", json={"username": user, "password": f"{user}-password"})
        api("POST", "/grants", json={"user": alice, "role": "scientist", "scope": "*"})
        api("POST", "/grants", json={"user": bob, "role": "approver", "scope": f"model:{model}"})
        api("POST", "/protections", json={"models": model, "alias": "production", "approvals": 1})
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = alice, f"{alice}-password"
        try:
            client = MlflowClient(base)
            exp = client.create_experiment(f"gov-{uuid.uuid4().hex[:6]}")
            run = client.create_run(exp)
            (tmp_path / "model.bin").write_bytes(b"weights")
            client.log_artifact(run.info.run_id, str(tmp_path / "model.bin"), "model")
            client.set_terminated(run.info.run_id)
            client.create_registered_model(model)
            v = client.create_model_version(model, f"runs:/{run.info.run_id}/model", run.info.run_id).version
        finally:
            os.environ.pop("MLFLOW_TRACKING_USERNAME")
            os.environ.pop("MLFLOW_TRACKING_PASSWORD")
        pr = api("POST", "/promotions", auth=(alice, f"{alice}-password"),
                 json={"model": model, "version": v, "alias": "production", "reason": "first release"})["promotion"]

        # Anonymous: the browser lands on the sign-in page.
        page.goto(f"{base}/governance")
        expect(page.locator("form#login")).to_be_visible()
        page.fill("input[name=username]", bob)
        page.fill("input[name=password]", "wrong-password")
        page.click("form#login button[type=submit]")
        expect(page.locator("p.error")).to_contain_text("invalid user name or password")
        page.fill("input[name=username]", bob)
        page.fill("input[name=password]", f"{bob}-password")
        page.click("form#login button[type=submit]")
        expect(page.locator("h1")).to_have_text("Governance")
        # The anonymous first visit's 401 was the point; from here on nothing may fail.
        page.problems.clear()
        row = page.locator(f"#approvals tr:has-text('{pr['id']}')")
        expect(row).to_contain_text("open")
        expect(page.locator("#protections")).to_contain_text(model)
        row.locator("button[name=approve]").click()
        expect(page.locator(f"#approvals tr:has-text('{pr['id']}')")).to_contain_text("applied")
        assert api("GET", f"/promotions/{pr['id']}")["promotion"]["state"] == "applied"
        expect(page.locator("#verify")).to_have_attribute("data-outcome", "intact")
        expect(page.locator("#audit")).to_contain_text("governance.promotion_applied")

        page.goto(f"{base}/models/{model}/versions/{v}/card")
        expect(page.locator("#card-status")).to_have_attribute("data-status", "draft")
        expect(page.locator("article.card")).to_contain_text("Identity (generated)")
        page.goto(f"{base}/lineage?node=model_version:{model}/{v}&direction=up")
        expect(page.locator("#lineage-edges")).to_contain_text("promote v")
        snap(page, "governance-lineage")
        assert not page.problems, page.problems
    finally:
        CairnServer.instances.remove(server)
        server.stop_cleanly()
