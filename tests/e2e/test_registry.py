"""Model registry: registering logged models (sklearn and ONNX), loading them back by version and alias,
registered-model and model-version CRUD, aliases, legacy stages, search (filters, ordering, pagination),
wire-level error codes, and Cairn's registry change history (endpoint and CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import mlflow
import mlflow.onnx
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import onnxruntime as ort
import pytest
from mlflow import MlflowClient
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from helpers import MODEL_ID_RE, api, assert_error, expect_mlflow_error, now_ms

API = "/api/2.0/mlflow"
HISTORY = "/api/cairn/v1/registry/models"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Given explicitly so that log_model skips inferring requirements (a subprocess that reloads the model,
# several seconds per model).
SK_REQS = ["scikit-learn", "numpy"]
ONNX_REQS = ["onnx", "onnxruntime", "numpy"]


def s3(name: str, i) -> str:
    """A model version source that needs no artifacts: MLflow stores remote URIs as they are."""
    return f"s3://cairn-e2e-bucket/{name}/{i}"


def versions_of(client: MlflowClient, name: str) -> list[str]:
    return sorted(
        (mv.version for mv in client.search_model_versions(f"name = '{name}'")), key=int
    )


def model_versions_tag(client: MlflowClient, model_id: str) -> set[tuple[str, str]]:
    """The logged model's `mlflow.modelVersions` tag as a set of (name, version) (the client appends
    a second, string-versioned entry for the one the server wrote, so duplicates are folded)."""
    raw = client.get_logged_model(model_id).tags.get("mlflow.modelVersions")
    assert raw is not None, "logged model has no mlflow.modelVersions tag"
    return {(e["name"], str(e["version"])) for e in json.loads(raw)}


def new_model(client: MlflowClient, name: str, n_versions: int = 0, **kwargs) -> list[str]:
    client.create_registered_model(name, **kwargs)
    return [client.create_model_version(name, s3(name, i)).version for i in range(n_versions)]


# ---------------------------------------------------------------------------------------------
# Fitted models, shared by the module
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def iris():
    data = load_iris()
    return data.data.astype(np.float32), data.target


@pytest.fixture(scope="module")
def trained(iris):
    X, y = iris
    return LogisticRegression(max_iter=300, C=0.7).fit(X, y)


@pytest.fixture(scope="module")
def onnx_model(trained, iris):
    X, _ = iris
    # zipmap off: probabilities come out as one float tensor instead of a list of dicts.
    return to_onnx(trained, X[:1], options={id(trained): {"zipmap": False}})


@pytest.fixture(scope="module")
def module_client(cairn_server):
    return MlflowClient(tracking_uri=cairn_server.url)


@pytest.fixture(scope="module")
def module_experiment(module_client):
    return module_client.create_experiment(f"registry-{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
def sk_registered(module_client, module_experiment, trained):
    """A sklearn model logged with registered_model_name, aliased `champion`."""
    name = f"sk-{uuid.uuid4().hex[:12]}"
    with mlflow.start_run(experiment_id=module_experiment) as run:
        info = mlflow.sklearn.log_model(
            trained, name="model", registered_model_name=name, pip_requirements=SK_REQS
        )
    module_client.set_registered_model_alias(name, "champion", "1")
    return name, info, run.info.run_id


# ---------------------------------------------------------------------------------------------
# Registering logged models
# ---------------------------------------------------------------------------------------------
def test_log_model_with_registered_model_name(client, experiment_id, trained, unique_name):
    name = unique_name("sk")
    t0 = now_ms()
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            trained, name="model", registered_model_name=name, pip_requirements=SK_REQS
        )
    run_id = run.info.run_id
    assert MODEL_ID_RE.match(info.model_id), info.model_id
    assert str(info.registered_model_version) == "1"

    mv = client.get_model_version(name, "1")
    assert mv.name == name
    assert mv.version == "1"
    assert mv.source == f"models:/{info.model_id}"
    assert mv.run_id == run_id
    assert mv.status == "READY"
    assert mv.current_stage == "None"
    assert mv.aliases == []
    assert mv.model_id in (None, "", info.model_id)
    assert isinstance(mv.creation_timestamp, int)
    assert t0 - 5_000 <= mv.creation_timestamp <= now_ms() + 5_000
    assert mv.last_updated_timestamp >= mv.creation_timestamp

    rm = client.get_registered_model(name)
    assert rm.name == name
    assert [v.version for v in rm.latest_versions] == ["1"]
    assert rm.creation_timestamp <= rm.last_updated_timestamp

    # The server tags the logged model with the versions registered from it.
    assert model_versions_tag(client, info.model_id) == {(name, "1")}

    # The download URI of the version is the logged model's artifact location.
    model = client.get_logged_model(info.model_id)
    assert client.get_model_version_download_uri(name, "1") == model.artifact_location
    assert model.artifact_location == (
        f"mlflow-artifacts:/{experiment_id}/models/{info.model_id}/artifacts"
    )


def test_register_model_from_runs_uri_and_logged_model_uri(
    client, experiment_id, trained, iris, unique_name
):
    X, _ = iris
    name = unique_name("reg")
    with mlflow.start_run() as run1:
        info1 = mlflow.sklearn.log_model(trained, name="model", pip_requirements=SK_REQS)
    with mlflow.start_run() as run2:
        info2 = mlflow.sklearn.log_model(trained, name="other", pip_requirements=SK_REQS)

    # runs:/<run_id>/model: the run has no files there in 3.x, so the client finds the logged model
    # named `model` of that run and registers models:/m-... instead.
    mv1 = mlflow.register_model(f"runs:/{run1.info.run_id}/model", name)
    assert mv1.version == "1"
    assert mv1.source == f"models:/{info1.model_id}"
    assert mv1.run_id == run1.info.run_id
    assert mv1.status == "READY"

    mv2 = mlflow.register_model(f"models:/{info1.model_id}", name)
    assert mv2.version == "2"
    assert mv2.source == f"models:/{info1.model_id}"
    assert mv2.run_id == run1.info.run_id

    mv3 = mlflow.register_model(f"models:/{info2.model_id}", name)
    assert mv3.version == "3"
    assert mv3.source == f"models:/{info2.model_id}"
    assert mv3.run_id == run2.info.run_id
    assert mv3.status == "READY"

    assert versions_of(client, name) == ["1", "2", "3"]
    for v, run in (("1", run1), ("2", run1), ("3", run2)):
        got = client.get_model_version(name, v)
        assert got.run_id == run.info.run_id
        assert got.status == "READY"

    assert model_versions_tag(client, info1.model_id) == {(name, "1"), (name, "2")}
    assert model_versions_tag(client, info2.model_id) == {(name, "3")}

    # Version numbers are per registered model.
    other = unique_name("reg2")
    assert mlflow.register_model(f"models:/{info2.model_id}", other).version == "1"
    assert model_versions_tag(client, info2.model_id) == {(name, "3"), (other, "1")}

    # Each registered version loads the model it was registered from.
    loaded = mlflow.sklearn.load_model(f"models:/{name}/3")
    assert np.array_equal(loaded.predict(X), trained.predict(X))


def test_register_model_with_tags_and_description(client, experiment_id, trained, unique_name):
    name = unique_name()
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(trained, name="model", pip_requirements=SK_REQS)
    client.create_registered_model(name)
    # A models:/m-... source must come with the model_id it names.
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.create_model_version(name, source=f"models:/{info.model_id}", run_id=run.info.run_id)
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.create_model_version(
            name, source=f"models:/{info.model_id}", model_id="m-" + "0" * 32
        )
    assert versions_of(client, name) == []
    mv = client.create_model_version(
        name,
        source=f"models:/{info.model_id}",
        run_id=run.info.run_id,
        model_id=info.model_id,
        tags={"team": "vision", "stage": "candidate"},
        description="first cut",
    )
    assert mv.version == "1"
    got = client.get_model_version(name, "1")
    assert got.tags == {"team": "vision", "stage": "candidate"}
    assert got.description == "first cut"
    assert got.source == f"models:/{info.model_id}"


# ---------------------------------------------------------------------------------------------
# Loading registered models
# ---------------------------------------------------------------------------------------------
def test_load_sklearn_by_version_and_alias(sk_registered, iris, trained):
    X, _ = iris
    name, _, _ = sk_registered
    expected = trained.predict(X)
    for uri in (f"models:/{name}/1", f"models:/{name}@champion", f"models:/{name}/latest"):
        pyfunc = mlflow.pyfunc.load_model(uri)
        assert np.array_equal(np.asarray(pyfunc.predict(X)), expected), uri
        sk = mlflow.sklearn.load_model(uri)
        assert np.array_equal(sk.predict(X), expected), uri
        assert np.allclose(sk.predict_proba(X), trained.predict_proba(X)), uri


def test_registered_version_as_source(module_client, base_url, sk_registered, iris, trained, unique_name):
    """A version registered from another registered version (`models:/name/1`, `models:/name@alias`)
    inherits its files and run; the source is stored as `models:/<name>/<version>`."""
    X, _ = iris
    name, info, run_id = sk_registered
    dst = unique_name("copy")
    copy = module_client.copy_model_version(f"models:/{name}@champion", dst)
    assert (copy.name, copy.version) == (dst, "1")
    assert copy.source == f"models:/{name}/1"
    assert copy.run_id == run_id
    assert copy.status == "READY"
    original_uri = module_client.get_model_version_download_uri(name, "1")
    assert original_uri == module_client.get_logged_model(info.model_id).artifact_location
    assert module_client.get_model_version_download_uri(dst, "1") == original_uri
    loaded = mlflow.sklearn.load_model(f"models:/{dst}/1")
    assert np.array_equal(loaded.predict(X), trained.predict(X))

    # The alias form over the wire is resolved to the version it names at that moment.
    r = api(
        base_url,
        "POST",
        f"{API}/model-versions/create",
        json={"name": dst, "source": f"models:/{name}@champion"},
    )
    assert r.status_code == 200, r.text
    mv = r.json()["model_version"]
    assert mv["version"] == "2"
    assert mv["source"] == f"models:/{name}/1"
    assert mv["run_id"] == run_id
    # A registered source that does not exist is refused.
    r = api(
        base_url,
        "POST",
        f"{API}/model-versions/create",
        json={"name": dst, "source": f"models:/{name}/99"},
    )
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    assert versions_of(module_client, dst) == ["1", "2"]


def test_onnx_model_register_and_load(client, experiment_id, onnx_model, trained, iris, unique_name):
    X, _ = iris
    name = unique_name("onnx")
    with mlflow.start_run() as run:
        info = mlflow.onnx.log_model(
            onnx_model, name="onnx", registered_model_name=name, pip_requirements=ONNX_REQS
        )
    assert str(info.registered_model_version) == "1"
    assert "onnx" in info.flavors
    mv = client.get_model_version(name, "1")
    assert mv.source == f"models:/{info.model_id}"
    assert mv.run_id == run.info.run_id
    assert mv.status == "READY"
    client.set_registered_model_alias(name, "prod", "1")

    session = ort.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    ort_label, ort_proba = session.run(None, {session.get_inputs()[0].name: X})
    assert np.array_equal(ort_label, trained.predict(X))

    for uri in (f"models:/{name}/1", f"models:/{name}@prod"):
        pyfunc = mlflow.pyfunc.load_model(uri)
        out = pyfunc.predict(X)
        assert set(out) == {"label", "probabilities"}, uri
        assert np.array_equal(out["label"], ort_label), uri
        assert np.array_equal(out["label"], trained.predict(X)), uri
        assert np.allclose(out["probabilities"], ort_proba), uri
        assert np.allclose(out["probabilities"], trained.predict_proba(X), atol=1e-4), uri

    # The ONNX flavour gives back the same graph.
    proto = mlflow.onnx.load_model(f"models:/{name}@prod")
    assert proto.graph == onnx_model.graph


# ---------------------------------------------------------------------------------------------
# Aliases
# ---------------------------------------------------------------------------------------------
def test_alias_set_get_move_delete(client, base_url, unique_name):
    name = unique_name()
    assert new_model(client, name, 3) == ["1", "2", "3"]

    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    mv = client.get_model_version_by_alias(name, "champion")
    assert (mv.name, mv.version) == (name, "1")
    assert mv.aliases == ["champion"]
    assert mv.source == s3(name, 0)
    assert client.get_model_version_by_alias(name, "challenger").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}
    assert client.get_model_version(name, "1").aliases == ["champion"]
    assert client.get_model_version(name, "3").aliases == []

    # Wire shapes: a list of {alias, version} on the registered model, a list of names on a version.
    r = api(base_url, "GET", f"{API}/registered-models/get", params={"name": name})
    assert r.status_code == 200, r.text
    aliases = r.json()["registered_model"]["aliases"]
    assert sorted(aliases, key=lambda a: a["alias"]) == [
        {"alias": "challenger", "version": "2"},
        {"alias": "champion", "version": "1"},
    ]
    r = api(base_url, "GET", f"{API}/registered-models/alias", params={"name": name, "alias": "champion"})
    assert r.status_code == 200, r.text
    body = r.json()["model_version"]
    assert body["version"] == "1" and body["aliases"] == ["champion"]

    # Moving an alias: it leaves the old version.
    client.set_registered_model_alias(name, "champion", "3")
    assert client.get_model_version_by_alias(name, "champion").version == "3"
    assert client.get_model_version(name, "1").aliases == []
    assert client.get_model_version(name, "3").aliases == ["champion"]
    assert client.get_registered_model(name).aliases == {"champion": "3", "challenger": "2"}
    # Setting it again to the same version is fine.
    client.set_registered_model_alias(name, "champion", "3")
    assert client.get_registered_model(name).aliases == {"champion": "3", "challenger": "2"}

    # Two aliases may point at the same version.
    client.set_registered_model_alias(name, "challenger", "3")
    assert sorted(client.get_model_version(name, "3").aliases) == ["challenger", "champion"]

    client.delete_registered_model_alias(name, "challenger")
    assert client.get_registered_model(name).aliases == {"champion": "3"}
    assert client.get_model_version(name, "3").aliases == ["champion"]

    # An unknown alias: MLflow answers 400 INVALID_PARAMETER_VALUE (not 404).
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="challenger"):
        client.get_model_version_by_alias(name, "challenger")
    r = api(base_url, "GET", f"{API}/registered-models/alias", params={"name": name, "alias": "nope"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    # Deleting an alias that does not exist is not an error.
    client.delete_registered_model_alias(name, "nope")
    assert client.get_registered_model(name).aliases == {"champion": "3"}


def test_alias_latest_is_the_highest_version(client, base_url, unique_name):
    name = unique_name()
    new_model(client, name, 3)
    # `latest` (any case) is reserved: it resolves to the highest live version.
    for alias in ("latest", "LATEST"):
        r = api(base_url, "GET", f"{API}/registered-models/alias", params={"name": name, "alias": alias})
        assert r.status_code == 200, r.text
        assert r.json()["model_version"]["version"] == "3"
    client.delete_model_version(name, "3")
    assert client.get_model_version_by_alias(name, "latest").version == "2"
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="reserved"):
        client.set_registered_model_alias(name, "latest", "1")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="reserved"):
        client.set_registered_model_alias(name, "v2", "1")


def test_alias_errors(client, unique_name):
    name = unique_name()
    new_model(client, name, 1)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_registered_model_alias(name, "champion", "5")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_registered_model_alias(unique_name("missing"), "champion", "1")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version_by_alias(unique_name("missing"), "champion")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_registered_model_alias(unique_name("missing"), "champion")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.set_registered_model_alias(name, "bad alias!", "1")
    assert client.get_registered_model(name).aliases == {}


def test_deleting_a_version_removes_its_aliases(client, unique_name):
    name = unique_name()
    new_model(client, name, 3)
    client.set_registered_model_alias(name, "a", "2")
    client.set_registered_model_alias(name, "b", "2")
    client.set_registered_model_alias(name, "c", "1")
    client.delete_model_version(name, "2")
    assert client.get_registered_model(name).aliases == {"c": "1"}
    for alias in ("a", "b"):
        with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
            client.get_model_version_by_alias(name, alias)
    assert client.get_model_version_by_alias(name, "c").version == "1"
    # The alias name is free again and may point at another version.
    client.set_registered_model_alias(name, "a", "3")
    assert client.get_registered_model(name).aliases == {"a": "3", "c": "1"}


# ---------------------------------------------------------------------------------------------
# Registered models
# ---------------------------------------------------------------------------------------------
def test_registered_model_crud(client, base_url, unique_name):
    name = unique_name()
    t0 = now_ms()
    rm = client.create_registered_model(name, tags={"team": "a", "tier": "1"}, description="first")
    assert rm.name == name
    assert rm.description == "first"
    assert rm.tags == {"team": "a", "tier": "1"}
    assert rm.aliases == {}
    assert rm.latest_versions == []
    assert t0 - 5_000 <= rm.creation_timestamp <= now_ms() + 5_000
    assert rm.last_updated_timestamp == rm.creation_timestamp

    got = client.get_registered_model(name)
    assert (got.name, got.description, got.tags) == (name, "first", {"team": "a", "tier": "1"})
    assert got.creation_timestamp == rm.creation_timestamp

    updated = client.update_registered_model(name, description="second")
    assert updated.description == "second"
    got = client.get_registered_model(name)
    assert got.description == "second"
    assert got.last_updated_timestamp >= rm.last_updated_timestamp
    assert got.creation_timestamp == rm.creation_timestamp

    client.set_registered_model_tag(name, "team", "b")
    client.set_registered_model_tag(name, "extra", "x")
    assert client.get_registered_model(name).tags == {"team": "b", "tier": "1", "extra": "x"}
    client.delete_registered_model_tag(name, "tier")
    assert client.get_registered_model(name).tags == {"team": "b", "extra": "x"}
    # Deleting a tag that is not there is not an error.
    client.delete_registered_model_tag(name, "tier")

    # Versions and aliases follow a rename.
    client.create_model_version(name, s3(name, 1))
    client.create_model_version(name, s3(name, 2))
    client.set_registered_model_alias(name, "champion", "2")
    new_name = unique_name("renamed")
    client.rename_registered_model(name, new_name)
    renamed = client.get_registered_model(new_name)
    assert renamed.name == new_name
    assert renamed.description == "second"
    assert renamed.tags == {"team": "b", "extra": "x"}
    assert renamed.aliases == {"champion": "2"}
    assert renamed.creation_timestamp == rm.creation_timestamp
    assert versions_of(client, new_name) == ["1", "2"]
    mv = client.get_model_version(new_name, "1")
    assert (mv.name, mv.source) == (new_name, s3(name, 1))
    assert client.get_model_version_by_alias(new_name, "champion").name == new_name
    assert versions_of(client, name) == []
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(name)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "1")
    r = api(base_url, "GET", f"{API}/registered-models/get", params={"name": name})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    # New versions continue the numbering under the new name.
    assert client.create_model_version(new_name, s3(name, 3)).version == "3"

    # Delete: the model and its versions are gone; the name can be reused from version 1.
    client.delete_registered_model(new_name)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(new_name)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(new_name, "1")
    assert versions_of(client, new_name) == []
    assert client.search_registered_models(f"name = '{new_name}'") == []
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_registered_model(new_name)
    client.create_registered_model(new_name)
    assert client.create_model_version(new_name, s3(new_name, 1)).version == "1"
    assert client.get_registered_model(new_name).aliases == {}


def test_duplicate_registered_model(client, base_url, unique_name):
    name = unique_name()
    other = unique_name("other")
    client.create_registered_model(name)
    client.create_registered_model(other)
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS"):
        client.create_registered_model(name)
    r = api(base_url, "POST", f"{API}/registered-models/create", json={"name": name})
    assert_error(r, 400, "RESOURCE_ALREADY_EXISTS")
    with expect_mlflow_error("RESOURCE_ALREADY_EXISTS"):
        client.rename_registered_model(other, name)
    # Both are still there as they were.
    assert client.get_registered_model(name).name == name
    assert client.get_registered_model(other).name == other


def test_registered_model_wire_shape(client, base_url, unique_name):
    name = unique_name()
    r = api(
        base_url,
        "POST",
        f"{API}/registered-models/create",
        json={"name": name, "description": "d", "tags": [{"key": "k", "value": "v"}]},
    )
    assert r.status_code == 200, r.text
    body = r.json()["registered_model"]
    assert body["name"] == name
    assert body["description"] == "d"
    assert body["tags"] == [{"key": "k", "value": "v"}]
    assert isinstance(body["creation_timestamp"], int)
    assert body["last_updated_timestamp"] == body["creation_timestamp"]
    assert "latest_versions" not in body and "aliases" not in body

    r = api(base_url, "POST", f"{API}/model-versions/create", json={"name": name, "source": s3(name, 1)})
    assert r.status_code == 200, r.text
    mv = r.json()["model_version"]
    assert mv["name"] == name
    assert mv["version"] == "1"
    assert mv["source"] == s3(name, 1)
    assert mv["status"] == "READY"
    assert mv["current_stage"] == "None"
    assert isinstance(mv["creation_timestamp"], int)
    assert isinstance(mv["last_updated_timestamp"], int)

    r = api(base_url, "GET", f"{API}/registered-models/get", params={"name": name})
    body = r.json()["registered_model"]
    assert [v["version"] for v in body["latest_versions"]] == ["1"]
    assert body["last_updated_timestamp"] >= body["creation_timestamp"]

    # Empty successes are {}.
    for method, path, payload in (
        ("POST", "registered-models/set-tag", {"name": name, "key": "a", "value": "b"}),
        ("DELETE", "registered-models/delete-tag", {"name": name, "key": "a"}),
        ("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "a", "value": "b"}),
        ("DELETE", "model-versions/delete-tag", {"name": name, "version": "1", "key": "a"}),
        ("POST", "registered-models/alias", {"name": name, "alias": "x", "version": "1"}),
        ("DELETE", "registered-models/alias", {"name": name, "alias": "x"}),
        ("DELETE", "model-versions/delete", {"name": name, "version": "1"}),
        ("DELETE", "registered-models/delete", {"name": name}),
    ):
        r = api(base_url, method, f"{API}/{path}", json=payload)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        assert r.json() == {}, f"{method} {path}: {r.text}"


def test_get_latest_versions_and_stages(client, base_url, unique_name):
    name = unique_name()
    new_model(client, name, 4)
    latest = client.get_latest_versions(name)
    assert [(v.version, v.current_stage) for v in latest] == [("4", "None")]

    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "staging")  # stage names are case-insensitive
    assert client.get_model_version(name, "2").current_stage == "Staging"
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert latest == {"None": "4", "Staging": "2", "Production": "1"}
    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["1"]
    assert [v.version for v in client.get_latest_versions(name, stages=["production"])] == ["1"]
    assert sorted(v.version for v in client.get_latest_versions(name, ["Staging", "None"])) == ["2", "4"]
    assert client.get_latest_versions(name, stages=["Archived"]) == []
    rm = client.get_registered_model(name)
    assert {v.current_stage: v.version for v in rm.latest_versions} == latest

    # Raw GET and POST forms.
    r = api(base_url, "GET", f"{API}/registered-models/get-latest-versions", params={"name": name, "stages": "Staging"})
    assert r.status_code == 200, r.text
    assert [v["version"] for v in r.json()["model_versions"]] == ["2"]
    r = api(base_url, "POST", f"{API}/registered-models/get-latest-versions", json={"name": name, "stages": ["Production"]})
    assert r.status_code == 200, r.text
    assert [v["version"] for v in r.json()["model_versions"]] == ["1"]

    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        client.get_latest_versions(name, stages=["Nowhere"])
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_latest_versions(unique_name("missing"))
    # A model without versions has no latest versions.
    empty = unique_name("empty")
    client.create_registered_model(empty)
    assert client.get_latest_versions(empty) == []
    r = api(base_url, "GET", f"{API}/registered-models/get-latest-versions", params={"name": empty})
    assert r.status_code == 200 and r.json() == {}, r.text


# ---------------------------------------------------------------------------------------------
# Model versions
# ---------------------------------------------------------------------------------------------
def test_model_version_crud(client, base_url, unique_name):
    name = unique_name()
    assert new_model(client, name, 3) == ["1", "2", "3"]
    mv = client.get_model_version(name, "2")
    assert (mv.name, mv.version, mv.source, mv.status) == (name, "2", s3(name, 1), "READY")
    assert mv.tags == {}

    before = mv.last_updated_timestamp
    updated = client.update_model_version(name, "2", description="better")
    assert updated.description == "better"
    got = client.get_model_version(name, "2")
    assert got.description == "better"
    assert got.last_updated_timestamp >= before
    assert got.creation_timestamp == mv.creation_timestamp

    client.set_model_version_tag(name, "2", "validated", "yes")
    client.set_model_version_tag(name, "2", "owner", "ann")
    client.set_model_version_tag(name, "2", "owner", "bob")
    assert client.get_model_version(name, "2").tags == {"validated": "yes", "owner": "bob"}
    client.delete_model_version_tag(name, "2", "validated")
    assert client.get_model_version(name, "2").tags == {"owner": "bob"}
    client.delete_model_version_tag(name, "2", "validated")  # absent key: no error
    assert client.get_model_version(name, "1").tags == {}

    # Deleting a version: gone from get, search and latest versions.
    client.delete_model_version(name, "3")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "3")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.delete_model_version(name, "3")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.update_model_version(name, "3", description="x")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.set_model_version_tag(name, "3", "k", "v")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version_download_uri(name, "3")
    assert versions_of(client, name) == ["1", "2"]
    assert [v.version for v in client.get_registered_model(name).latest_versions] == ["2"]
    # Numbers are never reused: the next version is 4, not 3.
    assert client.create_model_version(name, s3(name, 4)).version == "4"
    assert versions_of(client, name) == ["1", "2", "4"]
    client.delete_model_version(name, "1")
    assert client.create_model_version(name, s3(name, 5)).version == "5"
    assert versions_of(client, name) == ["2", "4", "5"]

    assert client.get_model_version_download_uri(name, "4") == s3(name, 4)
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "99")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.create_model_version(unique_name("missing"), s3(name, 1))


def test_transition_model_version_stage(client, unique_name):
    name = unique_name()
    new_model(client, name, 3)
    mv = client.transition_model_version_stage(name, "1", "Staging")
    assert (mv.version, mv.current_stage) == ("1", "Staging")

    # archive_existing_versions moves the others in the target stage to Archived.
    mv = client.transition_model_version_stage(name, "2", "Staging", archive_existing_versions=True)
    assert mv.current_stage == "Staging"
    assert client.get_model_version(name, "1").current_stage == "Archived"

    client.transition_model_version_stage(name, "2", "Production")
    client.transition_model_version_stage(name, "3", "Production", archive_existing_versions=False)
    stages = {v: client.get_model_version(name, v).current_stage for v in ("1", "2", "3")}
    assert stages == {"1": "Archived", "2": "Production", "3": "Production"}

    client.transition_model_version_stage(name, "1", "Production", archive_existing_versions=True)
    stages = {v: client.get_model_version(name, v).current_stage for v in ("1", "2", "3")}
    assert stages == {"1": "Production", "2": "Archived", "3": "Archived"}

    mv = client.transition_model_version_stage(name, "1", "None")
    assert mv.current_stage == "None"
    with expect_mlflow_error("INVALID_PARAMETER_VALUE", match="stage"):
        client.transition_model_version_stage(name, "1", "Limbo")
    with expect_mlflow_error("RESOURCE_DOES_NOT_EXIST"):
        client.transition_model_version_stage(name, "9", "Staging")


# ---------------------------------------------------------------------------------------------
# Search: registered models
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rm_corpus(module_client):
    """25 registered models `<prefix>-00` … `<prefix>-24`; even ones tagged parity=even; models 0-4 have
    a version, model 3 also an alias; model 7 is updated last (the newest last_updated_timestamp)."""
    client = module_client
    prefix = f"rmc-{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}-{i:02d}" for i in range(25)]
    for i, name in enumerate(names):
        client.create_registered_model(
            name,
            tags={"parity": "even" if i % 2 == 0 else "odd", "idx": str(i)},
            description=f"model {i}",
        )
    for name in names[:5]:
        client.create_model_version(name, s3(name, 1))
    client.set_registered_model_alias(names[3], "champion", "1")
    time.sleep(0.02)  # strictly the newest last_updated_timestamp, even on a fast server
    client.update_registered_model(names[7], description="touched last")
    return prefix, names


def _search_rm(client, flt, **kw):
    return client.search_registered_models(filter_string=flt, **kw)


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("name = '{p}-05'", [5]),
        ("name != '{p}-05' AND name LIKE '{p}-0%'", [0, 1, 2, 3, 4, 6, 7, 8, 9]),
        ("name LIKE '{p}-1%'", list(range(10, 20))),
        ("name LIKE '{p}-_3'", [3, 13, 23]),
        ("name LIKE '{P}-1%'", []),  # LIKE is case-sensitive
        ("name ILIKE '{P}-2%'", [20, 21, 22, 23, 24]),
        ("name IN ('{p}-01', '{p}-22', '{p}-nope')", [1, 22]),
        ("name LIKE '{p}-%' AND tags.parity = 'even' AND tags.idx LIKE '1%'", [10, 12, 14, 16, 18]),
        ("name LIKE '{p}-%' AND tags.idx = '7'", [7]),
        ("name LIKE '{p}-%' AND tag.idx ILIKE '2_'", [20, 21, 22, 23, 24]),
        ("name LIKE '{p}-%' AND tags.parity != 'even'", list(range(1, 25, 2))),
        ("name LIKE '{p}-%' AND tags.missing = 'x'", []),
    ],
)
def test_search_registered_models_filters(rm_corpus, module_client, flt, expected):
    prefix, names = rm_corpus
    flt = flt.format(p=prefix, P=prefix.upper())
    got = [m.name for m in _search_rm(module_client, flt, max_results=100)]
    assert got == [names[i] for i in expected], flt


def test_search_registered_models_result_shape(rm_corpus, module_client):
    prefix, names = rm_corpus
    got = {m.name: m for m in _search_rm(module_client, f"name LIKE '{prefix}-0%'")}
    assert set(got) == set(names[:10])
    m3 = got[names[3]]
    assert m3.aliases == {"champion": "1"}
    assert m3.tags == {"parity": "odd", "idx": "3"}
    assert m3.description == "model 3"
    assert [v.version for v in m3.latest_versions] == ["1"]
    assert m3.latest_versions[0].source == s3(names[3], 1)
    assert got[names[8]].latest_versions == []
    assert got[names[8]].aliases == {}


def test_search_registered_models_order_by(rm_corpus, module_client):
    prefix, names = rm_corpus
    flt = f"name LIKE '{prefix}-%'"
    # Default: name ascending.
    assert [m.name for m in _search_rm(module_client, flt)] == names
    assert [m.name for m in _search_rm(module_client, flt, order_by=["name ASC"])] == names
    assert [m.name for m in _search_rm(module_client, flt, order_by=["name DESC"])] == names[::-1]

    for key in ("last_updated_timestamp", "timestamp"):
        desc = _search_rm(module_client, flt, order_by=[f"{key} DESC"])
        assert desc[0].name == names[7], key  # updated last
        stamps = [m.last_updated_timestamp for m in desc]
        assert stamps == sorted(stamps, reverse=True), key
        # Ties are broken by name ascending.
        for a, b in zip(desc, desc[1:]):
            if a.last_updated_timestamp == b.last_updated_timestamp:
                assert a.name < b.name, (key, a.name, b.name)
        asc = _search_rm(module_client, flt, order_by=[f"{key} ASC"])
        assert asc[-1].name == names[7]
        stamps = [m.last_updated_timestamp for m in asc]
        assert stamps == sorted(stamps), key
    with_name = _search_rm(module_client, flt, order_by=["last_updated_timestamp DESC", "name DESC"])
    assert with_name[0].name == names[7]


@pytest.mark.parametrize("order_by", [None, ["name DESC"], ["last_updated_timestamp ASC"]])
def test_search_registered_models_pagination(rm_corpus, module_client, order_by):
    prefix, names = rm_corpus
    flt = f"name LIKE '{prefix}-%'"
    full = [m.name for m in _search_rm(module_client, flt, max_results=100, order_by=order_by)]
    assert sorted(full) == names
    pages, token = [], None
    for _ in range(10):
        page = _search_rm(module_client, flt, max_results=10, order_by=order_by, page_token=token)
        pages.append([m.name for m in page])
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    flat = [n for p in pages for n in p]
    assert flat == full  # same order, no duplicates, no gaps
    assert len(set(flat)) == 25


def test_search_registered_models_exact_page_boundary(rm_corpus, base_url):
    """With 25 matches, a page of 25 has no next page token; a page of 24 has one."""
    prefix, _ = rm_corpus
    params = {"filter": f"name LIKE '{prefix}-%'"}
    r = api(base_url, "GET", f"{API}/registered-models/search", params={**params, "max_results": 25})
    assert r.status_code == 200, r.text
    assert len(r.json()["registered_models"]) == 25
    assert "next_page_token" not in r.json()
    r = api(base_url, "GET", f"{API}/registered-models/search", params={**params, "max_results": 24})
    body = r.json()
    assert len(body["registered_models"]) == 24 and body.get("next_page_token")
    r = api(
        base_url,
        "GET",
        f"{API}/registered-models/search",
        params={**params, "max_results": 24, "page_token": body["next_page_token"]},
    )
    last = r.json()
    assert [m["name"] for m in last["registered_models"]] == [f"{prefix}-24"]
    assert "next_page_token" not in last
    # No hits: an empty object.
    r = api(base_url, "GET", f"{API}/registered-models/search", params={"filter": f"name = '{prefix}-nope'"})
    assert r.status_code == 200 and r.json() == {}, r.text


# ---------------------------------------------------------------------------------------------
# Search: model versions
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mv_corpus(module_client, module_experiment):
    """Models `<prefix>-a` (8 versions) and `<prefix>-b` (4 versions); version i of each comes from run
    i % 3 and is tagged parity=even/odd. Version 2 of `a` is updated last."""
    client = module_client
    prefix = f"mvc-{uuid.uuid4().hex[:10]}"
    runs = [client.create_run(module_experiment).info.run_id for _ in range(3)]
    a, b = f"{prefix}-a", f"{prefix}-b"
    rows = []  # (name, version, run_id)
    for name, count in ((a, 8), (b, 4)):
        client.create_registered_model(name)
        for i in range(1, count + 1):
            mv = client.create_model_version(
                name,
                s3(name, i),
                run_id=runs[i % 3],
                tags={"parity": "even" if i % 2 == 0 else "odd"},
            )
            assert mv.version == str(i)
            rows.append((name, i, runs[i % 3]))
    time.sleep(0.02)  # strictly the newest last_updated_timestamp, even on a fast server
    client.update_model_version(a, "2", description="touched last")
    return prefix, a, b, runs, rows


def _pairs(mvs):
    return [(mv.name, int(mv.version)) for mv in mvs]


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("name = '{a}'", lambda r: r[0] == "a"),
        ("name = '{a}' AND version_number > 5", lambda r: r[0] == "a" and r[1] > 5),
        ("name = '{a}' AND version_number >= 5", lambda r: r[0] == "a" and r[1] >= 5),
        ("name LIKE '{p}-%' AND version_number <= 2", lambda r: r[1] <= 2),
        ("name LIKE '{p}-%' AND version_number < 2", lambda r: r[1] < 2),
        ("name LIKE '{p}-%' AND version_number = 3", lambda r: r[1] == 3),
        ("name LIKE '{p}-%' AND version_number != 3", lambda r: r[1] != 3),
        ("name = '{b}' AND run_id = '{r0}'", lambda r: r[0] == "b" and r[2] == 0),
        ("run_id = '{r1}'", lambda r: r[2] == 1),
        ("run_id IN ('{r1}', '{r2}')", lambda r: r[2] in (1, 2)),
        ("run_id != '{r1}' AND name LIKE '{p}-%'", lambda r: r[2] != 1),
        ("source_path = 's3://cairn-e2e-bucket/{b}/3'", lambda r: r[0] == "b" and r[1] == 3),
        ("source_path LIKE 's3://cairn-e2e-bucket/{a}/%'", lambda r: r[0] == "a"),
        ("name LIKE '{p}-%' AND tags.parity = 'even'", lambda r: r[1] % 2 == 0),
        ("name = '{b}' AND tags.parity != 'even'", lambda r: r[0] == "b" and r[1] % 2 == 1),
        ("name ILIKE '{P}-B'", lambda r: r[0] == "b"),
        ("name LIKE '{P}-B'", lambda r: False),
        ("name IN ('{a}', '{b}') AND version_number > 6", lambda r: r[1] > 6),
        ("name LIKE '{p}-%' AND tags.nothing = 'x'", lambda r: False),
    ],
)
def test_search_model_versions_filters(mv_corpus, module_client, flt, expected):
    prefix, a, b, runs, rows = mv_corpus
    flt = flt.format(p=prefix, P=prefix.upper(), a=a, b=b, r0=runs[0], r1=runs[1], r2=runs[2])
    short = {a: "a", b: "b"}
    want = sorted(
        (name, v) for name, v, run in rows if expected((short[name], v, runs.index(run)))
    )
    got = module_client.search_model_versions(flt)
    assert sorted(_pairs(got)) == want, flt
    for mv in got:
        assert mv.status == "READY"
        assert mv.source == s3(mv.name, mv.version)
        assert mv.tags == {"parity": "even" if int(mv.version) % 2 == 0 else "odd"}


def test_search_model_versions_order_by(mv_corpus, module_client):
    prefix, a, b, runs, rows = mv_corpus
    flt = f"name LIKE '{prefix}-%'"
    everything = sorted((n, v) for n, v, _ in rows)

    # Default order: last_updated_timestamp DESC, then name ASC, then version DESC.
    default = module_client.search_model_versions(flt)
    assert sorted(_pairs(default)) == everything
    assert _pairs(default)[0] == (a, 2)  # updated last
    keys = [(-mv.last_updated_timestamp, mv.name, -int(mv.version)) for mv in default]
    assert keys == sorted(keys)

    got = module_client.search_model_versions(flt, order_by=["version_number ASC"])
    keys = [(int(mv.version), mv.name) for mv in got]
    assert keys == sorted(keys)  # ties on the number: name ascending

    got = module_client.search_model_versions(flt, order_by=["name DESC", "version_number ASC"])
    assert _pairs(got) == sorted(everything, key=lambda p: (-ord(p[0][-1]), p[1]))

    got = module_client.search_model_versions(flt, order_by=["creation_timestamp ASC"])
    keys = [(mv.creation_timestamp, mv.name, -int(mv.version)) for mv in got]
    assert keys == sorted(keys)
    created = {(mv.name, int(mv.version)): mv.creation_timestamp for mv in got}
    assert created[(b, 4)] == max(created.values())  # created last
    assert created[(a, 1)] == min(created.values())  # created first

    got = module_client.search_model_versions(flt, order_by=["last_updated_timestamp DESC"])
    assert _pairs(got)[0] == (a, 2)
    got = module_client.search_model_versions(flt, order_by=["last_updated_timestamp ASC"])
    assert _pairs(got)[-1] == (a, 2)


@pytest.mark.parametrize("order_by", [None, ["version_number DESC"], ["name ASC", "version_number ASC"]])
def test_search_model_versions_pagination(mv_corpus, module_client, order_by):
    prefix, a, b, runs, rows = mv_corpus
    flt = f"name LIKE '{prefix}-%'"
    full = _pairs(module_client.search_model_versions(flt, order_by=order_by))
    assert len(full) == 12
    pages, token = [], None
    for _ in range(10):
        page = module_client.search_model_versions(
            flt, max_results=5, order_by=order_by, page_token=token
        )
        pages.append(_pairs(page))
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [5, 5, 2]
    flat = [x for p in pages for x in p]
    assert flat == full
    assert len(set(flat)) == 12


def test_search_model_versions_skips_deleted_versions(client, unique_name):
    name = unique_name()
    new_model(client, name, 4)
    client.delete_model_version(name, "2")
    assert versions_of(client, name) == ["1", "3", "4"]
    got = client.search_model_versions(f"name = '{name}' AND version_number <= 2")
    assert [mv.version for mv in got] == ["1"]


# ---------------------------------------------------------------------------------------------
# Wire-level errors (raw requests; the status and error_code a client sees)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path, payload",
    [
        ("POST", "registered-models/create", {}),
        ("POST", "registered-models/create", {"name": ""}),
        ("GET", "registered-models/get", {}),
        ("PATCH", "registered-models/update", {"description": "x"}),
        ("POST", "registered-models/rename", {"new_name": "x"}),
        ("DELETE", "registered-models/delete", {}),
        ("GET", "registered-models/get-latest-versions", {}),
        ("POST", "registered-models/set-tag", {"key": "k", "value": "v"}),
        ("POST", "registered-models/alias", {"alias": "a", "version": "1"}),
        ("GET", "registered-models/alias", {"alias": "a"}),
        ("POST", "model-versions/create", {"source": "s3://b/x"}),
        ("GET", "model-versions/get", {"version": "1"}),
        ("DELETE", "model-versions/delete", {"version": "1"}),
        ("POST", "model-versions/set-tag", {"version": "1", "key": "k", "value": "v"}),
    ],
)
def test_missing_name_is_invalid_parameter_value(base_url, method, path, payload):
    kw = {"params": payload} if method == "GET" else {"json": payload}
    r = api(base_url, method, f"{API}/{path}", **kw)
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_missing_other_required_fields(client, base_url, unique_name):
    name = unique_name()
    new_model(client, name, 1)
    for method, path, payload in (
        ("POST", "registered-models/rename", {"name": name}),
        ("GET", "model-versions/get", {"name": name}),
        ("POST", "model-versions/create", {"name": name}),
        ("POST", "registered-models/set-tag", {"name": name, "value": "v"}),
        ("POST", "registered-models/alias", {"name": name, "version": "1"}),
        ("POST", "registered-models/alias", {"name": name, "alias": "a"}),
        ("POST", "model-versions/transition-stage", {"name": name, "version": "1"}),
    ):
        kw = {"params": payload} if method == "GET" else {"json": payload}
        r = api(base_url, method, f"{API}/{path}", **kw)
        assert r.status_code == 400, f"{method} {path} {payload}: {r.status_code} {r.text}"
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "method, path, payload",
    [
        ("GET", "registered-models/get", {}),
        ("PATCH", "registered-models/update", {"description": "x"}),
        ("POST", "registered-models/rename", {"new_name": "renamed-{n}"}),
        ("DELETE", "registered-models/delete", {}),
        ("GET", "registered-models/get-latest-versions", {}),
        ("POST", "registered-models/set-tag", {"key": "k", "value": "v"}),
        ("DELETE", "registered-models/delete-tag", {"key": "k"}),
        ("GET", "registered-models/alias", {"alias": "a"}),
        ("DELETE", "registered-models/alias", {"alias": "a"}),
        ("POST", "registered-models/alias", {"alias": "a", "version": "1"}),
        ("POST", "model-versions/create", {"source": "s3://b/x"}),
        ("GET", "model-versions/get", {"version": "1"}),
        ("PATCH", "model-versions/update", {"version": "1", "description": "x"}),
        ("DELETE", "model-versions/delete", {"version": "1"}),
        ("POST", "model-versions/set-tag", {"version": "1", "key": "k", "value": "v"}),
        ("DELETE", "model-versions/delete-tag", {"version": "1", "key": "k"}),
        ("GET", "model-versions/get-download-uri", {"version": "1"}),
        ("POST", "model-versions/transition-stage", {"version": "1", "stage": "Staging", "archive_existing_versions": False}),
    ],
)
def test_unknown_model_is_404(base_url, method, path, payload):
    n = uuid.uuid4().hex[:12]
    payload = {k: (v.format(n=n) if isinstance(v, str) else v) for k, v in payload.items()}
    payload["name"] = f"no-such-model-{n}"
    kw = {"params": payload} if method == "GET" else {"json": payload}
    r = api(base_url, method, f"{API}/{path}", **kw)
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_unknown_version_is_404(client, base_url, unique_name):
    name = unique_name()
    new_model(client, name, 1)
    for method, path, payload in (
        ("GET", "model-versions/get", {"version": "2"}),
        ("PATCH", "model-versions/update", {"version": "2", "description": "x"}),
        ("DELETE", "model-versions/delete", {"version": "2"}),
        ("POST", "model-versions/set-tag", {"version": "2", "key": "k", "value": "v"}),
        ("GET", "model-versions/get-download-uri", {"version": "2"}),
        ("POST", "registered-models/alias", {"version": "2", "alias": "a"}),
    ):
        payload = {**payload, "name": name}
        kw = {"params": payload} if method == "GET" else {"json": payload}
        r = api(base_url, method, f"{API}/{path}", **kw)
        assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    "path, flt",
    [
        ("registered-models/search", "name === 'x'"),
        ("registered-models/search", "name = 'x' OR name = 'y'"),
        ("registered-models/search", "foo = 'x'"),
        ("registered-models/search", "run_id = 'x'"),
        ("registered-models/search", "name = x"),
        ("registered-models/search", "tags.k > 'x'"),
        ("model-versions/search", "name ~ 'x'"),
        ("model-versions/search", "foo = 'x'"),
        ("model-versions/search", "version_number > 1.5"),
        ("model-versions/search", "version_number > 'abc'"),
        ("model-versions/search", "version_number LIKE '1%'"),
        ("model-versions/search", "source_path IN ('a')"),
        ("model-versions/search", "tags.k IN ('a')"),
        ("model-versions/search", "name = 'x' OR run_id = 'y'"),
    ],
)
def test_bad_search_filter_is_400(base_url, path, flt):
    r = api(base_url, "GET", f"{API}/{path}", params={"filter": flt})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "path, params",
    [
        ("registered-models/search", {"order_by": "foo ASC"}),
        ("registered-models/search", {"order_by": "name SIDEWAYS"}),
        ("registered-models/search", {"max_results": 1001}),
        ("registered-models/search", {"max_results": "ten"}),
        ("registered-models/search", {"page_token": "not a token"}),
        ("model-versions/search", {"order_by": "run_id ASC"}),
        ("model-versions/search", {"order_by": "version_number UP"}),
        ("model-versions/search", {"max_results": 0}),
        ("model-versions/search", {"max_results": 200_001}),
        ("model-versions/search", {"page_token": "not a token"}),
    ],
)
def test_bad_search_parameters_are_400(base_url, path, params):
    r = api(base_url, "GET", f"{API}/{path}", params=params)
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_search_limits_accepted(base_url):
    r = api(base_url, "GET", f"{API}/registered-models/search", params={"max_results": 1000, "filter": "name = 'nope-x'"})
    assert r.status_code == 200 and r.json() == {}, r.text
    r = api(base_url, "GET", f"{API}/model-versions/search", params={"max_results": 200_000, "filter": "name = 'nope-x'"})
    assert r.status_code == 200 and r.json() == {}, r.text


def test_bad_search_through_client(module_client):
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        module_client.search_registered_models(filter_string="name === 'x'")
    with expect_mlflow_error("INVALID_PARAMETER_VALUE"):
        module_client.search_model_versions("version_number > 'abc'")


@pytest.mark.parametrize(
    "method, path, payload",
    [
        ("GET", "model-versions/get", {"version": "abc"}),
        ("GET", "model-versions/get", {"version": "1.5"}),
        ("GET", "model-versions/get-download-uri", {"version": "x"}),
        ("PATCH", "model-versions/update", {"version": "one", "description": "d"}),
        ("DELETE", "model-versions/delete", {"version": "one"}),
        ("POST", "model-versions/set-tag", {"version": "one", "key": "k", "value": "v"}),
        ("DELETE", "model-versions/delete-tag", {"version": "one", "key": "k"}),
        ("POST", "registered-models/alias", {"version": "one", "alias": "a"}),
        ("POST", "model-versions/transition-stage", {"version": "one", "stage": "Staging", "archive_existing_versions": False}),
    ],
)
def test_bad_version_string_is_400(client, base_url, unique_name, method, path, payload):
    name = unique_name()
    new_model(client, name, 1)
    payload = {**payload, "name": name}
    kw = {"params": payload} if method == "GET" else {"json": payload}
    r = api(base_url, method, f"{API}/{path}", **kw)
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_invalid_names_stages_and_aliases_are_400(client, base_url, unique_name):
    for bad in ("a/b", "a:b", "  "):
        r = api(base_url, "POST", f"{API}/registered-models/create", json={"name": bad})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    name = unique_name()
    new_model(client, name, 1)
    r = api(base_url, "POST", f"{API}/registered-models/rename", json={"name": name, "new_name": "x/y"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    for alias in ("latest", "Latest", "v1", "V12", "has space", ""):
        r = api(base_url, "POST", f"{API}/registered-models/alias", json={"name": name, "alias": alias, "version": "1"})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api(base_url, "GET", f"{API}/registered-models/alias", params={"name": name, "alias": "nope"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api(
        base_url,
        "POST",
        f"{API}/model-versions/transition-stage",
        json={"name": name, "version": "1", "stage": "Limbo", "archive_existing_versions": False},
    )
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api(base_url, "GET", f"{API}/registered-models/get-latest-versions", params={"name": name, "stages": "Limbo"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    # The model is untouched by all of this.
    rm = client.get_registered_model(name)
    assert rm.aliases == {} and [v.version for v in rm.latest_versions] == ["1"]
    assert client.get_model_version(name, "1").current_stage == "None"


def test_model_version_source_validation(client, base_url, unique_name):
    name = unique_name()
    client.create_registered_model(name)
    # A local path needs a run whose artifacts contain it; `..` is refused.
    for source in ("/etc/passwd", "s3://bucket/a/../../b"):
        r = api(base_url, "POST", f"{API}/model-versions/create", json={"name": name, "source": source})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert versions_of(client, name) == []


# ---------------------------------------------------------------------------------------------
# Cairn only: registry change history (endpoint and CLI)
# ---------------------------------------------------------------------------------------------
HISTORY_KINDS = {
    "model_created", "model_renamed", "model_updated", "model_deleted", "model_tag_set",
    "model_tag_deleted", "version_created", "version_updated", "version_stage_changed",
    "version_deleted", "version_tag_set", "version_tag_deleted", "alias_set", "alias_moved",
    "alias_deleted",
}


def history_page(base_url, name, **params):
    from urllib.parse import quote

    return api(base_url, "GET", f"{HISTORY}/{quote(name, safe='')}/history", params=params)


def history(base_url, name, **params) -> dict:
    r = history_page(base_url, name, **params)
    assert r.status_code == 200, f"history of {name}: {r.status_code} {r.text[:500]}"
    assert "json" in r.headers.get("Content-Type", ""), r.headers
    body = r.json()
    assert isinstance(body.get("events"), list), body
    return body


def all_events(base_url, name) -> list[dict]:
    events, token = [], None
    for _ in range(100):
        body = history(base_url, name, **({"page_token": token} if token else {}))
        events += body["events"]
        token = body.get("next_page_token")
        if not token:
            return events
    raise AssertionError("history pagination did not end")


def check_event_shape(e: dict, t0: int, t1: int) -> None:
    assert set(e) >= {"seq", "kind", "model_name", "version", "alias", "actor", "timestamp_ms", "before", "after"}, e
    assert isinstance(e["seq"], int) and not isinstance(e["seq"], bool), e
    assert e["kind"] in HISTORY_KINDS, e
    assert isinstance(e["model_name"], str) and e["model_name"], e
    assert e["version"] is None or (isinstance(e["version"], str) and e["version"].isdigit()), e
    assert e["alias"] is None or isinstance(e["alias"], str), e
    assert isinstance(e["actor"], str) and e["actor"], e
    assert isinstance(e["timestamp_ms"], int), e
    assert t0 - 5_000 <= e["timestamp_ms"] <= t1 + 5_000, (e, t0, t1)
    assert e["before"] is None or isinstance(e["before"], dict), e
    assert e["after"] is None or isinstance(e["after"], dict), e


def check_order(events: list[dict]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    stamps = [e["timestamp_ms"] for e in events]
    assert stamps == sorted(stamps), stamps


def cairn_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    binary = Path(os.environ.get("CAIRN_BIN", REPO_ROOT / "target" / "debug" / "cairn"))
    return subprocess.run(
        [str(binary), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
    )


@pytest.fixture
def lifecycle(client, base_url, unique_name):
    """A model taken through every kind of change except deletion; returns (old name, new name,
    expected kinds in order, t0, t1)."""
    name = unique_name()
    new_name = unique_name("renamed")
    t0 = now_ms()
    steps = []

    def step(kind, fn, *a, **kw):
        fn(*a, **kw)
        steps.append(kind)

    step("model_created", client.create_registered_model, name, description="v0")
    step("model_tag_set", client.set_registered_model_tag, name, "team", "a")
    step("model_tag_deleted", client.delete_registered_model_tag, name, "team")
    step("model_updated", client.update_registered_model, name, description="v1")
    step("version_created", client.create_model_version, name, s3(name, 1))
    step("version_created", client.create_model_version, name, s3(name, 2))
    step("version_updated", client.update_model_version, name, "1", description="first")
    step("version_tag_set", client.set_model_version_tag, name, "1", "ok", "yes")
    step("version_tag_deleted", client.delete_model_version_tag, name, "1", "ok")
    step("version_stage_changed", client.transition_model_version_stage, name, "1", "Staging")
    step("alias_set", client.set_registered_model_alias, name, "champion", "1")
    step("alias_moved", client.set_registered_model_alias, name, "champion", "2")
    step("alias_deleted", client.delete_registered_model_alias, name, "champion")
    step("version_deleted", client.delete_model_version, name, "1")
    step("model_renamed", client.rename_registered_model, name, new_name)
    step("model_tag_set", client.set_registered_model_tag, new_name, "after", "rename")
    return name, new_name, steps, t0, now_ms()


@pytest.mark.cairn_only
def test_history_records_every_change(base_url, lifecycle):
    old, new, kinds, t0, t1 = lifecycle
    body = history(base_url, new)
    assert "next_page_token" not in body, body  # a short history fits in the default page
    events = body["events"]
    assert [e["kind"] for e in events] == kinds
    for e in events:
        check_event_shape(e, t0, t1)
        assert e["actor"] == "anonymous", e
        assert e["model_name"] in (old, new), e
    check_order(events)
    by_kind = {}
    for e in events:
        by_kind.setdefault(e["kind"], []).append(e)

    # Model-level events carry no version; version events carry theirs.
    for kind in ("model_created", "model_updated", "model_tag_set", "model_tag_deleted", "model_renamed"):
        for e in by_kind[kind]:
            assert e["version"] is None, e
    assert [e["version"] for e in by_kind["version_created"]] == ["1", "2"]
    for kind in ("version_updated", "version_tag_set", "version_tag_deleted", "version_stage_changed", "version_deleted"):
        assert [e["version"] for e in by_kind[kind]] == ["1"], by_kind[kind]

    # Aliases: set (before null), moved (before and after versions), deleted (after null).
    (a_set,) = by_kind["alias_set"]
    assert a_set["alias"] == "champion"
    assert a_set["before"] is None and a_set["after"] == {"version": "1"}, a_set
    (a_moved,) = by_kind["alias_moved"]
    assert a_moved["alias"] == "champion"
    assert a_moved["before"] == {"version": "1"} and a_moved["after"] == {"version": "2"}, a_moved
    (a_del,) = by_kind["alias_deleted"]
    assert a_del["alias"] == "champion"
    assert a_del["before"] == {"version": "2"} and a_del["after"] is None, a_del

    (renamed,) = by_kind["model_renamed"]
    assert renamed["before"] == {"name": old} and renamed["after"] == {"name": new}, renamed
    # Events after the rename are under the new name.
    assert events[-1]["model_name"] == new


@pytest.mark.cairn_only
def test_history_pagination(base_url, lifecycle):
    _, new, kinds, _, _ = lifecycle
    full = history(base_url, new)["events"]
    assert len(full) == len(kinds) == 16
    pages, token = [], None
    for _ in range(20):
        params = {"max_results": 5}
        if token:
            params["page_token"] = token
        body = history(base_url, new, **params)
        pages.append(body["events"])
        token = body.get("next_page_token")
        if not token:
            break
    assert [len(p) for p in pages] == [5, 5, 5, 1]
    assert [e for p in pages for e in p] == full
    # Exactly one page's worth: no token.
    body = history(base_url, new, max_results=16)
    assert len(body["events"]) == 16 and "next_page_token" not in body


@pytest.mark.cairn_only
def test_history_of_unknown_model_is_404(base_url, unique_name):
    r = history_page(base_url, unique_name("never"))
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.cairn_only
def test_history_keeps_a_deleted_model(client, base_url, unique_name):
    name = unique_name()
    client.create_registered_model(name)
    client.create_model_version(name, s3(name, 1))
    client.delete_registered_model(name)
    events = all_events(base_url, name)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "model_created" and kinds[-1] == "model_deleted", kinds
    assert "version_created" in kinds
    assert events[-1]["version"] is None and events[-1]["after"] is None, events[-1]


@pytest.mark.cairn_only
def test_history_actor_is_the_basic_auth_user(client, base_url, unique_name, monkeypatch):
    name = unique_name()
    client.create_registered_model(name)
    with monkeypatch.context() as m:
        m.setenv("MLFLOW_TRACKING_USERNAME", "alice")
        m.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
        client.set_registered_model_tag(name, "by", "alice")
        client.create_model_version(name, s3(name, 1))
    client.set_registered_model_alias(name, "champion", "1")
    r = api(
        base_url,
        "POST",
        f"{API}/registered-models/set-tag",
        json={"name": name, "key": "by", "value": "bob"},
        auth=("bob", "pw"),
    )
    assert r.status_code == 200, r.text
    events = history(base_url, name)["events"]
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("model_created", "anonymous"),
        ("model_tag_set", "alice"),
        ("version_created", "alice"),
        ("alias_set", "anonymous"),
        ("model_tag_set", "bob"),
    ]


@pytest.mark.cairn_only
def test_history_cli(base_url, lifecycle):
    _, new, kinds, _, _ = lifecycle
    endpoint = history(base_url, new)

    r = cairn_cli("registry", "history", new, "--server", base_url)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == len(kinds), r.stdout
    for line, e in zip(lines, endpoint["events"]):
        assert str(e["seq"]) in line, (line, e)
        assert e["kind"] in line, (line, e)
        assert e["actor"] in line, (line, e)
    assert "champion" in "\n".join(lines)  # alias events name their alias

    r = cairn_cli("registry", "history", new, "--server", base_url, "--json")
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    printed = json.loads(r.stdout)
    assert printed["events"] == endpoint["events"]
    assert "next_page_token" not in printed


@pytest.mark.cairn_only
def test_history_cli_unknown_model(base_url, unique_name):
    missing = unique_name("never")
    r = cairn_cli("registry", "history", missing, "--server", base_url)
    assert r.returncode != 0, r.stdout
    assert r.stderr.startswith("cairn: error:"), r.stderr
    assert r.stdout.strip() == "", r.stdout
    r = cairn_cli("registry", "history", missing, "--server", base_url, "--json")
    assert r.returncode != 0, r.stdout
    assert r.stderr.startswith("cairn: error:"), r.stderr
