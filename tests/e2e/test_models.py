"""Models: sklearn autolog, the 3.x log_model flow (logged models), loading back and predicting."""

from __future__ import annotations

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from mlflow.entities import LoggedModelStatus
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from helpers import MODEL_ID_RE, expect_mlflow_error


@pytest.fixture(scope="module")
def iris():
    data = load_iris()
    return data.data, data.target


@pytest.fixture(scope="module")
def trained(iris):
    X, y = iris
    return LogisticRegression(max_iter=300, C=0.5).fit(X, y)


def test_sklearn_autolog(client, experiment_id, iris):
    X, y = iris
    mlflow.sklearn.autolog(log_input_examples=False, log_model_signatures=False, silent=True)
    try:
        with mlflow.start_run() as run:
            clf = LogisticRegression(max_iter=250, C=0.25).fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    run_id = run.info.run_id
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params["C"] == "0.25"
    assert got.data.params["max_iter"] == "250"
    assert got.data.tags["estimator_name"] == "LogisticRegression"
    train_acc = clf.score(X, y)
    assert got.data.metrics["training_accuracy_score"] == pytest.approx(train_acc)
    for key in ("training_f1_score", "training_precision_score", "training_recall_score"):
        assert 0.0 < got.data.metrics[key] <= 1.0

    # Autolog logged a model, linked to the run.
    models = client.search_logged_models([experiment_id])
    assert len(models) == 1
    model = models[0]
    assert model.source_run_id == run_id
    assert model.status == LoggedModelStatus.READY
    loaded = mlflow.sklearn.load_model(f"models:/{model.model_id}")
    assert np.array_equal(loaded.predict(X), clf.predict(X))


def test_log_model_and_load_back(client, experiment_id, iris, trained):
    X, _ = iris
    with mlflow.start_run() as run:
        mlflow.log_param("C", "0.5")
        mlflow.log_metric("train_acc", 0.97, step=0)
        info = mlflow.sklearn.log_model(trained, name="model", input_example=X[:3])
    run_id = run.info.run_id

    assert MODEL_ID_RE.match(info.model_id), info.model_id
    assert info.model_uri == f"models:/{info.model_id}"
    assert info.run_id == run_id
    assert "sklearn" in info.flavors and "python_function" in info.flavors

    expected = trained.predict(X)
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    assert np.array_equal(np.asarray(pyfunc.predict(X)), expected)
    sk = mlflow.sklearn.load_model(info.model_uri)
    assert np.array_equal(sk.predict(X), expected)
    assert np.allclose(sk.predict_proba(X), trained.predict_proba(X))
    # The run-relative URI resolves to the same logged model.
    by_run = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    assert np.array_equal(by_run.predict(X), expected)

    # The logged model entity.
    model = client.get_logged_model(info.model_id)
    assert model.model_id == info.model_id
    assert model.name == "model"
    assert model.experiment_id == experiment_id
    assert model.source_run_id == run_id
    assert model.status == LoggedModelStatus.READY
    assert model.artifact_location == (
        f"mlflow-artifacts:/{experiment_id}/models/{info.model_id}/artifacts"
    )
    assert model.params == {"C": "0.5"}
    assert isinstance(model.creation_timestamp, int) and model.creation_timestamp > 0
    linked = {m.key: m.value for m in (model.metrics or [])}
    assert linked == {"train_acc": 0.97}

    # The run records the model as an output.
    got = client.get_run(run_id)
    assert [o.model_id for o in got.outputs.model_outputs] == [info.model_id]

    # Files uploaded for the model.
    listed = mlflow.artifacts.list_artifacts(artifact_uri=model.artifact_location)
    files = {f.path.rsplit("/", 1)[-1] for f in listed}
    assert {"MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt", "input_example.json"} <= files


def test_get_model_info(experiment_id, iris, trained):
    X, _ = iris
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(trained, name="clf", input_example=X[:2])
    fetched = mlflow.models.get_model_info(info.model_uri)
    assert fetched.model_id == info.model_id
    assert fetched.run_id == run.info.run_id
    assert "sklearn" in fetched.flavors
    assert fetched.saved_input_example_info is not None


def test_search_logged_models(client, experiment_id, iris, trained):
    X, _ = iris
    with mlflow.start_run():
        a = mlflow.sklearn.log_model(trained, name="alpha")
    with mlflow.start_run():
        b = mlflow.sklearn.log_model(trained, name="beta")
    all_models = client.search_logged_models([experiment_id])
    assert sorted(m.model_id for m in all_models) == sorted([a.model_id, b.model_id])
    only_beta = client.search_logged_models([experiment_id], filter_string="name = 'beta'")
    assert [m.model_id for m in only_beta] == [b.model_id]
    assert client.search_logged_models([experiment_id], filter_string="name = 'nope'") == []


def test_create_finalize_and_tag_logged_model(client, experiment_id):
    model = client.create_logged_model(
        experiment_id, name="manual", tags={"t1": "v1"}, params={"p": "1"}
    )
    assert MODEL_ID_RE.match(model.model_id)
    assert model.status == LoggedModelStatus.PENDING
    assert model.tags["t1"] == "v1"
    assert model.params == {"p": "1"}
    assert not model.source_run_id

    final = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert final.status == LoggedModelStatus.READY
    assert client.get_logged_model(model.model_id).status == LoggedModelStatus.READY

    client.set_logged_model_tags(model.model_id, {"t2": "v2", "t1": "changed"})
    tags = client.get_logged_model(model.model_id).tags
    assert tags["t1"] == "changed" and tags["t2"] == "v2"
    client.delete_logged_model_tag(model.model_id, "t1")
    tags = client.get_logged_model(model.model_id).tags
    assert "t1" not in tags and tags["t2"] == "v2"

    failed = client.create_logged_model(experiment_id, name="broken")
    client.finalize_logged_model(failed.model_id, LoggedModelStatus.FAILED)
    assert client.get_logged_model(failed.model_id).status == LoggedModelStatus.FAILED


def test_get_missing_logged_model(client):
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_logged_model("m-" + "0" * 32)
