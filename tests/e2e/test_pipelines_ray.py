"""Steps on Ray: `cairn run --executor ray` against a REAL local Ray head (the pinned `ray[default]`
package, started once for the module on free ports — never 6379, where Redis runs), with the session's
Cairn server as the tracking server.

What is checked: a stage on Ray logs into its own stage run with the unchanged mlflow client, its outs
come back into the workspace (from a stage's wdir too), and a later `--executor local` run is all cached (the executor is not in
the cache key) and needs no head; a failing command (exit 2, class `user`) and a timeout (class
`timeout`, the Ray job stopped) are classified; `cairn pipeline stop` cancels a running Ray job and the
run exits 130; a head unreachable is exit 3; the head killed mid-step and restarted: the step is lost,
retried on a new submission, and the run succeeds with the first attempt's log kept by Cairn. A stub
head (a tiny HTTP server here) only for what a real head does not do on demand: a submit answered
"already exists" (re-attach), a job supervisor that dies (class `infra`, retried; exit 3 without a
retry), and a job the head answers 404 for between two polls (lost, retried).

Cairn-only: `mlflow server` has no pipelines.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from conftest import _free_port, cairn_bin, unique
from test_pipelines import PREPARE, TRAIN, by_name, statuses

pytestmark = pytest.mark.cairn_only

VENV_BIN = Path(sys.executable).parent


def _ports() -> dict:
    ports = {}
    while len(set(ports.values())) < 4 or 6379 in ports.values():
        ports = {k: _free_port() for k in ("gcs", "dashboard", "agent", "client")}
    return ports


class RayHead:
    """`ray start --head` on fixed free ports and a private temp dir; stop(force) kills it like a crash."""

    def __init__(self):
        self.ports = _ports()
        # Ray's unix sockets live under the temp dir: keep its path short.
        self.temp = Path(tempfile.mkdtemp(prefix="cr-", dir="/tmp"))
        self.url = f"http://127.0.0.1:{self.ports['dashboard']}"

    def env(self) -> dict:
        env = dict(os.environ)
        # Jobs run with the head's PATH: `python` in a stage is the test venv's (mlflow, pyyaml).
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        for k in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID"):
            env.pop(k, None)
        return env

    def start(self) -> None:
        cmd = [
            str(VENV_BIN / "ray"), "start", "--head", "--num-cpus=1",
            f"--port={self.ports['gcs']}",
            f"--dashboard-port={self.ports['dashboard']}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-agent-listen-port={self.ports['agent']}",
            f"--ray-client-server-port={self.ports['client']}",
            "--disable-usage-stats",
            f"--temp-dir={self.temp}",
        ]
        res = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, f"ray start failed:\n{res.stdout}\n{res.stderr}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/version", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        pytest.fail(f"the Ray dashboard at {self.url} did not answer")

    def stop(self, force: bool = False) -> None:
        args = [str(VENV_BIN / "ray"), "stop"] + (["--force"] if force else [])
        subprocess.run(args, env=self.env(), capture_output=True, timeout=120)

    def leftovers(self) -> list[int]:
        """Pids of processes still naming this head's temp dir or ports."""
        res = subprocess.run(["pgrep", "-f", str(self.temp)], capture_output=True, text=True)
        return [int(p) for p in res.stdout.split()]

    def jobs(self) -> list[dict]:
        return requests.get(f"{self.url}/api/jobs/", timeout=10).json()

    def job(self, submission_id: str) -> dict:
        return requests.get(f"{self.url}/api/jobs/{submission_id}", timeout=10).json()

    def wait_for_job(self, stage: str, status: str = "RUNNING", timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                for j in self.jobs():
                    if (j.get("metadata") or {}).get("cairn_stage") == stage and j["status"] == status:
                        return j
            except requests.RequestException:
                pass
            time.sleep(0.3)
        pytest.fail(f"no {status} Ray job for stage {stage} within {timeout}s")


@pytest.fixture(scope="module")
def ray_head():
    if shutil.which("ray", path=str(VENV_BIN)) is None:
        pytest.fail("ray is not installed in the test venv (scripts/python-env.sh installs it)")
    head = RayHead()
    head.start()
    yield head
    head.stop()
    time.sleep(0.5)
    left = head.leftovers()
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(head.temp, ignore_errors=True)
    assert not left, f"Ray processes survived `ray stop`: {left}"


class RayProject:
    def __init__(self, root: Path, server: str, head_url: str):
        self.root = root
        self.server = server
        self.head_url = head_url
        self.counts = root.parent / f"{root.name}-counts"
        self.counts.mkdir(parents=True, exist_ok=True)
        self.experiment = unique("ray")
        self.runs = 0

    def env(self) -> dict:
        env = dict(os.environ)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["COUNT_DIR"] = str(self.counts)
        env["MLFLOW_EXPERIMENT_NAME"] = self.experiment
        for k in ("MLFLOW_RUN_ID", "RAY_ADDRESS"):
            env.pop(k, None)
        return env

    def args(self, *args: str) -> tuple[list[str], Path]:
        self.runs += 1
        out = self.root.parent / f"{self.root.name}-report-{self.runs}.json"
        return [str(cairn_bin()), "run", "--server", self.server, "--json", str(out), *args], out

    def run(self, *args: str, expect: int = 0, ray: str | None = None) -> dict:
        cmd, out = self.args("--ray-address", ray or self.head_url, *args)
        res = subprocess.run(cmd, cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=180)
        assert res.returncode == expect, (
            f"cairn run {' '.join(args)} exited {res.returncode}, expected {expect}\n"
            f"--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
        )
        self.last_stderr = res.stderr
        return json.loads(out.read_text())

    def start(self, *args: str) -> tuple[subprocess.Popen, Path]:
        cmd, out = self.args("--ray-address", self.head_url, *args)
        proc = subprocess.Popen(
            cmd, cwd=self.root, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return proc, out

    def count(self, stage: str) -> int:
        p = self.counts / stage
        return int(p.read_text()) if p.exists() else 0

    def log(self, stage: str) -> str:
        return (self.root / ".cairn" / "logs" / f"{stage}.log").read_text()


def make(root: Path, pipeline: str, files: dict[str, str]) -> Path:
    """A project of its own: `salt.py` puts a fresh value in every stage's default code scope, so
    another test's results on the shared server are no cache hits here."""
    root.mkdir(parents=True)
    (root / "cairn.yaml").write_text(textwrap.dedent(pipeline))
    (root / "salt.py").write_text(f"# {uuid.uuid4().hex}\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


PIPELINE = """\
    stages:
      prepare:
        cmd: python prepare.py
        deps: [prepare.py, raw.csv]
        params: [prepare.scale]
        outs: [prepared.csv]
        env: [COUNT_DIR]
      train:
        cmd: python train.py
        deps: [train.py, prepared.csv]
        params: [train.C]
        outs: [model]
        metrics: [eval.json]
        env: [COUNT_DIR]
        resources: {cpu: 1, memory: 64Mi}
"""


def test_a_stage_on_ray_logs_into_its_run_and_its_outs_are_cached_for_local(
    tmp_path, cairn_server, client, ray_head
):
    root = make(tmp_path / "proj", PIPELINE, {
        "params.yaml": "prepare:\n  scale: 2\ntrain:\n  C: 1.0\n",
        "raw.csv": "1\n2\n3\n",
        "prepare.py": PREPARE,
        "train.py": TRAIN,
    })
    project = RayProject(root, cairn_server.url, ray_head.url)
    first = project.run("--executor", "ray")
    assert statuses(first) == {"prepare": "ran", "train": "ran"}
    assert (root / "prepared.csv").read_text() == "2\n4\n6\n"
    assert (root / "model" / "weights.txt").read_text() == "C=1.0 sum=12\n"
    assert json.loads((root / "eval.json").read_text()) == {"accuracy": 0.9, "rows": 3}
    assert (project.count("prepare"), project.count("train")) == (1, 1)

    # Each stage was a Ray job of its own, tagged with its stage.
    jobs = {(j.get("metadata") or {}).get("cairn_stage"): j for j in ray_head.jobs()}
    train_job = jobs["train"]
    assert train_job["status"] == "SUCCEEDED"
    assert train_job["runtime_env"]["working_dir"].startswith("gcs://_ray_pkg_")

    # The mlflow client inside the Ray job logged into the stage's run; Cairn recorded the rest.
    run = client.get_run(by_name(first)["train"]["run_id"])
    assert run.data.metrics["script_metric"] == 42.0
    assert run.data.params["script_param"] == "from-train.py"
    assert run.data.metrics["accuracy"] == 0.9
    assert run.data.tags["cairn.executor"] == "ray"
    assert run.data.tags["mlflow.parentRunId"] == first["pipeline_run_id"]
    log = client.download_artifacts(run.info.run_id, "stage.log", str(tmp_path))
    assert "$ python train.py" in Path(log).read_text()
    assert "$ python train.py" in project.log("train")

    # The executor is not in the key: a local run is all cached, and runs nothing.
    second = project.run("--executor", "local")
    assert statuses(second) == {"prepare": "cached", "train": "cached"}
    assert (project.count("prepare"), project.count("train")) == (1, 1)
    # A deleted out comes back from the cache, computed on Ray, without a head.
    shutil.rmtree(root / "model")
    dead = f"http://127.0.0.1:{_free_port()}"
    third = project.run("--executor", "ray", ray=dead)
    assert statuses(third) == {"prepare": "cached", "train": "cached"}
    assert (root / "model" / "weights.txt").read_text() == "C=1.0 sum=12\n"

    # A param change reruns train on Ray; the same package is not uploaded again for prepare.
    fourth = project.run("--executor", "ray", "-P", "train.C=0.5")
    assert statuses(fourth) == {"prepare": "cached", "train": "ran"}
    assert (root / "model" / "weights.txt").read_text() == "C=0.5 sum=12\n"


def test_failures_on_ray_are_classified_and_a_timeout_stops_the_job(
    tmp_path, cairn_server, client, ray_head
):
    root = make(tmp_path / "fail", """\
        stages:
          bad:
            cmd: echo boom; exit 3
          slow:
            cmd: echo sleeping; sleep 60
            timeout: 4s
          killed:
            cmd: echo about to be killed; kill -9 $$
          greedy:
            cmd: echo ran > greedy.txt
            outs: [greedy.txt]
            resources: {cpu: 2}
            timeout: 6s
          sub:
            wdir: sub
            cmd: tr a-z A-Z < in.txt > out.txt
            deps: [in.txt]
            outs: [out.txt]
        """, {"sub/in.txt": "abc\n"})
    project = RayProject(root, cairn_server.url, ray_head.url)
    report = project.run("--executor", "ray", "--jobs", "5", expect=2)
    s = by_name(report)
    assert s["bad"]["status"] == "failed" and s["bad"]["reason"] == "exit code 3", s["bad"]
    assert s["slow"]["status"] == "failed" and "timed out (timeout)" in s["slow"]["reason"], s["slow"]
    # `resources:` reach Ray: 2 CPUs on a 1-CPU head never start (train's `cpu: 1` above did).
    assert "timed out (timeout)" in s["greedy"]["reason"], s["greedy"]
    assert "$ echo ran" not in project.log("greedy")
    # A stage with a wdir runs there inside the package; its out comes back to the same place.
    assert s["sub"]["status"] == "ran" and (root / "sub" / "out.txt").read_text() == "ABC\n"
    bad = client.get_run(s["bad"]["run_id"])
    assert bad.data.tags["cairn.stage.failure_class"] == "user"
    assert bad.info.status == "FAILED"
    assert client.get_run(s["slow"]["run_id"]).data.tags["cairn.stage.failure_class"] == "timeout"
    # SIGKILL (the OOM killer's signal): exit 137 on Ray, class oom.
    assert s["killed"]["reason"] == "killed by signal 9 (oom)", s["killed"]
    assert client.get_run(s["killed"]["run_id"]).data.tags["cairn.stage.failure_class"] == "oom"
    assert "boom" in project.log("bad")
    # The timed-out step's log is kept; on a loaded machine Ray may still be starting it at the timeout.
    slow_log = project.log("slow")
    assert "sleeping" in slow_log or "Running entrypoint" in slow_log, slow_log
    # The timed-out step's Ray job was stopped, not left running.
    slow_jobs = [j for j in ray_head.jobs() if (j.get("metadata") or {}).get("cairn_stage") == "slow"]
    assert [j["status"] for j in slow_jobs] == ["STOPPED"], slow_jobs


def test_an_unreachable_head_is_infrastructure(tmp_path, cairn_server):
    root = make(tmp_path / "nohead", "stages:\n  s:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n", {})
    project = RayProject(root, cairn_server.url, f"http://127.0.0.1:{_free_port()}")
    started = time.monotonic()
    report = project.run("--executor", "ray", expect=3)
    assert time.monotonic() - started < 30
    assert by_name(report)["s"]["status"] == "failed"
    assert "cannot reach the Ray head" in project.last_stderr and "ray start" in project.last_stderr
    assert "cairn: not submitted: cannot reach the Ray head" in project.log("s")
    # A stage's own `executor: ray` is honoured under `--executor local` too.
    (root / "cairn.yaml").write_text(
        "stages:\n  s:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n    executor: ray\n"
    )
    project.run("--executor", "local", expect=3)
    assert "cannot reach the Ray head" in project.last_stderr
    assert not (root / "out.txt").exists()


def test_pipeline_stop_cancels_the_ray_job(tmp_path, cairn_server, client, ray_head):
    root = make(tmp_path / "stop", """\
        stages:
          long:
            cmd: echo started; sleep 120; echo done > long.txt
            outs: [long.txt]
        """, {})
    project = RayProject(root, cairn_server.url, ray_head.url)
    proc, out = project.start("--executor", "ray")
    try:
        job = ray_head.wait_for_job("long")
        res = subprocess.run(
            [str(cairn_bin()), "pipeline", "stop"], cwd=root, env=project.env(),
            capture_output=True, text=True, timeout=90,
        )
        assert res.returncode == 0, res.stderr
        assert "stopping cairn run" in res.stdout
        assert proc.wait(timeout=60) == 130, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert ray_head.job(job["submission_id"])["status"] == "STOPPED"
    report = json.loads(out.read_text())
    assert by_name(report)["long"]["status"] == "failed"
    assert by_name(report)["long"]["reason"] == "cancelled"
    assert client.get_run(report["pipeline_run_id"]).info.status == "FAILED"
    # Nothing left to stop.
    again = subprocess.run(
        [str(cairn_bin()), "pipeline", "stop"], cwd=root, env=project.env(), capture_output=True, text=True
    )
    assert again.returncode == 0 and "no cairn run" in again.stdout


def test_a_head_killed_mid_step_loses_it_and_the_retry_succeeds(tmp_path, cairn_server, client, ray_head):
    # The first attempt waits (long enough to be killed); the second finishes at once.
    step = textwrap.dedent("""\
        import os, pathlib, sys, time
        marker = pathlib.Path(os.environ["COUNT_DIR"]) / "attempts"
        n = int(marker.read_text()) + 1 if marker.exists() else 1
        marker.write_text(str(n))
        print(f"attempt {n} started", flush=True)
        if n == 1:
            time.sleep(120)
        pathlib.Path("out.txt").write_text("done\\n")
        """)
    root = make(tmp_path / "kill", """\
        stages:
          s:
            cmd: python step.py
            deps: [step.py]
            outs: [out.txt]
            env: [COUNT_DIR]
            retry: {max: 12, on: [infra], backoff: 3s, factor: 1}   # room for a slow `ray start`
        """, {"step.py": step})
    project = RayProject(root, cairn_server.url, ray_head.url)
    proc, out = project.start("--executor", "ray")
    try:
        ray_head.wait_for_job("s")
        deadline = time.monotonic() + 30
        while "attempt 1 started" not in project.log("s") and time.monotonic() < deadline:
            time.sleep(0.3)
        assert "attempt 1 started" in project.log("s")
        ray_head.stop(force=True)  # the head, its job and all of Ray's memory of it: gone
        ray_head.start()
        code = proc.wait(timeout=150)
        assert code == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    report = json.loads(out.read_text())
    s = by_name(report)["s"]
    assert s["status"] == "ran" and "succeeded on attempt" in s["reason"], s
    assert (root / "out.txt").read_text() == "done\n"
    log = project.log("s")
    # Cairn kept the lost attempt's log (Ray forgot it with the head).
    assert log.index("attempt 1 started") < log.index("--- attempt 2 ---"), log
    assert "the Ray head" in log
    run = client.get_run(s["run_id"])
    stage_log = client.download_artifacts(run.info.run_id, "stage.log", str(tmp_path))
    assert "attempt 1 started" in Path(stage_log).read_text()


class StubHead:
    """A Ray dashboard that answers from a script: for faults a real head cannot be made to produce."""

    def __init__(self):
        self.calls: list[str] = []
        self.submitted: set[str] = set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code: int, body, content_type="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                stub.calls.append(f"GET {self.path} {self.headers.get('User-Agent')}")
                if self.path.startswith("/api/packages/"):
                    return self.reply(200, {"status": "success"})
                if self.path.endswith("/logs"):
                    return self.reply(200, {"logs": f"log of {self.path.split('/')[3]}\n"})
                sid = self.path.rstrip("/").split("/")[-1]
                if sid.endswith("-u-a1"):
                    # A head that restarted between two polls no longer knows the job.
                    return self.reply(404, {"detail": "not found"})
                if sid.endswith("-a1"):
                    # The supervisor died: infrastructure, not the user's command.
                    return self.reply(200, {"status": "FAILED", "error_type": "JOB_SUPERVISOR_ACTOR_DIED",
                                            "message": "The job supervisor actor died", "driver_exit_code": None})
                return self.reply(200, {"status": "SUCCEEDED", "error_type": None, "message": "",
                                        "driver_exit_code": 0})

            def do_PUT(self):
                stub.calls.append(f"PUT {self.path}")
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.reply(200, {"status": "success"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                sid = body["submission_id"]
                stub.calls.append(f"POST {self.path} {sid}")
                if sid.endswith("-a1"):
                    # As when the first answer was lost and the submit is repeated.
                    tb = f"Traceback (most recent call last):\nValueError: Job with submission_id {sid} already exists.\n"
                    return self.reply(500, tb.encode(), "text/plain")
                self.reply(200, {"job_id": sid, "submission_id": sid})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.allow_5xx  # the stub's own 500 "already exists" is the point
def test_stub_head_reattach_dead_supervisor_and_forgotten_job(tmp_path, cairn_server, client):
    stub = StubHead()
    try:
        root = make(tmp_path / "stub", """\
            stages:
              s:
                cmd: echo hi
                retry: {max: 1, on: [infra], backoff: 0s}
              t:
                cmd: echo again
              u:
                cmd: echo lost once
                retry: {max: 1, on: [infra], backoff: 0s}
            """, {})
        project = RayProject(root, cairn_server.url, stub.url)
        report = project.run("--executor", "ray", "--jobs", "1", "s")
        s = by_name(report)["s"]
        assert s["status"] == "ran" and "succeeded on attempt 2" in s["reason"], s
        posts = [c for c in stub.calls if c.startswith("POST")]
        assert [p.rsplit("-", 1)[-1] for p in posts] == ["a1", "a2"], stub.calls
        # Re-attached to a1 (the stub said it already existed) and read its status.
        assert any(c.startswith("GET /api/jobs/") and c.split()[1].endswith("-a1") for c in stub.calls)
        assert all("cairn/" in c for c in stub.calls if c.startswith("GET")), stub.calls
        log = project.log("s")
        assert "--- attempt 2 ---" in log and log.count("log of ") == 2, log
        # Without a retry, a dead supervisor is infrastructure: exit 3, class infra.
        report = project.run("--executor", "ray", "--force", "t", expect=3)
        t = by_name(report)["t"]
        assert "JOB_SUPERVISOR_ACTOR_DIED" in t["reason"] and "(infra)" in t["reason"]
        assert client.get_run(t["run_id"]).data.tags["cairn.stage.failure_class"] == "infra"
        # A job the head no longer knows (404) is lost: retried on a new submission.
        u = by_name(project.run("--executor", "ray", "u"))["u"]
        assert u["status"] == "ran" and "succeeded on attempt 2" in u["reason"], u
        assert "the Ray head no longer knows job" in project.log("u")
    finally:
        stub.server.shutdown()
