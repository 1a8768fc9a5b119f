//! What the registry needs from an engine: transactions that run parameterised SQL and hand back rows
//! of plain values. The registry's statements are written once, in the dialect SQLite and PostgreSQL
//! share (`$1` parameters, `ON CONFLICT`, `RETURNING`); an engine adapts placeholders if it must.

use async_trait::async_trait;
use cairn_store::{StoreError, StoreResult};

/// A bound parameter or a column value. Nulls keep their type because PostgreSQL needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(Option<i64>),
    Text(Option<String>),
    /// A float (bound by run searches, read back as their sort values).
    Real(Option<f64>),
}

impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::Real(Some(v))
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(Some(v.to_owned()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(Some(v))
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Self {
        Val::Text(v.map(str::to_owned))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::Text(v)
    }
}
impl From<&Option<String>> for Val {
    fn from(v: &Option<String>) -> Self {
        Val::Text(v.clone())
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}

/// One fetched row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Val>);

impl Row {
    fn corrupt(&self, i: usize, want: &str) -> StoreError {
        StoreError::Internal(format!(
            "registry row column {i}: expected {want}, found {:?}",
            self.0.get(i)
        ))
    }
    pub fn int(&self, i: usize) -> StoreResult<i64> {
        self.opt_int(i)?
            .ok_or_else(|| self.corrupt(i, "an integer"))
    }
    pub fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        match self.0.get(i) {
            Some(Val::Int(v)) => Ok(*v),
            Some(Val::Text(None)) => Ok(None),
            _ => Err(self.corrupt(i, "an integer")),
        }
    }
    pub fn text(&self, i: usize) -> StoreResult<String> {
        self.opt_text(i)?.ok_or_else(|| self.corrupt(i, "text"))
    }
    pub fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        match self.0.get(i) {
            Some(Val::Text(v)) => Ok(v.clone()),
            Some(Val::Int(None)) => Ok(None),
            _ => Err(self.corrupt(i, "text")),
        }
    }
}

/// A transaction (or, for reads, a consistent snapshot) on one connection.
#[async_trait]
pub trait Tx: Send {
    async fn query(&mut self, sql: &str, args: Vec<Val>) -> StoreResult<Vec<Row>>;
    /// Runs a statement and returns the number of rows it affected. A unique-key violation is
    /// [`StoreError::AlreadyExists`].
    async fn execute(&mut self, sql: &str, args: Vec<Val>) -> StoreResult<u64>;
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// An engine the registry runs on.
#[async_trait]
pub trait RegistryDb: Send + Sync + 'static {
    /// A write transaction that holds the registry's write lock from its start: registry writes run one
    /// at a time, so event sequence numbers follow commit order (the change log is readable as a feed).
    async fn begin_write(&self) -> StoreResult<Box<dyn Tx>>;
    /// A read-only snapshot.
    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>>;
}
