"""Deployments (maturity level 3): named endpoints bound to a registry alias or version, served by the
`cairn server` itself and by stateless replicas (`cairn serve --deployment`), created and changed with
`cairn deploy`. An alias move rolls out to every serving process under load without a failed request and
is recorded in the deployment's history with who moved the alias; `cairn deploy rollback` pins the
previous version; a canary takes its weight's share of requests; the Open Inference Protocol is driven
through NVIDIA Triton's own HTTP client.

Cairn-only: `mlflow server` has no deployments.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid

import mlflow
import mlflow.onnx
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import requests
import tritonclient.http as triton
from mlflow import MlflowClient
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from conftest import _free_port, cairn_bin, start_serving
from test_serving import COLUMNS

pytestmark = pytest.mark.cairn_only

API = "/api/cairn/v1/deployments"


def cairn(*args: str, server: str, user: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if user:
        env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = user, "x"
    return subprocess.run(
        [str(cairn_bin()), *args, "--server", server], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture(scope="module")
def model(cairn_server):
    """One registered model with two ONNX versions that answer differently: `champion` -> 1,
    `challenger` -> 2."""
    data = load_iris()
    X, y = data.data.astype(np.float32), data.target
    estimators = [
        LogisticRegression(max_iter=300).fit(X, y),
        RandomForestClassifier(n_estimators=10, max_depth=2, random_state=1).fit(X, y),
    ]
    onnx = [to_onnx(e, X[:1], options={"zipmap": False}) for e in estimators]
    client = MlflowClient(tracking_uri=cairn_server.url)
    mlflow.set_tracking_uri(cairn_server.url)
    mlflow.set_experiment(f"deploy-{uuid.uuid4().hex[:8]}")
    name = f"churn-{uuid.uuid4().hex[:8]}"
    example = pd.DataFrame(X[:3], columns=COLUMNS)
    for onx in onnx:
        with mlflow.start_run():
            mlflow.onnx.log_model(
                onx, name="model", registered_model_name=name, input_example=example,
                signature=infer_signature(example), pip_requirements=["onnxruntime"],
            )
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    sessions = [ort.InferenceSession(o.SerializeToString(), providers=["CPUExecutionProvider"]) for o in onnx]
    rows = X[::7]
    expected = [s.run(None, {"X": rows})[1] for s in sessions]
    assert not np.allclose(expected[0], expected[1]), "the two versions must answer differently"
    return {"name": name, "client": client, "X": X, "rows": rows, "expected": expected, "sessions": sessions}


def deployment_name() -> str:
    return f"d-{uuid.uuid4().hex[:8]}"


def versions(base: str, dep: str) -> list[str] | None:
    r = requests.get(f"{base}/v2/models/{dep}", timeout=5)
    return r.json()["versions"] if r.status_code == 200 else None


def wait_for(base: str, dep: str, want: list[str] | None, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while (got := versions(base, dep)) != want:
        assert time.time() < deadline, f"{base} serves {dep} at {got}, expected {want}"
        time.sleep(0.05)


def probabilities(base: str, dep: str, rows: np.ndarray) -> np.ndarray:
    body = {"inputs": [{"name": "X", "shape": list(rows.shape), "datatype": "FP32", "data": rows.tolist()}]}
    r = requests.post(f"{base}/v2/models/{dep}/infer", json=body, timeout=10)
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    return np.array(out["probabilities"]["data"]).reshape(len(rows), -1)


def history(base: str, dep: str) -> list[dict]:
    r = requests.get(f"{base}{API}/{dep}/history", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["events"]


def replica(server: str, dep: str, tmp_path_factory, *extra: str):
    """A serving replica of one deployment: `cairn serve --deployment`."""
    return start_serving(["--deployment", dep, "--server", server, *extra], tmp_path_factory)


def test_deploy_create_serves_from_the_server_over_both_protocols(cairn_server, model):
    dep, server = deployment_name(), cairn_server.url
    out = cairn("deploy", "create", dep, "--model", f"models:/{model['name']}@champion", server=server)
    assert out.returncode == 0, out.stderr
    assert f"serving {model['name']}/1" in out.stdout
    wait_for(server, dep, ["1"])
    np.testing.assert_allclose(probabilities(server, dep, model["rows"]), model["expected"][0], rtol=1e-6, atol=1e-7)
    frame = pd.DataFrame(model["rows"], columns=COLUMNS)
    r = requests.post(f"{server}/serving-endpoints/{dep}/invocations", json={"dataframe_split": frame.to_dict(orient="split")})
    assert r.status_code == 200, r.text
    assert r.headers["x-cairn-model-version"] == "1"
    np.testing.assert_allclose(np.array([p["probabilities"] for p in r.json()["predictions"]]), model["expected"][0], rtol=1e-6, atol=1e-7)
    csv = requests.post(f"{server}/serving-endpoints/{dep}/invocations", data=frame.to_csv(index=False), headers={"Content-Type": "text/csv"})
    assert csv.status_code == 200 and csv.json() == r.json(), csv.text
    listed = json.loads(cairn("deploy", "list", "--json", server=server).stdout)["deployments"]
    assert any(d["name"] == dep and d["serving"]["primary"]["version"] == "1" for d in listed)
    # What the server serves is on its /metrics, by deployment, model and version.
    metrics = requests.get(f"{server}/metrics").text
    assert any(
        line.startswith("cairn_inference_requests_total{") and f'deployment="{dep}"' in line
        and f'model="{model["name"]}"' in line and 'version="1"' in line and 'protocol="mlflow"' in line
        for line in metrics.splitlines()
    ), metrics


def test_open_inference_protocol_through_tritons_client(cairn_server, model, tmp_path_factory):
    """The official Triton HTTP client against the server's embedded serving and against a replica."""
    dep, server = deployment_name(), cairn_server.url
    assert cairn("deploy", "create", dep, "--model", f"models:/{model['name']}/2", server=server).returncode == 0
    wait_for(server, dep, ["2"])
    proc, replica_base = replica(server, dep, tmp_path_factory)
    try:
        for base in (server, replica_base):
            client = triton.InferenceServerClient(url=base.removeprefix("http://"))
            assert client.is_server_live() and client.is_server_ready()
            assert client.is_model_ready(dep) and client.is_model_ready(dep, model_version="2")
            assert not client.is_model_ready(dep, model_version="7")
            meta = client.get_model_metadata(dep)
            assert meta["name"] == dep and meta["versions"] == ["2"]
            assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
            rows = model["rows"]
            inp = triton.InferInput("X", list(rows.shape), "FP32")
            inp.set_data_from_numpy(rows, binary_data=False)
            wanted = [triton.InferRequestedOutput("probabilities", binary_data=False)]
            result = client.infer(dep, [inp], outputs=wanted, model_version="2", request_id="req-7")
            np.testing.assert_allclose(result.as_numpy("probabilities"), model["expected"][1], rtol=1e-6, atol=1e-7)
            assert result.get_response()["id"] == "req-7"
            assert result.as_numpy("label") is None  # only what was asked for
            # A wrong datatype is the client's error, in the protocol's format.
            bad = triton.InferInput("X", list(rows.shape), "FP64")
            bad.set_data_from_numpy(rows.astype(np.float64), binary_data=False)
            with pytest.raises(triton.InferenceServerException, match="datatype FP64"):
                client.infer(dep, [bad])
            client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_alias_move_rolls_out_under_load_and_rollback_pins_the_previous_version(cairn_server, model, tmp_path_factory):
    """The server and a replica serve a deployment that follows `champion`. Under a steady stream of
    requests to both, the alias moves to version 2 (by alice), then `cairn deploy rollback` returns to
    version 1: every request succeeds, answers switch models, and the history says what, who, from -> to."""
    dep, server, name = deployment_name(), cairn_server.url, model["name"]
    model["client"].set_registered_model_alias(name, "champion", "1")
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}@champion", server=server, user="bob").returncode == 0
    wait_for(server, dep, ["1"])
    proc, replica_base = replica(server, dep, tmp_path_factory, "--poll-ms", "100")
    bases = [server, replica_base]
    statuses: list[int] = []
    stop = threading.Event()
    X = model["X"]

    def hammer(base):
        http = requests.Session()
        body = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": X[0].tolist()}]}
        while not stop.is_set():
            statuses.append(http.post(f"{base}/v2/models/{dep}/infer", json=body, timeout=10).status_code)
            statuses.append(http.post(f"{base}/serving-endpoints/{dep}/invocations", json={"inputs": [X[0].tolist()]}, timeout=10).status_code)

    threads = [threading.Thread(target=hammer, args=(b,)) for b in bases for _ in range(2)]
    for t in threads:
        t.start()
    try:
        alice = MlflowClient(tracking_uri=server)
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = "alice", "x"
        try:
            alice.set_registered_model_alias(name, "champion", "2")
        finally:
            del os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
        for base in bases:
            wait_for(base, dep, ["2"])
            np.testing.assert_allclose(probabilities(base, dep, model["rows"]), model["expected"][1], rtol=1e-6, atol=1e-7)
        out = cairn("deploy", "rollback", dep, server=server, user="carol")
        assert out.returncode == 0, out.stderr
        assert f"models:/{name}/1" in out.stdout
        for base in bases:
            wait_for(base, dep, ["1"])
            np.testing.assert_allclose(probabilities(base, dep, model["rows"]), model["expected"][0], rtol=1e-6, atol=1e-7)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        proc.terminate()
        proc.wait(timeout=30)
    assert len(statuses) > 100, len(statuses)
    failed = [s for s in statuses if s != 200]
    assert not failed, f"{len(failed)} of {len(statuses)} requests failed during the roll-out: {set(failed)}"

    events = history(server, dep)
    assert [(e["kind"], e["actor"]) for e in events] == [("created", "bob"), ("rolled_out", "alice"), ("rolled_back", "carol")]
    out_ = events[1]
    assert out_["before"]["serving"]["primary"]["version"] == "1" and out_["after"]["serving"]["primary"]["version"] == "2"
    assert events[2]["after"]["model"] == f"models:/{name}/1"
    # Pinned: the alias moving again does not roll it forward.
    model["client"].set_registered_model_alias(name, "champion", "2")
    assert requests.get(f"{server}{API}/{dep}").json()["deployment"]["serving"]["primary"]["version"] == "1"
    text = cairn("deploy", "history", dep, server=server).stdout.splitlines()
    assert len(text) == 3 and "alice  rolled_out" in text[1] and f"{name}/1 -> {name}/2" in text[1], text
    model["client"].set_registered_model_alias(name, "champion", "1")


