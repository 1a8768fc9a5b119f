//! Several server processes on one metadata store: invariants hold across processes. Runs on whichever
//! engine the environment selects (two processes also share one SQLite file safely).

use std::collections::HashSet;

use serde_json::json;

use crate::support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_store_keep_every_invariant() {
    let a = Server::start().await;
    let b = a.sibling().await;

    // Unique experiment names: the same name created on both at once succeeds exactly once.
    let (ra, rb) = tokio::join!(
        a.post("experiments/create", json!({"name": "shared"})),
        b.post("experiments/create", json!({"name": "shared"}))
    );
    let codes: Vec<u16> = vec![ra.0, rb.0];
    assert_eq!(
        codes.iter().filter(|c| **c == 200).count(),
        1,
        "{ra:?} {rb:?}"
    );
    let loser = if ra.0 == 200 { &rb } else { &ra };
    assert_eq!(loser.1["error_code"], "RESOURCE_ALREADY_EXISTS");
    let exp = if ra.0 == 200 { ra.1 } else { rb.1 }["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();

    // No lost metrics: both processes write into the same run.
    let run = a.create_run(&exp).await;
    let write = |s: &Server, offset: i64| {
        let http = s.http.clone();
        let url = s.url("/api/2.0/mlflow/runs/log-batch");
        let run = run.clone();
        async move {
            for i in 0..40 {
                let metrics: Vec<_> = (0..5)
                    .map(|j| json!({"key": "loss", "value": 1.0, "timestamp": 1, "step": offset + i * 5 + j}))
                    .collect();
                let r = http
                    .post(&url)
                    .json(&json!({"run_id": run, "metrics": metrics}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }
    };
    tokio::join!(write(&a, 0), write(&b, 10_000));
    let (_, hist) = b
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "loss")],
        )
        .await;
    assert_eq!(hist["metrics"].as_array().unwrap().len(), 400);
    let (_, got) = a.get("runs/get", &[("run_id", &run)]).await;
    assert_eq!(
        got["run"]["data"]["metrics"][0]["step"],
        json!(10_199),
        "latest = largest step"
    );

    // Immutable params: one value wins, the other process is told no.
    let (pa, pb) = tokio::join!(
        a.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.1"})
        ),
        b.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.2"})
        )
    );
    assert_eq!(
        [pa.0, pb.0].iter().filter(|c| **c == 200).count(),
        1,
        "{pa:?} {pb:?}"
    );
    let winner = if pa.0 == 200 { "0.1" } else { "0.2" };
    let (_, got) = b.get("runs/get", &[("run_id", &run)]).await;
    assert_eq!(
        got["run"]["data"]["params"],
        json!([{"key": "lr", "value": winner}])
    );

    // Consistent pagination: pages fetched alternately from both servers cover every run once.
    let mut created: HashSet<String> = HashSet::from([run.clone()]);
    for i in 0..24 {
        let s = if i % 2 == 0 { &a } else { &b };
        created.insert(s.create_run(&exp).await);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for page in 0.. {
        let s = if page % 2 == 0 { &a } else { &b };
        let mut body = json!({"experiment_ids": [exp], "max_results": 7});
        if let Some(t) = &token {
            body["page_token"] = json!(t);
        }
        let (st, resp) = s.post("runs/search", body).await;
        assert_eq!(st, 200, "{resp}");
        seen.extend(
            resp["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["info"]["run_id"].as_str().unwrap().to_string()),
        );
        match resp.get("next_page_token") {
            Some(t) => token = Some(t.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), created.len(), "no run twice");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), created);
}
