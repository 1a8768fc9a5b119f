//! Many clients at once: nothing lost, searches answer while writes go on.

use serde_json::json;

use crate::support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_clients_logging_into_one_run_lose_nothing() {
    let s = Server::start().await;
    let exp = s.create_experiment("concurrent").await;
    let run = s.create_run(&exp).await;
    const CLIENTS: i64 = 32;
    const EACH: i64 = 40;
    let writers = (0..CLIENTS).map(|c| {
        let http = reqwest::Client::new();
        let url = s.url("/api/2.0/mlflow/runs/log-metric");
        let run = run.clone();
        tokio::spawn(async move {
            for i in 0..EACH {
                let step = c * EACH + i;
                let body = json!({"run_id": run, "key": "loss", "value": step as f64, "timestamp": 1, "step": step});
                let r = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 200);
                if i % 10 == 0 {
                    let p = json!({"run_id": run, "key": format!("p{c}_{i}"), "value": "v"});
                    let r = http.post(url.replace("log-metric", "log-parameter")).json(&p).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                }
            }
        })
    });
    let writers: Vec<_> = writers.collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let http = reqwest::Client::new();
            let url = s.url("/api/2.0/mlflow/runs/search");
            let exp = exp.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    let r = http
                        .post(&url)
                        .json(&json!({"experiment_ids": [exp], "filter": "metrics.loss >= 0"}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200, "searches answer while writes go on");
                }
            })
        })
        .collect();
    for h in writers.into_iter().chain(readers) {
        h.await.unwrap();
    }
    let (st, hist) = s
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "loss")],
        )
        .await;
    assert_eq!(st, 200);
    let points = hist["metrics"].as_array().unwrap();
    assert_eq!(points.len() as i64, CLIENTS * EACH, "every point kept");
    let (_, body) = s.get("runs/get", &[("run_id", &run)]).await;
    assert_eq!(
        body["run"]["data"]["params"].as_array().unwrap().len() as i64,
        CLIENTS * EACH / 10
    );
    assert_eq!(
        body["run"]["data"]["metrics"][0]["step"],
        json!(CLIENTS * EACH - 1),
        "latest = largest step"
    );
}
