"""Metrics (steps, history, NaN/inf, latest value), params, tags, log_batch and dataset inputs."""

from __future__ import annotations

import math
import random
import struct

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunTag

from helpers import DOUBLE_MAX, expect_mlflow_error, now_ms


def test_log_metric_with_steps_and_history(client, experiment_id):
    values = [0.5, 0.25, 0.125, 0.0625, 1e-12]
    with mlflow.start_run() as run:
        for step, v in enumerate(values):
            mlflow.log_metric("loss", v, step=step)
    run_id = run.info.run_id
    history = client.get_metric_history(run_id, "loss")
    assert len(history) == len(values)
    # The server orders history by timestamp, then step.
    assert [(m.step, m.value) for m in history] == list(enumerate(values))
    assert all(m.key == "loss" for m in history)
    assert all(isinstance(m.timestamp, int) and m.timestamp > 0 for m in history)
    assert client.get_run(run_id).data.metrics == {"loss": 1e-12}


def test_history_of_unknown_key_is_empty(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "present", 1.0)
    assert client.get_metric_history(run_id, "absent") == []


def test_explicit_timestamps_and_order(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # Logged out of order; history comes back ordered by (timestamp, step, value).
    points = [(3000, 2, 30.0), (1000, 0, 10.0), (2000, 1, 20.0), (2000, 1, 5.0)]
    for ts, step, v in points:
        client.log_metric(run_id, "m", v, timestamp=ts, step=step)
    history = client.get_metric_history(run_id, "m")
    assert [(m.timestamp, m.step, m.value) for m in history] == sorted(points)


def test_history_orders_by_timestamp_before_step(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # Step order and timestamp order disagree: history follows timestamps, then steps, then values.
    points = [(3000, 0, 1.0), (1000, 5, 2.0), (2000, 1, 4.0), (2000, 1, 3.0), (2000, 9, 0.5), (500, 2, 7.0)]
    for ts, step, v in points:
        client.log_metric(run_id, "t", v, timestamp=ts, step=step)
    history = client.get_metric_history(run_id, "t")
    assert [(m.timestamp, m.step, m.value) for m in history] == sorted(points)
    # The same in one batch.
    client.log_batch(run_id, metrics=[Metric("b", v, ts, step) for ts, step, v in points])
    assert [(m.timestamp, m.step, m.value) for m in client.get_metric_history(run_id, "b")] == sorted(points)


def test_nan_and_infinities(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metric("pinf", float("inf"))
        mlflow.log_metric("ninf", float("-inf"))
        mlflow.log_metric("tiny", 5e-324)
        mlflow.log_metric("big", -1.5e300)
    metrics = client.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == DOUBLE_MAX
    assert metrics["ninf"] == -DOUBLE_MAX
    assert metrics["tiny"] == 5e-324
    assert metrics["big"] == -1.5e300
    [h] = client.get_metric_history(run.info.run_id, "nan")
    assert math.isnan(h.value)
    [h] = client.get_metric_history(run.info.run_id, "pinf")
    assert h.value == DOUBLE_MAX


def _tricky_doubles() -> list[float]:
    rng = random.Random(1234)
    fixed = [1 / 3, 0.1, 1 / 11, 0.30000000000000004, 2.2250738585072014e-308, 5e-324,
             1.7976931348623157e308, -1.7976931348623157e308, 123456789.12345678, 9007199254740993.0,
             1e-7, 6.02214076e23, -2.5, 0.0]
    randoms = []
    while len(randoms) < 60:
        (v,) = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))
        if math.isfinite(v):
            randoms.append(v)
    randoms += [rng.random() for _ in range(40)]
    return fixed + randoms


def test_metric_values_round_trip_bit_exact(client, experiment_id):
    """Every finite double must come back as the very same double (shortest round-trip repr)."""
    run_id = client.create_run(experiment_id).info.run_id
    values = _tricky_doubles()
    ts = now_ms()
    client.log_batch(run_id, metrics=[Metric("exact", v, ts, i) for i, v in enumerate(values)])
    for i, v in enumerate(values[:10]):  # and through the single-metric endpoint
        client.log_metric(run_id, f"single{i}", v, timestamp=ts, step=0)
    history = {m.step: m.value for m in client.get_metric_history(run_id, "exact")}
    wrong = [(i, v, history.get(i)) for i, v in enumerate(values) if history.get(i) != v]
    assert not wrong, f"{len(wrong)} values changed, e.g. (step, sent, got): {wrong[:5]}"
    metrics = client.get_run(run_id).data.metrics
    wrong = [(i, v, metrics[f"single{i}"]) for i, v in enumerate(values[:10]) if metrics[f"single{i}"] != v]
    assert not wrong, wrong


def test_latest_value_is_at_largest_step(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "acc", 0.7, timestamp=1000, step=5)
    client.log_metric(run_id, "acc", 0.9, timestamp=9000, step=2)  # newer but smaller step
    assert client.get_run(run_id).data.metrics["acc"] == 0.7
    client.log_metric(run_id, "acc", 0.8, timestamp=2000, step=5)  # same step, newer timestamp
    assert client.get_run(run_id).data.metrics["acc"] == 0.8
    client.log_metric(run_id, "acc", 0.1, timestamp=500, step=6)  # larger step, oldest timestamp
    assert client.get_run(run_id).data.metrics["acc"] == 0.1
    assert len(client.get_metric_history(run_id, "acc")) == 4


def test_log_batch_metrics_params_tags(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ts = now_ms()
    metrics = [Metric("m1", float(i), ts + i, i) for i in range(10)] + [Metric("m2", -1.5, ts, 0)]
    params = [Param(f"p{i}", f"value-{i}") for i in range(5)]
    tags = [RunTag("team", "core"), RunTag("note", "batch ✓")]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    got = client.get_run(run_id)
    assert got.data.metrics == {"m1": 9.0, "m2": -1.5}
    assert got.data.params == {f"p{i}": f"value-{i}" for i in range(5)}
    assert got.data.tags["team"] == "core"
    assert got.data.tags["note"] == "batch ✓"
    history = client.get_metric_history(run_id, "m1")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(i, float(i), ts + i) for i in range(10)]


def test_fluent_log_metrics_params_tags(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_metrics({"a": 1.0, "b": 2.5}, step=3)
        mlflow.log_params({"x": 1, "y": "two", "z": None})
        mlflow.set_tags({"k1": "v1", "k2": 2})
    got = client.get_run(run.info.run_id)
    assert got.data.metrics == {"a": 1.0, "b": 2.5}
    assert got.data.params == {"x": "1", "y": "two", "z": "None"}
    assert got.data.tags["k1"] == "v1" and got.data.tags["k2"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "b")] == [3]


def test_log_batch_over_1000_metrics_via_client_chunks(client, experiment_id):
    # The client splits batches into chunks the server accepts; all 1001 points must land.
    run_id = client.create_run(experiment_id).info.run_id
    ts = now_ms()
    client.log_batch(run_id, metrics=[Metric("big", float(i), ts, i) for i in range(1001)])
    history = client.get_metric_history(run_id, "big")
    assert sorted(m.step for m in history) == list(range(1001))
    assert client.get_run(run_id).data.metrics["big"] == 1000.0


def test_log_batch_idempotent_metric_rows(client, experiment_id):
    # Re-sending an identical metric point (same key/ts/step/value) is accepted.
    run_id = client.create_run(experiment_id).info.run_id
    m = Metric("dup", 1.0, 12345, 1)
    client.log_batch(run_id, metrics=[m])
    client.log_batch(run_id, metrics=[m])
    history = client.get_metric_history(run_id, "dup")
    assert {(h.timestamp, h.step, h.value) for h in history} == {(12345, 1, 1.0)}


def test_set_and_delete_tag(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "color", "red")
    client.set_tag(run_id, "color", "blue")  # overwrite is allowed for tags
    client.set_tag(run_id, "shape", "round")
    tags = client.get_run(run_id).data.tags
    assert tags["color"] == "blue" and tags["shape"] == "round"
    client.delete_tag(run_id, "color")
    tags = client.get_run(run_id).data.tags
    assert "color" not in tags and tags["shape"] == "round"
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_tag(run_id, "color")


def test_run_name_tag_renames_run(client, experiment_id):
    run_id = client.create_run(experiment_id, run_name="orig").info.run_id
    client.set_tag(run_id, "mlflow.runName", "renamed")
    got = client.get_run(run_id)
    assert got.info.run_name == "renamed"
    assert got.data.tags["mlflow.runName"] == "renamed"


def test_long_values_within_limits(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p" * 250, "v" * 6000)
    client.set_tag(run_id, "t", "w" * 8000)
    got = client.get_run(run_id)
    assert got.data.params["p" * 250] == "v" * 6000
    assert got.data.tags["t"] == "w" * 8000


def test_keys_with_allowed_punctuation(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    keys = ["val/loss", "a.b-c_d", "with space", "ns:metric"]
    for i, k in enumerate(keys):
        client.log_metric(run_id, k, float(i))
        client.log_param(run_id, k, str(i))
    got = client.get_run(run_id)
    assert got.data.metrics == {k: float(i) for i, k in enumerate(keys)}
    assert got.data.params == {k: str(i) for i, k in enumerate(keys)}
    assert [m.value for m in client.get_metric_history(run_id, "val/loss")] == [0.0]


def test_log_input_pandas_dataset(client, experiment_id):
    df = pd.DataFrame({"x1": [1.0, 2.0, 3.0], "x2": [4, 5, 6], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(
        df, source="https://example.invalid/toy.csv", name="toy-data", targets="y"
    )
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
    got = client.get_run(run.info.run_id)
    inputs = got.inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0].dataset
    assert ds.name == "toy-data"
    assert ds.digest == dataset.digest
    assert ds.source_type == dataset.source._get_source_type()
    assert ds.schema and "x1" in ds.schema
    tags = {t.key: t.value for t in inputs[0].tags}
    assert tags["mlflow.data.context"] == "training"
    assert tags["split"] == "train"

    # Logging the same dataset again in another context adds an input without a new dataset row.
    with mlflow.start_run() as run2:
        mlflow.log_input(dataset, context="eval")
    got2 = client.get_run(run2.info.run_id)
    assert [i.dataset.digest for i in got2.inputs.dataset_inputs] == [dataset.digest]
    assert {t.key: t.value for t in got2.inputs.dataset_inputs[0].tags}["mlflow.data.context"] == "eval"
