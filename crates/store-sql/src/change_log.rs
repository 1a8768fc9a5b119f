//! The control plane's change log on SQL: [`append`] writes an entry inside the caller's transaction (the
//! registry's and the deployments' writes call it beside their own event), [`SqlChangeLog`] reads it, and
//! [`Signalled`] wraps an engine so that every committed write wakes this process's followers.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::change_log::{ChangeEntry, NewChange, Topic};
use cairn_store::{ChangeLogStore, StoreError, StoreResult};
use tokio::sync::watch;

use crate::registry::{RegistryDb, Row, Tx, Val};

/// Appends `change` to the log in `tx`. Writers hold the registry's write lock, so sequence numbers
/// follow commit order and a follower reading "after N" never misses an entry committed later.
pub(crate) async fn append(tx: &mut dyn Tx, change: NewChange<'_>) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO change_log (topic, subject, kind, topic_seq, actor, timestamp_ms, detail_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            change.topic.as_str().into(),
            change.subject.into(),
            change.kind.into(),
            change.topic_seq.into(),
            change.actor.into(),
            change.timestamp_ms.into(),
            change.detail.map(|d| d.to_string()).into(),
        ],
    )
    .await?;
    Ok(())
}

/// An engine whose committed writes are signalled to this process's followers of the log.
pub struct Signalled {
    inner: Arc<dyn RegistryDb>,
    commits: watch::Sender<u64>,
}

impl Signalled {
    pub fn new(inner: Arc<dyn RegistryDb>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            commits: watch::Sender::new(0),
        })
    }
}

struct SignalledTx {
    inner: Box<dyn Tx>,
    commits: watch::Sender<u64>,
}

#[async_trait]
impl Tx for SignalledTx {
    async fn query(&mut self, sql: &str, args: Vec<Val>) -> StoreResult<Vec<Row>> {
        self.inner.query(sql, args).await
    }
    async fn execute(&mut self, sql: &str, args: Vec<Val>) -> StoreResult<u64> {
        self.inner.execute(sql, args).await
    }
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.inner.commit().await?;
        self.commits.send_modify(|n| *n += 1);
        Ok(())
    }
}

#[async_trait]
impl RegistryDb for Signalled {
    async fn begin_write(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(SignalledTx {
            inner: self.inner.begin_write().await?,
            commits: self.commits.clone(),
        }))
    }
    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>> {
        self.inner.begin_read().await
    }
}

/// Reads the log.
#[derive(Clone)]
pub struct SqlChangeLog {
    db: Arc<Signalled>,
}

impl SqlChangeLog {
    pub fn new(db: Arc<Signalled>) -> Self {
        Self { db }
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("corrupt change log entry: {what}"))
}

const COLUMNS: &str = "seq, topic, subject, kind, topic_seq, actor, timestamp_ms, detail_json";

fn limit_val(limit: usize) -> Val {
    i64::try_from(limit).unwrap_or(i64::MAX).into()
}

fn entry(r: &Row) -> StoreResult<ChangeEntry> {
    let topic = r.text(1)?;
    Ok(ChangeEntry {
        seq: r.int(0)?,
        topic: Topic::parse(&topic).ok_or_else(|| corrupt(&topic))?,
        subject: r.text(2)?,
        kind: r.text(3)?,
        topic_seq: r.int(4)?,
        actor: r.text(5)?,
        timestamp_ms: r.int(6)?,
        detail: r
            .opt_text(7)?
            .map(|t| serde_json::from_str(&t).map_err(|_| corrupt(&t)))
            .transpose()?,
    })
}

#[async_trait]
impl ChangeLogStore for SqlChangeLog {
    async fn changes(&self, after_seq: i64, limit: usize) -> StoreResult<Vec<ChangeEntry>> {
        read!(self, |tx| {
            tx.query(
                &format!("SELECT {COLUMNS} FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
                vec![after_seq.into(), limit_val(limit)],
            )
            .await?
            .iter()
            .map(entry)
            .collect()
        })
    }

    async fn subject_changes(
        &self,
        topic: Topic,
        subject: &str,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<ChangeEntry>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {COLUMNS} FROM change_log WHERE topic = $1 AND subject = $2 AND seq > $3 \
                     ORDER BY seq LIMIT $4"
                ),
                vec![
                    topic.as_str().into(),
                    subject.into(),
                    after_seq.into(),
                    limit_val(limit),
                ],
            )
            .await?
            .iter()
            .map(entry)
            .collect()
        })
    }

    async fn head(&self) -> StoreResult<i64> {
        read!(self, |tx| {
            tx.query("SELECT COALESCE(MAX(seq), 0) FROM change_log", vec![])
                .await?
                .first()
                .map_or(Ok(0), |r| r.int(0))
        })
    }

    fn commits(&self) -> watch::Receiver<u64> {
        self.db.commits.subscribe()
    }
}
