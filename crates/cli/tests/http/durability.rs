//! Acknowledged writes survive `kill -9`.

use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut s = Server::start().await;
    let exp = s.create_experiment("durable").await;
    let run = s.create_run(&exp).await;
    for step in 0..50 {
        let (st, _) = s
            .post("runs/log-metric", json!({"run_id": run, "key": "loss", "value": step as f64, "timestamp": 5, "step": step}))
            .await;
        assert_eq!(st, 200);
    }
    assert_eq!(
        s.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.01"})
        )
        .await
        .0,
        200
    );
    let put = s
        .http
        .put(s.url(&format!(
            "/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/w.bin"
        )))
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    s.kill9();
    let s2 = s.sibling().await;
    let (st, hist) = s2
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "loss")],
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(hist["metrics"].as_array().unwrap().len(), 50);
    let (_, body) = s2.get("runs/get", &[("run_id", &run)]).await;
    assert_eq!(
        body["run"]["data"]["params"],
        json!([{"key": "lr", "value": "0.01"}])
    );
    assert_eq!(body["run"]["data"]["metrics"][0]["value"], json!(49.0));
    let got = s2
        .http
        .get(s2.url(&format!(
            "/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/w.bin"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().len(), 4096);
    drop(s);
}
