//! Values a database cannot or must not hold — a NUL character, an over-long string — and uploads whose
//! body never arrives whole are the client's errors: a 4xx on SQLite and PostgreSQL alike, nothing stored,
//! and no 5xx in the server's log (the MLflow client retries a 5xx for minutes).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, assert_error};

const NUL: &str = "a\u{0}b";

/// A 400 INVALID_PARAMETER_VALUE whose message names the NUL character.
fn assert_nul_refused(resp: &(u16, Value)) {
    assert_error(resp, 400, "INVALID_PARAMETER_VALUE");
    let message = resp.1["message"].as_str().unwrap();
    assert!(message.contains("NUL"), "{message}");
}

/// No request failed on the server's side.
fn assert_no_server_error(s: &Server) {
    let log = s.log();
    for sign in [
        "request failed",
        "response failed",
        "INTERNAL_ERROR",
        "status=500",
    ] {
        assert!(
            !log.contains(sign),
            "the server log shows a 5xx ({sign}):\n{log}"
        );
    }
}

async fn create_model(s: &Server, name: &str) {
    let r = s
        .post("registered-models/create", json!({"name": name}))
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
}

#[tokio::test]
async fn nul_in_tracking_values_is_400_and_stores_nothing() {
    let s = Server::start().await;

    // An experiment name, and an experiment tag.
    assert_nul_refused(&s.post("experiments/create", json!({"name": NUL})).await);
    assert_nul_refused(
        &s.post(
            "experiments/create",
            json!({"name": "tagged", "tags": [{"key": "k", "value": NUL}]}),
        )
        .await,
    );
    assert_nul_refused(
        &s.get("experiments/get-by-name", &[("experiment_name", NUL)])
            .await,
    );
    let (st, found) = s
        .post("experiments/search", json!({"max_results": 1000}))
        .await;
    assert_eq!(st, 200, "{found}");
    let names: Vec<&str> = found["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Default"], "nothing was created");

    let exp = s.create_experiment("data-errors").await;
    assert_nul_refused(
        &s.post(
            "experiments/set-experiment-tag",
            json!({"experiment_id": exp, "key": "k", "value": NUL}),
        )
        .await,
    );
    assert_nul_refused(
        &s.post(
            "experiments/update",
            json!({"experiment_id": exp, "new_name": NUL}),
        )
        .await,
    );
    assert_nul_refused(
        &s.post(
            "runs/create",
            json!({"experiment_id": exp, "run_name": NUL}),
        )
        .await,
    );

    // A run's tag, param, metric key, name and dataset.
    let run = s.create_run(&exp).await;
    assert_nul_refused(
        &s.post(
            "runs/set-tag",
            json!({"run_id": run, "key": "k", "value": NUL}),
        )
        .await,
    );
    assert_nul_refused(
        &s.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "p", "value": NUL}),
        )
        .await,
    );
    let metric = s
        .post(
            "runs/log-metric",
            json!({"run_id": run, "key": NUL, "value": 1.0, "timestamp": 1, "step": 0}),
        )
        .await;
    assert_error(&metric, 400, "INVALID_PARAMETER_VALUE");
    assert_nul_refused(
        &s.post(
            "runs/log-batch",
            json!({"run_id": run, "params": [{"key": "ok", "value": "1"}],
                   "tags": [{"key": "t", "value": NUL}]}),
        )
        .await,
    );
    assert_nul_refused(
        &s.post("runs/update", json!({"run_id": run, "run_name": NUL}))
            .await,
    );
    assert_nul_refused(
        &s.post(
            "runs/log-inputs",
            json!({"run_id": run, "datasets": [{"tags": [], "dataset": {
                "name": "d", "digest": "abc", "source_type": "local", "source": NUL}}]}),
        )
        .await,
    );
    assert_nul_refused(
        &s.post("logged-models", json!({"experiment_id": exp, "name": NUL}))
            .await,
    );

    let (st, got) = s.get("runs/get", &[("run_id", &run)]).await;
    assert_eq!(st, 200, "{got}");
    let data = &got["run"]["data"];
    assert!(data.get("params").is_none(), "no param stored: {data}");
    assert!(data.get("metrics").is_none(), "no metric stored: {data}");
    let tags: Vec<&str> = data["tags"]
        .as_array()
        .map(|t| t.iter().map(|t| t["key"].as_str().unwrap()).collect())
        .unwrap_or_default();
    assert!(!tags.contains(&"k") && !tags.contains(&"t"), "{data}");
    assert_ne!(got["run"]["info"]["run_name"], NUL);
    assert!(
        got["run"]
            .get("inputs")
            .is_none_or(|i| i.get("dataset_inputs").is_none()),
        "{got}"
    );

    // Reads and deletes that carry a NUL reach the database unchecked on some paths; whatever the
    // engine says, it is not a 5xx.
    for resp in [
        s.post("runs/delete-tag", json!({"run_id": run, "key": NUL}))
            .await,
        s.get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", NUL)],
        )
        .await,
        s.post(
            "experiments/delete-experiment-tag",
            json!({"experiment_id": exp, "key": NUL}),
        )
        .await,
    ] {
        assert!(resp.0 < 500, "{resp:?}");
    }
    assert_no_server_error(&s);
}

