//! Process lifecycle: start-up, fail-fast configuration errors, graceful shutdown.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::Server;

#[tokio::test]
async fn sigterm_stops_cleanly_and_keeps_data() {
    let mut s = Server::start().await;
    let exp = s.create_experiment("graceful").await;
    let status = s.terminate();
    assert!(
        status.success(),
        "clean exit on SIGTERM: {status:?}\n{}",
        s.log()
    );
    assert!(s.log().contains("cairn server stopped"));
    let s2 = s.sibling().await;
    let (st, body) = s2.get("experiments/get", &[("experiment_id", &exp)]).await;
    assert_eq!(st, 200);
    assert_eq!(body["experiment"]["name"], json!("graceful"));
}

#[test]
fn bad_configuration_fails_fast_with_a_clear_message() {
    for (flag, value, expect) in [
        (
            "--backend-store-uri",
            "mysql://nowhere/db",
            "unsupported --backend-store-uri",
        ),
        (
            "--artifacts-destination",
            "ftp://x/y",
            "unsupported --artifacts-destination",
        ),
        (
            "--backend-store-uri",
            "sqlite:///proc/forbidden/cairn.db",
            "metadata store",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["server", "--port", "0", "--data-dir"])
            .arg(dir.path())
            .args([flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(started.elapsed() < Duration::from_secs(10), "fails fast");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{flag} {value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn unreachable_bucket_fails_start_up_fast() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["server", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .args(["--artifacts-destination", "s3://cairn-nowhere/prefix"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "fails fast: {:?}",
        started.elapsed()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cairn: error:") && err.contains("s3://cairn-nowhere/prefix"),
        "{err}"
    );
}
