//! [`ArtifactStore`] on `object_store`, so that the local filesystem and S3-compatible stores are the
//! same code. Only the composition root (and tests) depend on this crate: it brings an HTTP client
//! (object_store's S3 support) that the use cases must not reach.

mod error;

use std::sync::Arc;

use bytes::Bytes;
use cairn_artifacts::{
    ArtifactDownload, ArtifactEntry, ArtifactError, ArtifactPath, ArtifactStore, ByteStream,
};
use futures::stream::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientConfigKey, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};

use error::{at, storage};

/// Uploads at most this large are sent in one request; larger ones stream as multipart parts.
const SINGLE_PUT_LIMIT: usize = 8 * 1024 * 1024;

/// Stores artifacts under one root of an object store.
#[derive(Clone)]
pub struct ObjectStoreArtifacts {
    store: Arc<dyn ObjectStore>,
    description: String,
}

impl ObjectStoreArtifacts {
    /// A store in a local folder, created if missing.
    pub fn local(root: &std::path::Path) -> Result<Self, ArtifactError> {
        std::fs::create_dir_all(root).map_err(|e| {
            ArtifactError::Storage(format!(
                "cannot create artifact root {}: {e}",
                root.display()
            ))
        })?;
        let fs = LocalFileSystem::new_with_prefix(root)
            .map_err(storage)?
            .with_automatic_cleanup(true);
        Ok(Self::new(
            Arc::new(fs),
            format!("file://{}", root.display()),
        ))
    }

    /// A store in an S3-compatible bucket, `s3://bucket[/prefix]`, configured by the standard AWS
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

    /// A store over any object store (S3, GCS, memory, …).
    pub fn new(store: Arc<dyn ObjectStore>, description: String) -> Self {
        Self { store, description }
    }
}

#[async_trait::async_trait]
impl ArtifactStore for ObjectStoreArtifacts {
    fn description(&self) -> &str {
        &self.description
    }

    /// One listing of the root.
    async fn probe(&self) -> Result<(), ArtifactError> {
        self.store
            .list_with_delimiter(None)
            .await
            .map(|_| ())
            .map_err(|e| ArtifactError::Storage(format!("{} is not usable: {e}", self.description)))
    }

    async fn put(
        &self,
        path: &ArtifactPath,
        mut body: ByteStream<'_>,
    ) -> Result<(), ArtifactError> {
        let location = location(path);
        let at = |e| at(path.as_str(), e);
        let mut head: Vec<Bytes> = Vec::new();
        let mut head_len = 0;
        while head_len <= SINGLE_PUT_LIMIT {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
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
                    writer.wait_for_capacity(4).await.map_err(storage)?;
                    writer.put(c);
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        writer.finish().await.map_err(at)?;
        Ok(())
    }

    async fn get(&self, path: &ArtifactPath) -> Result<ArtifactDownload, ArtifactError> {
        let result = self
            .store
            .get(&location(path))
            .await
            .map_err(|e| at(path.as_str(), e))?;
        let size = result.meta.size;
        let stream = result.into_stream().map(|r| r.map_err(storage)).boxed();
        Ok(ArtifactDownload { size, stream })
    }

    async fn list(&self, dir: Option<&ArtifactPath>) -> Result<Vec<ArtifactEntry>, ArtifactError> {
        let prefix = dir.map(location);
        let listing = self
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(storage)?;
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

    async fn delete(&self, path: &ArtifactPath) -> Result<(), ArtifactError> {
        let loc = location(path);
        let mut below: Vec<StorePath> = Vec::new();
        let mut listing = self.store.list(Some(&loc));
        while let Some(meta) = listing.next().await {
            below.push(meta.map_err(storage)?.location);
        }
        drop(listing);
        if below.is_empty() {
            return match self.store.delete(&loc).await {
                Ok(()) => Ok(()),
                Err(object_store::Error::NotFound { .. }) => {
                    Err(ArtifactError::not_found(path.as_str()))
                }
                Err(e) => Err(storage(e)),
            };
        }
        for p in below {
            self.store.delete(&p).await.map_err(storage)?;
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

    fn body(parts: Vec<&'static [u8]>) -> ByteStream<'static> {
        futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
    }

    #[tokio::test]
    async fn put_get_list_delete_on_local_files() {
        let dir = std::env::temp_dir().join(format!("cairn-artifacts-{}", std::process::id()));
        let repo: Arc<dyn ArtifactStore> = Arc::new(ObjectStoreArtifacts::local(&dir).unwrap());
        repo.probe().await.unwrap();
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

    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("cairn-artifacts-{name}-{}", std::process::id()))
    }

    #[tokio::test]
    async fn large_upload_goes_multipart_and_a_failed_body_leaves_no_file() {
        let dir = scratch("multipart");
        let repo = ObjectStoreArtifacts::local(&dir).unwrap();
        let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
        let chunks = 10;

        let big = ArtifactPath::parse("1/run/artifacts/big.bin").unwrap();
        let whole = futures::stream::iter((0..chunks).map(|_| Ok(chunk.clone()))).boxed();
        repo.put(&big, whole).await.unwrap();
        let got = repo.get(&big).await.unwrap();
        assert_eq!(got.size, (chunks * chunk.len()) as u64);

        let broken = ArtifactPath::parse("1/run/artifacts/broken.bin").unwrap();
        let failing = futures::stream::iter(
            (0..chunks)
                .map(|_| Ok(chunk.clone()))
                .chain([Err(ArtifactError::upload("connection reset"))]),
        )
        .boxed();
        match repo.put(&broken, failing).await {
            Err(ArtifactError::Upload(m)) => assert!(m.ends_with("connection reset"), "{m}"),
            other => panic!("expected the body's error, got {other:?}"),
        }
        assert!(matches!(
            repo.get(&broken).await,
            Err(ArtifactError::NotFound(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_file_cannot_also_be_a_folder() {
        let dir = scratch("collision");
        let repo = ObjectStoreArtifacts::local(&dir).unwrap();
        let file = ArtifactPath::parse("1/run/artifacts/model").unwrap();
        repo.put(&file, body(vec![b"x"])).await.unwrap();
        let below = ArtifactPath::parse("1/run/artifacts/model/weights.bin").unwrap();
        match repo.put(&below, body(vec![b"y"])).await {
            Err(ArtifactError::Conflict(m)) => assert!(m.contains("model/weights.bin"), "{m}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
