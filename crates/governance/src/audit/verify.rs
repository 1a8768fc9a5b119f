//! Checks a stored copy of the audit log, streamed in seq order, against its own hashes and against the
//! signed checkpoints: what an auditor runs to learn whether rows were edited, deleted, inserted,
//! reordered or truncated since they were written.
//!
//! Hashes alone catch a careless edit; only a checkpoint signed with a key the editor doesn't hold
//! catches a log rewritten and re-hashed end to end.

use std::borrow::Cow;

use serde::Deserialize;

use super::{
    AuditPublicKey, Checkpoint, CompactRange, chain_hash, genesis, leaf_hash, parse_note,
    verify_note,
};

/// How far back in time an entry may be stamped relative to the one before: clocks of several writers
/// are not perfectly in step.
const MAX_CLOCK_SKEW_MS: i64 = 5_000;

/// One row as the store holds it: the signed entry bytes plus the columns indexed for queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: i64,
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub resource_kind: String,
    pub resource_id: String,
    pub entry: Vec<u8>,
    pub leaf_hash: Vec<u8>,
    pub chain_hash: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Intact,
    /// `seq` is the first entry found wrong (or missing), when the problem is an entry's; `None` when it
    /// is a checkpoint's own.
    Tampered {
        seq: Option<i64>,
        reason: String,
    },
    /// The rows agree with each other and with the checkpoints, but without the public key nothing
    /// shows that the checkpoints are genuine.
    CannotVerify {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub outcome: Outcome,
    /// Rows pushed.
    pub entries: u64,
    /// Checkpoints whose signature verified and whose root and chain matched the rows.
    pub checkpoints_verified: u64,
    /// The size of the last such checkpoint.
    pub last_checkpoint: Option<u64>,
    /// Entries after the last verified checkpoint: consistent, but not yet vouched for by a signature.
    pub unanchored_tail: u64,
    pub warnings: Vec<String>,
}

/// A checkpoint awaiting the moment the stream reaches its size: parsed (and, with a key, verified)
/// up front, or the reason it could not be.
#[derive(Debug)]
struct PendingCheckpoint {
    size: u64,
    parsed: Result<Checkpoint, String>,
    /// Signed by the trusted key (else compared with the log for integrity only).
    trusted: bool,
}

/// The fields of an entry the verifier compares; everything else (`detail`) is skipped unparsed.
#[derive(Deserialize)]
struct EntryFields<'a> {
    v: u32,
    #[serde(borrow)]
    log: Cow<'a, str>,
    seq: i64,
    #[serde(borrow)]
    prev: Cow<'a, str>,
    ts_ms: i64,
    #[serde(borrow)]
    actor: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    resource: Resource<'a>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
}

#[derive(Debug)]
pub struct Verifier {
    log_id: String,
    has_key: bool,
    /// Sorted by size; `next` is the first not yet reached.
    checkpoints: Vec<PendingCheckpoint>,
    next: usize,
    range: CompactRange,
    chain: [u8; 32],
    last_ts: Option<i64>,
    rows: u64,
    failure: Option<(Option<i64>, String)>,
    verified: u64,
    last_verified: Option<u64>,
    matched_unsigned: u64,
}