def test_canary_takes_its_weight_of_requests(cairn_server, model):
    dep, server, name = deployment_name(), cairn_server.url, model["name"]
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}/1", server=server).returncode == 0
    out = cairn("deploy", "update", dep, "--canary", f"models:/{name}@challenger", "--weight", "20", server=server)
    assert out.returncode == 0, out.stderr
    assert "canary" in out.stdout
    wait_for(server, dep, ["1", "2"])
    http = requests.Session()
    seen = {"1": 0, "2": 0}
    row = model["rows"][:1]
    for _ in range(1000):
        r = http.post(f"{server}/serving-endpoints/{dep}/invocations", json={"inputs": row.tolist()})
        assert r.status_code == 200, r.text
        version = r.headers["x-cairn-model-version"]
        seen[version] += 1
        # Each answer is the answering version's own.
        np.testing.assert_allclose(r.json()["predictions"]["probabilities"], model["expected"][int(version) - 1][:1], rtol=1e-6, atol=1e-7)
    # Binomial(1000, 0.2): mean 200, sd 12.6; ±60 is beyond 4.7 sd.
    assert 140 <= seen["2"] <= 260, seen
    # A version in the path reaches that model whatever the split.
    body = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": row.tolist()}]}
    for _ in range(20):
        assert requests.post(f"{server}/v2/models/{dep}/versions/2/infer", json=body).json()["model_version"] == "2"
    # Promote: no canary, all traffic to the challenger's version.
    assert cairn("deploy", "update", dep, "--model", f"models:/{name}/2", "--no-canary", server=server).returncode == 0
    wait_for(server, dep, ["2"])
    assert [e["kind"] for e in history(server, dep)] == ["created", "updated", "updated"]


