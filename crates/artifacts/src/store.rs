//! The contract of an artifact store: what the use cases ask of wherever the files live.

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::{ArtifactError, ArtifactPath};

/// A stream of file content in chunks.
pub type ByteStream<'a> = BoxStream<'a, Result<Bytes, ArtifactError>>;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// Name relative to the listed directory.
    pub name: String,
    pub is_dir: bool,
    /// Size in bytes; `None` for directories.
    pub size: Option<u64>,
}

/// A file being read.
pub struct ArtifactDownload {
    pub size: u64,
    pub stream: ByteStream<'static>,
}

/// Stores artifact files under one root, addressed by [`ArtifactPath`].
///
/// Errors: [`ArtifactError::NotFound`] for a missing file, [`ArtifactError::Conflict`] when a path
/// collides with what is stored (a file where a folder is needed, or the reverse),
/// [`ArtifactError::Upload`] when an upload's body fails, [`ArtifactError::Storage`] when the backing
/// store fails.
#[async_trait::async_trait]
pub trait ArtifactStore: Send + Sync + 'static {
    /// Where the artifacts live, for logs and error messages.
    fn description(&self) -> &str;

    /// Checks the store answers, so that a wrong endpoint, bucket or credential is reported at start-up.
    async fn probe(&self) -> Result<(), ArtifactError>;

    /// Writes a file from a stream of chunks; the file appears whole or not at all. An error from `body`
    /// abandons the write and is returned as it is.
    async fn put(&self, path: &ArtifactPath, body: ByteStream<'_>) -> Result<(), ArtifactError>;

    /// Opens a file for reading.
    async fn get(&self, path: &ArtifactPath) -> Result<ArtifactDownload, ArtifactError>;

    /// Lists a directory's direct children, sorted by name (the root when `dir` is `None`). A file or a
    /// missing directory lists as empty, as in MLflow.
    async fn list(&self, dir: Option<&ArtifactPath>) -> Result<Vec<ArtifactEntry>, ArtifactError>;

    /// Deletes a file, or a directory with everything below it; [`ArtifactError::NotFound`] when
    /// there is neither.
    async fn delete(&self, path: &ArtifactPath) -> Result<(), ArtifactError>;
}
