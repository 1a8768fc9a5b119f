//! The one error type every store returns.

/// What went wrong in a store. The first three are the caller's doing; the last two are the engine's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The named entity does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A unique name or key is already taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// The write contradicts stored state (e.g. changing an immutable param).
    #[error("{0}")]
    Conflict(String),
    /// The engine cannot be reached right now (connection refused, pool timed out); retrying may work.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    /// Anything else the engine reported.
    #[error("metadata store error: {0}")]
    Internal(String),
}