def test_half_a_canary_is_refused_by_the_cli_saying_what_to_add(cairn_server, model):
    """`--weight` without `--canary` (or the reverse) is refused before anything is sent, in one line
    naming the missing flag; on a deployment that has a canary, either one alone changes just that."""
    dep, server, name = deployment_name(), cairn_server.url, model["name"]
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}/1", server=server).returncode == 0
    for flags, fragment in [
        (["--weight", "10"], "--weight needs --canary MODEL"),
        (["--canary", f"models:/{name}@challenger"], "--canary needs --weight N"),
    ]:
        other = deployment_name()
        for out in (
            cairn("deploy", "update", dep, *flags, server=server),
            cairn("deploy", "create", other, "--model", f"models:/{name}/1", *flags, server=server),
        ):
            assert out.returncode != 0
            assert len(out.stderr.strip().splitlines()) == 1 and fragment in out.stderr, out.stderr
            assert "line 1 column" not in out.stderr and "invalid type" not in out.stderr, out.stderr
        assert requests.get(f"{server}{API}/{other}").status_code == 404
    assert [e["kind"] for e in history(server, dep)] == ["created"]
    assert cairn("deploy", "update", dep, "--canary", f"models:/{name}@challenger", "--weight", "10", server=server).returncode == 0
    out = cairn("deploy", "update", dep, "--weight", "30", "--json", server=server)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["deployment"]["canary"] == {"model": f"models:/{name}@challenger", "weight": 30}
    out = cairn("deploy", "update", dep, "--canary", f"models:/{name}/2", "--json", server=server)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["deployment"]["canary"] == {"model": f"models:/{name}/2", "weight": 30}