#[tokio::test]
async fn nul_in_registry_values_is_400_and_stores_nothing() {
    let s = Server::start().await;
    assert_nul_refused(
        &s.post("registered-models/create", json!({"name": NUL}))
            .await,
    );
    assert_nul_refused(
        &s.post(
            "registered-models/create",
            json!({"name": "described", "description": NUL}),
        )
        .await,
    );
    assert_nul_refused(
        &s.post(
            "registered-models/create",
            json!({"name": "tagged", "tags": [{"key": "k", "value": NUL}]}),
        )
        .await,
    );
    for name in ["described", "tagged"] {
        let r = s.get("registered-models/get", &[("name", name)]).await;
        assert_error(&r, 404, "RESOURCE_DOES_NOT_EXIST");
    }

    create_model(&s, "m").await;
    assert_nul_refused(
        &s.send(
            s.http
                .patch(s.url("/api/2.0/mlflow/registered-models/update"))
                .json(&json!({"name": "m", "description": NUL})),
        )
        .await,
    );
    assert_nul_refused(
        &s.post(
            "registered-models/set-tag",
            json!({"name": "m", "key": "k", "value": NUL}),
        )
        .await,
    );
    assert_nul_refused(
        &s.post(
            "registered-models/rename",
            json!({"name": "m", "new_name": NUL}),
        )
        .await,
    );
    let alias = s
        .post(
            "registered-models/alias",
            json!({"name": "m", "alias": NUL, "version": "1"}),
        )
        .await;
    assert_error(&alias, 400, "INVALID_PARAMETER_VALUE");
    assert_nul_refused(
        &s.post(
            "model-versions/create",
            json!({"name": "m", "source": format!("/tmp/{NUL}")}),
        )
        .await,
    );
    assert_nul_refused(
        &s.post(
            "model-versions/create",
            json!({"name": "m", "source": "/tmp/x", "description": NUL}),
        )
        .await,
    );

    let (st, got) = s.get("registered-models/get", &[("name", "m")]).await;
    assert_eq!(st, 200, "{got}");
    let model = &got["registered_model"];
    assert!(model.get("description").is_none(), "{model}");
    assert!(model.get("tags").is_none(), "{model}");
    assert!(model.get("latest_versions").is_none(), "{model}");
    assert_no_server_error(&s);
}

#[tokio::test]
async fn nul_in_a_deployment_body_is_400_in_the_native_format() {
    let s = Server::start().await;
    for body in [
        json!({"name": NUL, "model": "models:/m@champion"}),
        json!({"name": "d", "model": format!("models:/{NUL}@champion")}),
        json!({"name": "d", "model": format!("models:/m@{NUL}")}),
    ] {
        let resp = s
            .send(s.http.post(s.url("/api/cairn/v1/deployments")).json(&body))
            .await;
        assert_eq!(resp.0, 400, "{body} -> {}", resp.1);
        assert_eq!(
            resp.1["error_code"], "INVALID_PARAMETER_VALUE",
            "{}",
            resp.1
        );
    }
    let (st, listed) = s.send(s.http.get(s.url("/api/cairn/v1/deployments"))).await;
    assert_eq!((st, listed), (200, json!({"deployments": []})));
    assert_no_server_error(&s);
}

