//! Artifact use cases: the proxied artifact service of `mlflow-artifacts:` URIs.

use std::sync::Arc;

use bytes::Bytes;
use cairn_artifacts::{
    ArtifactDownload, ArtifactEntry, ArtifactError, ArtifactPath, ArtifactStore,
};
use futures::StreamExt;

use crate::{ServiceError, ServiceResult};

/// Reads and writes artifacts by path, refusing paths that would escape the root; the files live in
/// whichever [`ArtifactStore`] the composition root chose.
#[derive(Clone)]
pub struct Artifacts {
    store: Arc<dyn ArtifactStore>,
}

impl Artifacts {
    pub fn new(store: Arc<dyn ArtifactStore>) -> Self {
        Self { store }
    }

    pub fn description(&self) -> &str {
        self.store.description()
    }

    pub async fn upload<S, E>(&self, path: &str, body: S) -> ServiceResult<()>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let path = ArtifactPath::parse(path)?;
        let body = body
            .map(|chunk| chunk.map_err(ArtifactError::upload))
            .boxed();
        Ok(self.store.put(&path, body).await?)
    }

    pub async fn download(&self, path: &str) -> ServiceResult<(String, ArtifactDownload)> {
        let path = ArtifactPath::parse(path)?;
        let download = self.store.get(&path).await?;
        Ok((path.file_name().to_string(), download))
    }

    /// A file, whole; refused past `limit` bytes.
    pub async fn read(&self, path: &str, limit: u64) -> ServiceResult<Vec<u8>> {
        let (_, mut download) = self.download(path).await?;
        if download.size > limit {
            return Err(ServiceError::InvalidArgument(format!(
                "{path} is {} bytes, more than the {limit} expected",
                download.size
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(download.size).unwrap_or(0));
        while let Some(chunk) = download.stream.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(bytes)
    }

    /// A small text file, whole; refused past `limit` bytes.
    pub async fn read_small(&self, path: &str, limit: u64) -> ServiceResult<String> {
        String::from_utf8(self.read(path, limit).await?)
            .map_err(|_| ServiceError::InvalidArgument(format!("{path} is not UTF-8 text")))
    }

    /// Lists a directory; an empty or absent `path` lists the root.
    pub async fn list(&self, path: Option<&str>) -> ServiceResult<Vec<ArtifactEntry>> {
        let path = path
            .filter(|p| !p.is_empty())
            .map(ArtifactPath::parse)
            .transpose()?;
        Ok(self.store.list(path.as_ref()).await?)
    }

    pub async fn delete(&self, path: &str) -> ServiceResult<()> {
        Ok(self.store.delete(&ArtifactPath::parse(path)?).await?)
    }
}
