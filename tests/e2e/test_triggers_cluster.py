"""Triggers on several servers at once: two real `cairn server` processes on one fresh PostgreSQL database
and one shared artifact folder. A cron slot fires once however many servers see it; an idempotency key
starts one run whichever server it is sent to (even at the same moment); a run is claimed under a lease
(`CAIRN_RUN_LEASE_MS`, short here) and, when its server dies (`kill -9`), claimed again and finished by
the other.

Needs PostgreSQL at CAIRN_TEST_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres, as
scripts/test.sh and the Rust tests use) and `psql`; each test gets its own database, dropped afterwards.
Skipped, saying why, when neither is there. Cairn-only: `mlflow server` has no pipelines.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import PG_ADMIN_URL, CairnServer, cairn_bin, database_uri, psql
from test_triggers import (
    API, TERMINAL, FireRecorder, Pipeline, cairn, fire, list_triggers, missing_slots, ok, pipeline_runs, same_slot, slot_ms,
    wait_until,
)

pytestmark = pytest.mark.cairn_only

LEASE_MS = 3000


class ClusterServer(CairnServer):
    """A server on the shared PostgreSQL database and artifact folder, with its own data dir and port."""

    def __init__(self, data_dir: Path, database: str, artifacts: Path):
        super().__init__(data_dir)
        self.database, self.artifacts = database, artifacts

    def command(self) -> list[str]:
        return [
            str(cairn_bin()), "server",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
            "--backend-store-uri", database_uri(self.database),
            "--artifacts-destination", str(self.artifacts),
        ]

    def crash(self, machine: bool = True) -> None:
        """The machine dies (SIGKILL to the server and everything in its process group: it was started in a
        session of its own), or only the server process does (`kill -9 PID`: its `cairn run` children are
        left to notice); nothing flushed, no lease released."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if machine:
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reap()


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """Two servers (not started yet) on a fresh PostgreSQL database and a shared artifact folder; stopped
    and the database dropped afterwards."""
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed (scripts/test.sh installs postgresql-client)")
    probe = psql("select 1")
    if probe.returncode != 0:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {probe.stderr.strip()}")
    database = f"cairn_e2e_trg_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    created = psql(f"CREATE DATABASE {database}")
    assert created.returncode == 0, created.stderr
    monkeypatch.setenv("CAIRN_RUN_LEASE_MS", str(LEASE_MS))
    artifacts = tmp_path / "shared-artifacts"
    artifacts.mkdir()
    servers = [ClusterServer(tmp_path / f"server-{i}", database, artifacts) for i in range(2)]
    try:
        yield servers
    finally:
        for s in servers:
            if s.proc is not None and s.proc.poll() is None:
                s.stop()
        for s in servers:
            if s in CairnServer.instances:
                CairnServer.instances.remove(s)
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def start(*servers: ClusterServer) -> None:
    for s in servers:
        try:
            s.start()
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)


def test_an_idempotency_key_starts_one_run_whichever_server_it_is_sent_to(cluster, tmp_path):
    a, b = cluster
    start(a, b)
    p = Pipeline(tmp_path / "proj", f"trg-idem-{uuid.uuid4().hex[:8]}", a.url)
    p.register("triggers:\n  deploy: {}\n")
    # Registered on A, known to B: one database.
    assert list_triggers(b.url, p.name)["deploy"]["kind"] == "manual"

    key = f"k-{uuid.uuid4().hex}"
    first = fire(a.url, p.name, "deploy", key)
    assert first["fired"] is True, first
    second = fire(b.url, p.name, "deploy", key)
    assert (second["fired"], second["pipeline_run_id"]) == (False, first["pipeline_run_id"]), second

    # A fresh key sent to both servers at the same moment, eight times: still one run.
    racing = f"race-{uuid.uuid4().hex}"

    def post(i: int) -> dict:
        server = (a, b)[i % 2].url
        r = requests.post(
            f"{server}{API}/pipelines/{p.name}/triggers/deploy/fire", json={"idempotency_key": racing}, timeout=30
        )
        assert r.status_code == 200, r.text
        return r.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(8)))
    assert [x["fired"] for x in answers].count(True) == 1, answers
    assert len({x["pipeline_run_id"] for x in answers}) == 1, answers
    raced = answers[0]["pipeline_run_id"]
    assert raced != first["pipeline_run_id"]

    ids = {first["pipeline_run_id"], raced}

    def finished():
        runs = pipeline_runs(b.url, p.name)
        return runs if len(runs) == 2 and all(r["status"] in TERMINAL for r in runs) else None

    runs = wait_until(finished, 60, "both runs finished")
    assert {r["run_id"] for r in runs} == ids, runs
    assert {r["status"] for r in runs} == {"succeeded"}, runs
    assert {r["cause"].get("key") for r in runs} == {key, racing}, runs
    assert pipeline_runs(a.url, p.name) == pipeline_runs(b.url, p.name)

    from mlflow import MlflowClient

    for s in (a, b):
        for rid in ids:
            assert MlflowClient(tracking_uri=s.url).get_run(rid).info.status == "FINISHED"


