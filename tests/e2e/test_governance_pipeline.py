"""A pipeline's `promote:` to a protected alias, under `cairn server --auth`: every gate passes, the
version is registered, and instead of moving the alias the run opens a promotion request in the name of
the user who ran it — which another user's approval then applies.

Cairn-only: `mlflow server` has no pipelines and no protected aliases."""

from __future__ import annotations

import textwrap
import uuid

import pytest
import requests

from conftest import CairnServer
from test_pipelines import PARAMS, PIPELINE, Project, make_project

pytestmark = pytest.mark.cairn_only

ADMIN = ("e2e-admin", "e2e-admin-pass")


@pytest.fixture
def auth_server(tmp_root):
    server = CairnServer(tmp_root / f"gov-pipe-{uuid.uuid4().hex[:8]}", extra_args=["--auth"],
                         env={"CAIRN_ADMIN_USERNAME": ADMIN[0], "CAIRN_ADMIN_PASSWORD": ADMIN[1]})
    server.start()
    yield server
    CairnServer.instances.remove(server)
    server.stop_cleanly()


def test_promote_to_a_protected_alias_opens_a_request(auth_server, tmp_path, monkeypatch):
    base = auth_server.url
    model, sci, appr = f"gated-{uuid.uuid4().hex[:6]}", f"sci-{uuid.uuid4().hex[:6]}", f"appr-{uuid.uuid4().hex[:6]}"

    def api(method, path, auth=ADMIN, expect=200, **kw):
        r = requests.request(method, f"{base}/api/cairn/v1{path}", auth=auth, timeout=30, **kw)
        assert r.status_code == expect, (method, path, r.status_code, r.text)
        return r.json()

    for user in (sci, appr):
        api("POST", "/users", expect=201, json={"username": user, "password": f"{user}-password"})
    api("POST", "/grants", json={"user": sci, "role": "scientist", "scope": "*"})
    api("POST", "/grants", json={"user": appr, "role": "approver", "scope": f"model:{model}"})
    api("POST", "/grants", json={"user": sci, "role": "approver", "scope": f"model:{model}"})
    api("POST", "/protections", json={"models": model, "alias": "champion", "approvals": 1})
    token = api("POST", "/tokens", auth=(sci, f"{sci}-password"), expect=201, json={"name": "pipeline"})["token"]["secret"]
    # The pipeline authenticates as the MLflow client does: here with a token (bearer).
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)

    gated = PIPELINE + textwrap.dedent(f"""\
        gates:
          - metric: accuracy
            op: ">="
            value: 0.95
        promote:
          model: model
          name: {model}
          alias: champion
        """)
    project = Project(make_project(tmp_path / "gated", gated), base, f"pipe-{uuid.uuid4().hex[:6]}")
    (project.root / "params.yaml").write_text(PARAMS.replace("C: 1.0", "C: 0.2"))
    report = project.run()
    assert [g["passed"] for g in report["gates"]] == [True]
    # Registered, but the protected alias did not move: a request was opened instead, by the user.
    assert report["promotion"]["aliases"] == [], report["promotion"]
    pending = api("GET", f"/promotions?model={model}")["promotions"]
    assert len(pending) == 1, pending
    pr = pending[0]
    assert (pr["state"], pr["requested_by"], pr["alias"], str(pr["version"])) == (
        "open", sci, "champion", report["promotion"]["version"]), pr
    assert "every gate passed" in pr["reason"], pr
    alias = requests.get(f"{base}/api/2.0/mlflow/registered-models/alias", auth=ADMIN, timeout=10,
                         params={"name": model, "alias": "champion"})
    assert alias.status_code in (400, 404) and "not found" in alias.text, alias.text

    # The requester's own approval is refused; the approver's applies it.
    denied = api("POST", f"/promotions/{pr['id']}/approve", auth=(sci, f"{sci}-password"), expect=403, json={})
    assert denied["error_code"] == "PERMISSION_DENIED" and "four-eyes" in denied["message"], denied
    applied = api("POST", f"/promotions/{pr['id']}/approve", auth=(appr, f"{appr}-password"), json={})["promotion"]
    assert applied["state"] == "applied", applied
    alias = requests.get(f"{base}/api/2.0/mlflow/registered-models/alias", auth=ADMIN, timeout=10,
                         params={"name": model, "alias": "champion"}).json()
    assert alias["model_version"]["version"] == report["promotion"]["version"], alias
