//! One entry's canonical bytes and the hashes that link it to the one before.
//!
//! `leaf = SHA-256(0x00 ‖ entry)` (an RFC 6962 leaf), `chain_n = SHA-256(0x02 ‖ chain_{n-1} ‖ leaf_n)`,
//! `chain_0 = SHA-256("cairn-audit-v1\n" ‖ log id)`. The entry bytes are written once and stored; a
//! verifier hashes the stored bytes and never re-serialises them.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// What one governed change was, as the audit log records it.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub log_id: &'a str,
    pub seq: i64,
    pub prev: [u8; 32],
    pub ts_ms: i64,
    pub actor: &'a str,
    /// `<topic>.<kind>`, e.g. `registry.alias_set`.
    pub action: &'a str,
    pub resource_kind: &'a str,
    pub resource_id: &'a str,
    pub detail: Option<&'a Value>,
}

/// The chain's value before its first entry.
pub fn genesis(log_id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"cairn-audit-v1\n");
    h.update(log_id.as_bytes());
    h.finalize().into()
}

/// The canonical bytes of an entry: JSON with sorted keys (serde_json's map is ordered) and no
/// insignificant whitespace.
pub fn entry_bytes(e: &AuditEntry<'_>) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("v".into(), json!(1));
    m.insert("log".into(), json!(e.log_id));
    m.insert("seq".into(), json!(e.seq));
    m.insert("prev".into(), json!(hex::encode(e.prev)));
    m.insert("ts_ms".into(), json!(e.ts_ms));
    m.insert("actor".into(), json!(e.actor));
    m.insert("action".into(), json!(e.action));
    m.insert(
        "resource".into(),
        json!({"kind": e.resource_kind, "id": e.resource_id}),
    );
    if let Some(d) = e.detail {
        m.insert("detail".into(), sorted(d));
    }
    serde_json::to_vec(&sorted(&Value::Object(m))).expect("a JSON value serialises")
}

/// A copy of `v` whose objects list their keys in order, whatever map the caller built it with.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&o[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

pub fn chain_hash(prev: &[u8; 32], leaf: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([2u8]);
    h.update(prev);
    h.update(leaf);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_canonical_and_chained() {
        let detail = json!({"b": 1, "a": {"d": 2, "c": 3}});
        let e = AuditEntry {
            log_id: "log",
            seq: 1,
            prev: genesis("log"),
            ts_ms: 5,
            actor: "alice",
            action: "registry.alias_set",
            resource_kind: "registry",
            resource_id: "fraud",
            detail: Some(&detail),
        };
        let bytes = entry_bytes(&e);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r#""detail":{"a":{"c":3,"d":2},"b":1}"#),
            "{text}"
        );
        assert_eq!(entry_bytes(&e), bytes);
        let leaf = leaf_hash(&bytes);
        assert_ne!(
            chain_hash(&genesis("log"), &leaf),
            chain_hash(&genesis("other"), &leaf)
        );
    }
}
