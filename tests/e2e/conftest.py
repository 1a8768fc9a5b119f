"""Shared fixtures for the Cairn end-to-end suite.

The suite drives a real `cairn server` process with the official `mlflow` Python client (and with raw
`requests` for wire-level details). One server is started per session; tests stay independent by each
using their own experiment with a unique name.

Environment:
  CAIRN_BIN                        server binary (default: <repo>/target/debug/cairn)
  CAIRN_E2E_BACKEND_STORE_URI      passed as --backend-store-uri (default: none, SQLite in the data dir)
  CAIRN_E2E_ARTIFACTS_DESTINATION  passed as --artifacts-destination (default: none)
  CAIRN_E2E_REFERENCE=mlflow       run the suite against the real `mlflow server` from the venv instead,
                                   to check the tests themselves; tests marked `cairn_only` are skipped.

Every test also fails if any HTTP response it caused had a 5xx status, or if the server log shows a 5xx
or a panic while it ran (mark a test `allow_5xx` to opt out: only a replica's not-ready answers do).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

# Must be in place before the client makes its first request: no retries (a 5xx must fail fast
# instead of backing off for minutes), bounded timeouts, no telemetry.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "30"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
os.environ.pop("MLFLOW_RUN_ID", None)

import urllib3.connectionpool  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = os.environ.get("CAIRN_E2E_REFERENCE", "").lower() == "mlflow"
START_TIMEOUT_S = 180.0 if REFERENCE else 30.0

# ---------------------------------------------------------------------------------------------
# 5xx detection: every HTTP response seen by urllib3 (which both `requests` and the mlflow client
# use) is inspected before any retry logic can swallow it.
# ---------------------------------------------------------------------------------------------
_SERVER_ERRORS: list[str] = []
_SERVER_ERRORS_LOCK = threading.Lock()
_orig_make_request = urllib3.connectionpool.HTTPConnectionPool._make_request


def _recording_make_request(self, conn, method, url, *args, **kwargs):
    response = _orig_make_request(self, conn, method, url, *args, **kwargs)
    try:
        status = int(response.status)
    except Exception:  # pragma: no cover - defensive
        status = 0
    if status >= 500:
        with _SERVER_ERRORS_LOCK:
            _SERVER_ERRORS.append(f"{method} {url} -> HTTP {status}")
    return response


urllib3.connectionpool.HTTPConnectionPool._make_request = _recording_make_request

# A 5xx status, an internal error or a Rust panic in the server's log (ANSI colours stripped first).
# Matches `status=500`, `"status":500`, tower-http's `classification=Status code: 500 ...`,
# Cairn's `request failed code=InternalError`, and uvicorn's `"POST ... HTTP/1.1" 500`.
_LOG_5XX = re.compile(
    r"panicked at|InternalError|INTERNAL_ERROR|response failed|request failed"
    r"|(?:status|status_code|code)[\"']?\s*[=:]\s*[\"']?5\d\d\b|HTTP/1\.[01]\"?\s+5\d\d\b",
    re.IGNORECASE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cairn_bin() -> Path:
    return Path(os.environ.get("CAIRN_BIN", REPO_ROOT / "target" / "debug" / "cairn"))


def start_serving(args: list[str], tmp_path_factory):
    """Starts `cairn serve ARGS` on a free port; returns the process and its base URL once it is ready."""
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    proc = subprocess.Popen(
        [str(cairn_bin()), "serve", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"cairn serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"cairn serve did not become ready:\n{log.read_text()}")



class CairnServer:
    """One server process on a fixed data dir and port, which can be stopped, killed and restarted."""

    instances: list["CairnServer"] = []

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        backend_store_uri: str | None = None,
    ):
        # Extra `cairn server` flags (e.g. `--auth`) and environment (e.g. CAIRN_ADMIN_USERNAME).
        self.extra_args = list(extra_args or [])
        # The session's database unless a test gives the server one of its own (`private_database`).
        self.backend_store_uri = backend_store_uri or os.environ.get("CAIRN_E2E_BACKEND_STORE_URI")
        self.env = dict(env or {})
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.proc: subprocess.Popen | None = None
        self._log_file = None
        CairnServer.instances.append(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if REFERENCE:
            cmd = [
                str(Path(sys.executable).with_name("mlflow")),
                "server",
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--workers", "1",
                "--backend-store-uri", f"sqlite:///{self.data_dir / 'mlflow.db'}",
                "--artifacts-destination", str(self.data_dir / "artifacts"),
            ]
            return cmd
        cmd = [
            str(cairn_bin()),
            "server",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
        ]
        if self.backend_store_uri:
            cmd += ["--backend-store-uri", self.backend_store_uri]
        if os.environ.get("CAIRN_E2E_ARTIFACTS_DESTINATION"):
            cmd += ["--artifacts-destination", os.environ["CAIRN_E2E_ARTIFACTS_DESTINATION"]]
        return cmd + self.extra_args

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        if not REFERENCE and not cairn_bin().exists():
            raise RuntimeError(f"Cairn binary not found at {cairn_bin()} (set CAIRN_BIN or build it)")
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"\n==== start {' '.join(self.command())}\n".encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(
            self.command(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(self.data_dir),
            start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
        )
        deadline = time.monotonic() + timeout
        last_err = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with code {self.proc.returncode} before answering /health\n"
                    f"--- log tail ---\n{self.log_tail()}"
                )
            try:
                r = requests.get(self.url + "/health", timeout=2)
                if r.status_code == 200:
                    return
                last_err = f"/health answered {r.status_code}"
            except requests.RequestException as e:
                last_err = repr(e)
            time.sleep(0.1)
        self.kill9()
        raise RuntimeError(
            f"server did not answer /health with 200 within {timeout}s ({last_err})\n"
            f"--- log tail ---\n{self.log_tail()}"
        )

    def _reap(self) -> None:
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        # Connections pooled by the mlflow client point at a process that is gone.
        _drop_client_sessions()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then wait (SIGKILL if it does not exit). Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reap()
        return self.proc.returncode

    def stop_cleanly(self) -> None:
        """SIGTERM; fails the test unless the server exits 0 in time (Cairn shuts down gracefully; the
        reference `mlflow server`'s exit code is uvicorn's business, not checked)."""
        code = self.stop()
        if not REFERENCE and code != 0:
            pytest.fail(f"cairn exited with code {code} after SIGTERM, not 0\n{self.log_tail()}", pytrace=False)

    def kill9(self) -> None:
        """Kills the process without warning: nothing gets a chance to flush."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if REFERENCE:
            # uvicorn runs workers in child processes; kill the whole group.
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reap()

    def restart(self, kill: bool = False) -> None:
        """Stops (SIGTERM, or SIGKILL with kill=True) and starts again on the same data dir and port."""
        if kill:
            self.kill9()
        else:
            self.stop_cleanly()
        # The port is free as soon as the process is gone; retry briefly in case it lingers.
        self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(_ANSI.sub("", x) for x in self.log_text().splitlines()[-lines:])


