//! The model registry over HTTP: MLflow's wire shapes and error codes, the actor of basic auth in the
//! change history, the native API and its OpenAPI document, the event feed, registrations surviving
//! `kill -9`, and concurrent registration.

use serde_json::{Value, json};

use crate::support::{Server, assert_error};

async fn registered(s: &Server, name: &str, versions: usize) {
    let (st, body) = s
        .post("registered-models/create", json!({"name": name}))
        .await;
    assert_eq!(st, 200, "{body}");
    for i in 0..versions {
        let (st, body) = s
            .post(
                "model-versions/create",
                json!({"name": name, "source": format!("s3://bucket/{name}/{i}")}),
            )
            .await;
        assert_eq!(st, 200, "{body}");
    }
}

async fn history(s: &Server, name: &str, query: &[(&str, &str)]) -> (u16, Value) {
    s.send(
        s.http
            .get(s.url(&format!("/api/cairn/v1/registry/models/{name}/history")))
            .query(query),
    )
    .await
}

#[tokio::test]
async fn wire_shapes_follow_mlflow() {
    let s = Server::start().await;
    registered(&s, "shapes", 2).await;
    assert_eq!(
        s.post(
            "registered-models/alias",
            json!({"name": "shapes", "alias": "champion", "version": "2"})
        )
        .await,
        (200, json!({}))
    );
    let (st, m) = s.get("registered-models/get", &[("name", "shapes")]).await;
    assert_eq!(st, 200);
    let m = &m["registered_model"];
    assert_eq!(m["aliases"], json!([{"alias": "champion", "version": "2"}]));
    assert_eq!(m["latest_versions"][0]["version"], "2");
    assert!(m["creation_timestamp"].is_i64());
    let (_, v) = s
        .get(
            "registered-models/alias",
            &[("name", "shapes"), ("alias", "champion")],
        )
        .await;
    let v = &v["model_version"];
    assert_eq!(
        (
            &v["version"],
            &v["status"],
            &v["current_stage"],
            &v["aliases"]
        ),
        (
            &json!("2"),
            &json!("READY"),
            &json!("None"),
            &json!(["champion"])
        )
    );
    let (_, uri) = s
        .get(
            "model-versions/get-download-uri",
            &[("name", "shapes"), ("version", "1")],
        )
        .await;
    assert_eq!(uri, json!({"artifact_uri": "s3://bucket/shapes/0"}));
    // The camelCase spelling and a numeric version are accepted as MLflow accepts them.
    let (st, body) = s
        .post(
            "model-versions/set-tag",
            json!({"name": "shapes", "version": 1, "key": "k", "value": "v"}),
        )
        .await;
    assert_eq!((st, body), (200, json!({})));
    let (_, latest) = s
        .post(
            "registered-models/get-latest-versions",
            json!({"name": "shapes", "stages": ["none"]}),
        )
        .await;
    assert_eq!(latest["model_versions"][0]["version"], "2");
}

