//! The output cache shared through the Cairn server: the project's own `.cairn/cache` in front, the
//! server's artifact store (local folder or S3, `_cairn/pipelines/…`) behind, so that outs computed on
//! a laptop, in CI or on Ray are restored anywhere else that talks to the same server. Objects are the
//! same content-addressed objects pipeline snapshots use; an entry (stage key → outs) is uploaded only
//! after the objects it names. Reads fall through to the server and fill the local cache; writes go to
//! both. A server without the API (a plain `mlflow server`) or one that stops answering leaves the
//! local cache working alone, with one warning: a cache is an optimisation, never a reason to fail.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn_client::{Client, ClientError};
use cairn_pipelines::cache::{CacheEntry, CacheError, LocalCache, OutputCache};

pub struct SharedCache {
    local: LocalCache,
    server: Client,
    /// Cleared at the first sign the server cannot serve the cache.
    remote: AtomicBool,
}

impl SharedCache {
    pub fn new(local: LocalCache, server: Client) -> Self {
        Self {
            local,
            server,
            remote: AtomicBool::new(true),
        }
    }

    fn remote(&self) -> bool {
        self.remote.load(Ordering::Relaxed)
    }

    /// Stops using the server, saying why once.
    fn give_up(&self, e: &ClientError) {
        if self.remote.swap(false, Ordering::Relaxed) && !e.is_not_found() {
            eprintln!(
                "cairn: warning: the shared cache on {} is unavailable for this run ({e}); using the \
                 local cache only",
                self.server.base()
            );
        }
    }

    /// Uploads the local object `hash` unless the server holds it.
    async fn push(&self, hash: &str) -> Result<(), CacheError> {
        if !self.remote() {
            return Ok(());
        }
        match self.server.missing_objects(vec![hash.to_owned()]).await {
            Ok(missing) if missing.is_empty() => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                self.give_up(&e);
                return Ok(());
            }
        }
        let bytes = self.local.get_bytes(hash).await?;
        if let Err(e) = self.server.put_object(hash, bytes).await {
            self.give_up(&e);
        }
        Ok(())
    }

    /// Brings the object `hash` from the server into the local cache; `false` when the server lacks it.
    async fn pull(&self, hash: &str) -> Result<bool, CacheError> {
        if !self.remote() {
            return Ok(false);
        }
        let tmp = tempfile::NamedTempFile::new().map_err(|source| CacheError::Io {
            what: "a temporary file for a cached object".into(),
            source,
        })?;
        match self.server.download_object(hash, tmp.path()).await {
            // The local cache checks the hash as it restores; here the copy is stored as is.
            Ok(true) => {
                let actual = cairn_pipelines::hashing::hash_file(tmp.path()).map_err(|source| {
                    CacheError::Io {
                        what: format!("object {hash} from the server"),
                        source,
                    }
                })?;
                if actual != hash {
                    return Err(CacheError::Corrupt {
                        hash: hash.to_owned(),
                        actual,
                    });
                }
                self.local.put_file(hash, tmp.path()).await?;
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                self.give_up(&e);
                Ok(false)
            }
        }
    }
}

#[async_trait::async_trait]
impl OutputCache for SharedCache {
    fn describe(&self) -> String {
        format!("{} and {}", self.local.describe(), self.server.base())
    }

    async fn entry(&self, key: &str) -> Result<Option<CacheEntry>, CacheError> {
        if let Some(e) = self.local.entry(key).await? {
            return Ok(Some(e));
        }
        if !self.remote() {
            return Ok(None);
        }
        match self.server.cache_entry(key).await {
            // An entry this Cairn cannot read counts as none.
            Ok(Some(v)) => match serde_json::from_value::<CacheEntry>(v) {
                Ok(entry) if entry.key == key => {
                    self.local.put_entry(&entry).await?;
                    Ok(Some(entry))
                }
                _ => Ok(None),
            },
            Ok(None) => Ok(None),
            Err(e) => {
                self.give_up(&e);
                Ok(None)
            }
        }
    }

    async fn put_entry(&self, entry: &CacheEntry) -> Result<(), CacheError> {
        self.local.put_entry(entry).await?;
        if self.remote() {
            let value = serde_json::to_value(entry).map_err(|e| CacheError::Io {
                what: "cache entry".into(),
                source: std::io::Error::other(e),
            })?;
            if let Err(e) = self.server.put_cache_entry(&entry.key, &value).await {
                self.give_up(&e);
            }
        }
        Ok(())
    }

    async fn has_object(&self, hash: &str) -> Result<bool, CacheError> {
        if self.local.has_object(hash).await? {
            return Ok(true);
        }
        if !self.remote() {
            return Ok(false);
        }
        match self.server.missing_objects(vec![hash.to_owned()]).await {
            Ok(missing) => Ok(missing.is_empty()),
            Err(e) => {
                self.give_up(&e);
                Ok(false)
            }
        }
    }

    async fn put_file(&self, hash: &str, from: &Path) -> Result<(), CacheError> {
        self.local.put_file(hash, from).await?;
        self.push(hash).await
    }

    async fn put_bytes(&self, hash: &str, bytes: &[u8]) -> Result<(), CacheError> {
        self.local.put_bytes(hash, bytes).await?;
        self.push(hash).await
    }

    async fn get_file(&self, hash: &str, to: &Path) -> Result<(), CacheError> {
        if !self.local.has_object(hash).await? && !self.pull(hash).await? {
            return Err(CacheError::Missing(hash.to_owned()));
        }
        self.local.get_file(hash, to).await
    }

    async fn get_bytes(&self, hash: &str) -> Result<Vec<u8>, CacheError> {
        if !self.local.has_object(hash).await? && !self.pull(hash).await? {
            return Err(CacheError::Missing(hash.to_owned()));
        }
        self.local.get_bytes(hash).await
    }
}
