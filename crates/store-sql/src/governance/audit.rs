//! Reading the audit chain and storing its signed checkpoints (entries are appended with every
//! change-log entry, in `change_log::append`).

use cairn_domain::governance::{AuditCheckpoint, AuditRow};
use cairn_store::{StoreError, StoreResult};

use super::SqlGovernance;
use crate::registry::Tx;

impl SqlGovernance {
    pub(super) async fn audit_log_id_impl(&self) -> StoreResult<String> {
        read!(self, |tx| {
            tx.query("SELECT log_id FROM audit_meta WHERE id = 1", vec![])
                .await?
                .first()
                .map(|r| r.text(0))
                .transpose()?
                .ok_or_else(|| StoreError::Internal("the audit log has no id".into()))
        })
    }

    pub(super) async fn audit_rows_impl(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<AuditRow>> {
        read!(self, |tx| {
            tx.query(
                "SELECT seq, ts_ms, actor, action, resource_kind, resource_id, entry, leaf_hash, \
                 chain_hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                vec![
                    after_seq.into(),
                    i64::try_from(limit).unwrap_or(i64::MAX).into(),
                ],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: r.int(0)?,
                    ts_ms: r.int(1)?,
                    actor: r.text(2)?,
                    action: r.text(3)?,
                    resource_kind: r.text(4)?,
                    resource_id: r.text(5)?,
                    entry: r.text(6)?,
                    leaf_hash: r.text(7)?,
                    chain_hash: r.text(8)?,
                })
            })
            .collect()
        })
    }

    pub(super) async fn audit_checkpoints_impl(&self) -> StoreResult<Vec<AuditCheckpoint>> {
        read!(self, |tx| {
            tx.query(
                "SELECT size, note, ts_ms FROM audit_checkpoints ORDER BY size",
                vec![],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(AuditCheckpoint {
                    size: r.int(0)?,
                    note: r.text(1)?,
                    ts_ms: r.int(2)?,
                })
            })
            .collect()
        })
    }

    pub(super) async fn add_checkpoint_impl(&self, c: &AuditCheckpoint) -> StoreResult<()> {
        write!(self, |tx| {
            tx.execute(
                "INSERT INTO audit_checkpoints (size, note, ts_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (size) DO NOTHING",
                vec![c.size.into(), (&c.note).into(), c.ts_ms.into()],
            )
            .await?;
            Ok(())
        })
    }
}
