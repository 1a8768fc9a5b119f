//! Pipelines on the native API: snapshot objects checked against their digest, registration (new
//! version only when the snapshot changed), files read back byte for byte, pipeline runs started and
//! finished once, newest first with pages, every write on the change log, and all of it surviving
//! `kill -9`.

use serde_json::{Value, json};

use crate::support::{Server, assert_error};

const API: &str = "/api/cairn/v1";

fn digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

async fn call(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.http.request(method, s.url(&format!("{API}{path}")));
    if let Some(b) = body {
        req = req.json(&b);
    }
    s.send(req).await
}

async fn put_object(s: &Server, digest: &str, bytes: &[u8]) -> (u16, Value) {
    s.send(
        s.http
            .put(s.url(&format!("{API}/pipelines/objects/{digest}")))
            .body(bytes.to_vec()),
    )
    .await
}

/// A two-file snapshot body, with its objects uploaded.
async fn snapshot(s: &Server, train: &str) -> Value {
    let yaml = b"stages:\n  train:\n    cmd: python train.py\n";
    let mut files = Vec::new();
    for (path, bytes) in [
        ("cairn.yaml", &yaml[..]),
        ("src/train.py", train.as_bytes()),
    ] {
        let d = digest(bytes);
        let (st, body) = put_object(s, &d, bytes).await;
        assert_eq!(st, 200, "{body}");
        files.push(json!({"path": path, "digest": d, "size": bytes.len()}));
    }
    json!({"file": "cairn.yaml", "files": files, "triggers": {"nightly": {"kind": "cron", "cron": "0 3 * * *"}}})
}

