//! The proxied artifact API.

use serde_json::json;

use crate::support::{Server, assert_error};

fn art(s: &Server, path: &str) -> String {
    s.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{path}"))
}

#[tokio::test]
async fn binary_upload_download_list_delete() {
    let s = Server::start().await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let put = s
        .http
        .put(art(&s, "1/abc/artifacts/dir/data.bin"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        put.text().await.unwrap(),
        "",
        "upload answers an empty body"
    );
    s.http
        .put(art(&s, "1/abc/artifacts/readme.txt"))
        .body("hi")
        .send()
        .await
        .unwrap();

    let got = s
        .http
        .get(art(&s, "1/abc/artifacts/dir/data.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert!(
        got.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("data.bin")
    );
    assert_eq!(
        got.bytes().await.unwrap().to_vec(),
        bytes,
        "content preserved byte for byte"
    );

    let (st, listing) = s
        .send(
            s.http
                .get(s.url("/api/2.0/mlflow-artifacts/artifacts"))
                .query(&[("path", "1/abc/artifacts")]),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        listing,
        json!({"files": [
            {"path": "dir", "is_dir": true},
            {"path": "readme.txt", "is_dir": false, "file_size": 2}
        ]})
    );
    let (_, file_listing) = s
        .send(
            s.http
                .get(s.url("/api/2.0/mlflow-artifacts/artifacts"))
                .query(&[("path", "1/abc/artifacts/readme.txt")]),
        )
        .await;
    assert_eq!(file_listing, json!({}), "listing a file answers {{}}");

    let del = s
        .http
        .delete(art(&s, "1/abc/artifacts/dir"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let gone = s
        .send(s.http.get(art(&s, "1/abc/artifacts/dir/data.bin")))
        .await;
    assert_error(&gone, 404, "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn paths_that_escape_the_root_are_400() {
    let s = Server::start().await;
    for path in [
        "1/../../etc/passwd",
        "1/%2e%2e/%2e%2e/etc/passwd",
        "%2E%2E/x",
        "1/..%2F..%2Fx",
        "%2Fetc%2Fpasswd",
        "a%5C..%5Cb",
    ] {
        let full = format!("/api/2.0/mlflow-artifacts/artifacts/{path}");
        assert_error(
            &s.raw("PUT", &full, "x").await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
        assert_error(
            &s.raw("GET", &full, "").await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
        assert_error(
            &s.raw("DELETE", &full, "").await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    let list = s
        .send(
            s.http
                .get(s.url("/api/2.0/mlflow-artifacts/artifacts"))
                .query(&[("path", "../..")]),
        )
        .await;
    assert_error(&list, 400, "INVALID_PARAMETER_VALUE");
    assert!(!s.data_dir.join("x").exists() && !s.data_dir.parent().unwrap().join("x").exists());
}

#[tokio::test]
async fn a_file_cannot_also_be_a_folder() {
    let s = Server::start().await;
    let put = s
        .http
        .put(art(&s, "1/r/artifacts/d/f.txt"))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    // Object stores such as S3 have no folders, so there both writes succeed; a local folder refuses
    // them with a 400, never a 5xx.
    let local = s.engines.s3_prefix.is_none();
    for path in ["1/r/artifacts/d/f.txt/x", "1/r/artifacts/d"] {
        let (st, body) = s.send(s.http.put(art(&s, path)).body("x")).await;
        if local {
            assert_eq!(
                (st, body["error_code"].as_str()),
                (400, Some("INVALID_PARAMETER_VALUE")),
                "{path}: {body}"
            );
        } else {
            assert_eq!(st, 200, "{path}: {body}");
        }
    }
    let (st, body) = s
        .send(s.http.get(art(&s, "1/r/artifacts/missing.bin")))
        .await;
    assert_eq!(st, 404);
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.contains("1/r/artifacts/missing.bin") && !msg.contains(s.data_dir.to_str().unwrap()),
        "{msg}"
    );
}