def runs_left_by(server: ClusterServer) -> list[str]:
    """`cairn run` processes still working in the server's run folder."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if " run " in cmdline and cwd.startswith(str(server.data_dir / "pipeline-runs")):
            left.append(f"{pid}: {cmdline}")
    return left


@pytest.mark.parametrize("machine", [True, False], ids=["machine-dies", "server-process-killed"])
def test_each_cron_slot_fires_once_and_a_dead_servers_runs_are_finished_by_the_other(cluster, tmp_path, machine):
    a, b = cluster
    hold = tmp_path / "hold"  # while it exists, every run's stage waits
    hold.touch()
    start(a)
    t0 = int(time.time() * 1000)
    p = Pipeline(tmp_path / "proj", f"trg-burst-{uuid.uuid4().hex[:8]}", a.url)
    p.register(f"""\
        triggers:
          every_second: {{cron: "* * * * * *", max_active_runs: 3, params: {{work.hold: "{hold}"}}}}
        """)
    # Every fire either server lists, all along (a listing holds only the latest few).
    rec = FireRecorder([a.url, b.url], p.name, "every_second")
    rec.__enter__()
    try:
        def statuses(server: ClusterServer) -> dict[str, str]:
            return {r["run_id"]: r["status"] for r in pipeline_runs(server.url, p.name)}

        # A alone: it fires and claims three runs, which wait on the hold; later slots queue.
        wait_until(
            lambda: list(statuses(a).values()).count("running") == 3 and "queued" in statuses(a).values(),
            30, "three runs running on A and one queued",
        )
        held = {i for i, s in statuses(a).items() if s == "running"}  # claimed by A: B is not up yet
        claims = {r["run_id"]: r.get("claimed_by") for r in pipeline_runs(a.url, p.name) if r["run_id"] in held}

        # B joins: both servers see every slot now; the limit of three active runs holds across them.
        start(b)
        contested_from = int(time.time() * 1000)
        for _ in range(10):
            assert list(statuses(b).values()).count("running") <= 3, statuses(b)
            time.sleep(0.2)
        assert {i for i, s in statuses(b).items() if s == "running"} == held

        # A dies holding three runs. B keeps firing, and claims them again once their lease lapses.
        if not machine:
            assert runs_left_by(a), "A's runs are not running where expected"
        a.crash(machine)
        killed_ms = int(time.time() * 1000)
        if not machine:
            # Its orphaned `cairn run`s see their parent gone and stop (their runs go to B).
            wait_until(lambda: not runs_left_by(a) or None, 15, "the dead server's runs stopped themselves")
        time.sleep(1)
        hold.unlink()
        time.sleep(4)
        ok(cairn("trigger", "pause", p.name, "every_second", server=b.url))
        rec.poll_once()
    finally:
        rec.stop()

    # Every run ends: within the lease plus the runs themselves.
    def settled():
        runs = pipeline_runs(b.url, p.name)
        return runs if runs and all(r["status"] in TERMINAL for r in runs) else None

    try:
        runs = wait_until(settled, 60, "every run finished")
    except AssertionError:
        stuck = [r for r in pipeline_runs(b.url, p.name) if r["status"] not in TERMINAL]
        raise AssertionError(f"runs never finished after the crash: {json.dumps(stuck, indent=1)}") from None
    by_id = {r["run_id"]: r for r in runs}
    assert held <= set(by_id), (held, list(by_id))
    assert {i: by_id[i]["status"] for i in held} == {i: "succeeded" for i in held}, [by_id[i] for i in held]
    # Where a run says who claimed it and how often (beyond the contract's fields): claimed again, by B.
    for i in held:
        if by_id[i].get("attempts") is not None:
            assert by_id[i]["attempts"] >= 2, by_id[i]
        if claims.get(i) is not None:
            assert by_id[i].get("claimed_by") != claims[i], (claims[i], by_id[i])
    not_ok = [r for r in runs if r["status"] != "succeeded"]
    assert not not_ok, f"runs did not succeed: {json.dumps(not_ok, indent=1)}"

    # One run per slot at most; each slot fired once; every started fire names its run, every run a fire.
    assert {r["cause"]["kind"] for r in runs} == {"cron"}, runs
    per_slot = Counter(json.dumps(r["cause"]["slot"]) for r in runs)
    assert max(per_slot.values()) == 1, f"a slot produced two runs: {per_slot}"
    assert not rec.conflicts, f"a slot fired twice: {rec.conflicts}"
    fires = list(rec.fires.values())
    for f in fires:
        assert f["fired_ms"] >= t0, (t0, f)
        if f["outcome"] == "started":
            assert f["pipeline_run_id"] in by_id, f
            assert same_slot(f, by_id[f["pipeline_run_id"]]["cause"]), (f, by_id[f["pipeline_run_id"]]["cause"])
    unfired = set(by_id) - {f["pipeline_run_id"] for f in fires if f["outcome"] == "started"}
    assert not unfired, (
        f"runs without a fire: {[by_id[i]['cause'] for i in unfired]}; fires seen: {sorted(rec.fires)}"
    )
    assert any(contested_from < f["fired_ms"] < killed_ms for f in fires), f"nothing fired while both ran: {fires}"
    assert any(f["fired_ms"] > killed_ms + 1000 for f in fires), f"nothing fired after the crash: {fires}"

    # The crashed server comes back on the same database and finds nothing left to do.
    start(a)
    time.sleep(LEASE_MS / 1000 + 1)
    assert statuses(a) == {r["run_id"]: r["status"] for r in runs}

    # A server was up all along: no slot between the first and the last fired was left out.
    assert not missing_slots(fires, 1000), (
        f"slots never fired: {missing_slots(fires, 1000)} of {sorted(slot_ms(f) for f in fires)}"
    )
