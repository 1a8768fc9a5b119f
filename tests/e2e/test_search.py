"""search_runs: the filter grammar, ordering (NaN and missing values), pagination, view types, pandas."""

from __future__ import annotations

import math
import time
import uuid

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType

from helpers import expect_mlflow_error

# name -> (metrics as [(step, value)], params, tags, status)
RUNS = {
    "r0": ({"acc": [(0, 0.1), (1, 0.9)], "loss": [(0, 0.5)]}, {"model": "lr", "lr": "0.1"},
           {"team": "alpha", "stage": "prod"}, "FINISHED"),
    "r1": ({"acc": [(0, 0.7)], "loss": [(0, 0.3)], "val loss": [(0, 0.25)]}, {"model": "svm"},
           {"team": "beta"}, "FINISHED"),
    "r2": ({"acc": [(0, float("nan"))], "loss": [(0, 0.2)]}, {"model": "LR"},
           {"team": "Alpha"}, "FINISHED"),
    "r3": ({"loss": [(0, 0.1)]}, {"model": "tree"}, {}, "FINISHED"),
    "r4": ({"acc": [(0, 0.8)], "loss": [(0, 0.4)]}, {"model": "lr_2"}, {"team": "gamma"}, "FAILED"),
    "r5": ({"acc": [(0, 0.95)]}, {"model": "lr"}, {"team": "alpha"}, "FINISHED"),  # deleted below
}


@pytest.fixture(scope="module")
def corpus(cairn_server):
    """One experiment holding the runs above; r5 is deleted. r0 and r1 log a 'train' dataset,
    r2 an 'eval' one. Returns (client, experiment_id, {name: run_id}, {dataset name: digest})."""
    client = MlflowClient(tracking_uri=cairn_server.url)
    exp_id = client.create_experiment(f"search-corpus-{uuid.uuid4().hex[:10]}")
    ids = {}
    base = int(time.time() * 1000)
    for i, (name, (metrics, params, tags, status)) in enumerate(RUNS.items()):
        # Distinct, increasing start times make the default order (start_time DESC) deterministic.
        run = client.create_run(exp_id, run_name=f"{name}-run", start_time=base + i * 1000)
        run_id = run.info.run_id
        ms = [Metric(k, v, base + step, step) for k, pts in metrics.items() for step, v in pts]
        client.log_batch(
            run_id,
            metrics=ms,
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        client.set_terminated(run_id, status=status)
        ids[name] = run_id
    client.delete_run(ids["r5"])

    train = mlflow.data.from_pandas(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), name="train_ds")
    evalset = mlflow.data.from_pandas(pd.DataFrame({"a": [5, 6, 7]}), name="eval_ds")
    from mlflow.entities import DatasetInput, InputTag

    def log_ds(run_id, ds, context):
        client.log_inputs(
            run_id,
            [DatasetInput(ds._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)])],
        )

    log_ds(ids["r0"], train, "training")
    log_ds(ids["r1"], train, "training")
    log_ds(ids["r2"], evalset, "evaluation")
    return client, exp_id, ids, {"train_ds": train.digest, "eval_ds": evalset.digest}


def names(corpus, runs):
    by_id = {v: k for k, v in corpus[2].items()}
    return [by_id[r.info.run_id] for r in runs]


def search(corpus, flt="", **kw):
    client, exp_id, _, _ = corpus
    return names(corpus, client.search_runs([exp_id], filter_string=flt, **kw))


def search_set(corpus, flt, **kw):
    return sorted(search(corpus, flt, **kw))


