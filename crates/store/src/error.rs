//! The one error type every store returns. What was missing, taken or clashing is typed
//! ([`Missing`], [`Taken`], [`Clash`]): each protocol adapter words it, never a store.

use cairn_domain::{Clash, Missing, Taken};

/// What went wrong in a store. The first four are the caller's doing; the last two are the engine's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The named entity does not exist.
    #[error("{0}")]
    NotFound(Missing),
    /// A unique name or key is already taken.
    #[error("{0}")]
    AlreadyExists(Taken),
    /// The write contradicts stored state (e.g. changing an immutable param).
    #[error("{0}")]
    Conflict(Clash),
    /// The engine refused a value the caller sent (PostgreSQL's data exceptions, SQLSTATE class 22: a
    /// NUL byte in text, a string too long, a number out of range; SQLite's equivalents). A safety net
    /// behind the domain's checks, so that such a value is the caller's error on every engine, not a fault.
    #[error("invalid value: {0}")]
    InvalidData(String),
    /// The engine cannot be reached right now (connection refused, pool timed out); retrying may work.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    /// Anything else the engine reported.
    #[error("metadata store error: {0}")]
    Internal(String),
}
