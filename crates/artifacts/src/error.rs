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
    /// The path collides with what is stored: a file where a folder is needed, or the reverse.
    #[error("{0}")]
    Conflict(String),
    /// The backing store failed.
    #[error("artifact storage error: {0}")]
    Storage(String),
}

impl ArtifactError {
    /// Classifies a store error about the artifact at `path`, naming the artifact (never the server's
    /// own file paths) in what the client sees.
    pub(crate) fn at(path: &str, e: object_store::Error) -> Self {
        match &e {
            object_store::Error::NotFound { .. } => {
                Self::NotFound(format!("Artifact '{path}' does not exist"))
            }
            _ if path_collision(&e) => Self::Conflict(format!(
                "Artifact path '{path}' collides with an existing artifact (a file cannot also be a folder)"
            )),
            _ => Self::Storage(e.to_string()),
        }
    }
}

/// True when the local filesystem refused because a file stands where a folder is needed, or the reverse.
fn path_collision(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::NotADirectory | std::io::ErrorKind::IsADirectory
            )
        {
            return true;
        }
        cur = err.source();
    }
    false
}

impl From<object_store::Error> for ArtifactError {
    fn from(e: object_store::Error) -> Self {
        Self::at("", e)
    }
}