def test_default_order_is_start_time_desc(corpus):
    assert search(corpus) == ["r4", "r3", "r2", "r1", "r0"]


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("metrics.acc > 0.75", ["r0", "r4"]),  # latest value of r0 is 0.9 (step 1), not 0.1
        ("metrics.acc >= 0.9", ["r0"]),
        ("metrics.acc < 0.75", ["r1"]),  # NaN compares false
        ("metrics.acc <= 0.7", ["r1"]),
        ("metrics.acc = 0.7", ["r1"]),
        ("metrics.acc != 0.7", ["r0", "r2", "r4"]),  # NaN != x is true; missing metric excluded
        ("metric.loss < 0.25", ["r2", "r3"]),
        ("metrics.`val loss` = 0.25", ["r1"]),
        ('metrics."val loss" = 0.25', ["r1"]),
        ("metrics.acc > 0.5 AND metrics.loss < 0.45", ["r1", "r4"]),
        ("metrics.acc > 0.5 and params.model = 'lr'", ["r0"]),
    ],
)
def test_metric_filters(corpus, flt, expected):
    assert search_set(corpus, flt) == expected


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("params.model = 'lr'", ["r0"]),
        ("params.model != 'lr'", ["r1", "r2", "r3", "r4"]),
        ("params.model LIKE 'l%'", ["r0", "r4"]),
        ("params.model LIKE 'lr_2'", ["r4"]),
        ("params.model LIKE 'l_'", ["r0"]),
        ("params.model ILIKE 'l%'", ["r0", "r2", "r4"]),
        ('params.model = "svm"', ["r1"]),
        ("param.lr = '0.1'", ["r0"]),
        ("parameters.model ILIKE '%R%'", ["r0", "r2", "r3", "r4"]),
        ("params.lr IS NULL", ["r1", "r2", "r3", "r4"]),
        ("params.lr IS NOT NULL", ["r0"]),
    ],
)
def test_param_filters(corpus, flt, expected):
    assert search_set(corpus, flt) == expected


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("tags.team = 'alpha'", ["r0"]),
        ("tags.team LIKE 'alpha'", ["r0"]),
        ("tags.team ILIKE 'alpha'", ["r0", "r2"]),
        ("tags.team ILIKE '%a'", ["r0", "r1", "r2", "r4"]),
        ("tags.team != 'alpha'", ["r1", "r2", "r4"]),
        ("tags.team IS NULL", ["r3"]),
        ("tags.team IS NOT NULL", ["r0", "r1", "r2", "r4"]),
        ("tag.stage = 'prod' AND tags.team = 'alpha'", ["r0"]),
        ("tags.`mlflow.runName` = 'r3-run'", ["r3"]),
        ("tags.mlflow.runName LIKE 'r1%'", ["r1"]),
    ],
)
def test_tag_filters(corpus, flt, expected):
    assert search_set(corpus, flt) == expected


def test_attribute_filters(corpus):
    _, _, ids, _ = corpus
    assert search_set(corpus, "attributes.status = 'FAILED'") == ["r4"]
    assert search_set(corpus, "status != 'FAILED'") == ["r0", "r1", "r2", "r3"]
    assert search_set(corpus, "attributes.run_name = 'r2-run'") == ["r2"]
    assert search_set(corpus, "run_name LIKE 'r%-run'") == ["r0", "r1", "r2", "r3", "r4"]
    assert search_set(corpus, "attribute.run_name ILIKE 'R1-%'") == ["r1"]
    assert search_set(corpus, "`run name` = 'r0-run'") == ["r0"]
    assert search_set(corpus, f"attributes.run_id = '{ids['r3']}'") == ["r3"]
    assert search_set(corpus, f"run_id IN ('{ids['r0']}', '{ids['r4']}')") == ["r0", "r4"]
    assert search_set(corpus, f"attributes.run_id NOT IN ('{ids['r0']}', '{ids['r4']}')") == [
        "r1", "r2", "r3"
    ]
    # r5 is deleted: an IN naming it still finds nothing in the active view.
    assert search_set(corpus, f"run_id IN ('{ids['r5']}')") == []


def test_start_time_filters(corpus):
    client, exp_id, ids, _ = corpus
    t2 = client.get_run(ids["r2"]).info.start_time
    assert search_set(corpus, f"attributes.start_time > {t2}") == ["r3", "r4"]
    assert search_set(corpus, f"attributes.start_time >= {t2}") == ["r2", "r3", "r4"]
    assert search_set(corpus, f"created < {t2}") == ["r0", "r1"]


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("dataset.name = 'train_ds'", ["r0", "r1"]),
        ("datasets.name IN ('train_ds', 'eval_ds')", ["r0", "r1", "r2"]),
        ("dataset.context = 'evaluation'", ["r2"]),
        ("dataset.name LIKE '%_ds'", ["r0", "r1", "r2"]),
        ("dataset.name = 'train_ds' AND metrics.acc > 0.8", ["r0"]),
    ],
)
def test_dataset_filters(corpus, flt, expected):
    assert search_set(corpus, flt) == expected


