"""Governance end to end, on a private `cairn server --auth`: start-up refusals, authentication (Basic
password, Basic user:token, Bearer token, the session cookie) and its 401 / 403 shapes over every route
the server lists in `/auth/routes`, scoped grants (model globs, one experiment), the unchanged mlflow
client and MLflow's AuthServiceClient with credentials, protected aliases and four-eyes promotion
requests (`cairn promote`), the Rego policy judged at request and apply, rollback, the audit chain's
verification through the server, lineage and model cards.

The tampering suite that edits a stopped server's SQLite file is in test_governance_audit.py.

Every server bootstraps the same admin ("e2e-admin" / "e2e-admin-pass"): on PostgreSQL
(CAIRN_E2E_BACKEND_STORE_URI) users are shared by every server of the run. Other users, models and
experiments get unique names.

Cairn-only: `mlflow server` has none of this (its basic-auth app aside, which these tests don't start).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
import types
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from conftest import CairnServer, _free_port, cairn_bin

pytestmark = pytest.mark.cairn_only


@pytest.fixture(autouse=True)
def _restore_mlflow_experiment_env():
    """`mlflow.set_experiment` exports MLFLOW_EXPERIMENT_ID to the environment: put it back after each
    test, so that later tests (and the CLIs they start) do not inherit another server's experiment."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")}
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v

