//! The tamper-evident audit log: a hash chain over canonical entries (RFC 6962 leaf hashes), Merkle roots
//! over the leaves, Ed25519-signed checkpoints in the C2SP signed-note format, and a streaming verifier.

mod chain;
mod checkpoint;
mod error;
mod keys;
mod merkle;
mod rfc3339;
mod verify;

pub use chain::{AuditEntry, chain_hash, entry_bytes, genesis, leaf_hash};
pub use checkpoint::{Checkpoint, NoteSignature, parse_note, verify_note};
pub use error::AuditError;
pub use keys::{AuditKey, AuditPublicKey, check_key_name, write_public};
pub use merkle::{CompactRange, node_hash, root_of};
pub use rfc3339::{format_ms as format_rfc3339_ms, parse_ms as parse_rfc3339_ms};
pub use verify::{Outcome, Report, StoredCheckpoint, StoredEntry, Verifier};
