//! A PostgreSQL database that goes away while Cairn serves: requests get a clear 503, and service comes
//! back by itself when the database returns. The outage is a TCP proxy between Cairn and PostgreSQL
//! that the test cuts and restores, so the shared database server itself is never touched.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::{Server, admin_url, create_database, database_uri, drop_database};

/// Forwards 127.0.0.1:<port> to the PostgreSQL server until cut.
struct Proxy {
    port: u16,
    upstream: String,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut p = Proxy {
            port,
            upstream,
            task: None,
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
            // Dropping the JoinSet aborts every open connection.
        }));
    }

    /// Refuses new connections and breaks the open ones.
    async fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_a_503_and_service_recovers() {
    let admin = admin_url();
    let host_port = admin
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_string();
    let db = create_database();
    let mut proxy = Proxy::start(host_port.clone()).await;
    let via_proxy = database_uri(&db).replace(&host_port, &format!("127.0.0.1:{}", proxy.port));
    let s = Server::start_with(&["--backend-store-uri", &via_proxy]).await;
    let exp = s.create_experiment("outage").await;

    proxy.cut().await;
    let started = Instant::now();
    let (st, body) = s.get("experiments/get", &[("experiment_id", &exp)]).await;
    assert_eq!(st, 503, "{body}");
    assert_eq!(body["error_code"], "TEMPORARILY_UNAVAILABLE");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answers promptly, does not hang"
    );
    let health = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 503);

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (st, body) = s.get("experiments/get", &[("experiment_id", &exp)]).await;
        if st == 200 {
            assert_eq!(body["experiment"]["name"], json!("outage"));
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {st} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let run = s.create_run(&exp).await;
    assert_eq!(run.len(), 32, "writes work again");
    drop(s);
    drop_database(&db);
}

#[test]
fn unreachable_database_fails_start_up_fast() {
    for uri in [
        "postgresql://postgres@127.0.0.1:1/cairn".to_string(),
        database_uri("cairn_database_that_does_not_exist"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["server", "--port", "0", "--data-dir"])
            .arg(dir.path())
            .args(["--backend-store-uri", &uri])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "fails fast for {uri}"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cairn: error:") && err.contains("metadata store"),
            "{uri}: {err}"
        );
    }
}