API = "/api/cairn/v1"
ADMIN_USER = "e2e-admin"
ADMIN_PASSWORD = "e2e-admin-pass"
ADMIN_ENV = {"CAIRN_ADMIN_USERNAME": ADMIN_USER, "CAIRN_ADMIN_PASSWORD": ADMIN_PASSWORD}
PG = bool(os.environ.get("CAIRN_E2E_BACKEND_STORE_URI"))
CAPABILITIES = {"read", "track", "register", "promote", "approve", "deploy", "invoke", "audit", "admin"}
CRED_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------------------
# Credentials, the CLI and the server
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cred:
    """Who a request is: a user with a password, a user with an API token (sent as the password), or
    a bare token (sent as Bearer)."""

    user: str | None
    password: str | None = None
    token: str | None = None

    def headers(self) -> dict[str, str]:
        if self.password is not None or (self.user and self.token):
            secret = self.password if self.password is not None else self.token
            raw = base64.b64encode(f"{self.user}:{secret}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {"Authorization": f"Bearer {self.token}"}

    def env(self) -> dict[str, str]:
        """The variables the mlflow client and the Cairn CLI read."""
        if self.password is not None:
            return {"MLFLOW_TRACKING_USERNAME": self.user, "MLFLOW_TRACKING_PASSWORD": self.password}
        if self.user:
            return {"MLFLOW_TRACKING_USERNAME": self.user, "MLFLOW_TRACKING_PASSWORD": self.token}
        return {"MLFLOW_TRACKING_TOKEN": self.token}


ADMIN = Cred(ADMIN_USER, ADMIN_PASSWORD)


@contextlib.contextmanager
def mlflow_as(cred: Cred | None):
    """The mlflow client reads its credentials from the environment on every request: set them for the
    block, and put back what was there (the session's other tests run without credentials)."""
    saved = {k: os.environ.get(k) for k in CRED_VARS}
    for k in CRED_VARS:
        os.environ.pop(k, None)
    if cred is not None:
        os.environ.update(cred.env())
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cli_env(cred: Cred | None, server: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLFLOW_TRACKING_") and not k.startswith("CAIRN_")
    }
    if server:
        env["CAIRN_SERVER"] = server
    if cred is not None:
        env.update(cred.env())
    env["NO_COLOR"] = "1"
    return env


def cairn(*args: str, cred: Cred | None = None, server: str | None = None, timeout: float = 60,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real `cairn` binary, authenticating as `cred` (MLFLOW_TRACKING_* variables) against `server`
    (CAIRN_SERVER)."""
    return subprocess.run(
        [str(cairn_bin()), *map(str, args)],
        env={**cli_env(cred, server), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, (
        f"cairn {' '.join(map(str, res.args[1:]))} exited {res.returncode}\n"
        f"--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
    )
    return res


def refused(res: subprocess.CompletedProcess, status: int, fragment: str | None = None) -> None:
    """The CLI failed because the server answered `status` (the CLI prints it as `(403 Forbidden)`)."""
    assert res.returncode != 0, f"cairn {' '.join(res.args[1:])} succeeded:\n{res.stdout}"
    out = res.stdout + res.stderr
    assert f"({status} " in out, f"expected HTTP {status} in:\n{out}"
    if fragment:
        assert fragment.lower() in out.lower(), f"expected {fragment!r} in:\n{out}"


def as_json(res: subprocess.CompletedProcess):
    ok(res)
    return json.loads(res.stdout)


def assert_error(resp: requests.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:500]}"
    assert "json" in resp.headers.get("Content-Type", ""), resp.headers
    body = resp.json()
    assert body.get("error_code") == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    if status == 401:
        assert resp.headers.get("WWW-Authenticate"), "a 401 must say how to authenticate"
    return body


class Gov:
    """The module's auth server and helpers to act on it as someone."""

    def __init__(self, server: CairnServer):
        self.server = server
        self.url = server.url
        self.session = requests.Session()

    def http(self, method: str, path: str, cred: Cred | None = ADMIN, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if cred is not None:
            headers.update(cred.headers())
        kw.setdefault("timeout", 30)
        try:
            return self.session.request(method, self.url + path, headers=headers, **kw)
        finally:
            self.session.cookies.clear()  # a session cookie set by /login must not ride along later

    def ok(self, method: str, path: str, cred: Cred | None = ADMIN, **kw) -> dict:
        r = self.http(method, path, cred, **kw)
        assert r.status_code in (200, 201), f"{method} {path} as {cred and cred.user}: {r.status_code} {r.text[:500]}"
        return r.json()

    def cli(self, *args, cred: Cred | None = ADMIN, **kw) -> subprocess.CompletedProcess:
        return cairn(*args, cred=cred, server=self.url, **kw)

    def user(self, prefix: str, *grants: tuple[str, str]) -> Cred:
        """A new user with a password and these (role, scope) grants."""
        name = uid(prefix)
        password = f"pw-{uuid.uuid4().hex}"
        self.ok("POST", f"{API}/users", json={"username": name, "password": password})
        for role, scope in grants:
            self.ok("POST", f"{API}/grants", json={"user": name, "role": role, "scope": scope})
        return Cred(name, password)

    def protect(self, model_glob: str, alias: str, approvals: int) -> None:
        res = ok(self.cli("protect", "set", model_glob, "--alias", alias, "--approvals", str(approvals)))
        assert alias in res.stdout, res.stdout

    def promotion(self, pid: str, cred: Cred = ADMIN) -> dict:
        return self.ok("GET", f"{API}/promotions/{pid}", cred)

    def review(self, pid: str, cred: Cred, verdict: str = "approve", comment: str | None = None):
        return self.http("POST", f"{API}/promotions/{pid}/{verdict}", cred, json={"comment": comment})

    def history(self, model: str) -> list[dict]:
        return self.ok("GET", f"{API}/registry/models/{model}/history")["events"]

    def alias(self, model: str, alias: str) -> str | None:
        r = self.http("GET", "/api/2.0/mlflow/registered-models/alias", params={"name": model, "alias": alias})
        if r.status_code in (400, 404) and "not found" in r.text:
            return None
        assert r.status_code == 200, r.text
        return r.json()["model_version"]["version"]

    def model(self, owner: Cred, name: str, versions: int, tags: dict[int, dict] | None = None) -> None:
        """A registered model with `versions` versions, created by `owner` through the mlflow client."""
        from mlflow import MlflowClient

        with mlflow_as(owner):
            c = MlflowClient(tracking_uri=self.url)
            c.create_registered_model(name)
            for i in range(1, versions + 1):
                mv = c.create_model_version(name, f"s3://e2e-bucket/{name}/{i}", tags=(tags or {}).get(i))
                assert mv.version == str(i)
                assert mv.user_id == owner.user, "the version's creator is the authenticated principal"

    def request(self, cred: Cred, model: str, version: int, alias: str, reason: str) -> dict:
        """`cairn promote request … --json` as `cred`."""
        out = as_json(self.cli("promote", "request", model, str(version), "--alias", alias,
                               "--reason", reason, "--json", cred=cred))
        assert out["state"] == "open", out
        assert out["id"].startswith("pr_"), out
        return out


def start_auth_server(data_dir: Path, extra: list[str] | None = None) -> CairnServer:
    server = CairnServer(data_dir, extra_args=["--auth", *(extra or [])], env=ADMIN_ENV)
    try:
        server.start()
    except RuntimeError as e:
        CairnServer.instances.remove(server)
        pytest.fail(str(e), pytrace=False)
    return server


@pytest.fixture(scope="module")
def gov(tmp_root):
    server = start_auth_server(tmp_root / uid("gov"))
    yield Gov(server)
    CairnServer.instances.remove(server)
    server.stop_cleanly()


@contextlib.contextmanager
def active_policy(gov: Gov, tmp_path: Path, source: str):
    """`cairn policy set` for the block, `cairn policy clear` after (the policy is server-wide)."""
    f = tmp_path / "promotion.rego"
    f.write_text(source)
    out = ok(gov.cli("policy", "set", f, "--entrypoint", "data.cairn.promotion")).stdout
    try:
        yield out
    finally:
        ok(gov.cli("policy", "clear"))


# ---------------------------------------------------------------------------------------------
# Start-up
# ---------------------------------------------------------------------------------------------
def run_server(args: list[str], env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """`cairn server ARGS` expected to refuse to start: it must exit by itself."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_") and not k.startswith("MLFLOW_TRACKING_")}
    if PG:
        args = [*args, "--backend-store-uri", os.environ["CAIRN_E2E_BACKEND_STORE_URI"]]
    return subprocess.run([str(cairn_bin()), "server", "--port", "0", *args], env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(PG, reason="the shared PostgreSQL database already has an admin")
def test_auth_without_an_admin_refuses_to_start(tmp_path):
    res = run_server(["--auth", "--data-dir", str(tmp_path / "d")])
    assert res.returncode != 0
    assert "CAIRN_ADMIN_USERNAME" in res.stdout + res.stderr, res.stdout + res.stderr
    # A user name alone is not enough either: there is no default password.
    res = run_server(["--auth", "--data-dir", str(tmp_path / "d")], env={"CAIRN_ADMIN_USERNAME": ADMIN_USER})
    assert res.returncode != 0
    assert "CAIRN_ADMIN_USERNAME" in res.stdout + res.stderr


def test_network_address_without_auth_refuses_to_start(tmp_path):
    res = run_server(["--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")])
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "--auth" in out and "--allow-unauthenticated" in out, out
    # With the explicit opt-out it serves (checked on loopback: 0.0.0.0 covers it).
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    cmd = [str(cairn_bin()), "server", "--host", "0.0.0.0", "--port", str(port), "--allow-unauthenticated",
           "--data-dir", str(tmp_path / "open")]
    if PG:
        cmd += ["--backend-store-uri", os.environ["CAIRN_E2E_BACKEND_STORE_URI"]]
    proc = subprocess.Popen(cmd, env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"--allow-unauthenticated did not start (exit {proc.returncode})"
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            pytest.fail("--allow-unauthenticated server never answered /health")
        # Open means open: anonymous requests are served.
        assert requests.post(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search", json={},
                             timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_admin_init_then_auth_server_signs_checkpoints(tmp_path):
    """`cairn admin init` before the first start; the audit key is created 0600; a checkpoint note is
    written when the log grows and at clean shutdown, covering every entry."""
    data = tmp_path / "data"
    args = ["admin", "init", "--username", ADMIN_USER, "--password", ADMIN_PASSWORD, "--data-dir", data]
    if PG:
        args += ["--backend-store-uri", os.environ["CAIRN_E2E_BACKEND_STORE_URI"]]
    first = ok(cairn(*args)).stdout
    assert PG or f"created admin {ADMIN_USER}" in first, first
    key = tmp_path / "keys" / "audit.key"  # kept outside the data folder (--audit-key)
    server = CairnServer(data, extra_args=["--auth", "--audit-key", str(key)])  # no CAIRN_ADMIN_* this time
    server.start()
    try:
        r = requests.get(server.url + f"{API}/whoami", auth=(ADMIN_USER, ADMIN_PASSWORD), timeout=10)
        assert r.status_code == 200 and r.json()["is_admin"] is True, r.text
        assert key.is_file() and not (data / "audit" / "signing.key").exists()
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, oct(key.stat().st_mode)
        who = uid("init")
        r = requests.post(server.url + f"{API}/users", auth=(ADMIN_USER, ADMIN_PASSWORD),
                          json={"username": who, "password": "init-pass-123"}, timeout=10)
        assert r.status_code == 201, r.text
        notes = data / "audit" / "checkpoints"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not list(notes.glob("*.note")):
            time.sleep(0.2)
        assert list(notes.glob("*.note")), "no checkpoint note within 10 s of a governed change"
    finally:
        CairnServer.instances.remove(server)
        server.stop_cleanly()
    if PG:
        return  # the entry count below is this data folder's SQLite chain
    import sqlite3

    with contextlib.closing(sqlite3.connect(data / "cairn.db")) as db:
        entries = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        last = db.execute("SELECT max(size) FROM audit_checkpoints").fetchone()[0]
    sizes = sorted(int(p.stem) for p in notes.glob("*.note"))
    assert last == entries == sizes[-1], (last, entries, sizes)
    # Offline, the chain verifies with that key (and cannot without it).
    res = cairn("audit", "verify", "--data-dir", data, "--audit-key", key, "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["last_checkpoint"] == entries, res.stdout + res.stderr
    assert cairn("audit", "verify", "--data-dir", data, "--json").returncode == 2
    # A second `admin init` changes nothing and says so (an admin exists).
    assert "nothing changed" in ok(cairn(*args)).stdout


# ---------------------------------------------------------------------------------------------
# Authentication and the route table
# ---------------------------------------------------------------------------------------------
def test_401_and_403_shapes(gov):
    r = gov.http("POST", "/api/2.0/mlflow/experiments/search", None, json={})
    assert_error(r, 401, "UNAUTHENTICATED")
    assert "Basic" in r.headers["WWW-Authenticate"] and "Bearer" in r.headers["WWW-Authenticate"]
    viewer = gov.user("viewer", ("viewer", "*"))
    assert gov.http("POST", "/api/2.0/mlflow/experiments/search", viewer, json={}).status_code == 200
    body = assert_error(gov.http("POST", "/api/2.0/mlflow/experiments/create", viewer, json={"name": uid("x")}),
                        403, "PERMISSION_DENIED")
    assert "track" in body["message"], body
    # Wrong password, unknown user, a garbage bearer token: 401, never 403 or 200.
    assert_error(gov.http("GET", f"{API}/whoami", Cred(viewer.user, "not-the-password")), 401, "UNAUTHENTICATED")
    assert_error(gov.http("GET", f"{API}/whoami", Cred(uid("ghost"), "whatever-pass")), 401, "UNAUTHENTICATED")
    assert_error(gov.http("GET", f"{API}/whoami", Cred(None, token="not-a-token")), 401, "UNAUTHENTICATED")
    assert_error(gov.http("GET", f"{API}/whoami", Cred(None, token="cairn_pat_0123456789abcdef_nope")),
                 401, "UNAUTHENTICATED")


# Readiness answers 503 while a deployment on a shared database is not servable (the PostgreSQL pass):
# that is its job, so these two tests accept it there and check every other status themselves.
@pytest.mark.allow_5xx
def test_every_listed_route_is_guarded(gov):
    """Deny by default, checked against the server's own list of the routes it serves: anonymous →
    401 everywhere but the public routes; a user without grants → 403 wherever a capability is needed."""
    r = gov.http("GET", f"{API}/auth/routes")
    assert r.status_code == 200, r.text
    routes = r.json()["routes"]
    assert len(routes) > 100, len(routes)
    paths = {x["path"] for x in routes}
    for expected in ("/api/2.0/mlflow/runs/get", "/api/cairn/v1/deployments/{name}", "/health",
                     "/api/cairn/v1/promotions/{id}/approve", "/api/2.0/mlflow/registered-models/alias"):
        assert expected in paths, expected
    needs = {x["needs"] for x in routes}
    assert needs <= CAPABILITIES | {"public", "authenticated"}, needs
    public = {(x["method"], x["path"]) for x in routes if x["needs"] == "public"}
    assert {("GET", "/health"), ("GET", "/version"), ("GET", "/ping"), ("GET", "/v2/health/live"),
            ("GET", "/v2/health/ready"), ("GET", "/login"), ("GET", "/static/{file}")} <= public, public
    assert all(m == "GET" or p == "/login" for m, p in public), public

    def concrete(path: str) -> str:
        path = re.sub(r"\{\*[^}]+\}", "a/b", path)
        path = re.sub(r"\{version\}", "1", path)
        return re.sub(r"\{[^}]+\}", "x", path)

    nobody = gov.user("nogrants")
    problems = []
    anon = requests.Session()
    mine = requests.Session()
    mine.headers.update(nobody.headers())
    for route in routes:
        method, path, need = route["method"], route["path"], route["needs"]
        url = gov.url + concrete(path)
        kw = {"timeout": 30} if method == "GET" else {"json": {}, "timeout": 30}
        a = anon.request(method, url, **kw)
        if need == "public":
            not_ready = path == "/v2/health/ready" and a.status_code == 503 and a.json() == {"ready": False}
            if a.status_code == 401 or (a.status_code >= 500 and not not_ready):
                problems.append(f"public {method} {path}: anonymous got {a.status_code}")
            continue
        if a.status_code != 401 or not a.headers.get("WWW-Authenticate"):
            problems.append(f"{method} {path} ({need}): anonymous got {a.status_code} {a.text[:120]}")
        elif a.json().get("error_code") != "UNAUTHENTICATED":
            problems.append(f"{method} {path}: anonymous 401 body {a.text[:120]}")
        b = mine.request(method, url, **kw)
        if need in CAPABILITIES:
            if b.status_code != 403 or b.json().get("error_code") != "PERMISSION_DENIED":
                problems.append(f"{method} {path} ({need}): grantless user got {b.status_code} {b.text[:120]}")
        elif b.status_code == 401 or b.status_code >= 500:
            problems.append(f"{method} {path} (authenticated): grantless user got {b.status_code} {b.text[:120]}")
    assert not problems, f"{len(problems)} of {len(routes)} routes misbehave:\n" + "\n".join(problems[:40])


@pytest.mark.allow_5xx
def test_public_routes_answer_without_credentials(gov):
    for path in ("/health", "/version", "/ping", "/v2/health/live", "/v2/health/ready"):
        r = gov.http("GET", path, None)
        not_ready = path == "/v2/health/ready" and r.status_code == 503 and r.json() == {"ready": False}
        assert r.status_code == 200 or not_ready, f"{path}: {r.status_code} {r.text[:200]}"
    # Anything else, even a path no route serves, is for principals only (no probing anonymously).
    assert_error(gov.http("GET", "/api/cairn/v1/no-such-thing", None), 401, "UNAUTHENTICATED")
    assert gov.http("GET", "/api/cairn/v1/no-such-thing").status_code == 404


def test_login_page_and_session_cookie(gov):
    u = gov.user("web", ("viewer", "*"))
    page = gov.http("GET", "/login", None, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"], page.status_code
    bad = gov.http("POST", "/login", None, data={"username": u.user, "password": "wrong-password", "next": "/"},
                   allow_redirects=False)
    assert bad.status_code < 500 and "cairn_session" not in bad.cookies, bad.headers
    good = gov.http("POST", "/login", None, data={"username": u.user, "password": u.password, "next": "/"},
                    allow_redirects=False)
    assert 300 <= good.status_code < 400, good.status_code
    session = good.cookies.get("cairn_session")
    assert session, good.headers
    who = gov.http("GET", f"{API}/whoami", None, cookies={"cairn_session": session})
    assert who.status_code == 200 and who.json()["user"] == u.user and who.json()["via"] == "token", who.text


def test_password_token_bearer_and_cookie(gov):
    u = gov.user("auth", ("viewer", "*"))
    who = gov.ok("GET", f"{API}/whoami", u)
    assert who["user"] == u.user and who["via"] == "password" and who["is_admin"] is False
    assert who["roles"] == ["viewer"] and who["grants"] == [{"role": "viewer", "scope": "*"}], who
    # The user makes their own token with the CLI (authenticated by their password).
    t = as_json(gov.cli("token", "create", "--name", "laptop", "--json", cred=u))
    assert set(t) >= {"id", "token", "user", "name", "expires_ms"}, t
    assert t["user"] == u.user and t["name"] == "laptop"
    days = (t["expires_ms"] - time.time() * 1000) / 86_400_000
    assert 89 < days <= 90.01, days  # 90 days by default
    token = t["token"]
    for cred in (Cred(u.user, token=token), Cred(None, token=token)):
        who = gov.ok("GET", f"{API}/whoami", cred)
        assert who["user"] == u.user and who["via"] == "token", who
    r = gov.http("GET", f"{API}/whoami", None, cookies={"cairn_session": token})
    assert r.status_code == 200 and r.json()["user"] == u.user, r.text
    assert_error(gov.http("GET", f"{API}/whoami", None, cookies={"cairn_session": "forged"}), 401, "UNAUTHENTICATED")
    # A token is only good with its own user's name.
    assert_error(gov.http("GET", f"{API}/whoami", Cred(ADMIN_USER, token=token)), 401, "UNAUTHENTICATED")
    listed = ok(gov.cli("token", "list", cred=u)).stdout
    assert t["id"] in listed and token not in listed, listed
    # The CLI finds the server in --server, CAIRN_SERVER or MLFLOW_TRACKING_URI, and the credential in
    # MLFLOW_TRACKING_USERNAME + _PASSWORD, else MLFLOW_TRACKING_TOKEN.
    res = cairn("token", "list", env={"MLFLOW_TRACKING_URI": gov.url, "MLFLOW_TRACKING_TOKEN": token})
    assert res.returncode == 0 and t["id"] in res.stdout, res.stdout + res.stderr
    res = cairn("token", "list", "--server", gov.url, env={"MLFLOW_TRACKING_TOKEN": token})
    assert res.returncode == 0 and t["id"] in res.stdout, res.stdout + res.stderr
    refused(cairn("token", "list", "--server", gov.url, env={"MLFLOW_TRACKING_TOKEN": token,
                                                            "MLFLOW_TRACKING_USERNAME": u.user,
                                                            "MLFLOW_TRACKING_PASSWORD": "wrong-password"}), 401)
    refused(cairn("token", "list", "--server", gov.url), 401)
    never = as_json(gov.cli("token", "create", "--name", "ci", "--expires-days", "0", "--json", cred=u))
    assert never["expires_ms"] is None, never
    # Revoking through this server takes effect at once, despite the verified-principal cache.
    ok(gov.cli("token", "revoke", t["id"], cred=u))
    for cred in (Cred(u.user, token=token), Cred(None, token=token)):
        assert_error(gov.http("GET", f"{API}/whoami", cred), 401, "UNAUTHENTICATED")
    assert_error(gov.http("GET", f"{API}/whoami", None, cookies={"cairn_session": token}), 401, "UNAUTHENTICATED")
    assert gov.http("GET", f"{API}/whoami", Cred(None, token=never["token"])).status_code == 200
    # Tokens for someone else are an admin's business.
    other = gov.user("other")
    refused(gov.cli("token", "create", "--name", "x", "--user", other.user, cred=u), 403)
    theirs = as_json(gov.cli("token", "create", "--name", "svc", "--user", other.user, "--json"))
    assert theirs["user"] == other.user
    assert gov.ok("GET", f"{API}/whoami", Cred(None, token=theirs["token"]))["user"] == other.user


def test_password_change_and_user_deletion_take_effect_at_once(gov):
    u = gov.user("pw", ("viewer", "*"))
    token = as_json(gov.cli("token", "create", "--name", "t", "--json", cred=u))["token"]
    assert gov.http("GET", f"{API}/whoami", u).status_code == 200  # the password is now cached as verified
    new = Cred(u.user, "a-brand-new-pass")
    ok(gov.cli("user", "passwd", u.user, "--password", new.password, cred=u))  # one's own
    assert_error(gov.http("GET", f"{API}/whoami", u), 401, "UNAUTHENTICATED")
    assert gov.http("GET", f"{API}/whoami", new).status_code == 200
    refused(gov.cli("user", "passwd", ADMIN_USER, "--password", "hijacked-pass", cred=new), 403)
    # The CLI's user management (admin only).
    refused(gov.cli("user", "create", uid("nope"), "--password", "nope-pass-123", cred=new), 403)
    made = uid("cli")
    ok(gov.cli("user", "create", made, "--password", "cli-pass-1234"))
    assert made in ok(gov.cli("user", "list")).stdout
    users = gov.ok("GET", f"{API}/users")["users"]
    assert all("password_hash" not in x for x in users), "password hashes must never leave the server"
    ok(gov.cli("user", "delete", u.user))
    assert_error(gov.http("GET", f"{API}/whoami", new), 401, "UNAUTHENTICATED")
    assert_error(gov.http("GET", f"{API}/whoami", Cred(None, token=token)), 401, "UNAUTHENTICATED")
    assert u.user not in ok(gov.cli("user", "list")).stdout


# ---------------------------------------------------------------------------------------------
# Grants
# ---------------------------------------------------------------------------------------------
def test_model_glob_grant(gov):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    prefix = uid("glob")
    sci = gov.user("globsci")
    ok(gov.cli("grant", "--user", sci.user, "--role", "scientist", "--model", f"{prefix}-*"))
    listed = as_json(gov.cli("grant", "--list", "--user", sci.user, "--json"))["grants"]
    assert [(g["role"], g["scope"]) for g in listed] == [("scientist", f"model:{prefix}-*")], listed
    outside = uid("outside")
    gov.model(ADMIN, outside, 1)
    with mlflow_as(sci):
        c = MlflowClient(tracking_uri=gov.url)
        c.create_registered_model(f"{prefix}-a")
        assert c.create_model_version(f"{prefix}-a", "s3://e2e-bucket/a").version == "1"
        assert c.get_registered_model(f"{prefix}-a").name == f"{prefix}-a"
        for write in (lambda: c.create_model_version(outside, "s3://e2e-bucket/o"),
                      lambda: c.set_registered_model_tag(outside, "k", "v"),
                      lambda: c.get_registered_model(outside)):
            with pytest.raises(MlflowException) as e:
                write()
            assert e.value.error_code == "PERMISSION_DENIED", e.value
    # The model named in the query string of a POST is not the one the handler acts on: the body's is.
    r = gov.http("POST", f"/api/2.0/mlflow/model-versions/create?name={prefix}-a", sci,
                 json={"name": outside, "source": "s3://e2e-bucket/sneaky"})
    assert_error(r, 403, "PERMISSION_DENIED")
    assert [v["version"] for v in gov.ok("POST", "/api/2.0/mlflow/model-versions/search",
                                         json={"filter": f"name='{outside}'"})["model_versions"]] == ["1"]
    # Deployment globs: an operator of some deployments reaches those (a 404 here: none exist), not others.
    ok(gov.cli("grant", "--user", sci.user, "--role", "operator", "--deployment", f"{prefix}-dep-*"))
    assert gov.http("GET", f"{API}/deployments/{prefix}-dep-1", sci).status_code == 404
    assert gov.http("POST", f"{API}/deployments/{prefix}-dep-1/predictions", sci, json={}).status_code in (400, 404)
    assert_error(gov.http("GET", f"{API}/deployments/{outside}", sci), 403, "PERMISSION_DENIED")
    assert_error(gov.http("POST", f"{API}/deployments/{outside}/predictions", sci, json={}), 403, "PERMISSION_DENIED")
    # Revoked: gone at once.
    ok(gov.cli("grant", "--user", sci.user, "--role", "scientist", "--model", f"{prefix}-*", "--revoke"))
    assert_error(gov.http("POST", "/api/2.0/mlflow/model-versions/create", sci,
                          json={"name": f"{prefix}-a", "source": "s3://e2e-bucket/b"}), 403, "PERMISSION_DENIED")


def test_experiment_scoped_scientist(gov):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    admin_c = None
    with mlflow_as(ADMIN):
        admin_c = MlflowClient(tracking_uri=gov.url)
        mine = admin_c.create_experiment(uid("exp-mine"))
        theirs = admin_c.create_experiment(uid("exp-theirs"))
        their_run = admin_c.create_run(theirs).info.run_id
    sci = gov.user("expsci")
    ok(gov.cli("grant", "--user", sci.user, "--role", "scientist", "--experiment", mine))
    with mlflow_as(sci):
        c = MlflowClient(tracking_uri=gov.url)
        run = c.create_run(mine).info.run_id
        c.log_param(run, "lr", "0.1")
        c.log_metric(run, "loss", 0.5)
        c.set_terminated(run)
        assert c.get_run(run).data.metrics == {"loss": 0.5}
        for act in (lambda: c.log_metric(their_run, "loss", 9.0),
                    lambda: c.log_param(their_run, "lr", "9"),
                    lambda: c.set_tag(their_run, "k", "v"),
                    lambda: c.get_run(their_run),
                    lambda: c.create_run(theirs)):
            with pytest.raises(MlflowException) as e:
                act()
            assert e.value.error_code == "PERMISSION_DENIED", e.value
    # The same attempts spelled the other ways the handler understands: camelCase fields, the run in
    # the query string of a POST (ignored by the handler), no experiment at all (the default one).
    attempts = [
        ("POST", "/api/2.0/mlflow/runs/log-metric", {}, {"runId": their_run, "key": "x", "value": 1, "timestamp": 1}),
        ("POST", "/api/2.0/mlflow/runs/log-metric", {"run_id": run}, {"run_id": their_run, "key": "x", "value": 1, "timestamp": 1}),
        ("POST", "/api/2.0/mlflow/runs/log-metric", {}, {"run_id": "", "run_uuid": their_run, "key": "x", "value": 1, "timestamp": 1}),
        ("GET", "/api/2.0/mlflow/runs/get", {"runId": their_run}, None),
        ("POST", "/api/2.0/mlflow/runs/create", {}, {"experimentId": theirs}),
        ("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": mine}, {"experiment_id": theirs}),
        ("POST", "/api/2.0/mlflow/runs/create", {}, {}),
    ]
    for method, path, params, body in attempts:
        r = gov.http(method, path, sci, params=params, json=body)
        assert r.status_code == 403, f"{method} {path} {params} {body}: {r.status_code} {r.text[:300]}"
    with mlflow_as(ADMIN):
        assert admin_c.get_run(their_run).data.metrics == {}, "a denied write must not have happened"


# ---------------------------------------------------------------------------------------------
# The mlflow client, unchanged, with credentials
# ---------------------------------------------------------------------------------------------
def test_mlflow_client_with_token_as_password_and_tracking_token(gov):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    sci = gov.user("mlsci", ("scientist", "*"))
    token = as_json(gov.cli("token", "create", "--name", "notebook", "--user", sci.user, "--json"))["token"]
    name = uid("mlclient")
    previous_uri = mlflow.get_tracking_uri()
    try:
        with mlflow_as(Cred(sci.user, token=token)):
            mlflow.set_tracking_uri(gov.url)
            mlflow.set_experiment(uid("mlclient-exp"))
            with mlflow.start_run() as run:
                mlflow.log_param("alpha", 0.5)
                mlflow.log_metric("auc", 0.91)
            c = MlflowClient(tracking_uri=gov.url)
            c.create_registered_model(name)
            c.create_model_version(name, f"s3://e2e-bucket/{name}", run_id=run.info.run_id)
        with mlflow_as(Cred(None, token=token)):  # MLFLOW_TRACKING_TOKEN: Bearer
            c = MlflowClient(tracking_uri=gov.url)
            assert c.get_run(run.info.run_id).data.metrics == {"auc": 0.91}
            c.set_registered_model_alias(name, "staging", "1")
            c.set_model_version_tag(name, "1", "reviewed", "yes")
            assert c.get_model_version_by_alias(name, "staging").version == "1"
        with mlflow_as(Cred(sci.user, "wrong-password")):
            with pytest.raises(MlflowException) as e:
                MlflowClient(tracking_uri=gov.url).search_experiments()
            assert "401" in str(e.value) or e.value.error_code == "UNAUTHENTICATED", e.value
        with mlflow_as(None):
            with pytest.raises(MlflowException):
                MlflowClient(tracking_uri=gov.url).get_registered_model(name)
    finally:
        mlflow.set_tracking_uri(previous_uri)
    events = gov.history(name)
    assert [e["kind"] for e in events][:3] == ["model_created", "version_created", "alias_set"], events
    assert {e["actor"] for e in events} == {sci.user}, events
    # The audit chain names the same principal.
    lines = ok(gov.cli("audit", "log", "--actor", sci.user, "--resource", name, "--jsonl")).stdout.splitlines()
    assert lines and all(json.loads(x)["actor"] == sci.user for x in lines), lines
    assert any(json.loads(x)["action"].endswith("alias_set") for x in lines), lines


def auth_service_client(url: str):
    """`mlflow.server.get_app_client("basic-auth")`, MLflow's own AuthServiceClient. Its package's
    `__init__` is the Flask server plugin, which needs Flask-WTF (not a client dependency, not installed
    here): when that import fails, the client's modules are loaded without it."""
    import mlflow.server

    try:
        import mlflow.server.auth  # noqa: F401
    except ImportError:
        spec = importlib.util.find_spec("mlflow.server")
        pkg = types.ModuleType("mlflow.server.auth")
        pkg.__path__ = [str(Path(spec.submodule_search_locations[0]) / "auth")]
        sys.modules["mlflow.server.auth"] = pkg
    return mlflow.server.get_app_client("basic-auth", tracking_uri=url)


def test_mlflow_auth_service_client(gov):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    x, y = uid("asc-x"), uid("asc-y")
    gov.model(ADMIN, x, 1)
    gov.model(ADMIN, y, 1)
    name, other = uid("asc"), uid("asc-other")
    with mlflow_as(ADMIN):
        c = auth_service_client(gov.url)
        u = c.create_user(name, "asc-pass-1234")
        assert u.username == name and u.is_admin is False
        c.create_user(other, "asc-other-pass")
        assert c.get_user(name).username == name
        c.update_user_password(name, "asc-pass-5678")
        c.update_user_admin(name, True)
        assert c.get_user(name).is_admin is True
        c.update_user_admin(name, False)
        assert c.get_user(name).is_admin is False
        roles = c.list_roles("default")
        assert [(r.id, r.name) for r in roles] == list(enumerate(
            ["viewer", "scientist", "approver", "operator", "invoker", "auditor", "admin"], start=1))
        assert c.get_role(3).name == "approver"
        c.grant_user_permission(name, "registered_model", x, "EDIT")
        p = c.get_user_permission(name, "registered_model", x)
        assert (p.permission, p.allowed) == ("EDIT", True)
        assert c.get_user_permission(name, "registered_model", y).permission == "NO_PERMISSIONS"
        exp = MlflowClient(tracking_uri=gov.url).create_experiment(uid("asc-exp"))
        c.grant_user_permission(name, "experiment", exp, "EDIT")
        c.grant_user_permission(other, "experiment", exp, "USE")
        assert c.get_user_permission(other, "experiment", exp).permission == "READ"
    me = Cred(name, "asc-pass-5678")
    with mlflow_as(me):
        run = MlflowClient(tracking_uri=gov.url).create_run(exp)  # EDIT on the experiment: a scientist there
    with mlflow_as(Cred(other, "asc-other-pass")):
        oc = MlflowClient(tracking_uri=gov.url)
        assert oc.get_run(run.info.run_id).info.experiment_id == exp  # USE: a viewer
        with pytest.raises(MlflowException) as e:
            oc.create_run(exp)
        assert e.value.error_code == "PERMISSION_DENIED"
    assert_error(gov.http("GET", f"{API}/whoami", Cred(name, "asc-pass-1234")), 401, "UNAUTHENTICATED")
    assert sorted(g["scope"] for g in gov.ok("GET", f"{API}/whoami", me)["grants"]) == [
        f"experiment:{exp}", f"model:{x}"]
    with mlflow_as(me):
        mc = MlflowClient(tracking_uri=gov.url)
        assert mc.create_model_version(x, "s3://e2e-bucket/x2").version == "2"
        with pytest.raises(MlflowException) as e:
            mc.create_model_version(y, "s3://e2e-bucket/y2")
        assert e.value.error_code == "PERMISSION_DENIED"
        # Not an admin: the auth API is closed to them.
        with pytest.raises(MlflowException) as e:
            auth_service_client(gov.url).create_user(uid("nope"), "nope-pass-123")
        assert e.value.error_code == "PERMISSION_DENIED"
    with mlflow_as(ADMIN):
        c = auth_service_client(gov.url)
        # MANAGE on one model: admin of that model (may grant on it), not of the server.
        c.grant_user_permission(name, "registered_model", y, "MANAGE")
        assert c.get_user_permission(name, "registered_model", y).permission == "MANAGE"
    with mlflow_as(me):
        mine = auth_service_client(gov.url)
        mine.grant_user_permission(other, "registered_model", y, "READ")
        for act in (lambda: mine.grant_user_permission(other, "registered_model", x, "READ"),
                    lambda: mine.create_user(uid("escalate"), "escalate-pass"),
                    lambda: mine.update_user_admin(name, True),
                    lambda: mine.assign_role(name, 7)):
            with pytest.raises(MlflowException) as e:
                act()
            assert e.value.error_code == "PERMISSION_DENIED", e.value
    for path in (f"{API}/users", f"{API}/auth/routes", f"{API}/audit/entries", f"{API}/grants"):
        assert_error(gov.http("GET", path, me), 403, "PERMISSION_DENIED")
    assert_error(gov.http("POST", f"{API}/protections", me, json={"models": y, "alias": "prod"}), 403,
                 "PERMISSION_DENIED")
    assert {"role": "viewer", "scope": f"model:{y}"} in gov.ok("GET", f"{API}/whoami",
                                                               Cred(other, "asc-other-pass"))["grants"]
    with mlflow_as(ADMIN):
        c = auth_service_client(gov.url)
        c.revoke_user_permission(name, "registered_model", x)
        assert c.get_user_permission(name, "registered_model", x).permission == "NO_PERMISSIONS"
        a = c.assign_role(name, 3)
        assert a.role_id == 3
        assert "approver" in [r.name for r in c.list_user_roles(name)]
        assert any(r.user_id == u.id for r in c.list_role_users(3))
        assert {"role": "approver", "scope": "*"} in gov.ok("GET", f"{API}/whoami", me)["grants"]
        c.unassign_role(name, 3)
        assert "approver" not in [r.name for r in c.list_user_roles(name)]
        c.delete_user(name)
        with pytest.raises(MlflowException) as e:
            c.get_user(name)
        assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with mlflow_as(me):
        with pytest.raises(MlflowException):
            MlflowClient(tracking_uri=gov.url).create_model_version(x, "s3://e2e-bucket/x3")


# ---------------------------------------------------------------------------------------------
# Protected aliases and four-eyes promotion requests
# ---------------------------------------------------------------------------------------------
def test_protected_alias_refuses_direct_moves(gov):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    name = uid("prot")
    sci = gov.user("protsci", ("scientist", f"model:{name}"))
    gov.model(sci, name, 2)
    gov.protect(name, "production", 1)
    gov.protect(name, "Production", 1)  # a stage name protects the stage
    assert {(p["models"], p["alias"], p["approvals"]) for p in
            as_json(gov.cli("protect", "list", "--json"))["protections"]} >= {
        (name, "production", 1), (name, "Production", 1)}
    for who in (sci, ADMIN):  # admins included
        with mlflow_as(who):
            c = MlflowClient(tracking_uri=gov.url)
            for act in (lambda: c.set_registered_model_alias(name, "production", "1"),
                        lambda: c.delete_registered_model_alias(name, "production"),
                        lambda: c.transition_model_version_stage(name, "1", "Production")):
                with pytest.raises(MlflowException) as e:
                    act()
                assert e.value.error_code == "PERMISSION_DENIED", e.value
                assert "cairn promote" in e.value.message, e.value.message
            c.set_registered_model_alias(name, "challenger", "2")  # unprotected: as before
            c.transition_model_version_stage(name, "2", "Staging")
    # The refused moves are chained, with the reason.
    deadline = time.monotonic() + 5
    while True:
        denied = gov.ok("GET", f"{API}/audit/entries", params={"actor": sci.user, "action": "governance.denied"})
        messages = [e for e in denied["entries"] if "is protected" in json.dumps(e)]
        if messages or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert messages, denied
    # The native API's compare-and-set is guarded too.
    r = gov.http("PUT", f"{API}/models/{name}/aliases/production", json={"version": "1", "expected_version": None})
    assert_error(r, 403, "PERMISSION_DENIED")
    assert gov.alias(name, "production") is None
    # A stage name protects in any case: with one of the two rules left, the alias is still guarded.
    ok(gov.cli("protect", "remove", name, "--alias", "production"))
    assert_error(gov.http("POST", "/api/2.0/mlflow/registered-models/alias", sci,
                          json={"name": name, "alias": "production", "version": "1"}), 403, "PERMISSION_DENIED")
    ok(gov.cli("protect", "remove", name, "--alias", "Production"))
    with mlflow_as(sci):
        MlflowClient(tracking_uri=gov.url).set_registered_model_alias(name, "production", "1")
    assert gov.alias(name, "production") == "1"


@pytest.fixture
def team(gov):
    """A model's people: its creator and a requester (each also an approver, to show four-eyes is not
    a matter of roles), two approvers, an approver of other models only, and an operator."""
    name = uid("fraud")
    both = [("scientist", f"model:{name}"), ("approver", f"model:{name}")]
    t = types.SimpleNamespace(
        model=name,
        creator=gov.user("creator", *both),
        requester=gov.user("requester", *both),
        a1=gov.user("approver1", ("approver", f"model:{name}")),
        a2=gov.user("approver2", ("approver", "*")),
        elsewhere=gov.user("approver-other", ("approver", "model:not-this-one-*")),
        operator=gov.user("operator", ("operator", f"model:{name}")),
    )
    return t


def test_four_eyes_promotion_with_two_approvals(gov, team):
    from mlflow import MlflowClient

    m = team.model
    gov.model(team.creator, m, 2)
    with mlflow_as(team.creator):
        MlflowClient(tracking_uri=gov.url).set_registered_model_alias(m, "production", "1")
    gov.protect(m, "production", 2)
    req = gov.request(team.requester, m, 2, "production", "v2 beats v1 on the holdout")
    pid = req["id"]
    p = req["promotion"]
    assert (p["model"], p["version"], p["alias"], p["required_approvals"]) == (m, 2, "production", 2), p
    assert p["requested_by"] == team.requester.user and p["version_creator"] == team.creator.user, p
    # Four-eyes: not the requester, not the version's creator, not an approver of other models.
    for who, why in ((team.requester, "requested"), (team.creator, "registered"), (team.elsewhere, "approver role")):
        body = assert_error(gov.review(pid, who), 403, "PERMISSION_DENIED")
        assert why in body["message"], body
    refused(gov.cli("promote", "approve", pid, cred=team.requester), 403, "four-eyes")
    # A scientist cannot move it either way but by the request.
    refused(gov.cli("promote", "apply", pid, cred=team.creator), 403)
    first = as_json(gov.cli("promote", "approve", pid, "--json", cred=team.a1))
    assert first["state"] == "open" and [a["by"] for a in first["promotion"]["approvals"]] == [team.a1.user]
    assert gov.alias(m, "production") == "1", "one approval of two moves nothing"
    again = gov.review(pid, team.a1)
    assert again.status_code in (400, 409), again.text
    assert gov.promotion(pid)["promotion"]["approvals"][0]["by"] == team.a1.user
    assert len(gov.promotion(pid)["promotion"]["approvals"]) == 1
    r = gov.review(pid, team.a2, comment="looks good")
    assert r.status_code == 200, r.text
    done = r.json()["promotion"]
    assert done["state"] == "applied" and done["previous_version"] == 1, done
    assert gov.alias(m, "production") == "2"
    shown = gov.promotion(pid)
    assert [(a["by"], a["verdict"]) for a in shown["promotion"]["approvals"]] == [
        (team.a1.user, "approve"), (team.a2.user, "approve")]
    assert shown["promotion"]["approvals"][1]["comment"] == "looks good"
    assert shown["decisions"] == []  # no policy is active
    assert pid in ok(gov.cli("promote", "show", pid, cred=team.a1)).stdout
    # An applied request is over.
    assert gov.review(pid, gov.user("late", ("approver", "*"))).status_code in (400, 409)
    # The registry's history credits each change to who made it.
    events = gov.history(m)
    created = [e for e in events if e["kind"] == "version_created"]
    assert {e["actor"] for e in created} == {team.creator.user}
    moves = [e for e in events if e.get("alias") == "production"]
    assert [(e["version"], e["actor"]) for e in moves] == [("1", team.creator.user), ("2", team.a2.user)], moves
    # Admins are not exempt: the admin asks, so the admin cannot approve.
    own = gov.request(ADMIN, m, 1, "production", "roll back for the demo")["id"]
    body = assert_error(gov.review(own, ADMIN), 403, "PERMISSION_DENIED")
    assert "four-eyes" in body["message"], body
    refused(gov.cli("promote", "withdraw", own, cred=team.a1), 403)
    ok(gov.cli("promote", "withdraw", own))
    assert gov.promotion(own)["promotion"]["state"] == "withdrawn"
    listed = as_json(gov.cli("promote", "list", "--model", m, "--json"))
    states = {p["id"]: p["state"] for p in listed["promotions"]}
    assert states == {pid: "applied", own: "withdrawn"}, states
    applied = as_json(gov.cli("promote", "list", "--model", m, "--state", "applied", "--json"))["promotions"]
    assert [p["id"] for p in applied] == [pid]
    api = gov.ok("GET", f"{API}/promotions", team.a1, params={"model": m, "state": "withdrawn"})["promotions"]
    assert [p["id"] for p in api] == [own]
    # The chain holds the request, each verdict and the application, by who did them.
    trail = [json.loads(x) for x in ok(gov.cli("audit", "log", "--resource", pid, "--jsonl")).stdout.splitlines()]
    actors = [e["actor"] for e in trail]
    assert team.requester.user in actors and team.a1.user in actors and team.a2.user in actors, trail


def test_simultaneous_approvals_apply_the_request(gov, team):
    """Two approvers of a two-approval request approve at the same moment: the request is applied
    (neither may have counted only the approvals before theirs and left it open, fully approved)."""
    a, b = team.a1, team.a2
    family = f"model:{team.model}-*"
    for who, role in ((team.creator, "scientist"), (team.requester, "scientist"), (a, "approver")):
        gov.ok("POST", f"{API}/grants", json={"user": who.user, "role": role, "scope": family})
    for i in range(8):
        m = f"{team.model}-{i}"
        gov.model(team.creator, m, 1)
        gov.protect(m, "production", 2)
        pid = gov.request(team.requester, m, 1, "production", "race")["id"]
        barrier = threading.Barrier(2)
        answers = {}

        def approve(who: Cred) -> None:
            barrier.wait()
            answers[who.user] = gov.review(pid, who)

        threads = [threading.Thread(target=approve, args=(x,)) for x in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {r.status_code for r in answers.values()} == {200}, {k: r.text for k, r in answers.items()}
        p = gov.promotion(pid)["promotion"]
        assert sorted(x["by"] for x in p["approvals"]) == sorted([a.user, b.user]), p
        assert p["state"] == "applied", f"attempt {i}: {p['state']} with {len(p['approvals'])} of 2 approvals"
        assert gov.alias(m, "production") == "1"
        assert len([e for e in gov.history(m) if e.get("alias") == "production"]) == 1


def test_reject_and_bad_requests(gov, team):
    m = team.model
    gov.model(team.creator, m, 1)
    gov.protect(m, "production", 1)
    pid = gov.request(team.requester, m, 1, "production", "first release")["id"]
    ok(gov.cli("promote", "reject", pid, cred=team.a1))
    p = gov.promotion(pid)["promotion"]
    assert p["state"] == "rejected" and p["approvals"][0]["verdict"] == "reject", p
    assert gov.alias(m, "production") is None
    assert gov.review(pid, team.a2).status_code in (400, 409)
    assert gov.alias(m, "production") is None
    # Not protected: move it directly instead.
    r = gov.http("POST", f"{API}/promotions", team.requester,
                 json={"model": m, "version": 1, "alias": "shadow", "reason": "x"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    # No reason; no such version; an approver is not a requester.
    r = gov.http("POST", f"{API}/promotions", team.requester, json={"model": m, "version": 1, "alias": "production"})
    assert r.status_code == 400, r.text
    r = gov.http("POST", f"{API}/promotions", team.requester,
                 json={"model": m, "version": 9, "alias": "production", "reason": "x"})
    assert r.status_code == 404, r.text
    assert_error(gov.http("POST", f"{API}/promotions", team.a1,
                          json={"model": m, "version": 1, "alias": "production", "reason": "x"}),
                 403, "PERMISSION_DENIED")
    r = gov.http("POST", f"{API}/promotions", team.requester,
                 json={"model": m, "version": 1, "alias": "production", "reason": "again"})
    assert r.status_code == 201 and r.json()["promotion"]["state"] == "open", r.text


def test_rollback_only_to_a_version_that_held_the_alias(gov, team):
    from mlflow import MlflowClient

    m = team.model
    gov.model(team.creator, m, 3)
    with mlflow_as(team.creator):
        MlflowClient(tracking_uri=gov.url).set_registered_model_alias(m, "production", "1")
    gov.protect(m, "production", 1)
    pid = gov.request(team.requester, m, 2, "production", "v2")["id"]
    ok(gov.cli("promote", "approve", pid, cred=team.a1))
    assert gov.alias(m, "production") == "2"
    refused(gov.cli("promote", "rollback", m, "3", "--alias", "production", "--reason", "try v3",
                    cred=team.operator), 403, "never held")
    refused(gov.cli("promote", "rollback", m, "1", "--alias", "production", "--reason", "x",
                    cred=team.requester), 403, "operator")
    ok(gov.cli("promote", "rollback", m, "1", "--alias", "production", "--reason", "INC-42 latency",
               cred=team.operator))
    assert gov.alias(m, "production") == "1"
    last = [e for e in gov.history(m) if e.get("alias") == "production"][-1]
    assert (last["version"], last["actor"]) == ("1", team.operator.user), last
    trail = [json.loads(x) for x in ok(gov.cli("audit", "log", "--actor", team.operator.user, "--jsonl")).stdout.splitlines()]
    rollbacks = [e for e in trail if "rollback" in e["action"]]
    assert rollbacks and rollbacks[-1]["detail"]["reason"] == "INC-42 latency", trail
    assert (rollbacks[-1]["detail"]["from"], rollbacks[-1]["detail"]["to"]) == (2, 1), rollbacks
    # Lineage is time-aware: v2 held @production for an interval that has now ended.
    g = gov.ok("GET", f"{API}/lineage", params={"node": f"model_version:{m}/2", "direction": "up"})
    held = [e for e in g["edges"] if e["kind"] == "held" and e["to"] == f"alias:{m}@production"]
    assert len(held) == 1 and held[0].get("valid_from") and held[0].get("valid_to"), g["edges"]


# ---------------------------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------------------------
POLICY = """package cairn.promotion

scoped if startswith(input.target.model, "{prefix}")

deny contains {{"code": "no_ticket", "msg": "the reason must cite a TICKET-"}} if {{
    scoped
    not contains(input.request.reason, "TICKET-")
}}

warn contains "high risk" if {{
    scoped
    input.candidate.tags.risk == "high"
}}

required_approvals := 2 if {{
    scoped
    input.candidate.tags.risk == "high"
}}

deny contains "unreachable" if {{
    startswith(input.target.model, "{broken}")
    1 / (input.candidate.version - input.candidate.version) > 0
}}
"""


def test_policy_denies_raises_approvals_and_records_decisions(gov, team, tmp_path):
    prefix = team.model
    m = prefix
    broken = uid("broken")
    gov.model(team.creator, m, 2, tags={1: {"risk": "high"}})
    gov.model(ADMIN, broken, 1)
    gov.protect(m, "production", 1)
    gov.protect(broken, "production", 1)
    auditor = gov.user("auditor", ("auditor", "*"))
    source = POLICY.format(prefix=prefix, broken=broken)
    with active_policy(gov, tmp_path, source) as set_out:
        shown = as_json(gov.cli("policy", "show"))["policy"]
        assert shown["entrypoint"] == "data.cairn.promotion" and shown["hash"].startswith("sha256:")
        assert shown["hash"] in set_out
        # A deny at request: 403 with the policy's message, and nothing is opened.
        r = gov.http("POST", f"{API}/promotions", team.requester,
                     json={"model": m, "version": 1, "alias": "production", "reason": "trust me"})
        body = assert_error(r, 403, "PERMISSION_DENIED")
        assert "the reason must cite a TICKET-" in body["message"], body
        refused(gov.cli("promote", "request", m, "1", "--alias", "production", "--reason", "trust me",
                        cred=team.requester), 403, "TICKET-")
        assert gov.ok("GET", f"{API}/promotions", params={"model": m})["promotions"] == []
        # Allowed, and the policy raises the approvals this candidate needs.
        req = gov.request(team.requester, m, 1, "production", "TICKET-7 retrained")
        pid = req["id"]
        assert req["promotion"]["required_approvals"] == 2, req
        decisions = gov.ok("GET", f"{API}/policy/decisions", auditor, params={"promotion": pid})["decisions"]
        assert len(decisions) == 1, "the decision the request was judged by, stored under it, once"
        d = decisions[0]
        assert d["promotion_id"] == pid and gov.promotion(pid)["promotion"]["decision_id"] == d["id"], d
        assert d["allow"] is True and d["action"] == "request" and d["bundle_hash"] == shown["hash"], d
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", d["input_hash"]), d
        i = d["input"]
        assert i["schema"] == "cairn.promotion/v1" and i["action"] == "request", i
        assert i["request"]["id"] == pid and i["request"]["reason"] == "TICKET-7 retrained"
        assert i["request"]["requested_by"] == {"id": team.requester.user}
        assert i["actor"]["id"] == team.requester.user and set(i["actor"]["roles"]) == {"scientist", "approver"}
        assert i["target"] == {"model": m, "alias": "production", "rule": {"approvals": 1}}, i["target"]
        c = i["candidate"]
        assert (c["version"], c["created_by"], c["tags"]) == (1, team.creator.user, {"risk": "high"}), c
        assert c["source"] == f"s3://e2e-bucket/{m}/1" and c["card"]["status"] == "draft", c
        assert i["incumbent"] is None and i["approvals"] == [], i
        # No deployment serves the model yet: the monitoring status says so (no monitors, no alerts).
        assert i["monitoring"] == {"deployments": [], "monitors": [], "alerts": 0}, i["monitoring"]
        assert d["result"]["warn"] == ["high risk"] and d["result"]["required_approvals"] == 2, d["result"]
        # The stored input replays offline to the same decision.
        (tmp_path / "in.json").write_text(json.dumps(i))
        (tmp_path / "p.rego").write_text(source)
        replay = subprocess.run([str(cairn_bin()), "policy", "eval", str(tmp_path / "p.rego"), "--input",
                                 str(tmp_path / "in.json")], capture_output=True, text=True, timeout=30,
                                env=cli_env(None, None))
        assert replay.returncode == 0, replay.stderr
        assert json.loads(replay.stdout)["required_approvals"] == 2
        # Decisions are for auditors.
        assert_error(gov.http("GET", f"{API}/policy/decisions", team.requester, params={"promotion": pid}),
                     403, "PERMISSION_DENIED")
        via_cli = as_json(gov.cli("policy", "decisions", "--promotion", pid, "--json", cred=auditor))
        assert {x["id"] for x in via_cli["decisions"]} == {x["id"] for x in decisions}
        everything = gov.ok("GET", f"{API}/policy/decisions", auditor)["decisions"]
        denied = [x for x in everything if x["input"]["target"]["model"] == m and not x["allow"]]
        assert len(denied) == 2, denied  # the API's and the CLI's attempt
        assert all(x["input"]["request"]["reason"] == "trust me" and x["promotion_id"] is None for x in denied)
        assert denied[0]["result"]["deny"] == [{"code": "no_ticket", "msg": "the reason must cite a TICKET-"}]
        # Two approvals now: the first moves nothing, the second applies (and is judged again).
        assert gov.review(pid, team.a1).json()["promotion"]["state"] == "open"
        assert gov.alias(m, "production") is None
        assert gov.review(pid, team.a2).json()["promotion"]["state"] == "applied"
        assert gov.alias(m, "production") == "1"
        decisions = gov.ok("GET", f"{API}/policy/decisions", auditor, params={"promotion": pid})["decisions"]
        applied = [x for x in decisions if x["action"] == "apply"]
        assert len(applied) == 1 and applied[0]["allow"], decisions
        assert [a["by"] for a in applied[0]["input"]["approvals"]] == [team.a1.user, team.a2.user]
        assert applied[0]["input"]["actor"]["id"] == team.a2.user
        # The decisions are on the promotion's lineage.
        g = gov.ok("GET", f"{API}/lineage", params={"node": f"model_version:{m}/1", "direction": "up"})
        gated = {e["from"] for e in g["edges"] if e["kind"] == "gated" and e["to"] == f"promotion:{pid}"}
        assert {f"decision:{x['id']}" for x in decisions} <= gated, g["edges"]
        # A policy that fails at run time denies.
        r = gov.http("POST", f"{API}/promotions", ADMIN,
                     json={"model": broken, "version": 1, "alias": "production", "reason": "TICKET-1"})
        body = assert_error(r, 403, "PERMISSION_DENIED")
        assert "divide by zero" in body["message"], body
        # v2 carries no risk tag: one approval is enough.
        assert gov.request(team.requester, m, 2, "production", "TICKET-8")["promotion"]["required_approvals"] == 1
    # Cleared: approvals alone decide, a reason without a ticket is fine.
    assert as_json(gov.cli("policy", "show"))["policy"] is None
    r = gov.http("POST", f"{API}/promotions", ADMIN,
                 json={"model": broken, "version": 1, "alias": "production", "reason": "no ticket"})
    assert r.status_code == 201, r.text


POLICY_TESTS = """package cairn.promotion_test

import data.cairn.promotion

test_ticket_required if {
    count(promotion.deny) == 1 with input as {"target": {"model": "p-1"}, "request": {"reason": "x"}}
}

test_ticket_accepted if {
    count(promotion.deny) == 0 with input as {"target": {"model": "p-1"}, "request": {"reason": "TICKET-1"}}
}
"""


def test_policy_test_and_eval_offline(tmp_path):
    (tmp_path / "promotion.rego").write_text(POLICY.format(prefix="p-", broken="b-"))
    (tmp_path / "promotion_test.rego").write_text(POLICY_TESTS)
    files = [str(tmp_path / "promotion.rego"), str(tmp_path / "promotion_test.rego")]
    res = cairn("policy", "test", *files)
    assert res.returncode == 0, res.stdout + res.stderr
    (tmp_path / "failing_test.rego").write_text(
        "package cairn.failing_test\n\nimport data.cairn.promotion\n\n"
        "test_wrong if {\n    promotion.required_approvals == 5 with input as {}\n}\n")
    res = cairn("policy", "test", *files, str(tmp_path / "failing_test.rego"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "test_wrong" in res.stdout + res.stderr
    (tmp_path / "broken.rego").write_text("package cairn.promotion\n\ndeny contains \"x\" if {\n    input.a ==\n}\n")
    res = cairn("policy", "test", str(tmp_path / "broken.rego"))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "broken.rego" in res.stdout + res.stderr
    inp = tmp_path / "in.json"
    inp.write_text(json.dumps({"target": {"model": "p-9"}, "request": {"reason": "none"}, "candidate": {"tags": {}}}))
    res = cairn("policy", "eval", files[0], "--input", inp)
    assert res.returncode == 1, res.stdout + res.stderr
    decision = json.loads(res.stdout)
    assert decision["allow"] is False
    assert decision["deny"] == [{"code": "no_ticket", "msg": "the reason must cite a TICKET-"}]
    inp.write_text(json.dumps({"target": {"model": "p-9"}, "request": {"reason": "TICKET-2"},
                               "candidate": {"tags": {"risk": "high"}}}))
    res = cairn("policy", "eval", files[0], "--input", inp)
    assert res.returncode == 0, res.stdout + res.stderr
    decision = json.loads(res.stdout)
    assert decision["allow"] is True and decision["deny"] == [] and decision["required_approvals"] == 2
    assert decision["warn"] == ["high risk"]
    # --data is visible to the policy as `data`.
    (tmp_path / "t.rego").write_text("package cairn.promotion\n\ndeny contains \"too low\" if {\n"
                                     "    input.auc < data.thresholds.auc\n}\n")
    (tmp_path / "d.json").write_text(json.dumps({"thresholds": {"auc": 0.9}}))
    inp.write_text(json.dumps({"auc": 0.8}))
    res = cairn("policy", "eval", tmp_path / "t.rego", "--input", inp, "--data", tmp_path / "d.json")
    assert res.returncode == 1 and json.loads(res.stdout)["deny"][0]["msg"] == "too low", res.stdout


# ---------------------------------------------------------------------------------------------
# Audit through the server
# ---------------------------------------------------------------------------------------------
@pytest.mark.skipif(PG, reason="the shared PostgreSQL database holds checkpoints signed by every server of the run, "
                               "each with its own key: only servers sharing one --audit-key verify together")
def test_audit_verify_through_the_server(gov):
    viewer = gov.user("audview", ("viewer", "*"))
    auditor = gov.user("auditor", ("auditor", "*"))
    ok(gov.cli("audit", "checkpoint"))
    res = gov.cli("audit", "verify", "--server", gov.url, "--json", cred=auditor)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["outcome"] == "intact" and report["seq"] is None, report
    assert report["entries"] > 10 and report["checkpoints_verified"] >= 1, report
    assert report["last_checkpoint"] is not None and report["last_checkpoint"] <= report["entries"]
    pub = ok(gov.cli("audit", "pubkey", cred=auditor)).stdout.strip()
    assert re.fullmatch(r"cairn-audit\S*\+[0-9a-f]{8}\+\S+", pub), pub  # name+hash+key
    res = gov.cli("audit", "verify", "--server", gov.url, "--pubkey", pub, "--json", cred=auditor)
    assert res.returncode == 0 and json.loads(res.stdout)["outcome"] == "intact", res.stdout + res.stderr
    # Without the audit capability there is nothing to verify with: exit 2.
    res = gov.cli("audit", "verify", "--server", gov.url, "--json", cred=viewer)
    assert res.returncode == 2, res.stdout + res.stderr
    assert_error(gov.http("GET", f"{API}/audit/entries", viewer), 403, "PERMISSION_DENIED")


def test_changes_and_refusals_are_chained(gov):
    key = gov.server.data_dir / "audit" / "signing.key"  # the default place of the signing key
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600, key
    viewer = gov.user("audview", ("viewer", "*"))
    auditor = gov.user("auditor", ("auditor", "*"))
    # Governed changes are chained with who made them: the users and grants just created.
    created = gov.ok("GET", f"{API}/audit/entries", auditor, params={"resource": auditor.user})["entries"]
    actions = [e["action"] for e in created]
    assert actions == ["governance.user_created", "governance.grant_added"], created
    assert {e["actor"] for e in created} == {ADMIN_USER}
    assert json.loads(created[1]["entry"])["detail"]["role"] == "auditor", created[1]
    # Refused requests are chained, credited to who tried: by the route table (a capability the viewer
    # lacks) and by the use case (only admins create users).
    assert_error(gov.http("POST", "/api/2.0/mlflow/registered-models/create", viewer, json={"name": uid("no")}),
                 403, "PERMISSION_DENIED")
    assert_error(gov.http("POST", f"{API}/users", viewer, json={"username": uid("no"), "password": "no-pass-123"}),
                 403, "PERMISSION_DENIED")
    routes = set()
    deadline = time.monotonic() + 5  # denials are chained in the background
    while time.monotonic() < deadline and len(routes) < 2:
        lines = ok(gov.cli("audit", "log", "--actor", viewer.user, "--action", "governance.denied", "--jsonl",
                           cred=auditor)).stdout.splitlines()
        entries = [json.loads(x) for x in lines]
        assert all(e["actor"] == viewer.user for e in entries), entries
        routes = {(e["detail"]["method"], e["detail"]["route"]) for e in entries}
        time.sleep(0.2)
    assert {("POST", "/api/2.0/mlflow/registered-models/create"), ("POST", "/api/cairn/v1/users")} <= routes, routes
    assert any("admin" in e["detail"]["message"] for e in entries if e["detail"]["route"] == "/api/cairn/v1/users")


# ---------------------------------------------------------------------------------------------
# Lineage and model cards
# ---------------------------------------------------------------------------------------------
def test_lineage_from_dataset_to_alias(gov, team):
    import mlflow
    import mlflow.data
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    m = team.model
    gov.ok("POST", f"{API}/grants", json={"user": team.creator.user, "role": "scientist", "scope": "*"})
    seed = uuid.uuid4().int % 1000
    df = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, float(seed)], "y": [0, 0, 1, 1, 1]})
    previous_uri = mlflow.get_tracking_uri()
    try:
        with mlflow_as(team.creator):
            mlflow.set_tracking_uri(gov.url)
            mlflow.set_experiment(uid("lineage"))
            with mlflow.start_run() as run:
                ds = mlflow.data.from_pandas(df, name="train", targets="y")
                mlflow.log_input(ds, context="training")
                mlflow.log_metric("auc", 0.93)
                model = LogisticRegression().fit(df[["x"]], df["y"])
                mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
            mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", m)
            assert mv.version == "1"
    finally:
        mlflow.set_tracking_uri(previous_uri)
    gov.protect(m, "production", 1)
    pid = gov.request(team.requester, m, 1, "production", "first model")["id"]
    assert gov.review(pid, team.a1).json()["promotion"]["state"] == "applied"
    run_id, digest = run.info.run_id, ds.digest

    g = gov.ok("GET", f"{API}/lineage", team.a1, params={"node": f"model_version:{m}/1", "direction": "up"})
    assert g["root"] == f"model_version:{m}/1" and g["direction"] == "up", g
    nodes = {n["id"]: n for n in g["nodes"]}
    edges = {(e["from"], e["kind"], e["to"]) for e in g["edges"]}
    for nid, kind in ((f"model_version:{m}/1", "model_version"), (f"run:{run_id}", "run"),
                      (f"dataset:{digest}", "dataset"), (f"promotion:{pid}", "promotion"),
                      (f"alias:{m}@production", "alias")):
        assert nid in nodes and nodes[nid]["kind"] == kind, (nid, sorted(nodes))
    assert nodes[f"dataset:{digest}"]["attrs"]["context"] == "training"
    assert nodes[f"run:{run_id}"]["attrs"]["author"] == team.creator.user
    assert {(f"dataset:{digest}", "input", f"run:{run_id}"),
            (f"run:{run_id}", "registered_as", f"model_version:{m}/1"),
            (f"model_version:{m}/1", "requested", f"promotion:{pid}"),
            (f"promotion:{pid}", "moved", f"alias:{m}@production"),
            (f"model_version:{m}/1", "held", f"alias:{m}@production")} <= edges, edges
    down = gov.ok("GET", f"{API}/lineage", team.a1, params={"node": f"dataset:{digest}", "direction": "down"})
    down_nodes = {n["id"] for n in down["nodes"]}
    assert {f"run:{run_id}", f"model_version:{m}/1"} <= down_nodes, down_nodes
    # The CLI prints the same graph.
    via_cli = as_json(gov.cli("lineage", f"model_version:{m}/1", "--direction", "up", "--json", cred=team.a1))
    assert {n["id"] for n in via_cli["nodes"]} == set(nodes)
    both = gov.ok("GET", f"{API}/lineage", params={"node": f"run:{run_id}", "direction": "both",
                                                   "at": "2030-01-01T00:00:00Z"})
    assert {f"dataset:{digest}", f"model_version:{m}/1"} <= {n["id"] for n in both["nodes"]}
    assert gov.http("GET", f"{API}/lineage", params={"node": f"run:{run_id}", "at": "yesterday"}).status_code == 400
    assert_error(gov.http("GET", f"{API}/lineage", None, params={"node": f"run:{run_id}"}), 401, "UNAUTHENTICATED")


def test_model_card_edit_approve_and_policy(gov, team, tmp_path):
    m = team.model
    gov.model(team.creator, m, 1)
    viewer = gov.user("cardview", ("viewer", "*"))
    card = gov.ok("GET", f"{API}/cards/{m}/1", viewer)["card"]
    assert (card["model"], card["version"], card["status"]) == (m, 1, "draft"), card
    assert {"intended_use", "limitations"} <= set(card["missing"]), card
    assert card["generated"]["identity"]["created_by"] == team.creator.user
    assert set(card["generated"]) >= {"identity", "training", "gates", "approvals", "deployments"}, card
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", card["digest"])
    ok(gov.cli("card", "edit", m, "1", "--set", "intended_use=scoring card payments",
               "--set", "limitations=not for loans", cred=team.creator))
    card2 = gov.ok("GET", f"{API}/cards/{m}/1")["card"]
    assert card2["authored"] == {"intended_use": "scoring card payments", "limitations": "not for loans"}
    assert "intended_use" not in card2["missing"] and "limitations" not in card2["missing"]
    assert card2["status"] == "draft" and card2["digest"] != card["digest"]
    assert_error(gov.http("PUT", f"{API}/cards/{m}/1", viewer, json={"sections": {"risk": "none"}}),
                 403, "PERMISSION_DENIED")
    # The card's author cannot approve it (though an approver of the model); nor can an editor approve
    # in the same request they write in.
    refused(gov.cli("card", "approve", m, "1", cred=team.creator), 403, "four-eyes")
    assert_error(gov.http("PUT", f"{API}/cards/{m}/1", team.requester,
                          json={"sections": {"risk": "low"}, "status": "approved"}), 403, "PERMISSION_DENIED")
    assert gov.ok("GET", f"{API}/cards/{m}/1")["card"]["authored"].get("risk") is None, "a refused write wrote"
    assert_error(gov.http("PUT", f"{API}/cards/{m}/1", team.elsewhere, json={"status": "approved"}),
                 403, "PERMISSION_DENIED")
    # A policy can require an approved card.
    gov.protect(m, "production", 1)
    source = (f'package cairn.promotion\n\ndeny contains "the model card is not approved" if {{\n'
              f'    input.target.model == "{m}"\n    input.candidate.card.status != "approved"\n}}\n')
    with active_policy(gov, tmp_path, source):
        r = gov.http("POST", f"{API}/promotions", team.requester,
                     json={"model": m, "version": 1, "alias": "production", "reason": "ship"})
        assert "the model card is not approved" in assert_error(r, 403, "PERMISSION_DENIED")["message"]
        r = gov.http("PUT", f"{API}/cards/{m}/1", team.a1, json={"status": "approved"})
        assert r.status_code == 200 and r.json()["card"]["status"] == "approved", r.text
        shown = as_json(gov.cli("card", "show", m, "1", "--format", "json", cred=viewer))
        assert (shown["model"], shown["version"], shown["status"]) == (m, 1, "approved"), shown
        pid = gov.request(team.requester, m, 1, "production", "card approved")["id"]
        d = gov.ok("GET", f"{API}/policy/decisions", params={"promotion": pid})["decisions"][-1]
        assert d["input"]["candidate"]["card"]["status"] == "approved"
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", d["input"]["candidate"]["card"]["digest"])
    md = gov.http("GET", f"{API}/cards/{m}/1", viewer, params={"format": "md"})
    assert md.status_code == 200 and md.headers["Content-Type"].startswith("text/markdown"), md.headers
    assert "scoring card payments" in md.text and "not for loans" in md.text
    assert "scoring card payments" in ok(gov.cli("card", "show", m, "1", "--format", "md", cred=viewer)).stdout
    # Editing again makes it a draft that needs a new review.
    ok(gov.cli("card", "edit", m, "1", "--set", "risk_rating=high", cred=team.creator))
    after = gov.ok("GET", f"{API}/cards/{m}/1")["card"]
    assert after["status"] == "draft" and after["authored"]["risk_rating"] == "high"
