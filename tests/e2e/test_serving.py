"""`cairn serve`: ONNX models (logistic regression, random forest, gradient boosting, a scaler pipeline)
registered with the official client, served by Cairn over the Open Inference Protocol v2 and MLflow's
scoring protocol, answering what onnxruntime answers for the same rows; bad payloads get a 400 in each
protocol's own error format; moving the alias swaps models under load without a failed request.

Cairn-only: `mlflow server` has no model server of this kind.
"""

from __future__ import annotations

import time
import uuid

import mlflow
import mlflow.onnx
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import start_serving

pytestmark = pytest.mark.cairn_only

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def iris():
    data = load_iris()
    return data.data.astype(np.float32), data.target


def _serve(model: str, server_url: str, tmp_path_factory, *extra: str):
    return start_serving(["--model", model, "--server", server_url, *extra], tmp_path_factory)


@pytest.fixture(scope="module", params=["logistic", "forest", "boosting", "scaled"])
def served(request, cairn_server, iris, tmp_path_factory):
    """A model trained here, logged with mlflow.onnx.log_model (column signature), registered, aliased
    `champion`, and served from the registry by alias."""
    X, y = iris
    est = {
        "logistic": lambda: LogisticRegression(max_iter=300),
        "forest": lambda: RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0),
        "boosting": lambda: GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0),
        "scaled": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
    }[request.param]().fit(X, y)
    onx = to_onnx(est, X[:1], options={"zipmap": False})
    client = MlflowClient(tracking_uri=cairn_server.url)
    mlflow.set_tracking_uri(cairn_server.url)
    mlflow.set_experiment(f"serving-{uuid.uuid4().hex[:8]}")
    name = f"served-{request.param}-{uuid.uuid4().hex[:8]}"
    example = pd.DataFrame(X[:3], columns=COLUMNS)
    with mlflow.start_run():
        # An explicit input signature: MLflow cannot infer one from a classifier's two outputs.
        info = mlflow.onnx.log_model(
            onx, name="model", registered_model_name=name, input_example=example,
            signature=infer_signature(example), pip_requirements=["onnxruntime"],
        )
    client.set_registered_model_alias(name, "champion", info.registered_model_version)
    proc, base = _serve(f"models:/{name}@champion", cairn_server.url, tmp_path_factory)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    yield {"base": base, "name": name, "session": session, "X": X, "version": str(info.registered_model_version)}
    proc.terminate()
    proc.wait(timeout=30)


def _reference(served, rows):
    label, proba = served["session"].run(None, {"X": rows})
    return label, proba


def test_oip_metadata_and_readiness(served):
    base, name = served["base"], served["name"]
    assert requests.get(f"{base}/v2/health/live").json() == {"live": True}
    meta = requests.get(f"{base}/v2/models/{name}").json()
    assert meta["name"] == name and meta["versions"] == [served["version"]]
    assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert requests.get(f"{base}/v2/models/{name}/versions/{served['version']}/ready").status_code == 200
    assert requests.get(f"{base}/v2/models/nope/ready").status_code == 404


def test_oip_infer_matches_onnxruntime(served):
    base, name, X = served["base"], served["name"], served["X"]
    rows = X[::15]
    body = {"id": "r1", "inputs": [{"name": "X", "shape": list(rows.shape), "datatype": "FP32", "data": rows.tolist()}]}
    r = requests.post(f"{base}/v2/models/{name}/versions/{served['version']}/infer", json=body)
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert r.json()["id"] == "r1"
    label, proba = _reference(served, rows)
    assert out["label"]["datatype"] == "INT64" and out["label"]["shape"] == [len(rows)]
    assert out["label"]["data"] == label.tolist()
    np.testing.assert_allclose(np.array(out["probabilities"]["data"]).reshape(proba.shape), proba, rtol=1e-6, atol=1e-7)
    # One row at a time, as a load client sends them.
    for row in rows[:5]:
        one = requests.post(f"{base}/v2/models/{name}/infer", json={"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": row.tolist()}], "outputs": [{"name": "label"}]})
        assert one.status_code == 200
        assert [o["name"] for o in one.json()["outputs"]] == ["label"]
        assert one.json()["outputs"][0]["data"] == _reference(served, row[None, :])[0].tolist()