def test_dataset_digest_filter(corpus):
    digest = corpus[3]["eval_ds"]
    assert search_set(corpus, f"dataset.digest = '{digest}'") == ["r2"]


def test_order_by_metric_missing_and_nan_last(corpus):
    # Numbers first (in the requested direction), then NaN, then runs without the metric.
    assert search(corpus, order_by=["metrics.acc DESC"]) == ["r0", "r4", "r1", "r2", "r3"]
    assert search(corpus, order_by=["metrics.acc ASC"]) == ["r1", "r4", "r0", "r2", "r3"]
    assert search(corpus, order_by=["metrics.acc"]) == ["r1", "r4", "r0", "r2", "r3"]


def test_order_by_param_tag_and_attributes(corpus):
    # Missing values sort last in both directions.
    assert search(corpus, order_by=["params.lr DESC"])[0] == "r0"
    assert search(corpus, order_by=["params.lr ASC"])[0] == "r0"
    # (r2's values differ from others only by case, and collations disagree on case: leave r2 out.)
    no_r2 = "attributes.run_name != 'r2-run'"
    assert search(corpus, no_r2, order_by=["params.model ASC"]) == ["r0", "r4", "r1", "r3"]
    assert search(corpus, no_r2, order_by=["params.model DESC"]) == ["r3", "r1", "r4", "r0"]
    assert search(corpus, no_r2, order_by=["tags.team DESC"]) == ["r4", "r1", "r0", "r3"]
    assert search(corpus, no_r2, order_by=["tags.team ASC"]) == ["r0", "r1", "r4", "r3"]
    assert search(corpus, order_by=["attributes.start_time ASC"]) == ["r0", "r1", "r2", "r3", "r4"]
    assert search(corpus, order_by=["run_name DESC"]) == ["r4", "r3", "r2", "r1", "r0"]
    # Ties on the first key fall back to start_time DESC.
    assert search(corpus, order_by=["attributes.status ASC"]) == ["r4", "r3", "r2", "r1", "r0"]


def test_order_by_two_keys(corpus):
    got = search(corpus, order_by=["attributes.status DESC", "metrics.loss ASC"])
    # FINISHED runs by loss ascending (r3 0.1, r2 0.2, r1 0.3, r0 0.5), then FAILED r4.
    assert got == ["r3", "r2", "r1", "r0", "r4"]


def test_view_types(corpus):
    assert search_set(corpus, "", run_view_type=ViewType.DELETED_ONLY) == ["r5"]
    assert search_set(corpus, "", run_view_type=ViewType.ALL) == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert search_set(corpus, "metrics.acc > 0.9", run_view_type=ViewType.ALL) == ["r5"]
    assert search_set(corpus, "", run_view_type=ViewType.ACTIVE_ONLY) == ["r0", "r1", "r2", "r3", "r4"]


def test_returned_runs_carry_data(corpus):
    client, exp_id, ids, _ = corpus
    [run] = client.search_runs([exp_id], filter_string="params.model = 'lr'")
    assert run.info.run_id == ids["r0"]
    assert run.data.metrics == {"acc": 0.9, "loss": 0.5}
    assert run.data.params == {"model": "lr", "lr": "0.1"}
    assert run.data.tags["team"] == "alpha" and run.data.tags["stage"] == "prod"
    assert run.info.status == "FINISHED"
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["train_ds"]
    [nan_run] = client.search_runs([exp_id], filter_string="params.model = 'LR'")
    assert math.isnan(nan_run.data.metrics["acc"])