#[tokio::test]
async fn snapshots_are_content_addressed_and_versioned() {
    let s = Server::start().await;
    let train = "print('v1')\n";
    let d = digest(train.as_bytes());
    let (st, body) = call(
        &s,
        reqwest::Method::POST,
        "/pipelines/objects/missing",
        Some(json!({"digests": [d]})),
    )
    .await;
    assert_eq!((st, body), (200, json!({"missing": [d]})));
    // Bytes that hash to another name are refused, and nothing is stored.
    assert_error(
        &put_object(&s, &d, b"something else").await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &put_object(&s, "not-a-digest", b"x").await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let (_, body) = call(
        &s,
        reqwest::Method::POST,
        "/pipelines/objects/missing",
        Some(json!({"digests": [d]})),
    )
    .await;
    assert_eq!(body["missing"], json!([d]));

    // Registering before the objects are there names what is missing.
    let early =
        json!({"file": "cairn.yaml", "files": [{"path": "cairn.yaml", "digest": d, "size": 1}]});
    let resp = call(&s, reqwest::Method::PUT, "/pipelines/churn", Some(early)).await;
    assert_error(&resp, 400, "INVALID_PARAMETER_VALUE");
    assert!(
        resp.1["message"].as_str().unwrap().contains("not uploaded"),
        "{}",
        resp.1
    );

    let body = snapshot(&s, train).await;
    let (st, r) = call(
        &s,
        reqwest::Method::PUT,
        "/pipelines/churn",
        Some(body.clone()),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["created"].clone(), r["pipeline"]["version"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(r["pipeline"]["triggers"]["nightly"]["cron"], "0 3 * * *");
    // The same snapshot again: the same version, nothing written.
    let (_, again) = call(&s, reqwest::Method::PUT, "/pipelines/churn", Some(body)).await;
    assert_eq!(
        (
            again["created"].clone(),
            again["pipeline"]["version"].clone()
        ),
        (json!(false), json!(1))
    );
    assert_eq!(again["pipeline"]["digest"], r["pipeline"]["digest"]);
    // A changed file: version 2; version 1 stays readable, file by file.
    let (_, v2) = call(
        &s,
        reqwest::Method::PUT,
        "/pipelines/churn",
        Some(snapshot(&s, "print('v2')\n").await),
    )
    .await;
    assert_eq!(v2["pipeline"]["version"], 2);
    for (version, want) in [("1", "print('v1')\n"), ("2", "print('v2')\n")] {
        let resp = s
            .http
            .get(s.url(&format!("{API}/pipelines/churn/files/src/train.py")))
            .query(&[("version", version)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), want);
    }
    let (_, list) = call(&s, reqwest::Method::GET, "/pipelines", None).await;
    assert_eq!(list["pipelines"].as_array().unwrap().len(), 1);
    assert_eq!(list["pipelines"][0]["version"], 2);
    assert_error(
        &call(&s, reqwest::Method::GET, "/pipelines/nope", None).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &call(&s, reqwest::Method::GET, "/pipelines/churn?version=9", None).await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &call(
            &s,
            reqwest::Method::GET,
            "/pipelines/churn/files/nope.py",
            None,
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );

    // Paths that would leave the project, duplicates, a pipeline file not in the list, bad names.
    for bad in [
        json!({"file": "cairn.yaml", "files": [{"path": "../etc/passwd", "digest": d, "size": 1}, {"path": "cairn.yaml", "digest": d, "size": 1}]}),
        json!({"file": "cairn.yaml", "files": [{"path": "/abs", "digest": d, "size": 1}]}),
        json!({"file": "cairn.yaml", "files": [{"path": "a.py", "digest": d, "size": 1}]}),
        json!({"file": "cairn.yaml", "files": [], "triggers": []}),
        json!({"files": []}),
    ] {
        assert_error(
            &call(&s, reqwest::Method::PUT, "/pipelines/churn", Some(bad)).await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    assert_error(
        &call(
            &s,
            reqwest::Method::PUT,
            "/pipelines/bad%20name",
            Some(snapshot(&s, train).await),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let (_, list) = call(&s, reqwest::Method::GET, "/pipelines", None).await;
    assert_eq!(
        list["pipelines"][0]["version"], 2,
        "a refused registration wrote nothing"
    );
}

#[tokio::test]
async fn pipeline_runs_start_and_finish_once_on_the_change_log() {
    let mut s = Server::start().await;
    let exp = s.create_experiment("pipelines").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let run = s.create_run(&exp).await;
        let dag =
            json!([{"name": "prepare", "needs": []}, {"name": "train", "needs": ["prepare"]}]);
        let (st, r) = call(
            &s,
            reqwest::Method::POST,
            "/pipeline-runs",
            Some(json!({"run_id": run, "pipeline": "churn", "experiment_id": exp, "dag": dag, "executor": "local"})),
        )
        .await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(r["pipeline_run"]["status"], "running");
        assert_eq!(r["pipeline_run"]["cause"], json!({"kind": "manual"}));
        if i == 0 {
            let dup = call(
                &s,
                reqwest::Method::POST,
                "/pipeline-runs",
                Some(json!({"run_id": run, "pipeline": "churn", "experiment_id": exp})),
            )
            .await;
            assert_error(&dup, 400, "RESOURCE_ALREADY_EXISTS");
        }
        ids.push(run);
    }
    let report = json!({"pipeline_run_id": ids[0], "stages": [{"name": "train", "status": "ran"}], "gates": [], "promotion": null});
    let path = format!("/pipeline-runs/{}/finish", ids[0]);
    assert_error(
        &call(
            &s,
            reqwest::Method::POST,
            &path,
            Some(json!({"status": "running"})),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let (st, r) = call(
        &s,
        reqwest::Method::POST,
        &path,
        Some(json!({"status": "succeeded", "exit_code": 0, "report": report})),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (
            r["pipeline_run"]["status"].clone(),
            r["pipeline_run"]["report"]["stages"][0]["status"].clone()
        ),
        (json!("succeeded"), json!("ran"))
    );
    assert_error(
        &call(
            &s,
            reqwest::Method::POST,
            &path,
            Some(json!({"status": "failed"})),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &call(
            &s,
            reqwest::Method::POST,
            "/pipeline-runs/nope/finish",
            Some(json!({"status": "failed"})),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );

    // Newest first, in pages.
    let (_, page1) = call(
        &s,
        reqwest::Method::GET,
        "/pipeline-runs?pipeline=churn&max_results=2",
        None,
    )
    .await;
    let got: Vec<&str> = page1["pipeline_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let token = page1["next_page_token"].as_str().unwrap();
    let (_, page2) = call(
        &s,
        reqwest::Method::GET,
        &format!("/pipeline-runs?pipeline=churn&max_results=2&page_token={token}"),
        None,
    )
    .await;
    assert_eq!(page2["pipeline_runs"][0]["run_id"], json!(ids[0]));
    assert_error(
        &call(
            &s,
            reqwest::Method::GET,
            "/pipeline-runs?max_results=0",
            None,
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    // The change log has every write, in order, with the pipeline as subject.
    let (_, log) = call(&s, reqwest::Method::GET, "/events", None).await;
    let kinds: Vec<(String, String)> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["topic"] == "pipeline")
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["detail"]["run_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("run_started".to_owned(), ids[0].clone()),
            ("run_started".to_owned(), ids[1].clone()),
            ("run_started".to_owned(), ids[2].clone()),
            ("run_finished".to_owned(), ids[0].clone()),
        ]
    );

    // Acknowledged writes survive kill -9.
    s.kill9();
    let s2 = s.sibling().await;
    let (st, r) = call(
        &s2,
        reqwest::Method::GET,
        &format!("/pipeline-runs/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["pipeline_run"]["exit_code"], 0);
    assert_eq!(r["pipeline_run"]["dag"][1]["needs"], json!(["prepare"]));
}

#[tokio::test]
async fn the_shared_cache_keeps_entries_and_serves_objects() {
    let s = Server::start().await;
    let bytes = b"model weights";
    let d = digest(bytes);
    let key = digest(b"a stage key");
    // Nothing yet: 404s in the API's format.
    assert_error(
        &call(
            &s,
            reqwest::Method::GET,
            &format!("/pipeline-cache/{key}"),
            None,
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &call(
            &s,
            reqwest::Method::GET,
            &format!("/pipelines/objects/{d}"),
            None,
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_eq!(put_object(&s, &d, bytes).await.0, 200);
    let got = s
        .http
        .get(s.url(&format!("{API}/pipelines/objects/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes);
    let entry =
        json!({"key": key, "outs": {"model.bin": {"kind": "file", "hash": d}}, "created_ms": 1});
    assert_eq!(
        call(
            &s,
            reqwest::Method::PUT,
            &format!("/pipeline-cache/{key}"),
            Some(entry.clone())
        )
        .await
        .0,
        200
    );
    let (st, back) = call(
        &s,
        reqwest::Method::GET,
        &format!("/pipeline-cache/{key}"),
        None,
    )
    .await;
    assert_eq!((st, back), (200, entry));
    // Keys are digests; entries are JSON objects.
    assert_error(
        &call(
            &s,
            reqwest::Method::PUT,
            "/pipeline-cache/abc",
            Some(json!({})),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &call(
            &s,
            reqwest::Method::PUT,
            &format!("/pipeline-cache/{key}"),
            Some(json!([1])),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &call(&s, reqwest::Method::GET, "/pipelines/objects/XYZ", None).await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}
