//! The one error type of artifact storage.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The path is malformed or would leave the artifact root.
    #[error("{0}")]
    InvalidPath(String),
    /// No artifact at that path (the artifact's path, never the server's own file paths).
    #[error("Artifact '{0}' does not exist")]
    NotFound(String),
    /// The path collides with what is stored: a file where a folder is needed, or the reverse.
    #[error("{0}")]
    Conflict(String),
    /// The content of an upload could not be read: the client disconnected or sent less than it
    /// announced. The client's fault, not the store's; nothing is stored.
    #[error("{0}")]
    Upload(String),
    /// The backing store failed.
    #[error("artifact storage error: {0}")]
    Storage(String),
}

impl ArtifactError {
    /// The content of an upload could not be read (the client's body failed mid-way).
    pub fn upload(e: impl std::fmt::Display) -> Self {
        Self::Upload(format!("The upload's body could not be read: {e}"))
    }

    /// No artifact at `path`, naming the artifact (never the server's own file paths).
    pub fn not_found(path: &str) -> Self {
        Self::NotFound(path.to_owned())
    }

    /// `path` collides with an existing artifact: a file where a folder is needed, or the reverse.
    pub fn collision(path: &str) -> Self {
        Self::Conflict(format!(
            "Artifact path '{path}' collides with an existing artifact (a file cannot also be a folder)"
        ))
    }
}
