//! The control plane's change log on SQL: [`append`] writes an entry inside the caller's transaction (the
//! registry's and the deployments' writes call it beside their own event), [`SqlChangeLog`] reads it, and
//! [`Signalled`] wraps an engine so that every committed write wakes this process's followers.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::change_log::{ChangeEntry, NewChange, Topic};
use cairn_governance::audit;
use cairn_store::{ChangeLogStore, StoreError, StoreResult};
use tokio::sync::watch;

use crate::registry::{RegistryDb, Row, Tx, Val};

/// Appends `change` to the log in `tx`, and chains it into the audit log in the same transaction.
/// Writers hold the registry's write lock, so sequence numbers follow commit order and a follower
/// reading "after N" never misses an entry committed later.
pub(crate) async fn append(tx: &mut dyn Tx, change: NewChange<'_>) -> StoreResult<()> {
    chain(tx, &change).await?;
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

/// Appends the audit entry of `change`: seq = head + 1, linked to the head's chain hash. The caller holds
/// the control plane's write lock, so the head cannot move under it.
async fn chain(tx: &mut dyn Tx, change: &NewChange<'_>) -> StoreResult<()> {
    let head = tx
        .query(
            "SELECT m.log_id, a.seq, a.chain_hash FROM audit_meta m LEFT JOIN \
             (SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1) a ON 1 = 1",
            vec![],
        )
        .await?;
    let head = head.first().ok_or_else(|| {
        StoreError::Internal("the audit log has no id (audit_meta is empty)".into())
    })?;
    let log_id = head.text(0)?;
    let (seq, prev) = match head.opt_int(1)? {
        Some(seq) => {
            let hex_hash = head.text(2)?;
            let prev: [u8; 32] = hex::decode(&hex_hash)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    StoreError::Internal(format!("audit entry {seq}: bad chain hash"))
                })?;
            (seq + 1, prev)
        }
        None => (1, audit::genesis(&log_id)),
    };
    let action = format!("{}.{}", change.topic.as_str(), change.kind);
    let detail = match &change.detail {
        Some(d) if change.topic_seq != 0 => {
            let mut d = d.clone();
            if let Some(o) = d.as_object_mut() {
                o.insert("topic_seq".into(), change.topic_seq.into());
            }
            Some(d)
        }
        other => other.clone(),
    };
    let entry = audit::entry_bytes(&audit::AuditEntry {
        log_id: &log_id,
        seq,
        prev,
        ts_ms: change.timestamp_ms,
        actor: change.actor,
        action: &action,
        resource_kind: change.topic.as_str(),
        resource_id: change.subject,
        detail: detail.as_ref(),
    });
    let leaf = audit::leaf_hash(&entry);
    let chained = audit::chain_hash(&prev, &leaf);
    tx.execute(
        "INSERT INTO audit_log (seq, ts_ms, actor, action, resource_kind, resource_id, entry, leaf_hash, \
         chain_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            seq.into(),
            change.timestamp_ms.into(),
            change.actor.into(),
            action.into(),
            change.topic.as_str().into(),
            change.subject.into(),
            String::from_utf8(entry)
                .map_err(|_| StoreError::Internal("audit entry is not UTF-8".into()))?
                .into(),
            hex::encode(leaf).into(),
            hex::encode(chained).into(),
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
