//! Opening the database: URI parsing, pragmas, the writer/reader pools and migrations.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use cairn_store::{StoreError, StoreResult};
use cairn_store_sql::{TrackingEngine, Tx};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::errors::db;
use crate::load::Reader;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite engine that [`SqliteStore`](crate::SqliteStore) tracks on and the registry's transactions
/// run on.
#[derive(Clone)]
pub struct SqliteDb {
    /// The only connection that writes.
    pub(crate) write: SqlitePool,
    /// Read-only connections for queries.
    pub(crate) read: SqlitePool,
}

#[async_trait]
impl TrackingEngine for SqliteDb {
    type Reader = Reader;
    const DIALECT: cairn_store_sql::Dialect = cairn_store_sql::Dialect::Sqlite;
    const LOCK_ROW: &'static str = "";
    const LOCK_KEY: &'static str = "";
    const LOCK_SHARE: &'static str = "";
    // One writer: dataset writes already take turns.
    const LOCK_DATASETS: &'static str = "";

    /// Opens (creating if needed) the database named by `uri` — `sqlite:///abs/path.db`,
    /// `sqlite://rel/path.db` or a bare path, optionally with `?synchronous=full|normal` — and brings its
    /// schema up to date.
    async fn open(uri: &str) -> StoreResult<Self> {
        let path = path_from_uri(uri)?;
        let synchronous = synchronous_from_uri(uri)?;
        if let Some(parent) = Path::new(&path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let base = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| StoreError::Internal(e.to_string()))?
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-32000")
            .pragma("temp_store", "memory");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(base.clone().create_if_missing(true))
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot open SQLite database {path}: {e}"))
            })?;
        MIGRATOR
            .run(&write)
            .await
            .map_err(|e| StoreError::Internal(format!("migrating {path}: {e}")))?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(base.read_only(true))
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot open SQLite database {path}: {e}"))
            })?;
        Ok(Self { write, read })
    }

    async fn reader(&self) -> StoreResult<Reader> {
        Ok(Reader(self.read.acquire().await.map_err(db)?))
    }

    async fn begin_tracking(&self) -> StoreResult<Box<dyn Tx>> {
        self.begin_tx().await
    }

    /// Flushes the WAL into the main file and closes every connection.
    async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.write)
            .await;
        self.read.close().await;
        self.write.close().await;
    }
}

impl SqliteDb {
    /// Starts a write transaction holding SQLite's write lock from its first statement. A deferred
    /// `BEGIN` would read first and then fail to upgrade with `SQLITE_BUSY_SNAPSHOT` — without waiting —
    /// whenever another process (a second server on the same file) committed in between.
    pub(crate) async fn begin_write(
        &self,
    ) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.write.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

/// `sqlite:///abs/x.db` → `/abs/x.db`; `sqlite://rel/x.db` → `rel/x.db`; anything without a scheme is a path.
fn path_from_uri(uri: &str) -> StoreResult<String> {
    let path = match uri.strip_prefix("sqlite:") {
        Some(rest) => rest.strip_prefix("//").unwrap_or(rest),
        None if uri.contains("://") => {
            return Err(StoreError::Internal(format!(
                "not a SQLite URI: {uri} (expected sqlite:///path/to/file.db)"
            )));
        }
        None => uri,
    };
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Internal(format!(
            "SQLite URI {uri} names no file; an in-memory database would lose every write"
        )));
    }
    Ok(path.to_string())
}

/// The `synchronous` query parameter: `normal` (default) or `full`.
fn synchronous_from_uri(uri: &str) -> StoreResult<SqliteSynchronous> {
    let query = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut mode = SqliteSynchronous::Normal;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("full") => {
                mode = SqliteSynchronous::Full
            }
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("normal") => {
                mode = SqliteSynchronous::Normal
            }
            _ => {
                return Err(StoreError::Internal(format!(
                    "unsupported SQLite URI parameter '{pair}' in {uri} (supported: synchronous=full|normal)"
                )));
            }
        }
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::{path_from_uri, synchronous_from_uri};
    use sqlx::sqlite::SqliteSynchronous;

    #[test]
    fn uris_map_to_paths() {
        assert_eq!(path_from_uri("sqlite:///tmp/a.db").unwrap(), "/tmp/a.db");
        assert_eq!(path_from_uri("sqlite://data/a.db").unwrap(), "data/a.db");
        assert_eq!(path_from_uri("./x.db").unwrap(), "./x.db");
        assert!(path_from_uri("postgresql://h/db").is_err());
        assert!(path_from_uri("sqlite://").is_err());
        assert_eq!(
            path_from_uri("sqlite:///tmp/a.db?synchronous=full").unwrap(),
            "/tmp/a.db"
        );
    }

    #[test]
    fn synchronous_mode_from_uri() {
        assert!(matches!(
            synchronous_from_uri("sqlite:///a.db").unwrap(),
            SqliteSynchronous::Normal
        ));
        assert!(matches!(
            synchronous_from_uri("sqlite:///a.db?synchronous=FULL").unwrap(),
            SqliteSynchronous::Full
        ));
        assert!(synchronous_from_uri("sqlite:///a.db?cache=shared").is_err());
    }
}
