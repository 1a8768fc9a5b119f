//! Moving outs between the workspace and the cache: storing what a stage produced, checking the
//! workspace still holds it, and restoring it (deleted or modified) without running the stage.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cache::{CacheEntry, CacheError, OutputCache};
use crate::hashing::{Content, FileHasher, Tree};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutKind {
    File,
    Dir,
}

/// One out's content: a file's hash, or a directory's tree hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutRecord {
    pub kind: OutKind,
    pub hash: String,
    pub size: u64,
    #[serde(default)]
    pub exec: bool,
}

impl OutRecord {
    pub fn of(content: &Content) -> OutRecord {
        match content {
            Content::File(f) => OutRecord {
                kind: OutKind::File,
                hash: f.hash.clone(),
                size: f.size,
                exec: f.exec,
            },
            Content::Dir(t) => OutRecord {
                kind: OutKind::Dir,
                hash: t.hash(),
                size: t.size(),
                exec: false,
            },
        }
    }
}

/// Stores the out at project-relative `path` (already hashed as `content`) in the cache.
pub async fn store(
    cache: &dyn OutputCache,
    root: &Path,
    path: &str,
    content: &Content,
) -> Result<OutRecord, CacheError> {
    match content {
        Content::File(f) => cache.put_file(&f.hash, &root.join(path)).await?,
        Content::Dir(tree) => {
            let dir = root.join(path);
            for e in &tree.entries {
                cache.put_file(&e.file.hash, &dir.join(&e.path)).await?;
            }
            cache.put_bytes(&tree.hash(), &tree.encode()).await?;
        }
    }
    Ok(OutRecord::of(content))
}

/// Does the cache hold every object of every out of `entry`?
pub async fn complete(cache: &dyn OutputCache, entry: &CacheEntry) -> Result<bool, CacheError> {
    for rec in entry.outs.values() {
        match rec.kind {
            OutKind::File => {
                if !cache.has_object(&rec.hash).await? {
                    return Ok(false);
                }
            }
            OutKind::Dir => {
                let Some(tree) = tree_of(cache, &rec.hash).await? else {
                    return Ok(false);
                };
                for e in &tree.entries {
                    if !cache.has_object(&e.file.hash).await? {
                        return Ok(false);
                    }
                }
            }
        }
    }
    Ok(true)
}

async fn tree_of(cache: &dyn OutputCache, hash: &str) -> Result<Option<Tree>, CacheError> {
    match cache.get_bytes(hash).await {
        Ok(bytes) => Ok(Tree::decode(&bytes)),
        Err(CacheError::Missing(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Does the workspace hold exactly `rec` at `path`?
pub fn matches(hasher: &FileHasher, path: &str, rec: &OutRecord) -> std::io::Result<bool> {
    Ok(hasher
        .content(path)?
        .is_some_and(|c| OutRecord::of(&c).hash == rec.hash))
}

/// Puts `rec` back at project-relative `path` under `root`, replacing whatever is there (the caller
/// checked, with [`matches`], that it differs).
pub async fn restore(
    cache: &dyn OutputCache,
    root: &Path,
    path: &str,
    rec: &OutRecord,
) -> Result<(), CacheError> {
    let io = |what: String| move |source: std::io::Error| CacheError::Io { what, source };
    let full = root.join(path);
    match rec.kind {
        OutKind::File => {
            remove(&full).map_err(io(format!("removing {path}")))?;
            cache.get_file(&rec.hash, &full).await?;
            set_exec(&full, rec.exec).map_err(io(format!("restoring {path}")))?;
        }
        OutKind::Dir => {
            let tree = tree_of(cache, &rec.hash)
                .await?
                .ok_or_else(|| CacheError::Missing(rec.hash.clone()))?;
            // Build the directory beside its place, then swap it in.
            let staging = crate::state::temp_beside(&full);
            for e in &tree.entries {
                let to = staging.join(&e.path);
                cache.get_file(&e.file.hash, &to).await?;
                set_exec(&to, e.file.exec).map_err(io(format!("restoring {path}")))?;
            }
            std::fs::create_dir_all(&staging).map_err(io(format!("restoring {path}")))?;
            remove(&full).map_err(io(format!("removing {path}")))?;
            std::fs::rename(&staging, &full).map_err(io(format!("restoring {path}")))?;
        }
    }
    Ok(())
}

/// Removes a file or a directory tree; nothing there is fine.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn set_exec(path: &Path, exec: bool) -> std::io::Result<()> {
    let mode = if exec { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
