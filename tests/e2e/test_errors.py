"""Errors as the official client sees them: the exact MLflow error codes (never a 5xx)."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag

from helpers import expect_mlflow_error, now_ms

MISSING_RUN = "0" * 32


def test_get_missing_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_run(MISSING_RUN)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_run("not-a-run-id")


def test_get_missing_experiment(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_experiment("987654321")


def test_non_numeric_experiment_id(client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.get_experiment("abc")


def test_writes_to_missing_run(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.log_metric(MISSING_RUN, "m", 1.0)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.log_param(MISSING_RUN, "p", "1")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_tag(MISSING_RUN, "t", "v")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_run(MISSING_RUN)
    # MLflow answers a history query for an unknown run with an empty history.
    assert client.get_metric_history(MISSING_RUN, "m") == []


def test_create_run_in_missing_experiment(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.create_run("987654321")


def test_create_run_in_deleted_experiment(client, unique_name):
    exp_id = client.create_experiment(unique_name())
    client.delete_experiment(exp_id)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="active"):
        client.create_run(exp_id)


def test_missing_experiment_operations(client, unique_name):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_experiment("987654321")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.rename_experiment("987654321", unique_name())
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_experiment_tag("987654321", "k", "v")


@pytest.mark.parametrize("key", ["bad*name", "semi;colon", "../escape", "/abs", "a//b", "trailing/", ""])
def test_invalid_metric_names(client, experiment_id, key):
    run_id = client.create_run(experiment_id).info.run_id
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_metric(run_id, key, 1.0)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_batch(run_id, metrics=[Metric(key, 1.0, now_ms(), 0)])
    assert client.get_run(run_id).data.metrics == {}


def test_invalid_param_and_tag_names(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, "bad?param", "1")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.set_tag(run_id, "bad?tag", "1")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, "k" * 251, "1")


def _oversize_outcome(write, read, limit: int, value: str):
    """MLflow's server either rejects an over-long value (INVALID_PARAMETER_VALUE, nothing stored) or,
    by default (MLFLOW_TRUNCATE_LONG_VALUES=true), stores exactly its first `limit` characters.
    Storing it whole, or anything else, is wrong."""
    from mlflow.exceptions import MlflowException

    try:
        write()
    except MlflowException as e:
        assert e.error_code == "INVALID_PARAMETER_VALUE", e
        assert read() is None
        return "rejected"
    stored = read()
    assert stored == value[:limit], f"stored {len(stored or '')} chars, limit {limit}"
    return "truncated"


def test_oversize_param_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    value = "abcdefghij" * 600 + "X"  # 6001 chars
    _oversize_outcome(lambda: client.log_param(run_id, "big", value),
                      lambda: client.get_run(run_id).data.params.get("big"), 6000, value)
    _oversize_outcome(lambda: client.log_batch(run_id, params=[Param("big2", value)]),
                      lambda: client.get_run(run_id).data.params.get("big2"), 6000, value)


def test_oversize_tag_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    value = "0123456789" * 800 + "Y"  # 8001 chars
    _oversize_outcome(lambda: client.set_tag(run_id, "big", value),
                      lambda: client.get_run(run_id).data.tags.get("big"), 8000, value)
    _oversize_outcome(lambda: client.log_batch(run_id, tags=[RunTag("big2", value)]),
                      lambda: client.get_run(run_id).data.tags.get("big2"), 8000, value)


def test_rejected_batch_writes_nothing(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_batch(
            run_id,
            metrics=[Metric("good", 1.0, now_ms(), 0), Metric("bad*key", 2.0, now_ms(), 0)],
            params=[Param("ok", "1")],
            tags=[RunTag("fine", "yes")],
        )
    got = client.get_run(run_id)
    assert got.data.metrics == {} and got.data.params == {}
    assert "fine" not in got.data.tags


def test_invalid_experiment_names(client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.create_experiment("")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.create_experiment("x" * 501)


def test_bad_experiment_search_filter(client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_experiments(filter_string="name >>> 'x'")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_experiments(filter_string="nosuchfield = 'x'")


def test_invalid_run_status(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(Exception):
        client.update_run(run_id, status="EXPLODED")  # rejected client-side or server-side
    assert client.get_run(run_id).info.status == "RUNNING"


def test_fluent_errors_surface_codes(experiment_id):
    with mlflow.start_run():
        with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
            mlflow.log_metric("bad*name", 1.0)


@pytest.mark.cairn_only  # mlflow server's own answer to a NUL is engine-dependent (stored, or a 500)
def test_nul_characters_are_invalid_parameter_values(client, experiment_id, unique_name):
    """A NUL (U+0000) in a stored string is the caller's error: a 400 the client raises at once (no
    retries, which a 5xx would get for minutes), and nothing is stored."""
    import time

    run_id = client.create_run(experiment_id).info.run_id
    started = time.monotonic()
    with mlflow.start_run(run_id=run_id):
        with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="NUL"):
            mlflow.set_tag("k", "a\x00b")
        with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="NUL"):
            mlflow.log_param("p", "a\x00b")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.log_metric(run_id, "a\x00b", 1.0)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="NUL"):
        client.create_experiment(f"{unique_name}-\x00")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="NUL"):
        client.create_registered_model(f"{unique_name}-model", description="a\x00b")
    assert time.monotonic() - started < 10
    data = client.get_run(run_id).data
    assert "k" not in data.tags and data.params == {} and data.metrics == {}
    assert client.search_registered_models(f"name = '{unique_name}-model'") == []


def test_mlflow_words_for_missing_taken_and_clashing_entities(client, unique_name):
    """The messages themselves are MLflow's (users and tools match on them); reference mode checks them
    against a real `mlflow server`. Cairn's stores only say which entity and key; the MLflow adapter
    words it."""
    import re

    def starts(text: str) -> str:
        # The client prefixes the error code ("RESOURCE_DOES_NOT_EXIST: …").
        return r"^(?:[A-Z_]+: )?" + re.escape(text)

    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST", match=starts(f"Run with id={MISSING_RUN} not found")):
        client.get_run(MISSING_RUN)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST", match=starts("No Experiment with id=987654321 exists")):
        client.get_experiment("987654321")
    model = unique_name()
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST", match=starts(f"Registered Model with name={model} not found")):
        client.get_registered_model(model)
    client.create_registered_model(model)
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS", match=starts(f"Registered Model (name={model}) already exists.")):
        client.create_registered_model(model)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST", match=starts(f"Model Version (name={model}, version=9) not found")):
        client.get_model_version(model, "9")

    exp = client.create_experiment(unique_name())
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS", match=starts(f"Experiment(name={client.get_experiment(exp).name}) already exists.")):
        client.create_experiment(client.get_experiment(exp).name)
    run = client.create_run(exp).info.run_id
    client.log_param(run, "p", "1")
    with expect_mlflow_error(
        "INVALID_PARAMETER_VALUE",
        match=starts(
            f"Changing param values is not allowed. Param with key='p' was already logged with value='1' "
            f"for run ID='{run}'. Attempted logging new value '2'."
        ),
    ):
        client.log_param(run, "p", "2")
    client.delete_run(run)
    with expect_mlflow_error(
        "INVALID_PARAMETER_VALUE", match=starts(f"The run {run} must be in the 'active' state. Current state is deleted.")
    ):
        client.log_metric(run, "m", 1.0)
