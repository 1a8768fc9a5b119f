//! SQLite's side of the shared registry and tracking writes (`cairn-store-sql`): transactions that run
//! their statements.

use async_trait::async_trait;
use cairn_store::{StoreError, StoreResult};
use cairn_store_sql::{RegistryDb, Row, Tx, Val};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row as _, Sqlite, Transaction, TypeInfo, ValueRef};

use crate::SqliteDb;
use crate::errors::{db, is_unique_violation};

/// A registry transaction: on the writer (holding SQLite's write lock from `BEGIN IMMEDIATE`, so registry
/// writes are serialised) or on a reader (a deferred read transaction, one consistent snapshot).
struct SqliteTx(Transaction<'static, Sqlite>);

/// The shared statements number their parameters `$1`; SQLite spells that `?1`.
fn dialect(sql: &str) -> String {
    sql.replace('$', "?")
}

fn bind(
    sql: &str,
    args: Vec<Val>,
) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
    let mut q = sqlx::query(AssertSqlSafe(dialect(sql)));
    for a in args {
        q = match a {
            Val::Int(v) => q.bind(v),
            Val::Text(v) => q.bind(v),
            Val::Real(v) => q.bind(v),
        };
    }
    q
}

fn decode(r: &SqliteRow) -> StoreResult<Row> {
    let mut out = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        let raw = r.try_get_raw(i).map_err(db)?;
        if raw.is_null() {
            out.push(Val::Text(None));
            continue;
        }
        let kind = raw.type_info().name().to_owned();
        out.push(match kind.as_str() {
            "INTEGER" => Val::Int(Some(r.try_get(i).map_err(db)?)),
            "TEXT" => Val::Text(Some(r.try_get(i).map_err(db)?)),
            "REAL" => Val::Real(Some(r.try_get(i).map_err(db)?)),
            other => {
                return Err(StoreError::Internal(format!(
                    "unexpected SQLite value type {other} in registry row"
                )));
            }
        });
    }
    Ok(Row(out))
}

#[async_trait]
impl Tx for SqliteTx {
    async fn query(&mut self, sql: &str, args: Vec<Val>) -> StoreResult<Vec<Row>> {
        let rows = bind(sql, args).fetch_all(&mut *self.0).await.map_err(db)?;
        rows.iter().map(decode).collect()
    }

    async fn execute(&mut self, sql: &str, args: Vec<Val>) -> StoreResult<u64> {
        match bind(sql, args).execute(&mut *self.0).await {
            Ok(r) => Ok(r.rows_affected()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(
                cairn_domain::Taken::Key(e.to_string()),
            )),
            Err(e) => Err(db(e)),
        }
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.0.commit().await.map_err(db)
    }
}

impl SqliteDb {
    /// A write transaction on the writer running the shared statements: the registry's, and tracking's
    /// that are written once.
    pub(crate) async fn begin_tx(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(SqliteTx(SqliteDb::begin_write(self).await?)))
    }
}

#[async_trait]
impl RegistryDb for SqliteDb {
    async fn begin_write(&self) -> StoreResult<Box<dyn Tx>> {
        self.begin_tx().await
    }

    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(SqliteTx(self.read.begin().await.map_err(db)?)))
    }
}
