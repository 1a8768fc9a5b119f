//! Signed checkpoints: the log's size, Merkle root and chain value at one moment, in the C2SP
//! signed-note format (<https://c2sp.org/signed-note>, <https://c2sp.org/tlog-checkpoint>), so a copy of
//! the log can later be checked against what the server once vouched for.
//!
//! ```text
//! cairn/<log id>
//! <tree size>
//! <base64 root>
//! chain <hex chain hash>
//! time <RFC 3339 UTC>
//!
//! — <key name> <base64(key hash ‖ Ed25519 signature)>
//! ```
//!
//! The signature covers the text up to and including the newline after the `time` line.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signature;

use super::rfc3339;
use super::{AuditError, AuditKey, AuditPublicKey};

const ORIGIN_PREFIX: &str = "cairn/";
/// An em dash (U+2014) and a space start every signature line.
const SIG_PREFIX: &str = "\u{2014} ";
/// Go's reference implementation refuses notes with more signatures than this; so do we.
const MAX_SIGNATURES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Must not contain a newline; the note's first line is `cairn/<log_id>`.
    pub log_id: String,
    pub size: u64,
    /// The RFC 6962 root of the first `size` leaves.
    pub root: [u8; 32],
    /// The chain hash after entry `size` (the genesis value when `size` is 0).
    pub chain: [u8; 32],
    pub time_ms: i64,
}

/// One `— <name> <base64>` line of a note, decoded. Lines whose payload is not 4 + 64 bytes (other
/// algorithms, cosignatures) are skipped, as signed-note readers must ignore signatures they don't know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub key_name: String,
    pub key_hash: [u8; 4],
    pub signature: [u8; 64],
}

impl Checkpoint {
    /// The signed text, ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{ORIGIN_PREFIX}{}\n{}\n{}\nchain {}\ntime {}\n",
            self.log_id,
            self.size,
            B64.encode(self.root),
            hex::encode(self.chain),
            rfc3339::format_ms(self.time_ms)
        )
    }

    /// The whole note: the body, a blank line and one signature line.
    pub fn sign(&self, key: &AuditKey) -> String {
        sign_text(&self.body(), key)
    }

    fn parse_body(text: &str) -> Result<Checkpoint, AuditError> {
        let bad = |reason: String| AuditError::format("checkpoint", reason);
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .unwrap_or(text)
            .split('\n')
            .collect();
        let [origin, size, root, chain, time] = lines[..] else {
            return Err(bad(format!(
                "expected 5 lines (origin, size, root, chain, time), found {}",
                lines.len()
            )));
        };
        let log_id = origin
            .strip_prefix(ORIGIN_PREFIX)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| bad(format!("origin {origin:?} is not cairn/<log id>")))?;
        let canonical = size == "0" || !size.starts_with('0');
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical && size.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad(format!("size {size:?} is not a decimal number")))?;
        let root: [u8; 32] = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad(format!("root {root:?} is not 32 bytes of base64")))?;
        let mut chain_hash = [0u8; 32];
        let chain_hex = chain
            .strip_prefix("chain ")
            .ok_or_else(|| bad(format!("expected `chain <hex>`, found {chain:?}")))?;
        hex::decode_to_slice(chain_hex, &mut chain_hash)
            .map_err(|_| bad(format!("chain {chain_hex:?} is not 32 bytes of hex")))?;
        let time = time
            .strip_prefix("time ")
            .ok_or_else(|| bad(format!("expected `time <RFC 3339>`, found {time:?}")))?;
        Ok(Checkpoint {
            log_id: log_id.to_owned(),
            size,
            root,
            chain: chain_hash,
            time_ms: rfc3339::parse_ms(time)?,
        })
    }
}

/// `text` (which must end in a newline) followed by a blank line and `key`'s signature line.
fn sign_text(text: &str, key: &AuditKey) -> String {
    let signature = key.sign_bytes(text.as_bytes());
    let mut blob = Vec::with_capacity(68);
    blob.extend_from_slice(&key.public().key_hash());
    blob.extend_from_slice(&signature.to_bytes());
    format!("{text}\n{SIG_PREFIX}{} {}\n", key.name(), B64.encode(blob))
}

/// Splits a note at its last blank line into the signed text and the signatures after it.
fn split_note(note: &str) -> Result<(&str, Vec<NoteSignature>), AuditError> {
    let bad = |reason: String| AuditError::format("signed note", reason);
    if !note.ends_with('\n') {
        return Err(bad("does not end with a newline".into()));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| bad("no blank line before the signatures".into()))?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    let mut signatures = Vec::new();
    let lines: Vec<&str> = sigs
        .strip_suffix('\n')
        .unwrap_or(sigs)
        .split('\n')
        .collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(bad(format!("{} signature lines", lines.len())));
    }
    for line in lines {
        let (name, blob) = line
            .strip_prefix(SIG_PREFIX)
            .and_then(|rest| rest.split_once(' '))
            .filter(|(name, blob)| !name.is_empty() && !blob.contains(' '))
            .ok_or_else(|| bad(format!("{line:?} is not `— <name> <base64>`")))?;
        let blob = B64
            .decode(blob)
            .map_err(|_| bad(format!("the signature by {name} is not base64")))?;
        if blob.len() < 5 {
            return Err(bad(format!("the signature by {name} is too short")));
        }
        if let Ok(signature) = <[u8; 64]>::try_from(&blob[4..]) {
            signatures.push(NoteSignature {
                key_name: name.to_owned(),
                key_hash: [blob[0], blob[1], blob[2], blob[3]],
                signature,
            });
        }
    }
    Ok((text, signatures))
}

