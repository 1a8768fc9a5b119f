//! The verifier against a real log and each way of tampering with its stored copy.

use serde_json::json;

use super::*;
use crate::audit::{AuditEntry, AuditKey, entry_bytes, root_of};

const LOG: &str = "prod";
const START_MS: i64 = 1_796_670_000_000;

/// What one entry says, before hashing.
#[derive(Clone)]
struct Spec {
    ts_ms: i64,
    actor: String,
    action: String,
    kind: String,
    id: String,
}

fn specs(n: i64) -> Vec<Spec> {
    (1..=n)
        .map(|seq| Spec {
            ts_ms: START_MS + seq * 1000,
            actor: if seq % 3 == 0 { "bob" } else { "alice" }.into(),
            action: "registry.alias_set".into(),
            kind: "model".into(),
            id: format!("fraud-{seq}"),
        })
        .collect()
}

/// Rows hashed and chained exactly as the server writes them.
fn rows_from(specs: &[Spec]) -> Vec<StoredEntry> {
    let mut prev = genesis(LOG);
    let mut rows = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let seq = i as i64 + 1;
        let detail = json!({"alias": "prod", "note": format!("entry \"{seq}\"\n")});
        let bytes = entry_bytes(&AuditEntry {
            log_id: LOG,
            seq,
            prev,
            ts_ms: s.ts_ms,
            actor: &s.actor,
            action: &s.action,
            resource_kind: &s.kind,
            resource_id: &s.id,
            detail: (seq % 2 == 0).then_some(&detail),
        });
        let leaf = leaf_hash(&bytes);
        let chain = chain_hash(&prev, &leaf);
        rows.push(StoredEntry {
            seq,
            ts_ms: s.ts_ms,
            actor: s.actor.clone(),
            action: s.action.clone(),
            resource_kind: s.kind.clone(),
            resource_id: s.id.clone(),
            entry: bytes,
            leaf_hash: leaf.to_vec(),
            chain_hash: chain.to_vec(),
        });
        prev = chain;
    }
    rows
}

/// Checkpoints over the first `size` rows, as the server signs them.
fn checkpoints(rows: &[StoredEntry], sizes: &[u64], key: &AuditKey) -> Vec<StoredCheckpoint> {
    sizes
        .iter()
        .map(|&size| {
            let n = size as usize;
            let leaves: Vec<[u8; 32]> = rows[..n]
                .iter()
                .map(|r| r.leaf_hash.clone().try_into().unwrap())
                .collect();
            let chain = if n == 0 {
                genesis(LOG)
            } else {
                rows[n - 1].chain_hash.clone().try_into().unwrap()
            };
            let cp = Checkpoint {
                log_id: LOG.into(),
                size,
                root: root_of(&leaves),
                chain,
                time_ms: START_MS + size as i64 * 1000,
            };
            StoredCheckpoint {
                size,
                note: cp.sign(key),
            }
        })
        .collect()
}

struct Fixture {
    key: AuditKey,
    rows: Vec<StoredEntry>,
    checkpoints: Vec<StoredCheckpoint>,
}

fn fixture() -> Fixture {
    let key = AuditKey::generate("cairn.example");
    let rows = rows_from(&specs(50));
    let checkpoints = checkpoints(&rows, &[20, 50], &key);
    Fixture {
        key,
        rows,
        checkpoints,
    }
}

fn verify(
    rows: &[StoredEntry],
    key: Option<&AuditKey>,
    checkpoints: &[StoredCheckpoint],
) -> Report {
    let mut v = Verifier::new(LOG, key.map(AuditKey::public), checkpoints.to_vec());
    for row in rows {
        v.push(row);
    }
    v.finish()
}

/// Asserts the outcome is Tampered at `seq` with a reason containing `words`.
#[track_caller]
fn assert_tampered(report: &Report, seq: Option<i64>, words: &str) {
    match &report.outcome {
        Outcome::Tampered { seq: found, reason } => {
            assert_eq!(*found, seq, "{reason}");
            assert!(reason.contains(words), "{reason:?} lacks {words:?}");
        }
        other => panic!("expected tampering at {seq:?}, got {other:?}"),
    }
}

#[test]
fn an_untouched_log_is_intact() {
    let f = fixture();
    let report = verify(&f.rows, Some(&f.key), &f.checkpoints);
    assert_eq!(
        report,
        Report {
            outcome: Outcome::Intact,
            entries: 50,
            checkpoints_verified: 2,
            last_checkpoint: Some(50),
            unanchored_tail: 0,
            warnings: vec![],
        }
    );
    // Checkpoints may be handed over in any order.
    let mut reversed = f.checkpoints.clone();
    reversed.reverse();
    let report = verify(&f.rows[..], Some(&f.key), &reversed[1..]);
    assert_eq!(report.outcome, Outcome::Intact);
    assert_eq!(
        (
            report.checkpoints_verified,
            report.last_checkpoint,
            report.unanchored_tail
        ),
        (1, Some(20), 30)
    );
}

