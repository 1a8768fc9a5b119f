//! Classifying `object_store` errors as [`ArtifactError`]s.

use cairn_artifacts::ArtifactError;

/// Classifies a store error about the artifact at `path`, naming the artifact (never the server's own
/// file paths) in what the client sees.
pub(crate) fn at(path: &str, e: object_store::Error) -> ArtifactError {
    match &e {
        object_store::Error::NotFound { .. } => ArtifactError::not_found(path),
        _ if path_collision(&e) => ArtifactError::collision(path),
        _ => ArtifactError::Storage(e.to_string()),
    }
}

/// Classifies a store error not about one named artifact.
pub(crate) fn storage(e: object_store::Error) -> ArtifactError {
    at("", e)
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
