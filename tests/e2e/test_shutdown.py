"""Graceful shutdown: SIGTERM while clients are connected and writing makes `cairn server` finish what it
acknowledged and exit 0 (what service managers and orchestrators read as a clean stop), and what it
acknowledged is there after a restart. Every server the suite starts is also checked to exit 0 on
SIGTERM when it is stopped (conftest's `stop_cleanly`); this test makes it the subject.

Cairn-only: the exit code of `mlflow server` on SIGTERM is its process manager's, not a wire behaviour.
"""

from __future__ import annotations

import threading

import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.cairn_only


def test_sigterm_under_load_exits_0_and_keeps_every_acknowledged_write(restartable_server):
    server = restartable_server
    client = MlflowClient(tracking_uri=server.url)
    exp = client.create_experiment("shutdown")
    run_id = client.create_run(exp).info.run_id
    acknowledged: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        step = 0
        while not stop.is_set():
            try:
                client.log_metric(run_id, "m", float(step), step=step)
            except Exception:  # refused or cut off by the shutdown: not acknowledged
                return
            acknowledged.append(step)
            step += 1

    t = threading.Thread(target=writer)
    t.start()
    while len(acknowledged) < 20 and t.is_alive():
        threading.Event().wait(0.01)
    code = server.stop()  # SIGTERM while the writer goes on; SIGKILL (a failure) after 15 s
    stop.set()
    t.join(timeout=60)
    assert code == 0, f"exit code {code} after SIGTERM\n{server.log_tail()}"
    assert len(acknowledged) >= 20

    server.start()
    history = MlflowClient(tracking_uri=server.url).get_metric_history(run_id, "m")
    assert {m.step for m in history} >= set(acknowledged)


def test_sigterm_ends_long_polls_of_the_change_log_at_once(restartable_server):
    """Replicas hold a long poll of `GET /api/cairn/v1/events` open for up to 30 s; a graceful shutdown
    answers it at once instead of waiting for it to time out."""
    import time

    import requests

    server = restartable_server
    head = requests.get(f"{server.url}/api/cairn/v1/events", timeout=10).json()["head"]
    answered: list[float] = []

    def poll() -> None:
        r = requests.get(f"{server.url}/api/cairn/v1/events", params={"after": head, "wait": 30}, timeout=60)
        assert r.status_code == 200, r.text
        answered.append(time.monotonic())

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)  # the poll is waiting on the server
    started = time.monotonic()
    server.stop_cleanly()
    t.join(timeout=30)
    assert answered, "the long poll never got an answer"
    assert answered[0] - started < 5, f"the long poll held the shutdown up for {answered[0] - started:.1f} s"
    assert time.monotonic() - started < 10
    server.start()
