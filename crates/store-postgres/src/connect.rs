//! Opening the database: URI parsing, a fail-fast probe, the pool and migrations.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_store::{StoreError, StoreResult};
use cairn_store_sql::{TrackingEngine, Tx};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::errors::is_unavailable;
use crate::load::Reader;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long establishing one connection may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an operation waits for a pooled connection (including opening a new one) before it fails
/// with `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long bringing the schema up to date may take, waiting for another server's migration included.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections per store, i.e. per server process; PostgreSQL's default limit is 100 in all.
const MAX_CONNECTIONS: u32 = 10;

/// The PostgreSQL engine that [`PostgresStore`](crate::PostgresStore) tracks on and the registry's
/// transactions run on. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PostgresDb {
    pub(crate) pool: PgPool,
    /// `user@host:port/database`, for messages (never the password).
    pub(crate) label: Arc<str>,
}

#[async_trait]
impl TrackingEngine for PostgresDb {
    type Reader = Reader;
    const DIALECT: cairn_store_sql::Dialect = cairn_store_sql::Dialect::Postgres;
    const LOCK_ROW: &'static str = " FOR UPDATE";
    const LOCK_KEY: &'static str = " FOR KEY SHARE";
    const LOCK_SHARE: &'static str = " FOR SHARE";
    const LOCK_DATASETS: &'static str =
        "SELECT pg_advisory_xact_lock(hashtextextended('cairn.datasets', $1))";

    /// Connects to the database named by `uri` — `postgresql://user[:password]@host[:port]/database`
    /// (`postgres://` too, with libpq-style query parameters such as `?sslmode=`) — and brings its schema
    /// up to date.
    ///
    /// Fails within a few seconds with [`StoreError::Unavailable`], naming the database and the cause, when
    /// the server cannot be reached, refuses the login or has no such database; with
    /// [`StoreError::Internal`] when the URI is not a PostgreSQL URI.
    async fn open(uri: &str) -> StoreResult<Self> {
        let options = parse(uri)?;
        let label: Arc<str> = describe(&options).into();

        // One connection by hand first: the pool retries a refused connection until its timeout and
        // then reports only "pool timed out", losing the cause an operator needs to see.
        match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot connect to PostgreSQL at {label}: {e}"
                )));
            }
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot connect to PostgreSQL at {label}: no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        }

        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection the server dropped (restart, failover) is found and replaced on checkout
            // rather than handed to a request.
            .test_before_acquire(true)
            .idle_timeout(Duration::from_secs(300))
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot connect to PostgreSQL at {label}: {e}"))
            })?;
        // Servers starting together take turns (sqlx holds an advisory lock while migrating); one that
        // never gets the lock gives up rather than hang.
        tokio::time::timeout(MIGRATE_TIMEOUT, MIGRATOR.run(&pool))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "migrating PostgreSQL at {label}: not done within {} s (is another process \
                     holding the migration lock?)",
                    MIGRATE_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                let unavailable = match &e {
                    sqlx::migrate::MigrateError::Execute(e)
                    | sqlx::migrate::MigrateError::ExecuteMigration(e, _) => is_unavailable(e),
                    _ => false,
                };
                let msg = format!("migrating PostgreSQL at {label}: {e}");
                if unavailable {
                    StoreError::Unavailable(msg)
                } else {
                    StoreError::Internal(msg)
                }
            })?;
        Ok(Self { pool, label })
    }

    async fn reader(&self) -> StoreResult<Reader> {
        let conn = self.read(self.conn()).await?;
        Ok(Reader {
            conn,
            store: self.clone(),
        })
    }

    async fn begin_tracking(&self) -> StoreResult<Box<dyn Tx>> {
        self.begin_tx().await
    }

    /// Closes every connection; operations after this fail with `Unavailable`.
    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Parses a `postgresql://` or `postgres://` URI into connection options.
fn parse(uri: &str) -> StoreResult<PgConnectOptions> {
    if !(uri.starts_with("postgresql://") || uri.starts_with("postgres://")) {
        let scheme = uri.split_once("://").map_or("", |(s, _)| s);
        return Err(StoreError::Internal(format!(
            "not a PostgreSQL URI (scheme '{scheme}'): expected postgresql://user@host:port/database"
        )));
    }
    let options = PgConnectOptions::from_str(uri).map_err(|e| {
        StoreError::Internal(format!(
            "invalid PostgreSQL URI (expected postgresql://user@host:port/database): {e}"
        ))
    })?;
    Ok(match options.get_application_name() {
        Some(_) => options,
        None => options.application_name("cairn"),
    })
}

/// `user@host:port/database`, or `user@/socket/dir/database` for a Unix socket — never the password.
fn describe(o: &PgConnectOptions) -> String {
    let database = o.get_database().unwrap_or(o.get_username());
    match o.get_socket() {
        Some(dir) => format!("{}@{}/{database}", o.get_username(), dir.display()),
        None => format!(
            "{}@{}:{}/{database}",
            o.get_username(),
            o.get_host(),
            o.get_port()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{describe, parse};

    #[test]
    fn both_schemes_parse_and_others_are_refused() {
        let o = parse("postgresql://cairn@db.example:6543/tracking").unwrap();
        assert_eq!(describe(&o), "cairn@db.example:6543/tracking");
        let o = parse("postgres://cairn@localhost/tracking?sslmode=disable").unwrap();
        assert_eq!(describe(&o), "cairn@localhost:5432/tracking");
        assert!(parse("sqlite:///tmp/a.db").is_err());
        assert!(parse("/tmp/a.db").is_err());
    }

    #[test]
    fn labels_never_show_the_password() {
        let o = parse("postgresql://cairn:s3cret@db:5432/tracking").unwrap();
        let label = describe(&o);
        assert_eq!(label, "cairn@db:5432/tracking");
        assert!(!label.contains("s3cret"));
    }
}
