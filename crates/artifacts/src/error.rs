//! The one error type of artifact storage.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The path is malformed or would leave the artifact root.
    #[error("{0}")]
    InvalidPath(String),
    /// No artifact at that path.
    #[error("{0}")]
    NotFound(String),
    /// The backing store failed.
    #[error("artifact storage error: {0}")]
    Storage(String),
}

impl From<object_store::Error> for ArtifactError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => {
                Self::NotFound(format!("Artifact '{path}' does not exist"))
            }
            other => Self::Storage(other.to_string()),
        }
    }
}
