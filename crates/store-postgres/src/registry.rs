//! PostgreSQL's side of the shared registry and tracking writes (`cairn-store-sql`): transactions that
//! run their statements.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_store::{StoreError, StoreResult};
use cairn_store_sql::{RegistryDb, Row, Tx, Val};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, Row as _, Transaction, TypeInfo, ValueRef};

use crate::PostgresDb;
use crate::errors::{classify, is_unique_violation};

/// Registry writes take this transaction-scoped advisory lock first: they run one at a time across every
/// server on the database, so event sequence numbers are assigned in commit order and a reader of the
/// change log never sees a gap filled later. (Registry writes are rare; tracking writes do not take it.)
const REGISTRY_LOCK: i64 = 0x6361_6972_6e72_6567; // "cairnreg"

struct PgTx {
    tx: Transaction<'static, Postgres>,
    label: Arc<str>,
}

fn bind(
    sql: &str,
    args: Vec<Val>,
) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
    for a in args {
        q = match a {
            Val::Int(v) => q.bind(v),
            Val::Text(v) => q.bind(v),
            Val::Real(v) => q.bind(v),
        };
    }
    q
}

impl PgTx {
    fn fail(&self, e: sqlx::Error) -> StoreError {
        classify(e, &self.label)
    }

    fn decode(&self, r: &PgRow) -> StoreResult<Row> {
        let mut out = Vec::with_capacity(r.len());
        for i in 0..r.len() {
            let raw = r.try_get_raw(i).map_err(|e| self.fail(e))?;
            if raw.is_null() {
                out.push(Val::Text(None));
                continue;
            }
            let kind = raw.type_info().name().to_owned();
            let v = match kind.as_str() {
                "INT8" => Val::Int(Some(r.try_get::<i64, _>(i).map_err(|e| self.fail(e))?)),
                "INT4" => Val::Int(Some(i64::from(
                    r.try_get::<i32, _>(i).map_err(|e| self.fail(e))?,
                ))),
                "BOOL" => Val::Int(Some(i64::from(
                    r.try_get::<bool, _>(i).map_err(|e| self.fail(e))?,
                ))),
                "FLOAT8" => Val::Real(Some(r.try_get(i).map_err(|e| self.fail(e))?)),
                "TEXT" | "VARCHAR" => Val::Text(Some(r.try_get(i).map_err(|e| self.fail(e))?)),
                other => {
                    return Err(StoreError::Internal(format!(
                        "unexpected PostgreSQL type {other} in registry row"
                    )));
                }
            };
            out.push(v);
        }
        Ok(Row(out))
    }
}

#[async_trait]
impl Tx for PgTx {
    async fn query(&mut self, sql: &str, args: Vec<Val>) -> StoreResult<Vec<Row>> {
        let rows = match bind(sql, args).fetch_all(&mut *self.tx).await {
            Ok(rows) => rows,
            Err(e) => return Err(self.fail(e)),
        };
        rows.iter().map(|r| self.decode(r)).collect()
    }

    async fn execute(&mut self, sql: &str, args: Vec<Val>) -> StoreResult<u64> {
        match bind(sql, args).execute(&mut *self.tx).await {
            Ok(r) => Ok(r.rows_affected()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(
                cairn_domain::Taken::Key(e.to_string()),
            )),
            Err(e) => Err(self.fail(e)),
        }
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let label = self.label.clone();
        self.tx.commit().await.map_err(|e| classify(e, &label))
    }
}

impl PostgresDb {
    /// A READ COMMITTED transaction running the shared statements: tracking's that are written once
    /// (which lock the rows they change), and the registry's after its lock.
    pub(crate) async fn begin_tx(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self.begin().await.map_err(|f| self.fail(f))?;
        Ok(Box::new(PgTx {
            tx,
            label: self.label.clone(),
        }))
    }
}

#[async_trait]
impl RegistryDb for PostgresDb {
    async fn begin_write(&self) -> StoreResult<Box<dyn Tx>> {
        let mut tx = self.begin_tx().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            vec![REGISTRY_LOCK.into()],
        )
        .await?;
        Ok(tx)
    }

    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL at {}: {e}", self.label)))?;
        Ok(Box::new(PgTx {
            tx,
            label: self.label.clone(),
        }))
    }
}