def test_mlflow_scoring_payloads_match_onnxruntime(served):
    base, X = served["base"], served["X"]
    rows = X[::30]
    label, proba = _reference(served, rows)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # Columns out of order and an extra one: the MLmodel signature decides which and in what order.
    shuffled = frame[["petal_width", "sepal_length", "petal_length", "sepal_width"]].assign(extra=1.0)
    for payload in (
        {"dataframe_split": shuffled.to_dict(orient="split")},
        {"dataframe_records": shuffled.to_dict(orient="records")},
        {"instances": shuffled.to_dict(orient="records")},
    ):
        r = requests.post(f"{base}/invocations", json=payload)
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert [p["label"] for p in preds] == label.tolist()
        np.testing.assert_allclose(np.array([p["probabilities"] for p in preds]), proba, rtol=1e-6, atol=1e-7)
    for payload in ({"inputs": rows.tolist()}, {"instances": rows.tolist()}, {"inputs": {"X": rows.tolist()}}):
        r = requests.post(f"{base}/invocations", json=payload)
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert preds["label"] == label.tolist()
        np.testing.assert_allclose(np.array(preds["probabilities"]), proba, rtol=1e-6, atol=1e-7)
    assert requests.get(f"{base}/ping").status_code == 200


def test_csv_predictions_equal_dataframe_split_predictions(served):
    """`Content-Type: text/csv`, as MLflow's scoring server takes it: pandas' CSV (a header row, then
    rows), columns matched by name to the signature as dataframe_split's are."""
    base, name, X = served["base"], served["name"], served["X"]
    frame = pd.DataFrame(X[::10], columns=COLUMNS)
    # Columns out of order and an extra one, as in the JSON payloads.
    shuffled = frame[["petal_length", "sepal_width", "petal_width", "sepal_length"]].assign(extra=1.5)
    split = requests.post(f"{base}/invocations", json={"dataframe_split": shuffled.to_dict(orient="split")})
    assert split.status_code == 200, split.text
    for path in ("/invocations", f"/serving-endpoints/{name}/invocations"):
        for content_type in ("text/csv", "text/csv; charset=utf-8"):
            r = requests.post(f"{base}{path}", data=shuffled.to_csv(index=False), headers={"Content-Type": content_type})
            assert r.status_code == 200, r.text
            assert r.json() == split.json()
    label, _ = _reference(served, frame.to_numpy(dtype=np.float32))
    assert [p["label"] for p in split.json()["predictions"]] == label.tolist()


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("", "no header row"),
        ("sepal_length,sepal_width,petal_length,petal_width\n1,2,3\n", "found record with 3 fields"),
        ("sepal_length,sepal_width\n1,2\n", "missing columns"),
        ("sepal_length,sepal_width,petal_length,petal_width\n1,2,x,4\n", "expected a number"),
        ("sepal_length,sepal_width,petal_length,petal_width\n1,,3,4\n", "missing value"),
    ],
)
def test_bad_csv_is_400_in_mlflow_scoring_format(served, body, fragment):
    r = requests.post(f"{served['base']}/invocations", data=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "BAD_REQUEST"
    assert fragment in r.json()["message"], r.text


def test_serve_takes_its_server_from_mlflow_tracking_uri(cairn_server, iris, tmp_path_factory, monkeypatch):
    """Without --server, `cairn serve --model models:/…` reads the registry MLFLOW_TRACKING_URI names, as
    `cairn deploy` and `cairn registry` do (not the default http://127.0.0.1:5000)."""
    X, y = iris
    onx = to_onnx(LogisticRegression(max_iter=300).fit(X, y), X[:1], options={"zipmap": False})
    mlflow.set_tracking_uri(cairn_server.url)
    mlflow.set_experiment(f"serve-env-{uuid.uuid4().hex[:8]}")
    name = f"serve-env-{uuid.uuid4().hex[:8]}"
    with mlflow.start_run():
        mlflow.onnx.log_model(onx, name="model", registered_model_name=name, pip_requirements=["onnxruntime"])
    MlflowClient(tracking_uri=cairn_server.url).set_registered_model_alias(name, "champion", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", cairn_server.url)
    monkeypatch.delenv("CAIRN_SERVER", raising=False)
    proc, base = start_serving(["--model", f"models:/{name}@champion"], tmp_path_factory)
    try:
        assert requests.get(f"{base}/v2/models/{name}").json()["versions"] == ["1"]
        assert requests.get(f"{base}/ping").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_metrics_count_requests_by_protocol_model_and_version(served):
    base, name = served["base"], served["name"]
    requests.post(f"{base}/invocations", json={"inputs": [[1, 2]]})  # a 400
    requests.post(f"{base}/invocations", json={"inputs": [[1.0, 2.0, 3.0, 4.0]]})
    r = requests.get(f"{base}/metrics")
    assert r.status_code == 200
    lines = r.text.splitlines()

    def has(metric, status):
        want = [f'model="{name}"', 'protocol="mlflow"', f'status="{status}"', f'version="{served["version"]}"']
        return any(line.startswith(metric + "{") and all(w in line for w in want) for line in lines)

    assert has("cairn_inference_errors_total", "4xx"), r.text
    assert has("cairn_inference_requests_total", "2xx"), r.text
    assert any(line.startswith("cairn_inference_duration_seconds_bucket{") for line in lines), r.text


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"dataframe_records": [{"sepal_length": 1.0}]}, "missing columns"),
        ({"inputs": [[1.0, 2.0, 3.0]]}, "dimension 1 must be 4"),
        ({"inputs": [["a", "b", "c", "d"]]}, "expected a number"),
        ({"rows": [[1, 2, 3, 4]]}, "exactly one of"),
        ({"inputs": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]}, "exactly one of"),
    ],
)
def test_bad_scoring_payloads_are_400(served, payload, fragment):
    r = requests.post(f"{served['base']}/invocations", json=payload)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "BAD_REQUEST"
    assert fragment in r.json()["message"]


