"""The control plane: one change log of every registry and deployment change (`GET /api/cairn/v1/events`,
a long poll), the deployment controller that rolls out alias moves and reports each deployment's status
and problem (reads change nothing), the maturity tracker (`/api/cairn/v1/maturity`, `cairn maturity`)
and the native API's own error body.

Cairn-only: `mlflow server` has none of this.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import mlflow
import mlflow.onnx
import mlflow.sklearn
import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from test_deployments import API, cairn, deployment_name, history, replica, versions, wait_for

pytestmark = pytest.mark.cairn_only

EVENTS = "/api/cairn/v1/events"
MATURITY = "/api/cairn/v1/maturity"


@pytest.fixture(scope="module")
def iris_onnx():
    data = load_iris()
    X, y = data.data.astype(np.float32), data.target
    estimator = LogisticRegression(max_iter=300).fit(X, y)
    return {"onnx": to_onnx(estimator, X[:1], options={"zipmap": False}), "estimator": estimator, "X": X}


def log_version(name: str, iris_onnx, params: dict | None = None, metrics: dict | None = None) -> str:
    """Logs an ONNX model from a new run (with these params and metrics) as the next version of `name`;
    returns the run id."""
    with mlflow.start_run() as run:
        for k, v in (params or {}).items():
            mlflow.log_param(k, v)
        for k, v in (metrics or {}).items():
            mlflow.log_metric(k, v)
        mlflow.onnx.log_model(iris_onnx["onnx"], name="model", registered_model_name=name, pip_requirements=["onnxruntime"])
    return run.info.run_id


def model_name() -> str:
    return f"cp-{uuid.uuid4().hex[:8]}"


def events(base: str, **params) -> requests.Response:
    return requests.get(f"{base}{EVENTS}", params=params, timeout=70)


def head(base: str) -> int:
    r = events(base, after=0, max_results=1)
    assert r.status_code == 200, r.text
    return r.json()["head"]


def entries_after(base: str, after: int) -> list[dict]:
    r = events(base, after=after)
    assert r.status_code == 200, r.text
    return r.json()["events"]


def wait_for_entry(base: str, after: int, pred, timeout: float = 15) -> list[dict]:
    """Long-polls the feed from `after` until an entry matches `pred`; returns every entry read."""
    seen: list[dict] = []
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        assert left > 0, f"no matching entry within {timeout}s; saw {[(e['topic'], e['subject'], e['kind']) for e in seen]}"
        body = events(base, after=after, wait=max(1, int(left))).json()
        seen += body["events"]
        after = body["last_seq"]
        if any(pred(e) for e in body["events"]):
            return seen


def deployment(base: str, dep: str) -> dict:
    r = requests.get(f"{base}{API}/{dep}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["deployment"]


def infer_version(base: str, dep: str, X) -> str:
    body = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": X[0].tolist()}]}
    r = requests.post(f"{base}/v2/models/{dep}/infer", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["model_version"]


def maturity(base: str, name: str) -> dict:
    r = requests.get(f"{base}{MATURITY}/{name}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------------------------------------
# The events feed
# ---------------------------------------------------------------------------------------------
def test_an_alias_move_is_a_registry_entry_then_a_rollout_entry(cairn_server, experiment_id, iris_onnx):
    base, name, dep = cairn_server.url, model_name(), deployment_name()
    client = MlflowClient(tracking_uri=base)
    log_version(name, iris_onnx)
    log_version(name, iris_onnx)
    client.set_registered_model_alias(name, "champion", "1")
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}@champion", server=base).returncode == 0
    start = head(base)
    client.set_registered_model_alias(name, "champion", "2")
    seen = wait_for_entry(base, start, lambda e: e["topic"] == "deployment" and e["subject"] == dep and e["kind"] == "rolled_out")
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(set(seqs)) and all(s > start for s in seqs), seqs
    moved = [e for e in seen if e["topic"] == "registry" and e["subject"] == name and e["kind"] == "alias_moved"]
    rolled = [e for e in seen if e["topic"] == "deployment" and e["subject"] == dep and e["kind"] == "rolled_out"]
    assert len(moved) == 1 and len(rolled) == 1, seen
    assert moved[0]["seq"] < rolled[0]["seq"]
    assert moved[0]["detail"] == {"version": 2, "alias": "champion"}, moved[0]
    assert rolled[0]["detail"]["version"] == 2 and rolled[0]["detail"]["model"] == name, rolled[0]
    for e in (moved[0], rolled[0]):
        assert set(e) >= {"seq", "topic", "subject", "kind", "topic_seq", "actor", "timestamp_ms"}, e
        assert isinstance(e["topic_seq"], int) and e["timestamp_ms"] > 0
    # The deployment entry names its history event; the history credits whoever moved the alias.
    events_ = history(base, dep)
    assert events_[-1]["kind"] == "rolled_out" and events_[-1]["seq"] == rolled[0]["topic_seq"]
    assert rolled[0]["actor"] == moved[0]["actor"] == events_[-1]["actor"]
    # Reading from any position pages the same log.
    again = entries_after(base, start)
    assert [e["seq"] for e in again][: len(seqs)] == seqs
    first = events(base, after=start, max_results=1).json()
    assert len(first["events"]) == 1 and first["last_seq"] == seqs[0] and first["head"] >= seqs[-1]


def test_a_long_poll_with_nothing_new_times_out_empty(cairn_server):
    base = cairn_server.url
    start = head(base)
    t0 = time.monotonic()
    r = events(base, after=start, wait=5)
    elapsed = time.monotonic() - t0
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["events"] == [] and body["last_seq"] == start and body["head"] == start, body
    assert 4.5 <= elapsed <= 5.5, elapsed
    # Without `wait` it answers at once.
    t0 = time.monotonic()
    assert events(base, after=start).json()["events"] == []
    assert time.monotonic() - t0 < 1


def test_a_waiting_long_poll_answers_promptly_after_an_alias_move(cairn_server, experiment_id, iris_onnx):
    base, name = cairn_server.url, model_name()
    client = MlflowClient(tracking_uri=base)
    log_version(name, iris_onnx)
    log_version(name, iris_onnx)
    client.set_registered_model_alias(name, "champion", "1")
    start = head(base)
    answer: dict = {}

    def poll():
        r = events(base, after=start, wait=30)
        answer["at"] = time.monotonic()
        answer["response"] = r

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(1.0)  # the poll is waiting
    assert "at" not in answer, "the long poll answered before anything happened"
    moved_at = time.monotonic()
    client.set_registered_model_alias(name, "champion", "2")
    t.join(timeout=35)
    assert "at" in answer, "the long poll did not answer"
    assert answer["at"] - moved_at < 1.0, answer["at"] - moved_at
    r = answer["response"]
    assert r.status_code == 200, r.text
    got = r.json()["events"]
    assert got and (got[0]["topic"], got[0]["subject"], got[0]["kind"]) == ("registry", name, "alias_moved"), got


def test_a_write_that_changes_nothing_adds_no_entry(cairn_server, experiment_id, iris_onnx):
    base, name = cairn_server.url, model_name()
    client = MlflowClient(tracking_uri=base)
    log_version(name, iris_onnx)
    client.set_registered_model_alias(name, "champion", "1")
    start = head(base)
    client.set_registered_model_alias(name, "champion", "1")
    client.delete_registered_model_alias(name, "no-such-alias")
    body = events(base, after=start, wait=1).json()
    assert [e for e in body["events"] if e["subject"] == name] == [], body
    assert body["events"] == [] and body["head"] == start, body
    # A real change is the next entry.
    client.delete_registered_model_alias(name, "champion")
    got = entries_after(base, start)
    assert [(e["subject"], e["kind"]) for e in got] == [(name, "alias_deleted")], got


def test_a_position_past_the_end_learns_where_the_log_is(cairn_server):
    """A follower ahead of the log (its database restored from a backup, say) is told the real head."""
    start = head(cairn_server.url)
    body = events(cairn_server.url, after=start + 1000).json()
    assert body["events"] == [] and body["last_seq"] == start + 1000, body
    assert body["head"] == start, body


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"wait": 61}, "wait"),
        ({"after": -1}, "after"),
        ({"after": "abc"}, "after"),
        ({"wait": "soon"}, "wait"),
        ({"max_results": 0}, "max_results"),
        ({"max_results": 1001}, "max_results"),
    ],
)
def test_bad_event_queries_are_400_in_the_native_error_format(cairn_server, params, fragment):
    """Every parameter out of its documented range is refused, saying which."""
    t0 = time.monotonic()
    r = events(cairn_server.url, **params)
    assert time.monotonic() - t0 < 2
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert fragment in body["message"], body
    assert "line 1 column" not in body["message"]


# ---------------------------------------------------------------------------------------------
# Deployment status, problems, histories
# ---------------------------------------------------------------------------------------------
def test_an_alias_moved_to_an_unservable_version_degrades_the_deployment(cairn_server, experiment_id, iris_onnx):
    base, name, dep = cairn_server.url, model_name(), deployment_name()
    client = MlflowClient(tracking_uri=base)
    log_version(name, iris_onnx)
    client.set_registered_model_alias(name, "champion", "1")
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}@champion", server=base).returncode == 0
    wait_for(base, dep, ["1"])
    d = deployment(base, dep)
    assert (d["status"], d.get("problem")) == ("serving", None), d

    # Version 2 is a pickled scikit-learn model: no ONNX to serve.
    with mlflow.start_run():
        mlflow.sklearn.log_model(iris_onnx["estimator"], name="model", registered_model_name=name)
    assert client.get_model_version(name, "2").version == "2"
    start = head(base)
    client.set_registered_model_alias(name, "champion", "2")
    wait_for_entry(base, start, lambda e: e["subject"] == name and e["kind"] == "alias_moved")
    time.sleep(1.0)  # the controller has looked at the move
    d = deployment(base, dep)
    assert d["status"] == "degraded", d
    problem = d["problem"]
    assert "2" in problem and "onnx" in problem.lower(), problem
    assert d["serving"]["primary"]["version"] == "1", d
    assert infer_version(base, dep, iris_onnx["X"]) == "1"
    assert versions(base, dep) == ["1"]
    assert [e["kind"] for e in history(base, dep)] == ["created"]
    assert not [e for e in entries_after(base, start) if e["subject"] == dep], "no rollout was recorded"
    listed = requests.get(f"{base}{API}").json()["deployments"]
    assert [x["status"] for x in listed if x["name"] == dep] == ["degraded"]
    shown = cairn("deploy", "get", dep, server=base)
    assert shown.returncode == 0 and "degraded" in shown.stdout, shown.stdout + shown.stderr

    # Moved back, it serves what it asks for again.
    client.set_registered_model_alias(name, "champion", "1")
    deadline = time.time() + 10
    while (d := deployment(base, dep))["status"] != "serving":
        assert time.time() < deadline, d
        time.sleep(0.05)
    assert d.get("problem") is None and d["serving"]["primary"]["version"] == "1", d
    assert [e["kind"] for e in history(base, dep)] == ["created"]


def test_a_deleted_pinned_version_degrades_the_deployment(cairn_server, experiment_id, iris_onnx):
    base, name, dep = cairn_server.url, model_name(), deployment_name()
    client = MlflowClient(tracking_uri=base)
    log_version(name, iris_onnx)
    log_version(name, iris_onnx)
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}/2", server=base).returncode == 0
    wait_for(base, dep, ["2"])
    assert deployment(base, dep)["status"] == "serving"
    client.delete_model_version(name, "2")
    d = deployment(base, dep)
    assert d["status"] == "degraded", d
    assert name in d["problem"] and "2" in d["problem"], d
    assert d["serving"]["primary"]["version"] == "2", d
    # The whole model gone: still degraded, naming it.
    client.delete_registered_model(name)
    d = deployment(base, dep)
    assert d["status"] == "degraded" and name in d["problem"], d
    assert [e["kind"] for e in history(base, dep)] == ["created"]


def test_reads_have_no_side_effects(cairn_server, experiment_id, iris_onnx):
    base, name, dep = cairn_server.url, model_name(), deployment_name()
    client = MlflowClient(tracking_uri=base)
    log_version(name, iris_onnx)
    client.set_registered_model_alias(name, "champion", "1")
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}@champion", server=base).returncode == 0
    before = history(base, dep)
    start = head(base)
    for _ in range(25):
        deployment(base, dep)
        requests.get(f"{base}{API}", timeout=10)
        history(base, dep)
        maturity(base, name)
    assert cairn("deploy", "get", dep, server=base).returncode == 0
    assert history(base, dep) == before
    assert deployment(base, dep)["revision"] == 1
    assert events(base, after=start, wait=1).json()["events"] == []


def test_history_revisions_count_one_by_one(cairn_server, experiment_id, iris_onnx):
    base, name, dep = cairn_server.url, model_name(), deployment_name()
    client = MlflowClient(tracking_uri=base)
    for _ in range(3):
        log_version(name, iris_onnx)
    client.set_registered_model_alias(name, "champion", "1")
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}@champion", server=base).returncode == 0
    for v in ("2", "3"):
        client.set_registered_model_alias(name, "champion", v)
        wait_for(base, dep, [v])
    assert cairn("deploy", "rollback", dep, server=base).returncode == 0
    assert cairn("deploy", "update", dep, "--model", f"models:/{name}@champion", server=base).returncode == 0
    deadline = time.time() + 10
    while deployment(base, dep)["serving"]["primary"]["version"] != "3":
        assert time.time() < deadline, history(base, dep)
        time.sleep(0.05)
    events_ = history(base, dep)
    assert [e["kind"] for e in events_] == ["created", "rolled_out", "rolled_out", "rolled_back", "updated"], events_
    assert [e["revision"] for e in events_] == [1, 2, 3, 4, 5], events_
    assert deployment(base, dep)["revision"] == events_[-1]["revision"]
    assert cairn("deploy", "delete", dep, server=base).returncode == 0
    after = history(base, dep)
    assert after[-1]["kind"] == "deleted" and after[-1]["revision"] == len(after), after


# ---------------------------------------------------------------------------------------------
# Maturity
# ---------------------------------------------------------------------------------------------
def test_maturity_climbs_from_evidence_and_falls_when_the_deployment_goes(cairn_server, experiment_id, iris_onnx):
    base, name, dep = cairn_server.url, model_name(), deployment_name()
    client = MlflowClient(tracking_uri=base)

    # A version from a run that logged no metric: level 0.
    log_version(name, iris_onnx, params={"C": "1.0"})
    m = maturity(base, name)
    assert m["model"] == name and m["level"] == 0, m
    assert [l["level"] for l in m["levels"]] == [1, 2, 3, 4, 5, 6], m["levels"]
    assert not any(l["reached"] for l in m["levels"]) and m["levels"][0]["missing"], m
    assert m["next_step"], m

    # A param and a metric: level 1, from that run.
    run_id = log_version(name, iris_onnx, params={"C": "0.5"}, metrics={"accuracy": 0.93})
    m = maturity(base, name)
    assert m["level"] == 1, m
    l1 = m["levels"][0]
    assert l1["reached"] and l1["missing"] == [] and any(run_id in e for e in l1["evidence"]), l1
    assert m["automation"] and m["outcome"], m

    # Deployed, pinned: level 2.
    out = cairn("deploy", "create", dep, "--model", f"models:/{name}/2", server=base)
    assert out.returncode == 0, out.stderr
    m = maturity(base, name)
    assert m["level"] == 2, m
    assert m["levels"][1]["reached"] and any(dep in e for e in m["levels"][1]["evidence"]), m["levels"][1]
    assert not m["levels"][2]["reached"], m["levels"][2]

    # Following an alias, but no move rolled out yet: still 2, saying so.
    client.set_registered_model_alias(name, "champion", "1")
    assert cairn("deploy", "update", dep, "--model", f"models:/{name}@champion", server=base).returncode == 0
    m = maturity(base, name)
    assert m["level"] == 2 and any(dep in x for x in m["levels"][2]["missing"]), m["levels"][2]

    # The alias moves and the deployment rolls it out by itself: level 3.
    client.set_registered_model_alias(name, "champion", "2")
    wait_for(base, dep, ["2"])
    rolled = [e for e in history(base, dep) if e["kind"] == "rolled_out"]
    assert len(rolled) == 1, history(base, dep)
    deadline = time.time() + 10
    while (m := maturity(base, name))["level"] != 3:
        assert time.time() < deadline, m
        time.sleep(0.05)
    l3 = m["levels"][2]
    assert l3["reached"] and l3["missing"] == [], l3
    rollout_entry = [e for e in entries_after(base, 0) if e["topic"] == "deployment" and e["subject"] == dep and e["kind"] == "rolled_out"]
    assert len(rollout_entry) == 1
    # The evidence cites the rollout by the deployment's revision after it, as `cairn deploy history`
    # numbers its rows.
    cites = {f"(revision {rollout_entry[0]['detail']['revision']})"}
    assert any(
        dep in e and "@champion" in e and "version 2" in e and any(c in e for c in cites) for e in l3["evidence"]
    ), json.dumps([l3["evidence"], rollout_entry[0]])
    assert rollout_entry[0]["topic_seq"] == rolled[0]["seq"]
    assert [h["level"] for h in m["history"]] == [1, 2, 3], m["history"]
    seqs = [h["seq"] for h in m["history"]]
    assert seqs == sorted(set(seqs)), m["history"]
    assert m["history"][2]["seq"] == rollout_entry[0]["seq"], (m["history"], rollout_entry)
    assert all(h["timestamp_ms"] > 0 for h in m["history"])
    # Level 4 is measured (a gated pipeline promotion rolled out; see test_pipelines_ci.py), level 5's
    # monitoring half too (see test_monitoring.py); its triggers and level 6 not yet (level 6 names what
    # governance is missing: the session's server runs without authentication, nothing is protected).
    level4 = m["levels"][3]
    assert not level4["reached"] and level4["evidence"] == [], level4
    assert level4["missing"][0].startswith("no pipeline run has registered a version"), level4
    assert "cairn ci" in m["next_step"], m
    level5, level6 = m["levels"][4:]
    assert not level5["reached"] and level5["evidence"] == [], level5
    assert level5["missing"][0].startswith("no monitor watches a deployment serving"), level5
    assert any(x.startswith("no trigger has fired on its own") for x in level5["missing"]), level5
    assert not level6["reached"], level6
    # The audit chain verifies whatever else is missing; what governance lacks is named, step by step.
    assert all(e.startswith("audit chain intact") for e in level6["evidence"]), level6
    assert level6["missing"][0] == f"no deployment of '{name}' follows a protected alias", level6
    assert any("no model card" in x for x in level6["missing"]), level6
    assert level6["missing"][-1] == "needs level 5 first", level6
    for rung in m["levels"]:
        assert rung["name"] and rung["automation"] and rung["outcome"], rung

    # The CLI shows the same ladder.
    out = cairn("maturity", name, server=base)
    assert out.returncode == 0, out.stderr
    assert f"{name}: level 3" in out.stdout and dep in out.stdout, out.stdout
    shown = cairn("maturity", name, "--json", server=base)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["level"] == 3

    # The deployment deleted: levels 2 and 3 go with it.
    assert cairn("deploy", "delete", dep, server=base).returncode == 0
    m = maturity(base, name)
    assert m["level"] == 1, m
    assert not m["levels"][1]["reached"] and not m["levels"][2]["reached"], m["levels"]


def test_maturity_counts_only_what_a_deployment_did_for_this_model(cairn_server, experiment_id, iris_onnx):
    """A deployment that rolled out model A, then updated to follow an alias of model B: B stands on level
    2 (A's roll-out is not B's), reached when the deployment started serving B, after B's level 1; B's
    own alias move then brings level 3."""
    base, a, b, dep = cairn_server.url, model_name(), model_name(), deployment_name()
    client = MlflowClient(tracking_uri=base)
    for _ in range(2):
        log_version(a, iris_onnx, params={"C": "1"}, metrics={"acc": 0.9})
    client.set_registered_model_alias(a, "champion", "1")
    assert cairn("deploy", "create", dep, "--model", f"models:/{a}@champion", server=base).returncode == 0
    client.set_registered_model_alias(a, "champion", "2")
    wait_for(base, dep, ["2"])
    deadline = time.time() + 10
    while maturity(base, a)["level"] != 3:
        assert time.time() < deadline, maturity(base, a)
        time.sleep(0.05)

    for _ in range(2):
        log_version(b, iris_onnx, params={"C": "1"}, metrics={"acc": 0.9})
    client.set_registered_model_alias(b, "champion", "1")
    assert cairn("deploy", "update", dep, "--model", f"models:/{b}@champion", server=base).returncode == 0
    m = maturity(base, b)
    assert m["level"] == 2, m
    assert not m["levels"][2]["reached"] and m["levels"][2]["evidence"] == [], m["levels"][2]
    assert [h["level"] for h in m["history"]] == [1, 2], m["history"]
    assert m["history"][0]["seq"] < m["history"][1]["seq"], m["history"]
    assert maturity(base, a)["level"] == 1

    client.set_registered_model_alias(b, "champion", "2")
    deadline = time.time() + 10
    while (m := maturity(base, b))["level"] != 3:
        assert time.time() < deadline, m
        time.sleep(0.05)
    assert [h["level"] for h in m["history"]] == [1, 2, 3], m["history"]
    seqs = [h["seq"] for h in m["history"]]
    assert seqs == sorted(set(seqs)), m["history"]
    assert len(m["levels"][2]["evidence"]) == 1 and dep in m["levels"][2]["evidence"][0], m["levels"][2]


def test_maturity_history_follows_a_rename(cairn_server, experiment_id, iris_onnx):
    base, name = cairn_server.url, model_name()
    log_version(name, iris_onnx, params={"C": "1"}, metrics={"acc": 0.9})
    before = maturity(base, name)
    assert before["level"] == 1 and [h["level"] for h in before["history"]] == [1], before
    MlflowClient(tracking_uri=base).rename_registered_model(name, f"{name}-renamed")
    after = maturity(base, f"{name}-renamed")
    assert after["level"] == 1, after
    assert after.get("history") == before["history"], after
    assert requests.get(f"{base}{MATURITY}/{name}", timeout=10).status_code == 404


def test_maturity_of_an_unknown_model_is_not_found(cairn_server):
    base, name = cairn_server.url, f"never-{uuid.uuid4().hex[:8]}"
    r = requests.get(f"{base}{MATURITY}/{name}", timeout=10)
    assert r.status_code == 404, r.text
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST" and name in r.json()["message"], r.text
    out = cairn("maturity", name, server=base)
    assert out.returncode != 0
    assert name in out.stderr, out.stderr
    assert out.stdout == ""


def test_maturity_listing_rolls_up_every_model(cairn_server, experiment_id, iris_onnx):
    base, name = cairn_server.url, model_name()
    log_version(name, iris_onnx, params={"C": "1"}, metrics={"acc": 0.9})
    r = requests.get(f"{base}{MATURITY}", timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    ours = [m for m in body["models"] if m["model"] == name]
    assert len(ours) == 1 and ours[0]["level"] == 1, ours
    assert len(body["per_level"]) == 7 and sum(body["per_level"]) == len(body["models"]), body["per_level"]
    assert body["per_level"][1] >= 1
    for m in body["models"]:
        assert set(m) >= {"model", "level", "automation", "outcome", "next_step"}, m
        assert 0 <= m["level"] <= 6

    out = cairn("maturity", server=base)
    assert out.returncode == 0, out.stderr
    assert name in out.stdout and "models per level" in out.stdout, out.stdout
    listing = cairn("maturity", "--json", server=base)
    assert listing.returncode == 0, listing.stderr
    parsed = json.loads(listing.stdout)
    assert len(parsed["per_level"]) == 7 and sum(parsed["per_level"]) == len(parsed["models"]), parsed["per_level"]
    assert any(m["model"] == name and m["level"] == 1 for m in parsed["models"])


def test_cairn_maturity_takes_its_server_from_mlflow_tracking_uri(cairn_server, experiment_id, iris_onnx, monkeypatch):
    import subprocess

    from conftest import cairn_bin

    name = model_name()
    log_version(name, iris_onnx)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", cairn_server.url)
    monkeypatch.delenv("CAIRN_SERVER", raising=False)
    out = subprocess.run([str(cairn_bin()), "maturity", name, "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"] == name


# ---------------------------------------------------------------------------------------------
# The native API's errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    ["not json", '{"name": 5}', '{"name": "x", "model": ["a"]}', "[1, 2]", ""],
)
def test_malformed_deployment_bodies_are_400_in_the_native_format(cairn_server, data):
    r = requests.post(f"{cairn_server.url}{API}", data=data, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert "line 1 column" not in body["message"] and "at line" not in body["message"], body
    assert body["message"].strip(), body


def test_a_deployment_body_that_is_not_declared_json_is_400(cairn_server):
    r = requests.post(f"{cairn_server.url}{API}", data='{"name": "x"}', headers={"Content-Type": "text/plain"}, timeout=10)
    assert r.status_code in (400, 415), r.text
    body = r.json()
    assert set(body) == {"error_code", "message"} and "line 1 column" not in body["message"], body


@pytest.mark.parametrize("method, path", [("get", "/nope"), ("post", "/nope/deeper"), ("get", "/deployments/x/nope")])
def test_unknown_native_paths_are_404_in_the_native_format(cairn_server, method, path):
    r = requests.request(method, f"{cairn_server.url}/api/cairn/v1{path}", timeout=10)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST" and path in body["message"], body


@pytest.mark.parametrize("method, path", [("patch", "/deployments"), ("delete", "/events"), ("post", "/maturity")])
def test_a_known_path_with_another_method_is_405_in_the_native_format(cairn_server, method, path):
    r = requests.request(method, f"{cairn_server.url}/api/cairn/v1{path}", timeout=10)
    assert r.status_code == 405, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["error_code"] == "METHOD_NOT_ALLOWED" and method.upper() in body["message"], body


# ---------------------------------------------------------------------------------------------
# Replicas follow the log
# ---------------------------------------------------------------------------------------------
def test_a_replica_follows_an_alias_move_within_two_seconds(cairn_server, experiment_id, iris_onnx, tmp_path_factory):
    base, name, dep = cairn_server.url, model_name(), deployment_name()
    client = MlflowClient(tracking_uri=base)
    log_version(name, iris_onnx)
    log_version(name, iris_onnx)
    client.set_registered_model_alias(name, "champion", "1")
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}@champion", server=base).returncode == 0
    proc, replica_base = replica(base, dep, tmp_path_factory)
    try:
        wait_for(replica_base, dep, ["1"], timeout=10)
        time.sleep(0.5)  # the replica is waiting in its long poll
        client.set_registered_model_alias(name, "champion", "2")
        t0 = time.monotonic()
        wait_for(replica_base, dep, ["2"], timeout=2)
        assert time.monotonic() - t0 < 2
        assert infer_version(replica_base, dep, iris_onnx["X"]) == "2"
        # And back, as quickly.
        client.set_registered_model_alias(name, "champion", "1")
        wait_for(replica_base, dep, ["1"], timeout=2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
