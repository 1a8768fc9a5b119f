//! The output cache: content-addressed objects (file contents and encoded directory trees, by BLAKE3
//! hash) and entries (a stage key → the outs it produced).
//!
//! [`OutputCache`] is all a cache has to do, in terms any blob store can answer (files move in and out
//! through local paths, entries are small JSON documents), so the next step — the cache in Cairn's
//! artifact store, local or S3, shared between a laptop, CI and Ray — is another implementation of the
//! same trait. [`LocalCache`] keeps it in a folder (the project's `.cairn/cache`):
//!
//! ```text
//! objects/ab/cdef…   the bytes whose BLAKE3 is abcdef…
//! entries/<key>.json  CacheEntry
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::outputs::OutRecord;
use crate::state::{temp_beside, write_atomic};

/// What a stage key produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub key: String,
    /// Out path → its content (a file's hash, or a directory's tree hash).
    pub outs: BTreeMap<String, OutRecord>,
    /// The stage's log (stdout and stderr) as an object, so a cache hit can show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The MLflow run that computed it (information only; not part of any key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub created_ms: i64,
}

/// Why the cache failed: the caller treats it as infrastructure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("object {0} is not in the cache")]
    Missing(String),
    #[error("object {hash} is corrupt in the cache (its content hashes to {actual})")]
    Corrupt { hash: String, actual: String },
}

/// A content-addressed store of stage outputs.
#[async_trait::async_trait]
pub trait OutputCache: Send + Sync {
    /// Where the cache is, for messages.
    fn describe(&self) -> String;
    async fn entry(&self, key: &str) -> Result<Option<CacheEntry>, CacheError>;
    async fn put_entry(&self, entry: &CacheEntry) -> Result<(), CacheError>;
    async fn has_object(&self, hash: &str) -> Result<bool, CacheError>;
    /// Stores the file at `from` as the object `hash` (which the caller computed); a no-op when the
    /// object is there already.
    async fn put_file(&self, hash: &str, from: &Path) -> Result<(), CacheError>;
    async fn put_bytes(&self, hash: &str, bytes: &[u8]) -> Result<(), CacheError>;
    /// Writes the object to `to` (whole or not at all), checking its hash on the way.
    async fn get_file(&self, hash: &str, to: &Path) -> Result<(), CacheError>;
    async fn get_bytes(&self, hash: &str) -> Result<Vec<u8>, CacheError>;
}

/// The cache in a local folder.
#[derive(Debug, Clone)]
pub struct LocalCache {
    dir: PathBuf,
}

impl LocalCache {
    pub fn new(dir: &Path) -> LocalCache {
        LocalCache {
            dir: dir.to_path_buf(),
        }
    }

    fn object(&self, hash: &str) -> PathBuf {
        let (a, b) = hash.split_at(2.min(hash.len()));
        self.dir.join("objects").join(a).join(b)
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join("entries").join(format!("{key}.json"))
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CacheError> + Send + 'static,
) -> Result<T, CacheError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io_err("cache task")(io::Error::other(e))))
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> CacheError {
    let what = what.into();
    move |source| CacheError::Io { what, source }
}

#[async_trait::async_trait]
impl OutputCache for LocalCache {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    async fn entry(&self, key: &str) -> Result<Option<CacheEntry>, CacheError> {
        let path = self.entry_path(key);
        let key = key.to_owned();
        blocking(move || match std::fs::read(path) {
            // An unreadable entry (say, from a crash mid-write) counts as no entry.
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(format!("cache entry {key}"))(e)),
        })
        .await
    }

    async fn put_entry(&self, entry: &CacheEntry) -> Result<(), CacheError> {
        let bytes = serde_json::to_vec_pretty(entry)
            .map_err(|e| io_err("cache entry")(io::Error::other(e)))?;
        let path = self.entry_path(&entry.key);
        let what = format!("cache entry {}", entry.key);
        blocking(move || write_atomic(&path, &bytes).map_err(io_err(what))).await
    }

    async fn has_object(&self, hash: &str) -> Result<bool, CacheError> {
        let path = self.object(hash);
        blocking(move || Ok(path.is_file())).await
    }

    async fn put_file(&self, hash: &str, from: &Path) -> Result<(), CacheError> {
        let to = self.object(hash);
        let from = from.to_path_buf();
        blocking(move || {
            if to.is_file() {
                return Ok(());
            }
            let what = format!("storing {} in the cache", from.display());
            let dir = to.parent().expect("objects have a parent");
            std::fs::create_dir_all(dir).map_err(io_err(what.clone()))?;
            let tmp = temp_beside(&to);
            std::fs::copy(&from, &tmp).map_err(io_err(what.clone()))?;
            std::fs::rename(&tmp, &to).map_err(io_err(what))
        })
        .await
    }

    async fn put_bytes(&self, hash: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let to = self.object(hash);
        let bytes = bytes.to_vec();
        let what = format!("storing object {hash}");
        blocking(move || {
            if to.is_file() {
                return Ok(());
            }
            write_atomic(&to, &bytes).map_err(io_err(what))
        })
        .await
    }

    async fn get_file(&self, hash: &str, to: &Path) -> Result<(), CacheError> {
        let from = self.object(hash);
        let (hash, to) = (hash.to_owned(), to.to_path_buf());
        blocking(move || {
            if !from.is_file() {
                return Err(CacheError::Missing(hash));
            }
            let what = format!("restoring {}", to.display());
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(io_err(what.clone()))?;
            }
            let tmp = temp_beside(&to);
            std::fs::copy(&from, &tmp).map_err(io_err(what.clone()))?;
            let actual = crate::hashing::hash_file(&tmp).map_err(io_err(what.clone()))?;
            if actual != hash {
                let _ = std::fs::remove_file(&tmp);
                return Err(CacheError::Corrupt { hash, actual });
            }
            std::fs::rename(&tmp, &to).map_err(io_err(what))
        })
        .await
    }

    async fn get_bytes(&self, hash: &str) -> Result<Vec<u8>, CacheError> {
        let path = self.object(hash);
        let hash = hash.to_owned();
        blocking(move || match std::fs::read(path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CacheError::Missing(hash)),
            Err(e) => Err(io_err(format!("object {hash}"))(e)),
        })
        .await
    }
}