@pytest.mark.parametrize(
    "input_, fragment",
    [
        ({"name": "X", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}, "datatype FP64"),
        ({"name": "Y", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}, "unknown input"),
        ({"name": "X", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}, "needs 8 values"),
        ({"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}, "dimension 1 must be 4"),
    ],
)
def test_bad_oip_requests_are_400(served, input_, fragment):
    r = requests.post(f"{served['base']}/v2/models/{served['name']}/infer", json={"inputs": [input_]})
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]
    r = requests.post(f"{served['base']}/v2/models/{served['name']}/infer", data=b"not json")
    assert r.status_code == 400 and "error" in r.json()


def test_moving_the_alias_swaps_the_model_without_failing_a_request(cairn_server, iris, tmp_path_factory):
    """Two versions of one model; the server follows `champion`. Under a steady stream of requests the
    alias moves to version 2 and back (a rollback): every request succeeds, and answers switch models."""
    import threading

    X, y = iris
    models = [
        LogisticRegression(max_iter=300).fit(X, y),
        RandomForestClassifier(n_estimators=10, max_depth=2, random_state=1).fit(X, y),
    ]
    onnx = [to_onnx(m, X[:1], options={"zipmap": False}) for m in models]
    client = MlflowClient(tracking_uri=cairn_server.url)
    mlflow.set_tracking_uri(cairn_server.url)
    mlflow.set_experiment(f"rollout-{uuid.uuid4().hex[:8]}")
    name = f"rollout-{uuid.uuid4().hex[:8]}"
    for onx in onnx:
        with mlflow.start_run():
            mlflow.onnx.log_model(onx, name="model", registered_model_name=name, pip_requirements=["onnxruntime"])
    client.set_registered_model_alias(name, "champion", "1")
    proc, base = _serve(f"models:/{name}@champion", cairn_server.url, tmp_path_factory, "--poll-ms", "100")
    sessions = [ort.InferenceSession(o.SerializeToString(), providers=["CPUExecutionProvider"]) for o in onnx]
    rows = X[::7]
    expected = [s.run(None, {"X": rows})[1] for s in sessions]
    assert not np.allclose(expected[0], expected[1]), "the two versions must answer differently"

    statuses: list[int] = []
    stop = threading.Event()

    def hammer():
        http = requests.Session()
        body = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": X[0].tolist()}]}
        while not stop.is_set():
            statuses.append(http.post(f"{base}/v2/models/{name}/infer", json=body, timeout=10).status_code)
            statuses.append(http.post(f"{base}/invocations", json={"inputs": [X[0].tolist()]}, timeout=10).status_code)

    def serving_version():
        return requests.get(f"{base}/v2/models/{name}").json()["versions"]

    def wait_for(version):
        deadline = time.time() + 30
        while serving_version() != [version]:
            assert time.time() < deadline, f"still serving {serving_version()}, expected {version}"
            time.sleep(0.05)

    def answers():
        r = requests.post(f"{base}/v2/models/{name}/infer", json={"inputs": [{"name": "X", "shape": list(rows.shape), "datatype": "FP32", "data": rows.tolist()}]})
        out = {o["name"]: o for o in r.json()["outputs"]}
        return np.array(out["probabilities"]["data"]).reshape(expected[0].shape)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for("1")
        np.testing.assert_allclose(answers(), expected[0], rtol=1e-6, atol=1e-7)
        client.set_registered_model_alias(name, "champion", "2")
        wait_for("2")
        np.testing.assert_allclose(answers(), expected[1], rtol=1e-6, atol=1e-7)
        client.set_registered_model_alias(name, "champion", "1")  # roll back
        wait_for("1")
        np.testing.assert_allclose(answers(), expected[0], rtol=1e-6, atol=1e-7)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        proc.terminate()
        proc.wait(timeout=30)
    assert len(statuses) > 100, len(statuses)
    failed = [s for s in statuses if s != 200]
    assert not failed, f"{len(failed)} of {len(statuses)} requests failed during the swaps: {set(failed)}"
