"""Automatic canary promotion: a deployment created with `--rollout canary:WEIGHT%/DURATION` follows
`production`; when `candidate` moves, the new version serves as a canary at the weight for the duration,
then is promoted (the `production` alias moves to it, credited to `rollout`) when its error rate and p99
latency hold against the primary's, or rolled back otherwise. Each decision is in the deployment's
history and on the change log with the numbers it used. Requests keep succeeding through canary start,
promotion and roll-back (a failing canary's own answers aside).

Cairn-only: `mlflow server` has no deployments.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import mlflow
import mlflow.onnx
import numpy as np
import onnx
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.models import infer_signature
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from test_deployments import API, cairn, deployment_name, history, wait_for
from test_serving import COLUMNS

pytestmark = pytest.mark.cairn_only


def failing_model() -> onnx.ModelProto:
    """Takes X [N, 4] like the good versions but fails at every inference (a reshape to [5] that no
    batch fits): the engine's runtime error, a 500."""
    X = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])
    Y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [5])
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [5])
    graph = helper.make_graph([helper.make_node("Reshape", ["X", "shape"], ["probabilities"])], "bad", [X], [Y], [shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.fixture
def registered(cairn_server):
    """A fresh registered model: versions 1 and 2 answer (two fits of the same classifier), version 3
    fails at every request. `production` -> 1."""
    data = load_iris()
    X, y = data.data.astype(np.float32), data.target
    good = [to_onnx(LogisticRegression(max_iter=m).fit(X, y), X[:1], options={"zipmap": False}) for m in (300, 200)]
    client = MlflowClient(tracking_uri=cairn_server.url)
    mlflow.set_tracking_uri(cairn_server.url)
    mlflow.set_experiment(f"rollout-{uuid.uuid4().hex[:8]}")
    name = f"ro-{uuid.uuid4().hex[:8]}"
    example = pd.DataFrame(X[:3], columns=COLUMNS)
    for onx in [*good, failing_model()]:
        with mlflow.start_run():
            mlflow.onnx.log_model(
                onx, name="model", registered_model_name=name,
                signature=infer_signature(example), pip_requirements=["onnxruntime"],
            )
    client.set_registered_model_alias(name, "production", "1")
    return {"name": name, "client": client, "X": X}


class Load:
    """Steady requests to a deployment from two threads: every status and answering version."""

    def __init__(self, base: str, dep: str, X: np.ndarray):
        self.answers: list[tuple[int, str | None]] = []
        self.stop = threading.Event()
        body = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": X[0].tolist()}]}

        def run():
            http = requests.Session()
            while not self.stop.is_set():
                r = http.post(f"{base}/v2/models/{dep}/infer", json=body, timeout=10)
                self.answers.append((r.status_code, r.headers.get("x-cairn-model-version")))
                time.sleep(0.005)

        self.threads = [threading.Thread(target=run) for _ in range(2)]
        for t in self.threads:
            t.start()

    def finish(self) -> list[tuple[int, str | None]]:
        self.stop.set()
        for t in self.threads:
            t.join()
        return self.answers


def wait_for_event(base: str, dep: str, kind: str, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while True:
        found = [e for e in history(base, dep) if e["kind"] == kind]
        if found:
            return found[-1]
        assert time.time() < deadline, f"no {kind} in {[e['kind'] for e in history(base, dep)]}"
        time.sleep(0.1)


def changes(base: str, subject: str) -> list[dict]:
    r = requests.get(f"{base}/api/cairn/v1/events", params={"after": 0, "max_results": 1000}, timeout=10)
    assert r.status_code == 200, r.text
    events, last = r.json()["events"], r.json()["last_seq"]
    while True:
        more = requests.get(f"{base}/api/cairn/v1/events", params={"after": last}, timeout=10).json()
        if not more["events"]:
            break
        events += more["events"]
        last = more["last_seq"]
    return [e for e in events if e["topic"] == "deployment" and e["subject"] == subject]


def get(server: str, dep: str) -> dict:
    out = cairn("deploy", "get", dep, "--json", server=server)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["deployment"]


def test_a_good_candidate_is_promoted_without_a_failed_request(cairn_server, registered):
    server, name, client = cairn_server.url, registered["name"], registered["client"]
    dep = deployment_name()
    out = cairn("deploy", "create", dep, "--model", f"models:/{name}@production", "--rollout", "canary:50%/5s", server=server)
    assert out.returncode == 0, out.stderr
    assert "rollout canary:50%/5s on alias 'candidate'" in out.stdout, out.stdout
    d = get(server, dep)
    assert d["rollout"]["policy"] == "canary:50%/5s"
    assert d["rollout"]["weight"] == 50 and d["rollout"]["duration_ms"] == 5000
    assert d["rollout"]["candidate_alias"] == "candidate"
    wait_for(server, dep, ["1"])
    load = Load(server, dep, registered["X"])
    try:
        time.sleep(0.5)
        client.set_registered_model_alias(name, "candidate", "2")
        started = wait_for_event(server, dep, "canary_started", timeout=30)
        assert started["actor"] == "rollout"
        assert started["detail"]["version"] == 2 and started["detail"]["primary_version"] == 1
        assert started["after"]["serving"]["canary"] == {"name": name, "version": "2", "weight": 50}
        running = get(server, dep)
        if "canary" in running["rollout"]:  # unless already decided
            assert running["rollout"]["canary"]["version"] == 2
        promoted = wait_for_event(server, dep, "canary_promoted", timeout=60)
        time.sleep(0.5)
    finally:
        answers = load.finish()
    assert answers and all(s == 200 for s, _ in answers), [a for a in answers if a[0] != 200][:5]
    assert {"1", "2"} <= {v for _, v in answers}, "both versions answered during the canary"
    assert answers[-1][1] == "2", "the promoted version serves everything"
    # The primary alias moved, by the roll-out.
    assert client.get_model_version_by_alias(name, "production").version == "2"
    # The decision, with its numbers, in the history …
    kinds = [e["kind"] for e in history(server, dep)]
    assert kinds.index("canary_started") < kinds.index("canary_promoted"), kinds
    assert promoted["actor"] == "rollout"
    n = promoted["detail"]
    assert n["outcome"] == "promoted" and n["version"] == 2 and n["primary_version"] == 1
    assert n["canary"]["requests"] > 0 and n["primary"]["requests"] > 0
    assert n["canary"]["errors"] == 0 and n["canary"]["error_rate"] == 0
    assert n["canary"]["p99_ms"] > 0 and n["primary"]["p99_ms"] > 0
    assert n["max_error_rate"] == pytest.approx(n["primary"]["error_rate"] + 0.01)
    assert n["max_p99_ms"] >= n["primary"]["p99_ms"] + 5 - 1e-6
    assert n["decided_ms"] - n["started_ms"] >= 5000
    assert "error rate" in n["reason"]
    assert promoted["after"]["serving"] == {"primary": {"name": name, "version": "2"}}
    # … on `cairn deploy get` …
    d = get(server, dep)
    assert d["serving"]["primary"]["version"] == "2" and "canary" not in d["serving"]
    assert d["rollout"]["last_decision"]["outcome"] == "promoted"
    assert "canary" not in d["rollout"]
    text = cairn("deploy", "get", dep, server=server).stdout
    assert "last decision: promoted version 2" in text, text
    # … and on the change log.
    logged = {e["kind"]: e for e in changes(server, dep)}
    assert logged["canary_promoted"]["actor"] == "rollout"
    assert logged["canary_promoted"]["detail"]["decision"]["canary"]["requests"] == n["canary"]["requests"]
    assert logged["canary_started"]["detail"]["canary"]["version"] == 2
    # Promoted: candidate and primary agree, nothing more starts.
    time.sleep(2)
    assert [e["kind"] for e in history(server, dep)].count("canary_started") == 1


@pytest.mark.allow_5xx  # the failing canary's own answers
def test_a_failing_candidate_is_rolled_back_and_not_retried(cairn_server, registered):
    server, name, client = cairn_server.url, registered["name"], registered["client"]
    dep = deployment_name()
    out = cairn(
        "deploy", "create", dep, "--model", f"models:/{name}@production",
        "--rollout", "canary:50%/3s", "--candidate-alias", "next", server=server,
    )
    assert out.returncode == 0, out.stderr
    wait_for(server, dep, ["1"])
    load = Load(server, dep, registered["X"])
    try:
        time.sleep(0.5)
        client.set_registered_model_alias(name, "next", "3")
        wait_for_event(server, dep, "canary_started", timeout=30)
        rolled_back = wait_for_event(server, dep, "canary_rolled_back", timeout=60)
        wait_for(server, dep, ["1"])
        time.sleep(0.3)
        settled = len(load.answers)
        time.sleep(1)
    finally:
        answers = load.finish()
    # Only the failing canary's own answers failed; the primary never did, nor anything after.
    assert all(s == 200 for s, v in answers if v == "1")
    assert any(s == 500 for s, _ in answers), "the canary's failures were served"
    assert all(s == 200 and v == "1" for s, v in answers[settled:])
    assert client.get_model_version_by_alias(name, "production").version == "1"
    n = rolled_back["detail"]
    assert rolled_back["actor"] == "rollout"
    assert n["outcome"] == "rolled_back" and n["version"] == 3 and n["primary_version"] == 1
    assert n["canary"]["errors"] > 0 and n["canary"]["error_rate"] > n["max_error_rate"]
    assert n["primary"]["errors"] == 0
    assert "error rate" in n["reason"]
    assert rolled_back["after"]["serving"] == {"primary": {"name": name, "version": "1"}}
    d = get(server, dep)
    assert d["rollout"]["last_decision"]["outcome"] == "rolled_back"
    assert d["rollout"]["candidate_alias"] == "next"
    logged = [e for e in changes(server, dep) if e["kind"] == "canary_rolled_back"]
    assert logged and logged[-1]["detail"]["decision"]["reason"] == n["reason"]
    # Decided once: not retried while `next` stays on version 3 …
    time.sleep(2)
    assert [e["kind"] for e in history(server, dep)].count("canary_started") == 1
    # … but a new move of `next` starts a new canary.
    client.set_registered_model_alias(name, "next", "2")
    started = [e for e in history(server, dep) if e["kind"] == "canary_started"]
    deadline = time.time() + 30
    while len(started) < 2:
        assert time.time() < deadline, "no canary for the new candidate"
        time.sleep(0.1)
        started = [e for e in history(server, dep) if e["kind"] == "canary_started"]
    assert started[-1]["detail"]["version"] == 2
    # Removing the policy stops the canary in progress.
    out = cairn("deploy", "update", dep, "--no-rollout", server=server)
    assert out.returncode == 0, out.stderr
    d = get(server, dep)
    assert "rollout" not in d and "canary" not in d["serving"]


def test_rollout_policies_are_checked(cairn_server, registered):
    server, name = cairn_server.url, registered["name"]
    for policy, why in [
        ("canary:10%", "separated by '/'"),
        ("canary:0%/5m", "1–99"),
        ("canary:10%/5y", "unit"),
        ("blue:10%/5m", "strategy"),
    ]:
        out = cairn("deploy", "create", deployment_name(), "--model", f"models:/{name}@production", "--rollout", policy, server=server)
        assert out.returncode != 0 and why in out.stderr, (policy, out.stderr)
    out = cairn("deploy", "create", deployment_name(), "--model", f"models:/{name}/1", "--rollout", "canary:10%/5m", server=server)
    assert out.returncode != 0 and "@<alias>" in out.stderr, out.stderr
    out = cairn(
        "deploy", "create", deployment_name(), "--model", f"models:/{name}@production",
        "--rollout", "canary:10%/5m", "--candidate-alias", "production", server=server,
    )
    assert out.returncode != 0 and "candidate alias" in out.stderr, out.stderr
    # Through the API: the request-count form, and an update that keeps it.
    dep = deployment_name()
    r = requests.post(f"{server}{API}", json={"name": dep, "model": f"models:/{name}@production", "rollout": "canary:5%/200req"})
    assert r.status_code == 200, r.text
    assert r.json()["deployment"]["rollout"]["requests"] == 200
    out = cairn("deploy", "update", dep, "--log-sample", "0.5", server=server)
    assert out.returncode == 0, out.stderr
    assert get(server, dep)["rollout"]["policy"] == "canary:5%/200req"
    out = cairn("deploy", "update", dep, "--rollout", "canary:20%/1h", server=server)
    assert out.returncode == 0 and "rollout canary:20%/1h" in out.stdout, out.stderr


def test_feedback_during_the_canary_rolls_back_a_healthy_but_worse_candidate(cairn_server, registered, tmp_path):
    """The live comparison also weighs the monitored performance once labels arrive: a one-split tree
    answers every request fast and without error, but the labels sent back for the canary's window
    show it wrong on a third of the rows where the primary is right — rolled back, with the scores."""
    server, name, client = cairn_server.url, registered["name"], registered["client"]
    data = load_iris()
    X, y = data.data.astype(np.float32), data.target
    stump = to_onnx(DecisionTreeClassifier(max_depth=1).fit(X, y), X[:1], options={"zipmap": False})
    mlflow.set_tracking_uri(server)
    with mlflow.start_run():
        mlflow.onnx.log_model(
            stump, name="model", registered_model_name=name,
            signature=infer_signature(pd.DataFrame(X[:3], columns=COLUMNS)), pip_requirements=["onnxruntime"],
        )
    dep = deployment_name()
    out = cairn("deploy", "create", dep, "--model", f"models:/{name}@production", "--rollout", "canary:50%/8s", server=server)
    assert out.returncode == 0, out.stderr
    reference = tmp_path / "reference.csv"
    pd.DataFrame(X, columns=COLUMNS).to_csv(reference, index=False)
    monitor = f"m-{uuid.uuid4().hex[:8]}"
    out = cairn("monitor", "create", monitor, "--deployment", dep, "--reference", str(reference),
                "--rows", "1000", "--prediction", "label", server=server)
    assert out.returncode == 0, out.stderr
    wait_for(server, dep, ["1"])

    client.set_registered_model_alias(name, "candidate", "4")
    wait_for_event(server, dep, "canary_started", timeout=30)
    rng = np.random.default_rng(7)
    labels, answered = [], set()
    http = requests.Session()
    for i in rng.integers(0, len(X), 100):
        rid = f"fb-{uuid.uuid4().hex}"
        body = {"dataframe_split": {"columns": COLUMNS, "data": [X[i].tolist()]}}
        r = http.post(f"{server}/serving-endpoints/{dep}/invocations", json=body,
                      headers={"x-request-id": rid}, timeout=10)
        assert r.status_code == 200, r.text
        answered.add(r.headers["x-cairn-model-version"])
        labels.append({"request_id": rid, "row": 0, "label": int(y[i])})
    assert answered == {"1", "4"}, answered
    r = requests.post(f"{server}/api/cairn/v1/deployments/{dep}/feedback", json={"labels": labels}, timeout=30)
    assert r.status_code == 200, r.text

    decided = wait_for_event(server, dep, "canary_rolled_back", timeout=60)
    n = decided["detail"]
    # Healthy on traffic alone; the labels decided it.
    assert n["canary"]["errors"] == 0 and n["canary"]["requests"] >= 20, n
    perf = n["performance"]
    assert perf["metric"] == "accuracy" and perf["held"] is False, perf
    assert perf["canary_labelled"] >= 20 and perf["primary_labelled"] >= 20, perf
    assert perf["canary"] < perf["limit"] == pytest.approx(perf["primary"] - 0.02), perf
    assert "monitored accuracy" in n["reason"], n["reason"]
    assert client.get_model_version_by_alias(name, "production").version == "1"
