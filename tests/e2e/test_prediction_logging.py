"""Prediction logging (maturity level 5): every deployment — served by `cairn server` itself or by a
replica — logs each sampled request's inputs, outputs, model version, timestamp, latency and request id as
Parquet files in the artifact store (`monitoring/<deployment>/date=YYYY-MM-DD/…parquet`), which pandas
reads directly. Read back here through the server's artifact API, so the same test holds on a local folder
and on S3.

Cairn-only: `mlflow server` does not serve models.
"""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pandas as pd
import pytest
import requests

from test_deployments import cairn, deployment_name, model, replica, wait_for  # noqa: F401 (fixture)
from test_serving import COLUMNS

pytestmark = pytest.mark.cairn_only

API = "/api/cairn/v1"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
META = ["request_id", "row", "timestamp", "deployment", "model", "model_version", "latency_ms"]


def logged(base: str, dep: str) -> pd.DataFrame:
    """Every row the deployment has logged so far."""
    frames = []
    r = requests.get(f"{base}{ARTIFACTS}", params={"path": f"monitoring/{dep}"}, timeout=10)
    assert r.status_code == 200, r.text
    for day in (f["path"] for f in r.json().get("files", []) if f["is_dir"]):
        assert day.startswith("date="), day
        files = requests.get(f"{base}{ARTIFACTS}", params={"path": f"monitoring/{dep}/{day}"}, timeout=10)
        for f in files.json().get("files", []):
            assert f["path"].endswith(".parquet"), f
            data = requests.get(f"{base}{ARTIFACTS}/monitoring/{dep}/{day}/{f['path']}", timeout=10)
            assert data.status_code == 200
            frames.append(pd.read_parquet(io.BytesIO(data.content)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def wait_rows(base: str, dep: str, rows: int, timeout: float = 30) -> pd.DataFrame:
    deadline = time.time() + timeout
    while len(got := logged(base, dep)) < rows:
        assert time.time() < deadline, f"{len(got)} logged rows of {dep}, expected {rows}"
        time.sleep(0.3)
    return got


def score(base: str, dep: str, rows: np.ndarray, request_id: str | None = None) -> requests.Response:
    headers = {"x-request-id": request_id} if request_id else {}
    body = {"dataframe_split": {"columns": COLUMNS, "data": rows.tolist()}}
    r = requests.post(f"{base}/serving-endpoints/{dep}/invocations", json=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r


def test_every_request_is_logged_as_parquet_with_inputs_outputs_and_ids(cairn_server, model):
    base, dep = cairn_server.url, deployment_name()
    out = cairn("deploy", "create", dep, "--model", f"models:/{model['name']}/1", server=base)
    assert out.returncode == 0, out.stderr
    wait_for(base, dep, ["1"])
    X = model["X"]
    score(base, dep, X[:3], "req-a")
    generated = score(base, dep, X[3:5]).headers["x-request-id"]
    assert generated, "a request without an id gets one, echoed"
    oip = {"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "data": X[5:7].tolist()}]}
    r = requests.post(f"{base}/v2/models/{dep}/infer", json=oip, headers={"x-request-id": "req-oip"}, timeout=10)
    assert r.status_code == 200 and r.headers["x-request-id"] == "req-oip", r.text
    # A refused request is not a prediction: nothing logged for it.
    bad = requests.post(f"{base}/serving-endpoints/{dep}/invocations", json={"nope": 1}, headers={"x-request-id": "bad"})
    assert bad.status_code == 400

    df = wait_rows(base, dep, 7)
    assert len(df) == 7
    assert list(df.columns[: len(META)]) == META
    assert set(COLUMNS) | {"label", "probabilities_0", "probabilities_1", "probabilities_2"} <= set(df.columns)
    assert str(df["timestamp"].dt.tz) == "UTC" and (df["latency_ms"] > 0).all()
    assert (df["deployment"] == dep).all() and (df["model"] == model["name"]).all()
    assert (df["model_version"] == "1").all()
    assert sorted(df["request_id"].unique()) == sorted(["req-a", generated, "req-oip"])
    a = df[df["request_id"] == "req-a"].sort_values("row")
    assert a["row"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(a[COLUMNS].to_numpy(), X[:3], rtol=1e-6)
    probs = a[["probabilities_0", "probabilities_1", "probabilities_2"]].to_numpy()
    np.testing.assert_allclose(probs, model["sessions"][0].run(None, {"X": X[:3]})[1], rtol=1e-5)
    assert "bad" not in set(df["request_id"])

    # A sample rate of 0 logs nothing; it is part of the deployment's spec.
    out = cairn("deploy", "update", dep, "--log-sample", "0", server=base)
    assert out.returncode == 0, out.stderr
    got = json.loads(cairn("deploy", "get", dep, "--json", server=base).stdout)["deployment"]
    assert got["log_sample"] == 0
    time.sleep(0.5)
    for i in range(5):
        score(base, dep, X[:2], f"unlogged-{i}")
    time.sleep(4.5)  # two flush periods
    assert "unlogged-0" not in set(logged(base, dep)["request_id"])
    bad_rate = cairn("deploy", "update", dep, "--log-sample", "1.5", server=base)
    assert bad_rate.returncode != 0 and "sample rate" in bad_rate.stderr


def test_a_replica_logs_to_the_servers_store(cairn_server, model, tmp_path_factory):
    base, dep = cairn_server.url, deployment_name()
    assert cairn("deploy", "create", dep, "--model", f"models:/{model['name']}/2", server=base).returncode == 0
    wait_for(base, dep, ["2"])
    proc, replica_base = replica(base, dep, tmp_path_factory)
    try:
        for i in range(4):
            score(replica_base, dep, model["X"][i : i + 2], f"replica-{i}")
        df = wait_rows(base, dep, 8)
        assert sorted(df["request_id"].unique()) == [f"replica-{i}" for i in range(4)]
        assert (df["model_version"] == "2").all()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    "dep_ok, params, body, status",
    [
        (True, {"file": "date=2026-12-07/x.parquet"}, b"not parquet", 400),
        (True, {"file": "../x.parquet"}, b"PAR1", 400),
        (True, {}, b"PAR1", 400),
        (False, {"file": "date=2026-12-07/x.parquet"}, b"PAR1", 404),
    ],
)
def test_bad_prediction_uploads_are_4xx(cairn_server, model, dep_ok, params, body, status):
    base = cairn_server.url
    dep = "no-such-deployment"
    if dep_ok:
        dep = deployment_name()
        assert cairn("deploy", "create", dep, "--model", f"models:/{model['name']}/1", server=base).returncode == 0
    r = requests.post(f"{base}{API}/deployments/{dep}/predictions", params=params, data=body, timeout=10)
    assert r.status_code == status, r.text
    assert "error_code" in r.json()
