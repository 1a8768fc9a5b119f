"""Runs through the fluent API and MlflowClient: lifecycle, names, nesting, status, delete/restore."""

from __future__ import annotations

import mlflow
from mlflow.entities import RunStatus, ViewType

from helpers import RUN_ID_RE, expect_mlflow_error, now_ms


def test_start_and_end_run(client, experiment_id):
    before = now_ms()
    with mlflow.start_run(run_name="first-run") as run:
        run_id = run.info.run_id
        live = client.get_run(run_id)
        assert live.info.status == "RUNNING"
        assert live.info.end_time is None
    after = now_ms()

    assert RUN_ID_RE.match(run_id)
    got = client.get_run(run_id)
    assert got.info.run_id == run_id
    assert got.info.experiment_id == experiment_id
    assert got.info.run_name == "first-run"
    assert got.info.status == "FINISHED"
    assert got.info.lifecycle_stage == "active"
    assert before - 5000 <= got.info.start_time <= after + 5000
    assert got.info.start_time <= got.info.end_time <= after + 5000
    assert got.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    assert got.data.tags["mlflow.runName"] == "first-run"
    assert "mlflow.user" in got.data.tags
    assert got.data.tags["mlflow.source.type"] == "LOCAL"


def test_client_create_run_with_tags_and_generated_name(client, experiment_id):
    run = client.create_run(experiment_id, tags={"a": "1", "b": "two"})
    assert run.info.status == "RUNNING"
    assert run.data.tags["a"] == "1" and run.data.tags["b"] == "two"
    # The server generates a name when none is given, and mirrors it in the runName tag.
    assert run.info.run_name
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == run.info.run_name
    assert got.data.tags["mlflow.runName"] == run.info.run_name

    named = client.create_run(experiment_id, run_name="explicit", start_time=1_700_000_000_000)
    got = client.get_run(named.info.run_id)
    assert got.info.run_name == "explicit"
    assert got.info.start_time == 1_700_000_000_000


def test_nested_runs_carry_parent_tag(client, experiment_id):
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            assert mlflow.active_run().info.run_id == child.info.run_id
        assert mlflow.active_run().info.run_id == parent.info.run_id

    got_child = client.get_run(child.info.run_id)
    assert got_child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert "mlflow.parentRunId" not in client.get_run(parent.info.run_id).data.tags

    children = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]


def test_update_run_status_and_name(client, experiment_id):
    run = client.create_run(experiment_id, run_name="before")
    run_id = run.info.run_id
    client.update_run(run_id, status="KILLED")
    got = client.get_run(run_id)
    assert got.info.status == "KILLED"

    client.update_run(run_id, name="after")
    got = client.get_run(run_id)
    assert got.info.run_name == "after"
    assert got.data.tags["mlflow.runName"] == "after"
    assert got.info.status == "KILLED"


def test_set_terminated(client, experiment_id):
    run = client.create_run(experiment_id)
    client.set_terminated(run.info.run_id, status="FAILED", end_time=now_ms() + 1000)
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FAILED"
    assert got.info.end_time >= got.info.start_time

    run2 = client.create_run(experiment_id)
    client.set_terminated(run2.info.run_id)
    got2 = client.get_run(run2.info.run_id)
    assert got2.info.status == RunStatus.to_string(RunStatus.FINISHED)
    assert got2.info.end_time is not None


def test_fluent_end_run_with_status(client, experiment_id):
    run = mlflow.start_run()
    mlflow.end_run(status="FAILED")
    assert client.get_run(run.info.run_id).info.status == "FAILED"


def test_delete_and_restore_run(client, experiment_id):
    keep = client.create_run(experiment_id).info.run_id
    victim = client.create_run(experiment_id).info.run_id
    client.delete_run(victim)
    assert client.get_run(victim).info.lifecycle_stage == "deleted"

    active = client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    both = client.search_runs([experiment_id], run_view_type=ViewType.ALL)
    assert [r.info.run_id for r in active] == [keep]
    assert [r.info.run_id for r in deleted] == [victim]
    assert sorted(r.info.run_id for r in both) == sorted([keep, victim])

    client.restore_run(victim)
    assert client.get_run(victim).info.lifecycle_stage == "active"
    active = client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    assert sorted(r.info.run_id for r in active) == sorted([keep, victim])


def test_logging_to_deleted_run_is_rejected(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p", "1")
    client.delete_run(run_id)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="active"):
        client.log_metric(run_id, "m", 1.0)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="active"):
        client.log_param(run_id, "q", "2")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="active"):
        client.set_tag(run_id, "t", "v")
    from mlflow.entities import Metric

    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="active"):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, now_ms(), 0)])
    client.restore_run(run_id)
    client.log_metric(run_id, "m", 2.0)
    got = client.get_run(run_id)
    assert got.data.metrics == {"m": 2.0}
    assert got.data.params == {"p": "1"}


def test_param_is_immutable(client, experiment_id):
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_param("lr", "0.1")  # same value again: fine
        with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
            mlflow.log_param("lr", "0.2")
        mlflow.log_params({"lr": "0.1", "epochs": 3})
    got = client.get_run(run.info.run_id)
    assert got.data.params == {"lr": "0.1", "epochs": "3"}


def test_param_change_through_log_batch_is_rejected(client, experiment_id):
    from mlflow.entities import Param

    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(run_id, params=[Param("a", "1")])
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_batch(run_id, params=[Param("a", "2")])
    assert client.get_run(run_id).data.params == {"a": "1"}


def test_run_belongs_to_its_experiment_only(client, experiment_id, unique_name):
    other = client.create_experiment(unique_name("other"))
    r1 = client.create_run(experiment_id).info.run_id
    r2 = client.create_run(other).info.run_id
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [r1]
    assert [r.info.run_id for r in client.search_runs([other])] == [r2]
    assert sorted(r.info.run_id for r in client.search_runs([experiment_id, other])) == sorted([r1, r2])