#[tokio::test]
async fn user_errors_are_4xx_in_mlflow_format() {
    let s = Server::start().await;
    registered(&s, "errs", 1).await;
    for (resp, status, code) in [
        (s.post("registered-models/create", json!({})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("registered-models/create", json!({"name": "errs"})).await, 400, "RESOURCE_ALREADY_EXISTS"),
        (s.post("registered-models/create", json!({"name": "a/b"})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.get("registered-models/get", &[("name", "nope")]).await, 404, "RESOURCE_DOES_NOT_EXIST"),
        (s.get("model-versions/get", &[("name", "errs"), ("version", "x")]).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.get("model-versions/get", &[("name", "errs"), ("version", "9")]).await, 404, "RESOURCE_DOES_NOT_EXIST"),
        (s.get("registered-models/alias", &[("name", "errs"), ("alias", "ghost")]).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("registered-models/alias", json!({"name": "errs", "alias": "latest", "version": "1"})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("registered-models/alias", json!({"name": "errs", "alias": "v2", "version": "1"})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("registered-models/alias", json!({"name": "errs", "alias": "ok", "version": "7"})).await, 404, "RESOURCE_DOES_NOT_EXIST"),
        (s.get("model-versions/search", &[("filter", "stage = 'x'")]).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.get("model-versions/search", &[("order_by", "name"), ("order_by", "name DESC")]).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.get("registered-models/search", &[("max_results", "1001")]).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.get("registered-models/search", &[("page_token", "%%%")]).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("model-versions/transition-stage", json!({"name": "errs", "version": "1", "stage": "Archived", "archive_existing_versions": true})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("model-versions/transition-stage", json!({"name": "errs", "version": "1", "stage": "Live"})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("model-versions/create", json!({"name": "errs", "source": "runs:/abc/../../etc"})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("model-versions/create", json!({"name": "errs", "source": "/etc/passwd"})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("model-versions/create", json!({"name": "errs", "source": "models:/m-0123456789abcdef0123456789abcdef", "model_id": "m-0123456789abcdef0123456789abcdef"})).await, 400, "INVALID_PARAMETER_VALUE"),
        (s.post("model-versions/create", json!({"name": "nope", "source": "s3://b/x"})).await, 404, "RESOURCE_DOES_NOT_EXIST"),
        (history(&s, "never-existed", &[]).await, 404, "RESOURCE_DOES_NOT_EXIST"),
        (history(&s, "errs", &[("max_results", "zero")]).await, 400, "INVALID_PARAMETER_VALUE"),
    ] {
        assert_error(&resp, status, code);
    }
    // Nothing was half-written: the model still has exactly one version and three events.
    let (_, v) = s
        .get("model-versions/search", &[("filter", "name = 'errs'")])
        .await;
    assert_eq!(v["model_versions"].as_array().unwrap().len(), 1);
    let (_, h) = history(&s, "errs", &[]).await;
    assert_eq!(h["events"].as_array().unwrap().len(), 2, "{h}");
    assert!(!s.log().contains("panicked"));
}

#[tokio::test]
async fn history_names_the_basic_auth_user_and_pages() {
    let s = Server::start().await;
    registered(&s, "audited", 0).await;
    for v in 0..5 {
        let (st, _) = s
            .send(
                s.http
                    .post(s.url("/api/2.0/mlflow/model-versions/create"))
                    .basic_auth("alice", Some("pw"))
                    .json(&json!({"name": "audited", "source": format!("s3://b/{v}")})),
            )
            .await;
        assert_eq!(st, 200);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("max_results", "2".to_string())];
        if let Some(t) = &token {
            q.push(("page_token", t.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (st, page) = history(&s, "audited", &q).await;
        assert_eq!(st, 200, "{page}");
        seen.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let actors: Vec<&str> = seen.iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert_eq!(
        actors,
        ["anonymous", "alice", "alice", "alice", "alice", "alice"]
    );
    let versions: Vec<Value> = seen.iter().map(|e| e["version"].clone()).collect();
    assert_eq!(
        versions,
        [
            json!(null),
            json!("1"),
            json!("2"),
            json!("3"),
            json!("4"),
            json!("5")
        ]
    );
    let (_, v) = s
        .get(
            "model-versions/get",
            &[("name", "audited"), ("version", "1")],
        )
        .await;
    assert_eq!(v["model_version"]["user_id"], "alice");
}

#[tokio::test]
async fn the_event_feed_can_be_polled() {
    let s = Server::start().await;
    let feed = |token: Option<String>| {
        let s = &s;
        async move {
            let mut req = s.http.get(s.url("/api/cairn/v1/registry/events"));
            if let Some(t) = token {
                req = req.query(&[("page_token", t)]);
            }
            s.send(req).await
        }
    };
    let (st, empty) = feed(None).await;
    assert_eq!(st, 200);
    assert_eq!(empty["events"], json!([]));
    let token = empty["next_page_token"].as_str().unwrap().to_owned();
    registered(&s, "fed", 1).await;
    let (_, page) = feed(Some(token)).await;
    let kinds: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["model_created", "version_created"]);
    let token = page["next_page_token"].as_str().unwrap().to_owned();
    let (_, again) = feed(Some(token.clone())).await;
    assert_eq!(again["events"], json!([]));
    assert_eq!(
        again["next_page_token"],
        json!(token),
        "an empty poll keeps its place"
    );
}

#[tokio::test]
async fn openapi_documents_the_native_api() {
    let s = Server::start().await;
    let (st, doc) = s
        .send(s.http.get(s.url("/api/cairn/v1/openapi.json")))
        .await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/cairn/v1/registry/models/{name}/history"));
    assert!(paths.contains_key("/api/cairn/v1/registry/events"));
    assert!(doc["components"]["schemas"]["EventDto"]["properties"]["before"].is_object());
    let ui = s.http.get(s.url("/api/cairn/docs/")).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn registrations_survive_kill_9() {
    let mut s = Server::start().await;
    registered(&s, "durable-model", 3).await;
    let (st, _) = s
        .post(
            "registered-models/alias",
            json!({"name": "durable-model", "alias": "champion", "version": "3"}),
        )
        .await;
    assert_eq!(st, 200);
    s.kill9();
    let s2 = s.sibling().await;
    let (_, v) = s2
        .get(
            "registered-models/alias",
            &[("name", "durable-model"), ("alias", "champion")],
        )
        .await;
    assert_eq!(v["model_version"]["version"], "3");
    let (_, h) = history(&s2, "durable-model", &[]).await;
    assert_eq!(h["events"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn concurrent_registrations_get_distinct_numbers() {
    let s = Server::start().await;
    registered(&s, "busy", 0).await;
    let tasks = (0..32).map(|i| {
        let s = &s;
        async move {
            s.post(
                "model-versions/create",
                json!({"name": "busy", "source": format!("s3://b/{i}")}),
            )
            .await
        }
    });
    let results = futures::future::join_all(tasks).await;
    let mut numbers: Vec<i64> = results
        .iter()
        .map(|(st, body)| {
            assert_eq!(*st, 200, "{body}");
            body["model_version"]["version"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=32).collect::<Vec<_>>());
}