impl Verifier {
    /// Without `key`, checkpoints are still compared with the rows, but the outcome can at best be
    /// [`Outcome::CannotVerify`].
    pub fn new(
        log_id: &str,
        key: Option<AuditPublicKey>,
        mut checkpoints: Vec<StoredCheckpoint>,
    ) -> Self {
        checkpoints.sort_by_key(|c| c.size);
        let checkpoints = checkpoints
            .into_iter()
            .map(|c| {
                // A note with no signature under the trusted key's name was signed by another key (a
                // server of a scale-out deployment with a key of its own): it is compared with the log
                // like an unsigned one, but vouches for nothing. One that names the trusted key must
                // verify under it (another key under that name is a forgery).
                let ours = key.as_ref().is_some_and(|key| {
                    parse_note(&c.note)
                        .is_ok_and(|(_, sigs)| sigs.iter().any(|s| s.key_name == key.name))
                });
                let parsed = match &key {
                    Some(key) if ours => verify_note(&c.note, key),
                    _ => parse_note(&c.note).map(|(cp, _)| cp),
                };
                let parsed = parsed
                    .map_err(|e| format!("checkpoint at size {}: {e}", c.size))
                    .and_then(|cp| check_header(&cp, c.size, log_id).map(|()| cp));
                PendingCheckpoint {
                    size: c.size,
                    parsed,
                    trusted: ours,
                }
            })
            .collect();
        let mut verifier = Verifier {
            log_id: log_id.to_owned(),
            has_key: key.is_some(),
            checkpoints,
            next: 0,
            range: CompactRange::new(),
            chain: genesis(log_id),
            last_ts: None,
            rows: 0,
            failure: None,
            verified: 0,
            last_verified: None,
            matched_unsigned: 0,
        };
        verifier.settle_checkpoints();
        verifier
    }

    /// Checks one row (rows must be fed in the order the store returns them by seq); the first failure
    /// is kept and later rows ignored.
    pub fn push(&mut self, row: &StoredEntry) {
        self.rows += 1;
        if self.failure.is_some() {
            return;
        }
        if let Err((seq, reason)) = self.check_row(row) {
            self.failure = Some((Some(seq), reason));
            return;
        }
        self.settle_checkpoints();
    }

    pub fn finish(mut self) -> Report {
        let entries = self.rows;
        if self.failure.is_none()
            && let Some(cp) = self.checkpoints.get(self.next)
        {
            self.failure = Some((
                Some(self.range.size() as i64 + 1),
                format!(
                    "truncated: checkpoint at size {} but the log has {} entries",
                    cp.size,
                    self.range.size()
                ),
            ));
        }
        let mut warnings = Vec::new();
        let outcome = match (self.failure, self.has_key) {
            (Some((seq, reason)), _) => Outcome::Tampered { seq, reason },
            (None, false) => {
                if self.matched_unsigned > 0 {
                    warnings.push(format!(
                        "{} checkpoints match the log, but their signatures were not checked",
                        self.matched_unsigned
                    ));
                }
                Outcome::CannotVerify {
                    reason: "no public key to check the checkpoint signatures with; the rows are \
                             consistent with each other and with the stored checkpoints"
                        .into(),
                }
            }
            (None, true) => {
                if self.matched_unsigned > 0 {
                    warnings.push(format!(
                        "{} checkpoint(s) signed by other keys match the log but are not trusted",
                        self.matched_unsigned
                    ));
                }
                if self.verified == 0 && entries > 0 {
                    warnings.push(format!(
                        "no checkpoints: none of the {entries} entries is anchored by a signature, so \
                         a consistent rewrite of the whole log would go unnoticed"
                    ));
                }
                Outcome::Intact
            }
        };
        Report {
            outcome,
            entries,
            checkpoints_verified: self.verified,
            last_checkpoint: self.last_verified,
            unanchored_tail: entries.saturating_sub(self.last_verified.unwrap_or(0)),
            warnings,
        }
    }