@pytest.mark.parametrize("order_by", [None, ["metrics.acc DESC"], ["params.model ASC"]])
def test_pagination_covers_every_run_once(corpus, order_by):
    client, exp_id, ids, _ = corpus
    full = client.search_runs([exp_id], run_view_type=ViewType.ALL, order_by=order_by)
    assert len(full) == 6
    collected, sizes, token = [], [], None
    while True:
        page = client.search_runs(
            [exp_id], run_view_type=ViewType.ALL, order_by=order_by, max_results=4, page_token=token
        )
        sizes.append(len(page))
        collected += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
        assert len(sizes) < 10
    assert sizes == [4, 2]
    assert collected == [r.info.run_id for r in full]
    assert sorted(collected) == sorted(ids.values())


def test_pagination_page_size_one(corpus):
    client, exp_id, ids, _ = corpus
    seen, token = [], None
    for _ in range(10):
        page = client.search_runs([exp_id], max_results=1, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(v for k, v in ids.items() if k != "r5")
    assert len(seen) == 5


def test_exact_fit_page_has_no_dangling_results(corpus):
    client, exp_id, _, _ = corpus
    page = client.search_runs([exp_id], max_results=5)
    assert len(page) == 5
    if page.token:  # a token on an exactly-full last page must lead to an empty page
        rest = client.search_runs([exp_id], max_results=5, page_token=page.token)
        assert len(rest) == 0 and not rest.token


def test_pandas_search_runs(corpus):
    _, exp_id, ids, _ = corpus
    df = mlflow.search_runs(
        experiment_ids=[exp_id], filter_string="metrics.acc > 0", order_by=["metrics.acc DESC"]
    )
    assert isinstance(df, pd.DataFrame)
    assert list(df["run_id"]) == [ids["r0"], ids["r4"], ids["r1"]]
    assert list(df["metrics.acc"]) == [0.9, 0.8, 0.7]
    assert list(df["params.model"]) == ["lr", "lr_2", "svm"]
    assert list(df["tags.team"]) == ["alpha", "gamma", "beta"]
    assert list(df["status"]) == ["FINISHED", "FAILED", "FINISHED"]
    assert str(df["start_time"].dtype).startswith("datetime64")


def test_pandas_search_runs_by_experiment_name(corpus):
    client, exp_id, ids, _ = corpus
    name = client.get_experiment(exp_id).name
    df = mlflow.search_runs(experiment_names=[name], run_view_type=ViewType.ALL)
    assert sorted(df["run_id"]) == sorted(ids.values())
    runs = mlflow.search_runs(
        experiment_ids=[exp_id], filter_string="tags.team = 'beta'", output_format="list"
    )
    assert [r.info.run_id for r in runs] == [ids["r1"]]


def test_search_across_experiments(corpus, client, unique_name):
    _, exp_id, ids, _ = corpus
    other = client.create_experiment(unique_name())
    other_run = client.create_run(other).info.run_id
    client.log_param(other_run, "model", "lr")
    found = client.search_runs([exp_id, other], filter_string="params.model = 'lr'")
    assert sorted(r.info.run_id for r in found) == sorted([ids["r0"], other_run])


@pytest.mark.parametrize(
    "flt",
    [
        "metrics.acc >>> 0.5",
        "metrics.acc = 'abc'",
        "params.model > 'a'",
        "foo.bar = '1'",
        "tags.team = 'a' OR tags.team = 'b'",
        "params.model = lr",
        "run_id IN ('a'",
        "(metrics.acc > 0.5)",
        "tags.team IN ('alpha')",
        "attributes.start_time = 'yesterday'",
        "attributes.nonexistent = 'x'",
    ],
)
def test_bad_filter_is_invalid_parameter_value(corpus, flt):
    client, exp_id, _, _ = corpus
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_runs([exp_id], filter_string=flt)


@pytest.mark.parametrize(
    "order_by",
    [
        ["metrics.acc SIDEWAYS"],
        ["foo.bar ASC"],
        # mlflow server answers 500 here (an MlflowException without a code); Cairn must say 400.
        pytest.param(["metrics.acc ASC", "metrics.acc DESC"], marks=pytest.mark.cairn_only),
    ],
)
def test_bad_order_by_is_invalid_parameter_value(corpus, order_by):
    client, exp_id, _, _ = corpus
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_runs([exp_id], order_by=order_by)


def test_max_results_over_limit_is_rejected(corpus):
    client, exp_id, _, _ = corpus
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.search_runs([exp_id], max_results=50001)