#[test]
fn edited_entry_bytes() {
    let mut f = fixture();
    let text = String::from_utf8(f.rows[6].entry.clone()).unwrap();
    f.rows[6].entry = text.replace("alice", "mallory").into_bytes();
    assert_tampered(
        &verify(&f.rows, Some(&f.key), &f.checkpoints),
        Some(7),
        "entry was edited",
    );
}

#[test]
fn edited_leaf_column() {
    let mut f = fixture();
    f.rows[7].leaf_hash[0] ^= 1;
    assert_tampered(
        &verify(&f.rows, Some(&f.key), &f.checkpoints),
        Some(8),
        "leaf hash",
    );
}

#[test]
fn edited_chain_column() {
    let mut f = fixture();
    f.rows[8].chain_hash[31] ^= 1;
    assert_tampered(
        &verify(&f.rows, Some(&f.key), &f.checkpoints),
        Some(9),
        "chain column",
    );
}

#[test]
fn edited_indexed_columns_only() {
    let f = fixture();
    type Edit = fn(&mut StoredEntry);
    let edits: [(&str, Edit); 5] = [
        ("column actor", |r| r.actor = "mallory".into()),
        ("column action", |r| {
            r.action = "registry.alias_removed".into()
        }),
        ("column resource_kind", |r| {
            r.resource_kind = "dataset".into()
        }),
        ("column resource_id", |r| r.resource_id = "other".into()),
        ("column ts_ms", |r| r.ts_ms += 1),
    ];
    for (words, edit) in edits {
        let mut rows = f.rows.clone();
        edit(&mut rows[9]);
        assert_tampered(
            &verify(&rows, Some(&f.key), &f.checkpoints),
            Some(10),
            words,
        );
    }
}

#[test]
fn deleted_row() {
    let mut f = fixture();
    f.rows.remove(11);
    assert_tampered(
        &verify(&f.rows, Some(&f.key), &f.checkpoints),
        Some(12),
        "seq 12 is missing",
    );
}

#[test]
fn inserted_row() {
    let f = fixture();
    // A duplicate seq, as if the unique index had been dropped.
    let mut rows = f.rows.clone();
    rows.insert(13, rows[12].clone());
    assert_tampered(
        &verify(&rows, Some(&f.key), &f.checkpoints),
        Some(13),
        "inserted",
    );

    // A well-formed entry slipped in after seq 12 and the rest renumbered: the forged row hashes
    // fine, the next one no longer does.
    let mut s = specs(50);
    s.insert(
        12,
        Spec {
            actor: "mallory".into(),
            ..s[12].clone()
        },
    );
    let mut rows = rows_from(&s[..13]);
    for old in &f.rows[12..] {
        rows.push(StoredEntry {
            seq: old.seq + 1,
            ..old.clone()
        });
    }
    assert_tampered(
        &verify(&rows, Some(&f.key), &f.checkpoints),
        Some(14),
        "says seq 13",
    );
}

#[test]
fn swapped_rows() {
    let mut f = fixture();
    let (a, b) = (f.rows[14].clone(), f.rows[15].clone());
    f.rows[14] = StoredEntry { seq: 15, ..b };
    f.rows[15] = StoredEntry { seq: 16, ..a };
    assert_tampered(
        &verify(&f.rows, Some(&f.key), &f.checkpoints),
        Some(15),
        "says seq 16",
    );

    // Out of seq order in the stream.
    let mut rows = fixture().rows;
    rows.swap(14, 15);
    assert_tampered(
        &verify(&rows, Some(&f.key), &f.checkpoints),
        Some(15),
        "missing",
    );
}

#[test]
fn truncated_after_a_checkpoint() {
    let f = fixture();
    let report = verify(&f.rows[..45], Some(&f.key), &f.checkpoints);
    assert_tampered(
        &report,
        Some(46),
        "truncated: checkpoint at size 50 but the log has 45 entries",
    );
    assert_eq!(report.entries, 45);
}

#[test]
fn rewritten_and_rehashed_without_the_key() {
    let f = fixture();
    let mut s = specs(50);
    s[4].actor = "mallory".into();
    let rows = rows_from(&s);
    // Every hash agrees with its row; only the signed checkpoints give the rewrite away.
    assert_eq!(verify(&rows, Some(&f.key), &[]).outcome, Outcome::Intact);
    assert_tampered(
        &verify(&rows, Some(&f.key), &f.checkpoints),
        Some(20),
        "checkpoint signed at size 20",
    );
}

