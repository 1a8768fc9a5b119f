//! The one error type of the use cases; protocol adapters map it to their own error format and words.
//! What is missing, taken or clashing stays typed up to the adapter, which words it.

use cairn_artifacts::ArtifactError;
use cairn_domain::{Clash, DomainError, Missing, Taken};
use cairn_store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request is invalid (bad value, broken limit, forbidden state change).
    #[error("{0}")]
    InvalidArgument(String),
    /// A named entity does not exist.
    #[error("{0}")]
    NotFound(Missing),
    /// A unique name is taken.
    #[error("{0}")]
    AlreadyExists(Taken),
    /// The write contradicts stored state (a param changed, a deleted run written to).
    #[error("{0}")]
    Conflict(Clash),
    /// The principal may not do this (a protected alias, a four-eyes rule, a policy's deny), with the
    /// way that is allowed.
    #[error("{0}")]
    PermissionDenied(String),
    /// The request carries no valid credential.
    #[error("{0}")]
    Unauthenticated(String),
    /// A backing engine is unreachable; the request may succeed later.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on our side.
    #[error("{0}")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<DomainError> for ServiceError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InvalidParameter(m) => Self::InvalidArgument(m),
            other => Self::InvalidArgument(other.to_string()),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::AlreadyExists(m) => Self::AlreadyExists(m),
            StoreError::Conflict(c) => Self::Conflict(c),
            e @ StoreError::InvalidData(_) => Self::InvalidArgument(e.to_string()),
            StoreError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ArtifactError> for ServiceError {
    fn from(e: ArtifactError) -> Self {
        match e {
            ArtifactError::InvalidPath(m) => Self::InvalidArgument(m),
            ArtifactError::NotFound(path) => Self::NotFound(Missing::Artifact(path)),
            ArtifactError::Conflict(m) => Self::InvalidArgument(m),
            ArtifactError::Upload(m) => Self::InvalidArgument(m),
            other => Self::Internal(other.to_string()),
        }
    }
}
