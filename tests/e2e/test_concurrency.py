"""Concurrency: many client threads writing into the same run while others search."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mlflow import MlflowClient
from mlflow.entities import Metric

from helpers import now_ms

THREADS = 32
PER_THREAD = 50


def test_concurrent_log_metric_into_one_run(tracking_uri, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ts = now_ms()
    start = threading.Barrier(THREADS)
    writing = threading.Event()
    writing.set()

    def writer(t: int) -> int:
        c = MlflowClient(tracking_uri=tracking_uri)
        start.wait(timeout=60)
        for j in range(PER_THREAD):
            step = t * PER_THREAD + j
            c.log_metric(run_id, "shared", step * 0.5, timestamp=ts + step, step=step)
        c.log_param(run_id, f"thread_{t}", str(t))
        c.log_metric(run_id, f"own_{t}", float(t), timestamp=ts, step=0)
        return t

    search_results: list[int] = []
    search_errors: list[BaseException] = []

    def searcher():
        c = MlflowClient(tracking_uri=tracking_uri)
        while writing.is_set():
            try:
                runs = c.search_runs([experiment_id], filter_string="metrics.shared >= 0")
                search_results.append(len(runs))
                assert len(runs) <= 1
                c.get_run(run_id)
            except BaseException as e:  # noqa: BLE001 - reported below
                search_errors.append(e)
                return
            time.sleep(0.01)

    searchers = [threading.Thread(target=searcher, daemon=True) for _ in range(2)]
    for s in searchers:
        s.start()
    try:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            done = list(pool.map(writer, range(THREADS), timeout=180))
    finally:
        writing.clear()
        for s in searchers:
            s.join(timeout=30)
    assert done == list(range(THREADS))
    assert not search_errors, search_errors[:3]
    assert search_results, "searches did not run while writing"

    history = client.get_metric_history(run_id, "shared")
    total = THREADS * PER_THREAD
    assert len(history) == total
    assert sorted(m.step for m in history) == list(range(total))
    assert all(m.value == m.step * 0.5 and m.timestamp == ts + m.step for m in history)

    run = client.get_run(run_id)
    assert run.data.metrics["shared"] == (total - 1) * 0.5
    assert run.data.params == {f"thread_{t}": str(t) for t in range(THREADS)}
    assert {k: v for k, v in run.data.metrics.items() if k.startswith("own_")} == {
        f"own_{t}": float(t) for t in range(THREADS)
    }
    [found] = client.search_runs([experiment_id], filter_string=f"metrics.shared = {(total - 1) * 0.5}")
    assert found.info.run_id == run_id


def test_concurrent_batches_and_run_creation(tracking_uri, client, experiment_id):
    def work(t: int) -> str:
        c = MlflowClient(tracking_uri=tracking_uri)
        rid = c.create_run(experiment_id, run_name=f"worker-{t}").info.run_id
        c.log_batch(rid, metrics=[Metric("v", float(i), now_ms(), i) for i in range(200)])
        c.set_terminated(rid)
        return rid

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(work, range(16), timeout=180))
    assert len(set(ids)) == 16
    runs = client.search_runs([experiment_id], max_results=100)
    assert sorted(r.info.run_id for r in runs) == sorted(ids)
    assert all(r.data.metrics == {"v": 199.0} and r.info.status == "FINISHED" for r in runs)
