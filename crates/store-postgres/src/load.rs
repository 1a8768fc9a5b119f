//! PostgreSQL's side of the shared loads and tracking reads (`cairn-store-sql`): running their SELECTs on
//! a connection, and the read connections [`cairn_store_sql::SqlTracking`] reads through.

use cairn_store::{StoreError, StoreResult};
use cairn_store_sql::Fetch;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Postgres};

use crate::PostgresDb;
use crate::errors::{Fail, TxResult};

/// A connection (pooled, or inside a transaction) running shared loads. Errors stay unclassified
/// ([`Fail`]) so that a load inside a write can still be retried.
pub(crate) struct Loader<'c>(pub(crate) &'c mut PgConnection);

impl Fetch for Loader<'_> {
    type Row = PgRow;
    type Error = Fail;
    const PARAM: &'static str = "$1";
    // Without ORDER BY PostgreSQL's row order follows the plan and the heap, which updates reshuffle.
    const EXPLICIT_ORDER: bool = true;

    async fn fetch(&mut self, sql: String, bind: Option<&str>) -> TxResult<Vec<PgRow>> {
        let q = sqlx::query(AssertSqlSafe(sql));
        let q = match bind {
            Some(b) => q.bind(b.to_string()),
            None => q,
        };
        Ok(q.fetch_all(&mut *self.0).await?)
    }
}

/// A pooled connection for the shared tracking reads; its failures are classified as they happen.
pub struct Reader {
    pub(crate) conn: PoolConnection<Postgres>,
    pub(crate) store: PostgresDb,
}

impl Fetch for Reader {
    type Row = PgRow;
    type Error = StoreError;
    const PARAM: &'static str = Loader::PARAM;
    const EXPLICIT_ORDER: bool = Loader::EXPLICIT_ORDER;

    async fn fetch(&mut self, sql: String, bind: Option<&str>) -> StoreResult<Vec<PgRow>> {
        let rows = Loader(&mut self.conn).fetch(sql, bind).await;
        rows.map_err(|f| self.store.fail(f))
    }
}