    fn check_row(&mut self, row: &StoredEntry) -> Result<(), (i64, String)> {
        let expected = self.range.size() as i64 + 1;
        if row.seq > expected {
            return Err((
                expected,
                format!(
                    "seq {expected} is missing (the next row is seq {}): entries were deleted or \
                     reordered",
                    row.seq
                ),
            ));
        }
        if row.seq < expected {
            return Err((
                row.seq,
                format!(
                    "seq {} appears where seq {expected} was expected: an entry was inserted or rows \
                     were reordered",
                    row.seq
                ),
            ));
        }
        let seq = row.seq;
        let fail = |reason: String| Err((seq, reason));

        let leaf = leaf_hash(&row.entry);
        if row.leaf_hash != leaf {
            return fail(
                "the entry bytes do not hash to the stored leaf hash: the entry was edited".into(),
            );
        }
        let fields: EntryFields<'_> = match serde_json::from_slice(&row.entry) {
            Ok(f) => f,
            Err(e) => return fail(format!("the entry is not a valid audit entry: {e}")),
        };
        if fields.v != 1 {
            return fail(format!("unknown entry version {}", fields.v));
        }
        if fields.seq != seq {
            return fail(format!(
                "the entry says seq {} but is stored as seq {seq}: rows were moved",
                fields.seq
            ));
        }
        if fields.log != self.log_id {
            return fail(format!(
                "the entry belongs to log {:?}, not {:?}",
                fields.log, self.log_id
            ));
        }
        let mut prev = [0u8; 32];
        if hex::decode_to_slice(fields.prev.as_bytes(), &mut prev).is_err() || prev != self.chain {
            return fail(
                "the entry's prev is not the chain hash before it: an earlier entry was changed, \
                 removed or inserted"
                    .into(),
            );
        }
        let columns: [(&str, &str, &str); 4] = [
            ("actor", &row.actor, &fields.actor),
            ("action", &row.action, &fields.action),
            ("resource_kind", &row.resource_kind, &fields.resource.kind),
            ("resource_id", &row.resource_id, &fields.resource.id),
        ];
        for (column, stored, signed) in columns {
            if stored != signed {
                return fail(format!(
                    "column {column} is {stored:?} but the entry says {signed:?}: the column was edited"
                ));
            }
        }
        if row.ts_ms != fields.ts_ms {
            return fail(format!(
                "column ts_ms is {} but the entry says {}: the column was edited",
                row.ts_ms, fields.ts_ms
            ));
        }
        let chain = chain_hash(&self.chain, &leaf);
        if row.chain_hash != chain {
            return fail(
                "the stored chain hash is not SHA-256(0x02 ‖ previous chain ‖ leaf): the chain \
                 column was edited"
                    .into(),
            );
        }
        if let Some(last) = self.last_ts
            && fields.ts_ms < last - MAX_CLOCK_SKEW_MS
        {
            return fail(format!(
                "the entry's time goes back {} ms from the one before: entries were reordered",
                last - fields.ts_ms
            ));
        }
        self.last_ts = Some(self.last_ts.map_or(fields.ts_ms, |t| t.max(fields.ts_ms)));
        self.chain = chain;
        self.range.push(leaf);
        Ok(())
    }

    /// Compares every checkpoint at the current size with the running root and chain.
    fn settle_checkpoints(&mut self) {
        let size = self.range.size();
        while self.failure.is_none() {
            let Some(pending) = self.checkpoints.get(self.next).filter(|p| p.size <= size) else {
                return;
            };
            let parsed = pending.parsed.clone();
            let trusted = pending.trusted;
            self.next += 1;
            let cp = match parsed {
                Ok(cp) => cp,
                Err(reason) => {
                    self.failure = Some((None, reason));
                    return;
                }
            };
            let root = self.range.root();
            let what = match (cp.root != root, cp.chain != self.chain) {
                (false, false) => None,
                (true, true) => Some("Merkle root and chain hash"),
                (true, false) => Some("Merkle root"),
                (false, true) => Some("chain hash"),
            };
            if let Some(what) = what {
                self.failure = Some((
                    Some(size as i64),
                    format!(
                        "entries 1..={size} do not match the checkpoint signed at size {size} (its \
                         {what} differs): the log was rewritten"
                    ),
                ));
                return;
            }
            if trusted {
                self.verified += 1;
                self.last_verified = Some(size);
            } else {
                self.matched_unsigned += 1;
            }
        }
    }
}

/// A checkpoint must be for this log and claim the size it is stored under.
fn check_header(cp: &Checkpoint, stored_size: u64, log_id: &str) -> Result<(), String> {
    if cp.log_id != log_id {
        return Err(format!(
            "checkpoint at size {stored_size} is for log {:?}, not {log_id:?}",
            cp.log_id
        ));
    }
    if cp.size != stored_size {
        return Err(format!(
            "checkpoint stored at size {stored_size} says size {}",
            cp.size
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