# The replica's not-ready answers are 503s by design (what load balancers read).
@pytest.mark.allow_5xx
def test_deleting_a_deployment_stops_its_serving_everywhere(cairn_server, model, tmp_path_factory):
    dep, server = deployment_name(), cairn_server.url
    assert cairn("deploy", "create", dep, "--model", f"models:/{model['name']}/1", server=server).returncode == 0
    wait_for(server, dep, ["1"])
    proc, replica_base = replica(server, dep, tmp_path_factory, "--poll-ms", "100")
    try:
        assert requests.get(f"{replica_base}/v2/health/ready").status_code == 200
        out = cairn("deploy", "delete", dep, server=server)
        assert out.returncode == 0, out.stderr
        # The server stops serving it: an unknown model.
        wait_for(server, dep, None)
        r = requests.post(f"{server}/v2/models/{dep}/infer", json={"inputs": []})
        assert r.status_code == 404 and "unknown model" in r.json()["error"]
        # A replica of it is not ready any more (a load balancer takes it out), saying why.
        deadline = time.time() + 30
        while requests.get(f"{replica_base}/v2/health/ready").status_code != 503:
            assert time.time() < deadline, "the replica of a deleted deployment still says it is ready"
            time.sleep(0.05)
        r = requests.post(f"{replica_base}/v2/models/{dep}/infer", json={"inputs": []})
        assert r.status_code == 503 and "no longer exists" in r.json()["error"], r.text
        assert requests.get(f"{replica_base}/v2/models/{dep}/ready").status_code == 503
        assert requests.post(f"{replica_base}/invocations", json={"inputs": [[1, 2, 3, 4]]}).status_code == 503
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert [e["kind"] for e in history(server, dep)] == ["created", "deleted"]
    assert requests.get(f"{server}{API}/{dep}").status_code == 404


