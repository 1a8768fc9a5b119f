//! The one error type of the domain: a rule the caller's input broke.

/// A violated domain rule. Always the caller's fault, so always a 4xx at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The input is malformed or breaks a limit (MLflow's INVALID_PARAMETER_VALUE).
    #[error("{0}")]
    InvalidParameter(String),
}

impl DomainError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidParameter(msg.into())
    }
}