#[tokio::test]
async fn over_long_values_are_400() {
    let s = Server::start().await;
    let long = |n: usize| "x".repeat(n);
    let exp = s.create_experiment("long").await;
    let run = s.create_run(&exp).await;
    for (path, body) in [
        ("experiments/create", json!({"name": long(501)})),
        (
            "runs/log-parameter",
            json!({"run_id": run, "key": "p", "value": long(6001)}),
        ),
        (
            "runs/set-tag",
            json!({"run_id": run, "key": "t", "value": long(8001)}),
        ),
        (
            "runs/log-metric",
            json!({"run_id": run, "key": long(251), "value": 1.0, "timestamp": 1, "step": 0}),
        ),
        (
            "runs/update",
            json!({"run_id": run, "run_name": long(8001)}),
        ),
        ("registered-models/create", json!({"name": long(257)})),
        (
            "registered-models/create",
            json!({"name": "m", "tags": [{"key": "k", "value": long(5001)}]}),
        ),
    ] {
        let resp = s.post(path, body).await;
        assert_error(&resp, 400, "INVALID_PARAMETER_VALUE");
    }
    let (st, got) = s.get("runs/get", &[("run_id", &run)]).await;
    assert_eq!(st, 200);
    assert!(got["run"]["data"].get("params").is_none(), "{got}");
    let r = s.get("registered-models/get", &[("name", "m")]).await;
    assert_error(&r, 404, "RESOURCE_DOES_NOT_EXIST");
    assert_no_server_error(&s);
}

fn art(s: &Server, path: &str) -> String {
    s.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{path}"))
}

/// Sends a PUT announcing `announced` bytes, sends `sent` of them, and closes the connection.
async fn aborted_put(s: &Server, path: &str, announced: usize, sent: usize) {
    use tokio::io::AsyncWriteExt;
    let addr = s.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /api/2.0/mlflow-artifacts/artifacts/{path} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {announced}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut left = sent;
    while left > 0 {
        let n = left.min(chunk.len());
        stream.write_all(&chunk[..n]).await.unwrap();
        left -= n;
    }
    stream.flush().await.unwrap();
    drop(stream);
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn an_aborted_upload_is_not_a_5xx_and_leaves_no_file() {
    let s = Server::start().await;
    // A small body (buffered, one put) and one past the single-put limit (a multipart upload).
    aborted_put(&s, "1/abc/artifacts/small.bin", 1000, 10).await;
    aborted_put(&s, "1/abc/artifacts/big.bin", 20 << 20, 9 << 20).await;
    // One whole upload beside them, so the folder exists and is listed.
    let ok = s
        .http
        .put(art(&s, "1/abc/artifacts/whole.bin"))
        .body(vec![1u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let artifacts_dir = s.data_dir.join("artifacts");
    let local = artifacts_dir.exists();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (st, listed) = s
            .send(
                s.http
                    .get(s.url("/api/2.0/mlflow-artifacts/artifacts"))
                    .query(&[("path", "1/abc/artifacts")]),
            )
            .await;
        assert_eq!(st, 200, "{listed}");
        let names: Vec<&str> = listed["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        // Nothing half-written on disk either (a multipart upload stages parts beside the file).
        let stray: Vec<_> = if local {
            files_under(&artifacts_dir)
                .into_iter()
                .filter(|p| !p.ends_with("whole.bin"))
                .collect()
        } else {
            vec![]
        };
        if names == ["whole.bin"] && stray.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "listed {names:?}, stray files {stray:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in ["1/abc/artifacts/small.bin", "1/abc/artifacts/big.bin"] {
        let got = s.http.get(art(&s, path)).send().await.unwrap();
        assert_eq!(got.status(), 404, "{path}");
    }
    assert_no_server_error(&s);
}
