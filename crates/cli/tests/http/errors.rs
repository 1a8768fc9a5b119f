//! User errors: the right MLflow code and a 4xx, nothing written.

use serde_json::json;

use crate::support::{Server, assert_error};

#[tokio::test]
async fn missing_entities_are_404_resource_does_not_exist() {
    let s = Server::start().await;
    assert_error(
        &s.get("runs/get", &[("run_id", &"0".repeat(32))]).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &s.get("experiments/get", &[("experiment_id", "987")]).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &s.get("experiments/get-by-name", &[("experiment_name", "nope")])
            .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
}

#[tokio::test]
async fn invalid_requests_are_400_with_mlflow_codes() {
    let s = Server::start().await;
    let exp = s.create_experiment("errors").await;
    assert_error(
        &s.post("experiments/create", json!({"name": "errors"}))
            .await,
        400,
        "RESOURCE_ALREADY_EXISTS",
    );
    assert_error(
        &s.post("experiments/create", json!({})).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    let run = s.create_run(&exp).await;
    let bad_filter = s
        .post(
            "runs/search",
            json!({"experiment_ids": [exp], "filter": "metrics.x >>> 1"}),
        )
        .await;
    assert_error(&bad_filter, 400, "INVALID_PARAMETER_VALUE");
    assert_error(
        &s.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "../x", "value": 1, "timestamp": 1}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &s.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": "abc", "timestamp": 1}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &s.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "p", "value": "x".repeat(6001)}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let metrics: Vec<_> = (0..1001)
        .map(|i| json!({"key": "m", "value": 1, "timestamp": 1, "step": i}))
        .collect();
    assert_error(
        &s.post("runs/log-batch", json!({"run_id": run, "metrics": metrics}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &s.post(
            "runs/search",
            json!({"experiment_ids": [exp], "max_results": 50001}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &s.post(
            "runs/search",
            json!({"experiment_ids": [exp], "page_token": "%%%"}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test]
async fn params_are_immutable_and_a_rejected_batch_writes_nothing() {
    let s = Server::start().await;
    let exp = s.create_experiment("immutable").await;
    let run = s.create_run(&exp).await;
    assert_eq!(
        s.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.1"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        s.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.1"})
        )
        .await
        .0,
        200,
        "same value is fine"
    );
    let changed = s
        .post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.2"}),
        )
        .await;
    assert_error(&changed, 400, "INVALID_PARAMETER_VALUE");

    let batch = json!({"run_id": run,
        "metrics": [{"key": "acc", "value": 0.9, "timestamp": 1, "step": 0}],
        "params": [{"key": "new", "value": "1"}, {"key": "lr", "value": "0.3"}],
        "tags": [{"key": "t", "value": "v"}]});
    assert_error(
        &s.post("runs/log-batch", batch).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let (_, body) = s.get("runs/get", &[("run_id", &run)]).await;
    let data = &body["run"]["data"];
    assert!(
        data.get("metrics").is_none(),
        "no metric from the rejected batch: {data}"
    );
    assert_eq!(data["params"], json!([{"key": "lr", "value": "0.1"}]));
    assert!(
        !data["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "t")
    );
}

#[tokio::test]
async fn deleted_runs_reject_writes_until_restored() {
    let s = Server::start().await;
    let exp = s.create_experiment("deleted").await;
    let run = s.create_run(&exp).await;
    assert_eq!(s.post("runs/delete", json!({"run_id": run})).await.0, 200);
    let write = s
        .post(
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": 1, "timestamp": 1}),
        )
        .await;
    assert_error(&write, 400, "INVALID_PARAMETER_VALUE");
    assert!(write.1["message"].as_str().unwrap().contains("active"));
    assert_eq!(s.post("runs/restore", json!({"run_id": run})).await.0, 200);
    assert_eq!(
        s.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": 1, "timestamp": 1})
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn malformed_http_is_400_and_unknown_routes_404_in_mlflow_format() {
    let s = Server::start().await;
    let url = s.url("/api/2.0/mlflow/experiments/create");
    let no_ct = s.send(s.http.post(&url).body(r#"{"name":"x"}"#)).await;
    assert_error(&no_ct, 400, "INVALID_PARAMETER_VALUE");
    let bad_json = s
        .send(
            s.http
                .post(&url)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(bad_json.0, 400);
    assert!(bad_json.1["error_code"].is_string());
    let wrong_type = s.post("experiments/create", json!({"name": ["a"]})).await;
    assert_error(&wrong_type, 400, "INVALID_PARAMETER_VALUE");
    assert_error(
        &s.send(s.http.get(s.url("/api/2.0/mlflow/nope"))).await,
        404,
        "ENDPOINT_NOT_FOUND",
    );
    let trace = s
        .send(
            s.http
                .post(s.url("/api/3.0/mlflow/traces"))
                .json(&json!({"trace": {}})),
        )
        .await;
    assert!(
        (400..500).contains(&trace.0),
        "traces answer a 4xx, not {}",
        trace.0
    );
    assert!(trace.1["error_code"].is_string());
}

#[tokio::test]
async fn an_oversized_message_is_a_400_and_writes_nothing() {
    let s = Server::start().await;
    let exp = s.create_experiment("oversized").await;
    let run = s.create_run(&exp).await;
    let big = "x".repeat(3 * 1024 * 1024);
    let resp = s
        .post(
            "runs/set-tag",
            json!({"run_id": run, "key": "k", "value": big}),
        )
        .await;
    assert_error(&resp, 400, "INVALID_PARAMETER_VALUE");
    // The server answers before reading the whole body and closes that connection; read back on a new one.
    let fresh = reqwest::Client::new();
    let (_, body) = s
        .send(
            fresh
                .get(s.url("/api/2.0/mlflow/runs/get"))
                .query(&[("run_id", &run)]),
        )
        .await;
    assert!(
        !body["run"]["data"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "k")
    );
}
