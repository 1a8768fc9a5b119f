"""Monitoring (maturity level 5, first half), end to end: a deployment logs every request it answers;
a monitor compares a window of those logged predictions with a reference; drift injected into the
traffic shows in the snapshot, fires an alert rule whose webhook (signed with HMAC-SHA256) reaches a
local receiver, and appears as gauges on `/metrics`; delayed labels sent as feedback by request id turn
into accuracy. Bad input is a 4xx that stores nothing.

Cairn-only: `mlflow server` has no monitoring.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import mlflow
import mlflow.onnx
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from conftest import _free_port, cairn_bin
from test_serving import COLUMNS

pytestmark = pytest.mark.cairn_only

API = "/api/cairn/v1"
SECRET = "s3cret-for-tests"


def cairn(*args: str, server: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(cairn_bin()), *args, "--server", server], capture_output=True, text=True, timeout=timeout)


class Receiver:
    """A local webhook receiver: keeps each delivery's body and signature header."""

    def __init__(self):
        self.deliveries: list[tuple[bytes, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.deliveries.append((body, self.headers.get("x-cairn-signature")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = _free_port()
        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def wait(self, n: int, timeout: float = 30) -> list[tuple[bytes, str | None]]:
        deadline = time.time() + timeout
        while len(self.deliveries) < n:
            assert time.time() < deadline, f"{len(self.deliveries)} webhook deliveries, expected {n}"
            time.sleep(0.1)
        return self.deliveries


@pytest.fixture(scope="module")
def deployed(cairn_server, tmp_path_factory):
    """An iris classifier deployed from the registry, and its training data written as the reference
    (features plus the model's own `label` output, so prediction drift is tested too)."""
    data = load_iris()
    X, y = data.data.astype(np.float32), data.target
    estimator = LogisticRegression(max_iter=300).fit(X, y)
    onx = to_onnx(estimator, X[:1], options={"zipmap": False})
    mlflow.set_tracking_uri(cairn_server.url)
    mlflow.set_experiment(f"monitoring-{uuid.uuid4().hex[:8]}")
    name = f"mon-{uuid.uuid4().hex[:8]}"
    example = pd.DataFrame(X[:3], columns=COLUMNS)
    with mlflow.start_run():
        mlflow.log_metric("accuracy", float(estimator.score(X, y)))
        mlflow.onnx.log_model(
            onx, name="model", registered_model_name=name, input_example=example,
            signature=infer_signature(example), pip_requirements=["onnxruntime"],
        )
    dep = f"mon-{uuid.uuid4().hex[:8]}"
    out = cairn("deploy", "create", dep, "--model", f"models:/{name}/1", server=cairn_server.url)
    assert out.returncode == 0, out.stderr
    deadline = time.time() + 30
    while requests.get(f"{cairn_server.url}/v2/models/{dep}/ready", timeout=5).status_code != 200:
        assert time.time() < deadline, "the deployment never became ready"
        time.sleep(0.1)
    rng = np.random.default_rng(7)
    # A reference of 600 rows resampled from the training data (so the KS-free default applies: n <= 1000).
    ref = pd.DataFrame(X[rng.integers(0, len(X), 600)], columns=COLUMNS)
    ref["label"] = estimator.predict(ref[COLUMNS].to_numpy())
    path = tmp_path_factory.mktemp("monitoring") / "reference.csv"
    ref.to_csv(path, index=False)
    return {"dep": dep, "model": name, "X": X, "y": y, "estimator": estimator, "reference": path, "rng": rng}


def send(base: str, dep: str, rows: np.ndarray, request_id: str) -> requests.Response:
    body = {"dataframe_split": {"columns": COLUMNS, "data": rows.tolist()}}
    r = requests.post(
        f"{base}/serving-endpoints/{dep}/invocations", json=body, headers={"x-request-id": request_id}, timeout=10
    )
    assert r.status_code == 200, r.text
    assert r.headers.get("x-request-id") == request_id
    return r


def run_until_rows(base: str, monitor: str, rows: int, timeout: float = 60) -> dict:
    """Runs the monitor until its window holds `rows` rows (logged predictions are flushed in batches)."""
    deadline = time.time() + timeout
    while True:
        r = requests.post(f"{base}{API}/monitors/{monitor}/run", timeout=60)
        if r.status_code == 200 and r.json()["snapshot"]["rows"] >= rows:
            return r.json()
        assert r.status_code in (200, 400), r.text
        assert time.time() < deadline, f"the window never held {rows} rows: {r.text}"
        time.sleep(0.5)


def test_drift_in_traffic_fires_a_signed_webhook_and_feedback_gives_accuracy(cairn_server, deployed):
    base, dep = cairn_server.url, deployed["dep"]
    X, y, rng = deployed["X"], deployed["y"], deployed["rng"]
    receiver = Receiver()
    monitor = f"m-{uuid.uuid4().hex[:8]}"
    out = cairn(
        "monitor", "create", monitor, "--deployment", dep, "--reference", str(deployed["reference"]),
        "--rows", "300", "--prediction", "label", server=base,
    )
    assert out.returncode == 0, out.stderr
    out = cairn(
        "monitor", "alert", monitor, "drift", "--when", "dataset.share >= 0.5", "--webhook", receiver.url,
        "--webhook-secret", SECRET, server=base,
    )
    assert out.returncode == 0, out.stderr
    got = requests.get(f"{base}{API}/monitors/{monitor}", timeout=10).json()["monitor"]
    assert got["rules"][0]["signed"] is True and "webhook_secret" not in got["rules"][0]
    assert {c["column"] for c in got["profile"]["columns"]} >= set(COLUMNS)

    # 300 clean rows in 30 requests: no drift, no alert.
    clean_ids = []
    for i in range(30):
        idx = rng.integers(0, len(X), 10)
        rid = f"clean-{monitor}-{i}"
        send(base, dep, X[idx], rid)
        clean_ids.append((rid, idx))
    first = run_until_rows(base, monitor, 300)
    snap = first["snapshot"]
    assert snap["rows"] == 300
    assert snap["values"]["dataset.drifted"] == 0, snap["values"]
    assert first["alerts"] == []
    methods = {c["column"]: c["method"] for c in snap["report"]["columns"]}
    assert set(COLUMNS) <= set(methods), methods

    # Feedback by request id: the true labels of those rows, some hours later.
    labels = [
        {"request_id": rid, "row": j, "label": int(y[k])} for rid, idx in clean_ids for j, k in enumerate(idx)
    ]
    r = requests.post(f"{base}{API}/deployments/{dep}/feedback", json={"labels": labels}, timeout=30)
    assert r.status_code == 200 and r.json() == {"accepted": 300}, r.text
    scored = requests.post(f"{base}{API}/monitors/{monitor}/run", timeout=60).json()["snapshot"]
    predicted = np.concatenate([deployed["estimator"].predict(X[idx]) for _, idx in clean_ids])
    truth = np.concatenate([y[idx] for _, idx in clean_ids])
    assert scored["values"]["labelled_rows"] == 300
    assert scored["values"]["accuracy"] == pytest.approx(float((predicted == truth).mean()), abs=1e-9)
    assert scored["report"]["training"], "the training run's metrics sit beside the live ones"

    # Drift: every feature shifted by three standard deviations.
    shifted = X + 3 * X.std(axis=0)
    for i in range(30):
        send(base, dep, shifted[rng.integers(0, len(X), 10)], f"drift-{monitor}-{i}")
    deadline = time.time() + 60
    while True:
        drifted = requests.post(f"{base}{API}/monitors/{monitor}/run", timeout=60).json()
        if drifted["snapshot"]["values"].get("dataset.drifted") == 1:
            break
        assert time.time() < deadline, drifted["snapshot"]["values"]
        time.sleep(0.5)
    values = drifted["snapshot"]["values"]
    assert values["dataset.share"] >= 0.5
    assert all(values[f"column.{c}.drifted"] == 1 for c in COLUMNS), values
    assert [a["rule"] for a in drifted["alerts"]] == ["drift"]

    body, signature = receiver.wait(1)[0]
    assert signature == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    delivered = json.loads(body)
    assert delivered["monitor"] == monitor and delivered["rule"] == "drift"
    assert delivered["alert_id"] == drifted["alerts"][0]["id"]

    # The alert is on the change log, the snapshots are a time series, the gauges are on /metrics.
    events = requests.get(f"{base}{API}/events", params={"after": 0, "max_results": 1000}, timeout=30).json()
    assert any(e["topic"] == "alert" and e["subject"] == monitor for e in events["events"])
    series = requests.get(f"{base}{API}/monitors/{monitor}/snapshots", timeout=10).json()["snapshots"]
    assert [s["id"] for s in series][:1] == [drifted["snapshot"]["id"]] and len(series) >= 3
    metrics = requests.get(f"{base}/metrics", timeout=10).text
    share = f'cairn_monitor_dataset_share{{monitor="{monitor}",deployment="{dep}"}} '
    line = next(l for l in metrics.splitlines() if l.startswith(share))
    assert float(line[len(share):]) == values["dataset.share"]
    assert f'cairn_prediction_log_rows_total{{deployment="{dep}"}}' in metrics
    assert f'cairn_monitor_column_score{{monitor="{monitor}",deployment="{dep}",column="petal_length"}}' in metrics

    # The same report as `cairn drift` writes, from the snapshot: exit 1 on dataset drift.
    tmp = deployed["reference"].parent
    out = cairn("monitor", "report", monitor, "--html", str(tmp / "r.html"), "--json-file", str(tmp / "r.json"), server=base)
    assert out.returncode == 1, out.stderr
    html = (tmp / "r.html").read_text()
    assert "petal_length" in html and "src=\"http" not in html and "href=\"http" not in html
    assert json.loads((tmp / "r.json").read_text())["dataset"]["drifted"] is True


def test_bad_monitoring_input_is_4xx_and_stores_nothing(cairn_server, deployed, tmp_path):
    base, dep = cairn_server.url, deployed["dep"]
    ref = requests.post(f"{base}{API}/monitor-references", data=deployed["reference"].read_bytes(), timeout=30)
    assert ref.status_code == 200, ref.text
    reference = ref.json()["reference"]
    assert ref.json()["rows"] == 600 and "label" in ref.json()["columns"]

    def create(**body):
        return requests.post(f"{base}{API}/monitors", json=body, timeout=30)

    name = f"bad-{uuid.uuid4().hex[:8]}"
    cases = [
        (create(name=name, deployment="no-such-deployment", reference=reference), 404),
        (create(name=name, deployment=dep, reference="upload:nothing.csv"), 400),
        (create(name=name, deployment=dep, reference="s3://elsewhere/x.csv"), 400),
        (create(name=name, deployment=dep, reference=reference, window="10 parsecs"), 400),
        (create(name=name, deployment=dep, reference=reference, schedule="every tuesday"), 400),
        (create(name=name, deployment=dep, reference=reference, rules=[{"name": "r", "when": "share >>= x"}]), 400),
        (requests.post(f"{base}{API}/monitor-references", data=b"", timeout=10), 400),
        (requests.post(f"{base}{API}/monitor-references", data=b"PAR1 not really parquet", timeout=10), 400),
    ]
    for resp, status in cases:
        assert resp.status_code == status, resp.text
        assert resp.json()["message"], resp.text
    assert requests.get(f"{base}{API}/monitors/{name}", timeout=10).status_code == 404

    # No common columns between the reference and what the deployment logs.
    other = tmp_path / "other.csv"
    pd.DataFrame({"x": np.arange(50.0), "y": ["a"] * 50}).to_csv(other, index=False)
    upload = requests.post(f"{base}{API}/monitor-references", data=other.read_bytes(), timeout=30).json()
    assert create(name=name, deployment=dep, reference=upload["reference"], window="1h").status_code == 200
    r = requests.post(f"{base}{API}/monitors/{name}/run", timeout=60)
    assert r.status_code == 400 and "column" in r.json()["message"], r.text
    assert requests.get(f"{base}{API}/monitors/{name}/snapshots", timeout=10).json()["snapshots"] == []

    # An empty window: a deployment nobody called.
    quiet = f"quiet-{uuid.uuid4().hex[:8]}"
    assert cairn("deploy", "create", quiet, "--model", f"models:/{deployed['model']}/1", server=base).returncode == 0
    assert create(name=quiet, deployment=quiet, reference=reference).status_code == 200
    r = requests.post(f"{base}{API}/monitors/{quiet}/run", timeout=60)
    assert r.status_code == 400 and "no logged predictions" in r.json()["message"], r.text
    out = cairn("monitor", "run", quiet, server=base)
    assert out.returncode == 2 and "no logged predictions" in out.stderr

    # Feedback that names no row, or a deployment that does not exist.
    bad = [
        ({"labels": []}, dep, 400),
        ({"labels": [{"label": 1}]}, dep, 400),
        ({"labels": [{"key": 3, "label": 1}]}, dep, 400),
        ({"labels": [{"request_id": "r", "label": {"nested": 1}}]}, dep, 400),
        ({"labels": [{"request_id": "r", "label": 1}]}, "no-such-deployment", 404),
    ]
    for body, target, status in bad:
        r = requests.post(f"{base}{API}/deployments/{target}/feedback", json=body, timeout=10)
        assert r.status_code == status, (body, r.text)


def test_a_reference_from_a_run_artifact_or_the_versions_training_dataset(cairn_server, deployed):
    """`runs:/<run>/<path>` names a logged file; `models:/<name>/<version>` the training dataset logged with
    the version's run (its source a file in this server's store)."""
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.tracking import MlflowClient

    base, dep = cairn_server.url, deployed["dep"]
    client = MlflowClient(tracking_uri=base)
    name = f"mon-ref-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(deployed["reference"]), artifact_path="data")
    artifact = f"runs:/{run.info.run_id}/data/reference.csv"
    dataset = Dataset(name="iris-train", digest="d1", source_type="local", source=json.dumps({"uri": artifact}))
    client.log_inputs(run.info.run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])
    client.create_model_version(name, f"{run.info.artifact_uri}/data", run_id=run.info.run_id)
    with mlflow.start_run() as bare:
        pass
    client.create_model_version(name, f"{bare.info.artifact_uri}", run_id=bare.info.run_id)

    for reference in (artifact, f"models:/{name}/1"):
        monitor = f"m-ref-{uuid.uuid4().hex[:8]}"
        out = cairn("monitor", "create", monitor, "--deployment", dep, "--reference", reference, "--rows", "50", server=base)
        assert out.returncode == 0, out.stderr
        got = requests.get(f"{base}{API}/monitors/{monitor}", timeout=10).json()["monitor"]
        assert {c["column"] for c in got["profile"]["columns"]} >= set(COLUMNS), got["profile"]
    out = cairn("monitor", "create", f"m-{uuid.uuid4().hex[:8]}", "--deployment", dep, "--reference", f"models:/{name}/2", server=base)
    assert out.returncode != 0 and "no training dataset" in out.stderr, out.stderr