@atexit.register
def _stop_leftover_servers() -> None:
    for s in list(CairnServer.instances):
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()


def _drop_client_sessions() -> None:
    try:
        from mlflow.utils import request_utils

        request_utils._cached_get_request_session.cache_clear()
    except Exception:  # pragma: no cover - mlflow internals moved
        pass


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tmp_root():
    d = Path(tempfile.mkdtemp(prefix="cairn-e2e-"))
    yield d
    if os.environ.get("CAIRN_E2E_KEEP_TMP"):
        print(f"kept {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cairn_server(tmp_root):
    server = CairnServer(tmp_root / "data")
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    import mlflow

    os.environ["MLFLOW_TRACKING_URI"] = server.url
    mlflow.set_tracking_uri(server.url)
    yield server
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    server.stop_cleanly()  # an error in the session's last test if the server does not exit 0


@pytest.fixture
def base_url(cairn_server) -> str:
    return cairn_server.url


@pytest.fixture
def tracking_uri(cairn_server) -> str:
    return cairn_server.url


@pytest.fixture
def client(tracking_uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def unique(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def unique_name(request):
    """A name unique to this test invocation: call it with an optional suffix."""
    base = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:60]

    def make(suffix: str = "") -> str:
        return unique(f"{base}{'-' + suffix if suffix else ''}")

    return make


@pytest.fixture
def experiment_id(client, unique_name):
    """A fresh experiment for this test, also made the active one for the fluent API."""
    import mlflow

    exp_id = client.create_experiment(unique_name("exp"))
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


@pytest.fixture(autouse=True)
def _no_dangling_runs():
    yield
    try:
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()
    except Exception:
        pass


# PostgreSQL for scratch databases (scripts/test.sh sets it; trust auth on 127.0.0.1 by default).
PG_ADMIN_URL = os.environ.get("CAIRN_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def psql(sql: str) -> subprocess.CompletedProcess:
    """One statement as the PostgreSQL admin, stopping at the first error."""
    return subprocess.run(
        ["psql", PG_ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qtAc", sql], capture_output=True, text=True, timeout=60
    )


def database_uri(name: str) -> str:
    """The URI of database `name` on the admin's PostgreSQL."""
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


@contextlib.contextmanager
def private_database():
    """On the scale-out run, a fresh database beside the session's on the same PostgreSQL, dropped
    afterwards; None (the server's own SQLite) otherwise.

    For a server whose configuration differs from the session's: servers sharing a database are replicas
    of one deployment, and any of them may claim its triggered runs, so a test that checks how a run was
    executed (its identity, its executor) must not share the queue with servers configured otherwise."""
    shared = os.environ.get("CAIRN_E2E_BACKEND_STORE_URI")
    if not shared or not shared.startswith("postgres"):
        yield None
        return
    name = f"cairn_e2e_own_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    created = psql(f"CREATE DATABASE {name}")
    assert created.returncode == 0, created.stderr
    try:
        yield database_uri(name)
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def restartable_server(tmp_root):
    """A private server on its own data dir, for tests that kill and restart it.

    `.restart(kill=True)` sends SIGKILL and starts a new process on the SAME data dir and port.
    """
    server = CairnServer(tmp_root / f"data-{uuid.uuid4().hex[:8]}")
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    CairnServer.instances.remove(server)
    server.stop_cleanly()


# ---------------------------------------------------------------------------------------------
# Hooks: 5xx check around every test call, server log tail on failure
# ---------------------------------------------------------------------------------------------
def pytest_configure(config):
    config.addinivalue_line("markers", "allow_5xx: the test may legitimately see a 5xx response")
    config.addinivalue_line("markers", "cairn_only: behaviour that deliberately differs from mlflow server")


def pytest_collection_modifyitems(config, items):
    if not REFERENCE:
        return
    skip = pytest.mark.skip(reason="Cairn-specific behaviour (reference mode)")
    for item in items:
        if item.get_closest_marker("cairn_only"):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with _SERVER_ERRORS_LOCK:
        _SERVER_ERRORS.clear()
    offsets = {id(s): s.log_size() for s in CairnServer.instances}
    try:
        result = yield
    finally:
        with _SERVER_ERRORS_LOCK:
            seen = list(_SERVER_ERRORS)
            _SERVER_ERRORS.clear()
        log_hits = []
        for s in CairnServer.instances:
            text = s.log_since(offsets.get(id(s), 0))
            for line in text.splitlines():
                line = _ANSI.sub("", line)
                if _LOG_5XX.search(line):
                    log_hits.append(line)
        item._cairn_5xx = (seen, log_hits)
    if (seen or log_hits) and not item.get_closest_marker("allow_5xx"):
        pytest.fail(
            "server answered 5xx / panicked during this test:\n"
            + "\n".join(seen[:20] + log_hits[:20]),
            pytrace=False,
        )
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{call.when}", report)  # fixtures read it at teardown (screenshots on failure)
    if report.failed and call.when in ("setup", "call"):
        seen, log_hits = getattr(item, "_cairn_5xx", ([], []))
        if seen or log_hits:
            report.sections.append(("5xx responses seen", "\n".join(seen + log_hits)))
        for s in CairnServer.instances:
            report.sections.append((f"server log tail ({s.log_path.name})", s.log_tail(40)))
    return report
