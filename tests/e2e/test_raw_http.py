"""Wire-level details through raw HTTP (`requests` / `http.client`): error bodies and statuses, routes,
content types, JSON encodings, artifact endpoints and path safety, auxiliary endpoints."""

from __future__ import annotations

import http.client
import json
import math
import time
from urllib.parse import urlparse

import pytest
import requests
from packaging.version import Version

from helpers import DOUBLE_MAX, RUN_ID_RE, api, assert_error, now_ms

API = "/api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts/artifacts"


def post(base_url, path, body, **kw):
    return api(base_url, "POST", path, json=body, **kw)


def raw(base_url, method, path, body: bytes | None = None, headers=None):
    """Sends `path` byte for byte (requests would normalise `..` and `%2e`)."""
    u = urlparse(base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, dict(resp.getheaders()), data
    finally:
        conn.close()


@pytest.fixture
def exp(base_url, unique_name):
    r = post(base_url, f"{API}/experiments/create", {"name": unique_name()})
    assert r.status_code == 200, r.text
    return r.json()["experiment_id"]


@pytest.fixture
def run_id(base_url, exp):
    r = post(base_url, f"{API}/runs/create", {"experiment_id": exp, "start_time": now_ms()})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]["run_id"]


# ----------------------------------------------------------------------------- errors
def test_missing_run_is_404_json(base_url):
    r = api(base_url, "GET", f"{API}/runs/get", params={"run_id": "0" * 32})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_missing_experiment_is_404_json(base_url):
    r = api(base_url, "GET", f"{API}/experiments/get", params={"experiment_id": "987654321"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = api(base_url, "GET", f"{API}/experiments/get-by-name", params={"experiment_name": "no-such-exp-x"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_duplicate_experiment_is_400(base_url, unique_name):
    name = unique_name()
    assert post(base_url, f"{API}/experiments/create", {"name": name}).status_code == 200
    assert_error(post(base_url, f"{API}/experiments/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")


def test_param_change_is_400(base_url, run_id):
    body = {"run_id": run_id, "key": "p", "value": "1"}
    assert post(base_url, f"{API}/runs/log-parameter", body).status_code == 200
    assert post(base_url, f"{API}/runs/log-parameter", body).json() == {}
    body["value"] = "2"
    assert_error(post(base_url, f"{API}/runs/log-parameter", body), 400, "INVALID_PARAMETER_VALUE")


def test_missing_required_field_is_400(base_url, run_id):
    assert_error(post(base_url, f"{API}/experiments/create", {}), 400, "INVALID_PARAMETER_VALUE")
    r = post(base_url, f"{API}/runs/log-metric", {"run_id": run_id, "key": "m", "timestamp": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api(base_url, "GET", f"{API}/runs/get")
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_wrong_field_type_is_400(base_url, run_id):
    r = post(base_url, f"{API}/runs/log-metric",
             {"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1, "step": 0})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = post(base_url, f"{API}/runs/log-metric",
             {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": "soon", "step": 0})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_bad_search_filter_is_400(base_url, exp):
    r = post(base_url, f"{API}/runs/search", {"experiment_ids": [exp], "filter": "metrics.a >>> 1"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_unknown_route_is_404(base_url):
    r = api(base_url, "GET", f"{API}/no-such-endpoint")
    assert r.status_code == 404
    r = api(base_url, "POST", f"{API}/runs/no-such-thing", json={})
    assert r.status_code == 404
    r = api(base_url, "GET", "/api/2.0/nothing/here")
    assert r.status_code == 404


def test_post_without_json_content_type_is_400(base_url, unique_name):
    body = json.dumps({"name": unique_name()})
    r = api(base_url, "POST", f"{API}/experiments/create", data=body)
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api(base_url, "POST", f"{API}/experiments/create", data=body,
            headers={"Content-Type": "text/plain"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    # Nothing was created.
    r = api(base_url, "GET", f"{API}/experiments/get-by-name",
            params={"experiment_name": json.loads(body)["name"]})
    assert r.status_code == 404


def test_json_content_type_with_charset_is_accepted(base_url, unique_name):
    r = api(base_url, "POST", f"{API}/experiments/create",
            data=json.dumps({"name": unique_name()}).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text
    assert r.json()["experiment_id"].isdigit()


def test_malformed_json_is_400(base_url):
    for payload in ['{"name": ', "not json at all", "[1, 2", '{"name": "x",}']:
        r = api(base_url, "POST", f"{API}/experiments/create", data=payload,
                headers={"Content-Type": "application/json"})
        assert_error(r, 400, ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST"))


def test_field_spelled_both_ways_is_400(base_url):
    r = post(base_url, f"{API}/experiments/search", {"max_results": 1, "maxResults": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_camel_case_field_names_accepted(base_url, exp):
    r = post(base_url, f"{API}/experiments/search", {"maxResults": 1})
    assert r.status_code == 200, r.text
    assert len(r.json()["experiments"]) == 1


# ----------------------------------------------------------------------------- prefixes and shapes
def test_api_and_ajax_api_prefixes(base_url, exp):
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        r = api(base_url, "GET", f"{prefix}/experiments/get", params={"experiment_id": exp})
        assert r.status_code == 200, (prefix, r.text)
        assert r.json()["experiment"]["experiment_id"] == exp
    r = post(base_url, f"/ajax-api/2.0/mlflow/runs/create", {"experiment_id": exp})
    assert r.status_code == 200 and RUN_ID_RE.match(r.json()["run"]["info"]["run_id"])


def test_run_shape_and_int64_numbers(base_url, exp):
    start = now_ms()
    r = post(base_url, f"{API}/runs/create",
             {"experiment_id": exp, "start_time": start, "run_name": "wire",
              "tags": [{"key": "t", "value": "v"}]})
    assert r.status_code == 200, r.text
    info = r.json()["run"]["info"]
    run_id = info["run_id"]
    assert RUN_ID_RE.match(run_id)
    assert info["run_uuid"] == run_id
    assert info["experiment_id"] == exp and isinstance(info["experiment_id"], str)
    assert info["start_time"] == start and type(info["start_time"]) is int
    assert info["status"] == "RUNNING"
    assert info["lifecycle_stage"] == "active"
    assert info["run_name"] == "wire"
    assert info["artifact_uri"] == f"mlflow-artifacts:/{exp}/{run_id}/artifacts"

    big_ts = 1_799_999_999_999
    big_step = 2**40 + 3
    r = post(base_url, f"{API}/runs/log-metric",
             {"run_id": run_id, "key": "m", "value": 0.5, "timestamp": big_ts, "step": big_step})
    assert r.status_code == 200 and r.json() == {}
    # int64 fields sent as strings (proto3 JSON) are accepted as well.
    r = post(base_url, f"{API}/runs/log-metric",
             {"run_id": run_id, "key": "s", "value": 1.5, "timestamp": str(big_ts), "step": "7"})
    assert r.status_code == 200, r.text

    end = now_ms()
    r = post(base_url, f"{API}/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": end})
    assert r.status_code == 200
    assert r.json()["run_info"]["status"] == "FINISHED"
    assert r.json()["run_info"]["end_time"] == end

    r = api(base_url, "GET", f"{API}/runs/get", params={"run_id": run_id})
    body = r.json()["run"]
    assert type(body["info"]["end_time"]) is int and body["info"]["end_time"] == end
    metrics = {m["key"]: m for m in body["data"]["metrics"]}
    assert metrics["m"]["timestamp"] == big_ts and type(metrics["m"]["timestamp"]) is int
    assert metrics["m"]["step"] == big_step and type(metrics["m"]["step"]) is int
    assert metrics["s"]["step"] == 7 and metrics["s"]["timestamp"] == big_ts
    assert {"key": "t", "value": "v"} in body["data"]["tags"]

    r = api(base_url, "GET", f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"})
    [point] = r.json()["metrics"]
    assert point["step"] == big_step and type(point["step"]) is int and point["value"] == 0.5

    r = api(base_url, "GET", f"{API}/experiments/get", params={"experiment_id": exp})
    e = r.json()["experiment"]
    assert type(e["creation_time"]) is int and type(e["last_update_time"]) is int
    assert e["lifecycle_stage"] == "active"


def test_run_uuid_only_is_accepted(base_url, run_id):
    r = api(base_url, "GET", f"{API}/runs/get", params={"run_uuid": run_id})
    assert r.status_code == 200 and r.json()["run"]["info"]["run_id"] == run_id
    r = post(base_url, f"{API}/runs/set-tag", {"run_uuid": run_id, "key": "k", "value": "v"})
    assert r.status_code == 200 and r.json() == {}


def test_empty_success_bodies(base_url, exp, run_id):
    for path, body in [
        ("runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}),
        ("runs/delete-tag", {"run_id": run_id, "key": "k"}),
        ("runs/log-batch", {"run_id": run_id, "metrics": [], "params": [], "tags": []}),
        ("experiments/set-experiment-tag", {"experiment_id": exp, "key": "k", "value": "v"}),
        ("runs/delete", {"run_id": run_id}),
        ("runs/restore", {"run_id": run_id}),
    ]:
        r = post(base_url, f"{API}/{path}", body)
        assert r.status_code == 200, (path, r.text)
        assert r.json() == {}, (path, r.text)


def test_nan_and_infinity_on_the_wire(base_url, run_id):
    for key, value in [("nan", "NaN"), ("pinf", "Infinity"), ("ninf", "-Infinity")]:
        r = post(base_url, f"{API}/runs/log-metric",
                 {"run_id": run_id, "key": key, "value": value, "timestamp": now_ms(), "step": 0})
        assert r.status_code == 200, (key, r.text)
    r = api(base_url, "GET", f"{API}/runs/get", params={"run_id": run_id})
    assert r.status_code == 200
    metrics = {m["key"]: m["value"] for m in r.json()["run"]["data"]["metrics"]}
    assert metrics["nan"] == "NaN"
    assert metrics["pinf"] == DOUBLE_MAX
    assert metrics["ninf"] == -DOUBLE_MAX
    r = api(base_url, "GET", f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "nan"})
    assert [m["value"] for m in r.json()["metrics"]] == ["NaN"]


def test_log_batch_limits(base_url, run_id):
    ts = now_ms()
    metrics = [{"key": "m", "value": float(i), "timestamp": ts, "step": i} for i in range(1001)]
    r = post(base_url, f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    r = post(base_url, f"{API}/runs/log-batch", {"run_id": run_id, "params": params})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    tags = [{"key": f"t{i}", "value": "v"} for i in range(101)]
    r = post(base_url, f"{API}/runs/log-batch", {"run_id": run_id, "tags": tags})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    # Nothing from the rejected batches was written.
    r = api(base_url, "GET", f"{API}/runs/get", params={"run_id": run_id})
    data = r.json()["run"]["data"]
    assert "metrics" not in data or data["metrics"] == []
    assert "params" not in data or data["params"] == []
    # Exactly at the limits is fine.
    r = post(base_url, f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics[:1000]})
    assert r.status_code == 200, r.text
    r = post(base_url, f"{API}/runs/log-batch", {"run_id": run_id, "params": params[:100]})
    assert r.status_code == 200, r.text


def test_log_batch_over_one_megabyte_is_all_or_nothing(base_url, run_id):
    # Within the count limits (100 tags + 900 metrics = 1000 entities) but ~1.1 MB of JSON. MLflow's
    # documented 1 MB cap is dead code in mlflow server (it measures the parsed dict), which stores
    # the batch; a server enforcing the cap must answer 400 and store nothing.
    ts = now_ms()
    tags = [{"key": f"t{i}", "value": "v" * 8000} for i in range(100)]
    metrics = [{"key": "k" * 246 + f"{i:04d}", "value": 1.0, "timestamp": ts, "step": 0} for i in range(900)]
    body = {"run_id": run_id, "tags": tags, "metrics": metrics}
    assert len(json.dumps(body)) > 1_000_000
    r = post(base_url, f"{API}/runs/log-batch", body)
    data = api(base_url, "GET", f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    if r.status_code == 200:
        assert len(data["metrics"]) == 900
        assert len([t for t in data["tags"] if t["key"].startswith("t")]) == 100
    else:
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        assert "metrics" not in data


def test_duplicate_param_keys_in_one_batch(base_url, run_id):
    # MLflow rejects a batch naming a param twice, even with the same value.
    same = [{"key": "p", "value": "1"}, {"key": "p", "value": "1"}]
    r = post(base_url, f"{API}/runs/log-batch", {"run_id": run_id, "params": same})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    diff = [{"key": "q", "value": "1"}, {"key": "q", "value": "2"}]
    r = post(base_url, f"{API}/runs/log-batch", {"run_id": run_id, "params": diff})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


# ----------------------------------------------------------------------------- search endpoints
def test_runs_search_post_and_get(base_url, exp):
    ids = []
    for i in range(3):
        r = post(base_url, f"{API}/runs/create", {"experiment_id": exp, "start_time": 1000 + i})
        rid = r.json()["run"]["info"]["run_id"]
        post(base_url, f"{API}/runs/log-metric",
             {"run_id": rid, "key": "score", "value": float(i), "timestamp": 1, "step": 0})
        ids.append(rid)
    r = post(base_url, f"{API}/runs/search",
             {"experiment_ids": [exp], "filter": "metrics.score >= 1", "order_by": ["metrics.score DESC"],
              "max_results": 1, "run_view_type": "ACTIVE_ONLY"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["info"]["run_id"] for x in body["runs"]] == [ids[2]]
    token = body["next_page_token"]
    assert isinstance(token, str) and token
    r = post(base_url, f"{API}/runs/search",
             {"experiment_ids": [exp], "filter": "metrics.score >= 1", "order_by": ["metrics.score DESC"],
              "max_results": 1, "page_token": token})
    body = r.json()
    assert [x["info"]["run_id"] for x in body["runs"]] == [ids[1]]
    if "next_page_token" in body:  # a token may remain on an exactly-full page; it must lead nowhere
        r = post(base_url, f"{API}/runs/search",
                 {"experiment_ids": [exp], "filter": "metrics.score >= 1", "max_results": 1,
                  "order_by": ["metrics.score DESC"], "page_token": body["next_page_token"]})
        assert r.json().get("runs", []) == [] and "next_page_token" not in r.json()
    # No hits: an empty object (empty lists are omitted).
    r = post(base_url, f"{API}/runs/search", {"experiment_ids": [exp], "filter": "metrics.score > 100"})
    assert r.status_code == 200 and r.json() == {}
    # runs/search is POST-only in MLflow.
    r = api(base_url, "GET", f"{API}/runs/search", params={"experiment_ids": exp})
    assert r.status_code == 405


def test_bad_page_token_is_400(base_url, exp):
    r = post(base_url, f"{API}/runs/search", {"experiment_ids": [exp], "page_token": "%%%not-a-token"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_experiments_search_get_and_post(base_url, unique_name):
    prefix = unique_name()
    ids = [post(base_url, f"{API}/experiments/create", {"name": f"{prefix}-{i}"}).json()["experiment_id"]
           for i in range(3)]
    r = api(base_url, "GET", f"{API}/experiments/search",
            params={"filter": f"name LIKE '{prefix}-%'", "max_results": 2, "order_by": "name ASC"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [e["experiment_id"] for e in body["experiments"]] == ids[:2]
    assert body["next_page_token"]
    r = api(base_url, "GET", f"{API}/experiments/search",
            params={"filter": f"name LIKE '{prefix}-%'", "max_results": 2, "order_by": "name ASC",
                    "page_token": body["next_page_token"]})
    assert [e["experiment_id"] for e in r.json()["experiments"]] == ids[2:]
    assert "next_page_token" not in r.json()
    r = post(base_url, f"{API}/experiments/search",
             {"filter": f"name LIKE '{prefix}-%'", "max_results": 10, "view_type": "ALL",
              "order_by": ["name DESC"]})
    assert [e["experiment_id"] for e in r.json()["experiments"]] == ids[::-1]


def test_get_history_bulk_interval(base_url, exp):
    runs = []
    for _ in range(2):
        rid = post(base_url, f"{API}/runs/create", {"experiment_id": exp}).json()["run"]["info"]["run_id"]
        metrics = [{"key": "loss", "value": s / 10, "timestamp": 1000 + s, "step": s} for s in range(10)]
        assert post(base_url, f"{API}/runs/log-batch", {"run_id": rid, "metrics": metrics}).status_code == 200
        runs.append(rid)
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        r = api(base_url, "GET", f"{prefix}/metrics/get-history-bulk-interval",
                params={"run_ids": runs, "metric_key": "loss", "max_results": 100})
        assert r.status_code == 200, r.text
        got = r.json()["metrics"]
        assert len(got) == 20
        for rid in runs:
            pts = [m for m in got if m["run_id"] == rid]
            assert [(m["step"], m["value"], m["key"]) for m in pts] == [
                (s, s / 10, "loss") for s in range(10)
            ]
            assert all(type(m["timestamp"]) is int for m in pts)
    # A step window.
    r = api(base_url, "GET", f"{API}/metrics/get-history-bulk-interval",
            params={"run_ids": runs[0], "metric_key": "loss", "start_step": 2, "end_step": 4,
                    "max_results": 100})
    assert [m["step"] for m in r.json()["metrics"]] == [2, 3, 4]
    # Sampling never returns more than max_results points per run and keeps the end points.
    r = api(base_url, "GET", f"{API}/metrics/get-history-bulk-interval",
            params={"run_ids": runs[0], "metric_key": "loss", "max_results": 5})
    steps = [m["step"] for m in r.json()["metrics"]]
    assert 2 <= len(steps) <= 6 and steps[0] == 0 and steps[-1] == 9 and steps == sorted(steps)
    # Validation.
    r = api(base_url, "GET", f"{API}/metrics/get-history-bulk-interval",
            params={"run_ids": runs[0], "metric_key": "loss", "start_step": 5, "end_step": 1})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api(base_url, "GET", f"{API}/metrics/get-history-bulk-interval", params={"run_ids": runs[0]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


# ----------------------------------------------------------------------------- auxiliary endpoints
def test_health(base_url):
    r = api(base_url, "GET", "/health")
    assert r.status_code == 200


def test_version_is_mlflow_style(base_url):
    r = api(base_url, "GET", "/version")
    assert r.status_code == 200
    v = Version(r.text.strip())
    assert v >= Version("3.4"), r.text


def test_server_info(base_url):
    r = api(base_url, "GET", "/api/3.0/mlflow/server-info")
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, dict)
    # The client uses single PUT uploads unless this says otherwise.
    assert body.get("multipart_uploads_enabled", False) is False


def test_trace_start_is_clear_json_not_5xx(base_url, exp):
    trace_info = {
        "trace_id": "tr-" + "a" * 32,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
        "request_time": "2026-01-01T00:00:00Z",
        "execution_duration": "0.100s",
        "state": "OK",
    }
    r = post(base_url, "/api/3.0/mlflow/traces", {"trace": {"trace_info": trace_info}})
    assert r.status_code < 500, r.text
    assert "json" in r.headers.get("Content-Type", ""), r.text[:200]
    body = r.json()
    if r.status_code == 200:  # implemented
        assert body["trace"]["trace_info"]["trace_id"] == trace_info["trace_id"]
    else:
        assert 400 <= r.status_code < 500
        assert body.get("error_code") and body.get("message")


def test_traced_function_still_returns(experiment_id):
    """With trace logging unsupported or failing, user code must still run and return normally."""
    import mlflow

    @mlflow.trace
    def add(a, b):
        return a + b

    t0 = time.monotonic()
    assert add(2, 3) == 5
    assert time.monotonic() - t0 < 20


# ----------------------------------------------------------------------------- artifacts over HTTP
def test_artifact_put_get_list(base_url, exp, run_id):
    base = f"{ART}/{exp}/{run_id}/artifacts"
    payload = bytes(range(256))
    r = api(base_url, "PUT", f"{base}/dir/data.bin", data=payload,
            headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    r = api(base_url, "PUT", f"{base}/top.txt", data=b"hello", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200

    r = api(base_url, "GET", f"{base}/dir/data.bin")
    assert r.status_code == 200 and r.content == payload
    assert "attachment" in r.headers.get("Content-Disposition", "")
    assert "data.bin" in r.headers.get("Content-Disposition", "")

    r = api(base_url, "GET", ART, params={"path": f"{exp}/{run_id}/artifacts"})
    assert r.status_code == 200
    files = sorted(r.json()["files"], key=lambda f: f["path"])
    assert files == [
        {"path": "dir", "is_dir": True},
        {"path": "top.txt", "is_dir": False, "file_size": 5},
    ]
    r = api(base_url, "GET", ART, params={"path": f"{exp}/{run_id}/artifacts/dir"})
    assert r.json()["files"] == [{"path": "data.bin", "is_dir": False, "file_size": 256}]
    # Listing a file or a missing directory gives {}.
    r = api(base_url, "GET", ART, params={"path": f"{exp}/{run_id}/artifacts/top.txt"})
    assert r.status_code == 200 and r.json() == {}
    r = api(base_url, "GET", ART, params={"path": f"{exp}/{run_id}/artifacts/nope"})
    assert r.status_code == 200 and r.json() == {}
    # A missing file is a JSON 404.
    assert_error(api(base_url, "GET", f"{base}/nope.txt"), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    "path",
    [
        "/api/2.0/mlflow-artifacts/artifacts/../../etc/passwd",
        "/api/2.0/mlflow-artifacts/artifacts/1/../../../etc/passwd",
        "/api/2.0/mlflow-artifacts/artifacts/1/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/api/2.0/mlflow-artifacts/artifacts/1/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/api/2.0/mlflow-artifacts/artifacts/%2Fetc%2Fpasswd",
        "/api/2.0/mlflow-artifacts/artifacts?path=../..",
        "/api/2.0/mlflow-artifacts/artifacts?path=%2e%2e%2F%2e%2e",
        "/api/2.0/mlflow-artifacts/artifacts?path=/etc",
        "/api/2.0/mlflow-artifacts/artifacts?path=1/../../..",
    ],
)
def test_artifact_path_traversal_get_is_400(base_url, path):
    status, headers, body = raw(base_url, "GET", path)
    assert status == 400, (status, body[:300])
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "rel",
    ["../../escape-{tag}.txt", "%2e%2e/%2e%2e/%2e%2e/escape-{tag}.txt", "%2Ftmp%2Fescape-{tag}.txt",
     "1/..%2F..%2F..%2Fescape-{tag}.txt"],
)
def test_artifact_path_traversal_put_is_400_and_writes_nothing(base_url, cairn_server, rel):
    tag = f"{time.time_ns()}"
    path = f"{ART}/" + rel.format(tag=tag)
    status, _, body = raw(base_url, "PUT", path, body=b"evil",
                          headers={"Content-Type": "application/octet-stream"})
    assert status == 400, (status, body[:300])
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    data_dir = cairn_server.data_dir
    for d in [data_dir, data_dir.parent, data_dir.parent.parent, data_dir / "artifacts",
              __import__("pathlib").Path("/tmp")]:
        assert not list(d.glob(f"escape-{tag}*")), f"file escaped into {d}"


def test_artifact_upload_into_model_and_trace_prefixes(base_url, exp):
    # The proxied store serves any path under the artifact root, not just run paths.
    p = f"{ART}/{exp}/models/m-{'b' * 32}/artifacts/MLmodel"
    assert api(base_url, "PUT", p, data=b"flavors: {}\n").status_code == 200
    r = api(base_url, "GET", p)
    assert r.status_code == 200 and r.content == b"flavors: {}\n"
