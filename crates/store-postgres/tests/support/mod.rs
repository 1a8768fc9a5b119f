//! Scratch databases for tests: each test gets `cairn_test_<random hex>` on the server named by
//! `CAIRN_TEST_PG_ADMIN_URL` (default `postgresql://postgres@127.0.0.1:5432/postgres`), dropped again when
//! the guard goes, even after a failed assertion. No server is a test failure, never a skip.

use std::sync::Arc;
use std::time::Duration;

use cairn_domain::RunId;
use cairn_store::TrackingStore;
use cairn_store_postgres::PostgresStore;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const DEFAULT_ADMIN_URL: &str = "postgresql://postgres@127.0.0.1:5432/postgres";

/// The admin connection URL (to a database that always exists, such as `postgres`).
pub fn admin_url() -> String {
    std::env::var("CAIRN_TEST_PG_ADMIN_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// `url` with any password replaced by `***`, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// `url` naming database `name` instead of its own (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// Connects to the admin database, failing the test with instructions when PostgreSQL is not there.
pub async fn admin() -> PgConnection {
    let url = admin_url();
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "these tests need PostgreSQL and could not connect to {} ({e}); start one or point \
             CAIRN_TEST_PG_ADMIN_URL at one",
            redacted(&url)
        ),
        Err(_) => panic!(
            "these tests need PostgreSQL and {} did not answer within 10 s; start one or point \
             CAIRN_TEST_PG_ADMIN_URL at one",
            redacted(&url)
        ),
    }
}

/// Runs one statement on the admin database.
pub async fn admin_exec(sql: String) {
    let mut conn = admin().await;
    sqlx::raw_sql(AssertSqlSafe(sql.clone()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// A database of its own for one test, dropped (WITH FORCE) when this guard is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = format!("cairn_test_{}", RunId::generate());
        admin_exec(format!("CREATE DATABASE \"{name}\"")).await;
        let url = with_database(&admin_url(), &name);
        Self { name, url }
    }

    pub async fn open(&self) -> PostgresStore {
        PostgresStore::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening {}: {e}", redacted(&self.url)))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs outside async context as far as we know, so it gets a runtime of its own on a thread
        // of its own (blocking inside the test's runtime is not allowed).
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(admin_exec(sql));
        })
        .join();
        if dropped.is_err() {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// A store on a fresh database, with the guard that drops the database.
pub async fn open_store() -> (Arc<dyn TrackingStore>, TestDb) {
    let db = TestDb::create().await;
    let store = db.open().await;
    (Arc::new(store), db)
}

#[test]
fn urls_are_rewritten_and_redacted() {
    assert_eq!(
        with_database("postgresql://postgres@127.0.0.1:5432/postgres", "x"),
        "postgresql://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgresql://h:1", "x"), "postgresql://h:1/x");
    assert_eq!(
        redacted("postgresql://u:secret@h/db"),
        "postgresql://u:***@h/db"
    );
    assert_eq!(redacted("postgresql://u@h/db"), "postgresql://u@h/db");
}
