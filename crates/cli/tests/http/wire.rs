//! Wire details the MLflow client depends on.

use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn ids_numbers_and_non_finite_metrics_are_encoded_like_mlflow() {
    let s = Server::start().await;
    let exp = s.create_experiment("wire").await;
    assert!(
        exp.parse::<i64>().unwrap() > 0,
        "experiment ids are decimal strings"
    );
    let run = s.create_run(&exp).await;
    assert_eq!(run.len(), 32);
    assert!(
        run.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    for (key, value) in [
        ("nan", json!("NaN")),
        ("pinf", json!("Infinity")),
        ("ninf", json!("-Infinity")),
        ("big", json!(1234567890123_i64)),
    ] {
        let (st, body) = s
            .post("runs/log-metric", json!({"run_id": run, "key": key, "value": value, "timestamp": 1_700_000_000_123_i64, "step": 3}))
            .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body, json!({}), "empty success is {{}}");
    }
    let (st, body) = s.get("runs/get", &[("run_id", &run)]).await;
    assert_eq!(st, 200);
    let info = &body["run"]["info"];
    assert_eq!(info["run_uuid"], info["run_id"]);
    assert_eq!(info["start_time"], json!(1000), "int64 is a JSON number");
    let metric = |k: &str| {
        body["run"]["data"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(metric("nan")["value"], json!("NaN"));
    assert_eq!(metric("pinf")["value"], json!(f64::MAX));
    assert_eq!(metric("ninf")["value"], json!(f64::MIN));
    assert_eq!(metric("big")["value"], json!(1234567890123.0));
    assert_eq!(metric("big")["timestamp"], json!(1_700_000_000_123_i64));
    assert_eq!(metric("big")["step"], json!(3));
}

#[tokio::test]
async fn both_prefixes_serve_the_api_and_get_takes_query_lists() {
    let s = Server::start().await;
    let exp = s.create_experiment("prefixes").await;
    let (st, body) = s
        .send(
            s.http
                .get(s.url("/ajax-api/2.0/mlflow/experiments/get"))
                .query(&[("experiment_id", &exp)]),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(body["experiment"]["name"], "prefixes");
    assert_eq!(
        body["experiment"]["artifact_location"],
        format!("mlflow-artifacts:/{exp}")
    );
    assert_eq!(body["experiment"]["lifecycle_stage"], "active");

    let a = s.create_run(&exp).await;
    let b = s.create_run(&exp).await;
    for run in [&a, &b] {
        let body = json!({"run_id": run, "key": "m", "value": 1.5, "timestamp": 1, "step": 2});
        assert_eq!(s.post("runs/log-metric", body).await.0, 200);
    }
    let (st, body) = s
        .get(
            "metrics/get-history-bulk-interval",
            &[("run_ids", &a), ("run_ids", &b), ("metric_key", "m")],
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        body["metrics"].as_array().unwrap().len(),
        2,
        "a repeated query key is a list: {body}"
    );
}

#[tokio::test]
async fn version_server_info_and_health() {
    let s = Server::start().await;
    let v = s
        .http
        .get(s.url("/version"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let parts: Vec<u32> = v.trim().split('.').map(|p| p.parse().unwrap()).collect();
    assert!(
        parts[0] >= 3 && (parts[0] > 3 || parts[1] >= 4),
        "an MLflow-style version ≥ 3.4: {v}"
    );
    let (st, info) = s
        .send(s.http.get(s.url("/api/3.0/mlflow/server-info")))
        .await;
    assert_eq!(st, 200);
    assert_eq!(info["multipart_uploads_enabled"], json!(false));
    let health = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "OK");
}

#[tokio::test]
async fn search_pages_cover_every_run_once_in_order() {
    let s = Server::start().await;
    let exp = s.create_experiment("paging").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let run = s.create_run(&exp).await;
        let (st, _) = s
            .post("runs/log-metric", json!({"run_id": run, "key": "score", "value": i as f64, "timestamp": 1, "step": 0}))
            .await;
        assert_eq!(st, 200);
        ids.push(run);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"experiment_ids": [exp], "max_results": 3, "order_by": ["metrics.score DESC"], "filter": "metrics.score >= 1"});
        if let Some(t) = &token {
            body["page_token"] = json!(t);
        }
        let (st, page) = s.post("runs/search", body).await;
        assert_eq!(st, 200, "{page}");
        for r in page["runs"].as_array().unwrap() {
            seen.push(r["info"]["run_id"].as_str().unwrap().to_string());
        }
        match page.get("next_page_token") {
            Some(t) => token = Some(t.as_str().unwrap().to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = ids[1..].iter().rev().cloned().collect();
    assert_eq!(seen, expected, "scores 6..1 in descending order, each once");
}
