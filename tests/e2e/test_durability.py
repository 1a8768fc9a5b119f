"""Durability: whatever the server acknowledged survives `kill -9` and a restart on the same data dir.

Values are exactly representable in binary so that only durability is tested here (float
round-tripping has its own test)."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from helpers import DOUBLE_MAX, now_ms


def test_acknowledged_writes_survive_kill_9(restartable_server, tmp_path):
    server = restartable_server
    client = MlflowClient(tracking_uri=server.url)

    exp_id = client.create_experiment(f"durable-{uuid.uuid4().hex[:8]}", tags={"k": "v"})
    run_id = client.create_run(exp_id, run_name="durable-run").info.run_id
    ts = now_ms()
    for step in range(25):
        client.log_metric(run_id, "loss", (step + 1) / 8, timestamp=ts + step, step=step)
    client.log_metric(run_id, "nan", float("nan"), timestamp=ts, step=0)
    client.log_metric(run_id, "inf", float("inf"), timestamp=ts, step=0)
    client.log_param(run_id, "alpha", "0.5")
    client.set_tag(run_id, "stage", "dev")
    client.log_batch(
        run_id,
        metrics=[Metric("acc", i / 128, ts + i, i) for i in range(300)],
        params=[Param(f"p{i}", str(i)) for i in range(40)],
        tags=[RunTag("batch", "yes")],
    )
    finished = client.create_run(exp_id).info.run_id
    client.set_terminated(finished, status="FINISHED")
    deleted = client.create_run(exp_id).info.run_id
    client.delete_run(deleted)
    blob = bytes(range(256)) * 16
    src = tmp_path / "blob.bin"
    src.write_bytes(blob)
    client.log_artifact(run_id, str(src), artifact_path="saved")
    # The very last acknowledged write right before the kill.
    client.log_metric(run_id, "last", 42.0, timestamp=ts, step=7)

    server.restart(kill=True)
    client = MlflowClient(tracking_uri=server.url)

    exp = client.get_experiment(exp_id)
    assert exp.tags == {"k": "v"}
    run = client.get_run(run_id)
    assert run.info.run_name == "durable-run"
    assert run.info.status == "RUNNING"
    assert run.data.params == {"alpha": "0.5", **{f"p{i}": str(i) for i in range(40)}}
    assert run.data.tags["stage"] == "dev" and run.data.tags["batch"] == "yes"
    assert run.data.metrics["loss"] == 25 / 8
    assert run.data.metrics["acc"] == 299 / 128
    assert run.data.metrics["last"] == 42.0
    assert math.isnan(run.data.metrics["nan"])
    assert run.data.metrics["inf"] == DOUBLE_MAX
    loss = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in loss] == [(s, (s + 1) / 8) for s in range(25)]
    assert sorted(m.step for m in client.get_metric_history(run_id, "acc")) == list(range(300))
    assert client.get_run(finished).info.status == "FINISHED"
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"
    out = Path(client.download_artifacts(run_id, "saved/blob.bin", str(tmp_path / "dl")))
    assert out.read_bytes() == blob

    # The restarted server keeps accepting writes, and a second crash loses nothing either.
    client.log_metric(run_id, "loss", 0.001, timestamp=ts + 100, step=100)
    new_run = client.create_run(exp_id).info.run_id
    client.log_param(new_run, "after", "restart")
    server.restart(kill=True)
    client = MlflowClient(tracking_uri=server.url)
    assert client.get_run(run_id).data.metrics["loss"] == 0.001
    assert len(client.get_metric_history(run_id, "loss")) == 26
    assert client.get_run(new_run).data.params == {"after": "restart"}
    ids = {r.info.run_id for r in client.search_runs([exp_id])}
    assert ids == {run_id, finished, new_run}


def test_graceful_restart_keeps_data(restartable_server):
    server = restartable_server
    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(f"graceful-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(exp_id).info.run_id
    client.log_metric(run_id, "m", 3.0)
    server.restart(kill=False)  # SIGTERM, then start again
    client = MlflowClient(tracking_uri=server.url)
    assert client.get_run(run_id).data.metrics == {"m": 3.0}
    assert client.get_experiment(exp_id).experiment_id == exp_id
    assert client.get_experiment("0").name == "Default"
