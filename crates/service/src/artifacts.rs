//! Artifact use cases: the proxied artifact service of `mlflow-artifacts:` URIs.

use bytes::Bytes;
use cairn_artifacts::{ArtifactDownload, ArtifactEntry, ArtifactPath, ArtifactRepository};

use crate::ServiceResult;

/// Reads and writes artifacts by path, refusing paths that would escape the root.
#[derive(Clone)]
pub struct Artifacts {
    repo: ArtifactRepository,
}

impl Artifacts {
    pub fn new(repo: ArtifactRepository) -> Self {
        Self { repo }
    }

    pub fn description(&self) -> &str {
        self.repo.description()
    }

    pub async fn upload<S, E>(&self, path: &str, body: S) -> ServiceResult<()>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let path = ArtifactPath::parse(path)?;
        Ok(self.repo.put(&path, body).await?)
    }

    pub async fn download(&self, path: &str) -> ServiceResult<(String, ArtifactDownload)> {
        let path = ArtifactPath::parse(path)?;
        let download = self.repo.get(&path).await?;
        Ok((path.file_name().to_string(), download))
    }

    /// Lists a directory; an empty or absent `path` lists the root.
    pub async fn list(&self, path: Option<&str>) -> ServiceResult<Vec<ArtifactEntry>> {
        let path = path
            .filter(|p| !p.is_empty())
            .map(ArtifactPath::parse)
            .transpose()?;
        Ok(self.repo.list(path.as_ref()).await?)
    }

    pub async fn delete(&self, path: &str) -> ServiceResult<()> {
        Ok(self.repo.delete(&ArtifactPath::parse(path)?).await?)
    }
}
