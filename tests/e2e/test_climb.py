"""The climb walkthrough (examples/climb): its script, run step by step against a server with
authentication on (signed in as its admin), takes a model from level 0 to 1, 2, 3, 4, 5 (monitoring, then
the retraining loop closed) and 6 (two people, a protected alias, a request, an approval), as
`cairn maturity MODEL --json` measures from the evidence (not from anything the script says about itself).

Cairn-only: `mlflow server` has no deployments and no maturity levels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import mlflow
import pytest
import requests

from conftest import REPO_ROOT, CairnServer, cairn_bin, private_database

pytestmark = pytest.mark.cairn_only

CLIMB = REPO_ROOT / "examples" / "climb" / "climb.sh"
NAMES = {1: "Manual Model Building", 2: "Manual Deployment", 3: "Automated Deployment", 4: "CI/CD Pipelines",
         5: "Continuous Training & Monitoring", 6: "Full Automation & Governance"}
# The admin every auth-enabled test server bootstraps (the same on a shared PostgreSQL database).
ADMIN = ("e2e-admin", "e2e-admin-pass")
CREDENTIALS = {"MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}


@pytest.fixture
def auth_server(tmp_root):
    """A private server with authentication on, its admin from the environment at first start; on the
    scale-out run, on a database of its own: the session's servers run without authentication, and one of
    them claiming the retraining run would execute it anonymously."""
    with private_database() as database:
        server = CairnServer(
            tmp_root / f"climb-{uuid.uuid4().hex[:8]}",
            extra_args=["--auth"],
            env={"CAIRN_ADMIN_USERNAME": ADMIN[0], "CAIRN_ADMIN_PASSWORD": ADMIN[1]},
            backend_store_uri=database,
        )
        server.start()
        yield server
        CairnServer.instances.remove(server)
        server.stop_cleanly()


def climb(step: str, server: str, model: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": server,
        "CLIMB_MODEL": model,
        "CAIRN_BIN": str(cairn_bin()),
        "PYTHON": sys.executable,
        **CREDENTIALS,
    }
    # This private server has none of the session server's experiments another test may have exported.
    for k in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        env.pop(k, None)
    out = subprocess.run(["bash", str(CLIMB), step], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, f"climb.sh {step} exited {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


def maturity(server: str, model: str) -> dict:
    out = subprocess.run(
        [str(cairn_bin()), "maturity", model, "--server", server, "--json"],
        capture_output=True, text=True, timeout=60, env={**os.environ, **CREDENTIALS},
    )
    assert out.returncode == 0, f"cairn maturity exited {out.returncode}\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout)


def assert_level(report: dict, model: str, level: int) -> None:
    assert report["model"] == model
    assert report["level"] == level, json.dumps(report, indent=2)
    rungs = {r["level"]: r for r in report["levels"]}
    assert sorted(rungs) == [1, 2, 3, 4, 5, 6]
    for n, name in NAMES.items():
        assert rungs[n]["name"] == name
        assert rungs[n]["reached"] is (n <= level), json.dumps(rungs[n], indent=2)
        if n <= level:
            assert rungs[n]["evidence"], f"level {n} reached without evidence: {rungs[n]}"
    if level + 1 in NAMES:
        assert rungs[level + 1]["missing"], f"level {level + 1} is not reached yet names nothing missing"
        assert report["next_step"]


def test_the_climb_reaches_levels_1_to_6_step_by_step(auth_server, monkeypatch):
    server, model = auth_server.url, f"climb-{uuid.uuid4().hex[:8]}"
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    auth = ADMIN

    # Level 0: the model does not exist yet, and `cairn maturity` says so by name.
    out = subprocess.run([str(cairn_bin()), "maturity", model, "--server", server, "--json"],
                         capture_output=True, text=True, timeout=60, env={**os.environ, **CREDENTIALS})
    assert out.returncode != 0 and model in out.stderr, (out.returncode, out.stdout, out.stderr)

    climb("step1", server, model)
    assert_level(maturity(server, model), model, 1)

    out = climb("step2", server, model)
    assert '"model_version":"1"' in out.stdout.replace(" ", ""), out.stdout  # the curl answer
    assert_level(maturity(server, model), model, 2)

    climb("step3", server, model)
    assert_level(maturity(server, model), model, 3)

    # Level 4 through `cairn ci`: the evidence names the pipeline run whose gates passed and moved
    # @champion, and the deployment's roll-out of that version.
    out = climb("step4", server, model)
    report = maturity(server, model)
    assert_level(report, model, 4)
    evidence = next(r for r in report["levels"] if r["level"] == 4)["evidence"]
    assert any("passed its 2 gates and moved @champion to version 3" in e and f"deployment {model}" in e
               for e in evidence), evidence

    # Step 5, monitoring: traffic, then drift injected; the monitor's snapshot reports it and its rule
    # fires. Level 5 also needs a trigger that retrained, so the model stays at 4 with monitoring as evidence.
    out = climb("step5", server, model)
    assert "DATASET DRIFT" in out.stdout, out.stdout
    report = maturity(server, model)
    assert_level(report, model, 4)
    rung5 = next(r for r in report["levels"] if r["level"] == 5)
    assert any(f"monitor {model}-drift watches deployment {model}" in e and " 0 alert(s)" not in e
               for e in rung5["evidence"]), rung5
    assert all("no monitor" not in m for m in rung5["missing"]), rung5
    assert any("no trigger has fired" in m for m in rung5["missing"]), rung5

    # Step 6, the loop closed: drift -> alert -> trigger -> a run on the server -> gates -> @candidate ->
    # canary on live traffic (every request answered: traffic.py exits non-zero on any failure) ->
    # @champion; then a worse recipe the gates stop. Level 5, from the histories.
    head = requests.get(f"{server}/api/cairn/v1/events", params={"after": 0, "max_results": 1},
                        timeout=10, auth=auth).json()["head"]
    out = climb("step6", server, model)
    assert "the gates rejected it" in out.stdout, out.stdout
    # The chain, in commit order, from the change log: each link after the one that caused it.
    events, after = [], head
    while True:
        page = requests.get(f"{server}/api/cairn/v1/events", params={"after": after}, timeout=10, auth=auth).json()
        if not page["events"]:
            break
        events += page["events"]
        after = page["last_seq"]
    pipeline = f"{model}-retrain"

    def first(topic, subject, kind, since=0, **detail):
        for e in events:
            d = e.get("detail") or {}
            if (e["seq"] > since and e["topic"] == topic and e["subject"] == subject and e["kind"] == kind
                    and all(str(d.get(k)) == str(v) for k, v in detail.items())):
                return e["seq"]
        raise AssertionError(f"no {topic}/{subject}/{kind} {detail} after {since}: {json.dumps(events, indent=1)}")

    alert = first("alert", f"{model}-drift", "alert_fired")
    fired = first("pipeline", pipeline, "triggered", alert, outcome="started")
    claimed = first("pipeline", pipeline, "run_claimed", fired)
    gates = first("gate", model, "gate_evaluated", claimed, decision="passed")
    candidate = first("registry", model, "alias_moved", claimed, alias="candidate")
    # The gate record is written just after the alias move it allowed; the canary follows the move.
    canary = first("deployment", model, "canary_started", candidate)
    promoted = first("deployment", model, "canary_promoted", canary)
    champion_moved = first("registry", model, "alias_moved", canary, alias="champion")
    first("pipeline", pipeline, "run_finished", fired, status="succeeded")
    # The second pass: its gates failed, and nothing moved @champion after it.
    rejected = first("gate", model, "gate_evaluated", promoted, decision="failed")
    assert not [e for e in events if e["seq"] > rejected and e["kind"] in ("alias_moved", "canary_started")], events
    assert alert < fired < claimed < candidate < canary < champion_moved <= promoted
    assert claimed < gates < champion_moved
    report = maturity(server, model)
    assert_level(report, model, 5)
    rung5 = next(r for r in report["levels"] if r["level"] == 5)
    assert any(f"trigger drift of pipeline {model}-retrain fired on its own (alert)" in e
               for e in rung5["evidence"]), rung5
    runs = requests.get(f"{server}/api/cairn/v1/pipelines/{model}-retrain/runs", timeout=10, auth=auth).json()["pipeline_runs"]
    alerted = [r for r in runs if r["cause"]["kind"] == "alert"]
    assert [r["status"] for r in alerted][:2] == ["failed", "succeeded"], runs
    assert all(r["cause"]["monitor"] == f"{model}-drift" and r["cause"]["alert_id"] for r in alerted), runs
    promoted = alerted[1]["report"]["promotion"]
    history = requests.get(f"{server}/api/cairn/v1/deployments/{model}/history", timeout=10, auth=auth).json()
    kinds = [e["kind"] for e in history["events"]]
    assert "canary_started" in kinds and "canary_promoted" in kinds, kinds
    champion = mlflow.MlflowClient(server).get_model_version_by_alias(model, "champion").version
    assert str(champion) == str(promoted["version"]), (champion, promoted)
    # The model's page tells the same story as one timeline.
    page = requests.get(f"{server}/models/{model}", timeout=30, auth=auth)
    assert page.status_code == 200
    loop = page.text[page.text.index('id="training-loop"'):]
    for step in ("alert", f"trigger", "drift", "started", "gates decided", "canary promoted", "rolled out"):
        assert step in loop, (step, loop[:4000])

    # Step 7, governance: two people, @champion protected, a direct move refused, a request, the
    # requester's own approval refused, another user's approval applying it; the chain verifies.
    out = climb("step7", server, model)
    assert "PERMISSION_DENIED" in out.stdout, out.stdout
    assert "four-eyes" in out.stderr, out.stderr
    assert "intact:" in out.stdout, out.stdout
    report = maturity(server, model)
    assert_level(report, model, 6)
    rung6 = next(r for r in report["levels"] if r["level"] == 6)
    assert any(f"requested by {model}-alice, approved by {model}-bob" in e for e in rung6["evidence"]), rung6
    assert any("audit chain intact" in e for e in rung6["evidence"]), rung6
    assert any("model card (approved)" in e for e in rung6["evidence"]), rung6
    history = requests.get(f"{server}/api/cairn/v1/registry/models/{model}/history", params={"max_results": 1000},
                           timeout=10, auth=auth).json()["events"]
    moves = [e for e in history if e["kind"] in ("alias_set", "alias_moved") and e.get("alias") == "champion"]
    assert moves[-1]["actor"] == f"{model}-bob", moves[-1]
    # The retraining ran on the server as its executor's account (a token of its own per run).
    created = {e["actor"] for e in history if e["kind"] == "version_created"}
    assert {"e2e-admin", "cairn-executor", f"{model}-alice"} <= created, created

    # The whole-server listing names the model too.
    out = subprocess.run([str(cairn_bin()), "maturity", "--server", server, "--json"],
                         capture_output=True, text=True, timeout=60, env={**os.environ, **CREDENTIALS})
    assert out.returncode == 0, out.stderr
    assert model in out.stdout