def test_a_replica_of_a_missing_deployment_fails_fast(cairn_server):
    out = subprocess.run(
        [str(cairn_bin()), "serve", "--deployment", "no-such-deployment", "--server", cairn_server.url, "--port", str(_free_port())],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "deployment 'no-such-deployment' not found" in out.stderr


@pytest.mark.parametrize(
    "body, status, code, fragment",
    [
        ({"name": "x", "model": "runs:/abc/model"}, 400, "INVALID_PARAMETER_VALUE", "not a registered model reference"),
        ({"name": "x", "model": "models:/no-such-model/1"}, 404, "RESOURCE_DOES_NOT_EXIST", "no-such-model"),
        ({"name": "x", "model": "{model}@no-such-alias"}, 400, "INVALID_PARAMETER_VALUE", "no-such-alias"),
        ({"name": "x", "model": "{model}/99"}, 404, "RESOURCE_DOES_NOT_EXIST", "99"),
        ({"name": "x", "model": "{model}/1", "canary": {"model": "{model}/2", "weight": 100}}, 400, "INVALID_PARAMETER_VALUE", "1–99"),
        ({"name": "x", "model": "{model}/1", "canary": {"model": "{model}/2"}}, 400, "INVALID_PARAMETER_VALUE", "weight"),
        ({"name": "a/b", "model": "{model}/1"}, 400, "INVALID_PARAMETER_VALUE", "Invalid deployment name"),
        ({"model": "{model}/1"}, 400, "INVALID_PARAMETER_VALUE", "name"),
        ({"name": "x"}, 400, "INVALID_PARAMETER_VALUE", "model"),
        ({"name": "x", "model": 3}, 400, "INVALID_PARAMETER_VALUE", ""),
    ],
)
def test_bad_deployments_are_4xx_and_create_nothing(cairn_server, model, body, status, code, fragment):
    ref = f"models:/{model['name']}"
    body = json.loads(json.dumps(body).replace("{model}", ref))
    if "name" in body and body["name"] == "x":
        body["name"] = deployment_name()
    r = requests.post(f"{cairn_server.url}{API}", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error_code"] == code and fragment in r.json()["message"], r.text
    if "name" in body and "/" not in str(body["name"]):
        assert requests.get(f"{cairn_server.url}{API}/{body['name']}").status_code == 404


def test_deployment_conflicts_and_unknowns(cairn_server, model):
    dep, server, ref = deployment_name(), cairn_server.url, f"models:/{model['name']}"
    assert requests.post(f"{server}{API}", json={"name": dep, "model": f"{ref}/1"}).status_code == 200
    r = requests.post(f"{server}{API}", json={"name": dep, "model": f"{ref}/2"})
    assert r.status_code == 400 and r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    # Nothing else served: nothing to roll back to.
    r = requests.post(f"{server}{API}/{dep}/rollback")
    assert r.status_code == 400 and "nothing to roll back to" in r.json()["message"]
    r = requests.put(f"{server}{API}/{dep}", json={"name": "other", "model": f"{ref}/2"})
    assert r.status_code == 400 and "renamed" in r.json()["message"]
    for method, path in [("get", ""), ("put", ""), ("delete", ""), ("post", "/rollback"), ("get", "/history")]:
        r = requests.request(method, f"{server}{API}/never-{dep}{path}", json={"model": f"{ref}/1"})
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = requests.post(f"{server}/serving-endpoints/never-{dep}/invocations", json={"inputs": [[1, 2, 3, 4]]})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    out = cairn("deploy", "get", f"never-{dep}", server=server)
    assert out.returncode != 0 and f"Deployment 'never-{dep}' not found" in out.stderr
    # The OpenAPI document describes the deployments API.
    paths = requests.get(f"{server}/api/cairn/v1/openapi.json").json()["paths"]
    assert {"/api/cairn/v1/deployments", "/api/cairn/v1/deployments/{name}/rollback"} <= set(paths)


def test_only_onnx_models_can_be_deployed(cairn_server, model):
    """A version without the onnx flavour is refused when deployed (a 400 naming the fix), not served as
    a broken endpoint."""
    import mlflow.sklearn

    name = f"pickled-{uuid.uuid4().hex[:8]}"
    with mlflow.start_run():
        mlflow.sklearn.log_model(LogisticRegression(max_iter=300).fit(model["X"], load_iris().target), name="model", registered_model_name=name)
    server, dep = cairn_server.url, deployment_name()
    for body in (
        {"name": dep, "model": f"models:/{name}/1"},
        {"name": dep, "model": f"models:/{model['name']}/1", "canary": {"model": f"models:/{name}/1", "weight": 5}},
    ):
        r = requests.post(f"{server}{API}", json=body)
        assert r.status_code == 400, r.text
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "no onnx flavour" in r.json()["message"] and "mlflow.onnx.log_model" in r.json()["message"]
    assert requests.get(f"{server}{API}/{dep}").status_code == 404
    out = cairn("deploy", "create", dep, "--model", f"models:/{name}/1", server=server)
    assert out.returncode != 0 and "no onnx flavour" in out.stderr


def test_acknowledged_deployment_changes_survive_kill_9(restartable_server, model):
    """A deployment created, rolled out and rolled back, then `kill -9`: after a restart on the same
    data, the deployment, its state and its whole history are there, and the server serves it again."""
    server = restartable_server
    client = MlflowClient(tracking_uri=server.url)
    name, dep = f"durable-{uuid.uuid4().hex[:8]}", deployment_name()
    onx = to_onnx(LogisticRegression(max_iter=300).fit(model["X"], load_iris().target), model["X"][:1], options={"zipmap": False})
    # The fluent API's tracking URI is process-wide (set_tracking_uri also rewrites MLFLOW_TRACKING_URI):
    # point it at this server for the logging only, then back.
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server.url)
    try:
        experiment = client.create_experiment(name)
        for _ in range(2):
            with mlflow.start_run(experiment_id=experiment):
                mlflow.onnx.log_model(onx, name="model", registered_model_name=name, pip_requirements=["onnxruntime"])
    finally:
        mlflow.set_tracking_uri(previous)
    client.set_registered_model_alias(name, "champion", "1")
    assert cairn("deploy", "create", dep, "--model", f"models:/{name}@champion", server=server.url).returncode == 0
    client.set_registered_model_alias(name, "champion", "2")
    # The server's controller rolls the move out (a read changes nothing): wait for its record.
    deadline = time.time() + 30
    while requests.get(f"{server.url}{API}/{dep}").json()["deployment"]["serving"]["primary"]["version"] != "2":
        assert time.time() < deadline, "the alias move was not rolled out"
        time.sleep(0.05)
    assert cairn("deploy", "rollback", dep, server=server.url).returncode == 0
    before = history(server.url, dep)

    server.restart(kill=True)

    assert history(server.url, dep) == before
    assert [e["kind"] for e in before] == ["created", "rolled_out", "rolled_back"]
    d = requests.get(f"{server.url}{API}/{dep}").json()["deployment"]
    assert (d["model"], d["serving"]["primary"]["version"], d["revision"]) == (f"models:/{name}/1", "1", 3)
    wait_for(server.url, dep, ["1"])