#[test]
fn forged_checkpoint_signed_by_another_key() {
    let f = fixture();
    let mut s = specs(50);
    s[30].actor = "mallory".into();
    let rows = rows_from(&s);
    let impostor = AuditKey::generate("cairn.example");
    let mut forged = f.checkpoints.clone();
    forged[1] = checkpoints(&rows, &[50], &impostor).remove(0);
    assert_tampered(
        &verify(&rows, Some(&f.key), &forged),
        None,
        "checkpoint at size 50",
    );
    assert_tampered(&verify(&f.rows, Some(&f.key), &forged), None, "signature");
}

#[test]
fn checkpoint_for_another_log_or_size() {
    let f = fixture();
    let mut cps = f.checkpoints.clone();
    let other_log = Checkpoint {
        log_id: "staging".into(),
        ..parse_note(&f.checkpoints[0].note).unwrap().0
    };
    cps[0].note = other_log.sign(&f.key);
    assert_tampered(
        &verify(&f.rows, Some(&f.key), &cps),
        None,
        "for log \"staging\"",
    );

    let mut cps = f.checkpoints.clone();
    cps[0].size = 21;
    assert_tampered(&verify(&f.rows, Some(&f.key), &cps), None, "says size 20");
}

#[test]
fn time_may_not_run_backwards_beyond_skew() {
    let f = fixture();
    let mut s = specs(50);
    s[24].ts_ms = s[23].ts_ms - 4_000; // within the skew
    assert_eq!(
        verify(&rows_from(&s), Some(&f.key), &[]).outcome,
        Outcome::Intact
    );
    s[24].ts_ms = s[23].ts_ms - 6_000;
    assert_tampered(
        &verify(&rows_from(&s), Some(&f.key), &[]),
        Some(25),
        "time goes back",
    );
}

#[test]
fn without_a_key_nothing_is_vouched_for() {
    let f = fixture();
    let report = verify(&f.rows, None, &f.checkpoints);
    assert!(
        matches!(report.outcome, Outcome::CannotVerify { .. }),
        "{report:?}"
    );
    assert_eq!(
        (report.checkpoints_verified, report.unanchored_tail),
        (0, 50)
    );
    assert_eq!(report.warnings.len(), 1);

    // Integrity failures need no key.
    let mut rows = f.rows.clone();
    rows[2].actor = "mallory".into();
    assert_tampered(
        &verify(&rows, None, &f.checkpoints),
        Some(3),
        "column actor",
    );
    let mut s = specs(50);
    s[4].actor = "mallory".into();
    assert_tampered(
        &verify(&rows_from(&s), None, &f.checkpoints),
        Some(20),
        "checkpoint signed at size 20",
    );
}

#[test]
fn a_key_without_checkpoints_warns() {
    let f = fixture();
    let report = verify(&f.rows, Some(&f.key), &[]);
    assert_eq!(report.outcome, Outcome::Intact);
    assert_eq!(
        (report.checkpoints_verified, report.unanchored_tail),
        (0, 50)
    );
    assert!(
        report.warnings[0].contains("no checkpoints"),
        "{:?}",
        report.warnings
    );

    let empty = verify(&[], Some(&f.key), &[]);
    assert_eq!(empty.outcome, Outcome::Intact);
    assert!(empty.warnings.is_empty());
}

#[test]
fn garbage_rows_are_reported_not_panicked_on() {
    let f = fixture();
    let mut rows = f.rows.clone();
    rows[0].entry = b"not json".to_vec();
    rows[0].leaf_hash = leaf_hash(&rows[0].entry).to_vec();
    assert_tampered(
        &verify(&rows, Some(&f.key), &[]),
        Some(1),
        "not a valid audit entry",
    );
    let mut rows = f.rows.clone();
    rows[0].leaf_hash.clear();
    assert_tampered(&verify(&rows, Some(&f.key), &[]), Some(1), "leaf hash");
    let cps = vec![StoredCheckpoint {
        size: 3,
        note: "garbage".into(),
    }];
    assert_tampered(
        &verify(&f.rows, Some(&f.key), &cps),
        None,
        "checkpoint at size 3",
    );
}

/// Streams many entries to show the cost stays linear; run with
/// `cargo test --release -p cairn-governance -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let n = 1_000_000;
    let rows = rows_from(&specs(n));
    let key = AuditKey::generate("cairn");
    let cps = checkpoints(&rows, &[n as u64 / 2], &key);
    let start = std::time::Instant::now();
    let report = verify(&rows, Some(&key), &cps);
    println!("verified {n} entries in {:?}", start.elapsed());
    assert_eq!(report.outcome, Outcome::Intact);
}
