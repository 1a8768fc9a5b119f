//! Starting `cairn server` as a child process and talking to it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Extra server flags from the environment, so the same tests run against other engines
/// (`CAIRN_TEST_BACKEND_STORE_URI`, `CAIRN_TEST_ARTIFACTS_DESTINATION`).
fn engine_args() -> Vec<String> {
    let mut args = Vec::new();
    if let Ok(uri) = std::env::var("CAIRN_TEST_BACKEND_STORE_URI") {
        args.extend(["--backend-store-uri".to_string(), uri]);
    }
    if let Ok(dest) = std::env::var("CAIRN_TEST_ARTIFACTS_DESTINATION") {
        args.extend(["--artifacts-destination".to_string(), dest]);
    }
    args
}

impl Server {
    /// A server on a fresh data folder.
    pub async fn start() -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_on(&dir).await;
        s._tmp = Some(tmp);
        s
    }

    /// A server on an existing data folder (to restart after a crash).
    pub async fn start_on(dir: &Path) -> Server {
        let port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args([
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--data-dir",
            ])
            .arg(dir)
            .args(engine_args())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn cairn");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data_dir: dir.to_path_buf(),
            http: reqwest::Client::new(),
            _tmp: None,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(format!("{}/health", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server did not become healthy; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs JSON to an MLflow API path; returns (status, body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(
            self.http
                .post(self.url(&format!("/api/2.0/mlflow/{path}")))
                .json(&body),
        )
        .await
    }

    /// GETs an MLflow API path with query pairs.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        self.send(
            self.http
                .get(self.url(&format!("/api/2.0/mlflow/{path}")))
                .query(query),
        )
        .await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            json!({})
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    pub async fn create_experiment(&self, name: &str) -> String {
        let (st, body) = self.post("experiments/create", json!({"name": name})).await;
        assert_eq!(st, 200, "{body}");
        body["experiment_id"].as_str().unwrap().to_string()
    }

    pub async fn create_run(&self, experiment_id: &str) -> String {
        let (st, body) = self
            .post(
                "runs/create",
                json!({"experiment_id": experiment_id, "start_time": 1000}),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        body["run"]["info"]["run_id"].as_str().unwrap().to_string()
    }

    /// Kills the process with SIGKILL, as `kill -9` does.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts an MLflow error response.
pub fn assert_error(resp: &(u16, Value), status: u16, code: &str) {
    assert_eq!(resp.0, status, "status of {}", resp.1);
    assert_eq!(resp.1["error_code"], code, "code of {}", resp.1);
    assert!(
        resp.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message of {}",
        resp.1
    );
}

impl Server {
    /// Sends a request with the path exactly as given: HTTP client libraries normalise `..` and `%2e%2e`
    /// segments away, which would hide what a hostile client can send.
    pub async fn raw(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out);
        let status = text.split(' ').nth(1).unwrap().parse().unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (
            status,
            serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
        )
    }
}
