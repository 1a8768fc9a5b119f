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
    /// The engines this server (and a restart of it) uses; shared so a restart reuses them.
    pub engines: std::sync::Arc<Engines>,
    _tmp: Option<std::sync::Arc<tempfile::TempDir>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The engines a test server runs on, chosen by the environment so the same tests run on each:
/// `CAIRN_TEST_ENGINE=postgres` gives every server a fresh PostgreSQL database (created through
/// `CAIRN_TEST_PG_ADMIN_URL`, dropped afterwards); `CAIRN_TEST_S3_BUCKET` puts every server's artifacts
/// under a fresh prefix of that bucket (the AWS variables name the endpoint).
pub struct Engines {
    pub database: Option<String>,
    pub s3_prefix: Option<String>,
}

pub fn admin_url() -> String {
    std::env::var("CAIRN_TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".to_string())
}

/// The URI of a database on the admin URL's server.
pub fn database_uri(name: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

pub fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([&admin_url(), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn random_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{:x}", std::process::id(), nanos)
}

/// A fresh, empty PostgreSQL database; returns its name.
pub fn create_database() -> String {
    let name = random_name("cairn_test");
    psql(&format!("CREATE DATABASE {name}"));
    name
}

pub fn drop_database(name: &str) {
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

impl Engines {
    /// `own_database`: false when the caller names its own metadata store.
    fn from_env(own_database: bool) -> Self {
        let postgres = std::env::var("CAIRN_TEST_ENGINE").as_deref() == Ok("postgres");
        let database = (postgres && own_database).then(create_database);
        let s3_prefix = std::env::var("CAIRN_TEST_S3_BUCKET")
            .ok()
            .map(|bucket| format!("s3://{bucket}/{}", random_name("t")));
        Self {
            database,
            s3_prefix,
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(db) = &self.database {
            args.extend(["--backend-store-uri".to_string(), database_uri(db)]);
        }
        if let Some(dest) = &self.s3_prefix {
            args.extend(["--artifacts-destination".to_string(), dest.clone()]);
        }
        args
    }
}

impl Drop for Engines {
    fn drop(&mut self) {
        if let Some(db) = &self.database {
            drop_database(db);
        }
    }
}

impl Server {
    /// A server on a fresh data folder.
    pub async fn start() -> Server {
        let tmp = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let engines = std::sync::Arc::new(Engines::from_env(true));
        Self::launch(tmp.path(), engines, Some(tmp.clone()), &[]).await
    }

    /// Another server process on the same engines and data folder (a restart after a crash, or a
    /// second replica).
    pub async fn sibling(&self) -> Server {
        Self::launch(&self.data_dir, self.engines.clone(), self._tmp.clone(), &[]).await
    }

    /// A server on the metadata store `extra` names (`--backend-store-uri …`), other engines as usual.
    pub async fn start_with(extra: &[&str]) -> Server {
        let tmp = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let engines = std::sync::Arc::new(Engines::from_env(false));
        Self::launch(tmp.path(), engines, Some(tmp.clone()), extra).await
    }

    async fn launch(
        dir: &Path,
        engines: std::sync::Arc<Engines>,
        tmp: Option<std::sync::Arc<tempfile::TempDir>>,
        extra: &[&str],
    ) -> Server {
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
            .args(engines.args())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn cairn");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data_dir: dir.to_path_buf(),
            http: reqwest::Client::new(),
            engines,
            _tmp: tmp,
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