/// Reads a checkpoint note without checking any signature (for display, or when no key is at hand).
pub fn parse_note(note: &str) -> Result<(Checkpoint, Vec<NoteSignature>), AuditError> {
    let (text, signatures) = split_note(note)?;
    Ok((Checkpoint::parse_body(text)?, signatures))
}

/// The checkpoint, if `key` signed it. Signatures by other keys are ignored, as signed-note allows
/// cosigners; strict verification rejects malleable and small-order signatures.
pub fn verify_note(note: &str, key: &AuditPublicKey) -> Result<Checkpoint, AuditError> {
    let (text, signatures) = split_note(note)?;
    verify_text(text, &signatures, key)?;
    Checkpoint::parse_body(text)
}

fn verify_text(
    text: &str,
    signatures: &[NoteSignature],
    key: &AuditPublicKey,
) -> Result<(), AuditError> {
    let hash = key.key_hash();
    let mut candidates = signatures
        .iter()
        .filter(|s| s.key_name == key.name && s.key_hash == hash)
        .peekable();
    if candidates.peek().is_none() {
        return Err(AuditError::Signature(format!(
            "not signed by {}",
            key.to_text()
        )));
    }
    let verified = candidates.any(|s| {
        key.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&s.signature))
            .is_ok()
    });
    if verified {
        Ok(())
    } else {
        Err(AuditError::Signature(format!(
            "the signature by {} does not verify",
            key.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                              then you don't know what your problem is.\n";
    const PETER_NOTE_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn peter_neumann() -> AuditKey {
        let raw = B64
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap();
        AuditKey::from_seed("PeterNeumann", raw[1..].try_into().unwrap()).unwrap()
    }

    /// The signed note from Go's `golang.org/x/mod/sumdb/note` documentation, byte for byte.
    #[test]
    fn signs_like_the_go_reference() {
        let key = peter_neumann();
        let note = sign_text(PETER_TEXT, &key);
        assert_eq!(note, format!("{PETER_TEXT}\n{PETER_NOTE_SIG}"));
        let (text, sigs) = split_note(&note).unwrap();
        assert_eq!(text, PETER_TEXT);
        verify_text(text, &sigs, &key.public()).unwrap();
        let tampered = note.replace("cryptography", "cryptographY");
        let (text, sigs) = split_note(&tampered).unwrap();
        assert!(verify_text(text, &sigs, &key.public()).is_err());
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            log_id: "prod".into(),
            size: 20,
            root: [7; 32],
            chain: [9; 32],
            time_ms: 1_796_670_000_123,
        }
    }

    #[test]
    fn round_trips_and_verifies() {
        let key = AuditKey::generate("cairn.example");
        let note = checkpoint().sign(&key);
        let body = format!(
            "cairn/prod\n20\n{}\nchain {}\ntime 2026-12-07T19:00:00.123Z\n",
            B64.encode([7; 32]),
            "09".repeat(32)
        );
        assert!(
            note.starts_with(&format!("{body}\n\u{2014} cairn.example ")),
            "{note}"
        );
        assert_eq!(verify_note(&note, &key.public()).unwrap(), checkpoint());
        let (parsed, sigs) = parse_note(&note).unwrap();
        assert_eq!(parsed, checkpoint());
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].key_hash, key.public().key_hash());

        // A cosignature by another key is tolerated; only ours counts.
        let other = AuditKey::generate("witness");
        let cosigned = format!(
            "{note}{}",
            sign_text(&body, &other).split_once("\n\n").unwrap().1
        );
        assert_eq!(verify_note(&cosigned, &key.public()).unwrap(), checkpoint());
        assert_eq!(
            verify_note(&cosigned, &other.public()).unwrap(),
            checkpoint()
        );
    }

    #[test]
    fn rejects_tampering_and_foreign_keys() {
        let key = AuditKey::generate("cairn");
        let note = checkpoint().sign(&key);
        let edited = note.replacen("\n20\n", "\n21\n", 1);
        assert!(matches!(
            verify_note(&edited, &key.public()),
            Err(AuditError::Signature(_))
        ));
        let impostor = AuditKey::generate("cairn");
        assert!(matches!(
            verify_note(&checkpoint().sign(&impostor), &key.public()),
            Err(AuditError::Signature(_))
        ));
        assert!(verify_note(&note, &AuditKey::generate("other").public()).is_err());
    }

    #[test]
    fn rejects_malformed_notes() {
        let key = AuditKey::generate("cairn");
        let note = checkpoint().sign(&key);
        let sig = note.split_once("\n\n").unwrap().1;
        for bad in [
            String::new(),
            note.trim_end().to_string(),
            note.replace("\n\n", "\n"),
            note.replace("cairn/prod", "other/prod"),
            note.replace("cairn/prod", "cairn/"),
            note.replace("\n20\n", "\n020\n"),
            note.replace("\n20\n", "\n-20\n"),
            note.replace("chain ", "chain 00"),
            note.replace("time 2026", "time 1026-13"),
            note.replace("\u{2014} ", "- "),
            format!("cairn/prod\n1\n\n{sig}"),
            format!("{}extra\n\n{sig}", checkpoint().body()),
        ] {
            assert!(parse_note(&bad).is_err(), "{bad:?}");
            assert!(verify_note(&bad, &key.public()).is_err(), "{bad:?}");
        }
    }
}
