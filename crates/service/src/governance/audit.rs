//! The audit chain's signed checkpoints and its verification. Entries are chained by the store with
//! every change; this side signs what was chained (the key never enters the database) and checks a
//! copy against those signatures.

use std::path::PathBuf;
use std::sync::Arc;

use cairn_domain::governance::{AuditCheckpoint, AuditRow};
use cairn_domain::time::now_millis;
use cairn_governance::audit::{
    AuditKey, AuditPublicKey, Checkpoint, CompactRange, Outcome, Report, StoredCheckpoint,
    StoredEntry, Verifier,
};
use cairn_store::GovernanceStore;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::{ServiceError, ServiceResult};

const BATCH: usize = 10_000;

/// What `cairn audit verify` reports.
#[derive(Debug, Clone, Serialize)]
pub struct AuditVerification {
    /// `intact`, `tampered` or `cannot_verify`.
    pub outcome: &'static str,
    /// The first bad entry, when tampered.
    pub seq: Option<i64>,
    pub reason: Option<String>,
    pub entries: u64,
    pub checkpoints_verified: u64,
    pub last_checkpoint: Option<u64>,
    pub unanchored_tail: u64,
    pub warnings: Vec<String>,
}

impl From<Report> for AuditVerification {
    fn from(r: Report) -> Self {
        let (outcome, seq, reason) = match r.outcome {
            Outcome::Intact => ("intact", None, None),
            Outcome::Tampered { seq, reason } => ("tampered", seq, Some(reason)),
            Outcome::CannotVerify { reason } => ("cannot_verify", None, Some(reason)),
        };
        Self {
            outcome,
            seq,
            reason,
            entries: r.entries,
            checkpoints_verified: r.checkpoints_verified,
            last_checkpoint: r.last_checkpoint,
            unanchored_tail: r.unanchored_tail,
            warnings: r.warnings,
        }
    }
}

fn stored(row: AuditRow) -> StoredEntry {
    StoredEntry {
        seq: row.seq,
        ts_ms: row.ts_ms,
        actor: row.actor,
        action: row.action,
        resource_kind: row.resource_kind,
        resource_id: row.resource_id,
        entry: row.entry.into_bytes(),
        leaf_hash: hex::decode(&row.leaf_hash).unwrap_or_default(),
        chain_hash: hex::decode(&row.chain_hash).unwrap_or_default(),
    }
}

/// Verifies the chain in `store` against its checkpoints and `anchors` (checkpoint notes kept
/// elsewhere), with `key` (none: integrity only, and the outcome cannot be "intact").
pub async fn verify_rows(
    store: &dyn GovernanceStore,
    key: Option<AuditPublicKey>,
    anchors: Vec<String>,
) -> ServiceResult<AuditVerification> {
    let log_id = store.audit_log_id().await?;
    let mut checkpoints: Vec<StoredCheckpoint> = store
        .audit_checkpoints()
        .await?
        .into_iter()
        .map(|c| StoredCheckpoint {
            size: u64::try_from(c.size).unwrap_or(0),
            note: c.note,
        })
        .collect();
    for note in anchors {
        let size = cairn_governance::audit::parse_note(&note)
            .map(|(c, _)| c.size)
            .map_err(|e| ServiceError::InvalidArgument(format!("an anchor note: {e}")))?;
        if !checkpoints.iter().any(|c| c.size == size && c.note == note) {
            checkpoints.push(StoredCheckpoint { size, note });
        }
    }
    let mut verifier = Verifier::new(&log_id, key, checkpoints);
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        let n = rows.len();
        for row in rows {
            verifier.push(&stored(row));
        }
        if n < BATCH {
            break;
        }
    }
    Ok(verifier.finish().into())
}

/// Signs checkpoints of the chain as it grows: keeps the Merkle frontier in memory and reads only the
/// entries added since the last checkpoint.
#[derive(Clone)]
pub struct Checkpointer {
    store: Arc<dyn GovernanceStore>,
    key: Arc<AuditKey>,
    /// Where each note is also written (outside the database), if anywhere.
    anchor_dir: Option<PathBuf>,
    state: Arc<Mutex<Frontier>>,
}

struct Frontier {
    range: CompactRange,
    chain: [u8; 32],
    last_seq: i64,
}

impl Checkpointer {
    pub fn new(
        store: Arc<dyn GovernanceStore>,
        key: AuditKey,
        anchor_dir: Option<PathBuf>,
    ) -> Self {
        Self {
            store,
            key: Arc::new(key),
            anchor_dir,
            state: Arc::new(Mutex::new(Frontier {
                range: CompactRange::new(),
                chain: [0; 32],
                last_seq: 0,
            })),
        }
    }

    pub fn public_key(&self) -> AuditPublicKey {
        self.key.public()
    }

    /// Signs a checkpoint over every entry so far, unless one already covers them; returns it.
    pub async fn checkpoint(&self) -> ServiceResult<Option<AuditCheckpoint>> {
        let mut f = self.state.lock().await;
        let log_id = self.store.audit_log_id().await?;
        loop {
            let rows = self.store.audit_rows(f.last_seq, BATCH).await?;
            let n = rows.len();
            for row in rows {
                let leaf: [u8; 32] = hex::decode(&row.leaf_hash)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| {
                        ServiceError::Internal(format!("audit entry {}: bad leaf hash", row.seq))
                    })?;
                let chain: [u8; 32] = hex::decode(&row.chain_hash)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| {
                        ServiceError::Internal(format!("audit entry {}: bad chain hash", row.seq))
                    })?;
                f.range.push(leaf);
                f.chain = chain;
                f.last_seq = row.seq;
            }
            if n < BATCH {
                break;
            }
        }
        let size = f.range.size();
        if size == 0 {
            return Ok(None);
        }
        // Only this key's checkpoints count: servers sharing the database may sign with keys of their own.
        let name = self.key.name().to_owned();
        let covered = self.store.audit_checkpoints().await?.iter().any(|c| {
            c.size as u64 >= size
                && cairn_governance::audit::parse_note(&c.note)
                    .is_ok_and(|(_, sigs)| sigs.iter().any(|s| s.key_name == name))
        });
        if covered {
            return Ok(None);
        }
        let now = now_millis();
        let note = Checkpoint {
            log_id,
            size,
            root: f.range.root(),
            chain: f.chain,
            time_ms: now,
        }
        .sign(&self.key);
        let cp = AuditCheckpoint {
            size: size as i64,
            note,
            ts_ms: now,
        };
        self.store.add_checkpoint(&cp).await?;
        if let Some(dir) = &self.anchor_dir {
            let path = dir.join(format!("{size:012}.note"));
            let write = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &cp.note));
            if let Err(e) = write {
                tracing::warn!(path = %path.display(), error = %e, "writing an audit anchor");
            }
        }
        Ok(Some(cp))
    }
}
