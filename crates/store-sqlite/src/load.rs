//! SQLite's side of the shared loads and tracking reads (`cairn-store-sql`): running their SELECTs on a
//! connection, and the read connections [`cairn_store_sql::SqlTracking`] reads through.

use cairn_store::{StoreError, StoreResult};
use cairn_store_sql::Fetch;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Sqlite, SqliteConnection};

use crate::errors::db;

/// A connection (a reader, or the writer inside a transaction) running shared loads.
pub(crate) struct Loader<'c>(pub(crate) &'c mut SqliteConnection);

impl Fetch for Loader<'_> {
    type Row = SqliteRow;
    type Error = StoreError;
    const PARAM: &'static str = "?1";
    // The order SQLite's plans give (rowid and index order) has always been this store's; kept as it was.
    const EXPLICIT_ORDER: bool = false;

    async fn fetch(&mut self, sql: String, bind: Option<&str>) -> StoreResult<Vec<SqliteRow>> {
        let q = sqlx::query(AssertSqlSafe(sql));
        let q = match bind {
            Some(b) => q.bind(b.to_string()),
            None => q,
        };
        q.fetch_all(&mut *self.0).await.map_err(db)
    }
}

/// A pooled read-only connection: where the shared tracking reads run.
pub struct Reader(pub(crate) PoolConnection<Sqlite>);

impl Fetch for Reader {
    type Row = SqliteRow;
    type Error = StoreError;
    const PARAM: &'static str = Loader::PARAM;
    const EXPLICIT_ORDER: bool = Loader::EXPLICIT_ORDER;

    async fn fetch(&mut self, sql: String, bind: Option<&str>) -> StoreResult<Vec<SqliteRow>> {
        Loader(&mut self.0).fetch(sql, bind).await
    }
}
