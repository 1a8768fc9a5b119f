//! What can go wrong reading keys and checkpoints. Tampering found while verifying a log is not an error:
//! it is the verifier's [`Outcome`](super::Outcome).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Text that is not what it claims to be (a key, a key file, a checkpoint note, a timestamp).
    #[error("malformed {what}: {reason}")]
    Format { what: &'static str, reason: String },
    /// A secret key file others can read is treated as leaked rather than silently used.
    #[error(
        "{}: key file mode is {mode:o}; group and others must have no access (chmod 600)",
        path.display()
    )]
    InsecureKeyFile { path: PathBuf, mode: u32 },
    #[error("signature: {0}")]
    Signature(String),
}

impl AuditError {
    pub(crate) fn format(what: &'static str, reason: impl Into<String>) -> Self {
        AuditError::Format {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        AuditError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
