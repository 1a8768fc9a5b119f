//! The artifact repository over any `object_store` backend.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientConfigKey, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};

use crate::{ArtifactError, ArtifactPath};

/// Uploads at most this large are sent in one request; larger ones stream as multipart parts.
const SINGLE_PUT_LIMIT: usize = 8 * 1024 * 1024;

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
    pub stream: BoxStream<'static, Result<Bytes, ArtifactError>>,
}

/// Stores artifacts under one root of an object store.
#[derive(Clone)]
pub struct ArtifactRepository {
    store: Arc<dyn ObjectStore>,
    description: String,
}

impl ArtifactRepository {
    /// A repository in a local folder, created if missing.
    pub fn local(root: &std::path::Path) -> Result<Self, ArtifactError> {
        std::fs::create_dir_all(root).map_err(|e| {
            ArtifactError::Storage(format!(
                "cannot create artifact root {}: {e}",
                root.display()
            ))
        })?;
        let fs = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        Ok(Self::new(
            Arc::new(fs),
            format!("file://{}", root.display()),
        ))
    }

    /// A repository in an S3-compatible bucket, `s3://bucket[/prefix]`, configured by the standard AWS
    /// variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint, `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`).
    pub fn s3(url: &str) -> Result<Self, ArtifactError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| ArtifactError::Storage(format!("not an s3:// URL: {url}")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(ArtifactError::Storage(format!("{url} names no bucket")));
        }
        // Fail within seconds, not the minutes of object_store's default back-off, so that a dead endpoint
        // becomes a clear error rather than a hung client.
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(15),
            ..RetryConfig::default()
        };
        // Timeouts go through config keys: replacing the client options would drop what from_env() read
        // (AWS_ALLOW_HTTP among them).
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry)
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "5s",
            )
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "300s")
            .build()
            .map_err(|e| ArtifactError::Storage(format!("configuring {url}: {e}")))?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(Self::new(store, url.to_string()))
    }

    /// Checks the store answers (one listing of the root), so that a wrong endpoint, bucket or credential
    /// is reported at start-up.
    pub async fn probe(&self) -> Result<(), ArtifactError> {
        self.store
            .list_with_delimiter(None)
            .await
            .map(|_| ())
            .map_err(|e| ArtifactError::Storage(format!("{} is not usable: {e}", self.description)))
    }

    /// A repository over any object store (S3, GCS, memory, …).
    pub fn new(store: Arc<dyn ObjectStore>, description: String) -> Self {
        Self { store, description }
    }

    /// Where the artifacts live, for logs and error messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Writes a file from a stream of chunks; the file appears whole or not at all.
    pub async fn put<S, E>(&self, path: &ArtifactPath, mut body: S) -> Result<(), ArtifactError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let location = location(path);
        let at = |e| ArtifactError::at(path.as_str(), e);
        let mut head: Vec<Bytes> = Vec::new();
        let mut head_len = 0;
        while head_len <= SINGLE_PUT_LIMIT {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk
                        .map_err(|e| ArtifactError::Storage(format!("reading upload: {e}")))?;
                    head_len += chunk.len();
                    head.push(chunk);
                }
                None => {
                    self.store
                        .put(&location, PutPayload::from_iter(head))
                        .await
                        .map_err(at)?;
                    return Ok(());
                }
            }
        }
        let upload = self.store.put_multipart(&location).await.map_err(at)?;
        let mut writer = WriteMultipart::new(upload);
        for chunk in head {
            writer.put(chunk);
        }
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => {
                    writer.wait_for_capacity(4).await?;
                    writer.put(c);
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(ArtifactError::Storage(format!("reading upload: {e}")));
                }
            }
        }
        writer.finish().await.map_err(at)?;
        Ok(())
    }

    /// Opens a file for reading.
    pub async fn get(&self, path: &ArtifactPath) -> Result<ArtifactDownload, ArtifactError> {
        let result = self
            .store
            .get(&location(path))
            .await
            .map_err(|e| ArtifactError::at(path.as_str(), e))?;
        let size = result.meta.size;
        let stream = result
            .into_stream()
            .map(|r| r.map_err(ArtifactError::from))
            .boxed();
        Ok(ArtifactDownload { size, stream })
    }

    /// Lists a directory's direct children (the root when `dir` is `None`). A file or a missing directory
    /// lists as empty, as in MLflow.
    pub async fn list(
        &self,
        dir: Option<&ArtifactPath>,
    ) -> Result<Vec<ArtifactEntry>, ArtifactError> {
        let prefix = dir.map(location);
        let listing = self.store.list_with_delimiter(prefix.as_ref()).await?;
        let mut entries: Vec<ArtifactEntry> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .map(|name| ArtifactEntry {
                name,
                is_dir: true,
                size: None,
            })
            .chain(listing.objects.iter().filter_map(|o| {
                o.location.filename().map(|name| ArtifactEntry {
                    name: name.to_string(),
                    is_dir: false,
                    size: Some(o.size),
                })
            }))
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Deletes a file, or a directory with everything below it.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<(), ArtifactError> {
        let loc = location(path);
        let mut below: Vec<StorePath> = Vec::new();
        let mut listing = self.store.list(Some(&loc));
        while let Some(meta) = listing.next().await {
            below.push(meta?.location);
        }
        drop(listing);
        if below.is_empty() {
            return match self.store.delete(&loc).await {
                Ok(()) => Ok(()),
                Err(object_store::Error::NotFound { .. }) => Err(ArtifactError::NotFound(format!(
                    "Artifact '{}' does not exist",
                    path.as_str()
                ))),
                Err(e) => Err(e.into()),
            };
        }
        for p in below {
            self.store.delete(&p).await?;
        }
        Ok(())
    }
}

fn location(path: &ArtifactPath) -> StorePath {
    StorePath::from(path.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(
        parts: Vec<&'static [u8]>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send {
        futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p))))
    }

    #[tokio::test]
    async fn put_get_list_delete_on_local_files() {
        let dir = std::env::temp_dir().join(format!("cairn-artifacts-{}", std::process::id()));
        let repo = ArtifactRepository::local(&dir).unwrap();
        let p = ArtifactPath::parse("1/run/artifacts/sub/data.bin").unwrap();
        repo.put(&p, body(vec![b"ab", b"\x00\xff"])).await.unwrap();
        let got = repo.get(&p).await.unwrap();
        assert_eq!(got.size, 4);
        let bytes: Vec<u8> = got.stream.map(|c| c.unwrap().to_vec()).concat().await;
        assert_eq!(bytes, b"ab\x00\xff");

        let listed = repo
            .list(Some(&ArtifactPath::parse("1/run/artifacts").unwrap()))
            .await
            .unwrap();
        assert_eq!(
            listed,
            vec![ArtifactEntry {
                name: "sub".into(),
                is_dir: true,
                size: None
            }]
        );
        let listed = repo
            .list(Some(&ArtifactPath::parse("1/run/artifacts/sub").unwrap()))
            .await
            .unwrap();
        assert_eq!(
            listed,
            vec![ArtifactEntry {
                name: "data.bin".into(),
                is_dir: false,
                size: Some(4)
            }]
        );
        assert!(
            repo.list(Some(&p)).await.unwrap().is_empty(),
            "a file lists as empty"
        );

        repo.delete(&ArtifactPath::parse("1/run/artifacts/sub").unwrap())
            .await
            .unwrap();
        assert!(matches!(
            repo.get(&p).await,
            Err(ArtifactError::NotFound(_))
        ));
        assert!(matches!(
            repo.delete(&p).await,
            Err(ArtifactError::NotFound(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
